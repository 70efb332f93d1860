// plug_vde.cpp - our vde:// client (src/plug/vde.cpp) against DEBIAN's
// switches: vde2's vde_switch (2.3.2) and vdeplug4's in-process switch node
// (`vde_plug switch://DIR null://`). Runs as root in the private netns of
// netns_main.cpp; every test uses its own temp directory under /tmp.
//
// vde_switch runs in the foreground as our child, its stdin a pipe we hold
// (it exits on stdin EOF; we also SIGTERM it and reap it, SIGKILL after 3 s,
// whatever happens to the test), stdout to /dev/null. Its management socket
// (-M) tells us the port numbers and descriptions it registered.
//
// Covered: two (three) of our clients exchange frames through vde_switch,
// unicast after learning is private; a requested port number (bare [N] and
// port=N) and our description "vdestack user=... pid=..." show in the switch's
// port list; frames larger than vde2's 1518-byte buffer are consumed by send()
// and never arrive whole; the switch exiting makes recv() return -EPIPE; and
// the same exchange through vdeplug4's switch:// node. All waits are bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "plug/transport.hpp"
#include "plug/unix/vde.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/vde_ctl.hpp"
#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::UniqueFd;
using vdestack::plug::FrameBuf;
using vdestack::plug::FrameRef;
using vdestack::plug::kMaxFrame;
using vdestack::plug::open_transport;
using vdestack::plug::Transport;

using vdetest::Frame;
using vdetest::kBroadcast;
using vdetest::TempDir;
using vdetest::Mac;
Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x30, n); }
using vdetest::make_frame;
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;

constexpr const char* kVdeSwitch = "/usr/bin/vde_switch";
constexpr const char* kVdePlug = "/usr/bin/vde_plug";


void send_frame(Transport& t, const Frame& f) {
    const FrameRef r{f.data(), f.size()};
    EXPECT_EQ(t.send({&r, 1}), 1);
}

