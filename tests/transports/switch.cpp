// plug_switch.cpp - our switch:// and hub:// nodes (src/plug/switch.cpp) with
// our vde:// client (src/plug/vde.cpp), and with DEBIAN's vde_plug
// (vdeplug4's libvdeplug_vde) as a client of our switch. Runs as root in the
// private netns of netns_main.cpp (AF_UNIX paths are not netns-scoped, so
// every test uses its own temp directory under /tmp).
//
// The node is serviced by a Runner thread (the node's recv() is where it
// accepts clients and forwards, and vde:// open() waits for its reply), which
// owns the transport until stop(); clients are used from the test thread.
// Covered: frames both ways at 1514 and 9234 bytes; learning (a unicast to A is
// not seen by C or the host); hub flooding; client disconnect removes the port
// and its socket; destroying the node makes clients' recv() fail (and the
// directory disappear); a silent client does not block the node and is dropped
// after 5 s; requests in pieces; bad magic and REQ_NEW_PORT0 refused; an
// already running node; bad VNLs (EINVAL naming the key); no switch
// (ENOENT/ECONNREFUSED); Debian's vde_plug both ways through our switch. All
// waits are bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plug/unix/switch.hpp"
#include "plug/transport.hpp"
#include "wire/vnet.hpp"
#include "plug/unix/vde.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/vde_ctl.hpp"
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
using vdetest::Mac;
using vdetest::kBroadcast;
using vdetest::TempDir;
Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x20, n); }
using vdetest::make_frame;
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;
using vdetest::Child;
using vdetest::write_framed;
using vdetest::read_framed;


void send_frame(Transport& t, const Frame& f) {
    const FrameRef r{f.data(), f.size()};
    EXPECT_EQ(t.send({&r, 1}), 1);
}

// Services a node (switch:// or hub://) in a thread: host frames the node
// delivers are collected; frames given to send() are injected as the host.
class Runner {
public:
    explicit Runner(std::unique_ptr<Transport> t) : t_(std::move(t)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        thread_ = std::thread([this] { loop(); });
    }
    ~Runner() { stop(); }
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    void stop() {
        if (!thread_.joinable()) return;
        stop_ = true;
        poke();
        thread_.join();
    }
    // Stops the thread and destroys the node.
    void destroy() {
        stop();
        t_.reset();
    }
    void send(Frame f) {
        {
            std::lock_guard<std::mutex> lk(mu_);
            out_.push_back(std::move(f));
        }
        poke();
    }
    std::vector<Frame> take(std::chrono::milliseconds timeout, std::size_t want = SIZE_MAX) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait_for(lk, timeout, [&] { return in_.size() >= want; });
        std::vector<Frame> got;
        got.swap(in_);
        return got;
    }
    std::uint64_t loops() const { return loops_; }

private:
    void poke() {
        const std::uint64_t one = 1;
        (void)!::write(wake_.get(), &one, sizeof one);
    }
    void loop() {
        constexpr std::size_t kSlots = 16;
        std::vector<Frame> storage(kSlots, Frame(kMaxFrame));
        std::vector<FrameBuf> bufs(kSlots);
        while (!stop_) {
            std::array<pollfd, 2> p{{{t_->poll_fds()[0], POLLIN, 0}, {wake_.get(), POLLIN, 0}}};
            if (::poll(p.data(), p.size(), 1000) < 0) continue;
            loops_++;
            if ((p[1].revents & POLLIN) != 0) {
                std::uint64_t v = 0;
                (void)!::read(wake_.get(), &v, sizeof v);
                std::vector<Frame> out;
                {
                    std::lock_guard<std::mutex> lk(mu_);
                    out.swap(out_);
                }
                for (const Frame& f : out) {
                    const FrameRef r{f.data(), f.size()};
                    (void)t_->send({&r, 1});
                }
            }
            if ((p[0].revents & POLLIN) != 0) {
                for (std::size_t i = 0; i < kSlots; i++) bufs[i] = {storage[i].data(), storage[i].size(), 0};
                const ssize_t n = t_->recv(bufs);
                if (n > 0) {
                    std::lock_guard<std::mutex> lk(mu_);
                    for (ssize_t i = 0; i < n; i++) {
                        const FrameBuf& b = bufs[static_cast<std::size_t>(i)];
                        in_.emplace_back(b.data, b.data + b.len);
                    }
                    cv_.notify_all();
                }
            }
        }
    }

    std::unique_ptr<Transport> t_;
    UniqueFd wake_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> loops_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Frame> in_;
    std::vector<Frame> out_;
};

int count_fd_sockets(const std::string& dir) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.path().filename().string().starts_with("fd")) n++;
    return n;
}

