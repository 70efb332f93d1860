// vxvde_shared.cpp - vxvde:// with a shared group socket (OpenOptions::shared,
// plug/udp/vxvde_group.hpp), run inside the private network namespace that
// netns_main.cpp sets up. Each member's "tap" is a datagram socket pair: the
// group writes the member's frames into one end, the test reads the other.
//
// Covered: one pair of sockets per network (not per VNI/port); a peer's broadcast
// reaches every member once; a member's broadcast reaches the others and the
// peer but not itself; multicast of a group goes only to the members whose
// MLD/IGMP reports joined it (and to all with snooping off), all-nodes to
// all; unicast on the group only to the member that owns the MAC, unknown
// unicast to all; no inbox, no frames; the shared table lets a member
// unicast to a peer learned from the group; members leave with their
// transports. All waits are bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hpp"
#include "plug/transport.hpp"
#include "plug/udp/vxvde.hpp"
#include "plug/udp/vxvde_group.hpp"
#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::UniqueFd;
using vdestack::plug::OpenOptions;
using vdestack::plug::SharedSources;
using vdestack::plug::Transport;
using vdestack::plug::VxvdeGroup;
using vdetest::Frame;
using vdetest::kBroadcast;
using vdetest::Mac;
using vdetest::make_frame;
using vdetest::recv_frames;
using vdetest::send_ok;

Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x20, n); }

std::unique_ptr<Transport> open(std::string_view vnl, const OpenOptions& opts = {}) {
    constexpr std::string_view scheme = "vxvde://";
    return vdestack::plug::open_vxvde(vnl, vnl.substr(scheme.size()), opts);
}

VxvdeGroup& group_of(Transport& t) { return *static_cast<VxvdeGroup*>(t.shared_source()); }

// The token of the test's one "engine" (what an Engine passes as itself).
const int kEngine = 0;

// A member, as an engine runs it (attached, with an inbox), the fds the
// engine would poll, and the test's end of its tap.
struct Member {
    std::unique_ptr<Transport> t;
    UniqueFd tap, mine;
    std::vector<int> fds;
};

Member member(std::string_view vnl, const OpenOptions& opts, const void* engine = &kEngine) {
    Member m;
    m.t = open(vnl, opts);
    const auto fds = group_of(*m.t).attach(engine);
    m.fds.assign(fds.begin(), fds.end());
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    m.tap = UniqueFd(sv[0]);
    m.mine = UniqueFd(sv[1]);
    m.t->set_inbox({m.tap.get(), false, engine});
    return m;
}

// Runs the group's reader for `for_ms`, then returns what each member got.
std::vector<std::vector<Frame>> pump(VxvdeGroup& g, std::vector<Member*> ms, std::chrono::milliseconds for_ms = 300ms) {
    const auto end = std::chrono::steady_clock::now() + for_ms;
    std::vector<pollfd> p;
    for (const Member* m : ms)
        for (int fd : m->fds)
            if (std::none_of(p.begin(), p.end(), [fd](const pollfd& x) { return x.fd == fd; })) p.push_back({fd, POLLIN, 0});
    while (std::chrono::steady_clock::now() < end) {
        if (::poll(p.data(), p.size(), 20) <= 0) continue;
        for (const pollfd& x : p)
            if ((x.revents & POLLIN) != 0) g.drain(x.fd);
    }
    std::vector<std::vector<Frame>> got(ms.size());
    for (std::size_t i = 0; i < ms.size(); i++) {
        for (;;) {
            Frame f(9300);
            const ssize_t n = ::recv(ms[i]->mine.get(), f.data(), f.size(), MSG_DONTWAIT);
            if (n < 0) break;
            f.resize(static_cast<std::size_t>(n));
            got[i].push_back(f);
        }
    }
    return got;
}

OpenOptions shared_opts(SharedSources& s, bool snoop = true) {
    OpenOptions o;
    o.shared = &s;
    o.tuning.snoop = snoop;
    return o;
}

// An Ethernet frame to `dst` with `ethertype` and 46 bytes of payload.
Frame frame_to(const Mac& dst, const Mac& src, std::uint16_t ethertype = 0x86dd) {
    Frame f(dst.begin(), dst.end());
    f.insert(f.end(), src.begin(), src.end());
    f.push_back(std::byte(ethertype >> 8));
    f.push_back(std::byte(ethertype & 0xff));
    f.resize(60, std::byte{0x5a});
    return f;
}

