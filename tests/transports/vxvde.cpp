// plug_vxvde.cpp - the vxvde:// transport (src/plug/vxvde.cpp) and null://
// (src/plug/null.cpp), run inside the private network namespace that
// netns_main.cpp sets up (lo up, 224.0.0.0/4 and ff00::/8 routed on lo).
//
// Covered: broadcast delivered once and not to the sender; learned unicast
// replies arrive on the unicast socket and are not seen by third parties; VNI
// isolation; 1514/9000/9234-byte frames intact; batches larger than the
// internal batch; leave on destruction; the exact wire bytes (header, leave,
// runt and bad-header rejection) seen by a plain UDP socket; grp=; IPv6; bad
// VNLs. All waits are bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plug/host/null.hpp"
#include "plug/transport.hpp"
#include "plug/udp/vxvde.hpp"
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
using vdestack::plug::Transport;

using vdetest::Frame;
using vdetest::Mac;
using vdetest::kBroadcast;
Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x10, n); }
using vdetest::make_frame;
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;


std::unique_ptr<Transport> open(std::string_view vnl, const vdestack::plug::OpenOptions& opts = {}) {
    constexpr std::string_view scheme = "vxvde://";
    EXPECT_TRUE(vnl.starts_with(scheme));
    return vdestack::plug::open_vxvde(vnl, vnl.substr(scheme.size()), opts);
}

void send_frame(Transport& t, const Frame& f) { send_ok(t, {f}); }

// Waits until one of t's poll fds is readable; returns which (index) or -1.
int wait_readable(Transport& t, std::chrono::milliseconds timeout) {
    auto fds = t.poll_fds();
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), static_cast<int>(timeout.count())) <= 0) return -1;
    for (std::size_t i = 0; i < pfds.size(); i++)
        if ((pfds[i].revents & POLLIN) != 0) return static_cast<int>(i);
    return -1;
}

bool readable_now(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// A plain UDP socket bound to group:port, member of the group (sees what a
// vdeplug4 peer on this host would see).
UniqueFd raw_member(const char* group, std::uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    int one = 1;
    EXPECT_EQ(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, group, &sa.sin_addr);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ip_mreqn mr{};
    mr.imr_multiaddr = sa.sin_addr;
    EXPECT_EQ(::setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr), 0);
    return fd;
}

// One datagram from fd within timeout (empty if none).
Frame raw_recv(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    Frame buf(65536);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) return {};
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

void raw_send(const char* group, std::uint16_t port, const Frame& dgram) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.valid());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, group, &sa.sin_addr);
    ASSERT_EQ(::sendto(fd.get(), dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
              static_cast<ssize_t>(dgram.size()));
}

Frame with_header(std::array<std::uint8_t, 8> hdr, const Frame& frame) {
    Frame d;
    for (std::uint8_t b : hdr) d.push_back(std::byte{b});
    d.insert(d.end(), frame.begin(), frame.end());
    return d;
}

// ---------------------------------------------------------------------------

TEST(Vxvde, PollFdsAreTwoDistinctSockets) {
    auto a = open("vxvde://234.0.0.7/port=15000");
    ASSERT_EQ(a->poll_fds().size(), 2u);
    EXPECT_GE(a->poll_fds()[0], 0);
    EXPECT_GE(a->poll_fds()[1], 0);
    EXPECT_NE(a->poll_fds()[0], a->poll_fds()[1]);
    EXPECT_EQ(a->vnl(), "vxvde://234.0.0.7/port=15000");
    std::array<FrameBuf, 0> none{};
    EXPECT_EQ(a->recv(none), 0);
    EXPECT_EQ(a->send({}), 0);
}

TEST(Vxvde, BroadcastReachesPeerOnceAndNotSelf) {
    auto a = open("vxvde://234.0.0.7/port=15000");
    auto b = open("vxvde://234.0.0.7/port=15000");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_TRUE(recv_frames(*b, 300ms).empty()) << "duplicate delivery";
    // A's own multicast loops back to its multicast socket and is filtered.
    EXPECT_TRUE(recv_frames(*a, 300ms).empty()) << "sender received its own frame";
}