// Waits until pred() or timeout.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

// A raw stream connection to <dir>/ctl.
UniqueFd raw_ctl(const std::string& dir) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    const auto sa = vdestack::wire::make_sockaddr_un(dir + "/ctl");
    EXPECT_TRUE(sa.has_value());
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa), 0) << std::strerror(errno);
    return fd;
}

// Bytes readable on fd within timeout: returns the count read, 0 on EOF, -1 on timeout.
ssize_t read_some(int fd, std::span<std::byte> out, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    const ssize_t r = ::recv(fd, out.data(), out.size(), MSG_DONTWAIT);
    return r < 0 ? 0 : r;  // ECONNRESET counts as a close
}

std::string errno_of(const std::function<void()>& f, int* code) {
    try {
        f();
    } catch (const Error& e) {
        *code = e.code().value();
        return e.what();
    }
    *code = 0;
    return {};
}

// ---------------------------------------------------------------------------

TEST(Switch, FramesBothWays1514AndJumbo) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    struct stat st{};
    ASSERT_EQ(::stat((dir + "/ctl").c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 02700u);

    auto a = open_transport("vde://" + dir);
    ASSERT_EQ(a->poll_fds().size(), 2u);
    EXPECT_EQ(count_fd_sockets(dir), 1);

    // client -> host (broadcast), 1514 bytes
    const Frame up = make_frame(kBroadcast, mac_of(0xa), 1514, 1);
    send_frame(*a, up);
    auto got = sw.take(2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], up);
    // host -> client, unicast to the learned MAC, 1514 bytes
    const Frame down = make_frame(mac_of(0xa), mac_of(0xf), 1514, 2);
    sw.send(down);
    auto back = recv_frames(*a, 2s, 1);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], down);
    // jumbo frames (vdeplug4's maximum) both ways
    const Frame jumbo_up = make_frame(mac_of(0xf), mac_of(0xa), kMaxFrame, 3);
    send_frame(*a, jumbo_up);
    got = sw.take(2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], jumbo_up);
    const Frame jumbo_down = make_frame(mac_of(0xa), mac_of(0xf), kMaxFrame, 4);
    sw.send(jumbo_down);
    back = recv_frames(*a, 2s, 1);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], jumbo_down);
    // Runts are not sent.
    const Frame runt(13, std::byte{0xff});
    send_frame(*a, runt);
    EXPECT_TRUE(sw.take(200ms, 1).empty());
}

TEST(Switch, LearningKeepsUnicastPrivate) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    auto c = open_transport(dir);  // a bare path means vde://
    const Mac ma = mac_of(1), mb = mac_of(2), mc = mac_of(3);

    // Each announces itself with a broadcast: everybody else (host too) sees it.
    Transport* clients[] = {a.get(), b.get(), c.get()};
    const Mac macs[] = {ma, mb, mc};
    for (std::size_t i = 0; i < 3; i++) {
        const Frame f = make_frame(kBroadcast, macs[i], 100, static_cast<std::uint8_t>(i));
        send_frame(*clients[i], f);
        for (std::size_t j = 0; j < 3; j++) {
            if (j == i) continue;
            auto got = recv_frames(*clients[j], 2s, 1);
            ASSERT_EQ(got.size(), 1u) << "client " << j << " missed the broadcast of " << i;
            EXPECT_EQ(got[0], f);
        }
        EXPECT_EQ(sw.take(2s, 1).size(), 1u);
        EXPECT_TRUE(recv_frames(*clients[i], 50ms).empty()) << "broadcast reflected to its sender";
    }

    // B -> A unicast: only A sees it.
    const Frame u = make_frame(ma, mb, 1514, 9);
    send_frame(*b, u);
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], u);
    EXPECT_TRUE(recv_frames(*c, 300ms).empty()) << "C saw a unicast for A";
    EXPECT_TRUE(sw.take(100ms).empty()) << "the host saw a unicast for A";
    EXPECT_TRUE(recv_frames(*b, 50ms).empty());

    // Host -> C unicast: only C.
    const Frame h = make_frame(mc, mac_of(0xf), 200, 5);
    sw.send(h);
    got = recv_frames(*c, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], h);
    EXPECT_TRUE(recv_frames(*a, 200ms).empty());
    EXPECT_TRUE(recv_frames(*b, 50ms).empty());

    // Unknown unicast floods (host included).
    const Frame unk = make_frame(mac_of(0x77), ma, 80, 6);
    send_frame(*a, unk);
    EXPECT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    EXPECT_EQ(recv_frames(*c, 2s, 1).size(), 1u);
    EXPECT_EQ(sw.take(2s, 1).size(), 1u);
}

