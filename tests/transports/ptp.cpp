// plug_ptp.cpp - the ptp:// transport (src/plug/ptp.cpp): Debian vdeplug4
// 4.0.1's datagram point-to-point cable (PATH for the first end, PATH+ for the
// second). Runs as root in the private netns of netns_main.cpp; AF_UNIX paths
// are not netns-scoped, so every test uses its own temp directory under /tmp.
//
// Covered: roles and paths, frames both ways at 60/1514/9234 bytes and in
// bursts larger than the unconnected datagram queue (10); cleanup of the
// paths and fds; bad VNLs (EINVAL naming the VNL), a third end (EADDRINUSE),
// a non-socket at PATH, a missing directory; either end leaving and a new one
// taking its place (ours and a SIGKILLed Debian one, the EPERM "refused for a
// while" of a new peer included); Debian's /usr/bin/vde_plug as the second and
// as the first end (driven over its stdin/stdout stream framing). All waits
// are bounded.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plug/transport.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/vnet.hpp"
#include "wire/whole.hpp"
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
using vdetest::TempDir;
Frame make_frame(std::size_t len, std::uint8_t seed) { return vdetest::make_frame(0x31, len, seed); }
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;
using vdetest::Child;
using vdetest::count_fds;
using vdetest::expect_open_error;
using vdetest::write_framed;
using vdetest::read_framed;

constexpr const char* kDebianVdePlug = "/usr/bin/vde_plug";

bool exists(const std::string& path) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0;
}

void send_frame(Transport& t, const Frame& f) { send_ok(t, {f}); }

// Sends `f` from `a` until `b` gets it (the link may need a peer check, at
// most a second, to come up); `b` is pumped meanwhile. True when it arrived.
bool deliver_eventually(Transport& a, Transport& b, const Frame& f, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        send_frame(a, f);
        (void)recv_frames(a, 0ms);  // let a run its peer check
        for (const Frame& g : recv_frames(b, 100ms))
            if (g == f) return true;
    }
    return false;
}

// A live socket is bound at `path` (a probe connect() is accepted, or refused
// with EPERM because it is connected to someone else).
bool live_socket(const std::string& path) {
    UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), std::min(path.size(), sizeof sa.sun_path - 1));
    return ::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno == EPERM;
}

// Starts Debian's vde_plug on `vnl` and waits until it is up (a live socket
// at `path`). Retries while it fails to open (a peer still tied to a dead
// socket), pumping `ours` (so that its peer check runs) meanwhile.
std::unique_ptr<Child> start_debian(const std::string& vnl, const std::string& path, Transport* ours,
                                    std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto c = std::make_unique<Child>(std::vector<std::string>{kDebianVdePlug, vnl});
        const auto step = std::chrono::steady_clock::now() + 1s;
        while (std::chrono::steady_clock::now() < step && c->running()) {
            if (live_socket(path)) return c;
            if (ours != nullptr) (void)recv_frames(*ours, 20ms);
            else std::this_thread::sleep_for(20ms);
        }
        if (c->running() && live_socket(path)) return c;
        if (ours != nullptr) (void)recv_frames(*ours, 200ms);
    }
    return nullptr;
}

// ---------------------------------------------------------------------------