TEST(Vxvde, UnicastReplyUsesUnicastSocketAndIsPrivate) {
    auto a = open("vxvde://234.0.0.7/port=15000");
    auto b = open("vxvde://234.0.0.7/port=15000");
    auto c = open("vxvde://234.0.0.7/port=15000");
    send_frame(*a, make_frame(kBroadcast, mac_of(0xa), 64));  // B and C learn A
    ASSERT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    ASSERT_EQ(recv_frames(*c, 2s, 1).size(), 1u);
    EXPECT_TRUE(recv_frames(*a, 200ms).empty());  // consumes A's looped copy

    const Frame reply = make_frame(mac_of(0xa), mac_of(0xb), 100, 3);
    send_frame(*b, reply);
    // It arrives on A's unicast socket (poll_fds()[1]), not on the multicast one.
    ASSERT_EQ(wait_readable(*a, 2s), 1);
    EXPECT_FALSE(readable_now(a->poll_fds()[0]));
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reply);
    // Nobody else saw it.
    EXPECT_TRUE(recv_frames(*c, 300ms).empty());
    EXPECT_TRUE(recv_frames(*b, 100ms).empty());

    // A has learned B from the reply: A -> B is unicast too.
    const Frame back = make_frame(mac_of(0xb), mac_of(0xa), 80, 4);
    send_frame(*a, back);
    ASSERT_EQ(wait_readable(*b, 2s), 1);
    got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], back);
    EXPECT_TRUE(recv_frames(*c, 300ms).empty());
}

TEST(Vxvde, UnknownUnicastGoesToGroup) {
    auto a = open("vxvde://234.0.0.7/port=15000");
    auto b = open("vxvde://234.0.0.7/port=15000");
    const Frame f = make_frame(mac_of(0x77), mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST(Vxvde, OtherVniIsNotDelivered) {
    auto a = open("vxvde://234.0.0.7/port=15000");
    auto d = open("vxvde://234.0.0.7/port=15000/vni=2");
    send_frame(*d, make_frame(kBroadcast, mac_of(0xd), 60));
    // The datagram does reach A's multicast socket...
    ASSERT_EQ(wait_readable(*a, 2s), 0);
    // ...and is rejected.
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());
    // Same VNI still works (sanity).
    auto b = open("vxvde://234.0.0.7/port=15000/vni=1");
    const Frame f = make_frame(kBroadcast, mac_of(0xb), 60);
    send_frame(*b, f);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_TRUE(recv_frames(*d, 300ms).empty());
}

TEST(Vxvde, LargeFramesArriveIntact) {
    auto a = open("vxvde://234.0.0.7/port=15003");
    auto b = open("vxvde://234.0.0.7/port=15003");
    for (std::size_t len : {std::size_t{15}, std::size_t{1514}, std::size_t{9000}, kMaxFrame}) {
        const Frame f = make_frame(kBroadcast, mac_of(1), len, static_cast<std::uint8_t>(len));
        send_frame(*a, f);
        auto got = recv_frames(*b, 2s, 1);
        ASSERT_EQ(got.size(), 1u) << len;
        ASSERT_EQ(got[0].size(), len);
        EXPECT_EQ(std::memcmp(got[0].data(), f.data(), len), 0) << len;
    }
    // Unicast, full size, both ways.
    const Frame big = make_frame(mac_of(1), mac_of(2), 9000, 9);
    send_frame(*b, big);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], big);
}

TEST(Vxvde, RuntsAreDroppedBySender) {
    auto a = open("vxvde://234.0.0.7/port=15004");
    UniqueFd raw = raw_member("234.0.0.7", 15004);
    std::vector<Frame> frames = {Frame(13, std::byte{0xff}), Frame(0), make_frame(kBroadcast, mac_of(1), 60)};
    send_ok(*a, frames);  // consumes all three, sends only the last
    Frame d = raw_recv(raw.get(), 2s);
    EXPECT_EQ(d.size(), 8u + 60u);
    EXPECT_TRUE(raw_recv(raw.get(), 200ms).empty());
}