// ---- whole frames (wire/whole.hpp) through our switch ----------------------

// A TCP/IPv4 super-segment from src to dst as a tap hands it out (partial
// checksum, GSO header), `payload` bytes in MSS-sized pieces.
std::pair<Frame, vdestack::wire::VnetHdr> super_segment(const Mac& dst, const Mac& src, std::size_t payload,
                                                        std::uint16_t mss) {
    Frame f(14 + 20 + 20 + payload);
    std::memcpy(f.data(), dst.data(), 6);
    std::memcpy(f.data() + 6, src.data(), 6);
    f[12] = std::byte{0x08};
    const std::size_t tot = 20 + 20 + payload;
    const std::uint8_t ip[20] = {0x45, 0, static_cast<std::uint8_t>(tot >> 8), static_cast<std::uint8_t>(tot), 0, 1, 0x40, 0,
                                 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(f.data() + 14, ip, 20);
    std::byte* tcp = f.data() + 34;
    tcp[0] = std::byte{0x9c}, tcp[1] = std::byte{0x40}, tcp[2] = std::byte{0x13}, tcp[3] = std::byte{0x89};
    tcp[4] = std::byte{0}, tcp[5] = std::byte{0}, tcp[6] = std::byte{0x10}, tcp[7] = std::byte{0};  // seq 4096
    tcp[12] = std::byte{0x50};
    tcp[13] = std::byte{0x18};  // ACK PSH
    tcp[14] = std::byte{0xff};
    for (std::size_t i = 0; i < payload; i++) f[54 + i] = static_cast<std::byte>((i * 13 + i / 256) & 0xff);
    vdestack::wire::VnetHdr h;
    h.flags = vdestack::wire::VnetHdr::kNeedsCsum;
    h.gso_type = vdestack::wire::VnetHdr::kGsoTcpV4;
    h.hdr_len = 54;
    h.gso_size = mss;
    h.csum_start = 34;
    h.csum_offset = 16;
    return {f, h};
}

void send_whole_frame(Transport& t, const std::pair<Frame, vdestack::wire::VnetHdr>& s) {
    std::array<std::byte, vdestack::wire::VnetHdr::kSize> raw{};
    s.second.store(raw);
    const iovec iov[2] = {{raw.data(), raw.size()}, {const_cast<std::byte*>(s.first.data()), s.first.size()}};
    EXPECT_EQ(t.send_whole(std::span<const iovec>(iov, 2)), 1);
}

using GotWhole = vdetest::Received;  // .vnet: it came whole

std::vector<GotWhole> recv_whole(Transport& t, std::chrono::milliseconds timeout, std::size_t want = SIZE_MAX) {
    return vdetest::recv_vnet(t, timeout, want, {.slots = 64});
}

// The TCP payload of ordinary frames (54-byte headers), concatenated.
Frame payload_of(const std::vector<GotWhole>& frames) {
    Frame p;
    for (const GotWhole& g : frames) {
        EXPECT_FALSE(g.vnet.has_value());
        if (g.frame.size() > 54) p.insert(p.end(), g.frame.begin() + 54, g.frame.end());
    }
    return p;
}

// Each client announces its MAC with a broadcast that every other client
// must receive (the switch learns them all), then the clients in `whole`
// wait for the switch's hello; true when they all got it within 3 s.
bool introduce(const std::vector<Transport*>& clients, const std::vector<Mac>& macs,
               const std::vector<Transport*>& whole) {
    for (std::size_t i = 0; i < clients.size(); i++) {
        send_frame(*clients[i], make_frame(kBroadcast, macs[i], 60, static_cast<std::uint8_t>(i)));
        for (std::size_t j = 0; j < clients.size(); j++)
            if (j != i) EXPECT_EQ(recv_whole(*clients[j], 2s, 1).size(), 1u) << i << " -> " << j;
    }
    return wait_until([&] {
        bool all = true;
        for (Transport* t : whole) {
            (void)recv_whole(*t, 10ms);
            all = all && t->sends_whole();
        }
        return all;
    }, 3s);
}

TEST(Switch, WholeFramesBetweenOurClientsSegmentedForOthers) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    auto c = open_transport("vde://" + dir);  // a plain client: never says hello
    const Mac ma = mac_of(1), mb = mac_of(2), mc = mac_of(3);
    a->accept_whole(true);
    b->accept_whole(true);
    ASSERT_TRUE(introduce({a.get(), b.get(), c.get()}, {ma, mb, mc}, {a.get(), b.get()}));
    EXPECT_FALSE(c->sends_whole());
    (void)sw.take(200ms);

    // A -> B: whole, as it was sent.
    const auto ab = super_segment(mb, ma, 20000, 1448);
    send_whole_frame(*a, ab);
    auto got = recv_whole(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].vnet.has_value());
    EXPECT_EQ(got[0].frame, ab.first);
    EXPECT_TRUE(recv_whole(*c, 200ms).empty());

    // A -> C (plain): cut into 14 MSS-sized ordinary frames, payload intact.
    const auto ac = super_segment(mc, ma, 20000, 1448);
    send_whole_frame(*a, ac);
    got = recv_whole(*c, 2s, 14);
    ASSERT_EQ(got.size(), 14u);
    EXPECT_EQ(payload_of(got), Frame(ac.first.begin() + 54, ac.first.end()));
    for (const GotWhole& g : got) EXPECT_LE(g.frame.size(), 54u + 1448u);

    // A -> unknown MAC: flooded; B whole, C and the host cut (10 frames).
    const auto af = super_segment(mac_of(0x77), ma, 14000, 1448);
    send_whole_frame(*a, af);
    got = recv_whole(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].vnet.has_value());
    EXPECT_EQ(got[0].frame, af.first);
    got = recv_whole(*c, 2s, 10);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(payload_of(got), Frame(af.first.begin() + 54, af.first.end()));
    const auto host = sw.take(2s, 10);
    ASSERT_EQ(host.size(), 10u);
    Frame hp;
    for (const Frame& f : host) hp.insert(hp.end(), f.begin() + 54, f.end());
    EXPECT_EQ(hp, Frame(af.first.begin() + 54, af.first.end()));

    // Ordinary frames still go everywhere they should, both ways.
    const Frame cb = make_frame(mb, mc, 1514, 9);
    send_frame(*c, cb);
    got = recv_whole(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, cb);
    const Frame ba = make_frame(ma, mb, 9000, 8);
    send_frame(*b, ba);
    got = recv_whole(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, ba);
}

