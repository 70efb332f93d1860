// unit_udpvnl.cpp - parsing udp:// VNLs (src/plug/udp.cpp): the split at
// "->" and at the last ':' of each side, brackets, vdeplug4's bare IPv6 form,
// the wildcard source in the destination's family, and the errors (EINVAL,
// naming the VNL). Numeric addresses only: no resolver, no network needed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "plug/udp/udp.hpp"
#include "base/error.hpp"

namespace {

using vdestack::Error;
using vdestack::plug::resolve_udp_vnl;
using vdestack::plug::split_udp_vnl;
using vdestack::plug::UdpEndpoints;
using vdestack::plug::UdpVnlParts;

UdpVnlParts split(const std::string& rest) { return split_udp_vnl("udp://" + rest, rest); }
UdpEndpoints resolve(const std::string& rest) { return resolve_udp_vnl("udp://" + rest, rest); }

std::string addr_text(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
    else
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
    return buf;
}

unsigned port_of(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
}

TEST(UdpVnl, SplitsLikeVdeplug4) {
    UdpVnlParts p = split("5000->10.0.0.2:5001");
    EXPECT_EQ(p.src_host, "");
    EXPECT_EQ(p.src_port, "5000");
    EXPECT_EQ(p.dst_host, "10.0.0.2");
    EXPECT_EQ(p.dst_port, "5001");

    p = split("10.0.0.1:5000->10.0.0.2:5001");
    EXPECT_EQ(p.src_host, "10.0.0.1");
    EXPECT_EQ(p.src_port, "5000");

    // vdeplug4's bare IPv6: the port follows the LAST ':'.
    p = split("fc00::1:5000->fc00::2:5001");
    EXPECT_EQ(p.src_host, "fc00::1");
    EXPECT_EQ(p.src_port, "5000");
    EXPECT_EQ(p.dst_host, "fc00::2");
    EXPECT_EQ(p.dst_port, "5001");

    // Brackets.
    p = split("[fc00::1]:5000->[fc00::2]:5001");
    EXPECT_EQ(p.src_host, "fc00::1");
    EXPECT_EQ(p.dst_host, "fc00::2");
    EXPECT_EQ(p.dst_port, "5001");

    // ":port" is a port with the wildcard address (vdeplug4 accepts it).
    p = split(":5000->h:1");
    EXPECT_EQ(p.src_host, "");
    EXPECT_EQ(p.src_port, "5000");

    // The first "->" splits; host names pass through.
    p = split("5000->host.example:domain");
    EXPECT_EQ(p.dst_host, "host.example");
    EXPECT_EQ(p.dst_port, "domain");
}

TEST(UdpVnl, ResolvesNumericEndpoints) {
    UdpEndpoints e = resolve("5000->10.0.0.2:5001");
    EXPECT_EQ(e.dst.ss_family, AF_INET);
    EXPECT_EQ(addr_text(e.dst), "10.0.0.2");
    EXPECT_EQ(port_of(e.dst), 5001u);
    EXPECT_EQ(e.src.ss_family, AF_INET);  // the destination's family
    EXPECT_EQ(addr_text(e.src), "0.0.0.0");
    EXPECT_EQ(port_of(e.src), 5000u);

    e = resolve("5000->[fc00::2]:5001");
    EXPECT_EQ(e.dst.ss_family, AF_INET6);
    EXPECT_EQ(addr_text(e.dst), "fc00::2");
    EXPECT_EQ(e.src.ss_family, AF_INET6);
    EXPECT_EQ(addr_text(e.src), "::");
    EXPECT_EQ(port_of(e.src), 5000u);

    e = resolve("fc00::1:0->fc00::2:65535");
    EXPECT_EQ(addr_text(e.src), "fc00::1");
    EXPECT_EQ(port_of(e.src), 0u);  // ephemeral source port: allowed
    EXPECT_EQ(port_of(e.dst), 65535u);

    e = resolve("127.0.0.1:7->127.0.0.2:8");
    EXPECT_EQ(addr_text(e.src), "127.0.0.1");
    EXPECT_EQ(addr_text(e.dst), "127.0.0.2");
}

TEST(UdpVnl, RejectsBadVnlsWithEinvalNamingThem) {
    const char* bad[] = {
        "",                              // nothing
        "5000",                          // no "->"
        "5000->10.0.0.2",                // no destination port
        "5000->10.0.0.2:",               // empty destination port
        "5000->:5001",                   // no destination address
        "->10.0.0.2:5001",               // no source port
        "10.0.0.1:->10.0.0.2:5001",      // empty source port
        "5000->[fc00::2:5001",           // unbalanced bracket
        "5000->fc00::2]:5001",           // unbalanced bracket
        "5000->[[::1]:5001",             // nested brackets (found by fuzz_udpvnl)
        "[[::1]]:5000->[::1]:5001",      // nested brackets in the source
        "70000->10.0.0.2:5001",          // source port out of range
        "5000->10.0.0.2:65536",          // destination port out of range
        "5000->10.0.0.2:0",              // destination port 0
        "5000->10.0.0.2:50x1",           // not a port nor a service
        "[fc00::1]:5000->10.0.0.2:5001", // source family differs from the destination's
        "10.0.0.1:5000->[fc00::2]:5001", // likewise
    };
    for (const char* rest : bad) {
        const std::string vnl = std::string("udp://") + rest;
        try {
            (void)resolve_udp_vnl(vnl, rest);
            ADD_FAILURE() << vnl << ": accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code().value(), EINVAL) << vnl << ": " << e.what();
            EXPECT_NE(std::string(e.what()).find(vnl), std::string::npos) << e.what();
        }
    }
}

TEST(UdpVnl, SplitRefusesNestedBrackets) {
    // The splitter itself refuses them (before any resolver call): found by fuzz_udpvnl.
    for (const char* rest : {"5000->[[::1]:5001", "[[::1]]:5000->[::1]:5001", "5000->[::1]]:5001"}) {
        try {
            (void)split_udp_vnl("udp://x", rest);
            ADD_FAILURE() << rest << ": accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code().value(), EINVAL) << rest;
        }
    }
}

}  // namespace