TEST(Vxvde, BatchesLargerThanInternalBatch) {
    auto a = open("vxvde://234.0.0.7/port=15005");
    auto b = open("vxvde://234.0.0.7/port=15005");
    std::vector<Frame> frames;
    for (std::uint8_t i = 0; i < 150; i++) {
        Frame f = make_frame(kBroadcast, mac_of(1), 100 + i, i);
        f[14] = std::byte{i};
        frames.push_back(std::move(f));
    }
    send_ok(*a, frames);
    auto got = recv_frames(*b, 3s, frames.size(), {.slots = 200});
    ASSERT_EQ(got.size(), frames.size());
    for (std::size_t i = 0; i < frames.size(); i++) EXPECT_EQ(got[i], frames[i]) << i;
}

// Receives until `want` frames arrived or `timeout` passed, honouring
// pending() (frames held by GRO mode are not announced by the fds). `foreign`
// counts frames delivered from the transport's own memory, not our slots.
std::vector<Frame> recv_all(Transport& t, std::size_t want, std::size_t slots, std::size_t* foreign,
                            std::chrono::milliseconds timeout = 5s) {
    std::vector<Frame> got;
    for (auto& r : vdetest::recv_vnet(t, timeout, want, {.slots = slots})) {
        if (r.foreign) ++*foreign;
        got.push_back(std::move(r.frame));
    }
    return got;
}

// A run of `count` frames of `len` bytes (the last `last` bytes) from src to dst.
std::vector<Frame> make_run(const Mac& dst, const Mac& src, std::size_t count, std::size_t len, std::size_t last,
                            std::uint8_t seed) {
    std::vector<Frame> run;
    for (std::size_t i = 0; i < count; i++) {
        Frame f = make_frame(dst, src, i + 1 == count ? last : len, static_cast<std::uint8_t>(seed + i));
        f[14] = static_cast<std::byte>(i & 0xff);  // the order shows
        run.push_back(std::move(f));
    }
    return run;
}

TEST(Vxvde, SegmentedRunsAreOrdinaryDatagramsOnTheWire) {
    // A vdeplug4 peer (a plain socket here) teaches A its MAC; A's run of
    // equal frames to it leaves in UDP_SEGMENT sends, which the peer must
    // receive as one ordinary datagram per frame: header + frame, in order.
    auto a = open("vxvde://234.0.0.7/port=15010");
    UniqueFd peer(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(peer.valid());
    int big = 8 << 20;
    ::setsockopt(peer.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    sockaddr_in group{};
    group.sin_family = AF_INET;
    group.sin_port = htons(15010);
    ::inet_pton(AF_INET, "234.0.0.7", &group.sin_addr);
    const std::array<std::uint8_t, 8> hdr = {0x08, 0, 0, 0, 0, 0, 1, 0};
    const Frame hello = with_header(hdr, make_frame(kBroadcast, mac_of(0x51), 60));
    ASSERT_EQ(::sendto(peer.get(), hello.data(), hello.size(), 0, reinterpret_cast<sockaddr*>(&group), sizeof group),
              static_cast<ssize_t>(hello.size()));
    ASSERT_EQ(recv_frames(*a, 2s, 1).size(), 1u);  // A learns 0x51 -> peer
    for (std::size_t len : {std::size_t{1514}, std::size_t{9000}, std::size_t{60}}) {
        const auto run = make_run(mac_of(0x51), mac_of(0x50), 100, len, len / 2 + 14, static_cast<std::uint8_t>(len));
        send_ok(*a, run);
        for (std::size_t i = 0; i < run.size(); i++) {
            const Frame d = raw_recv(peer.get(), 2s);
            ASSERT_EQ(d, with_header(hdr, run[i])) << "len " << len << " frame " << i;
        }
        EXPECT_FALSE(readable_now(peer.get()));
    }
}

TEST(Vxvde, GroModeDeliversEveryFrameInOrder) {
    // B learns A; A sends runs to B. Once B has read a full batch of unicast
    // it asks for coalesced datagrams (GRO mode) and hands out frames from
    // its own memory, held between calls when there are more than slots.
    auto a = open("vxvde://234.0.0.7/port=15011");
    auto b = open("vxvde://234.0.0.7/port=15011");
    send_frame(*b, make_frame(kBroadcast, mac_of(0xb), 60));  // A learns B
    ASSERT_EQ(recv_frames(*a, 2s, 1).size(), 1u);
    std::size_t foreign = 0;
    std::uint8_t seed = 0;
    for (std::size_t slots : {std::size_t{64}, std::size_t{64}, std::size_t{7}, std::size_t{1}}) {
        std::vector<Frame> sent;
        for (int k = 0; k < 4; k++) {
            auto run = make_run(mac_of(0xb), mac_of(0xa), 90, 1514, 700, seed++);
            send_ok(*a, run);
            sent.insert(sent.end(), run.begin(), run.end());
        }
        const auto got = recv_all(*b, sent.size(), slots, &foreign);
        ASSERT_EQ(got.size(), sent.size()) << slots << " slots";
        for (std::size_t i = 0; i < sent.size(); i++)
            ASSERT_EQ(got[i], sent[i]) << slots << " slots, frame " << i << " len " << got[i].size() << " idx " << int(got[i][14]) << " seed " << int(got[i][20]);
        EXPECT_FALSE(b->pending());
    }
    EXPECT_GT(foreign, 0u);  // GRO mode was on
    // Whatever B holds, it still learns and answers: B -> A unicast.
    const Frame back = make_frame(mac_of(0xa), mac_of(0xb), 80, 4);
    send_frame(*b, back);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], back);
}

