// netops.hpp - how the configurator reaches a stack: the socket calls of
// whatever kind of stack it is (a vdestack namespace entered by the calling
// thread, a kernel stack, an ioth plugin), and the stack's netlink through
// nlinline over those same calls.
//
// Two implementations: LibcOps (here: the calling thread's own network
// namespace, plain syscalls; the helper's configuration thread enters a
// stack's namespace and uses it) and, in libiothconf, one over the ioth_
// wrappers of a struct ioth. Every call returns -1 with errno on failure, as
// its libc twin. An object is used by one thread at a time.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace vdestack::conf {

class NetOps {
public:
    virtual ~NetOps() = default;
    virtual int socket(int domain, int type, int protocol) = 0;
    virtual int close(int fd) = 0;
    virtual int bind(int fd, const sockaddr* a, socklen_t l) = 0;
    virtual int setsockopt(int fd, int level, int name, const void* v, socklen_t l) = 0;
    virtual ssize_t sendto(int fd, const void* b, std::size_t n, int flags, const sockaddr* a, socklen_t l) = 0;
    virtual ssize_t recvfrom(int fd, void* b, std::size_t n, int flags, sockaddr* a, socklen_t* l) = 0;
    // 1 when fd is readable within timeout_ms, 0 at the timeout, -1 on error.
    virtual int wait_readable(int fd, int timeout_ms) = 0;

    // Netlink, through nlinline over the calls above (netops.cpp).
    int if_nametoindex(const char* ifname);
    int link_up(unsigned ifindex, bool up);
    int set_mac(unsigned ifindex, const std::uint8_t mac[6]);
    int get_mac(unsigned ifindex, std::uint8_t mac[6]);
    // nodad: an IPv6 address usable at once, without duplicate address
    // detection (IFA_F_NODAD).
    int addr_add(int family, const void* addr, int prefix, unsigned ifindex, bool nodad = false);
    int addr_del(int family, const void* addr, int prefix, unsigned ifindex);
    int route_add(int family, const void* dst, int dstlen, const void* gw, unsigned ifindex);
    int route_del(int family, const void* dst, int dstlen, const void* gw, unsigned ifindex);
};

// The calling thread's own network namespace.
class LibcOps : public NetOps {
public:
    int socket(int d, int t, int p) override { return ::socket(d, t, p); }
    int close(int fd) override { return ::close(fd); }
    int bind(int fd, const sockaddr* a, socklen_t l) override { return ::bind(fd, a, l); }
    int setsockopt(int fd, int level, int name, const void* v, socklen_t l) override {
        return ::setsockopt(fd, level, name, v, l);
    }
    ssize_t sendto(int fd, const void* b, std::size_t n, int f, const sockaddr* a, socklen_t l) override {
        return ::sendto(fd, b, n, f, a, l);
    }
    ssize_t recvfrom(int fd, void* b, std::size_t n, int f, sockaddr* a, socklen_t* l) override {
        return ::recvfrom(fd, b, n, f, a, l);
    }
    int wait_readable(int fd, int timeout_ms) override {
        pollfd p{fd, POLLIN, 0};
        for (;;) {
            const int r = ::poll(&p, 1, timeout_ms);
            if (r >= 0 || errno != EINTR) return r;
        }
    }
};

// A socket of a NetOps, closed with it.
class OpsFd {
public:
    OpsFd(NetOps& ops, int fd) noexcept : ops_(&ops), fd_(fd) {}
    OpsFd(OpsFd&& o) noexcept : ops_(o.ops_), fd_(o.fd_) { o.fd_ = -1; }
    OpsFd& operator=(OpsFd&&) = delete;
    OpsFd(const OpsFd&) = delete;
    ~OpsFd() {
        if (fd_ >= 0) ops_->close(fd_);
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    NetOps* ops_;
    int fd_;
};

}  // namespace vdestack::conf
