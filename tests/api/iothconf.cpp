// iothconf.cpp - libiothconf's C API (include/iothconf.h) on real stacks:
// ioth_newstackc + DHCP from dnsmasq on one of our stacks (configured by
// its helper), the kernel stack of the test's own namespace configured in
// process over a veth pair to dnsmasq, static data and resolv.conf, the
// debug output, and every bad input: -1/NULL with errno and a message in
// ioth_last_error(), and nothing left behind.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "iothconf.h"
#include "support/dnsmasq.hpp"
#include "support/proc.hpp"
#include "support/tempdir.hpp"
#include "vdestack/stack.hpp"

namespace {

// The IPv4 addresses of `ifname` in a stack, as "A/LEN" items.
std::string ipv4_of(struct ioth* s, const char* ifname) {
    struct ifaddrs* list = nullptr;
    if (ioth_getifaddrs(s, &list) != 0) return "getifaddrs failed";
    std::string out;
    for (struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || std::strcmp(i->ifa_name, ifname) != 0)
            continue;
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, a, sizeof a);
        const std::uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr);
        out += std::string(out.empty() ? "" : " ") + a + "/" + std::to_string(__builtin_popcount(mask));
    }
    ioth_freeifaddrs(list);
    return out;
}

// ioth_resolvconf's text, "NULL/<errno>" when it gives none.
std::string resolvconf(struct ioth* s, const char* config) {
    errno = 1234;
    std::unique_ptr<char, decltype(&std::free)> t(ioth_resolvconf(s, config), &std::free);
    if (!t) return "NULL/" + std::to_string(errno);
    return t.get();
}

// Whether a TCP connection from stack `from` reaches addr:7777 on `to`.
bool tcp_reaches(struct ioth* from, vde::Stack& to, const std::string& addr) {
    vde::Socket l = to.socket(AF_INET, SOCK_STREAM);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(7777);
    inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l.get(), 1) != 0) return false;
    const int c = ioth_msocket(from, AF_INET, SOCK_STREAM, 0);
    const bool ok = ioth_connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ioth_close(c);
    return ok;
}

class IothConf : public ::testing::Test {
protected:
    void SetUp() override {
        if (!vdetest::have_dnsmasq()) GTEST_SKIP() << "no /usr/sbin/dnsmasq (dnsmasq-base)";
    }
    vdetest::TempDir dir;
};

TEST_F(IothConf, NewstackcGetsADhcpLeaseOnOurStack) {
    vde::Stack server("vxvde://234.0.0.1");
    vdetest::StackDnsmasq dnsmasq(server, {}, dir.path);
    struct ioth* s = ioth_newstackc("stack=vdestack,vnl=vxvde://234.0.0.1,eth,dhcp");
    ASSERT_NE(s, nullptr) << ioth_last_error();
    const std::string addr = ipv4_of(s, "vde0");
    ASSERT_EQ(addr.rfind("10.0.9.5", 0), 0u) << addr;  // in dnsmasq's range .50-.59
    EXPECT_EQ(addr.substr(addr.find('/')), "/24");
    EXPECT_NE(dnsmasq.log().find("DHCPACK(vde0) " + addr.substr(0, addr.find('/'))), std::string::npos);
    EXPECT_TRUE(tcp_reaches(s, server, "10.0.9.1"));  // over the default route's interface

    EXPECT_EQ(resolvconf(s, nullptr), "search test.lan a.lan b.lan\nnameserver 10.0.9.1\nnameserver 10.0.9.2\n");
    EXPECT_EQ(resolvconf(s, "iface=vde0"), "NULL/0");  // unchanged since

    // Static data merges: the mask says static, resolv.conf has both.
    testing::internal::CaptureStderr();
    EXPECT_EQ(ioth_config(s, "ip=10.0.9.200/24,dns=10.0.9.254,domain=static.lan,debug"), IOTHCONF_STATIC);
    const std::string debug = testing::internal::GetCapturedStderr();
    EXPECT_NE(debug.find("10.0.9.200/24"), std::string::npos) << debug;  // "debug" prints the state
    EXPECT_EQ(resolvconf(s, ""),
              "search static.lan test.lan a.lan b.lan\nnameserver 10.0.9.254\nnameserver 10.0.9.1\nnameserver "
              "10.0.9.2\n");
    EXPECT_NE(ipv4_of(s, "vde0").find("10.0.9.200/24"), std::string::npos);
    EXPECT_EQ(ioth_config(s, "-dhcp"), 0);
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq.count("DHCPRELEASE(vde0)") == 1; }, 5));
    EXPECT_EQ(ipv4_of(s, "vde0"), "10.0.9.200/24");
    EXPECT_EQ(ioth_config(s, "-ip=10.0.9.200"), IOTHCONF_STATIC);  // removal: any length
    EXPECT_EQ(ipv4_of(s, "vde0"), "");
    EXPECT_EQ(ioth_delstack(s), 0);
}

