// plug_seqpacket.cpp - the seqpacket:// transport (src/plug/seqpacket.cpp)
// on one end of an AF_UNIX SOCK_SEQPACKET socketpair.
//
// Covered: frames both ways at 60/1514/9234 bytes and in bursts; runts and
// empty frames never sent; an empty message from the peer is skipped, not
// taken for EOF; the peer closing makes recv and send return -EPIPE (no
// SIGPIPE); ownership (closed by the destructor, close-on-exec, left alone on
// failure); bad VNLs (EINVAL naming the VNL), a closed fd (EBADF), a pipe
// (ENOTSOCK), a datagram socket (EINVAL); DEBIAN's vde_plug seqpacket://3 on
// the other end of the pair. All waits are bounded.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
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
Frame make_frame(std::size_t len, std::uint8_t seed) { return vdetest::make_frame(0x33, len, seed); }
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;
using vdetest::count_fds;
using vdetest::expect_open_error;

constexpr const char* kDebianVdePlug = "/usr/bin/vde_plug";

void send_frame(Transport& t, const Frame& f) { send_ok(t, {f}); }

struct Pair {
    UniqueFd ours, theirs;
    explicit Pair(int type = SOCK_SEQPACKET) {
        int sv[2] = {-1, -1};
        EXPECT_EQ(::socketpair(AF_UNIX, type, 0, sv), 0);  // not CLOEXEC: as inherited
        ours = UniqueFd(sv[0]);
        theirs = UniqueFd(sv[1]);
        const int big = 4 << 20;  // the tests' blocking bursts must fit
        EXPECT_EQ(::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big), 0);
    }
};

