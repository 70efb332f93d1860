// stack_cxx.cpp - the C++ API (vde::Stack): ownership, move semantics,
// errors that carry their context, the error_code overloads, and TCP between
// two C++ stacks over vxvde.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <fcntl.h>

#include <cstring>
#include <string>
#include <thread>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack/stack.hpp"

using namespace vdetest;
using ::testing::HasSubstr;

namespace {
constexpr const char* kVnl = "vxvde://234.0.0.1";

vde::Stack configured(const std::string& a4) {
    vde::Stack s(kVnl);
    EXPECT_EQ(s.run("/bin/ip addr add " + a4 + " dev vde0; /bin/ip link set vde0 up"), 0);
    return s;
}
}  // namespace

TEST(CxxApi, ErrorsNameTheCallAndTheVnl) {
    try {
        vde::Stack s("nosuch://x");
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EPROTONOSUPPORT);
        EXPECT_EQ(e.code(), std::errc::protocol_not_supported);
        EXPECT_THAT(e.what(), HasSubstr("vde_addstack(nosuch://x)"));
        EXPECT_THAT(e.what(), HasSubstr("nosuch"));
    }
    try {
        vde::Stack s("vxvde://234.0.0.1/bogus=1");
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EINVAL);
        EXPECT_THAT(e.what(), HasSubstr("vxvde://234.0.0.1/bogus=1"));
        EXPECT_THAT(e.what(), HasSubstr("bogus"));
    }
    try {
        vde::Stack s(kVnl, vde::StackOptions{"no/slash"});
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EINVAL);
        EXPECT_THAT(e.what(), HasSubstr("no/slash"));
    }
    EXPECT_EQ(settled(count_children, 0), 0) << "a failed construction leaves no helper behind";
}

TEST(CxxApi, SocketErrorsThrowOrFillErrorCode) {
    vde::Stack s("null://");
    std::error_code ec;
    vde::Socket bad = s.socket(-1, SOCK_STREAM, 0, ec);
    EXPECT_FALSE(bad);
    EXPECT_EQ(ec.value(), EAFNOSUPPORT);
    try {
        (void)s.socket(-1, SOCK_STREAM);
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EAFNOSUPPORT);
        EXPECT_THAT(e.what(), HasSubstr("vde_msocket(null://)"));
    }
}

TEST(CxxApi, MoveTransfersOwnership) {
    ASSERT_TRUE(helper_gone());
    int fds = count_fds();
    {
        vde::Stack a(kVnl, vde::StackOptions{"eth7"});
        EXPECT_EQ(a.ifname(), "eth7");
        vde::Stack b(std::move(a));
        EXPECT_EQ(b.vnl(), kVnl);
        EXPECT_EQ(b.run("/bin/ip link show eth7"), 0);
        EXPECT_THROW((void)a.run("/bin/true"), vde::Error);  // moved-from: a clear error, no crash
        vde::Stack c("null://");
        c = std::move(b);  // the null stack is deleted, c now owns eth7
        EXPECT_EQ(c.run("/bin/ip link show eth7"), 0);
        vde::Socket sock = c.socket(AF_INET, SOCK_DGRAM);
        EXPECT_TRUE(sock);
        EXPECT_EQ(settled(count_helpers, 1), 1);
    }
    EXPECT_TRUE(helper_gone());
    EXPECT_EQ(settled(count_fds, fds), fds);
}

