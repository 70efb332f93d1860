// plug_tap.cpp - the tap:// transport (src/plug/tap.cpp), in the private
// netns of netns_main.cpp. The kernel side of the tap is observed and fed
// through an AF_PACKET socket bound to the interface.
//
// Covered: the interface is created in the caller's netns and goes away with
// the transport; frames both ways at 60/1514 bytes and, with the MTU raised
// to 9000, 9014 bytes; a burst; a down interface drops without killing the
// link; the interface deleted under us makes recv/send fail (EBADFD) without
// crash or hang; bad VNLs (EINVAL naming the VNL), a name in use by a non-tap
// device; no fd leak. All waits are bounded.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
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
Frame make_frame(std::size_t len, std::uint8_t seed) { return vdetest::make_frame(0x35, len, seed); }
using vdetest::send_frames;
using vdetest::send_ok;
using vdetest::count_fds;
using vdetest::expect_open_error;

constexpr std::uint16_t kEtherType = 0x88b5;  // local experimental: the kernel ignores it

bool is_ours(const Frame& f) {
    return f.size() >= 14 && f[12] == std::byte{kEtherType >> 8} && f[13] == std::byte{kEtherType & 0xff};
}

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// Our frames (by EtherType; the kernel's own IPv6 chatter is skipped)
// received within `timeout`.
std::vector<Frame> recv_frames(Transport& t, std::chrono::milliseconds timeout, std::size_t want = SIZE_MAX,
                               vdetest::RecvOptions o = {}) {
    o.want = want;
    std::vector<Frame> out;
    for (auto& r : vdetest::recv_each(t, timeout, o, [](const vdetest::Received& g) { return is_ours(g.frame); }))
        out.push_back(std::move(r.frame));
    return out;
}

// An AF_PACKET socket on the interface: the kernel's side of the tap.
class KernelSide {
public:
    explicit KernelSide(const std::string& ifname) : ifindex_(static_cast<int>(::if_nametoindex(ifname.c_str()))) {
        fd_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType)));
        EXPECT_TRUE(fd_.valid()) << std::strerror(errno);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(kEtherType);
        sll.sll_ifindex = ifindex_;
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0) << std::strerror(errno);
    }
    // Transmits on the interface: the tap's reader gets it.
    bool transmit(const Frame& f) {
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_ifindex = ifindex_;
        sll.sll_halen = 6;
        return ::sendto(fd_.get(), f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) ==
               static_cast<ssize_t>(f.size());
    }
    // The next frame the interface received (what the tap's writer wrote).
    std::optional<Frame> received(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() < 0) return std::nullopt;
            pollfd p{fd_.get(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
            Frame f(65536);
            sockaddr_ll from{};
            socklen_t fl = sizeof from;
            const ssize_t n = ::recvfrom(fd_.get(), f.data(), f.size(), MSG_DONTWAIT,
                                         reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 0) continue;
            if (from.sll_pkttype == PACKET_OUTGOING) continue;  // our own transmissions
            f.resize(static_cast<std::size_t>(n));
            return f;
        }
    }

private:
    int ifindex_;
    UniqueFd fd_;
};

// ---------------------------------------------------------------------------

TEST(Tap, FramesBothWaysAndJumbo) {
    const int fds_before = count_fds();
    const std::string ifname = "vdtap0";
    {
        auto t = open_transport("tap://" + ifname);
        EXPECT_NE(::if_nametoindex(ifname.c_str()), 0u);
        EXPECT_EQ(t->poll_fds().size(), 1u);
        ASSERT_EQ(sh("ip link set " + ifname + " mtu 9000 up"), 0);
        KernelSide k(ifname);
        for (std::size_t len : {60u, 1514u, 9014u}) {
            // tap -> kernel
            const Frame f = make_frame(len, 1);
            EXPECT_EQ(send_frames(*t, {f}), 1);
            auto got = k.received(2s);
            ASSERT_TRUE(got.has_value()) << len;
            EXPECT_EQ(*got, f);
            // kernel -> tap
            const Frame g = make_frame(len, 2);
            ASSERT_TRUE(k.transmit(g)) << len << ": " << std::strerror(errno);
            auto back = recv_frames(*t, 2s, 1);
            ASSERT_EQ(back.size(), 1u) << len;
            EXPECT_EQ(back[0], g);
        }
        // A burst from the kernel, read in batches.
        std::vector<Frame> burst;
        for (std::uint8_t i = 0; i < 200; i++) burst.push_back(make_frame(1514, i));
        for (const Frame& f : burst) ASSERT_TRUE(k.transmit(f));
        EXPECT_EQ(recv_frames(*t, 3s, burst.size()), burst);
        // Runts are not written.
        EXPECT_EQ(send_frames(*t, {Frame(10, std::byte{1})}), 1);
        EXPECT_FALSE(k.received(100ms).has_value());
    }
    EXPECT_EQ(::if_nametoindex(ifname.c_str()), 0u);  // gone with the transport
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Tap, DownInterfaceDropsButLives) {
    auto t = open_transport("tap://vdtap1");  // created down
    const Frame f = make_frame(100, 3);
    EXPECT_EQ(send_frames(*t, {f, f, f}), 3);
    ASSERT_EQ(sh("ip link set vdtap1 up"), 0);
    KernelSide k("vdtap1");
    EXPECT_EQ(send_frames(*t, {f}), 1);
    auto got = k.received(2s);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, f);
}

TEST(Tap, InterfaceDeletedUnderUs) {
    const int fds_before = count_fds();
    {
        auto t = open_transport("tap://vdtap2");
        ASSERT_EQ(sh("ip link set vdtap2 up"), 0);
        ASSERT_EQ(sh("ip link del vdtap2"), 0);
        ssize_t status = 0;
        (void)recv_frames(*t, 2s, SIZE_MAX, {.status = &status});
        EXPECT_LT(status, 0);
        const Frame f = make_frame(100, 4);
        EXPECT_LT(send_frames(*t, {f}), 0);
    }
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Tap, BadVnls) {
    const int fds_before = count_fds();
    for (const char* vnl : {"tap://", "tap://a/b", "tap://a:b", "tap://a b", "tap://waytoolonginterfacename", "tap://.",
                            "tap://.."})
        expect_open_error(vnl, EINVAL);
    // A name taken by a device that is not a tap.
    try {
        auto t = open_transport("tap://lo");
        ADD_FAILURE() << "tap://lo opened";
    } catch (const Error& e) {
        EXPECT_NE(e.code().value(), 0);
        EXPECT_NE(std::string(e.what()).find("tap://lo"), std::string::npos) << e.what();
    }
    // A tap in use by another transport (no multiqueue).
    auto a = open_transport("tap://vdtap3");
    try {
        auto b = open_transport("tap://vdtap3");
        ADD_FAILURE() << "opened twice";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), EBUSY) << e.what();
    }
    a.reset();
    EXPECT_EQ(count_fds(), fds_before);
}

}  // namespace
