// ioth_c.cpp - the libioth API (include/ioth.h) over vde::Stack and the
// host's own stack, as libioth.so: exceptions become NULL/-1 + errno,
// nothing is printed.
//
// Theory of operation
// -------------------
// A struct ioth is a vde::Stack ("vdestack") or nothing ("kernel": sockets
// are the host's). Every socket ioth_msocket() makes is recorded with the
// identity of its file (device and inode): ioth_delstack() refuses with
// EBUSY while one of them is still open under its number, whether the
// program closed it with ioth_close() or close(). A stack has an interface
// per VNL (vde0, vde1, ... unless the VNL names it: "eth1:vxvde://..."),
// each forwarded on its own by the engine. The records of closed sockets are
// pruned by ioth_delstack() and by ioth_msocket() whenever the records have
// doubled since the last prune: a long-lived stack holds at most twice as
// many records as open sockets (and 64), at O(1) amortized cost per socket.
// The Berkeley wrappers are the libc calls: the fds are
// kernel fds of this process. Thread-safety: a mutex per stack guards its
// records; the default stack is an atomic pointer.
#include "ioth.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/c_result.hpp"
#include "vdestack/stack.hpp"

struct ioth {
    std::optional<vde::Stack> stack;  // empty: the kernel's stack
    std::mutex mu;
    struct Sock {
        int fd;
        dev_t dev;
        ino_t ino;
    };
    std::vector<Sock> socks;      // the sockets made here, perhaps closed since
    std::size_t prune_at = 64;    // records past which record() prunes first

    // Forgets the records whose fd no longer holds the socket. Under mu.
    void prune() {
        std::erase_if(socks, [](const Sock& s) {
            struct stat st {};
            return ::fstat(s.fd, &st) != 0 || st.st_dev != s.dev || st.st_ino != s.ino;
        });
        prune_at = std::max<std::size_t>(64, 2 * socks.size());
    }
    // Records a new socket. Pruning only when the records have doubled keeps
    // ioth_msocket() O(1) amortized however many sockets are open. Under mu.
    void record(const Sock& s) {
        if (socks.size() >= prune_at) prune();
        socks.push_back(s);
    }
};

namespace {

std::atomic<struct ioth*> g_default{nullptr};
std::mutex g_license_mu;
std::string g_license;

using vde::capi::guarded;

// "ifname:scheme://..." -> (ifname, vnl); the i-th VNL without the prefix
// -> ("vde<i>", vnl).
std::pair<std::string, std::string> split_ifname(std::string_view v, std::size_t i) {
    const std::size_t scheme_end = v.find("://");
    const std::size_t colon = v.find(':');
    if (scheme_end != std::string_view::npos && colon < scheme_end && colon > 0)
        return {std::string(v.substr(0, colon)), std::string(v.substr(colon + 1))};
    return {"vde" + std::to_string(i), std::string(v)};
}

struct ioth* newstack(const char* stack, const std::vector<const char*>& vnls) {
    if (stack == nullptr) {
        errno = EINVAL;
        return nullptr;
    }
    const std::string_view spec(stack);
    const std::string_view name = spec.substr(0, spec.find(','));  // the options are for plugins
    return guarded(
        [&]() -> struct ioth* {
            if (name == "kernel") return new ::ioth;
            if (name != "vdestack" && name != "vdestack++") throw vde::Error(EPROTONOSUPPORT, "ioth_newstack: " + std::string(name));
            auto* s = new ::ioth;
            try {
                if (vnls.empty()) {
                    s->stack.emplace("");
                } else {
                    auto [ifname, vnl] = split_ifname(vnls[0], 0);
                    vde::StackOptions opts;
                    opts.ifname = ifname;
                    s->stack.emplace(vnl, opts);
                    for (std::size_t i = 1; i < vnls.size(); i++) {
                        auto [more_if, more_vnl] = split_ifname(vnls[i], i);
                        s->stack->add_interface(more_vnl, more_if);
                    }
                }
            } catch (...) {
                delete s;
                throw;
            }
            return s;
        },
        nullptr);
}

}  // namespace

#define IOTH_API extern "C" __attribute__((visibility("default")))