TEST(CxxApi, TcpBetweenTwoStacks) {
    vde::Stack srv = configured("10.0.0.2/24");
    vde::Stack cli = configured("10.0.0.1/24");
    vde::Socket l = srv.socket(AF_INET, SOCK_STREAM);
    socklen_t len;
    sockaddr_storage a = make_addr("10.0.0.2", 8000, len);
    ASSERT_EQ(bind(l.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
    ASSERT_EQ(listen(l.get(), 4), 0);
    vde::Socket c;
    ASSERT_TRUE(eventually([&] {
        c = cli.socket(AF_INET, SOCK_STREAM);
        return connect(c.get(), reinterpret_cast<sockaddr*>(&a), len) == 0;
    }));
    vde::Socket acc(accept(l.get(), nullptr, nullptr));
    ASSERT_TRUE(acc);
    ASSERT_TRUE(write_all(c.get(), "over vxvde"));
    EXPECT_EQ(read_n(acc.get(), 10), "over vxvde");
}

TEST(CxxApi, StacksFromManyThreads) {
    // Stacks made and used concurrently from several threads share one helper.
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&] {
            for (int i = 0; i < 5; i++) {
                vde::Stack s(kVnl);
                if (s.run("/bin/true") == 0 && s.socket(AF_INET6, SOCK_STREAM)) ok++;
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(ok.load(), 20);
    EXPECT_EQ(settled(count_children, 0), 0);
}

namespace {
// Runs `ip ARGS` inside the stack and returns its output.
std::string ip_in(vde::Stack& s, const std::string& args) {
    int p[2];
    if (pipe(p) != 0) return {};
    int saved = dup(1);
    dup2(p[1], 1);
    close(p[1]);
    (void)s.run("/bin/ip " + args);
    dup2(saved, 1);
    close(saved);
    std::string out;
    char buf[4096];
    ssize_t n;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(p[0]);
    return out;
}
}  // namespace

TEST(CxxConfig, NetlinkConfigurationSeenByTheKernel) {
    vde::Stack s(kVnl);
    EXPECT_GT(s.if_index(), 0u);
    s.set_mtu(1400);
    s.set_mac({0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc});
    s.link_up();
    s.link_up("lo");
    s.add_address("10.0.0.9/24");
    s.add_address("fc00::1:9/64", {}, true);
    s.add_route("default", "10.0.0.254");
    s.add_route("10.9.0.0/16", "10.0.0.253");
    s.add_route("default", "fc00::1:fe");
    std::string link = ip_in(s, "-o link show vde0");
    EXPECT_THAT(link, HasSubstr("mtu 1400"));
    EXPECT_THAT(link, HasSubstr("02:00:00:aa:bb:cc"));
    EXPECT_THAT(link, HasSubstr("UP"));
    auto mac = s.mac();
    EXPECT_EQ(mac[5], 0xcc);
    std::string addrs = ip_in(s, "-o addr show dev vde0");
    EXPECT_THAT(addrs, HasSubstr("10.0.0.9/24"));
    EXPECT_THAT(addrs, HasSubstr("fc00::1:9/64"));
    std::string v6 = ip_in(s, "-o addr show dev vde0 to fc00::1:9");
    EXPECT_THAT(v6, HasSubstr("fc00::1:9/64"));
    EXPECT_THAT(v6, ::testing::Not(HasSubstr("tentative"))) << "nodad: usable at once";
    EXPECT_THAT(ip_in(s, "route"), HasSubstr("default via 10.0.0.254"));
    EXPECT_THAT(ip_in(s, "route"), HasSubstr("10.9.0.0/16 via 10.0.0.253"));
    EXPECT_THAT(ip_in(s, "-6 route"), HasSubstr("default via fc00::1:fe"));
    s.del_route("10.9.0.0/16", "10.0.0.253");
    s.del_address("10.0.0.9/24");
    EXPECT_THAT(ip_in(s, "route"), ::testing::Not(HasSubstr("10.9.0.0")));
    EXPECT_THAT(ip_in(s, "-o addr show dev vde0"), ::testing::Not(HasSubstr("10.0.0.9")));
    s.link_down();
    EXPECT_THAT(ip_in(s, "-o link show vde0"), ::testing::Not(HasSubstr(",UP")));
}

TEST(CxxConfig, MtuOption) {
    vde::StackOptions o;
    o.mtu = 9000;
    vde::Stack s(kVnl, o);
    EXPECT_THAT(ip_in(s, "-o link show vde0"), HasSubstr("mtu 9000"));
    o.mtu = 9217;  // beyond what a VDE frame carries
    EXPECT_THROW(vde::Stack(kVnl, o), vde::Error);
}

TEST(CxxConfig, ErrorsSayWhatFailed) {
    vde::Stack s(kVnl);
    s.add_address("10.0.0.9/24");
    try {
        s.add_address("10.0.0.9/24");
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EEXIST);
        EXPECT_THAT(e.what(), HasSubstr("add address 10.0.0.9/24 to vde0"));
        EXPECT_THAT(e.what(), HasSubstr(kVnl));
    }
    try {
        s.link_up("nosuch0");
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), ENODEV);
        EXPECT_THAT(e.what(), HasSubstr("nosuch0"));
    }
    EXPECT_THROW(s.add_address("10.0.0.300/24"), vde::Error);
    EXPECT_THROW(s.add_address("10.0.0.1/33"), vde::Error);
    EXPECT_THROW(s.add_route("default", "fc00::1"), vde::Error);  // family of the default follows the gateway: no v6 route
    try {
        s.del_address("10.0.0.77/24");
        FAIL() << "no exception";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EADDRNOTAVAIL);
    }
    int fds = quiet_fds();
    for (int i = 0; i < 200; i++) EXPECT_GT(s.if_index(), 0u);
    EXPECT_EQ(settled(count_fds, fds), fds) << "no netlink socket leaked";
}