TEST(Ptp, RolesPathsAndFramesBothWays) {
    TempDir tmp;
    const std::string path = tmp.path + "/cable";
    const int fds_before = count_fds();
    {
        auto a = open_transport("ptp://" + path);
        EXPECT_TRUE(exists(path));
        EXPECT_FALSE(exists(path + "+"));
        struct stat st{};
        ASSERT_EQ(::lstat(path.c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0700u);
        auto b = open_transport("ptp://" + path);
        EXPECT_TRUE(exists(path + "+"));
        EXPECT_EQ(a->vnl(), "ptp://" + path);
        EXPECT_EQ(a->poll_fds().size(), 2u);

        for (std::size_t len : {60u, 1514u, 9000u, static_cast<unsigned>(kMaxFrame)}) {
            const Frame f = make_frame(len, 1);
            send_frame(*a, f);
            auto got = recv_frames(*b, 2s, 1);
            ASSERT_EQ(got.size(), 1u) << len;
            EXPECT_EQ(got[0], f);
            const Frame g = make_frame(len, 2);
            send_frame(*b, g);
            got = recv_frames(*a, 2s, 1);
            ASSERT_EQ(got.size(), 1u) << len;
            EXPECT_EQ(got[0], g);
        }
        // Bursts beyond the unconnected queue limit (10 datagrams): both ends
        // are connected now, so the whole burst passes.
        std::vector<Frame> burst;
        for (std::uint8_t i = 0; i < 60; i++) burst.push_back(make_frame(1514, i));
        send_ok(*a, burst);
        EXPECT_EQ(recv_frames(*b, 3s, burst.size()), burst);
        send_ok(*b, burst);
        EXPECT_EQ(recv_frames(*a, 3s, burst.size()), burst);

        // Runts are not sent.
        const Frame runt(10, std::byte{1});
        send_frame(*a, runt);
        EXPECT_TRUE(recv_frames(*b, 100ms).empty());
    }
    EXPECT_FALSE(exists(path));
    EXPECT_FALSE(exists(path + "+"));
    EXPECT_EQ(count_fds(), fds_before);
}

// ---- whole frames (wire/whole.hpp) ----------------------------------------

using Got = vdetest::Received;

// Receives (recv() with 64 slots) for `timeout` or until `want` frames came.
std::vector<Got> recv_got(Transport& t, std::chrono::milliseconds timeout, std::size_t want = SIZE_MAX) {
    return vdetest::recv_vnet(t, timeout, want, {.slots = 64});
}

// Pumps both ends until pred() or the timeout; true when pred() held.
template <class P>
bool pump_until(Transport& a, Transport& b, P pred, std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        EXPECT_TRUE(recv_got(a, 20ms).empty());  // hellos are never delivered
        EXPECT_TRUE(recv_got(b, 20ms).empty());
    }
    return pred();
}

// A TCP/IPv4 super-segment as a tap hands it out: headers + payload bytes.
Frame super_segment(std::size_t payload) {
    Frame f = make_frame(14 + 20 + 20 + payload, 9);
    f[12] = std::byte{0x08};
    f[13] = std::byte{0x00};
    f[14] = std::byte{0x45};
    return f;
}

vdestack::wire::VnetHdr tso_hdr() {
    vdestack::wire::VnetHdr h;
    h.flags = vdestack::wire::VnetHdr::kNeedsCsum;
    h.gso_type = vdestack::wire::VnetHdr::kGsoTcpV4;
    h.hdr_len = 54;
    h.gso_size = 1448;
    h.csum_start = 34;
    h.csum_offset = 16;
    return h;
}

// send_whole() of f with header h, the frame in two parts (a gather).
void send_whole(Transport& t, const vdestack::wire::VnetHdr& h, const Frame& f) {
    std::array<std::byte, vdestack::wire::VnetHdr::kSize> raw{};
    h.store(raw);
    const std::size_t cut = f.size() / 3;
    const iovec iov[3] = {{raw.data(), raw.size()},
                          {const_cast<std::byte*>(f.data()), cut},
                          {const_cast<std::byte*>(f.data()) + cut, f.size() - cut}};
    EXPECT_EQ(t.send_whole(std::span<const iovec>(iov, 3)), 1);
}