TEST(Vxvde, WithoutOffloadEveryFrameIsItsOwnDatagram) {
    // udp_gso off (VDESTACK_UDP_GSO=0): no UDP_SEGMENT, no GRO mode; frames still all arrive.
    vdestack::plug::OpenOptions off;
    off.tuning.udp_gso = false;
    auto a = open("vxvde://234.0.0.7/port=15012", off);
    auto b = open("vxvde://234.0.0.7/port=15012", off);
    send_frame(*b, make_frame(kBroadcast, mac_of(0xb), 60));
    ASSERT_EQ(recv_frames(*a, 2s, 1).size(), 1u);
    std::size_t foreign = 0;
    std::vector<Frame> sent;
    for (int k = 0; k < 4; k++) {
        auto run = make_run(mac_of(0xb), mac_of(0xa), 90, 1514, 1514, static_cast<std::uint8_t>(k));
        send_ok(*a, run);
        sent.insert(sent.end(), run.begin(), run.end());
    }
    const auto got = recv_all(*b, sent.size(), 64, &foreign);
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); i++) ASSERT_EQ(got[i], sent[i]) << i;
    EXPECT_EQ(foreign, 0u);
}

TEST(Vxvde, LeaveOnDestructionMakesPeersForget) {
    auto a = open("vxvde://234.0.0.7/port=15006");
    auto b = open("vxvde://234.0.0.7/port=15006");
    auto c = open("vxvde://234.0.0.7/port=15006");
    send_frame(*b, make_frame(kBroadcast, mac_of(0xb), 60));  // A and C learn B
    ASSERT_EQ(recv_frames(*a, 2s, 1).size(), 1u);
    ASSERT_EQ(recv_frames(*c, 2s, 1).size(), 1u);
    EXPECT_TRUE(recv_frames(*b, 200ms).empty());

    const Frame to_b = make_frame(mac_of(0xb), mac_of(0xa), 60);
    send_frame(*a, to_b);  // unicast to B: C does not see it
    ASSERT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    EXPECT_TRUE(recv_frames(*c, 300ms).empty());

    b.reset();  // sends the leave to the group
    ASSERT_EQ(wait_readable(*a, 2s), 0);
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());  // processes the leave; it is no frame
    EXPECT_TRUE(recv_frames(*c, 300ms).empty());

    send_frame(*a, to_b);  // B forgotten: flooded to the group
    auto got = recv_frames(*c, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], to_b);
}

