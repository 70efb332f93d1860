// iothconf_c.cpp - libiothconf.so: iothconf's API (include/iothconf.h) for
// every kind of libioth stack.
//
// Theory of operation
// -------------------
// Our engine's stacks are configured by their helper (ioth_ext.h asks
// libioth.so to forward the string): it parses it, runs the DHCP exchanges
// inside the stack's namespace and renews the leases for as long as the
// stack lives, so a program that configured a stack and went on with its
// work keeps its address.
//
// Any other stack (kernel, a plugin) is configured here, in the calling
// thread, by a conf::Configurator reaching the stack through its ioth_
// calls (IothOps below: ioth_msocket for the packet, UDP and netlink
// sockets, poll(2) to wait, since libioth's sockets are real fds). As in
// upstream iothconf, a lease is got once and not renewed there (no thread
// of ours runs in a program that did not ask for one). The state of those
// stacks (what each source set) lives in a table keyed by the stack's
// serial (never reused, unlike its address) and is forgotten when
// ioth_delstack runs the hook this library registers at load.
//
// Output: "debug" prints the state on stderr, as iothconf does; nothing else
// is printed. Errors are -1/NULL with errno, their message in
// ioth_last_error().
//
// Thread-safety: a mutex guards the table; each stack's state has its own
// mutex, so two threads configuring one stack take turns (the helper
// serializes its own stacks' requests the same way).
#include "iothconf.h"

#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/c_result.hpp"
#include "api/ioth_ext.h"
#include "conf/config.hpp"
#include "conf/configurator.hpp"
#include "conf/netops.hpp"

namespace {

namespace conf = vdestack::conf;

// NetOps over a libioth stack's own calls.
class IothOps final : public conf::NetOps {
public:
    explicit IothOps(struct ioth* s) noexcept : s_(s) {}
    int socket(int d, int t, int p) override { return ioth_msocket(s_, d, t, p); }
    int close(int fd) override { return ioth_close(fd); }
    int bind(int fd, const sockaddr* a, socklen_t l) override { return ioth_bind(fd, a, l); }
    int setsockopt(int fd, int level, int name, const void* v, socklen_t l) override {
        return ioth_setsockopt(fd, level, name, v, l);
    }
    ssize_t sendto(int fd, const void* b, std::size_t n, int f, const sockaddr* a, socklen_t l) override {
        return ioth_sendto(fd, b, n, f, a, l);
    }
    ssize_t recvfrom(int fd, void* b, std::size_t n, int f, sockaddr* a, socklen_t* l) override {
        return ioth_recvfrom(fd, b, n, f, a, l);
    }
    int wait_readable(int fd, int timeout_ms) override {
        pollfd p{fd, POLLIN, 0};
        for (;;) {
            const int r = ::poll(&p, 1, timeout_ms);
            if (r >= 0 || errno != EINTR) return r;
        }
    }

private:
    struct ioth* s_;
};

// The configuration state of a stack configured in this process.
struct Local {
    explicit Local(struct ioth* s) : ops(s), conf(ops) {}
    std::mutex mu;  // one configuration at a time
    IothOps ops;
    conf::Configurator conf;
};

std::mutex g_mu;
std::unordered_map<std::uint64_t, std::shared_ptr<Local>> g_local;  // by stack serial

void forget(std::uint64_t serial) {
    std::shared_ptr<Local> gone;  // destroyed outside the lock
    std::lock_guard lk(g_mu);
    if (auto it = g_local.find(serial); it != g_local.end()) {
        gone = std::move(it->second);
        g_local.erase(it);
    }
}

// Registers forget() with libioth for as long as this library is loaded.
struct DeleteHook {
    DeleteHook() { vdestack_ioth_on_delete(&forget); }
    ~DeleteHook() { vdestack_ioth_on_delete(nullptr); }
    DeleteHook(const DeleteHook&) = delete;
    DeleteHook& operator=(const DeleteHook&) = delete;
};
const DeleteHook g_hook;

std::shared_ptr<Local> local_of(struct ioth* s) {
    std::lock_guard lk(g_mu);
    auto& l = g_local[vdestack_ioth_serial(s)];
    if (!l) l = std::make_shared<Local>(s);
    return l;
}

// Sets ioth_last_error() (keeping errno).
void set_error(const std::string& message) {
    const int saved = errno;
    vdestack_ioth_set_error(message.c_str());
    errno = saved;
}

// -1 (errno EINVAL, the message in ioth_last_error()) for a NULL argument.
bool null_arg(const void* p, const char* message) {
    if (p != nullptr) return false;
    set_error(message);
    errno = EINVAL;
    return true;
}

// ioth_config, or ioth_newstackc's configuration step when newstackc.
int configure(struct ioth* s, const char* config, bool newstackc) {
    if (null_arg(s, "ioth_config: no stack") || null_arg(config, "ioth_config: no configuration string")) return -1;
    if (vdestack_ioth_is_ours(s) != 0) {
        int err = 0;
        char* message = nullptr;
        char* debug = nullptr;
        const int mask = vdestack_ioth_config(s, config, newstackc ? 1 : 0, &err, &message, &debug);
        if (mask < 0) return -1;  // errno and ioth_last_error() set
        if (debug != nullptr) std::fputs(debug, stderr);
        vdestack_ioth_set_error(message != nullptr ? message : "");
        std::free(message);
        std::free(debug);
        if (err != 0) errno = err;
        return mask;
    }
    std::string error;
    int err = 0;
    const int mask = vde::capi::guarded(
        [&] {
            const conf::ConfigRequest r = conf::parse_config(config, newstackc);
            std::shared_ptr<Local> l = local_of(s);
            std::lock_guard lk(l->mu);
            const conf::Configurator::Result res = l->conf.configure(r);
            if (r.debug) std::fputs((res.debug + "\n").c_str(), stderr);
            error = res.message;
            err = res.err;
            return static_cast<int>(res.mask);
        },
        -1, &error);
    set_error(error);
    if (mask >= 0 && err != 0) errno = err;
    return mask;
}


}  // namespace