TEST(Ptp, WholeFramesBetweenTwoOfOurEnds) {
    TempDir tmp;
    const std::string path = tmp.path + "/whole";
    auto a = open_transport("ptp://" + path);
    auto b = open_transport("ptp://" + path);
    EXPECT_FALSE(a->sends_whole());
    EXPECT_FALSE(b->sends_whole());
    a->accept_whole(true);
    b->accept_whole(true);  // b is connected: its hello goes now; a answers when it reads it
    // Frames behind the hello in a's first batch are delivered, in order.
    std::vector<Frame> behind;
    for (std::uint8_t i = 0; i < 5; i++) behind.push_back(make_frame(100 + 300 * i, i));
    send_ok(*b, behind);
    const auto first = recv_got(*a, 2s, behind.size());
    ASSERT_EQ(first.size(), behind.size());
    for (std::size_t i = 0; i < behind.size(); i++) EXPECT_EQ(first[i].frame, behind[i]) << i;
    ASSERT_TRUE(pump_until(*a, *b, [&] { return a->sends_whole() && b->sends_whole(); }));

    // Ordinary frames, a whole one, ordinary frames: in order, intact, the
    // whole one with its header.
    const Frame big = super_segment(60000);
    for (Transport* from : {a.get(), b.get()}) {
        Transport* to = from == a.get() ? b.get() : a.get();
        const Frame f1 = make_frame(1514, 1), f2 = make_frame(kMaxFrame, 2), f3 = make_frame(60, 3);
        send_ok(*from, {f1, f2});
        send_whole(*from, tso_hdr(), big);
        send_frame(*from, f3);
        const auto got = recv_got(*to, 3s, 4);
        ASSERT_EQ(got.size(), 4u);
        EXPECT_EQ(got[0].frame, f1);
        EXPECT_FALSE(got[0].vnet);
        EXPECT_EQ(got[1].frame, f2);
        EXPECT_EQ(got[2].frame, big);
        ASSERT_TRUE(got[2].vnet);
        EXPECT_EQ(*got[2].vnet, tso_hdr());
        EXPECT_EQ(got[3].frame, f3);
        EXPECT_FALSE(got[3].vnet);
    }
    // More whole frames than a recv() has room for in one call all arrive.
    for (int i = 0; i < 40; i++) send_whole(*a, tso_hdr(), super_segment(1000 + static_cast<std::size_t>(i) * 1000));
    const auto got = recv_got(*b, 5s, 40);
    ASSERT_EQ(got.size(), 40u);
    for (std::size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i].frame, super_segment(1000 + i * 1000)) << i;

    // An envelope that is not a TCP super-segment is dropped, never delivered.
    auto bad_head = vdestack::wire::whole::envelope_head(tso_hdr());
    bad_head[vdestack::wire::whole::kPrefix + 1] = std::byte{3};  // UDP
    Frame bad(bad_head.begin(), bad_head.end());
    bad.resize(bad.size() + 500);
    send_frame(*a, bad);
    const Frame after = make_frame(100, 7);
    send_frame(*a, after);
    const auto rest = recv_got(*b, 2s, 1);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].frame, after);
}

TEST(Ptp, WholeFramesOnlyToAPeerThatSaidSo) {
    TempDir tmp;
    const std::string path = tmp.path + "/half";
    auto a = open_transport("ptp://" + path);
    auto b = open_transport("ptp://" + path);
    a->accept_whole(true);  // b's caller cannot take them (a vde_plug, say)
    const Frame f = make_frame(1514, 4);
    ASSERT_TRUE(deliver_eventually(*b, *a, f, 3s));  // a reads b's frame, connects, says hello
    EXPECT_TRUE(pump_until(*a, *b, [&] { return b->sends_whole(); }));
    EXPECT_FALSE(a->sends_whole());

    // Both take them; then b is replaced by an end that does not: a must
    // stop sending whole frames to the new peer.
    b->accept_whole(true);
    ASSERT_TRUE(pump_until(*a, *b, [&] { return a->sends_whole(); }));
    b.reset();
    auto c = open_transport("ptp://" + path);
    ASSERT_TRUE(deliver_eventually(*a, *c, make_frame(1514, 5), 5s));
    ASSERT_TRUE(deliver_eventually(*c, *a, make_frame(1514, 6), 5s));
    EXPECT_FALSE(a->sends_whole());
}