// A child process; stdin is a pipe we hold (closing it is the polite stop
// signal for vde_switch), stdout goes to /dev/null. Always reaped.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv) {
        int in[2] = {-1, -1};
        EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
        std::vector<char*> args;
        for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
        args.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(in[0], 0);
            const int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(in[0]);
        stdin_ = UniqueFd(in[1]);
    }
    ~Child() { stop(); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Closes stdin, then SIGTERM, then (after 3 s) SIGKILL; reaps the child.
    void stop() {
        stdin_.reset();
        if (pid_ <= 0) return;
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        bool termed = false;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            if (!termed && std::chrono::steady_clock::now() + 2500ms > deadline) {
                ::kill(pid_, SIGTERM);  // after 0.5 s of stdin EOF
                termed = true;
            }
            std::this_thread::sleep_for(20ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void term() {
        if (pid_ > 0) ::kill(pid_, SIGTERM);
    }
    bool exited_within(std::chrono::milliseconds t) {
        const auto deadline = std::chrono::steady_clock::now() + t;
        while (std::chrono::steady_clock::now() < deadline) {
            if (pid_ <= 0) return true;
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return true;
            }
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

private:
    pid_t pid_ = -1;
    UniqueFd stdin_;
};

bool connectable(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const auto sa = vdestack::wire::make_sockaddr_un(path);
    return sa && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) == 0;
}

bool wait_connectable(const std::string& path, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (connectable(path)) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// A vde_switch in DIR/sw with its management socket at DIR/mgmt.
struct VdeSwitch {
    std::string dir;
    std::string mgmt;
    std::unique_ptr<Child> proc;

    explicit VdeSwitch(const std::string& base, bool hub = false) : dir(base + "/sw"), mgmt(base + "/mgmt") {
        std::vector<std::string> argv = {kVdeSwitch, "-s", dir, "-M", mgmt};
        if (hub) argv.emplace_back("-x");
        proc = std::make_unique<Child>(argv);
        EXPECT_TRUE(wait_connectable(dir + "/ctl", 5s)) << "vde_switch did not start";
    }

    // Output of one management command (up to the "1000 Success" line).
    std::string command(const std::string& cmd) {
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const auto sa = vdestack::wire::make_sockaddr_un(mgmt);
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) return {};
        const std::string line = cmd + "\n";
        if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) return {};
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        while (out.find("1000 Success") == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd.get(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
            char buf[4096];
            const ssize_t r = ::read(fd.get(), buf, sizeof buf);
            if (r <= 0) break;
            out.append(buf, static_cast<std::size_t>(r));
        }
        return out;
    }
};

bool have_debian_tools() { return ::access(kVdeSwitch, X_OK) == 0 && ::access(kVdePlug, X_OK) == 0; }

// ---------------------------------------------------------------------------

TEST(VdeSwitchInterop, TwoClientsExchangeFrames) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto a = open_transport("vde://" + sw.dir);
    auto b = open_transport("vde://" + sw.dir);
    ASSERT_EQ(a->poll_fds().size(), 2u);

    const Frame f1 = make_frame(kBroadcast, mac_of(1), 1514, 1);
    send_frame(*a, f1);
    auto got = recv_frames(*b, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f1);
    EXPECT_TRUE(recv_frames(*a, 100ms).empty()) << "broadcast came back to its sender";

    const Frame f2 = make_frame(mac_of(1), mac_of(2), 1514, 2);
    send_frame(*b, f2);
    got = recv_frames(*a, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f2);

    // A burst in one send() call (sendmmsg) arrives complete and in order.
    std::vector<Frame> burst;
    for (std::uint8_t i = 0; i < 32; i++) burst.push_back(make_frame(mac_of(2), mac_of(1), 60 + i, i));
    std::vector<FrameRef> refs;
    for (const Frame& f : burst) refs.push_back({f.data(), f.size()});
    EXPECT_EQ(a->send(refs), static_cast<ssize_t>(refs.size()));
    got = recv_frames(*b, 3s, burst.size());
    ASSERT_EQ(got.size(), burst.size());
    for (std::size_t i = 0; i < burst.size(); i++) EXPECT_EQ(got[i], burst[i]) << i;
}

TEST(VdeSwitchInterop, HellosFloodedByVdeSwitchAreNotBelieved) {
    // Two of our clients that take whole frames on Debian's vde_switch: each
    // one's hello reaches the other (the switch floods it), naming a socket
    // file that is not the switch port's. Nobody may send whole frames, and
    // frames flow as before.
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto a = open_transport("vde://" + sw.dir);
    auto b = open_transport("vde://" + sw.dir);
    a->accept_whole(true);
    b->accept_whole(true);
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
        EXPECT_TRUE(recv_frames(*a, 20ms).empty()) << "a hello was delivered as a frame";
        EXPECT_TRUE(recv_frames(*b, 20ms).empty()) << "a hello was delivered as a frame";
    }
    EXPECT_FALSE(a->sends_whole());
    EXPECT_FALSE(b->sends_whole());
    const Frame f = make_frame(kBroadcast, mac_of(1), 1514, 1);
    send_frame(*a, f);
    auto got = recv_frames(*b, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    const Frame g = make_frame(mac_of(1), mac_of(2), 1514, 2);  // vde2 caps frames at 1518 bytes
    send_frame(*b, g);
    got = recv_frames(*a, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], g);
}

TEST(VdeSwitchInterop, UnicastIsPrivateAfterLearning) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto a = open_transport("vde://" + sw.dir);
    auto b = open_transport("vde://" + sw.dir);
    auto c = open_transport("vde://" + sw.dir);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    ASSERT_EQ(recv_frames(*b, 3s, 1).size(), 1u);
    ASSERT_EQ(recv_frames(*c, 3s, 1).size(), 1u);
    const Frame u = make_frame(mac_of(1), mac_of(2), 200, 7);
    send_frame(*b, u);
    auto got = recv_frames(*a, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], u);
    EXPECT_TRUE(recv_frames(*c, 300ms).empty()) << "C saw a unicast for A";
}

TEST(VdeSwitchInterop, PortNumbersAndDescription) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto p5 = open_transport("vde://" + sw.dir + "[5]");
    auto p7 = open_transport("vde://" + sw.dir + "[port=7]");
    auto any = open_transport("vde://" + sw.dir + "[mode=0770]");
    const std::string ports = sw.command("port/print");
    EXPECT_NE(ports.find("Port 0005"), std::string::npos) << ports;
    EXPECT_NE(ports.find("Port 0007"), std::string::npos) << ports;
    EXPECT_NE(ports.find("Port 0001"), std::string::npos) << ports;  // first free one
    const std::string me = "vdestack user=root pid=" + std::to_string(::getpid());
    EXPECT_NE(ports.find(me), std::string::npos) << ports;
    // Frames flow between the numbered ports.
    const Frame f = make_frame(kBroadcast, mac_of(5), 60);
    send_frame(*p5, f);
    auto got = recv_frames(*p7, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    // Our data sockets were unlinked once connected.
    for (const auto& e : std::filesystem::directory_iterator(sw.dir))
        EXPECT_FALSE(e.path().filename().string().starts_with(".")) << "left behind: " << e.path();
}

