// dhcp6.cpp - our IPv6 clients against a real server: dnsmasq (Debian's
// dnsmasq-base) sending router advertisements (prefix fc00::/64 with
// SLAAC, RDNSS, DNSSL) and serving DHCPv6 addresses, in a second stack's
// namespace on the same VDE network. Router discovery (the default route
// via the router, RDNSS/DNSSL in resolv.conf, SLAAC addresses: the MAC's
// EUI-64 and the name's hash), DHCPv6 (the lease, its /128 address, DNS
// and domains, reachability, release), and no router: a bounded wait.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "conf/hash.hpp"
#include "support/dnsmasq.hpp"
#include "support/proc.hpp"
#include "support/stack_output.hpp"
#include "support/tempdir.hpp"
#include "vdestack/stack.hpp"

namespace {

using vdetest::output_of;

std::string v6(const std::array<std::uint8_t, 16>& a) {
    char b[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.data(), b, sizeof b);
    return b;
}

class Dhcp6 : public ::testing::Test {
protected:
    void SetUp() override {
        if (!vdetest::have_dnsmasq()) GTEST_SKIP() << "no /usr/sbin/dnsmasq (dnsmasq-base)";
        server_.add_address("fc00::1:1/64", "", true);
        dnsmasq_ = std::make_unique<vdetest::StackDnsmasq>(
            server_,
            std::vector<std::string>{"--enable-ra", "--dhcp-range=fc00::1:50,fc00::1:59,slaac,64,2m",
                                     "--dhcp-option=option6:dns-server,[fc00::1:1]",
                                     "--dhcp-option=option6:domain-search,six.lan"},
            dir_.path);
        ASSERT_TRUE(vdetest::eventually([&] { return dnsmasq_->log().find("DHCPv6, IP range") != std::string::npos; }, 5))
            << dnsmasq_->log();
    }
    vdetest::TempDir dir_;
    vde::Stack server_{"vxvde://234.0.0.1"};
    std::unique_ptr<vdetest::StackDnsmasq> dnsmasq_;
};

TEST_F(Dhcp6, RouterDiscoveryGivesTheRouteDnsAndSlaacAddresses) {
    vde::Stack client("vxvde://234.0.0.1");
    const auto r = client.configure("eth,rd,slaac,fqdn=host.six.lan");
    ASSERT_EQ(r.mask, 2u | 16u) << r.message;  // IOTHCONF_ETH | IOTHCONF_RD
    // The address of the name (hash_addr6 over the prefix) and the route via
    // the router's link-local address.
    std::array<std::uint8_t, 16> hashed{};
    inet_pton(AF_INET6, "fc00::", hashed.data());
    vdestack::conf::hash_addr6(hashed, "host.six.lan");
    const std::string addrs = output_of(client, "/bin/busybox ip -6 addr show dev vde0", dir_.path);
    EXPECT_NE(addrs.find("inet6 " + v6(hashed) + "/64"), std::string::npos) << addrs;
    const std::string routes = output_of(client, "/bin/busybox ip -6 route", dir_.path);
    EXPECT_NE(routes.find("default via fe80::"), std::string::npos) << routes;
    auto rc = client.resolvconf();
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, "search six.lan\nnameserver fc00::1:1\n");

    // Without a name: the MAC's EUI-64 (which the kernel also makes).
    vde::Stack other("vxvde://234.0.0.1");
    ASSERT_EQ(other.configure("eth,rd,slaac").mask, 18u);
    std::array<std::uint8_t, 16> prefix{};
    inet_pton(AF_INET6, "fc00::", prefix.data());
    const std::string eui = v6(vdestack::conf::eui64(prefix, other.mac()));
    EXPECT_NE(output_of(other, "/bin/busybox ip -6 addr show dev vde0", dir_.path).find("inet6 " + eui + "/64"),
              std::string::npos);
}