// A burst of super-segments towards a client that is not reading yet is
// queued, not dropped: a whole port's send buffer holds 1.4 MB (the default
// held three 64 KiB datagrams), and so does our client's towards the switch.
TEST(Switch, WholeBurstIsQueuedForASlowReader) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    const Mac ma = mac_of(1), mb = mac_of(2);
    a->accept_whole(true);
    b->accept_whole(true);
    ASSERT_TRUE(introduce({a.get(), b.get()}, {ma, mb}, {a.get(), b.get()}));
    (void)sw.take(200ms);

    constexpr std::size_t kBurst = 24;
    const auto seg = super_segment(mb, ma, 60000, 1448);
    for (std::size_t i = 0; i < kBurst; i++) send_whole_frame(*a, seg);
    std::this_thread::sleep_for(300ms);  // the switch forwards all it can while B sleeps
    const auto got = recv_whole(*b, 3s, kBurst);
    ASSERT_EQ(got.size(), kBurst);
    for (const GotWhole& g : got) {
        EXPECT_TRUE(g.vnet.has_value());
        EXPECT_EQ(g.frame, seg.first);
    }
}

TEST(Switch, ClientOpenedOnTheNodesOwnThread) {
    // One thread services the node and opens a client of it (the helper's
    // single engine thread with stacks on switch://X and vde://X): no deadlock.
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    auto sw = open_transport("switch://" + dir);
    const auto t0 = std::chrono::steady_clock::now();
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    const Frame f = make_frame(kBroadcast, mac_of(1), 1514);
    send_frame(*a, f);
    auto host = recv_frames(*sw, 2s, 1);  // the node forwards inside its recv()
    ASSERT_EQ(host.size(), 1u);
    EXPECT_EQ(host[0], f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST(Switch, HubFloodsEverything) {
    TempDir tmp;
    const std::string dir = tmp.path + "/hub";
    Runner hub(open_transport("hub://" + dir));
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    auto c = open_transport("vde://" + dir);
    // A announces itself; then B sends to A's MAC: a hub still gives it to everybody but B.
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    ASSERT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    ASSERT_EQ(recv_frames(*c, 2s, 1).size(), 1u);
    ASSERT_EQ(hub.take(2s, 1).size(), 1u);
    const Frame u = make_frame(mac_of(1), mac_of(2), 1514, 3);
    send_frame(*b, u);
    for (Transport* t : {a.get(), c.get()}) {
        auto got = recv_frames(*t, 2s, 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], u);
    }
    auto host = hub.take(2s, 1);
    ASSERT_EQ(host.size(), 1u);
    EXPECT_EQ(host[0], u);
    EXPECT_TRUE(recv_frames(*b, 200ms).empty()) << "hub reflected a frame to its sender";
    // Host frames go to every client.
    const Frame hf = make_frame(mac_of(1), mac_of(0xf), 64, 4);
    hub.send(hf);
    for (Transport* t : {a.get(), b.get(), c.get()}) EXPECT_EQ(recv_frames(*t, 2s, 1).size(), 1u);
}

TEST(Switch, ClientDisconnectRemovesPort) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    EXPECT_EQ(count_fd_sockets(dir), 2);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));  // the switch learns A
    ASSERT_EQ(recv_frames(*b, 2s, 1).size(), 1u);
    ASSERT_EQ(sw.take(2s, 1).size(), 1u);
    a.reset();
    EXPECT_TRUE(wait_until([&] { return count_fd_sockets(dir) == 1; }, 2s)) << "fd<N> socket of A not removed";
    // Nothing is left readable in the node's poll set: its thread sleeps.
    const std::uint64_t loops = sw.loops();
    std::this_thread::sleep_for(300ms);
    EXPECT_LE(sw.loops() - loops, 2u) << "the node's poll fd stays readable (busy loop)";
    // A's MAC is forgotten: a frame to it now floods, so B sees it.
    const Frame f = make_frame(mac_of(1), mac_of(0xf), 60, 1);
    sw.send(f);
    auto got = recv_frames(*b, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    // A new client takes the free place.
    auto c = open_transport("vde://" + dir);
    EXPECT_EQ(count_fd_sockets(dir), 2);
}

