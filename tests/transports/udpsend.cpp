// plug_udpsend.cpp - UdpFrameSender (src/plug/udp_send.hpp), the send path of
// vxvde://, vxlan:// and udp://, against plain UDP sockets in the private
// netns of netns_main.cpp: every frame arrives as its own datagram (prefix +
// frame), in order, whatever runs the sender formed; runs form only where
// they may (same destination, unicast, equal lengths but a shorter last,
// within the segment and byte caps); a kernel refusal (a segment beyond the
// path MTU) falls back to one datagram per frame for good.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "plug/udp/mactable.hpp"
#include "plug/udp/udp_send.hpp"
#include "base/fd.hpp"

namespace {

using vdestack::UniqueFd;
using vdestack::plug::FrameRef;
using vdestack::plug::PeerAddr;
using vdestack::plug::UdpFrameSender;
using Bytes = std::vector<std::byte>;

struct Sock {
    UniqueFd fd;
    PeerAddr addr;
};

// A UDP socket on 127.0.0.1, ephemeral port, big receive buffer.
Sock udp_socket() {
    Sock s;
    s.fd = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(s.fd.valid());
    const int big = 8 << 20;
    ::setsockopt(s.fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(s.fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    EXPECT_EQ(::getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
    s.addr = PeerAddr::from(reinterpret_cast<sockaddr*>(&sa), len);
    return s;
}

Bytes frame(std::size_t len, int seed) {
    Bytes f(len);
    for (std::size_t i = 0; i < len; i++) f[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
    return f;
}

Bytes with_prefix(const Bytes& prefix, const Bytes& f) {
    Bytes d = prefix;
    d.insert(d.end(), f.begin(), f.end());
    return d;
}

// Every datagram waiting on fd (waits up to 1 s for the first).
std::vector<Bytes> drain(int fd) {
    std::vector<Bytes> got;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return got;
    Bytes buf(70000);
    for (;;) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) break;
        got.emplace_back(buf.begin(), buf.begin() + n);
    }
    return got;
}

// Sends `frames` (to `to`, may_run as given) through a sender with `prefix`,
// flushing when a batch is full; returns the runs the kernel took.
std::uint64_t send_all(UdpFrameSender& s, int fd, const std::vector<Bytes>& frames, const std::vector<const PeerAddr*>& to,
                       bool may_run = true) {
    for (std::size_t i = 0; i < frames.size(); i++) {
        const FrameRef f{frames[i].data(), frames[i].size()};
        if (!s.add(f, to[i % to.size()], may_run)) {
            EXPECT_EQ(s.flush(fd, 0), 0);
            EXPECT_TRUE(s.add(f, to[i % to.size()], may_run));
        }
    }
    EXPECT_EQ(s.flush(fd, 0), 0);
    return s.runs_sent;
}

const Bytes kHdr = {std::byte{0x08}, std::byte{0}, std::byte{0}, std::byte{0},
                    std::byte{0},    std::byte{0}, std::byte{1}, std::byte{0}};

TEST(UdpSend, ARunArrivesAsOrdinaryDatagramsInOrder) {
    Sock tx = udp_socket(), rx = udp_socket();
    UdpFrameSender s(kHdr);
    std::vector<Bytes> frames;
    for (int i = 0; i < 10; i++) frames.push_back(frame(1514, i));
    frames.push_back(frame(700, 99));  // a shorter last one
    EXPECT_EQ(send_all(s, tx.fd.get(), frames, {&rx.addr}), 1u);
    const auto got = drain(rx.fd.get());
    ASSERT_EQ(got.size(), frames.size());
    for (std::size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], with_prefix(kHdr, frames[i])) << i;
}

TEST(UdpSend, RunsBreakWhereTheyMust) {
    Sock tx = udp_socket(), rx = udp_socket(), rx2 = udp_socket();
    UdpFrameSender s(kHdr);
    // 1000 1000 500 | 1000 1200 (longer: new run) | 1200: three runs of two or more
    std::vector<Bytes> frames = {frame(1000, 1), frame(1000, 2), frame(500, 3),
                                 frame(1000, 4), frame(1200, 5), frame(1200, 6)};
    EXPECT_EQ(send_all(s, tx.fd.get(), frames, {&rx.addr}), 2u);  // {1000,1000,500} {1200,1200}; 1000 alone
    auto got = drain(rx.fd.get());
    ASSERT_EQ(got.size(), frames.size());
    for (std::size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], with_prefix(kHdr, frames[i])) << i;

    // Alternating destinations, or frames that may not run: no runs at all.
    UdpFrameSender t(kHdr);
    frames.assign(8, frame(1514, 7));
    EXPECT_EQ(send_all(t, tx.fd.get(), frames, {&rx.addr, &rx2.addr}), 0u);
    EXPECT_EQ(drain(rx.fd.get()).size(), 4u);
    EXPECT_EQ(drain(rx2.fd.get()).size(), 4u);
    EXPECT_EQ(send_all(t, tx.fd.get(), frames, {&rx.addr}, false), 0u);
    EXPECT_EQ(drain(rx.fd.get()).size(), 8u);
}

TEST(UdpSend, RunsRespectTheSegmentAndByteCaps) {
    Sock tx = udp_socket(), rx = udp_socket();
    UdpFrameSender s(kHdr);
    std::vector<Bytes> frames(100, frame(100, 1));  // 64 + 36 (two batches of 64 frames: 64 | 36)
    EXPECT_EQ(send_all(s, tx.fd.get(), frames, {&rx.addr}), 2u);
    EXPECT_EQ(drain(rx.fd.get()).size(), 100u);
    UdpFrameSender t(kHdr);
    frames.assign(14, frame(9000, 2));  // 9008-byte datagrams: 7 per 65000 bytes
    EXPECT_EQ(send_all(t, tx.fd.get(), frames, {&rx.addr}), 2u);
    const auto got = drain(rx.fd.get());
    ASSERT_EQ(got.size(), 14u);
    for (const Bytes& d : got) EXPECT_EQ(d, with_prefix(kHdr, frames[0]));
}

TEST(UdpSend, ConnectedSocketWithoutPrefix) {
    Sock tx = udp_socket(), rx = udp_socket();
    ASSERT_EQ(::connect(tx.fd.get(), &rx.addr.addr.sa, rx.addr.len), 0);
    UdpFrameSender s({});
    std::vector<Bytes> frames(20, frame(1400, 3));
    EXPECT_EQ(send_all(s, tx.fd.get(), frames, {nullptr}), 1u);
    const auto got = drain(rx.fd.get());
    ASSERT_EQ(got.size(), 20u);
    for (const Bytes& d : got) EXPECT_EQ(d, frames[0]);
}

TEST(UdpSend, ARefusedRunFallsBackToOneDatagramPerFrame) {
    // lo's MTU below the segment size: the kernel refuses UDP_SEGMENT
    // (EINVAL); every frame must still arrive (fragmented, reassembled).
    UniqueFd ctl(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ASSERT_EQ(::ioctl(ctl.get(), SIOCGIFMTU, &ifr), 0);
    const int mtu = ifr.ifr_mtu;
    ifr.ifr_mtu = 1500;
    ASSERT_EQ(::ioctl(ctl.get(), SIOCSIFMTU, &ifr), 0);
    {
        Sock tx = udp_socket(), rx = udp_socket();
        UdpFrameSender s(kHdr);
        std::vector<Bytes> frames;
        for (int i = 0; i < 12; i++) frames.push_back(frame(1514, i));
        EXPECT_EQ(send_all(s, tx.fd.get(), frames, {&rx.addr}), 0u);
        EXPECT_FALSE(s.gso());
        const auto got = drain(rx.fd.get());
        ASSERT_EQ(got.size(), frames.size());
        for (std::size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], with_prefix(kHdr, frames[i])) << i;
        // And it stays off.
        EXPECT_EQ(send_all(s, tx.fd.get(), frames, {&rx.addr}), 0u);
        EXPECT_EQ(drain(rx.fd.get()).size(), frames.size());
    }
    ifr.ifr_mtu = mtu;
    EXPECT_EQ(::ioctl(ctl.get(), SIOCSIFMTU, &ifr), 0);
}

}  // namespace