TEST(Vxvde, WireFormatSeenByPlainSocket) {
    UniqueFd raw = raw_member("234.0.0.9", 15007);
    auto a = open("vxvde://234.0.0.9/port=15007/vni=0xabcdef");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    Frame d = raw_recv(raw.get(), 2s);
    ASSERT_EQ(d.size(), 68u);
    EXPECT_EQ(d, with_header({0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0}, f));
    a.reset();
    Frame leave = raw_recv(raw.get(), 2s);
    EXPECT_EQ(leave, with_header({0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0}, {}));
}

TEST(Vxvde, DefaultHeaderAndAcceptRules) {
    UniqueFd raw = raw_member("234.0.0.10", 15008);
    auto a = open("vxvde://234.0.0.10/port=15008");
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 20));
    Frame d = raw_recv(raw.get(), 2s);
    ASSERT_EQ(d.size(), 28u);
    EXPECT_EQ(Frame(d.begin(), d.begin() + 8), with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, {}));
    EXPECT_TRUE(recv_frames(*a, 200ms).empty());

    const std::array<std::uint8_t, 8> good = {0x08, 0, 0, 0, 0, 0, 1, 0};
    // A foreign datagram with our exact header is accepted...
    const Frame f15 = make_frame(kBroadcast, mac_of(5), 15);
    raw_send("234.0.0.10", 15008, with_header(good, f15));
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f15);
    // ...but not a 14-byte frame, a bad flag, or nonzero reserved bytes.
    raw_send("234.0.0.10", 15008, with_header(good, make_frame(kBroadcast, mac_of(5), 14)));
    raw_send("234.0.0.10", 15008, with_header({0x0c, 0, 0, 0, 0, 0, 1, 0}, make_frame(kBroadcast, mac_of(5), 60)));
    raw_send("234.0.0.10", 15008, with_header({0x08, 1, 0, 0, 0, 0, 1, 0}, make_frame(kBroadcast, mac_of(5), 60)));
    raw_send("234.0.0.10", 15008, with_header({0x08, 0, 0, 0, 0, 0, 1, 1}, make_frame(kBroadcast, mac_of(5), 60)));
    raw_send("234.0.0.10", 15008, Frame(5, std::byte{0x08}));
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());
}

TEST(Vxvde, GrpSetsGroupAddressAndVni) {
    // grp=1000 (0x0003e8): group 239.0.3.232 and VNI 1000.
    auto a = open("vxvde:///grp=1000/port=15009");
    auto b = open("vxvde://239.0.3.232/vni=1000/port=15009");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    // An explicit vni wins over grp's.
    auto c = open("vxvde:///grp=1000/vni=7/port=15009");
    send_frame(*c, f);
    EXPECT_TRUE(recv_frames(*b, 300ms).empty());
}

TEST(Vxvde, DefaultGroupWorks) {
    auto a = open("vxvde://");
    auto b = open("vxvde:///v4");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

// IPv6 multicast does not loop through "lo" in a bare netns, so this test
// gives itself a veth pair (its netns is private) and names it with if=.
TEST(Vxvde, Ipv6) {
    if (std::system("ip link show vxv6a >/dev/null 2>&1 || { ip link add vxv6a type veth peer name vxv6b &&"
                    " ip link set vxv6a up && ip link set vxv6b up &&"
                    " ip -6 addr add fd00:56de::1/64 dev vxv6a nodad; } >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "cannot create a veth pair for the IPv6 test";
    auto a = open("vxvde://ff05::7/port=15010/if=vxv6a");
    auto b = open("vxvde:///v6/port=15010/if=vxv6a/grp=7");  // ff05:56de::1 -> ff05:56de::7, VNI 7
    auto c = open("vxvde://ff05:56de::7/port=15010/if=vxv6a/vni=7");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    EXPECT_TRUE(got.empty()) << "different group and VNI";
    send_frame(*b, f);
    got = recv_frames(*c, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_TRUE(recv_frames(*b, 300ms).empty()) << "IPv6 self-filter";
    // C learned B: the reply is unicast.
    const Frame reply = make_frame(mac_of(1), mac_of(2), 1514);
    send_frame(*c, reply);
    ASSERT_EQ(wait_readable(*b, 2s), 1);
    got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reply);
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());
}

void expect_error(std::string_view vnl, int err) {
    try {
        auto t = open(vnl);
        ADD_FAILURE() << vnl << ": opened, expected errno " << err;
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), err) << vnl << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(vnl), std::string::npos) << e.what();
    }
}

