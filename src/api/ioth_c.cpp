// ioth_c.cpp - the libioth API (include/ioth.h) as libioth.so: our engine
// ("vdestack"), the host's own stack ("kernel") and third-party plugins
// (ioth_NAME.so, api/ioth_plugin.hpp); exceptions become NULL/-1 + errno,
// nothing is printed.
//
// Theory of operation
// -------------------
// A struct ioth is a vde::Stack ("vdestack"), a PluginStack, or neither
// ("kernel": sockets are the host's). The sockets of our engine and of the
// kernel are kernel fds of this process; a plugin's are whatever the plugin
// makes. A lock-free table (api/fd_table.hpp) maps every fd made by
// ioth_msocket/ioth_accept to its stack: the wrappers (ioth_read, ioth_send,
// ...) call the plugin's functions for a plugin's fd and libc for any other.
//
// ioth_delstack() refuses with EBUSY while sockets of its stack are open:
// - a plugin's stack counts the sockets made through ioth_msocket and
//   ioth_accept and not yet ioth_close'd (as libioth does);
// - our stacks record each socket's number with the identity of its file
//   (device, inode), so that a socket closed with plain close() also counts
//   as closed. The records of closed sockets are pruned by ioth_delstack()
//   and by ioth_msocket() whenever the records have doubled since the last
//   prune (at most twice as many records as open sockets, and 64; O(1)
//   amortized per socket). A table entry points to one of our stacks only
//   while that stack holds a record of the fd, so a deleted stack leaves no
//   entry behind.
// A stack has an interface per VNL (vde0, vde1, ... unless the VNL names it:
// "eth1:vxvde://..."), each forwarded on its own by the engine.
// Thread-safety: a mutex per stack guards its records; the table and the
// default stack are atomics; ioth_last_error() is per thread.
#include "ioth.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/c_result.hpp"
#include "api/ioth_ext.h"
#include "api/fd_table.hpp"
#include "api/ioth_plugin.hpp"
#include "api/ioth_stack.hpp"
#include "base/tuning.hpp"
#include "client/client.hpp"
#include "client/restore.hpp"
#include "vdestack/stack.hpp"

std::atomic<std::uint64_t> g_serials{0};

struct ioth {
    const std::uint64_t serial = ++g_serials;        // vdestack_ioth_serial()
    std::optional<vde::Stack> stack;                 // our engine
    std::unique_ptr<vde::capi::PluginStack> plugin;  // or a plugin; neither: the kernel
    std::mutex mu;
    struct Ident {
        dev_t dev;
        ino_t ino;
        bool operator==(const Ident&) const = default;
    };
    std::unordered_map<int, Ident> socks;  // our sockets, perhaps closed since
    std::size_t prune_at = 64;             // records past which record() prunes first

    // Forgets the records whose fd no longer holds the socket, and their
    // table entries. Under mu.
    template <class Table>
    void prune(Table& table) {
        std::erase_if(socks, [&](const auto& kv) {
            if (holds(kv.first, kv.second)) return false;
            table.clear_if(kv.first, this);
            return true;
        });
        prune_at = std::max<std::size_t>(64, 2 * socks.size());
    }
    // Whether fd still is the socket recorded as `id`.
    static bool holds(int fd, const Ident& id) {
        struct stat st {};
        return ::fstat(fd, &st) == 0 && Ident{st.st_dev, st.st_ino} == id;
    }
    // Whether fd is one of ours, open. Under mu.
    bool owns(int fd) const {
        auto it = socks.find(fd);
        return it != socks.end() && holds(fd, it->second);
    }
};

