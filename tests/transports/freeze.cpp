// freeze.cpp - the engine's freeze of a stack (Engine::freeze, reached as
// the helper's Freeze request), the packet lock of a move: while a stack is
// frozen no frame leaves it or enters it, whether its peer is a stack of the
// same process (the local fabric) or the network (VDESTACK_FABRIC=0); after
// the thaw a TCP connection across the freeze goes on, nothing lost.
// ctest runs each test in its own process (so each has its own helper with
// its own settings).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "client/client.hpp"
#include "vdestack/stack.hpp"

namespace {

using vde::detail::StackAccess;

bool readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
}

std::string read_n(int fd, std::size_t n) {
    std::string out;
    char buf[4096];
    while (out.size() < n && readable(fd, 5000)) {
        const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

void freeze_and_thaw() {
    ASSERT_EQ(::setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0);
    vde::Stack a("vxvde://234.0.0.1"), b("vxvde://234.0.0.1");
    a.add_address("10.0.0.1/24");
    a.link_up();
    b.add_address("10.0.0.2/24");
    b.link_up();
    vde::Socket l = b.socket(AF_INET, SOCK_STREAM);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(7001);
    inet_pton(AF_INET, "10.0.0.2", &addr.sin_addr);
    ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(l.get(), 1), 0);
    vde::Socket c = a.socket(AF_INET, SOCK_STREAM);
    ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    vde::Socket s(::accept(l.get(), nullptr, nullptr));
    ASSERT_TRUE(s);

    StackAccess::freeze(a, true);
    ASSERT_EQ(::send(s.get(), "from b", 6, 0), 6);
    ASSERT_EQ(::send(c.get(), "from a", 6, 0), 6);
    EXPECT_FALSE(readable(c.get(), 400)) << "a frame entered a frozen stack";
    EXPECT_FALSE(readable(s.get(), 100)) << "a frame left a frozen stack";
    StackAccess::freeze(a, true);  // again: no change

    StackAccess::freeze(a, false);
    EXPECT_EQ(read_n(c.get(), 6), "from b");  // retransmitted, the connection intact
    EXPECT_EQ(read_n(s.get(), 6), "from a");
    ASSERT_EQ(::send(c.get(), "again", 5, 0), 5);
    EXPECT_EQ(read_n(s.get(), 5), "again");
}

TEST(Freeze, NothingCrossesAFrozenStackOverTheFabric) { freeze_and_thaw(); }

TEST(Freeze, NothingCrossesAFrozenStackOverTheNetwork) {
    ASSERT_EQ(::setenv("VDESTACK_FABRIC", "0", 1), 0);
    freeze_and_thaw();
}

}  // namespace