TEST(Ptp, DebianPeerNeverGetsWholeFrames) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string path = tmp.path + "/deb";
    const std::string vnl = "ptp://" + path;
    auto ours = open_transport(vnl);
    ours->accept_whole(true);
    auto deb = start_debian(vnl, path + "+", nullptr, 5s);
    ASSERT_NE(deb, nullptr);
    // Our first end connects with its first frame and says hello first:
    // Debian's end passes the hello on as an ordinary frame, and never
    // answers one.
    const Frame f = make_frame(1514, 30);
    ASSERT_TRUE(write_framed(deb->to(), f));
    auto got = recv_frames(*ours, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    const Frame g = make_frame(9000, 31);
    send_frame(*ours, g);
    auto hello = read_framed(deb->from(), 3s);
    ASSERT_TRUE(hello.has_value());
    EXPECT_TRUE(vdestack::wire::whole::is_hello(*hello));
    auto back = read_framed(deb->from(), 3s);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, g);
    const Frame k = make_frame(1514, 32);
    ASSERT_TRUE(write_framed(deb->to(), k));
    got = recv_frames(*ours, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], k);
    EXPECT_FALSE(ours->sends_whole());
}

TEST(Ptp, AHelloPassedOnByAPlainBridgeIsNotBelieved) {
    // ours A on ptp://P, ours B on ptp://Q, Debian's `vde_plug ptp://P
    // ptp://Q` joining them: each hello reaches the far end as an ordinary
    // frame, from a peer (Debian's) that cannot take whole frames.
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string p = tmp.path + "/p", q = tmp.path + "/q";
    auto a = open_transport("ptp://" + p);
    auto b = open_transport("ptp://" + q);
    a->accept_whole(true);
    b->accept_whole(true);
    Child deb({kDebianVdePlug, "ptp://" + p, "ptp://" + q});
    const auto up = std::chrono::steady_clock::now() + 5s;
    while (!(live_socket(p + "+") && live_socket(q + "+")) && std::chrono::steady_clock::now() < up)
        std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(live_socket(p + "+") && live_socket(q + "+")) << "Debian's vde_plug did not start";
    ASSERT_TRUE(deliver_eventually(*a, *b, make_frame(1514, 40), 5s));
    ASSERT_TRUE(deliver_eventually(*b, *a, make_frame(1514, 41), 5s));
    // Both have said hello by now (they connected to send); let the hellos
    // travel through the bridge and be read.
    const auto settle = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < settle) {
        for (const Got& g : recv_got(*a, 20ms)) EXPECT_FALSE(vdestack::wire::whole::is_hello(g.frame));
        for (const Got& g : recv_got(*b, 20ms)) EXPECT_FALSE(vdestack::wire::whole::is_hello(g.frame));
    }
    EXPECT_FALSE(a->sends_whole());
    EXPECT_FALSE(b->sends_whole());
}