namespace {

using vde::capi::guarded;
using vde::capi::PluginStack;
using vde::capi::c_string;

vde::capi::FdTable<struct ioth> g_fds;
std::atomic<struct ioth*> g_default{nullptr};
std::mutex g_license_mu;
std::string g_license;
thread_local std::string t_last_error;
std::atomic<void (*)(std::uint64_t)> g_on_delete{nullptr};

// Records fd (a kernel fd) as a socket of our stack s and points its table
// entry to s. False (errno set) when the record cannot be made.
bool record(struct ioth* s, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    try {
        std::lock_guard lk(s->mu);
        if (s->socks.size() >= s->prune_at) s->prune(g_fds);
        s->socks.insert_or_assign(fd, ioth::Ident{st.st_dev, st.st_ino});
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return false;
    }
    g_fds.set(fd, s);  // beyond the table's range: libc serves it anyway
    return true;
}

struct ioth* newstack(const char* stack, const std::vector<const char*>& vnls) {
    t_last_error.clear();
    // As libioth: no name (NULL or "") is the kernel's stack.
    const std::string_view spec(stack != nullptr ? stack : "");
    const std::size_t comma = spec.find(',');
    const std::string_view name = spec.substr(0, comma);
    const std::string options(comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1));
    if (name.empty() || name == "kernel") return guarded([] { return new ::ioth; }, nullptr);
    if (name != "vdestack" && name != "vdestack++") {
        std::vector<const char*> vnlv(vnls);
        vnlv.push_back(nullptr);
        std::string license;
        {
            std::lock_guard lk(g_license_mu);
            license = g_license;
        }
        const vdestack::Tuning tuning = vdestack::Tuning::from_env();
        std::unique_ptr<PluginStack> p = vde::capi::load_plugin(
            name, options.c_str(), vnlv.data(), tuning.home.c_str(), license.empty() ? nullptr : license.c_str(),
            t_last_error);
        if (!p) return nullptr;
        auto* s = new (std::nothrow)::ioth;
        if (s == nullptr) {
            p->destroy();
            errno = ENOMEM;
            return nullptr;
        }
        s->plugin = std::move(p);
        return s;
    }
    return guarded(
        [&]() -> struct ioth* {
            auto owned = std::make_unique<::ioth>();
            owned->stack.emplace(vde::capi::open_ioth_stack(vnls));
            return owned.release();
        },
        nullptr, &t_last_error);
}

// ---- the wrappers' plugin side: a member, or its fallbacks as libioth's ----

template <class R, class... A, class... Args>
R forward(const PluginStack& p, R (*ioth_functions::*member)(A...), Args... args) {
    R (*fn)(A...) = p.functions().*member;
    if (fn == nullptr) {
        errno = ENOSYS;
        return -1;
    }
    return p.call([&](const ioth_functions&) { return fn(args...); });
}

