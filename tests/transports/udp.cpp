// plug_udp.cpp - the udp:// transport (src/plug/udp.cpp), in the private
// netns of netns_main.cpp (lo only).
//
// Covered: frames both ways over IPv4 and IPv6 (bracketed and vdeplug4's bare
// form) at 60/1514/9234 bytes and in bursts; the lazy connect (any sender
// before our first send, only the destination after, an empty datagram from
// the destination un-connects); bad VNLs (EINVAL naming the VNL) and a taken
// port (EADDRINUSE); a peer that disappears (ICMP port unreachable: no error,
// no hang, no fd leak) and comes back; DEBIAN's /usr/bin/vde_plug udp:// as
// the peer, driven over its stdin/stdout stream framing, IPv4 and IPv6. All
// waits are bounded.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plug/transport.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::Error;
using vdestack::UniqueFd;
using vdestack::plug::FrameBuf;
using vdestack::plug::FrameRef;
using vdestack::plug::kMaxFrame;
using vdestack::plug::open_transport;
using vdestack::plug::Transport;

using vdetest::Frame;
Frame make_frame(std::size_t len, std::uint8_t seed) { return vdetest::make_frame(0x32, len, seed); }
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;
using vdetest::Child;
using vdetest::count_fds;
using vdetest::expect_open_error;
using vdetest::write_framed;
using vdetest::read_framed;

constexpr const char* kDebianVdePlug = "/usr/bin/vde_plug";

void send_frame(Transport& t, const Frame& f) { send_ok(t, {f}); }

// A raw UDP socket of the test, bound to 127.0.0.1:port.
UniqueFd raw_udp4(std::uint16_t port) {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    return s;
}

void raw_send4(int fd, std::uint16_t port, const Frame& f) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
              static_cast<ssize_t>(f.size()));
}

void exchange(Transport& a, Transport& b, std::uint8_t seed) {
    for (std::size_t len : {60u, 1514u, 9000u, static_cast<unsigned>(kMaxFrame)}) {
        const Frame f = make_frame(len, seed);
        send_frame(a, f);
        auto got = recv_frames(b, 2s, 1);
        ASSERT_EQ(got.size(), 1u) << len;
        EXPECT_EQ(got[0], f);
        const Frame g = make_frame(len, static_cast<std::uint8_t>(seed + 1));
        send_frame(b, g);
        got = recv_frames(a, 2s, 1);
        ASSERT_EQ(got.size(), 1u) << len;
        EXPECT_EQ(got[0], g);
    }
    std::vector<Frame> burst;
    for (std::uint8_t i = 0; i < 100; i++) burst.push_back(make_frame(1514, i));
    send_ok(a, burst);
    EXPECT_EQ(recv_frames(b, 3s, burst.size()), burst);
    send_ok(b, burst);
    EXPECT_EQ(recv_frames(a, 3s, burst.size()), burst);
}

// ---------------------------------------------------------------------------

TEST(Udp, FramesBothWaysIpv4) {
    const int fds_before = count_fds();
    {
        auto a = open_transport("udp://127.0.0.1:15001->127.0.0.1:15002");
        auto b = open_transport("udp://15002->127.0.0.1:15001");
        EXPECT_EQ(a->poll_fds().size(), 1u);
        exchange(*a, *b, 1);
    }
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Udp, GroModeDeliversEveryFrameInOrder) {
    // A sends runs of equal frames (what TSO cut: one UDP_SEGMENT message
    // each). Once B has read a full batch it asks for coalesced datagrams
    // (GRO mode) and hands out frames from its own memory, held between
    // calls when there are more than slots.
    auto a = open_transport("udp://127.0.0.1:15031->127.0.0.1:15032");
    auto b = open_transport("udp://127.0.0.1:15032->127.0.0.1:15031");
    std::size_t foreign = 0;
    std::uint8_t seed = 0;
    for (std::size_t slots : {std::size_t{64}, std::size_t{64}, std::size_t{7}, std::size_t{1}}) {
        std::vector<Frame> sent;
        for (int k = 0; k < 4; k++) {
            for (std::size_t i = 0; i < 90; i++) {
                Frame f = make_frame(i + 1 == 90 ? 700 : 1514, seed);
                f[14] = static_cast<std::byte>(i);
                f[15] = static_cast<std::byte>(seed);
                sent.push_back(std::move(f));
            }
            seed++;
            send_ok(*a, std::vector<Frame>(sent.end() - 90, sent.end()));
        }
        const auto got = vdetest::recv_vnet(*b, 5s, sent.size(), {.slots = slots});
        ASSERT_EQ(got.size(), sent.size()) << slots << " slots";
        for (std::size_t i = 0; i < sent.size(); i++) {
            ASSERT_EQ(got[i].frame, sent[i]) << slots << " slots, frame " << i;
            foreign += got[i].foreign ? 1 : 0;
        }
        EXPECT_FALSE(b->pending());
    }
    EXPECT_GT(foreign, 0u);  // GRO mode was on
    // B still answers (and is connected to A's port from then on)...
    const Frame back = make_frame(80, 4);
    send_ok(*b, {back});
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], back);
    // ...and an empty datagram from there still un-connects it.
    a.reset();
    UniqueFd peer = raw_udp4(15031);
    UniqueFd stranger = raw_udp4(15033);
    raw_send4(peer.get(), 15032, Frame{});
    EXPECT_TRUE(recv_frames(*b, 200ms).empty());
    const Frame f = make_frame(100, 5);
    raw_send4(stranger.get(), 15032, f);
    got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST(Udp, FramesBothWaysIpv6) {
    ASSERT_EQ(std::system("ip -6 addr show dev lo | grep -q '::1'"), 0) << "no ::1 on lo";
    auto a = open_transport("udp://[::1]:15011->[::1]:15012");
    auto b = open_transport("udp://::1:15012->::1:15011");  // vdeplug4's bare form
    exchange(*a, *b, 3);
}