TEST_F(Dhcp6, Dhcp6GetsAnAddressDnsAndDomainsFromDnsmasq) {
    vde::Stack client("vxvde://234.0.0.1");
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = client.configure("eth,dhcp6,rd,fqdn=six.six.lan");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    ASSERT_EQ(r.mask, 2u | 8u | 16u) << r.message;  // ETH | DHCPV6 | RD
    const std::string lease = client.dhcp6_lease();
    std::cout << "eth,dhcp6,rd in " << ms.count() << " ms: " << lease << "\n";
    ASSERT_EQ(lease.rfind("ip=fc00::1:5", 0), 0u) << lease;
    EXPECT_NE(lease.find("/128,dns=fc00::1:1,domain=six.lan,valid=120"), std::string::npos) << lease;
    const std::string ip = lease.substr(3, lease.find('/') - 3);
    EXPECT_NE(output_of(client, "/bin/busybox ip -6 addr show dev vde0", dir_.path).find("inet6 " + ip + "/128"),
              std::string::npos);
    EXPECT_NE(dnsmasq_->log().find("DHCPREPLY(vde0) " + ip), std::string::npos) << dnsmasq_->log();
    EXPECT_EQ(*client.resolvconf(), "search six.lan\nnameserver fc00::1:1\n");  // DHCPv6's and the RA's, once

    // Reachable at the leased address.
    vde::Socket l = client.socket(AF_INET6, SOCK_STREAM);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(7777);
    inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr);
    ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(l.get(), 1), 0);
    vde::Socket c = server_.socket(AF_INET6, SOCK_STREAM);
    EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

    // -dhcp6 gives it back.
    client.configure("-dhcp6");
    EXPECT_EQ(client.dhcp6_lease(), "");
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq_->count("DHCPRELEASE(vde0)") == 1; }, 5)) << dnsmasq_->log();
    EXPECT_EQ(output_of(client, "/bin/busybox ip -6 addr show dev vde0", dir_.path).find("inet6 " + ip + "/128"),
              std::string::npos);
}

TEST_F(Dhcp6, DeletingTheStackGivesBothLeasesBack) {
    {
        vde::Stack client("vxvde://234.0.0.1");
        ASSERT_EQ(client.configure("eth,dhcp6,dhcp").mask, 2u | 8u | 4u);
    }
    // dnsmasq logs a DHCPv4 and a DHCPv6 release alike.
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq_->count("DHCPRELEASE(vde0)") == 2; }, 5)) << dnsmasq_->log();
}

// dnsmasq's shortest lease is 2 minutes, so its T1 is 60 s: the one slow
// test of the suite, for a renewal seen by the server.
TEST_F(Dhcp6, TheHelperRenewsTheDhcp6LeaseAtT1) {
    vde::Stack client("vxvde://234.0.0.1");
    ASSERT_EQ(client.configure("eth,dhcp6").mask, 2u | 8u);
    const std::string first = client.dhcp6_lease();
    ASSERT_NE(first.find("t1=60,"), std::string::npos) << first;
    EXPECT_TRUE(vdetest::eventually(
        [&] { return client.dhcp6_lease().find("renewals=1") != std::string::npos; }, 75))
        << client.dhcp6_lease();
    EXPECT_GE(dnsmasq_->count("DHCPRENEW(vde0)"), 1) << dnsmasq_->log();
    // The same address, kept.
    EXPECT_EQ(client.dhcp6_lease().substr(0, first.find('/')), first.substr(0, first.find('/')));
}

TEST(Dhcp6NoServer, RouterDiscoveryAndDhcp6WaitBoundedThenSaySo) {
    vde::Stack client("vxvde://234.0.0.1");
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = client.configure("eth,rd,dhcp6,timeout=2");
    const auto s = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(r.mask, 2u);  // eth only
    EXPECT_EQ(r.error, std::errc::timed_out);
    EXPECT_NE(r.message.find("no router advertised"), std::string::npos) << r.message;
    EXPECT_GE(s.count(), 3800);  // 2 s each
    EXPECT_LT(s.count(), 7000);
    EXPECT_EQ(client.dhcp6_lease(), "");
}

}  // namespace
