// netops.cpp - the netlink calls of NetOps: nlinline's functions generated
// over the NetOps socket calls (NLINLINE_LIBMULTI), the NetOps as the stack.
// nlinline's bind/send/recv/close take no stack: they reach the NetOps of
// the socket the same function opened through a thread-local, set by the
// msocket that every nlinline function calls first.
#include "conf/netops.hpp"

#include <nlinline+.h>

namespace vdestack::conf {
namespace {

thread_local NetOps* t_ops = nullptr;

int confnl_msocket(void* stack, int domain, int type, int protocol) {
    t_ops = static_cast<NetOps*>(stack);
    return t_ops->socket(domain, type, protocol);
}
int confnl_bind(int fd, const struct sockaddr* a, socklen_t l) { return t_ops->bind(fd, a, l); }
ssize_t confnl_send(int fd, const void* b, size_t n, int flags) { return t_ops->sendto(fd, b, n, flags, nullptr, 0); }
ssize_t confnl_recv(int fd, void* b, size_t n, int flags) {
    // nlinline's recv must not hang on a stack that never answers.
    if (!(flags & MSG_DONTWAIT) && t_ops->wait_readable(fd, 5000) == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return t_ops->recvfrom(fd, b, n, flags, nullptr, nullptr);
}
int confnl_close(int fd) { return t_ops->close(fd); }

}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
NLINLINE_LIBMULTI(confnl_)
#pragma GCC diagnostic pop

int NetOps::if_nametoindex(const char* ifname) { return confnl_if_nametoindex(this, ifname); }
int NetOps::link_up(unsigned ifindex, bool up) { return confnl_linksetupdown(this, ifindex, up ? 1 : 0); }
int NetOps::set_mac(unsigned ifindex, const std::uint8_t mac[6]) {
    return confnl_linksetaddr(this, ifindex, const_cast<std::uint8_t*>(mac));
}
int NetOps::get_mac(unsigned ifindex, std::uint8_t mac[6]) { return confnl_linkgetaddr(this, ifindex, mac); }
int NetOps::addr_add(int family, const void* addr, int prefix, unsigned ifindex, bool nodad) {
    if (nodad && family == AF_INET6) prefix = nl_addrdata2prefix(static_cast<unsigned char>(prefix), IFA_F_NODAD, 0);
    return confnl_ipaddr_add(this, family, const_cast<void*>(addr), prefix, static_cast<int>(ifindex));
}
int NetOps::addr_del(int family, const void* addr, int prefix, unsigned ifindex) {
    return confnl_ipaddr_del(this, family, const_cast<void*>(addr), prefix, static_cast<int>(ifindex));
}
int NetOps::route_add(int family, const void* dst, int dstlen, const void* gw, unsigned ifindex) {
    return confnl_iproute_add(this, family, const_cast<void*>(dst), dstlen, const_cast<void*>(gw),
                              static_cast<int>(ifindex));
}
int NetOps::route_del(int family, const void* dst, int dstlen, const void* gw, unsigned ifindex) {
    return confnl_iproute_del(this, family, const_cast<void*>(dst), dstlen, const_cast<void*>(gw),
                              static_cast<int>(ifindex));
}

}  // namespace vdestack::conf