TEST(Switch, DestroyedNodeKillsClientLinks) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    ASSERT_EQ(sw.take(2s, 1).size(), 1u);
    sw.destroy();
    EXPECT_FALSE(std::filesystem::exists(dir)) << "node directory left behind";

    // The client's fds become readable and recv() says the link is dead at once
    // (never 0, which would make a poll loop spin).
    std::vector<pollfd> pfds;
    for (int fd : a->poll_fds()) pfds.push_back({fd, POLLIN, 0});
    ASSERT_EQ(::poll(pfds.data(), pfds.size(), 2000) > 0, true);
    std::array<std::byte, kMaxFrame> buf{};
    std::array<FrameBuf, 1> bufs{{{buf.data(), buf.size(), 0}}};
    EXPECT_EQ(a->recv(bufs), -EPIPE);
    EXPECT_EQ(a->recv(bufs), -EPIPE);
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    const FrameRef r{f.data(), f.size()};
    EXPECT_LT(a->send({&r, 1}), 0);
}

TEST(Switch, ClientSendNoticesDeadSwitch) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto a = open_transport("vde://" + dir);
    sw.destroy();
    // Without calling recv first: sending to a vanished switch reports a dead link.
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    const FrameRef r{f.data(), f.size()};
    EXPECT_LT(a->send({&r, 1}), 0);
}

TEST(Switch, SilentClientDoesNotBlockAndIsDropped) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    UniqueFd silent = raw_ctl(dir);
    // A well-behaved client still gets in and talks.
    auto a = open_transport("vde://" + dir);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    EXPECT_EQ(sw.take(2s, 1).size(), 1u);
    // The silent one is hung up on after the 5 s request timeout.
    std::array<std::byte, 16> buf{};
    EXPECT_EQ(read_some(silent.get(), buf, 8s), 0) << "silent client not dropped";
}

