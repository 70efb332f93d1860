// netconf.cpp - NetConf over the header-only nlinline+ functions (see netconf.hpp).
#include "client/netconf.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hpp"

// The glue nlinline+ calls to open its netlink sockets: `stack` is our NetConf.
static int vdestack_nl_msocket(void* stack, int domain, int type, int protocol) {
    return static_cast<vdestack::client::NetConf*>(stack)->make_socket(domain, type, protocol);
}

#include "nlinline+.h"
NLINLINE_LIBMULTICOMP(vdestack_nl_)

namespace vdestack::client {

namespace {

struct Prefix {
    int family = 0;
    std::uint8_t addr[16] = {};
    int len = 0;
};

// Parses "addr[/len]"; throws EINVAL naming the text.
Prefix parse_prefix(std::string_view text, const std::string& ctx) {
    Prefix p;
    std::string s(text);
    std::string lenpart;
    if (auto slash = s.find('/'); slash != std::string::npos) {
        lenpart = s.substr(slash + 1);
        s.resize(slash);
    }
    if (::inet_pton(AF_INET, s.c_str(), p.addr) == 1) {
        p.family = AF_INET;
        p.len = 32;
    } else if (::inet_pton(AF_INET6, s.c_str(), p.addr) == 1) {
        p.family = AF_INET6;
        p.len = 128;
    } else {
        fail(EINVAL, ctx + "bad address '" + std::string(text) + "'");
    }
    if (!lenpart.empty()) {
        char* end = nullptr;
        errno = 0;
        long l = std::strtol(lenpart.c_str(), &end, 10);
        if (errno != 0 || *end != '\0' || l < 0 || l > p.len)
            fail(EINVAL, ctx + "bad prefix length in '" + std::string(text) + "'");
        p.len = static_cast<int>(l);
    }
    return p;
}

}  // namespace

int NetConf::make_socket(int domain, int type, int protocol) noexcept {
    if (fn_ != nullptr) return fn_(ctx_, domain, type, protocol);
    return static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
}

void NetConf::failed(const std::string& what) const {
    fail_errno((context_.empty() ? "" : context_ + ": ") + what);
}

unsigned NetConf::index(std::string_view ifname) {
    std::string name(ifname);
    int i = vdestack_nl_if_nametoindex(this, name.c_str());
    if (i <= 0) {
        if (i == 0) errno = ENODEV;
        failed("no interface '" + name + "'");
    }
    return static_cast<unsigned>(i);
}

void NetConf::set_up(std::string_view ifname, bool up) {
    unsigned i = index(ifname);
    if (vdestack_nl_linksetupdown(this, i, up ? 1 : 0) < 0)
        failed("set " + std::string(ifname) + (up ? " up" : " down"));
}

void NetConf::set_mtu(std::string_view ifname, unsigned mtu) {
    unsigned i = index(ifname);
    if (vdestack_nl_linksetmtu(this, i, mtu) < 0)
        failed("set the MTU of " + std::string(ifname) + " to " + std::to_string(mtu));
}

void NetConf::set_mac(std::string_view ifname, const std::array<std::uint8_t, 6>& mac) {
    unsigned i = index(ifname);
    auto copy = mac;
    if (vdestack_nl_linksetaddr(this, i, copy.data()) < 0) failed("set the MAC address of " + std::string(ifname));
}

std::array<std::uint8_t, 6> NetConf::mac(std::string_view ifname) {
    unsigned i = index(ifname);
    std::array<std::uint8_t, 6> m{};
    if (vdestack_nl_linkgetaddr(this, i, m.data()) < 0) failed("get the MAC address of " + std::string(ifname));
    return m;
}

void NetConf::add_address(std::string_view ifname, std::string_view cidr, bool nodad) {
    std::string what = "add address " + std::string(cidr) + " to " + std::string(ifname);
    Prefix p = parse_prefix(cidr, (context_.empty() ? "" : context_ + ": ") + what + ": ");
    unsigned i = index(ifname);
    int len = nodad ? nl_addrdata2prefix(static_cast<unsigned char>(p.len), IFA_F_NODAD, 0) : p.len;
    if (vdestack_nl_ipaddr_add(this, p.family, p.addr, len, static_cast<int>(i)) < 0) failed(what);
}

void NetConf::del_address(std::string_view ifname, std::string_view cidr) {
    std::string what = "delete address " + std::string(cidr) + " from " + std::string(ifname);
    Prefix p = parse_prefix(cidr, (context_.empty() ? "" : context_ + ": ") + what + ": ");
    unsigned i = index(ifname);
    if (vdestack_nl_ipaddr_del(this, p.family, p.addr, p.len, static_cast<int>(i)) < 0) failed(what);
}

namespace {
template <class F>
void route_op(NetConf& nc, std::string_view dest, std::string_view gateway, std::string_view ifname,
              const std::string& what, const std::string& ctx, F&& op) {
    std::string pfx = (ctx.empty() ? "" : ctx + ": ") + what + ": ";
    Prefix gw;
    bool has_gw = !gateway.empty();
    if (has_gw) gw = parse_prefix(gateway, pfx);
    Prefix dst;
    bool is_default = dest == "default" || dest.empty();
    if (!is_default) dst = parse_prefix(dest, pfx);
    int family = is_default ? (has_gw ? gw.family : AF_INET) : dst.family;
    if (has_gw && gw.family != family) fail(EINVAL, pfx + "the gateway's family differs from the destination's");
    unsigned idx = ifname.empty() ? 0 : nc.index(ifname);
    int r = op(family, is_default ? nullptr : dst.addr, is_default ? 0 : dst.len, has_gw ? gw.addr : nullptr, idx);
    if (r < 0) fail_errno(pfx.substr(0, pfx.size() - 2));
}
}  // namespace

void NetConf::add_route(std::string_view dest, std::string_view gateway, std::string_view ifname) {
    std::string what = "add route " + std::string(dest.empty() ? "default" : dest) +
                       (gateway.empty() ? "" : " via " + std::string(gateway)) +
                       (ifname.empty() ? "" : " dev " + std::string(ifname));
    route_op(*this, dest, gateway, ifname, what, context_, [this](int f, void* d, int l, void* g, unsigned i) {
        return vdestack_nl_iproute_add(this, f, d, l, g, i);
    });
}

void NetConf::del_route(std::string_view dest, std::string_view gateway, std::string_view ifname) {
    std::string what = "delete route " + std::string(dest.empty() ? "default" : dest) +
                       (gateway.empty() ? "" : " via " + std::string(gateway));
    route_op(*this, dest, gateway, ifname, what, context_, [this](int f, void* d, int l, void* g, unsigned i) {
        return vdestack_nl_iproute_del(this, f, d, l, g, i);
    });
}

void configure_interface(const std::string& ifname, const std::vector<std::string>& addrs,
                         const std::vector<std::string>& routes, unsigned mtu, bool up) {
    NetConf nc;
    if (mtu != 0) nc.set_mtu(ifname, mtu);
    if (up) {
        nc.set_up("lo");
        nc.set_up(ifname);
    }
    // nodad: a script's next command can use IPv6 at once.
    for (const auto& a : addrs) nc.add_address(ifname, a, true);
    for (const auto& r : routes) {
        auto comma = r.find(',');
        if (comma == std::string::npos) {
            nc.add_route(r, "", ifname);
        } else {
            nc.add_route(std::string_view(r).substr(0, comma), std::string_view(r).substr(comma + 1), ifname);
        }
    }
}

}  // namespace vdestack::client
