// plug_extplugin.cpp - schemes we have no transport for go to the installed
// vdeplug4 plugins (src/plug/extplugin.cpp), loaded at run time from Debian's
// libvdeplug2 and the plugin packages scripts/deps.sh installs:
//   vlan://   (libvdeplug-vlan) a nested plugin: 802.1Q tagging over an
//             inner VNL, here Debian's vxvde inside libvdeplug's namespace,
//             talking to OUR vxvde:// on the same group;
//   multi://  (libvdeplug2's netnode) an in-process node whose clients are
//             OUR vde:// transports;
//   slirp://  (libvdeplug-slirp) user-mode NAT: it answers ARP for 10.0.2.2.
// Frames flow both ways through each. An unknown scheme is EPROTONOSUPPORT
// naming the scheme and the missing plugin; a plugin's own failure is not
// reported as an unknown scheme; opening and closing leaks no fd.
// Runs in the private netns of netns_main.cpp (lo up, multicast routed).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
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

#include "plug/ext/extplugin.hpp"
#include "plug/transport.hpp"
#include "base/error.hpp"
#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::plug::FrameBuf;
using vdestack::plug::FrameRef;
using vdestack::plug::kMaxFrame;
using vdestack::plug::open_transport;
using vdestack::plug::Transport;

using vdetest::Frame;
using vdetest::Mac;
using vdetest::kBroadcast;
using vdetest::TempDir;
Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x40, n); }
Frame make_frame(const Mac& dst, const Mac& src, std::size_t payload, std::uint8_t seed, int vlan = -1) {
    return vdetest::make_frame(dst, src, 14 + (vlan >= 0 ? 4 : 0) + payload, seed, vlan);
}
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;


// dst, src, [802.1Q tag with `vlan`,] type 0x88b5, payload of `len` bytes from `seed`.
// Under a sanitizer, libvdeplug is dlmopen'ed (extplugin.cpp): glib-based
// plugins (slirp) must not be used there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif
#else
constexpr bool kSanitizer = false;
#endif

bool plugin_installed(const std::string& scheme) {
    for (const char* dir : {"/usr/lib/x86_64-linux-gnu/vdeplug", "/usr/lib/aarch64-linux-gnu/vdeplug", "/usr/lib/vdeplug"})
        if (::access((std::string(dir) + "/libvdeplug_" + scheme + ".so").c_str(), F_OK) == 0) return true;
    return false;
}

#define REQUIRE_PLUGIN(scheme)                                                                              \
    ASSERT_TRUE(plugin_installed(scheme)) << "vdeplug4 plugin libvdeplug_" scheme ".so is not installed " \
                                             "(scripts/deps.sh installs it)"

void send_frame(Transport& t, const Frame& f) {
    const FrameRef r{f.data(), f.size()};
    EXPECT_EQ(t.send({&r, 1}), 1);
}

// The first received frame whose type/payload part equals `f`'s (skips others).
bool receives(Transport& t, const Frame& want, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        for (const Frame& f : recv_frames(t, 100ms))
            if (f == want) return true;
    }
    return false;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) n++;
    return n;
}

// Keeps calling t.recv() in a thread (an in-process node serves its clients'
// handshakes from its recv) until stopped; frames are discarded.
class Pump {
public:
    explicit Pump(Transport& t) : thread_([this, &t] {
        while (!stop_) recv_frames(t, 20ms);
    }) {}
    ~Pump() { stop(); }
    Pump(const Pump&) = delete;
    Pump& operator=(const Pump&) = delete;
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST(ExtPlugin, LoadsDebiansLibvdeplugNotOurs) {
    const std::string lib = vdestack::plug::extplugin_library(vdestack::Tuning::from_env());
    ASSERT_FALSE(lib.empty()) << "no libvdeplug.so.2 could be loaded (libvdeplug2 is in scripts/deps.sh)";
    EXPECT_NE(lib.find("libvdeplug.so.2"), std::string::npos) << lib;
    EXPECT_EQ(lib.find("/vdeplug/libvdeplug.so"), std::string::npos) << "loaded our own libvdeplug: " << lib;
}

// vlan:// (not built in) over Debian's vxvde, against our vxvde on the same
// group: untagged frames from the vlan side arrive tagged with its VLAN, frames
// tagged with that VLAN arrive untagged, other VLANs are filtered.
TEST(ExtPlugin, VlanOverVxvdeBothWays) {
    REQUIRE_PLUGIN("vlan");
    auto ext = open_transport("vlan://5{vxvde://234.0.0.61}");
    auto ours = open_transport("vxvde://234.0.0.61");
    ASSERT_EQ(ext->poll_fds().size(), 1u);  // Debian's epoll datafd, no ctl fd

    const Mac a = mac_of(1), b = mac_of(2);
    // ext -> ours: tagged on the wire. Resent until seen (nothing is lost on
    // lo, but the first multicast may race the other side's join).
    bool seen = false;
    for (int i = 0; i < 20 && !seen; i++) {
        send_frame(*ext, make_frame(kBroadcast, a, 100, 1));
        seen = receives(*ours, make_frame(kBroadcast, a, 100, 1, 5), 200ms);
    }
    EXPECT_TRUE(seen) << "untagged frame from vlan://5 did not arrive tagged with VLAN 5";

    // ours -> ext: a frame of VLAN 6 is filtered, one of VLAN 5 arrives untagged.
    send_frame(*ours, make_frame(a, b, 80, 3, 6));
    send_frame(*ours, make_frame(a, b, 90, 2, 5));
    const std::vector<Frame> got = recv_frames(*ext, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], make_frame(a, b, 90, 2));
    EXPECT_TRUE(recv_frames(*ext, 300ms).empty());

