// dhcp.cpp - our DHCPv4 client against a real server: dnsmasq (Debian's
// dnsmasq-base) running in a second stack's namespace on the same VDE
// network. The lease, its default route, DNS servers and domains, the
// resolv.conf text, reachability at the leased address, renewal by the
// helper with short T1/T2, the merge with static data, and a network with
// no server (a bounded wait, then ETIMEDOUT).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/dnsmasq.hpp"
#include "support/proc.hpp"
#include "support/stack_output.hpp"
#include "support/tempdir.hpp"
#include "vdestack/stack.hpp"

namespace {

using vdetest::have_dnsmasq;

using Dnsmasq = vdetest::StackDnsmasq;

using vdetest::output_of;

// Whether `from` reaches to_addr over TCP, where `to` listens.
bool tcp_reaches(vde::Stack& from, vde::Stack& to, const char* to_addr) {
    vde::Socket l = to.socket(AF_INET, SOCK_STREAM);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(7777);
    inet_pton(AF_INET, to_addr, &a.sin_addr);
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l.get(), 1) != 0) return false;
    vde::Socket c = from.socket(AF_INET, SOCK_STREAM);
    return ::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

class Dhcp : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_dnsmasq()) GTEST_SKIP() << "no /usr/sbin/dnsmasq (dnsmasq-base)";
    }
    vdetest::TempDir dir;
};

TEST_F(Dhcp, GetsALeaseWithRouteDnsAndDomainsFromDnsmasq) {
    vde::Stack server("vxvde://234.0.0.1");
    Dnsmasq dnsmasq(server, {}, dir.path);
    vde::Stack client("vxvde://234.0.0.1");
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = client.configure("eth,dhcp");
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    ASSERT_EQ(r.mask, 2u | 4u) << r.message;  // IOTHCONF_ETH | IOTHCONF_DHCP
    EXPECT_FALSE(r.error) << r.message;
    const std::string lease = client.dhcp_lease();
    std::cout << "lease after " << ms.count() << " ms: " << lease << "\n";
    EXPECT_NE(lease.find("ip=10.0.9.5"), std::string::npos) << lease;
    EXPECT_NE(lease.find("/24,gw=10.0.9.1,dns=10.0.9.1,dns=10.0.9.2"), std::string::npos) << lease;
    EXPECT_NE(lease.find("lease=120"), std::string::npos) << lease;

    // The address is the stack's, the default route goes to the router.
    const std::string ip = lease.substr(3, lease.find('/') - 3);
    EXPECT_NE(output_of(client, "/bin/busybox ip -4 addr show dev vde0", dir.path).find("inet " + ip + "/24"),
              std::string::npos);
    EXPECT_NE(output_of(client, "/bin/busybox ip route", dir.path).find("default via 10.0.9.1 dev vde0"),
              std::string::npos);
    EXPECT_TRUE(tcp_reaches(server, client, ip.c_str()));

    // resolv.conf: the domains (option 15, then 119), the servers; then unchanged.
    auto rc = client.resolvconf();
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, "search test.lan a.lan b.lan\nnameserver 10.0.9.1\nnameserver 10.0.9.2\n");
    EXPECT_FALSE(client.resolvconf().has_value());
    EXPECT_NE(dnsmasq.log().find("DHCPACK(vde0) " + ip), std::string::npos);
}

TEST_F(Dhcp, TheHelperRenewsTheLeaseAtT1) {
    vde::Stack server("vxvde://234.0.0.1");
    Dnsmasq dnsmasq(server, {"--dhcp-option=option:T1,4", "--dhcp-option=option:T2,100"}, dir.path);
    vde::Stack client("vxvde://234.0.0.1");
    ASSERT_EQ(client.configure("eth,dhcp").mask, 6u);
    EXPECT_NE(client.dhcp_lease().find("t1=4,"), std::string::npos) << client.dhcp_lease();
    // Renewed every 4 s (a unicast REQUEST, each ACKed): two renewals within 12 s.
    EXPECT_TRUE(vdetest::eventually(
        [&] { return client.dhcp_lease().find("renewals=2") != std::string::npos; }, 12))
        << client.dhcp_lease();
    EXPECT_GE(dnsmasq.count("DHCPACK(vde0)"), 3);
    EXPECT_GE(dnsmasq.count("DHCPREQUEST(vde0)"), 3);
}

