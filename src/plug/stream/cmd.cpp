// cmd.cpp - the cmd:// transport: a command's stdin/stdout in the VDE stream
// framing, compatible with vdeplug4 4.0.1's libvdeplug_cmd.
//
// Theory of operation
// -------------------
// VNL: cmd://COMMAND ARGS. The text is split into argv WITHOUT a shell, as
// vdeplug4's coprocsp (libexecs s2argv) does, by split_commands:
// blanks separate words, '...' and "..." quote, '\' escapes, '$' is dropped
// (no expansion); there are no redirections or pipes. It must give exactly one
// command (';' separates commands: more than one is EINVAL).
//
// Spawn: posix_spawnp (PATH search) with two pipes: the command's stdin is
// the read end of `to` (we keep its write end), its stdout the write end of
// `from` (we keep its read end); stderr is inherited. The child gets an empty
// signal mask and default dispositions (SIGPIPE included, whatever ours).
// Our ends are nonblocking and close-on-exec; the pipes are enlarged to 1 MiB
// (best effort). A pidfd of the child (pidfd_open) tells us when it exits.
//
// Framing and data: the stream transport (stream.hpp: 2-byte big-endian
// length + frame, frames up to kMaxFrame, a length split across reads is
// fine) owns our two pipe ends and does the reading and writing.
//   recv(): the stream's frames. The link is dead (-EPIPE, from then on) at
//   EOF on the command's stdout, or when the command has exited and nothing
//   is left to read (a grandchild may keep stdout open).
//   send(): a command that stops reading must not block the caller (the
//   stream transport waits until a record is written whole), so a frame is
//   handed to it only if the pipe surely has room for it: pages in use are
//   at most 2 * queued / 4096 + 1 (two consecutive pipe pages always hold more
//   than a page of data), so we require 2 * (queued + record) + 8192 <=
//   capacity (F_GETPIPE_SZ; queued is FIONREAD on the pipe). The first frame
//   that does not fit and the rest of the call are dropped (a full queue
//   drops, like a NIC). SIGPIPE is blocked in the calling thread around the
//   write, and one it raised is consumed, so a command that exits never kills
//   us whatever SIGPIPE's disposition; EPIPE is a dead link.
// Destruction: the pipes are closed (the command sees EOF), then SIGTERM
// (through the pidfd: never a recycled pid), a wait of at most 1 s, SIGKILL,
// a wait of at most 2 s, and waitpid. A command already reaped by someone
// else (SIGCHLD ignored: the kernel reaps) is fine (ECHILD). Without pidfds
// (old kernels), kill() and waitpid(WNOHANG) polling do the same.
// No allocation per frame. Not thread-safe (one engine thread).
#include "plug/stream/cmd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "plug/stream/stream.hpp"
#include "base/cmdline.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/stream.hpp"

extern char** environ;