TEST(Ptp, BadVnlsAndTakenEnds) {
    TempDir tmp;
    const int fds_before = count_fds();
    expect_open_error("ptp://", EINVAL);
    expect_open_error("ptp://" + std::string(120, 'x'), EINVAL);
    expect_open_error("ptp://" + tmp.path + "/no/such/dir/p", ENOENT);
    // A regular file at PATH.
    const std::string file = tmp.path + "/file";
    { UniqueFd f(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
    expect_open_error("ptp://" + file, EADDRINUSE);
    // A third end.
    const std::string path = tmp.path + "/p";
    {
        auto a = open_transport("ptp://" + path);
        auto b = open_transport("ptp://" + path);
        expect_open_error("ptp://" + path, EADDRINUSE);
        // ... and the cable still works.
        const Frame f = make_frame(100, 3);
        send_frame(*a, f);
        EXPECT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    }
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Ptp, StaleSocketsAreReplaced) {
    TempDir tmp;
    const std::string path = tmp.path + "/p";
    // Leave dead sockets at PATH and PATH+ (as a killed process does).
    for (const std::string& p : {path, path + "+"}) {
        UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, p.c_str(), p.size());
        ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    }
    auto a = open_transport("ptp://" + path);
    auto b = open_transport("ptp://" + path);
    const Frame f = make_frame(1514, 4);
    send_frame(*b, f);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST(Ptp, EitherEndLeavesAndAnotherTakesItsPlace) {
    TempDir tmp;
    const std::string path = tmp.path + "/p";
    const int fds_before = count_fds();
    {
        auto a = open_transport("ptp://" + path);
        auto b = open_transport("ptp://" + path);
        ASSERT_TRUE(deliver_eventually(*a, *b, make_frame(200, 5), 3s));

        // The second end leaves: the first end drops frames, without error.
        b.reset();
        for (int i = 0; i < 5; i++) send_frame(*a, make_frame(1514, 6));
        EXPECT_TRUE(recv_frames(*a, 100ms).empty());

        // A new second end works both ways (the first end notices within a
        // second that its old peer is gone).
        auto b2 = open_transport("ptp://" + path);
        EXPECT_TRUE(deliver_eventually(*a, *b2, make_frame(300, 7), 5s));
        EXPECT_TRUE(deliver_eventually(*b2, *a, make_frame(301, 8), 5s));

        // The first end leaves; a new process takes PATH as the first end.
        a.reset();
        EXPECT_FALSE(exists(path));
        send_frame(*b2, make_frame(1514, 9));
        auto a2 = open_transport("ptp://" + path);
        EXPECT_TRUE(deliver_eventually(*a2, *b2, make_frame(400, 10), 5s));
        EXPECT_TRUE(deliver_eventually(*b2, *a2, make_frame(401, 11), 5s));
    }
    EXPECT_EQ(count_fds(), fds_before);
}

// Debian's vde_plug as the second end, ours first.
TEST(Ptp, DebianSecondEnd) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string path = tmp.path + "/p";
    const std::string vnl = "ptp://" + path;
    const int fds_before = count_fds();
    {
        auto ours = open_transport(vnl);
        auto deb = start_debian(vnl, path + "+", nullptr, 5s);
        ASSERT_NE(deb, nullptr) << "Debian's vde_plug did not become the second end";

        for (std::size_t len : {60u, 1514u, 9000u}) {
            // Debian -> ours
            const Frame f = make_frame(len, 20);
            ASSERT_TRUE(write_framed(deb->to(), f));
            auto got = recv_frames(*ours, 3s, 1);
            ASSERT_EQ(got.size(), 1u) << len;
            EXPECT_EQ(got[0], f);
            // ours -> Debian
            const Frame g = make_frame(len, 21);
            send_frame(*ours, g);
            auto back = read_framed(deb->from(), 3s);
            ASSERT_TRUE(back.has_value()) << len;
            EXPECT_EQ(*back, g);
        }

        // Debian's end is SIGKILLed (its PATH+ stays behind, a dead socket).
        // Debian's own first end would refuse the next second end with EPERM
        // until it sent a frame; ours lets it in within a second.
        deb->kill9();
        EXPECT_TRUE(exists(path + "+"));
        EXPECT_FALSE(live_socket(path + "+"));
        auto deb2 = start_debian(vnl, path + "+", ours.get(), 6s);
        ASSERT_NE(deb2, nullptr) << "a new Debian second end could not join";
        const Frame h = make_frame(1514, 23);
        bool arrived = false;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!arrived && std::chrono::steady_clock::now() < deadline) {
            send_frame(*ours, h);
            auto back = read_framed(deb2->from(), 200ms);
            arrived = back.has_value() && *back == h;
        }
        EXPECT_TRUE(arrived);
        const Frame k = make_frame(9000, 24);
        ASSERT_TRUE(write_framed(deb2->to(), k));
        auto got = recv_frames(*ours, 3s, 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], k);
    }
    EXPECT_FALSE(exists(path));
    EXPECT_EQ(count_fds(), fds_before);
}