TEST_F(IothConf, TheKernelStackIsConfiguredInProcess) {
    // kv0 in the test's own namespace, its veth peer kv1 with dnsmasq in another.
    vdetest::NetnsHolder peer;
    ASSERT_EQ(std::system(("ip link add kv0 type veth peer name kv1 netns " + std::to_string(peer.pid())).c_str()),
              0);
    vdetest::Dnsmasq dnsmasq(peer.fd(), "kv1", {}, dir.path, "ip addr add 10.0.9.1/24 dev kv1 && ip link set kv1 up");
    const int fds = vdetest::quiet_fds();
    struct ioth* k = ioth_newstack("kernel", nullptr);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(ioth_config(k, "iface=kv0,eth,dhcp"), IOTHCONF_ETH | IOTHCONF_DHCP) << ioth_last_error();
    const std::string addr = ipv4_of(k, "kv0");
    EXPECT_EQ(addr.rfind("10.0.9.5", 0), 0u) << addr;
    EXPECT_EQ(resolvconf(k, "iface=kv0"), "search test.lan a.lan b.lan\nnameserver 10.0.9.1\nnameserver 10.0.9.2\n");
    // The lease's default route, in this very namespace.
    ASSERT_EQ(std::system("ip route show default | grep -q 'default via 10.0.9.1 dev kv0'"), 0);
    EXPECT_EQ(ioth_config(k, "iface=kv0,-dhcp"), 0);
    EXPECT_TRUE(vdetest::eventually([&] { return dnsmasq.count("DHCPRELEASE(kv1)") == 1; }, 5));
    EXPECT_EQ(ipv4_of(k, "kv0"), "");
    EXPECT_EQ(ioth_delstack(k), 0);  // no socket of the configuration left open
    EXPECT_EQ(vdetest::settled(vdetest::count_fds, fds), fds);
}

TEST(IothConfErrors, AreMinusOneOrNullWithErrnoAndAMessage) {
    struct ioth* s = ioth_newstack("vdestack", "null://");
    ASSERT_NE(s, nullptr);
    struct Case {
        const char* config;
        int err;
        const char* says;
    };
    for (const Case& c : {Case{"eth,frobnicate", EINVAL, "unknown option frobnicate"},
                          Case{"ip=10.0.0.300/24", EINVAL, "not an IPv4 or IPv6 address"},
                          Case{"ip=10.0.0.1/40", EINVAL, "bad prefix length"}, Case{"ip=", EINVAL, "needs a value"},
                          Case{"ip=10.0.0.1", EINVAL, "no prefix length (e.g. ip=10.0.0.1/24)"},
                          Case{"stack=kernel", EINVAL, "ioth_newstackc only"},
                          Case{"eth,iface=nosuch0", ENODEV, "no interface nosuch0"}}) {
        errno = 0;
        EXPECT_EQ(ioth_config(s, c.config), -1) << c.config;
        EXPECT_EQ(errno, c.err) << c.config;
        EXPECT_NE(std::string(ioth_last_error()).find(c.says), std::string::npos)
            << c.config << ": " << ioth_last_error();
    }
    errno = 0;
    EXPECT_EQ(ioth_config(nullptr, "eth"), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(ioth_config(s, nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(resolvconf(s, "eth"), "NULL/" + std::to_string(EINVAL));
    EXPECT_NE(std::string(ioth_last_error()).find("ioth_resolvconf: unknown option eth"), std::string::npos);
    EXPECT_EQ(resolvconf(s, "iface=nosuch0"), "NULL/" + std::to_string(ENODEV));
    EXPECT_EQ(resolvconf(nullptr, ""), "NULL/" + std::to_string(EINVAL));
    // Nothing asked: nothing done, and no interface needed.
    EXPECT_EQ(ioth_config(s, ""), 0);
    EXPECT_EQ(ioth_delstack(s), 0);

    // A DHCP server that never answers: a bounded wait, the stack kept,
    // errno and the message say why.
    errno = 0;
    struct ioth* t = ioth_newstackc("stack=vdestack,vnl=null://,eth,dhcp,timeout=1");
    ASSERT_NE(t, nullptr) << ioth_last_error();
    EXPECT_EQ(errno, ETIMEDOUT);
    EXPECT_NE(std::string(ioth_last_error()).find("no DHCP server answered"), std::string::npos)
        << ioth_last_error();
    EXPECT_EQ(ioth_delstack(t), 0);

    // ioth_newstackc: a bad string makes no stack; a failing step deletes it.
    EXPECT_EQ(ioth_newstackc("stack=vdestack,vnl=null://,eth,frob"), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(ioth_newstackc("stack=nosuchstack"), nullptr);
    EXPECT_EQ(errno, ENOTSUP);
    EXPECT_EQ(ioth_newstackc("stack=vdestack,vnl=nosuch://x"), nullptr);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    const int children = vdetest::count_children();
    EXPECT_EQ(ioth_newstackc("stack=vdestack,vnl=null://,eth,iface=nosuch0"), nullptr);
    EXPECT_EQ(errno, ENODEV);
    EXPECT_EQ(vdetest::settled(vdetest::count_children, children), children);
    // No stack= is the kernel's, as iothconf; it has no vde0 to configure.
    EXPECT_EQ(ioth_newstackc("eth"), nullptr);
    EXPECT_EQ(errno, ENODEV);
    struct ioth* k = ioth_newstackc("");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(ioth_delstack(k), 0);
}

}  // namespace
