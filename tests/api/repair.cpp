// repair.cpp - sockets captured and rebuilt (src/repair, TCP_REPAIR) in the
// test's own private network namespace: an established TCP connection over
// IPv4 and IPv6 with data queued both ways (unread bytes in the moved
// socket's receive queue, unacknowledged and unsent bytes in its send
// queue: the peer's window is full) moves to a new socket with no reset and
// no byte lost or repeated; a listener keeps accepting; a UDP socket keeps
// its binding and its peer; what cannot move is refused with EOPNOTSUPP and
// left as it was.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "repair/socket_state.hpp"
#include "vdestack/stack.hpp"
#include "support/pattern.hpp"
#include "wire/stack_image.hpp"

namespace {

namespace image = vdestack::wire::image;
using vde::UniqueFd;
using vdestack::repair::Captured;
using vdetest::read_pattern;
using vdetest::send_some;

struct Pair {
    UniqueFd listener, client, server;
};

// A connection over lo: family AF_INET (127.0.0.1) or AF_INET6 (::1). The
// client's receive buffer is small, so that the server's sends queue up.
Pair connect_pair(int family) {
    Pair p;
    p.listener = UniqueFd(::socket(family, SOCK_STREAM, 0));
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET) {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof a;
    } else {
        auto& a = reinterpret_cast<sockaddr_in6&>(ss);
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_loopback;
        len = sizeof a;
    }
    EXPECT_EQ(::bind(p.listener.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    EXPECT_EQ(::listen(p.listener.get(), 8), 0);
    EXPECT_EQ(::getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&ss), &len), 0);
    p.client = UniqueFd(::socket(family, SOCK_STREAM, 0));
    const int small = 16384;
    ::setsockopt(p.client.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    EXPECT_EQ(::connect(p.client.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    p.server = UniqueFd(::accept(p.listener.get(), nullptr, nullptr));
    return p;
}

int plain_socket(int d, int t, int p) { return ::socket(d, t, p); }

class RepairTcp : public ::testing::TestWithParam<int> {};

TEST_P(RepairTcp, AConnectionWithQueuedDataMovesWithoutALostByte) {
    Pair p = connect_pair(GetParam());
    // The client's bytes sit unread in the server's receive queue...
    ASSERT_EQ(send_some(p.client.get(), 0, 3000), 3000u);
    // ... and the server's fill the client's window: its send queue holds
    // bytes sent and unacknowledged, and bytes never sent.
    const std::size_t queued = send_some(p.server.get(), 0, 4 << 20);
    ASSERT_GT(queued, 100000u);
    ::usleep(100000);

    Captured c = vdestack::repair::capture(p.server.get());
    const auto& t = std::get<image::TcpRecord>(c.record);
    EXPECT_EQ(t.rcvq.size(), 3000u);
    EXPECT_GT(t.sndq.size(), 0u);
    EXPECT_GT(t.unsent, 0u);  // the client's window is full
    EXPECT_TRUE(t.options & image::kOptTimestamps);
    EXPECT_TRUE(t.options & image::kOptSack);
    EXPECT_TRUE(t.options & image::kOptWscale);
    // Through the image and back, as a migration carries it.
    image::ImageWriter w;
    w.add(t);
    const std::vector<std::byte> img = w.finish();
    auto view = image::ImageView::parse(img);
    ASSERT_TRUE(view);
    std::optional<image::TcpRecord> back;
    view->for_each([&](image::RecordType type, std::span<const std::byte> payload) {
        if (type == image::kTcp) back = image::decode_tcp(payload);
    });
    ASSERT_TRUE(back);
    EXPECT_TRUE(std::equal(back->sndq.begin(), back->sndq.end(), c.sndq.begin(), c.sndq.end()));

    p.server.reset();  // in repair mode: no FIN, no RST
    UniqueFd moved = vdestack::repair::rebuild(*back, plain_socket);
    ASSERT_TRUE(moved);
    // What the old socket had received comes first, then more from the client.
    ASSERT_TRUE(read_pattern(moved.get(), 0, 3000));
    ASSERT_EQ(send_some(p.client.get(), 3000, 5000), 5000u);
    EXPECT_TRUE(read_pattern(moved.get(), 3000, 5000));
    // Every byte the old socket had queued reaches the client, in order,
    // then the new socket's own.
    EXPECT_TRUE(read_pattern(p.client.get(), 0, queued));
    ASSERT_EQ(send_some(moved.get(), queued, 1000), 1000u);
    EXPECT_TRUE(read_pattern(p.client.get(), queued, 1000));
    int nodelay = 0;
    socklen_t l = sizeof nodelay;
    EXPECT_EQ(::getsockopt(moved.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &l), 0);
}

INSTANTIATE_TEST_SUITE_P(Families, RepairTcp, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& i) { return i.param == AF_INET ? "IPv4" : "IPv6"; });

TEST(Repair, AListenerKeepsAccepting) {
    Pair p = connect_pair(AF_INET);
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
    Captured c = vdestack::repair::capture(p.listener.get());
    const auto& l = std::get<image::ListenRecord>(c.record);
    EXPECT_EQ(l.backlog, 8u);
    EXPECT_EQ(l.local.port, ntohs(a.sin_port));
    p = Pair{};  // the old stack's sockets are gone (the accepted one held the port too)
    UniqueFd moved = vdestack::repair::rebuild(l, plain_socket);
    UniqueFd client(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    UniqueFd conn(::accept(moved.get(), nullptr, nullptr));
    EXPECT_TRUE(conn);
}

TEST(Repair, AUdpSocketKeepsItsBindingAndPeer) {
    UniqueFd peer(::socket(AF_INET6, SOCK_DGRAM, 0));
    sockaddr_in6 pa{};
    pa.sin6_family = AF_INET6;
    pa.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof pa;
    ASSERT_EQ(::bind(peer.get(), reinterpret_cast<sockaddr*>(&pa), len), 0);
    ::getsockname(peer.get(), reinterpret_cast<sockaddr*>(&pa), &len);
    UniqueFd u(::socket(AF_INET6, SOCK_DGRAM, 0));
    sockaddr_in6 ua = pa;
    ua.sin6_port = 0;
    ASSERT_EQ(::bind(u.get(), reinterpret_cast<sockaddr*>(&ua), sizeof ua), 0);
    ASSERT_EQ(::connect(u.get(), reinterpret_cast<sockaddr*>(&pa), sizeof pa), 0);
    len = sizeof ua;
    ::getsockname(u.get(), reinterpret_cast<sockaddr*>(&ua), &len);

    Captured c = vdestack::repair::capture(u.get());
    u.reset();
    UniqueFd moved = vdestack::repair::rebuild(std::get<image::UdpRecord>(c.record), plain_socket);
    sockaddr_in6 got{};
    len = sizeof got;
    ASSERT_EQ(::getsockname(moved.get(), reinterpret_cast<sockaddr*>(&got), &len), 0);
    EXPECT_EQ(got.sin6_port, ua.sin6_port);
    len = sizeof got;
    ASSERT_EQ(::getpeername(moved.get(), reinterpret_cast<sockaddr*>(&got), &len), 0);
    EXPECT_EQ(got.sin6_port, pa.sin6_port);
    ASSERT_EQ(::sendto(peer.get(), "hi", 2, 0, reinterpret_cast<sockaddr*>(&ua), sizeof ua), 2);
    char buf[4] = {};
    pollfd pf{moved.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 2000), 1);
    EXPECT_EQ(::recv(moved.get(), buf, sizeof buf, 0), 2);
}

TEST(Repair, WhatCannotMoveIsRefusedAndLeftAsItWas) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    UniqueFd a(sv[0]), b(sv[1]);
    try {
        (void)vdestack::repair::capture(a.get());
        ADD_FAILURE() << "a unix socket was captured";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EOPNOTSUPP);
    }
    // A TCP socket neither connected nor listening: refused, and out of
    // repair mode (it still connects normally).
    Pair p = connect_pair(AF_INET);
    sockaddr_in a4{};
    socklen_t len = sizeof a4;
    ::getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&a4), &len);
    UniqueFd idle(::socket(AF_INET, SOCK_STREAM, 0));
    try {
        (void)vdestack::repair::capture(idle.get());
        ADD_FAILURE() << "an unconnected TCP socket was captured";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), EOPNOTSUPP) << e.what();
    }
    EXPECT_EQ(::connect(idle.get(), reinterpret_cast<sockaddr*>(&a4), sizeof a4), 0);
}