TEST(Switch, RequestInPiecesAndRefusals) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    namespace wire = vdestack::wire;

    // Our own data socket, bound in the temp dir.
    UniqueFd data(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const std::string dpath = tmp.path + "/client";
    const auto dsa = wire::make_sockaddr_un(dpath);
    ASSERT_EQ(::bind(data.get(), reinterpret_cast<const sockaddr*>(&*dsa), sizeof *dsa), 0);
    std::array<std::byte, wire::kRequestMaxSize> req{};
    const std::size_t len = wire::write_request_v3(req, 0, *dsa, "pieces");

    {  // in three pieces, 100 ms apart: a reply arrives
        UniqueFd ctl = raw_ctl(dir);
        ASSERT_EQ(::send(ctl.get(), req.data(), 3, 0), 3);
        std::this_thread::sleep_for(100ms);
        ASSERT_EQ(::send(ctl.get(), req.data() + 3, 60, 0), 60);
        std::this_thread::sleep_for(100ms);
        ASSERT_EQ(::send(ctl.get(), req.data() + 63, len - 63, 0), static_cast<ssize_t>(len - 63));
        std::array<std::byte, 200> reply{};
        std::size_t got = 0;
        while (got < wire::kReplySize) {
            const ssize_t r = read_some(ctl.get(), std::span(reply).subspan(got), 2s);
            ASSERT_GT(r, 0);
            got += static_cast<std::size_t>(r);
        }
        ASSERT_EQ(got, wire::kReplySize);
        const auto sa = wire::parse_reply(std::span(reply.data(), got));
        ASSERT_TRUE(sa);
        EXPECT_EQ(wire::sun_path_of(*sa).substr(0, dir.size() + 3), dir + "/fd");
        struct stat st{};  // the node's mode (0600 by default); vde:// clients chmod it later
        ASSERT_EQ(::stat(std::string(wire::sun_path_of(*sa)).c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 07777, 0600u);
        // The reply's socket is connected to ours: a frame sent there reaches the host.
        ASSERT_EQ(::connect(data.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa), 0);
        const Frame f = make_frame(kBroadcast, mac_of(5), 60);
        ASSERT_EQ(::send(data.get(), f.data(), f.size(), 0), 60);
        auto host = sw.take(2s, 1);
        ASSERT_EQ(host.size(), 1u);
        EXPECT_EQ(host[0], f);
    }
    {  // bad magic: hung up
        UniqueFd ctl = raw_ctl(dir);
        std::array<std::byte, wire::kRequestMaxSize> bad = req;
        bad[0] = std::byte{0x42};
        ASSERT_EQ(::send(ctl.get(), bad.data(), len, 0), static_cast<ssize_t>(len));
        std::array<std::byte, 200> reply{};
        EXPECT_EQ(read_some(ctl.get(), reply, 2s), 0);
    }
    {  // REQ_NEW_PORT0: hung up (no management port here)
        UniqueFd ctl = raw_ctl(dir);
        std::array<std::byte, wire::kRequestMaxSize> p0{};
        const std::size_t n = wire::write_request_v3(p0, wire::kReqNewPort0, *dsa, "port0");
        ASSERT_EQ(::send(ctl.get(), p0.data(), n, 0), static_cast<ssize_t>(n));
        std::array<std::byte, 200> reply{};
        EXPECT_EQ(read_some(ctl.get(), reply, 2s), 0);
    }
    {  // version 2: hung up
        UniqueFd ctl = raw_ctl(dir);
        std::array<std::byte, wire::kRequestMaxSize> v2 = req;
        const std::uint32_t two = 2;
        std::memcpy(v2.data() + 4, &two, 4);
        ASSERT_EQ(::send(ctl.get(), v2.data(), len, 0), static_cast<ssize_t>(len));
        std::array<std::byte, 200> reply{};
        EXPECT_EQ(read_some(ctl.get(), reply, 2s), 0);
    }
    // A port number in the request is accepted (and ignored), as vdeplug4's nodes do.
    auto numbered = open_transport("vde://" + dir + "[7]");
    EXPECT_EQ(numbered->poll_fds().size(), 2u);
}

TEST(Switch, OtherUsersMayOnlyNameTheirOwnSockets) {
    namespace wire = vdestack::wire;
    TempDir tmp;
    ASSERT_EQ(::chmod(tmp.path.c_str(), 0755), 0);
    const std::string dir = tmp.path + "/sw";
    const std::string pub = tmp.path + "/pub";
    ASSERT_EQ(::mkdir(pub.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(pub.c_str(), 0777), 0);
    Runner sw(open_transport("switch://" + dir + "[mode=666]"));

    // A socket of root's that a foreign client must not be able to aim us at.
    UniqueFd rootsock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const auto root_sa = wire::make_sockaddr_un(pub + "/root-owned");
    ASSERT_EQ(::bind(rootsock.get(), reinterpret_cast<const sockaddr*>(&*root_sa), sizeof *root_sa), 0);
    ASSERT_EQ(::chmod((pub + "/root-owned").c_str(), 0666), 0);
    const auto own_sa = wire::make_sockaddr_un(pub + "/nobody-owned");
    const auto ctl_sa = wire::make_sockaddr_un(dir + "/ctl");
    std::array<std::byte, wire::kRequestMaxSize> bad{}, good{};
    const std::size_t bad_len = wire::write_request_v3(bad, 0, *root_sa, "foreign");
    const std::size_t good_len = wire::write_request_v3(good, 0, *own_sa, "own");

    // The child only makes system calls (we have threads).
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
        const int data = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        if (::bind(data, reinterpret_cast<const sockaddr*>(&*own_sa), sizeof *own_sa) != 0) ::_exit(11);
        std::array<std::byte, 200> reply{};
        int ctl = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (::connect(ctl, reinterpret_cast<const sockaddr*>(&*ctl_sa), sizeof *ctl_sa) != 0) ::_exit(12);
        if (::send(ctl, bad.data(), bad_len, 0) != static_cast<ssize_t>(bad_len)) ::_exit(13);
        pollfd pf{ctl, POLLIN, 0};
        if (::poll(&pf, 1, 3000) != 1 || ::recv(ctl, reply.data(), reply.size(), 0) > 0) ::_exit(1);  // not refused
        ::close(ctl);
        ctl = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (::connect(ctl, reinterpret_cast<const sockaddr*>(&*ctl_sa), sizeof *ctl_sa) != 0) ::_exit(14);
        if (::send(ctl, good.data(), good_len, 0) != static_cast<ssize_t>(good_len)) ::_exit(15);
        pf = {ctl, POLLIN, 0};
        if (::poll(&pf, 1, 3000) != 1 || ::recv(ctl, reply.data(), reply.size(), 0) <= 0) ::_exit(2);  // refused
        ::_exit(0);
    }
    ASSERT_GT(pid, 0);
    int status = -1;
    for (int i = 0; i < 1000 && ::waitpid(pid, &status, WNOHANG) != pid; i++) std::this_thread::sleep_for(10ms);
    if (!WIFEXITED(status)) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL() << "child did not finish";
    }
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: a foreign client's request naming root's socket was accepted; "
                                         "2: its request naming its own socket was refused; >= 10: setup";
}