TEST(VdeSwitchInterop, OversizeFramesAreConsumedNotDelivered) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto a = open_transport("vde://" + sw.dir);
    auto b = open_transport("vde://" + sw.dir);
    const Frame big = make_frame(kBroadcast, mac_of(1), 9000, 1);
    send_frame(*a, big);  // consumed: vde2 reads at most 1518 bytes of it
    for (const Frame& f : recv_frames(*b, 500ms)) EXPECT_LE(f.size(), 1518u);
    // The link still works afterwards.
    const Frame ok = make_frame(kBroadcast, mac_of(1), 1518, 2);
    send_frame(*a, ok);
    auto got = recv_frames(*b, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], ok);
}

TEST(VdeSwitchInterop, SwitchExitKillsTheLink) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path);
    auto a = open_transport("vde://" + sw.dir);
    sw.proc->term();
    ASSERT_TRUE(sw.proc->exited_within(3s)) << "vde_switch ignored SIGTERM";
    std::vector<pollfd> pfds;
    for (int fd : a->poll_fds()) pfds.push_back({fd, POLLIN, 0});
    ASSERT_GT(::poll(pfds.data(), pfds.size(), 2000), 0) << "no readiness after the switch died";
    std::array<std::byte, kMaxFrame> buf{};
    std::array<FrameBuf, 4> bufs{};
    for (FrameBuf& b : bufs) b = {buf.data(), buf.size(), 0};
    EXPECT_EQ(a->recv(bufs), -EPIPE);
    EXPECT_EQ(a->recv(bufs), -EPIPE);
}

TEST(VdeSwitchInterop, HubMode) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    VdeSwitch sw(tmp.path, true);
    auto a = open_transport("vde://" + sw.dir);
    auto b = open_transport("vde://" + sw.dir);
    auto c = open_transport("vde://" + sw.dir);
    send_frame(*a, make_frame(kBroadcast, mac_of(1), 60));
    ASSERT_EQ(recv_frames(*b, 3s, 1).size(), 1u);
    ASSERT_EQ(recv_frames(*c, 3s, 1).size(), 1u);
    send_frame(*b, make_frame(mac_of(1), mac_of(2), 60));
    EXPECT_EQ(recv_frames(*a, 3s, 1).size(), 1u);
    EXPECT_EQ(recv_frames(*c, 3s, 1).size(), 1u) << "a hub floods unicast too";
}

// vdeplug4's own switch node, run by Debian's vde_plug.
TEST(VdeNetnodeInterop, TwoClientsThroughVdeplug4Switch) {
    if (!have_debian_tools()) GTEST_SKIP() << "Debian's vde_switch/vde_plug are not installed";
    TempDir tmp;
    const std::string dir = tmp.path + "/node";
    Child node({kVdePlug, "switch://" + dir, "null://"});
    ASSERT_TRUE(wait_connectable(dir + "/ctl", 5s)) << "vde_plug switch:// did not start";
    auto a = open_transport("vde://" + dir);
    auto b = open_transport("vde://" + dir);
    auto c = open_transport("vde://" + dir);
    const Frame f1 = make_frame(kBroadcast, mac_of(1), 1514, 1);
    send_frame(*a, f1);
    auto got = recv_frames(*b, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f1);
    ASSERT_EQ(recv_frames(*c, 3s, 1).size(), 1u);
    const Frame f2 = make_frame(mac_of(1), mac_of(2), 9000, 2);  // vdeplug4 carries jumbo frames
    send_frame(*b, f2);
    got = recv_frames(*a, 3s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f2);
    EXPECT_TRUE(recv_frames(*c, 300ms).empty()) << "C saw a unicast for A";
    // The node going away kills our links.
    node.term();
    ASSERT_TRUE(node.exited_within(3s));
    std::vector<pollfd> pfds;
    for (int fd : a->poll_fds()) pfds.push_back({fd, POLLIN, 0});
    ASSERT_GT(::poll(pfds.data(), pfds.size(), 2000), 0);
    std::array<std::byte, kMaxFrame> buf{};
    std::array<FrameBuf, 1> bufs{{{buf.data(), buf.size(), 0}}};
    EXPECT_EQ(a->recv(bufs), -EPIPE);
}

}  // namespace