TEST(Udp, LazyConnect) {
    auto a = open_transport("udp://15021->127.0.0.1:15022");
    UniqueFd peer = raw_udp4(15022);
    UniqueFd stranger = raw_udp4(15023);

    // Before our first send, any sender is heard.
    const Frame f1 = make_frame(100, 1);
    raw_send4(stranger.get(), 15021, f1);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f1);

    // After it, only the destination.
    const Frame f2 = make_frame(100, 2);
    send_frame(*a, f2);
    Frame buf(kMaxFrame);
    pollfd p{peer.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    EXPECT_EQ(::recv(peer.get(), buf.data(), buf.size(), 0), static_cast<ssize_t>(f2.size()));
    raw_send4(stranger.get(), 15021, make_frame(100, 3));
    const Frame f4 = make_frame(100, 4);
    raw_send4(peer.get(), 15021, f4);
    got = recv_frames(*a, 500ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f4);

    // An empty datagram from the destination un-connects (vdeplug4): the
    // stranger is heard again until our next send.
    raw_send4(peer.get(), 15021, Frame{});
    EXPECT_TRUE(recv_frames(*a, 200ms).empty());
    const Frame f5 = make_frame(100, 5);
    raw_send4(stranger.get(), 15021, f5);
    got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f5);
    send_frame(*a, make_frame(100, 6));
    raw_send4(stranger.get(), 15021, make_frame(100, 7));
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());

    // Runts and empty frames are never sent.
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    (void)::recv(peer.get(), buf.data(), buf.size(), 0);  // f6
    const Frame runt(13, std::byte{1});
    send_frame(*a, runt);
    EXPECT_EQ(::poll(&p, 1, 200), 0);
}

TEST(Udp, BadVnlsAndTakenPort) {
    const int fds_before = count_fds();
    for (const char* vnl : {"udp://", "udp://15031", "udp://15031->127.0.0.1", "udp://->127.0.0.1:15032",
                            "udp://15031->:15032", "udp://99999->127.0.0.1:15032", "udp://15031->127.0.0.1:0",
                            "udp://15031->[::1:15032", "udp://15031->no-such-host.invalid:15032",
                            "udp://[::1]:15031->127.0.0.1:15032"})
        expect_open_error(vnl, EINVAL);
    auto a = open_transport("udp://15031->127.0.0.1:15032");
    expect_open_error("udp://15031->127.0.0.1:15033", EADDRINUSE);
    a.reset();
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Udp, PeerDisappearsAndComesBack) {
    const int fds_before = count_fds();
    {
        auto a = open_transport("udp://15041->127.0.0.1:15042");
        auto b = open_transport("udp://15042->127.0.0.1:15041");
        exchange(*a, *b, 5);
        b.reset();
        // ICMP port unreachable comes back: neither send nor recv fail, nothing hangs.
        for (int i = 0; i < 20; i++) {
            send_frame(*a, make_frame(1514, 7));
            EXPECT_TRUE(recv_frames(*a, 10ms).empty());
        }
        b = open_transport("udp://15042->127.0.0.1:15041");
        const Frame f = make_frame(1514, 8);
        send_frame(*a, f);
        auto got = recv_frames(*b, 2s, 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], f);
        const Frame g = make_frame(1514, 9);
        send_frame(*b, g);
        got = recv_frames(*a, 2s, 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], g);
    }
    EXPECT_EQ(count_fds(), fds_before);
}

void debian_interop(const std::string& ours_vnl, const std::string& debian_vnl) {
    auto ours = open_transport(ours_vnl);
    Child deb({kDebianVdePlug, debian_vnl});
    // Debian -> ours (repeated until Debian's socket is up).
    const Frame f = make_frame(1514, 40);
    bool arrived = false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!arrived && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(write_framed(deb.to(), f));
        for (const Frame& g : recv_frames(*ours, 200ms)) arrived = arrived || g == f;
    }
    ASSERT_TRUE(arrived) << debian_vnl;
    for (std::size_t len : {60u, 1514u, 9000u}) {
        const Frame g = make_frame(len, 41);
        send_frame(*ours, g);
        auto back = read_framed(deb.from(), 3s);
        ASSERT_TRUE(back.has_value()) << len;
        EXPECT_EQ(*back, g);
        const Frame h = make_frame(len, 42);
        ASSERT_TRUE(write_framed(deb.to(), h));
        auto got = recv_frames(*ours, 3s, 1);
        ASSERT_EQ(got.size(), 1u) << len;
        EXPECT_EQ(got[0], h);
    }
}

TEST(Udp, DebianVdePlugIpv4) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    const int fds_before = count_fds();
    debian_interop("udp://15051->127.0.0.1:15052", "udp://15052->127.0.0.1:15051");
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Udp, DebianVdePlugIpv6) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    // vdeplug4 takes IPv6 bare ("::1:PORT"); ours both forms.
    debian_interop("udp://[::1]:15061->[::1]:15062", "udp://::1:15062->::1:15061");
}

}  // namespace