#define IOTHCONF_API extern "C" __attribute__((visibility("default")))

IOTHCONF_API int ioth_config(struct ioth* s, const char* config) { return configure(s, config, false); }

IOTHCONF_API char* ioth_resolvconf(struct ioth* s, const char* config) {
    if (null_arg(s, "ioth_resolvconf: no stack")) return nullptr;
    std::string error;
    char* text = vde::capi::guarded(
        [&]() -> char* {
            const conf::ConfigRequest r = conf::parse_resolvconf(config != nullptr ? config : "");
            if (vdestack_ioth_is_ours(s) != 0) {
                char* t = nullptr;
                const int rc = vdestack_ioth_query(s, 0, r.iface.c_str(), r.ifindex, &t);
                if (rc == 0) errno = 0;  // rc < 0: errno and ioth_last_error() set
                return t;
            }
            std::shared_ptr<Local> l = local_of(s);
            std::lock_guard lk(l->mu);
            const std::optional<std::string> t = l->conf.resolvconf(r.iface, r.ifindex);
            if (!t) {
                errno = 0;
                return nullptr;
            }
            char* c = vde::capi::c_string(*t);
            if (c == nullptr) throw std::bad_alloc();
            return c;
        },
        nullptr, &error);
    if (text == nullptr && errno != 0 && !error.empty()) set_error(error);
    return text;
}

IOTHCONF_API struct ioth* ioth_newstackc(const char* stack_config) {
    const char* config = stack_config != nullptr ? stack_config : "";
    std::string error;
    conf::ConfigRequest r;
    if (vde::capi::guarded([&] { return (r = conf::parse_config(config, true)), 0; }, -1, &error) < 0) {
        set_error(error);
        return nullptr;
    }
    struct ioth* s = ioth_newstack(r.stack.c_str(), r.vnl.empty() ? nullptr : r.vnl.c_str());
    if (s == nullptr) return nullptr;
    if (configure(s, config, true) < 0) {
        const int saved = errno;
        ioth_delstack(s);
        errno = saved;
        return nullptr;
    }
    return s;
}