IOTH_API void ioth_set_license(const char* license) {
    std::lock_guard lk(g_license_mu);
    g_license = license != nullptr ? license : "";
}

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
    {
        std::lock_guard lk(s->mu);
        s->prune();
        if (!s->socks.empty()) {
            errno = EBUSY;
            return -1;
        }
    }
    struct ioth* expected = s;
    g_default.compare_exchange_strong(expected, nullptr);
    const int saved = errno;
    delete s;
    errno = saved;
    return 0;
}

IOTH_API void ioth_set_defstack(struct ioth* s) { g_default.store(s); }
IOTH_API struct ioth* ioth_get_defstack(void) { return g_default.load(); }

IOTH_API int ioth_msocket(struct ioth* s, int domain, int type, int protocol) {
    if (s == nullptr) s = g_default.load();
    int fd = -1;
    if (s == nullptr || !s->stack) {
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
    if (fd < 0 || s == nullptr) return fd;
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
        try {
            std::lock_guard lk(s->mu);
            s->record({fd, st.st_dev, st.st_ino});
        } catch (const std::bad_alloc&) {
            ::close(fd);
            errno = ENOMEM;
            return -1;
        }
    }
    return fd;
}

IOTH_API int ioth_socket(int domain, int type, int protocol) { return ioth_msocket(nullptr, domain, type, protocol); }
IOTH_API int ioth_close(int fd) { return ::close(fd); }

IOTH_API int ioth_bind(int fd, const struct sockaddr* a, socklen_t l) { return ::bind(fd, a, l); }
IOTH_API int ioth_connect(int fd, const struct sockaddr* a, socklen_t l) { return ::connect(fd, a, l); }
IOTH_API int ioth_listen(int fd, int backlog) { return ::listen(fd, backlog); }
IOTH_API int ioth_accept(int fd, struct sockaddr* a, socklen_t* l) { return ::accept(fd, a, l); }
IOTH_API int ioth_getsockname(int fd, struct sockaddr* a, socklen_t* l) { return ::getsockname(fd, a, l); }
IOTH_API int ioth_getpeername(int fd, struct sockaddr* a, socklen_t* l) { return ::getpeername(fd, a, l); }
IOTH_API ssize_t ioth_read(int fd, void* b, size_t n) { return ::read(fd, b, n); }
IOTH_API ssize_t ioth_readv(int fd, const struct iovec* v, int n) { return ::readv(fd, v, n); }
IOTH_API ssize_t ioth_recv(int fd, void* b, size_t n, int f) { return ::recv(fd, b, n, f); }
IOTH_API ssize_t ioth_recvfrom(int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l) {
    return ::recvfrom(fd, b, n, f, a, l);
}
IOTH_API ssize_t ioth_recvmsg(int fd, struct msghdr* m, int f) { return ::recvmsg(fd, m, f); }
IOTH_API ssize_t ioth_write(int fd, const void* b, size_t n) { return ::write(fd, b, n); }
IOTH_API ssize_t ioth_writev(int fd, const struct iovec* v, int n) { return ::writev(fd, v, n); }
IOTH_API ssize_t ioth_send(int fd, const void* b, size_t n, int f) { return ::send(fd, b, n, f); }
IOTH_API ssize_t ioth_sendto(int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l) {
    return ::sendto(fd, b, n, f, a, l);
}
IOTH_API ssize_t ioth_sendmsg(int fd, const struct msghdr* m, int f) { return ::sendmsg(fd, m, f); }
IOTH_API int ioth_setsockopt(int fd, int level, int name, const void* v, socklen_t l) {
    return ::setsockopt(fd, level, name, v, l);
}
IOTH_API int ioth_getsockopt(int fd, int level, int name, void* v, socklen_t* l) {
    return ::getsockopt(fd, level, name, v, l);
}
IOTH_API int ioth_shutdown(int fd, int how) { return ::shutdown(fd, how); }
IOTH_API int ioth_ioctl(int fd, unsigned long cmd, void* arg) { return ::ioctl(fd, cmd, arg); }
IOTH_API int ioth_fcntl(int fd, int cmd, long val) { return ::fcntl(fd, cmd, val); }