// Debian's vde_plug as the first end, ours second.
TEST(Ptp, DebianFirstEnd) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string path = tmp.path + "/p";
    const std::string vnl = "ptp://" + path;
    const int fds_before = count_fds();
    {
        auto deb = start_debian(vnl, path, nullptr, 5s);
        ASSERT_NE(deb, nullptr) << "Debian's vde_plug did not start";
        auto ours = open_transport(vnl);
        EXPECT_TRUE(exists(path + "+"));

        for (std::size_t len : {60u, 1514u, 9000u}) {
            const Frame g = make_frame(len, 31);
            send_frame(*ours, g);
            auto back = read_framed(deb->from(), 3s);
            ASSERT_TRUE(back.has_value()) << len;
            EXPECT_EQ(*back, g);
            const Frame f = make_frame(len, 30);
            ASSERT_TRUE(write_framed(deb->to(), f));
            auto got = recv_frames(*ours, 3s, 1);
            ASSERT_EQ(got.size(), 1u) << len;
            EXPECT_EQ(got[0], f);
        }

        // Debian's first end is SIGKILLed and restarted: it removes its stale
        // PATH and binds a new one (often with the same inode number). Ours
        // is still connected to the dead socket, so the new first end's
        // frames are refused (EPERM) until our peer check notices the new
        // file and reconnects, within a second -- without any send from us.
        deb->kill9();
        EXPECT_FALSE(live_socket(path));
        auto deb2 = start_debian(vnl, path, ours.get(), 5s);
        ASSERT_NE(deb2, nullptr);
        const Frame k = make_frame(9000, 34);
        bool arrived = false;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!arrived && std::chrono::steady_clock::now() < deadline) {
            ASSERT_TRUE(write_framed(deb2->to(), k));
            for (const Frame& g : recv_frames(*ours, 200ms)) arrived = arrived || g == k;
        }
        EXPECT_TRUE(arrived);
        const Frame h = make_frame(1514, 33);
        send_frame(*ours, h);
        auto back = read_framed(deb2->from(), 3s);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, h);
    }
    EXPECT_FALSE(exists(path + "+"));
    EXPECT_EQ(count_fds(), fds_before);
}

// Pitfall 9: Debian's first end stays connected to a second end that was
// SIGKILLed, so Debian's next second end is refused (EPERM). Ours opens
// anyway (the dead PATH+ is replaced) and the cable works as soon as the
// first end sends (its send to the dead peer fails and un-connects it; the
// next one connects to us).
TEST(Ptp, JoinsDebianFirstEndTiedToADeadPeer) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string path = tmp.path + "/p";
    const std::string vnl = "ptp://" + path;
    auto first = start_debian(vnl, path, nullptr, 5s);
    ASSERT_NE(first, nullptr);
    auto second = start_debian(vnl, path + "+", nullptr, 5s);
    ASSERT_NE(second, nullptr);
    const Frame f = make_frame(1514, 50);
    ASSERT_TRUE(write_framed(first->to(), f));  // Debian's first end connects to it
    auto got1 = read_framed(second->from(), 3s);
    ASSERT_TRUE(got1.has_value());
    EXPECT_EQ(*got1, f);
    second->kill9();

    // Debian's own second end is refused now...
    {
        Child refused({kDebianVdePlug, vnl});
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        while (refused.running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
        EXPECT_FALSE(refused.running()) << "Debian's second end was not refused (EPERM expected)";
    }
    // ... ours opens, and works once the first end has sent.
    auto ours = open_transport(vnl);
    const Frame g = make_frame(1514, 51);
    bool arrived = false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!arrived && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(write_framed(first->to(), g));
        for (const Frame& h : recv_frames(*ours, 200ms)) arrived = arrived || h == g;
    }
    EXPECT_TRUE(arrived);
    const Frame k = make_frame(9000, 52);
    send_frame(*ours, k);
    auto back = read_framed(first->from(), 3s);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, k);
}

}  // namespace