ssize_t p_recvmsg(const PluginStack& p, int fd, struct msghdr* m, int flags) {
    return forward(p, &ioth_functions::recvmsg, fd, m, flags);
}
ssize_t p_recvfrom(const PluginStack& p, int fd, void* b, size_t n, int flags, struct sockaddr* a, socklen_t* l) {
    if (p.functions().recvfrom != nullptr) return forward(p, &ioth_functions::recvfrom, fd, b, n, flags, a, l);
    struct iovec iov {b, n};
    struct msghdr m {};
    m.msg_name = a;
    m.msg_namelen = l != nullptr ? *l : 0;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    const ssize_t r = p_recvmsg(p, fd, &m, flags);
    if (r >= 0 && l != nullptr) *l = m.msg_namelen;
    return r;
}
ssize_t p_recv(const PluginStack& p, int fd, void* b, size_t n, int flags) {
    if (p.functions().recv != nullptr) return forward(p, &ioth_functions::recv, fd, b, n, flags);
    return p_recvfrom(p, fd, b, n, flags, nullptr, nullptr);
}
ssize_t p_read(const PluginStack& p, int fd, void* b, size_t n) {
    if (p.functions().read != nullptr) return forward(p, &ioth_functions::read, fd, b, n);
    return p_recv(p, fd, b, n, 0);
}
ssize_t p_readv(const PluginStack& p, int fd, const struct iovec* v, int n) {
    if (p.functions().readv != nullptr) return forward(p, &ioth_functions::readv, fd, v, n);
    struct msghdr m {};
    m.msg_iov = const_cast<struct iovec*>(v);
    m.msg_iovlen = static_cast<size_t>(std::max(n, 0));
    return p_recvmsg(p, fd, &m, 0);
}
ssize_t p_sendmsg(const PluginStack& p, int fd, const struct msghdr* m, int flags) {
    return forward(p, &ioth_functions::sendmsg, fd, m, flags);
}
ssize_t p_sendto(const PluginStack& p, int fd, const void* b, size_t n, int flags, const struct sockaddr* a,
                 socklen_t l) {
    if (p.functions().sendto != nullptr) return forward(p, &ioth_functions::sendto, fd, b, n, flags, a, l);
    struct iovec iov {const_cast<void*>(b), n};
    struct msghdr m {};
    m.msg_name = const_cast<struct sockaddr*>(a);
    m.msg_namelen = l;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    return p_sendmsg(p, fd, &m, flags);
}
ssize_t p_send(const PluginStack& p, int fd, const void* b, size_t n, int flags) {
    if (p.functions().send != nullptr) return forward(p, &ioth_functions::send, fd, b, n, flags);
    return p_sendto(p, fd, b, n, flags, nullptr, 0);
}
ssize_t p_write(const PluginStack& p, int fd, const void* b, size_t n) {
    if (p.functions().write != nullptr) return forward(p, &ioth_functions::write, fd, b, n);
    return p_send(p, fd, b, n, 0);
}
ssize_t p_writev(const PluginStack& p, int fd, const struct iovec* v, int n) {
    if (p.functions().writev != nullptr) return forward(p, &ioth_functions::writev, fd, v, n);
    struct msghdr m {};
    m.msg_iov = const_cast<struct iovec*>(v);
    m.msg_iovlen = static_cast<size_t>(std::max(n, 0));
    return p_sendmsg(p, fd, &m, 0);
}

// kernel() for an fd of ours or of the kernel, plugin(stack) for a plugin's.
template <class K, class P>
auto on_fd(int fd, K&& kernel, P&& plugin) {
    const struct ioth* s = g_fds.get(fd);
    if (s == nullptr || !s->plugin) return kernel();
    return plugin(*s->plugin);
}

}  // namespace

#define IOTH_API extern "C" __attribute__((visibility("default")))

IOTH_API void ioth_set_license(const char* license) {
    std::lock_guard lk(g_license_mu);
    g_license = license != nullptr ? license : "";
}

IOTH_API const char* ioth_last_error(void) { return t_last_error.c_str(); }

IOTH_API struct ioth* ioth_newstack(const char* stack, const char* vnl) {
    std::vector<const char*> v;
    if (vnl != nullptr) v.push_back(vnl);
    return newstack(stack, v);
}

IOTH_API struct ioth* ioth_newstackv(const char* stack, const char* vnlv[]) {
    std::vector<const char*> v;
    for (std::size_t i = 0; vnlv != nullptr && vnlv[i] != nullptr; i++) v.push_back(vnlv[i]);
    return newstack(stack, v);
}

IOTH_API struct ioth* ioth_newstackl(const char* stack, const char* vnl, ...) {
    std::vector<const char*> v;
    va_list ap;
    va_start(ap, vnl);
    for (const char* p = vnl; p != nullptr; p = va_arg(ap, const char*)) v.push_back(p);
    va_end(ap);
    return newstack(stack, v);
}

IOTH_API int ioth_delstack(struct ioth* s) {
    if (s == nullptr) {
        errno = EINVAL;
        return -1;
    }
    if (s->plugin) {
        if (s->plugin->sockets.load() > 0) {
            errno = EBUSY;
            return -1;
        }
        if (s->plugin->destroy() != 0) return -1;
    } else {
        std::lock_guard lk(s->mu);
        s->prune(g_fds);
        if (!s->socks.empty()) {
            errno = EBUSY;
            return -1;
        }
    }
    if (auto* hook = g_on_delete.load()) hook(s->serial);
    struct ioth* expected = s;
    g_default.compare_exchange_strong(expected, nullptr);
    const int saved = errno;
    delete s;
    errno = saved;
    return 0;
}