// An MLDv2 report from `src`: one record, `join` (CHANGE_TO_EXCLUDE {}) or
// leave (CHANGE_TO_INCLUDE {}), for ff02::1:ff00:00NN.
Frame mld_report(const Mac& src, std::uint8_t nn, bool join) {
    const Mac dst = {std::byte{0x33}, std::byte{0x33}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x16}};
    Frame f(dst.begin(), dst.end());
    f.insert(f.end(), src.begin(), src.end());
    auto add = [&](std::initializer_list<unsigned> v) {
        for (unsigned x : v) f.push_back(static_cast<std::byte>(x));
    };
    add({0x86, 0xdd, 0x60, 0, 0, 0, 0, 36, 0, 1});
    add({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    add({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16});
    add({58, 0, 5, 2, 0, 0, 1, 0});                      // hop-by-hop, Router Alert
    add({143, 0, 0, 0, 0, 0, 0, 1});                     // MLDv2 report, 1 record
    add({join ? 4u : 3u, 0, 0, 0});
    add({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, nn});
    return f;
}

const Mac kSolicited1 = {std::byte{0x33}, std::byte{0x33}, std::byte{0xff}, std::byte{0}, std::byte{0}, std::byte{1}};
const Mac kAllNodes = {std::byte{0x33}, std::byte{0x33}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};

TEST(VxvdeShared, OneSocketPerNetwork) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto a = open("vxvde://234.0.0.9/port=15100", o);
    auto b = open("vxvde://234.0.0.9/port=15100", o);
    auto c = open("vxvde://234.0.0.9/port=15101", o);
    auto d = open("vxvde://234.0.0.9/port=15100/vni=7", o);
    ASSERT_NE(a->shared_source(), nullptr);
    EXPECT_EQ(a->shared_source(), b->shared_source());
    EXPECT_NE(a->shared_source(), c->shared_source());
    EXPECT_NE(a->shared_source(), d->shared_source());
    EXPECT_TRUE(a->poll_fds().empty());  // the group's sockets serve it
    // An engine polls the group socket and a unicast socket of its own.
    const int e1 = 1, e2 = 2;
    const auto f1 = group_of(*a).attach(&e1);
    const auto f2 = group_of(*a).attach(&e2);
    ASSERT_EQ(f1.size(), 2u);
    ASSERT_EQ(f2.size(), 2u);
    EXPECT_EQ(f1[0], f2[0]);
    EXPECT_NE(f1[1], f2[1]);
    EXPECT_EQ(group_of(*a).attach(&e1)[1], f1[1]);  // attached twice: the same socket
    group_of(*a).detach(&e1);
    group_of(*a).detach(&e1);
    group_of(*a).detach(&e2);
    EXPECT_EQ(group_of(*a).members(), 2u);
    b.reset();
    EXPECT_EQ(group_of(*a).members(), 1u);
    // Alone (no SharedSources): its own group socket, as before.
    auto e = open("vxvde://234.0.0.9/port=15100");
    EXPECT_EQ(e->shared_source(), nullptr);
    EXPECT_EQ(e->poll_fds().size(), 2u);
}

TEST(VxvdeShared, BroadcastsReachEveryOtherMemberOnce) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15102");
    Member a = member("vxvde://234.0.0.9/port=15102", o);
    Member b = member("vxvde://234.0.0.9/port=15102", o);
    VxvdeGroup& g = group_of(*a.t);

    const Frame from_peer = make_frame(kBroadcast, mac_of(1), 60);
    send_ok(*peer, {from_peer});
    auto got = pump(g, {&a, &b});
    ASSERT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[0][0], from_peer);
    ASSERT_EQ(got[1].size(), 1u);
    EXPECT_EQ(got[1][0], from_peer);

    const Frame from_a = make_frame(kBroadcast, mac_of(2), 80);
    send_ok(*a.t, {from_a});
    got = pump(g, {&a, &b});
    EXPECT_TRUE(got[0].empty()) << "the sender got its own broadcast";
    ASSERT_EQ(got[1].size(), 1u);
    EXPECT_EQ(got[1][0], from_a);
    const auto at_peer = recv_frames(*peer, 2s, 1);
    ASSERT_EQ(at_peer.size(), 1u);
    EXPECT_EQ(at_peer[0], from_a);
}

