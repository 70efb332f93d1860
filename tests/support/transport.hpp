// transport.hpp - what the transport tests (transports/*.cpp) share: sending
// a batch of frames (frames.hpp), and receiving with a deadline.
//
// Also: expecting open_transport() to fail
// with an errno and a message naming the VNL, the 2-byte length framing of
// vdeplug4's stream (a vde_plug child's stdin/stdout), and Child, a program
// (Debian's vde_plug, say) run with its stdin/stdout on pipes.
//
// recv_each() is the one receive loop: it waits on the transport's poll_fds()
// (not when it says it holds frames already: pending()), calls recv() with
// fresh slots and hands every frame to a callback, until the callback has
// kept `want` frames, the deadline passes or recv() fails. A failure is a test
// failure unless the caller asks for it in `status`. recv_frames() and
// recv_vnet() are the two ways the tests use it.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "plug/transport.hpp"
#include "support/frames.hpp"
#include "support/proc.hpp"
#include "support/tempdir.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/vnet.hpp"

namespace vdetest {

namespace plug = vdestack::plug;
namespace wire = vdestack::wire;
using vdestack::Error;
using vdestack::UniqueFd;


struct RecvOptions {
    std::size_t want = SIZE_MAX;  // stop once this many frames are kept
    std::size_t slots = 16;       // FrameBufs per recv() call, kMaxFrame bytes each
    ssize_t* status = nullptr;    // gets a negative recv() result (else: a test failure)
};

// A received frame: its bytes, its virtio_net_hdr when it came whole
// (FrameBuf::vnet), and whether the transport handed it out of its own
// storage instead of the caller's slot.
struct Received {
    Frame frame;
    std::optional<wire::VnetHdr> vnet;
    bool foreign = false;
};

// keep(const Received&) -> bool: whether the frame counts towards `want`
// (and is returned).
template <class Keep>
std::vector<Received> recv_each(plug::Transport& t, std::chrono::milliseconds timeout, const RecvOptions& o,
                                Keep keep) {
    std::vector<Received> got;
    std::vector<Frame> storage(o.slots, Frame(plug::kMaxFrame));
    std::vector<plug::FrameBuf> bufs(o.slots);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < o.want) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) break;
        if (!t.pending()) {
            std::vector<pollfd> pfds;
            for (int fd : t.poll_fds()) pfds.push_back({fd, POLLIN, 0});
            if (::poll(pfds.data(), pfds.size(), static_cast<int>(left.count())) <= 0) continue;
        }
        for (std::size_t i = 0; i < o.slots; i++) bufs[i] = {storage[i].data(), storage[i].size(), 0};
        const ssize_t n = t.recv(bufs);
        if (n < 0) {
            if (o.status != nullptr)
                *o.status = n;
            else
                ADD_FAILURE() << t.vnl() << ": recv: " << n;
            break;
        }
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); i++) {
            const plug::FrameBuf& b = bufs[i];
            Received r{Frame(b.data, b.data + b.len), std::nullopt, b.data != storage[i].data()};
            if (b.vnet != nullptr)
                r.vnet = wire::VnetHdr::parse(std::span<const std::byte>(b.vnet, wire::VnetHdr::kSize));
            if (keep(r)) got.push_back(std::move(r));
        }
    }
    return got;
}

// Frames (bytes only) received within `timeout`, at most `want`.
inline std::vector<Frame> recv_frames(plug::Transport& t, std::chrono::milliseconds timeout,
                                      std::size_t want = SIZE_MAX, RecvOptions o = {}) {
    o.want = want;
    std::vector<Frame> out;
    for (Received& r : recv_each(t, timeout, o, [](const Received&) { return true; }))
        out.push_back(std::move(r.frame));
    return out;
}

// The same with each frame's vnet header (whole frames) and origin.
inline std::vector<Received> recv_vnet(plug::Transport& t, std::chrono::milliseconds timeout,
                                       std::size_t want = SIZE_MAX, RecvOptions o = {}) {
    o.want = want;
    return recv_each(t, timeout, o, [](const Received&) { return true; });
}

// send() of a batch; its result.
inline ssize_t send_frames(plug::Transport& t, const std::vector<Frame>& fs) {
    std::vector<plug::FrameRef> refs;
    for (const Frame& f : fs) refs.push_back({f.data(), f.size()});
    return t.send(refs);
}

// send() of a batch that must take every frame.
inline void send_ok(plug::Transport& t, const std::vector<Frame>& fs) {
    EXPECT_EQ(send_frames(t, fs), static_cast<ssize_t>(fs.size())) << t.vnl();
}

// open_transport(vnl) must throw an Error with errno `err` naming the VNL.
inline void expect_open_error(const std::string& vnl, int err) {
    try {
        auto t = plug::open_transport(vnl);
        ADD_FAILURE() << vnl << ": opened";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), err) << vnl << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(vnl), std::string::npos) << e.what();
    }
}

// One frame in the stream framing (2-byte big-endian length, then the frame).
inline bool write_framed(int fd, const Frame& f) {
    std::vector<std::byte> rec(2 + f.size());
    rec[0] = static_cast<std::byte>(f.size() >> 8);
    rec[1] = static_cast<std::byte>(f.size() & 0xff);
    std::memcpy(rec.data() + 2, f.data(), f.size());
    return ::write(fd, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size());
}

inline bool read_exact(int fd, std::byte* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
    std::size_t got = 0;
    while (got < n) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
        const ssize_t r = ::read(fd, out + got, n - got);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}

// The next frame of the stream within `timeout`; nullopt on timeout or EOF.
inline std::optional<Frame> read_framed(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<std::byte, 2> hdr{};
    if (!read_exact(fd, hdr.data(), 2, deadline)) return std::nullopt;
    const std::size_t len = (std::to_integer<std::size_t>(hdr[0]) << 8) | std::to_integer<std::size_t>(hdr[1]);
    Frame f(len);
    if (!read_exact(fd, f.data(), len, deadline)) return std::nullopt;
    return f;
}

// A program run with its stdin and stdout on pipes (or stdout on /dev/null
// and no pipes); stop() (also the destructor): close the pipes, SIGTERM,
// SIGKILL after 3 s; kill9(): SIGKILL at once. Always reaped.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv, bool pipes = true) {
        int in[2] = {-1, -1}, out[2] = {-1, -1};
        if (pipes) {
            EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
            EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
        }
        std::vector<char*> args;
        for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
        args.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            if (pipes) {
                ::dup2(in[0], 0);
                ::dup2(out[1], 1);
            } else {
                const int devnull = ::open("/dev/null", O_RDWR);
                ::dup2(devnull, 1);
            }
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        if (pipes) {
            ::close(in[0]);
            ::close(out[1]);
            to_ = UniqueFd(in[1]);
            from_ = UniqueFd(out[0]);
        }
    }
    ~Child() { stop(); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] int to() const { return to_.get(); }
    [[nodiscard]] int from() const { return from_.get(); }
    bool running() {
        if (pid_ <= 0) return false;
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    // SIGKILL first, pipes closed after: the program gets no EOF to clean up on.
    void kill9() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
        to_.reset();
        from_.reset();
    }
    void stop() {
        to_.reset();
        from_.reset();
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill9();
    }

private:
    pid_t pid_ = -1;
    UniqueFd to_;
    UniqueFd from_;
};

}  // namespace vdetest
