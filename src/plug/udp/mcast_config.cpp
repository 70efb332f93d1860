// mcast_config.cpp - the options vxvde:// and vxlan:// share (mcast_config.hpp).
#include "plug/udp/mcast_config.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <climits>
#include <string>

#include "base/error.hpp"

namespace vdestack::plug {

McastConfig parse_mcast(const vnl::Parsed& p, std::string_view vnl_text, const McastDefaults& d,
                        std::optional<std::uint32_t> low24) {
    McastConfig c;
    c.ttl = d.ttl;
    c.hashsize = d.hashsize;
    c.expire = d.expire;

    const bool want4 = p.has("v4");
    const bool want6 = p.has("v6");
    int family = AF_UNSPEC;  // neither or both: as the address says
    if (want4 && !want6) family = AF_INET;
    if (want6 && !want4) family = AF_INET6;

    std::uint16_t port = d.port;
    if (auto v = p.get("port")) {
        port = static_cast<std::uint16_t>(vnl::parse_number(*v, "port", vnl_text, 65535));
        if (port == 0) vnl::bad_value(*v, "port", vnl_text);
    }
    if (auto v = p.get("ttl")) c.ttl = static_cast<int>(vnl::parse_number(*v, "ttl", vnl_text, 255));
    if (auto v = p.get("hashsize")) {
        c.hashsize = static_cast<std::size_t>(vnl::parse_number(*v, "hashsize", vnl_text, std::uint64_t{1} << 24));
        if (c.hashsize == 0) vnl::bad_value(*v, "hashsize", vnl_text);
    }
    if (auto v = p.get("expiretime")) {
        c.expire = static_cast<std::int64_t>(vnl::parse_number(*v, "expiretime", vnl_text, std::uint64_t{1} << 40));
        if (c.expire == 0) c.expire = d.expire;  // as vdeplug4: <= 0 means the default
    }
    if (auto v = p.get("rcvbuf")) c.rcvbuf = static_cast<int>(vnl::parse_number(*v, "rcvbuf", vnl_text, INT_MAX));
    if (auto v = p.get("if")) {
        if (v->empty() || v->size() >= IF_NAMESIZE) vnl::bad_value(*v, "if", vnl_text);
        c.ifindex = ::if_nametoindex(v->c_str());
        if (c.ifindex == 0) fail(ENODEV, std::string(vnl_text) + ": unknown interface '" + *v + "'");
    }

    // The group: a numeric multicast address.
    std::string addr = p.address;
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    if (addr.empty()) addr = want6 ? d.group6 : d.group4;
    in_addr a4{};
    in6_addr a6{};
    if (family != AF_INET6 && ::inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
        family = AF_INET;
    } else if (family != AF_INET && ::inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
        family = AF_INET6;
    } else {
        fail(EINVAL, std::string(vnl_text) + ": bad address '" + addr + "' (a numeric " +
                         (family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "IPv4 or IPv6") +
                         " multicast group address is required)");
    }
    auto set_low24 = [](unsigned char* last3, std::uint32_t v) {
        last3[0] = static_cast<unsigned char>((v >> 16) & 0xff);
        last3[1] = static_cast<unsigned char>((v >> 8) & 0xff);
        last3[2] = static_cast<unsigned char>(v & 0xff);
    };
    if (family == AF_INET) {
        if (!IN_MULTICAST(ntohl(a4.s_addr)))
            fail(EINVAL, std::string(vnl_text) + ": '" + addr + "' is not a multicast address");
        if (low24) set_low24(reinterpret_cast<unsigned char*>(&a4.s_addr) + 1, *low24);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr = a4;
        c.group = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    } else {
        if (!IN6_IS_ADDR_MULTICAST(&a6))
            fail(EINVAL, std::string(vnl_text) + ": '" + addr + "' is not a multicast address");
        if (low24) set_low24(a6.s6_addr + 13, *low24);
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        sa.sin6_addr = a6;
        // Interface-/link-local groups need the interface as scope.
        if (IN6_IS_ADDR_MC_LINKLOCAL(&a6) || IN6_IS_ADDR_MC_NODELOCAL(&a6)) sa.sin6_scope_id = c.ifindex;
        c.group = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    }
    return c;
}

}  // namespace vdestack::plug