TEST_F(Dhcp, StaticDataMergesWithTheLease) {
    vde::Stack server("vxvde://234.0.0.1");
    Dnsmasq dnsmasq(server, {}, dir.path);
    vde::Stack client("vxvde://234.0.0.1");
    ASSERT_EQ(client.configure("eth,dhcp").mask, 6u);
    ASSERT_EQ(client.configure("ip=10.0.9.200/24,dns=10.0.9.254,domain=static.lan").mask, 1u);
    EXPECT_EQ(*client.resolvconf(),
              "search static.lan test.lan a.lan b.lan\nnameserver 10.0.9.254\nnameserver 10.0.9.1\nnameserver 10.0.9.2\n");
    EXPECT_NE(output_of(client, "/bin/busybox ip -4 addr show dev vde0", dir.path).find("inet 10.0.9.200/24"),
              std::string::npos);
    // Undoing the static source leaves the lease's data alone.
    ASSERT_EQ(client.configure("-static").mask, 0u);
    EXPECT_EQ(*client.resolvconf(), "search test.lan a.lan b.lan\nnameserver 10.0.9.1\nnameserver 10.0.9.2\n");
    EXPECT_EQ(output_of(client, "/bin/busybox ip -4 addr show dev vde0", dir.path).find("inet 10.0.9.200/24"),
              std::string::npos);
    EXPECT_NE(output_of(client, "/bin/busybox ip route", dir.path).find("default via 10.0.9.1 dev vde0"),
              std::string::npos);
    // And undoing DHCP gives the lease back.
    client.configure("-dhcp");
    EXPECT_EQ(client.dhcp_lease(), "");
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq.count("DHCPRELEASE(vde0)") == 1; }, 5));
}

TEST_F(Dhcp, DeletingTheStackGivesTheLeaseBack) {
    vde::Stack server("vxvde://234.0.0.1");
    Dnsmasq dnsmasq(server, {}, dir.path);
    for (int i = 0; i < 3; i++) {  // the release is out before the stack's forwarding stops
        vde::Stack client("vxvde://234.0.0.1");
        ASSERT_EQ(client.configure("eth,dhcp").mask, 6u);
    }
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq.count("DHCPRELEASE(vde0)") == 3; }, 5)) << dnsmasq.log();
}

TEST(DhcpNoServer, WaitsBoundedThenSaysSo) {
    vde::Stack client("vxvde://234.0.0.1");
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = client.configure("eth,dhcp,timeout=2");
    const auto s = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(r.mask, 2u);  // eth only
    EXPECT_EQ(r.error, std::errc::timed_out);
    EXPECT_NE(r.message.find("no DHCP server answered"), std::string::npos) << r.message;
    EXPECT_GE(s.count(), 1900);
    EXPECT_LT(s.count(), 4000);
    EXPECT_EQ(client.dhcp_lease(), "");
}

TEST(DhcpBadInput, IsRefusedWithEinval) {
    vde::Stack client("vxvde://234.0.0.1");
    for (const char* bad : {"eth,frobnicate", "ip=10.0.0.300/24", "ip=10.0.0.1/33", "mac=01:02", "timeout=0",
                            "stack=kernel", "gw=10.0.0.1/24", "ip=", "\"unterminated"}) {
        try {
            client.configure(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const vde::Error& e) {
            EXPECT_EQ(e.errno_value(), EINVAL) << bad << ": " << e.what();
        }
    }
    try {
        client.configure("eth,iface=nosuch0");
        ADD_FAILURE() << "iface=nosuch0 was accepted";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), ENODEV) << e.what();
    }
}

}  // namespace