IOTH_API int ioth_savestack(struct ioth* s, const int* socks, int nsocks, int fd) {
    t_last_error.clear();
    if (s == nullptr || nsocks < 0 || (nsocks > 0 && socks == nullptr)) {
        errno = EINVAL;
        return -1;
    }
    if (!s->stack) {
        errno = EOPNOTSUPP;
        t_last_error = "ioth_savestack: only a vdestack stack moves";
        return -1;
    }
    {
        std::lock_guard lk(s->mu);
        for (int i = 0; i < nsocks; i++)
            if (!s->owns(socks[i])) {
                errno = EBADF;
                t_last_error = "ioth_savestack: fd " + std::to_string(socks[i]) + " is not a socket of this stack";
                return -1;
            }
    }
    return guarded(
        [&] {
            s->stack->save(std::span<const int>(socks, static_cast<std::size_t>(nsocks)), fd);
            return 0;
        },
        -1, &t_last_error);
}

IOTH_API struct ioth* ioth_restorestack(int fd, const char* vnl, int* socks, int nsocks) {
    t_last_error.clear();
    if (nsocks < 0 || (nsocks > 0 && socks == nullptr)) {
        errno = EINVAL;
        return nullptr;
    }
    return guarded(
        [&]() -> struct ioth* {
            auto owned = std::make_unique<::ioth>();
            vde::Restored r =
                vde::detail::restore_expecting(fd, vnl != nullptr ? vnl : "", static_cast<std::size_t>(nsocks));
            owned->stack.emplace(std::move(r.stack));
            for (std::size_t i = 0; i < r.sockets.size(); i++) {
                if (!record(owned.get(), r.sockets[i].get())) throw vde::Error(errno, "ioth_restorestack: recording a socket");
                socks[i] = r.sockets[i].release();
            }
            return owned.release();
        },
        nullptr, &t_last_error);
}

IOTH_API void ioth_set_defstack(struct ioth* s) { g_default.store(s); }
IOTH_API struct ioth* ioth_get_defstack(void) { return g_default.load(); }

