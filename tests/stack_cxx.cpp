// stack_cxx.cpp - the C++ API (vde::Stack): ownership, move semantics,
// errors that carry their context, the error_code overloads, and TCP between
// two C++ stacks over vxvde.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstring>
#include <string>
#include <thread>

#include "stack_util.hpp"
#include "vdestack/stack.hpp"

using namespace testutil;
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
    EXPECT_EQ(count_children(), 0) << "a failed construction leaves no helper behind";
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
        EXPECT_EQ(count_children(), 1);
    }
    EXPECT_EQ(count_children(), 0);
    EXPECT_EQ(count_fds(), fds);
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
    EXPECT_EQ(count_children(), 0);
}