// In one of our stacks, by its creator (tests/scripts/unprivileged.sh runs
// it as nobody): TCP_REPAIR needs CAP_NET_ADMIN in the user namespace that
// owns the stack's network namespace, which is the creator's.
TEST(RepairInStack, ItsCreatorMovesAConnectionOfIt) {
    vde::Stack stack("");  // loopback only
    stack.link_up("lo");
    auto make = [&](int d, int t, int p) {
        std::error_code ec;
        vde::Socket s = stack.socket(d, t, p, ec);
        if (ec) errno = ec.value();
        return ec ? -1 : s.release();
    };
    UniqueFd listener(make(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
    ASSERT_EQ(::listen(listener.get(), 4), 0);
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
    UniqueFd client(make(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    UniqueFd server(::accept(listener.get(), nullptr, nullptr));
    ASSERT_EQ(send_some(client.get(), 0, 1000), 1000u);
    ::usleep(20000);
    Captured c = vdestack::repair::capture(server.get());
    server.reset();
    UniqueFd moved = vdestack::repair::rebuild(std::get<image::TcpRecord>(c.record), make);
    EXPECT_TRUE(read_pattern(moved.get(), 0, 1000));
    ASSERT_EQ(send_some(moved.get(), 0, 2000), 2000u);
    EXPECT_TRUE(read_pattern(client.get(), 0, 2000));
}

}  // namespace