    // many frames, both ways, in batches
    constexpr int kCount = 200;
    for (int i = 0; i < kCount; i++) send_frame(*ext, make_frame(b, a, 60 + static_cast<std::size_t>(i), 9));
    std::vector<Frame> at_ours = recv_frames(*ours, 5s, kCount);
    EXPECT_EQ(at_ours.size(), static_cast<std::size_t>(kCount));
    for (int i = 0; i < kCount && i < static_cast<int>(at_ours.size()); i++)
        EXPECT_EQ(at_ours[static_cast<std::size_t>(i)], make_frame(b, a, 60 + static_cast<std::size_t>(i), 9, 5));
    std::vector<Frame> batch;
    std::vector<FrameRef> refs;
    for (int i = 0; i < kCount; i++) batch.push_back(make_frame(a, b, 60 + static_cast<std::size_t>(i), 7, 5));
    for (const Frame& f : batch) refs.push_back({f.data(), f.size()});
    EXPECT_EQ(ours->send(refs), kCount);
    std::vector<Frame> at_ext = recv_frames(*ext, 5s, kCount);
    EXPECT_EQ(at_ext.size(), static_cast<std::size_t>(kCount));
    for (int i = 0; i < kCount && i < static_cast<int>(at_ext.size()); i++)
        EXPECT_EQ(at_ext[static_cast<std::size_t>(i)], make_frame(a, b, 60 + static_cast<std::size_t>(i), 7));
}

// multi:// (libvdeplug2's netnode, not built in): this process is the node's
// host port; OUR vde:// transports are its clients. Client frames go to the
// host, host frames to every client.
TEST(ExtPlugin, MultiNodeWithOurVdeClients) {
    REQUIRE_PLUGIN("multi");
    TempDir dir;
    const std::string node = dir.path + "/node";
    auto host = open_transport("multi://" + node);
    std::unique_ptr<Transport> c1, c2;
    {
        Pump pump(*host);  // the node answers handshakes from its vde_recv
        c1 = open_transport("vde://" + node);
        c2 = open_transport("vde://" + node);
    }
    const Mac h = mac_of(10), m1 = mac_of(11), m2 = mac_of(12);
    send_frame(*c1, make_frame(h, m1, 200, 1));
    send_frame(*c2, make_frame(h, m2, 300, 2));
    std::vector<Frame> at_host = recv_frames(*host, 3s, 2);
    ASSERT_EQ(at_host.size(), 2u);
    EXPECT_EQ(at_host[0], make_frame(h, m1, 200, 1));
    EXPECT_EQ(at_host[1], make_frame(h, m2, 300, 2));

    send_frame(*host, make_frame(kBroadcast, h, 1400, 3));
    for (Transport* c : {c1.get(), c2.get()}) {
        std::vector<Frame> got = recv_frames(*c, 3s, 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], make_frame(kBroadcast, h, 1400, 3));
    }
    // a client's frame reaches only the host, not the other client
    send_frame(*c1, make_frame(kBroadcast, m1, 50, 4));
    EXPECT_EQ(recv_frames(*host, 2s, 1).size(), 1u);
    EXPECT_TRUE(recv_frames(*c2, 300ms).empty());
}

// slirp:// (libvdeplug-slirp): a real peer behind a plugin that runs its own
// thread. An ARP request for the gateway 10.0.2.2 gets slirp's reply.
TEST(ExtPlugin, SlirpAnswersArp) {
    REQUIRE_PLUGIN("slirp");
    if (kSanitizer) GTEST_SKIP() << "slirp (glib) cannot run in the dlmopen namespace sanitizer builds use";
    auto t = open_transport("slirp://");
    const Mac me = mac_of(15);
    Frame arp;
    arp.insert(arp.end(), kBroadcast.begin(), kBroadcast.end());
    arp.insert(arp.end(), me.begin(), me.end());
    for (int v : {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01}) arp.push_back(static_cast<std::byte>(v));
    arp.insert(arp.end(), me.begin(), me.end());
    for (int v : {10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2}) arp.push_back(static_cast<std::byte>(v));
    arp.resize(60);
    bool replied = false;
    for (int i = 0; i < 10 && !replied; i++) {
        send_frame(*t, arp);
        for (const Frame& f : recv_frames(*t, 500ms)) {
            if (f.size() < 42 || f[12] != std::byte{0x08} || f[13] != std::byte{0x06}) continue;
            EXPECT_EQ(std::memcmp(f.data(), me.data(), 6), 0);             // to us
            EXPECT_EQ(f[21], std::byte{2});                                // ARP reply
            const std::array<std::byte, 4> gw = {std::byte{10}, std::byte{0}, std::byte{2}, std::byte{2}};
            EXPECT_EQ(std::memcmp(f.data() + 28, gw.data(), 4), 0);       // for 10.0.2.2
            replied = true;
        }
    }
    EXPECT_TRUE(replied) << "no ARP reply from slirp";
}