namespace vdestack::plug {

namespace {

constexpr int kPipeSize = 1 << 20;     // best effort (pipe-max-size)
constexpr int kTermWaitMs = 1000;      // after SIGTERM
constexpr int kKillWaitMs = 2000;      // after SIGKILL
constexpr std::size_t kPage = 4096;

// An fd >= 3, so that dup2 onto 0 and 1 in the child cannot clobber it.
UniqueFd above_stdio(UniqueFd fd, const std::string& v) {
    if (fd.get() > 2) return fd;
    UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved) fail_errno(v + ": fcntl(F_DUPFD_CLOEXEC)");
    return moved;
}

void make_pipe(UniqueFd& rd, UniqueFd& wr, const std::string& v) {
    int p[2] = {-1, -1};
    if (::pipe2(p, O_CLOEXEC) != 0) fail_errno(v + ": pipe2");
    rd = above_stdio(UniqueFd(p[0]), v);
    wr = above_stdio(UniqueFd(p[1]), v);
    (void)::fcntl(rd.get(), F_SETPIPE_SZ, kPipeSize);
}

void set_nonblock(int fd) noexcept {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0) (void)::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// Blocks SIGPIPE in this thread for its lifetime; consume() eats one raised
// meanwhile (unless one was already pending before).
class SigpipeBlock {
public:
    SigpipeBlock() noexcept {
        sigemptyset(&set_);
        sigaddset(&set_, SIGPIPE);
        (void)::pthread_sigmask(SIG_BLOCK, &set_, &old_);
        sigset_t pending;
        sigemptyset(&pending);
        was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeBlock() { (void)::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;
    void consume() noexcept {
        if (was_pending_) return;
        const timespec zero{};
        while (::sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }

private:
    sigset_t set_{};
    sigset_t old_{};
    bool was_pending_ = false;
};

class CmdTransport final : public Transport {
public:
    CmdTransport(std::string vnl_text, std::unique_ptr<Transport> stream, int to_child, pid_t pid, UniqueFd pidfd)
        : vnl_(std::move(vnl_text)), stream_(std::move(stream)), to_child_(to_child), pid_(pid),
          pidfd_(std::move(pidfd)) {
        fds_[0] = stream_->poll_fds()[0];
        fds_[1] = pidfd_.get();
        nfds_ = pidfd_ ? 2 : 1;
        const int cap = ::fcntl(to_child_, F_GETPIPE_SZ);
        pipe_cap_ = cap > 0 ? static_cast<std::size_t>(cap) : 65536;
    }
    ~CmdTransport() override;

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return {fds_.data(), nfds_}; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    [[nodiscard]] bool exited() noexcept;
    bool wait_exit(int ms) noexcept;
    void signal_child(int sig) noexcept;

    std::string vnl_;
    std::unique_ptr<Transport> stream_;  // owns both pipe ends
    int to_child_;                       // the stream's output fd (for FIONREAD)
    pid_t pid_;
    UniqueFd pidfd_;
    std::array<int, 2> fds_{-1, -1};
    std::size_t nfds_ = 1;
    std::size_t pipe_cap_ = 65536;
    bool dead_ = false;
    bool reaped_ = false;
};

bool CmdTransport::exited() noexcept {
    if (reaped_) return true;
    if (pidfd_) {
        pollfd p{pidfd_.get(), POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }
    const pid_t r = ::waitpid(pid_, nullptr, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) reaped_ = true;
    return reaped_;
}

// Waits at most `ms` for the command to exit; true if it did.
bool CmdTransport::wait_exit(int ms) noexcept {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        if (exited()) return true;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return false;
        if (pidfd_) {
            pollfd p{pidfd_.get(), POLLIN, 0};
            (void)::poll(&p, 1, static_cast<int>(left));
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min<long long>(left, 10)));
        }
    }
}

void CmdTransport::signal_child(int sig) noexcept {
    if (pidfd_) {
        (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0U);
    } else if (!reaped_) {
        (void)::kill(pid_, sig);
    }
}

CmdTransport::~CmdTransport() {
    stream_.reset();  // closes the pipes: EOF on the command's stdin
    if (!exited()) {
        signal_child(SIGTERM);
        if (!wait_exit(kTermWaitMs)) {
            signal_child(SIGKILL);
            (void)wait_exit(kKillWaitMs);
        }
    }
    if (!reaped_) {
        int st = 0;
        pid_t r;
        while ((r = ::waitpid(pid_, &st, WNOHANG)) < 0 && errno == EINTR) {
        }
        // r == 0: still not dead 3 s after SIGKILL (uninterruptible sleep);
        // we cannot wait forever. ECHILD: reaped by the kernel or someone else.
    }
}

ssize_t CmdTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (dead_) return -EPIPE;
    const ssize_t n = stream_->recv(bufs);
    if (n < 0 || (n == 0 && exited())) {
        dead_ = true;
        return -EPIPE;
    }
    return n;
}

ssize_t CmdTransport::send(std::span<const FrameRef> frames) noexcept {
    if (dead_) return -EPIPE;
    int queued = 0;
    if (::ioctl(to_child_, FIONREAD, &queued) != 0 || queued < 0) queued = 0;
    std::size_t bytes = static_cast<std::size_t>(queued);
    std::size_t fit = 0;
    for (; fit < frames.size(); fit++) {
        const std::size_t len = frames[fit].len;
        if (len < kMinFrame || len > kMaxFrame) continue;  // the stream drops it
        const std::size_t rec = wire::kStreamHeader + len;
        if (2 * (bytes + rec) + 2 * kPage > pipe_cap_) break;
        bytes += rec;
    }
    if (fit == 0) return static_cast<ssize_t>(frames.size());
    ssize_t r;
    {
        SigpipeBlock block;
        r = stream_->send(frames.first(fit));
        if (r < 0) block.consume();
    }
    if (r < 0) {
        dead_ = true;
        return -EPIPE;
    }
    return static_cast<ssize_t>(frames.size());
}

}  // namespace

std::unique_ptr<Transport> open_cmd(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    const std::string v(vnl);
    const std::vector<Argv> cmds = split_commands(rest);
    if (cmds.empty()) fail(EINVAL, v + ": a command is required (cmd://COMMAND ARGS)");
    if (cmds.size() > 1) fail(EINVAL, v + ": one command expected (';' separates commands)");
    const Argv& args = cmds[0];

    UniqueFd to_rd, to_wr, from_rd, from_wr;
    make_pipe(to_rd, to_wr, v);
    make_pipe(from_rd, from_wr, v);
    set_nonblock(to_wr.get());
    set_nonblock(from_rd.get());

    // The stream transport owns our ends from here (and closes them if the
    // spawn fails).
    std::unique_ptr<Transport> stream = open_stream(v, from_rd.get(), to_wr.get(), true);
    const int to_child = to_wr.release();
    (void)from_rd.release();

    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (int rc = ::posix_spawn_file_actions_init(&fa); rc != 0) fail(rc, v + ": posix_spawn_file_actions_init");
    if (int rc = ::posix_spawnattr_init(&attr); rc != 0) {
        ::posix_spawn_file_actions_destroy(&fa);
        fail(rc, v + ": posix_spawnattr_init");
    }
    ::posix_spawn_file_actions_adddup2(&fa, to_rd.get(), 0);
    ::posix_spawn_file_actions_adddup2(&fa, from_wr.get(), 1);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) fail(rc, v + ": posix_spawnp(" + args[0] + ")");
    to_rd.reset();
    from_wr.reset();

    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U)));  // close-on-exec by nature
    try {
        return std::make_unique<CmdTransport>(v, std::move(stream), to_child, pid, std::move(pidfd));
    } catch (...) {
        ::kill(pid, SIGKILL);
        (void)::waitpid(pid, nullptr, 0);
        throw;
    }
}

}  // namespace vdestack::plug