TEST(CxxConfig, TwoNetlinkConfiguredStacksTalk) {
    vde::Stack a(kVnl), b(kVnl);
    for (auto* s : {&a, &b}) s->link_up();
    a.add_address("fc00::1:1/64", {}, true);
    b.add_address("fc00::1:2/64", {}, true);
    vde::Socket l = b.socket(AF_INET6, SOCK_STREAM);
    socklen_t len;
    sockaddr_storage addr = make_addr("fc00::1:2", 8100, len);
    ASSERT_EQ(bind(l.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(listen(l.get(), 1), 0);
    vde::Socket c;
    ASSERT_TRUE(eventually([&] {
        c = a.socket(AF_INET6, SOCK_STREAM);
        return connect(c.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0;
    }));
}

TEST(CxxApi, LinkStatusReportsAGoneSwitch) {
    char dir[] = "/tmp/vdestack-ls-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string sw = std::string(dir) + "/sw";
    auto sw_stack = std::make_unique<vde::Stack>("switch://" + sw);
    vde::Stack s("vde://" + sw);
    EXPECT_FALSE(s.link_status()) << s.link_status().message();
    EXPECT_FALSE(sw_stack->link_status());
    sw_stack.reset();  // the switch goes away
    EXPECT_TRUE(eventually([&] { return static_cast<bool>(s.link_status()); }))
        << "a dead link must be reported";
    std::printf("link status after the switch went away: %s\n", s.link_status().message().c_str());
    EXPECT_EQ(s.run("/bin/true"), 0) << "the stack itself lives on";
    rmdir(sw.c_str());
    rmdir(dir);
}

namespace {
TEST(CxxApi, AddInterfaceGivesTheStackAnotherNetwork) {
    vde::Stack s("vxvde://234.0.0.14");
    s.add_interface("vxvde://234.0.0.15", "eth1");
    EXPECT_GT(s.if_index("eth1"), 0u);
    EXPECT_GT(s.if_index(), 0u);  // vde0 is still there
    try {
        s.add_interface("null://", "eth1");
        ADD_FAILURE() << "a second eth1";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EEXIST) << e.what();
    }
    try {
        s.add_interface("null://", "no/slash");
        ADD_FAILURE() << "a bad name";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EINVAL) << e.what();
    }
    try {
        s.add_interface("nosuchscheme://x", "eth2");
        ADD_FAILURE() << "an unknown scheme";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EPROTONOSUPPORT) << e.what();
        EXPECT_NE(std::string(e.what()).find("nosuchscheme"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)s.if_index("eth2"), vde::Error);
}
}  // namespace
