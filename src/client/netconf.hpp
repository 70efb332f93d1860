// netconf.hpp - configuring a network namespace through netlink, in C++:
// links up/down, MTU, MAC, addresses, routes. Built on the same code as the
// public header-only nlinline.h (include/nlinline+.h), with errors that say
// what failed: Error(errno from the kernel's acknowledgement, "<context>:
// add address 10.0.0.1/24 to vde0").
//
// A NetConf makes its netlink sockets with a socket function: nullptr means
// socket(2) in the calling thread's namespace; the C++ Stack API passes one
// that makes them inside the stack (vde_msocket). Not internally locked; each
// call opens and closes its own socket, so separate NetConf objects may be
// used from several threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vdestack::client {

using SocketFn = int (*)(void* ctx, int domain, int type, int protocol);

class NetConf {
public:
    explicit NetConf(std::string context = {}, SocketFn fn = nullptr, void* ctx = nullptr)
        : context_(std::move(context)), fn_(fn), ctx_(ctx) {}

    // Interface index; throws Error(ENODEV) for an unknown name.
    unsigned index(std::string_view ifname);
    void set_up(std::string_view ifname, bool up = true);
    void set_mtu(std::string_view ifname, unsigned mtu);
    void set_mac(std::string_view ifname, const std::array<std::uint8_t, 6>& mac);
    std::array<std::uint8_t, 6> mac(std::string_view ifname);
    // cidr: "10.0.0.1/24", "fc00::1:1/64"; a missing length means a host address.
    // nodad: usable at once, without IPv6 duplicate address detection.
    void add_address(std::string_view ifname, std::string_view cidr, bool nodad = false);
    void del_address(std::string_view ifname, std::string_view cidr);
    // dest: "default" or a prefix ("10.1.0.0/16"); gateway may be empty
    // (on-link through ifname); ifname may be empty (any interface).
    void add_route(std::string_view dest, std::string_view gateway, std::string_view ifname = {});
    void del_route(std::string_view dest, std::string_view gateway, std::string_view ifname = {});

    // For the nlinline glue: makes a netlink socket.
    int make_socket(int domain, int type, int protocol) noexcept;

private:
    [[noreturn]] void failed(const std::string& what) const;
    std::string context_;
    SocketFn fn_;
    void* ctx_;
};

// vdens: addresses and routes on ifname, its MTU, link up (and lo) when `up`.
// Runs in the calling thread's namespace. Throws Error.
void configure_interface(const std::string& ifname, const std::vector<std::string>& addrs,
                         const std::vector<std::string>& routes, unsigned mtu, bool up);

}  // namespace vdestack::client