TEST(VxvdeShared, GroupMulticastGoesOnlyToMembersThatJoined) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15103");
    Member a = member("vxvde://234.0.0.9/port=15103", o);
    Member b = member("vxvde://234.0.0.9/port=15103", o);
    VxvdeGroup& g = group_of(*a.t);
    const Frame ns = frame_to(kSolicited1, mac_of(1));

    send_ok(*peer, {ns});
    auto got = pump(g, {&a, &b});
    EXPECT_TRUE(got[0].empty());
    EXPECT_TRUE(got[1].empty());

    // A's stack joins ff02::1:ff00:1 (its report goes out as usual) ...
    send_ok(*a.t, {mld_report(mac_of(0xa), 1, true)});
    EXPECT_EQ(g.listeners(kSolicited1), 1u);
    EXPECT_EQ(recv_frames(*peer, 2s, 1).size(), 1u) << "the report itself still goes to the network";
    (void)pump(g, {&a, &b});  // the report, looped back, is for nobody here
    send_ok(*peer, {ns});
    got = pump(g, {&a, &b});
    ASSERT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[0][0], ns);
    EXPECT_TRUE(got[1].empty());

    // ... all-nodes is everybody's ...
    send_ok(*peer, {frame_to(kAllNodes, mac_of(1))});
    got = pump(g, {&a, &b});
    EXPECT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[1].size(), 1u);

    // ... and after A leaves the group, nobody gets it.
    send_ok(*a.t, {mld_report(mac_of(0xa), 1, false)});
    EXPECT_EQ(g.listeners(kSolicited1), 0u);
    (void)pump(g, {&a, &b});
    send_ok(*peer, {ns});
    got = pump(g, {&a, &b});
    EXPECT_TRUE(got[0].empty());
    EXPECT_TRUE(got[1].empty());
}

TEST(VxvdeShared, WithoutSnoopingEveryMemberGetsEveryMulticast) {
    SharedSources s;
    const auto o = shared_opts(s, false);
    auto peer = open("vxvde://234.0.0.9/port=15104");
    Member a = member("vxvde://234.0.0.9/port=15104", o);
    Member b = member("vxvde://234.0.0.9/port=15104", o);
    send_ok(*peer, {frame_to(kSolicited1, mac_of(1))});
    const auto got = pump(group_of(*a.t), {&a, &b});
    EXPECT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[1].size(), 1u);
}

TEST(VxvdeShared, UnicastOnTheGroupGoesToItsOwner) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15105");
    Member a = member("vxvde://234.0.0.9/port=15105", o);
    Member b = member("vxvde://234.0.0.9/port=15105", o);
    VxvdeGroup& g = group_of(*a.t);
    send_ok(*b.t, {make_frame(kBroadcast, mac_of(0xb), 60)});  // B sends from its MAC
    (void)pump(g, {&a, &b});
    (void)recv_frames(*peer, 2s, 1);

    // A datagram to the group for B's MAC (what a peer sends before it has
    // learned where B is) goes to B alone; an unknown MAC floods.
    vdestack::UniqueFd raw(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(15105);
    ::inet_pton(AF_INET, "234.0.0.9", &sa.sin_addr);
    auto send_raw = [&](const Frame& f) {
        Frame d = {std::byte{0x08}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0}};  // VNI 1
        d.insert(d.end(), f.begin(), f.end());
        ASSERT_EQ(::sendto(raw.get(), d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
                  static_cast<ssize_t>(d.size()));
    };
    send_raw(frame_to(mac_of(0xb), mac_of(3), 0x0800));
    auto got = pump(g, {&a, &b});
    EXPECT_TRUE(got[0].empty());
    EXPECT_EQ(got[1].size(), 1u);
    send_raw(frame_to(mac_of(0x77), mac_of(3), 0x0800));
    got = pump(g, {&a, &b});
    EXPECT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[1].size(), 1u);
}

TEST(VxvdeShared, PeersReplyToTheOneAddressAndEachStackGetsItsOwn) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15108");
    Member a = member("vxvde://234.0.0.9/port=15108", o);
    Member b = member("vxvde://234.0.0.9/port=15108", o);
    VxvdeGroup& g = group_of(*a.t);
    send_ok(*a.t, {make_frame(kBroadcast, mac_of(0xa), 60)});
    send_ok(*b.t, {make_frame(kBroadcast, mac_of(0xb), 60)});
    EXPECT_EQ(recv_frames(*peer, 2s, 2).size(), 2u);  // the peer learns both MACs (at one address)
    (void)pump(g, {&a, &b});
    // Its unicast replies come to the group's unicast socket, each to its stack.
    const Frame to_a = make_frame(mac_of(0xa), mac_of(1), 100, 1);
    const Frame to_b = make_frame(mac_of(0xb), mac_of(1), 200, 2);
    send_ok(*peer, {to_a, to_b, to_a});
    auto got = pump(g, {&a, &b});
    ASSERT_EQ(got[0].size(), 2u);
    EXPECT_EQ(got[0][0], to_a);
    EXPECT_EQ(got[0][1], to_a);
    ASSERT_EQ(got[1].size(), 1u);
    EXPECT_EQ(got[1][0], to_b);
    // A frame for a stack that is gone is dropped, not flooded.
    b.t.reset();
    send_ok(*peer, {to_b});
    got = pump(g, {&a});
    EXPECT_TRUE(got[0].empty());
}