TEST(Vxvde, BadVnls) {
    expect_error("vxvde://234.0.0.7/nosuchoption=1", EINVAL);
    expect_error("vxvde://234.0.0.7/port=99999", EINVAL);
    expect_error("vxvde://234.0.0.7/port=http", EINVAL);
    expect_error("vxvde://234.0.0.7/port=0", EINVAL);
    expect_error("vxvde://10.0.0.1", EINVAL);
    expect_error("vxvde://::1/v6", EINVAL);
    expect_error("vxvde://not.an.address", EINVAL);
    expect_error("vxvde://234.0.0.7/v6", EINVAL);
    expect_error("vxvde://234.0.0.7/ttl=256", EINVAL);
    expect_error("vxvde://234.0.0.7/vni=16777216", EINVAL);
    expect_error("vxvde://234.0.0.7/vni=no_such_group_xyz", EINVAL);
    expect_error("vxvde://234.0.0.7/hashsize=0", EINVAL);
    expect_error("vxvde://234.0.0.7/bind=nowhere", EINVAL);
    expect_error("vxvde://234.0.0.7/if=nonexistent0", ENODEV);
}

// Joining a group without a multicast route fails in IP_ADD_MEMBERSHIP.
TEST(Vxvde, NoMulticastRouteIsEnodev) {
    if (std::system("ip route del 224.0.0.0/4 dev lo") != 0) GTEST_SKIP() << "cannot remove the multicast route";
    try {
        auto t = open("vxvde://234.0.0.7/port=15012");
        ADD_FAILURE() << "opened without a multicast route";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), ENODEV) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find("vxvde://234.0.0.7/port=15012"), std::string::npos) << what;
        EXPECT_NE(what.find("IP_ADD_MEMBERSHIP"), std::string::npos) << what;
    }
    EXPECT_EQ(std::system("ip route add 224.0.0.0/4 dev lo"), 0);
}

TEST(Vxvde, OptionsAccepted) {
    auto a = open("vxvde://234.0.0.7/port=15011/ttl=3/if=lo/hashsize=16/expiretime=5/rcvbuf=1m/bind=127.0.0.1");
    auto b = open("vxvde://234.0.0.7/p=15011/i=lo");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    EXPECT_TRUE(recv_frames(*a, 300ms).empty()) << "self-filter with bind=";
    const Frame reply = make_frame(mac_of(1), mac_of(2), 60);
    send_frame(*b, reply);
    got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], reply);
}

TEST(Null, DiscardsAndNeverFires) {
    auto n = vdestack::plug::open_null("null://", "", {});
    ASSERT_EQ(n->poll_fds().size(), 1u);
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    std::vector<FrameRef> refs = {{f.data(), f.size()}, {f.data(), 3}};
    EXPECT_EQ(n->send(refs), 2);
    EXPECT_FALSE(readable_now(n->poll_fds()[0]));
    Frame buf(kMaxFrame);
    std::array<FrameBuf, 1> bufs = {FrameBuf{buf.data(), buf.size(), 0}};
    EXPECT_EQ(n->recv(bufs), 0);
    EXPECT_EQ(n->vnl(), "null://");
    auto m = vdestack::plug::open_null("null://whatever/opt=1", "whatever/opt=1", {});
    EXPECT_EQ(m->send(refs), 2);
}

}  // namespace