TEST(Switch, OptionsModesAndAlreadyRunning) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    {
        Runner sw(open_transport("switch://" + dir + "[mode=0660]"));
        struct stat st{};
        ASSERT_EQ(::stat((dir + "/ctl").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0660u);
        ASSERT_EQ(::stat(dir.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 02770u);  // derived: x where r/w
        auto a = open_transport("vde://" + dir);
        ASSERT_TRUE(wait_until([&] { return count_fd_sockets(dir) == 1; }, 2s));
        int code = 0;
        const std::string msg = errno_of([&] { (void)open_transport("switch://" + dir); }, &code);
        EXPECT_EQ(code, EADDRINUSE) << msg;
    }
    EXPECT_FALSE(std::filesystem::exists(dir));
    {
        Runner sw(open_transport("switch://" + dir + "[dirmode=0750/m=0640/grp=0/hashsize=1k/hashseed=3/exp=5]"));
        struct stat st{};
        ASSERT_EQ(::stat(dir.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0750u);
        ASSERT_EQ(::stat((dir + "/ctl").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0640u);
        EXPECT_EQ(st.st_gid, 0u);
    }
    // A pre-existing directory (no live switch in it) is reused and left in place.
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    {
        Runner sw(open_transport("hub://" + dir));
        auto a = open_transport("vde://" + dir);
    }
    EXPECT_TRUE(std::filesystem::exists(dir));
    EXPECT_FALSE(std::filesystem::exists(dir + "/ctl"));
}

TEST(Switch, BadVnlsAreEinvalNamingTheKey) {
    TempDir tmp;
    struct Case {
        std::string vnl;
        std::string key;
    };
    const std::vector<Case> cases = {
        {"switch://" + tmp.path + "/s[bogus=1]", "bogus"},
        {"switch://" + tmp.path + "/s[mode=0800]", "mode"},
        {"switch://" + tmp.path + "/s[mode=rw]", "mode"},
        {"switch://" + tmp.path + "/s[dirmode=9]", "dirmode"},
        {"switch://" + tmp.path + "/s[hashsize=0]", "hashsize"},
        {"switch://" + tmp.path + "/s[hashsize=x]", "hashsize"},
        {"switch://" + tmp.path + "/s[expiretime=-1]", "expiretime"},
        {"switch://" + tmp.path + "/s[grp=no-such-group-xyz]", "grp"},
        {"hub://" + tmp.path + "/s[nonsense]", "nonsense"},
        {"vde://" + tmp.path + "[mode=8]", "mode"},
        {"vde://" + tmp.path + "[mode=]", "mode"},
        {"vde://" + tmp.path + "[frob=1]", "frob"},
        {"vde://" + tmp.path + "[group=no-such-group-xyz]", "group"},
        {"vde://" + tmp.path + "[port=99999999]", "port"},
        {"vde://" + tmp.path + "[port=1", "]"},
    };
    for (const Case& c : cases) {
        int code = 0;
        const std::string msg = errno_of([&] { (void)open_transport(c.vnl); }, &code);
        EXPECT_EQ(code, EINVAL) << c.vnl << ": " << msg;
        EXPECT_NE(msg.find(c.key), std::string::npos) << c.vnl << ": " << msg;
        EXPECT_NE(msg.find(c.vnl), std::string::npos) << "message does not name the VNL: " << msg;
    }
    // Nothing was created by the failed opens.
    EXPECT_FALSE(std::filesystem::exists(tmp.path + "/s"));
}

TEST(Switch, NoSwitchIsEnoentOrEconnrefused) {
    TempDir tmp;
    int code = 0;
    std::string msg = errno_of([&] { (void)open_transport("vde://" + tmp.path + "/nothing"); }, &code);
    EXPECT_EQ(code, ENOENT) << msg;
    EXPECT_NE(msg.find(tmp.path + "/nothing"), std::string::npos) << msg;

    // An existing directory without ctl.
    msg = errno_of([&] { (void)open_transport("vde://" + tmp.path); }, &code);
    EXPECT_EQ(code, ENOENT) << msg;
    EXPECT_NE(msg.find(tmp.path + "/ctl"), std::string::npos) << msg;

    // A stale ctl socket (nobody listening).
    {
        UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const auto sa = vdestack::wire::make_sockaddr_un(tmp.path + "/ctl");
        ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa), 0);
    }
    msg = errno_of([&] { (void)open_transport("vde://" + tmp.path); }, &code);
    EXPECT_EQ(code, ECONNREFUSED) << msg;
    EXPECT_NE(msg.find("vde://" + tmp.path), std::string::npos) << msg;
    // Our failed attempts left no data socket behind.
    for (const auto& e : std::filesystem::directory_iterator(tmp.path))
        EXPECT_EQ(e.path().filename().string(), "ctl") << "left behind: " << e.path();
}

TEST(Switch, VnlFileIndirection) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    const std::string file = tmp.path + "/net.vnl";
    {
        FILE* f = std::fopen(file.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fprintf(f, "vde://%s\n", dir.c_str());
        std::fclose(f);
    }
    auto a = open_transport(file);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    EXPECT_EQ(sw.take(2s, 1).size(), 1u);
    // A DOS line end, no line end at all, and an empty file (EINVAL).
    auto write_file = [](const std::string& path, const std::string& text) {
        FILE* f = std::fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(text.c_str(), f);
        std::fclose(f);
    };
    const std::string crlf = tmp.path + "/crlf.vnl", bare = tmp.path + "/bare.vnl", empty = tmp.path + "/empty.vnl";
    write_file(crlf, "vde://" + dir + "\r\nnot this line\n");
    write_file(bare, "vde://" + dir);
    write_file(empty, "");
    auto b = open_transport(crlf);
    auto c = open_transport(bare);
    send_frame(*b, make_frame(kBroadcast, mac_of(2), 60));
    send_frame(*c, make_frame(kBroadcast, mac_of(3), 60));
    EXPECT_EQ(sw.take(2s, 2).size(), 2u);
    vdetest::expect_open_error(empty, EINVAL);
}

// ---------------------------------------------------------------------------
// Debian's vde_plug (vdeplug4) as a client of our switch: it bridges the
// switch to its stdin/stdout with the 2-byte big-endian length framing.

constexpr const char* kDebianVdePlug = "/usr/bin/vde_plug";

TEST(Switch, DebianVdePlugThroughOurSwitch) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    TempDir tmp;
    const std::string dir = tmp.path + "/sw";
    Runner sw(open_transport("switch://" + dir));
    auto ours = open_transport("vde://" + dir);
    Child plug({kDebianVdePlug, "vde://" + dir}, true);
    ASSERT_TRUE(wait_until([&] { return count_fd_sockets(dir) == 2; }, 5s)) << "vde_plug did not connect";

    // Debian -> switch: the host and our client get it.
    const Frame f1 = make_frame(kBroadcast, mac_of(0xd), 1514, 1);
    ASSERT_TRUE(write_framed(plug.to(), f1));
    auto host = sw.take(3s, 1);
    ASSERT_EQ(host.size(), 1u);
    EXPECT_EQ(host[0], f1);
    auto got = recv_frames(*ours, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f1);

    // Host -> Debian (unicast to its learned MAC), our client does not see it.
    const Frame f2 = make_frame(mac_of(0xd), mac_of(0xf), 1514, 2);
    sw.send(f2);
    auto back = read_framed(plug.from(), 3s);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, f2);
    EXPECT_TRUE(recv_frames(*ours, 200ms).empty());

    // Our client -> Debian, small and full-size.
    for (std::size_t len : {60u, 1514u}) {
        const Frame f3 = make_frame(mac_of(0xd), mac_of(0xa), len, 3);
        send_frame(*ours, f3);
        auto b3 = read_framed(plug.from(), 3s);
        ASSERT_TRUE(b3.has_value());
        EXPECT_EQ(*b3, f3);
    }

    // vde_plug exits on stdin EOF: its port goes away.
    plug.stop();
    EXPECT_TRUE(wait_until([&] { return count_fd_sockets(dir) == 1; }, 3s));
}

}  // namespace