TEST(VxvdeShared, EachEngineHasItsUnicastSocketAndItsStacksUnicastComesThere) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15109");
    const int e1 = 1, e2 = 2;
    Member a = member("vxvde://234.0.0.9/port=15109", o, &e1);
    Member b = member("vxvde://234.0.0.9/port=15109", o, &e2);
    VxvdeGroup& g = group_of(*a.t);
    ASSERT_NE(a.fds[1], b.fds[1]);
    send_ok(*a.t, {make_frame(kBroadcast, mac_of(0xa), 60)});
    send_ok(*b.t, {make_frame(kBroadcast, mac_of(0xb), 60)});
    EXPECT_EQ(recv_frames(*peer, 2s, 2).size(), 2u);
    (void)pump(g, {&a, &b});
    send_ok(*peer, {make_frame(mac_of(0xa), mac_of(1), 100, 1), make_frame(mac_of(0xb), mac_of(1), 100, 2)});
    // Each reply waits on its engine's socket.
    pollfd pa{a.fds[1], POLLIN, 0}, pb{b.fds[1], POLLIN, 0};
    EXPECT_EQ(::poll(&pa, 1, 2000), 1);
    EXPECT_EQ(::poll(&pb, 1, 2000), 1);
    auto got = pump(g, {&a, &b});
    EXPECT_EQ(got[0].size(), 1u);
    EXPECT_EQ(got[1].size(), 1u);
    // The last stack of an engine gone, the engine detaches: its socket says goodbye.
    g.detach(&e2);
    b.t.reset();
    // The peer forgot b's MAC: a frame for it goes to the group now (a gets
    // it: an unknown unicast floods), not to the closed socket.
    (void)recv_frames(*peer, 300ms);  // the leave is consumed there
    send_ok(*peer, {make_frame(mac_of(0xb), mac_of(1), 100, 3)});
    got = pump(g, {&a});
    EXPECT_EQ(got[0].size(), 1u);
}

TEST(VxvdeShared, NoInboxNoFrames) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15106");
    Member a = member("vxvde://234.0.0.9/port=15106", o);
    Member b = member("vxvde://234.0.0.9/port=15106", o);
    a.t->set_inbox({});  // frozen, say
    send_ok(*peer, {make_frame(kBroadcast, mac_of(1), 60)});
    auto got = pump(group_of(*a.t), {&a, &b});
    EXPECT_TRUE(got[0].empty());
    EXPECT_EQ(got[1].size(), 1u);
    a.t->set_inbox({a.tap.get(), false});  // thawed
    send_ok(*peer, {make_frame(kBroadcast, mac_of(1), 60)});
    got = pump(group_of(*a.t), {&a, &b});
    EXPECT_EQ(got[0].size(), 1u);
}

TEST(VxvdeShared, MembersUnicastToPeersLearnedFromTheGroup) {
    SharedSources s;
    const auto o = shared_opts(s);
    auto peer = open("vxvde://234.0.0.9/port=15107");
    auto third = open("vxvde://234.0.0.9/port=15107");
    Member a = member("vxvde://234.0.0.9/port=15107", o);
    Member b = member("vxvde://234.0.0.9/port=15107", o);
    send_ok(*peer, {make_frame(kBroadcast, mac_of(1), 60)});
    (void)pump(group_of(*a.t), {&a, &b});
    (void)recv_frames(*third, 1s, 1);
    // B never read a datagram itself, yet it knows where mac_of(1) is: its
    // frame goes to the peer's unicast socket, and the third peer sees nothing.
    const Frame reply = make_frame(mac_of(1), mac_of(0xb), 70);
    send_ok(*b.t, {reply});
    const auto at_peer = recv_frames(*peer, 2s, 1);
    ASSERT_EQ(at_peer.size(), 1u);
    EXPECT_EQ(at_peer[0], reply);
    EXPECT_TRUE(recv_frames(*third, 300ms).empty()) << "the reply was flooded to the group";
}

}  // namespace