TEST(ExtPlugin, UnknownSchemeIsEPROTONOSUPPORT) {
    for (const char* vnl : {"nosuchscheme://x", "nosuchscheme://", "no/such://x"}) {
        try {
            open_transport(vnl);
            ADD_FAILURE() << vnl << " opened";
        } catch (const vdestack::Error& e) {
            EXPECT_EQ(e.code().value(), EPROTONOSUPPORT) << e.what();
            const std::string what = e.what();
            EXPECT_NE(what.find(vnl), std::string::npos) << what;
            EXPECT_NE(what.find("unknown VNL scheme"), std::string::npos) << what;
            EXPECT_NE(what.find("libvdeplug_"), std::string::npos) << what;
        }
    }
    try {
        open_transport("nosuchscheme://x");
    } catch (const vdestack::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'nosuchscheme'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("libvdeplug_nosuchscheme.so"), std::string::npos) << e.what();
    }
}

// The plugin exists but fails: its errno, not "unknown scheme".
TEST(ExtPlugin, PluginFailureIsNotAnUnknownScheme) {
    REQUIRE_PLUGIN("vlan");
    try {
        open_transport("vlan://3{nosuchscheme://x}");
        ADD_FAILURE() << "opened";
    } catch (const vdestack::Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("unknown VNL scheme 'vlan'"), std::string::npos) << what;
        EXPECT_NE(what.find("libvdeplug_vlan.so"), std::string::npos) << what;
    }
}

// Without a loadable libvdeplug, a scheme we lack is still a clean
// EPROTONOSUPPORT. libvdeplug is loaded once per process: the check runs in a
// forked child whose Tuning names no file as the libvdeplug (ctest runs each
// test in a fresh process; when an earlier test of this process loaded it, skip).
int check_without_libvdeplug() {
    vdestack::plug::OpenOptions opts;
    opts.tuning.libvdeplug = "/nonexistent/libvdeplug.so.2";
    if (!vdestack::plug::extplugin_library(opts.tuning).empty()) return 77;
    try {
        open_transport("vlan://5{null://}", opts);
        return 1;
    } catch (const vdestack::Error& e) {
        const std::string what = e.what();
        if (e.code().value() != EPROTONOSUPPORT) return 2;
        if (what.find("unknown VNL scheme 'vlan'") == std::string::npos) return 3;
        if (what.find("libvdeplug_vlan.so") == std::string::npos) return 4;
    }
    try {
        auto ours = open_transport("null://");  // built-in schemes do not care
    } catch (...) {
        return 5;
    }
    return 0;
}

TEST(ExtPlugin, WithoutLibvdeplug) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(check_without_libvdeplug());
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "libvdeplug was already loaded by this process";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: opened, 2: not EPROTONOSUPPORT, 3/4: message, 5: null:// failed";
}

// Our wrapper closes what it opened (vde_close), and failures leak nothing.
// (Not over Debian's vxvde: its 4.0.1 vde_close leaks its epoll fd.)
TEST(ExtPlugin, NoFdLeak) {
    REQUIRE_PLUGIN("vlan");
    REQUIRE_PLUGIN("multi");
    const bool slirp = plugin_installed("slirp") && !kSanitizer;
    TempDir dir;
    { auto warm = open_transport("vlan://5{null://}"); }  // loads libvdeplug and the plugins
    if (slirp) (void)open_transport("slirp://");
    const std::size_t before = open_fds();
    for (int i = 0; i < 5; i++) {
        {
            auto v = open_transport("vlan://5{null://}");
            send_frame(*v, make_frame(kBroadcast, mac_of(1), 64, 1));
            EXPECT_TRUE(recv_frames(*v, 10ms).empty());
        }
        if (slirp) {
            auto s = open_transport("slirp://");
            send_frame(*s, make_frame(kBroadcast, mac_of(1), 64, 1));
        }
        {
            const std::string node = dir.path + "/n" + std::to_string(i);
            auto host = open_transport("multi://" + node);
            std::unique_ptr<Transport> client;
            {
                Pump pump(*host);
                client = open_transport("vde://" + node);
            }
            send_frame(*client, make_frame(mac_of(1), mac_of(2), 64, 2));
            EXPECT_EQ(recv_frames(*host, 2s, 1).size(), 1u);
        }
        EXPECT_THROW(open_transport("nosuchscheme://x"), vdestack::Error);
        EXPECT_THROW(open_transport("vlan://3{nosuchscheme://x}"), vdestack::Error);
    }
    EXPECT_EQ(open_fds(), before);
}

}  // namespace