std::optional<Frame> raw_recv(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    Frame f(kMaxFrame + 100);
    const ssize_t n = ::recv(fd, f.data(), f.size(), MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    f.resize(static_cast<std::size_t>(n));
    return f;
}

// ---------------------------------------------------------------------------

TEST(Seqpacket, FramesBothWays) {
    Pair p;
    auto t = open_transport("seqpacket://" + std::to_string(p.ours.release()));
    ASSERT_EQ(t->poll_fds().size(), 1u);
    for (std::size_t len : {60u, 1514u, 9000u, static_cast<unsigned>(kMaxFrame)}) {
        const Frame f = make_frame(len, 1);
        send_frame(*t, f);
        auto got = raw_recv(p.theirs.get(), 2s);
        ASSERT_TRUE(got.has_value()) << len;
        EXPECT_EQ(*got, f);
        const Frame g = make_frame(len, 2);
        ASSERT_EQ(::send(p.theirs.get(), g.data(), g.size(), 0), static_cast<ssize_t>(g.size()));
        auto back = recv_frames(*t, 2s, 1);
        ASSERT_EQ(back.size(), 1u) << len;
        EXPECT_EQ(back[0], g);
    }
    // Bursts.
    std::vector<Frame> burst;
    for (std::uint8_t i = 0; i < 100; i++) burst.push_back(make_frame(1514, i));
    send_ok(*t, burst);
    for (const Frame& f : burst) {
        auto got = raw_recv(p.theirs.get(), 2s);
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(*got, f);
    }
    for (const Frame& f : burst) ASSERT_EQ(::send(p.theirs.get(), f.data(), f.size(), 0), 1514);
    EXPECT_EQ(recv_frames(*t, 3s, burst.size()), burst);
}

TEST(Seqpacket, NoEmptyMessagesAndEmptyIsNotEof) {
    Pair p;
    auto t = open_transport("seqpacket://" + std::to_string(p.ours.release()));
    // We never send empty messages (nor runts).
    const Frame empty;
    const Frame runt(13, std::byte{1});
    send_ok(*t, {empty, runt});
    EXPECT_FALSE(raw_recv(p.theirs.get(), 200ms).has_value());
    // An empty message from a peer is skipped; the link lives on.
    ASSERT_EQ(::send(p.theirs.get(), "", 0, 0), 0);
    const Frame f = make_frame(100, 3);
    ASSERT_EQ(::send(p.theirs.get(), f.data(), f.size(), 0), 100);
    ssize_t status = 0;
    auto got = recv_frames(*t, 2s, 1, {.status = &status});
    EXPECT_EQ(status, 0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

TEST(Seqpacket, PeerHangupIsEpipeWithoutSigpipe) {
    const int fds_before = count_fds();
    struct sigaction old {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);  // a SIGPIPE would kill the test
    {
        Pair p;
        auto t = open_transport("seqpacket://" + std::to_string(p.ours.release()));
        const Frame f = make_frame(1514, 4);
        ASSERT_EQ(::send(p.theirs.get(), f.data(), f.size(), 0), 1514);
        p.theirs.reset();
        // The frame sent before the hang-up is delivered first.
        ssize_t status = 0;
        auto got = recv_frames(*t, 2s, SIZE_MAX, {.status = &status});
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0], f);
        EXPECT_EQ(status, -EPIPE);
        std::array<std::byte, 64> buf{};
        FrameBuf b{buf.data(), buf.size(), 0};
        EXPECT_EQ(t->recv({&b, 1}), -EPIPE);
        const FrameRef r{f.data(), f.size()};
        EXPECT_EQ(t->send({&r, 1}), -EPIPE);
    }
    {
        // Hang-up seen first by send.
        Pair p;
        auto t = open_transport("seqpacket://" + std::to_string(p.ours.release()));
        p.theirs.reset();
        const Frame f = make_frame(1514, 5);
        const FrameRef r{f.data(), f.size()};
        EXPECT_EQ(t->send({&r, 1}), -EPIPE);
    }
    ::sigaction(SIGPIPE, &old, nullptr);
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Seqpacket, OwnershipOfTheFd) {
    const int fds_before = count_fds();
    {
        Pair p;
        const int fd = p.ours.release();
        {
            auto t = open_transport("seqpacket://" + std::to_string(fd));
            EXPECT_EQ(t->poll_fds()[0], fd);
            EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
            EXPECT_EQ(t->vnl(), "seqpacket://" + std::to_string(fd));
        }
        EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed by the transport
        EXPECT_EQ(errno, EBADF);
    }
    EXPECT_EQ(count_fds(), fds_before);
}

TEST(Seqpacket, BadVnls) {
    const int fds_before = count_fds();
    for (const char* vnl : {"seqpacket://", "seqpacket://abc", "seqpacket://-1", "seqpacket://12x",
                            "seqpacket://3 ", "seqpacket://99999999999"})
        expect_open_error(vnl, EINVAL);
    expect_open_error("seqpacket://987654", EBADF);
    int pp[2];
    ASSERT_EQ(::pipe2(pp, O_CLOEXEC), 0);
    UniqueFd pr(pp[0]), pw(pp[1]);
    expect_open_error("seqpacket://" + std::to_string(pr.get()), ENOTSOCK);
    Pair dgram(SOCK_DGRAM);
    expect_open_error("seqpacket://" + std::to_string(dgram.ours.get()), EINVAL);
    // A failed open leaves the fd alone.
    EXPECT_NE(::fcntl(pr.get(), F_GETFD), -1);
    EXPECT_NE(::fcntl(dgram.ours.get(), F_GETFD), -1);
    pr.reset();
    pw.reset();
    dgram.ours.reset();
    dgram.theirs.reset();
    EXPECT_EQ(count_fds(), fds_before);
}

// Debian's vde_plug seqpacket://3 on the other end of the pair: frames cross
// its seqpacket plugin and its stdin/stdout stream framing.
TEST(Seqpacket, DebianVdePlug) {
    if (::access(kDebianVdePlug, X_OK) != 0) GTEST_SKIP() << "Debian's vde_plug is not installed";
    Pair p;
    int in[2], out[2];
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p.ours.get());  // first: it may be fd 3
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        if (p.theirs.get() == 3) ::fcntl(3, F_SETFD, 0);
        else ::dup2(p.theirs.get(), 3);
        ::execl(kDebianVdePlug, kDebianVdePlug, "seqpacket://3", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    UniqueFd to(in[1]), from(out[0]);
    p.theirs.reset();
    {
        auto t = open_transport("seqpacket://" + std::to_string(p.ours.release()));
        for (std::size_t len : {60u, 1514u, 9000u}) {
            const Frame f = make_frame(len, 6);
            send_frame(*t, f);
            std::array<std::byte, 2> hdr{};
            pollfd pf{from.get(), POLLIN, 0};
            ASSERT_EQ(::poll(&pf, 1, 3000), 1);
            Frame back(len);
            std::size_t got = 0;
            std::vector<std::byte> all(2 + len);
            while (got < all.size()) {
                ASSERT_EQ(::poll(&pf, 1, 3000), 1);
                const ssize_t r = ::read(from.get(), all.data() + got, all.size() - got);
                ASSERT_GT(r, 0);
                got += static_cast<std::size_t>(r);
            }
            std::memcpy(hdr.data(), all.data(), 2);
            EXPECT_EQ((std::to_integer<std::size_t>(hdr[0]) << 8) | std::to_integer<std::size_t>(hdr[1]), len);
            std::memcpy(back.data(), all.data() + 2, len);
            EXPECT_EQ(back, f);

            const Frame g = make_frame(len, 7);
            std::vector<std::byte> rec(2 + len);
            rec[0] = static_cast<std::byte>(len >> 8);
            rec[1] = static_cast<std::byte>(len & 0xff);
            std::memcpy(rec.data() + 2, g.data(), len);
            ASSERT_EQ(::write(to.get(), rec.data(), rec.size()), static_cast<ssize_t>(rec.size()));
            auto in_frames = recv_frames(*t, 3s, 1);
            ASSERT_EQ(in_frames.size(), 1u) << len;
            EXPECT_EQ(in_frames[0], g);
        }
        // Debian's vde_plug exits on stdin EOF: its socket closes, our link dies.
        to.reset();
        ssize_t status = 0;
        (void)recv_frames(*t, 5s, SIZE_MAX, {.status = &status});
        EXPECT_EQ(status, -EPIPE);
    }
    int st = 0;
    for (int i = 0; i < 300 && ::waitpid(pid, &st, WNOHANG) == 0; i++) std::this_thread::sleep_for(10ms);
    if (::waitpid(pid, &st, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
    }
}

}  // namespace
