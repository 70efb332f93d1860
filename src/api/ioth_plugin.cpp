// ioth_plugin.cpp - loading and calling ioth_NAME.so plugins (see
// ioth_plugin.hpp for the theory of operation).
#include "api/ioth_plugin.hpp"

#include <dlfcn.h>
#include <strings.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <vector>

#ifndef VDESTACK_IOTH_PLUGIN_DIR
#define VDESTACK_IOTH_PLUGIN_DIR "/usr/local/lib/ioth"
#endif

namespace vde::capi {

thread_local void* PluginStack::current_ = nullptr;

namespace {

std::string_view spdx_id(const char* s) {
    std::string_view v(s);
    constexpr std::string_view kPrefix = "SPDX-License-Identifier: ";
    if (v.substr(0, kPrefix.size()) == kPrefix) v.remove_prefix(kPrefix.size());
    return v;
}

bool same(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> list) {
    for (std::string_view l : list)
        if (same(v, l)) return true;
    return false;
}

// NAME must not name a path: letters, digits, '_' and '-'.
bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

template <class Fn>
void resolve(void* handle, const std::string& symbol, Fn& out) {
    void* sym = ::dlsym(handle, symbol.c_str());
    if (sym == nullptr) return;
    static_assert(sizeof(Fn) == sizeof(void*));
    std::memcpy(&out, &sym, sizeof out);
}

}  // namespace

bool license_allows(const char* program, const char* library) noexcept {
    if (library == nullptr) return true;
    const std::string_view lib = spdx_id(library);
    if (lib.size() >= 5 && same(lib.substr(0, 5), "LGPL-")) return true;
    if (program == nullptr) return false;
    const std::string_view prog = spdx_id(program);
    if (same(prog, lib)) return true;
    if (one_of(lib, {"GPL-2.0-or-later", "GPL-2.0-only OR GPL-3.0-only"}))
        return one_of(prog, {"GPL-2.0-only", "GPL-3.0-only", "GPL-2.0-or-later", "GPL-3.0-or-later"});
    if (same(lib, "GPL-3.0-or-later")) return one_of(prog, {"GPL-3.0-only", "GPL-3.0-or-later"});
    return false;
}

PluginStack::~PluginStack() {
    if (handle_ != nullptr) ::dlclose(handle_);
}

int PluginStack::destroy() noexcept {
    if (destroyed_ || f_.delstack == nullptr) {
        destroyed_ = true;
        return 0;
    }
    const int r = call([](const ioth_functions& f) { return f.delstack(PluginStack::current_stackdata()); });
    if (r == 0) destroyed_ = true;
    return r;
}

std::unique_ptr<PluginStack> load_plugin(std::string_view name, const char* options, const char* vnlv[],
                                         const char* home, const char* license, std::string& message) {
    const std::string n(name);
    if (!valid_name(name)) {
        message = "ioth_newstack: \"" + n + "\" is not a stack name (letters, digits, '_', '-')";
        errno = EINVAL;
        return nullptr;
    }
    std::vector<std::string> dirs;
    if (home != nullptr && *home != '\0') dirs.push_back(std::string(home) + "/.ioth");
    dirs.emplace_back(VDESTACK_IOTH_PLUGIN_DIR);

    std::unique_ptr<PluginStack> p(new PluginStack);
    std::string tried;
    for (const std::string& dir : dirs) {
        for (const bool reentrant : {true, false}) {
            const std::string path = dir + "/ioth_" + n + (reentrant ? "-r.so" : ".so");
            if (::access(path.c_str(), F_OK) != 0) {
                tried += (tried.empty() ? "" : ", ") + path;
                continue;
            }
            p->handle_ = ::dlmopen(reentrant ? LM_ID_BASE : LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (p->handle_ != nullptr) break;
            const char* why = ::dlerror();
            message = "ioth_newstack: cannot load " + path + ": " + (why != nullptr ? why : "dlmopen failed");
            errno = ENOTSUP;
            return nullptr;
        }
        if (p->handle_ != nullptr) break;
    }
    if (p->handle_ == nullptr) {
        message = "ioth_newstack: no stack \"" + n + "\": none of " + tried + " exists";
        errno = ENOTSUP;
        return nullptr;
    }

    const std::string prefix = "ioth_" + n + "_";
    const char* const* lib_license = nullptr;
    resolve(p->handle_, prefix + "license", lib_license);
    if (!license_allows(license, lib_license != nullptr ? *lib_license : nullptr)) {
        message = "ioth_newstack: the license of ioth_" + n + " (" + (lib_license != nullptr ? *lib_license : "") +
                  ") does not allow a program of license " + (license != nullptr ? license : "(none: ioth_set_license)");
        errno = EPERM;
        return nullptr;
    }
    ioth_functions& f = p->f_;
    f.getstackdata = &PluginStack::current_stackdata;
#define VDESTACK_IOTH_RESOLVE(member) resolve(p->handle_, prefix + #member, f.member);
    VDESTACK_IOTH_RESOLVE(newstack) VDESTACK_IOTH_RESOLVE(delstack) VDESTACK_IOTH_RESOLVE(socket)
    VDESTACK_IOTH_RESOLVE(close) VDESTACK_IOTH_RESOLVE(bind) VDESTACK_IOTH_RESOLVE(connect)
    VDESTACK_IOTH_RESOLVE(listen) VDESTACK_IOTH_RESOLVE(accept) VDESTACK_IOTH_RESOLVE(getsockname)
    VDESTACK_IOTH_RESOLVE(getpeername) VDESTACK_IOTH_RESOLVE(setsockopt) VDESTACK_IOTH_RESOLVE(getsockopt)
    VDESTACK_IOTH_RESOLVE(shutdown) VDESTACK_IOTH_RESOLVE(ioctl) VDESTACK_IOTH_RESOLVE(fcntl)
    VDESTACK_IOTH_RESOLVE(read) VDESTACK_IOTH_RESOLVE(readv) VDESTACK_IOTH_RESOLVE(recv)
    VDESTACK_IOTH_RESOLVE(recvfrom) VDESTACK_IOTH_RESOLVE(recvmsg) VDESTACK_IOTH_RESOLVE(write)
    VDESTACK_IOTH_RESOLVE(writev) VDESTACK_IOTH_RESOLVE(send) VDESTACK_IOTH_RESOLVE(sendto)
    VDESTACK_IOTH_RESOLVE(sendmsg)
#undef VDESTACK_IOTH_RESOLVE
    resolve(p->handle_, "__errno_location", p->plugin_errno_);
    if (f.newstack == nullptr) {
        message = "ioth_newstack: the plugin ioth_" + n + " has no " + prefix + "newstack";
        errno = ENOENT;
        return nullptr;
    }
    PluginStack::current_ = nullptr;
    p->stackdata_ = f.newstack(vnlv, options != nullptr ? options : "", &f);
    if (p->stackdata_ == nullptr) {
        const int e = p->plugin_errno_ != nullptr ? *p->plugin_errno_() : errno;
        message = "ioth_newstack: " + prefix + "newstack failed: " + std::system_category().message(e);
        p->destroyed_ = true;  // nothing to delete
        errno = e != 0 ? e : EIO;
        return nullptr;
    }
    f.getstackdata = &PluginStack::current_stackdata;  // whatever newstack did with it
    return p;
}

}  // namespace vde::capi