IOTH_API int ioth_msocket(struct ioth* s, int domain, int type, int protocol) {
    if (s == nullptr) s = g_default.load();
    if (s == nullptr) {
        const int fd = static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
        if (fd >= 0) g_fds.set(fd, nullptr);
        return fd;
    }
    if (s->plugin) {
        const int fd = forward(*s->plugin, &ioth_functions::socket, domain, type, protocol);
        if (fd < 0) return fd;
        if (!g_fds.set(fd, s)) {
            forward(*s->plugin, &ioth_functions::close, fd);
            errno = EMFILE;
            return -1;
        }
        s->plugin->sockets++;
        return fd;
    }
    int fd = -1;
    if (!s->stack) {
        fd = static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
    } else {
        std::error_code ec;
        vde::Socket sock = s->stack->socket(domain, type, protocol, ec);
        if (ec) {
            errno = ec.value();
            return -1;
        }
        fd = sock.release();
    }
    if (fd >= 0 && !record(s, fd)) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

IOTH_API int ioth_socket(int domain, int type, int protocol) { return ioth_msocket(nullptr, domain, type, protocol); }

IOTH_API int ioth_close(int fd) {
    struct ioth* s = g_fds.get(fd);
    if (s != nullptr && s->plugin) {
        const int r = forward(*s->plugin, &ioth_functions::close, fd);
        if (r == 0) {
            g_fds.clear_if(fd, s);
            s->plugin->sockets--;
        }
        return r;
    }
    if (s != nullptr) {
        std::lock_guard lk(s->mu);
        if (s->owns(fd)) {
            s->socks.erase(fd);
            g_fds.clear_if(fd, s);
        }
    }
    return ::close(fd);
}

IOTH_API int ioth_accept(int fd, struct sockaddr* a, socklen_t* l) {
    struct ioth* s = g_fds.get(fd);
    if (s != nullptr && s->plugin) {
        const int nfd = forward(*s->plugin, &ioth_functions::accept, fd, a, l);
        if (nfd < 0) return nfd;
        if (!g_fds.set(nfd, s)) {
            forward(*s->plugin, &ioth_functions::close, nfd);
            errno = EMFILE;
            return -1;
        }
        s->plugin->sockets++;
        return nfd;
    }
    const int nfd = ::accept(fd, a, l);
    if (nfd < 0) return nfd;
    bool ours = false;
    if (s != nullptr) {
        std::lock_guard lk(s->mu);
        ours = s->owns(fd);
    }
    if (ours) {
        if (!record(s, nfd)) {
            const int e = errno;
            ::close(nfd);
            errno = e;
            return -1;
        }
    } else {
        g_fds.set(nfd, nullptr);
    }
    return nfd;
}

// The rest: libc for our fds and the kernel's, the plugin's function for its
// fds (with libioth's fallbacks: read -> recv -> recvfrom -> recvmsg, ...).
#define IOTH_FWD(member, ...) \
    on_fd(fd, [&] { return ::member(__VA_ARGS__); }, \
          [&](const PluginStack& p) { return forward(p, &ioth_functions::member, __VA_ARGS__); })
#define IOTH_FALLBACK(member, ...) \
    on_fd(fd, [&] { return ::member(__VA_ARGS__); }, [&](const PluginStack& p) { return p_##member(p, __VA_ARGS__); })

IOTH_API int ioth_bind(int fd, const struct sockaddr* a, socklen_t l) { return IOTH_FWD(bind, fd, a, l); }
IOTH_API int ioth_connect(int fd, const struct sockaddr* a, socklen_t l) { return IOTH_FWD(connect, fd, a, l); }
IOTH_API int ioth_listen(int fd, int backlog) { return IOTH_FWD(listen, fd, backlog); }
IOTH_API int ioth_getsockname(int fd, struct sockaddr* a, socklen_t* l) { return IOTH_FWD(getsockname, fd, a, l); }
IOTH_API int ioth_getpeername(int fd, struct sockaddr* a, socklen_t* l) { return IOTH_FWD(getpeername, fd, a, l); }
IOTH_API ssize_t ioth_read(int fd, void* b, size_t n) { return IOTH_FALLBACK(read, fd, b, n); }
IOTH_API ssize_t ioth_readv(int fd, const struct iovec* v, int n) { return IOTH_FALLBACK(readv, fd, v, n); }
IOTH_API ssize_t ioth_recv(int fd, void* b, size_t n, int f) { return IOTH_FALLBACK(recv, fd, b, n, f); }
IOTH_API ssize_t ioth_recvfrom(int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l) {
    return IOTH_FALLBACK(recvfrom, fd, b, n, f, a, l);
}
IOTH_API ssize_t ioth_recvmsg(int fd, struct msghdr* m, int f) { return IOTH_FALLBACK(recvmsg, fd, m, f); }
IOTH_API ssize_t ioth_write(int fd, const void* b, size_t n) { return IOTH_FALLBACK(write, fd, b, n); }
IOTH_API ssize_t ioth_writev(int fd, const struct iovec* v, int n) { return IOTH_FALLBACK(writev, fd, v, n); }
IOTH_API ssize_t ioth_send(int fd, const void* b, size_t n, int f) { return IOTH_FALLBACK(send, fd, b, n, f); }
IOTH_API ssize_t ioth_sendto(int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l) {
    return IOTH_FALLBACK(sendto, fd, b, n, f, a, l);
}
IOTH_API ssize_t ioth_sendmsg(int fd, const struct msghdr* m, int f) { return IOTH_FALLBACK(sendmsg, fd, m, f); }
IOTH_API int ioth_setsockopt(int fd, int level, int name, const void* v, socklen_t l) {
    return IOTH_FWD(setsockopt, fd, level, name, v, l);
}
IOTH_API int ioth_getsockopt(int fd, int level, int name, void* v, socklen_t* l) {
    return IOTH_FWD(getsockopt, fd, level, name, v, l);
}
IOTH_API int ioth_shutdown(int fd, int how) { return IOTH_FWD(shutdown, fd, how); }

// ioctl and fcntl are variadic in libc and in struct ioth_functions.
IOTH_API int ioth_ioctl(int fd, unsigned long cmd, void* arg) {
    return on_fd(
        fd, [&] { return ::ioctl(fd, cmd, arg); },
        [&](const PluginStack& p) {
            if (p.functions().ioctl == nullptr) return (errno = ENOSYS, -1);
            return p.call([&](const ioth_functions& f) { return f.ioctl(fd, cmd, arg); });
        });
}
IOTH_API int ioth_fcntl(int fd, int cmd, long val) {
    return on_fd(
        fd, [&] { return ::fcntl(fd, cmd, val); },
        [&](const PluginStack& p) {
            if (p.functions().fcntl == nullptr) return (errno = ENOSYS, -1);
            return p.call([&](const ioth_functions& f) { return f.fcntl(fd, cmd, val); });
        });
}

// ---- api/ioth_ext.h: what libiothconf.so asks ------------------------------

namespace {


bool ours(struct ioth* s) { return s != nullptr && s->stack.has_value(); }

}  // namespace

IOTH_API std::uint64_t vdestack_ioth_serial(struct ioth* s) { return s != nullptr ? s->serial : 0; }
IOTH_API int vdestack_ioth_is_ours(struct ioth* s) { return ours(s) ? 1 : 0; }
IOTH_API void vdestack_ioth_set_error(const char* message) {
    try {
        t_last_error = message != nullptr ? message : "";
    } catch (...) {
        t_last_error.clear();
    }
}
IOTH_API void vdestack_ioth_on_delete(void (*hook)(std::uint64_t)) { g_on_delete.store(hook); }

IOTH_API int vdestack_ioth_config(struct ioth* s, const char* config, int newstackc, int* err, char** message,
                                  char** debug) {
    if (err != nullptr) *err = 0;
    if (message != nullptr) *message = nullptr;
    if (debug != nullptr) *debug = nullptr;
    t_last_error.clear();
    if (!ours(s) || config == nullptr) {
        errno = EINVAL;
        return -1;
    }
    return guarded(
        [&]() -> int {
            const vde::Stack::ConfigResult r = vde::detail::StackAccess::configure(*s->stack, config, newstackc != 0);
            if (err != nullptr) *err = r.error.value();
            if (message != nullptr && (*message = c_string(r.message)) == nullptr) throw std::bad_alloc();
            if (debug != nullptr && !r.debug.empty() && (*debug = c_string(r.debug)) == nullptr) {
                std::free(message != nullptr ? *message : nullptr);
                if (message != nullptr) *message = nullptr;
                throw std::bad_alloc();
            }
            return static_cast<int>(r.mask);
        },
        -1, &t_last_error);
}

IOTH_API int vdestack_ioth_query(struct ioth* s, int what, const char* iface, unsigned ifindex, char** text) {
    if (text != nullptr) *text = nullptr;
    t_last_error.clear();
    if (!ours(s) || text == nullptr || (what != 0 && what != 1)) {
        errno = EINVAL;
        return -1;
    }
    const std::string_view name = iface != nullptr ? iface : "";
    return guarded(
        [&]() -> int {
            if (what == 1) {
                const std::string lease = s->stack->dhcp_lease(name);
                if ((*text = c_string(lease)) == nullptr) throw std::bad_alloc();
                return 0;
            }
            std::optional<std::string> r = vde::detail::StackAccess::resolvconf(*s->stack, name, ifindex);
            if (!r) return 0;
            if ((*text = c_string(*r)) == nullptr) throw std::bad_alloc();
            return 1;
        },
        -1, &t_last_error);
}
