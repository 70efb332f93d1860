// ptp.cpp - the ptp:// transport: a point-to-point cable over two AF_UNIX
// datagram sockets, wire-compatible with Debian's vdeplug4 4.0.1
// libvdeplug_ptp (either end may be Debian's, the other ours).
//
// Debian's wire format (4.0.1, determined by strace of /usr/bin/vde_plug and
// by reading the 4.0.1 sources)
// ----------------------------------------------------------------------
// ptp://PATH: the text after "ptp://" is the path, verbatim (no options).
//   First end: an AF_UNIX SOCK_DGRAM socket bound to PATH (chmod 0700). If
//     PATH exists and is a socket, it first connect()s to it: success means a
//     live first end (then it tries the second end), ECONNREFUSED means a
//     stale socket, which it unlinks before bind().
//   Second end: a SOCK_DGRAM socket connect()ed to PATH, then bound to
//     "PATH+" (a stale PATH+ is unlinked the same way; a live one is
//     EADDRINUSE), chmod 0700.
//   Data: one datagram = one raw Ethernet frame, no header, both ways. The
//     first end sends to PATH+, the second to PATH. Sending is "lazy
//     connected" (vdeplug4 builds with CONNECTED_P2P): send() on the socket,
//     and on ENOTCONN/EDESTADDRREQ connect() to the peer's path and send
//     again. A received empty datagram makes the receiver connect(AF_UNSPEC)
//     (un-connect); nobody sends one. There is no hello, no goodbye, no
//     keepalive: close() just unlinks the own path.
//   Consequence: a connected datagram socket only accepts
//     datagrams and connect()s from its peer, and the kernel tells nobody when
//     that peer dies. When the second end goes, Debian's first end stays
//     connected to the dead socket, and a new second end gets EPERM from
//     connect(PATH) ("refused for a while") until the first end happens to send
//     a frame (ECONNREFUSED, which disconnects it; the next send reconnects).
//
// How newer upstream differs (vdeplug4 git, commit 3a12bea, 2025-04, not in
// Debian): one AF_UNIX SOCK_SEQPACKET socket at PATH, no PATH+. connect(); on
// ENOENT bind+listen(1) instead (EADDRINUSE: retry the connect; ECONNREFUSED:
// unlink the stale socket and retry). The listener answers every accept with
// a 1-byte ack (0 = accepted; an errno, EISCONN, when it already has a peer,
// then closes); the connector waits at most 2 s for it. One seqpacket message
// = one frame; frames are dropped while there is no peer; on hang-up the
// connecting side re-runs connect-or-listen, the listener accepts a new peer.
// The two are NOT interoperable (different socket types, one path vs two).
//
// Theory of operation (ours)
// --------------------------
// Open: as Debian, the first end if PATH can be bound (after removing a stale
// socket; "stale" = connect() says ECONNREFUSED, probed from a throw-away
// socket), else the second end, which binds PATH+ (a live PATH+ means both
// ends are taken: EADDRINUSE). Unlike Debian, the second end does not give up
// when connect(PATH) fails: EPERM (a Debian first end still tied to a dead
// previous peer) or ENOENT/ECONNREFUSED (the first end just left) leave it
// bound and waiting, and the link starts working as soon as a first end can
// take it. Both ends chmod their path to 0700 (Debian's default mode).
//
// After open both ends behave the same; `peer` is the other path:
//   - sock_ (nonblocking, CLOEXEC, owned) is bound to our path and, whenever
//     possible, connect()ed to the peer's path: the kernel then filters the
//     senders, and (unlike an unconnected receiver, whose queue is capped at
//     net.unix.max_dgram_qlen = 10 datagrams) the queue towards us is bounded
//     only by the sender's SO_SNDBUF, which we raise to 4 MiB (best effort).
//     While unconnected we accept datagrams from anyone who may write to our
//     0700 socket (as Debian before its first send).
//   - send() uses one sendmmsg per 64 frames (dgram_batch.hpp) on the connected socket; when
//     not connected it first tries connect() (one syscall), and drops the
//     frames when there is no peer. EAGAIN/ENOBUFS (queue full), EPERM (the
//     peer is tied to another socket), ECONNREFUSED (the peer died: the kernel
//     un-connects us), ENOTCONN drop the rest of the call's frames; EMSGSIZE
//     skips one frame. We never send empty datagrams.
//   - recv() drains sock_ with recvmmsg (dgram_batch.hpp: 64 per call, 16 calls);
//     empty datagrams, runts (< 14 bytes) and truncated datagrams are dropped.
//   - Peer check, once per second, driven by timer_ (a
//     timerfd in poll_fds, re-armed at each check so it never stays
//     readable): while connected, if the peer's path is gone, is another file
//     (inode and change time: inode numbers are reused at once) than the one
//     we connected to, or is a dead socket (probe: ECONNREFUSED), we
//     connect(AF_UNSPEC), so that a new peer can connect to us at once; while
//     not connected we try to connect. So a restarted peer, Debian's or ours,
//     is taken within a second, whichever end restarts.
//   The link is never "dead" (recv/send return -errno only for EBADF-like
//   errors): a cable end waits for its peer, as in vdeplug4.
//   - Whole frames (wire/whole.hpp), between two of our ends only: an end
//     whose caller can take TCP super-segments (accept_whole(true): the
//     engine of a stack or vdens with an IFF_VNET_HDR tap) sends a hello
//     frame whenever it connects to a peer, and in reply to a peer's hello
//     when it has not sent one to that peer yet. A hello names its sender's
//     socket file (device, inode); receiving one that names the file at our
//     peer's path (as stat()ed when we connected) means the peer takes whole
//     frames (a hello passed on by a plain peer names another file):
//     sends_whole() is true until the peer is lost (disconnect,
//     ECONNREFUSED, another file at its path), and the engine
//     then hands TSO super-segments to send_whole() instead of cutting them:
//     one datagram of up to ~64 KiB in an envelope instead of ~45 frames.
//     A new peer (Debian's, say) at the same path is another connection,
//     and it gets ordinary frames until it says hello, which Debian's never
//     does (it sees our hello as one frame of an experimental ethertype).
//     After sending a hello, recv() reads into the area of a WholeEnd
//     (whole_end.hpp, shared with the vde:// client), where a super-segment
//     fits; frames are handed out by pointer into it.
// Destructor: closes the socket and unlinks our path if it is still the file
// we bound (a successor's socket is left alone).
//
// All per-call storage lives in the object: no allocation per frame. Not
// thread-safe (one engine thread).
#include "plug/unix/ptp.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "base/file_id.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/sockbuf.hpp"
#include "plug/dgram_batch.hpp"
#include "plug/unix/whole_end.hpp"
#include "wire/whole.hpp"

namespace vdestack::plug {

namespace {

constexpr int kSockBuf = 4 << 20;           // best-effort send buffer
constexpr mode_t kMode = 0700;              // vdeplug4's default mode
constexpr int kOpenTries = 4;               // role races at open
constexpr std::int64_t kCheckNs = 1000000000;  // peer check period

// Identifies the file at a path. Inode numbers are reused at once (tmpfs), so
// a socket file re-created at the same path can have the old number: the
// change time (bind creates the file, chmod follows) tells them apart.
// The socket file at `path` itself (a link is not followed).
FileId file_id(const std::string& path) noexcept { return file_id_of(path.c_str(), false); }

// The name a hello gives a socket file (wire/whole.hpp).
wire::whole::HelloId hello_id(const FileId& f) noexcept {
    return {static_cast<std::uint64_t>(f.dev), static_cast<std::uint64_t>(f.ino)};
}

struct UnixAddr {
    sockaddr_un sa{};
    socklen_t len = 0;
};

UnixAddr unix_addr(const std::string& path) noexcept {
    UnixAddr a;
    a.sa.sun_family = AF_UNIX;
    std::memcpy(a.sa.sun_path, path.data(), path.size());  // size checked at open
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return a;
}

UniqueFd dgram_socket(const std::string& vnl) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) fail_errno(vnl + ": socket(AF_UNIX, SOCK_DGRAM)");
    return fd;
}

// connect() from a throw-away socket: 0 (a live, unconnected socket), EPERM (a
// live socket connected to someone else), ECONNREFUSED (a dead socket or not
// a socket), ENOENT, ... Never throws.
int probe(const UnixAddr& a) noexcept {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return errno;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.sa), a.len) == 0) return 0;
    return errno;
}

// Removes a stale socket at `path` (one nobody is bound to any more).
void remove_if_stale(const std::string& path, const UnixAddr& a) noexcept {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    if (probe(a) == ECONNREFUSED) (void)::unlink(path.c_str());
}

// The result of open's role choice.
struct Bound {
    UniqueFd sock;
    std::string self;  // our path (PATH or PATH+)
    std::string peer;  // theirs
    FileId self_id;
    bool connected = false;
};

class PtpTransport final : public Transport {
public:
    PtpTransport(std::string vnl_text, Bound b);
    ~PtpTransport() override;

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }
    void accept_whole(bool yes) noexcept override;
    [[nodiscard]] bool sends_whole() const noexcept override { return connected_ && whole_.peer_whole(); }
    ssize_t send_whole(std::span<const iovec> vnet_and_frame) noexcept override;

private:
    void try_connect() noexcept;
    void disconnect() noexcept;
    void lost_peer() noexcept;  // the connection ended: forget what the peer said
    void on_hello(std::span<const std::byte> d) noexcept;
    // Handles a send error; true when the call should stop (returning `frames`).
    bool send_failed(int err) noexcept;
    void check_peer() noexcept;
    void arm_timer(std::int64_t when) noexcept;

    std::string vnl_;
    UniqueFd sock_;
    UniqueFd timer_;
    std::array<int, 2> fds_{-1, -1};
    std::string self_;
    FileId self_id_;
    std::string peer_;
    UnixAddr peer_addr_;
    FileId peer_id_;  // the file at the peer's path when we connected
    bool connected_ = false;
    std::int64_t next_check_ = 0;
    WholeEnd whole_;  // whole frames with the current peer (whole_end.hpp)

    DgramBatch batch_;
};

PtpTransport::PtpTransport(std::string vnl_text, Bound b)
    : vnl_(std::move(vnl_text)),
      sock_(std::move(b.sock)),
      self_(std::move(b.self)),
      self_id_(b.self_id),
      peer_(std::move(b.peer)),
      peer_addr_(unix_addr(peer_)),
      connected_(b.connected) {
    caps_.drained_when_short = true;  // sockets only
    caps_.whole = true;
    timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_) fail_errno(vnl_ + ": timerfd_create");  // open_ptp unlinks our path
    if (connected_) peer_id_ = file_id(peer_);
    whole_.set_self(hello_id(self_id_));
    if (connected_) whole_.set_peer(hello_id(peer_id_));
    fds_ = {sock_.get(), timer_.get()};
    arm_timer(mono_ns() + kCheckNs);
}

PtpTransport::~PtpTransport() {
    if (file_id(self_) == self_id_) (void)::unlink(self_.c_str());
}

void PtpTransport::arm_timer(std::int64_t when) noexcept {
    next_check_ = when;
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(when / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(when % 1000000000);
    // Re-arming also clears a pending expiration: the fd is readable only
    // when a check is due.
    (void)::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

void PtpTransport::try_connect() noexcept {
    if (::connect(sock_.get(), reinterpret_cast<const sockaddr*>(&peer_addr_.sa), peer_addr_.len) == 0) {
        lost_peer();  // a new connection: nothing is known of this peer yet
        connected_ = true;
        peer_id_ = file_id(peer_);
        whole_.set_peer(hello_id(peer_id_));
        whole_.send_hello(sock_.get());
    }
}

void PtpTransport::disconnect() noexcept {
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    (void)::connect(sock_.get(), &unspec, sizeof unspec);
    lost_peer();
}

void PtpTransport::lost_peer() noexcept {
    connected_ = false;
    whole_.reset();
}

void PtpTransport::accept_whole(bool yes) noexcept {
    (void)whole_.accept(yes);
    if (connected_) whole_.send_hello(sock_.get());
}

void PtpTransport::on_hello(std::span<const std::byte> d) noexcept {
    // Unconnected, the hello comes from whoever may write to our socket:
    // the peer's path is where our frames would go, so connect to it first
    // (which records the file there: only its own hello counts).
    if (!connected_) try_connect();
    if (connected_) whole_.on_hello(sock_.get(), d);
}

bool PtpTransport::send_failed(int err) noexcept {
    switch (err) {
    case ECONNREFUSED:  // the peer died; the kernel un-connected us
    case ENOTCONN:
    case EDESTADDRREQ:
        lost_peer();
        return true;
    case EAGAIN:
    case ENOBUFS:
    case EPERM:  // the peer is connected to another socket (see above)
        return true;
    default:  // EMSGSIZE, ...: this frame cannot go
        return false;
    }
}

ssize_t PtpTransport::send_whole(std::span<const iovec> vnet_and_frame) noexcept {
    if (!sends_whole()) return 1;
    const int err = whole_.send_whole(sock_.get(), vnet_and_frame);
    if (err == EBADF || err == ENOTSOCK) return -err;
    if (err != 0) (void)send_failed(err);
    return 1;  // sent, or dropped
}

void PtpTransport::check_peer() noexcept {
    if (connected_) {
        const FileId now = file_id(peer_);
        if (!(now == peer_id_) || probe(peer_addr_) == ECONNREFUSED) disconnect();
    }
    if (!connected_) try_connect();
}

ssize_t PtpTransport::recv(std::span<FrameBuf> bufs) noexcept {
    const std::int64_t now = mono_ns();
    if (now >= next_check_) {
        check_peer();
        arm_timer(now + kCheckNs);
    }
    if (whole_.hello_sent()) return whole_.recv_area(sock_.get(), bufs);
    using Take = DgramBatch::Take;
    const auto got = batch_.recv(
        sock_.get(), bufs,
        [&](std::span<const std::byte> d) {
            if (wire::whole::is_hello(d)) {
                on_hello(d);
                return Take::consumed;
            }
            return wire::whole::is_envelope(d) ? Take::consumed : Take::frame;  // we did not ask for envelopes
        },
        // Our hello went out in this batch: envelopes may follow, and only
        // the area (recv_area) has room for them, from the next call on.
        [&](std::size_t, std::size_t) { return whole_.hello_sent(); });
    if (got.n == 0 && (got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT)) return -got.err;
    return static_cast<ssize_t>(got.n);  // another error: transient
}

ssize_t PtpTransport::send(std::span<const FrameRef> frames) noexcept {
    if (!connected_) {
        try_connect();
        if (!connected_) return static_cast<ssize_t>(frames.size());  // no peer: dropped
    }
    using V = DgramBatch::SendVerdict;
    return batch_.send(sock_.get(), frames, 0, [&](int err) {
        if (err == EBADF || err == ENOTSOCK) return V{V::fail, -err};
        return send_failed(err) ? V{V::drop_rest} : V{V::skip_frame};
    });
}

// Binds `sock` to `path` and records its inode; false with errno on failure.
bool bind_path(int sock, const std::string& path, FileId& id) noexcept {
    const UnixAddr a = unix_addr(path);
    if (::bind(sock, reinterpret_cast<const sockaddr*>(&a.sa), a.len) != 0) return false;
    (void)::chmod(path.c_str(), kMode);
    id = file_id(path);  // after chmod, which changes ctime
    return true;
}

Bound choose_end(const std::string& v, const std::string& path) {
    const std::string plus = path + "+";
    const UnixAddr first = unix_addr(path);
    const UnixAddr second = unix_addr(plus);
    for (int attempt = 0; attempt < kOpenTries; attempt++) {
        // The first end, if PATH is free or stale.
        remove_if_stale(path, first);
        Bound b;
        b.sock = dgram_socket(v);
        if (bind_path(b.sock.get(), path, b.self_id)) {
            b.self = path;
            b.peer = plus;
            return b;
        }
        if (errno != EADDRINUSE) fail_errno(v + ": bind(" + path + ")");
        struct stat st{};
        if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
            fail(EADDRINUSE, v + ": '" + path + "' exists and is not a socket");
        const int live = probe(first);
        if (live == ENOENT || live == ECONNREFUSED) continue;  // the first end just left: retry
        if (live != 0 && live != EPERM) fail(live, v + ": connect(" + path + ")");

        // The second end.
        remove_if_stale(plus, second);
        if (!bind_path(b.sock.get(), plus, b.self_id)) {
            if (errno == EADDRINUSE) {
                if (::lstat(plus.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
                    fail(EADDRINUSE, v + ": '" + plus + "' exists and is not a socket");
                fail(EADDRINUSE, v + ": both ends are in use ('" + path + "' and '" + plus + "' are live)");
            }
            fail_errno(v + ": bind(" + plus + ")");
        }
        b.self = plus;
        b.peer = path;
        b.connected = ::connect(b.sock.get(), reinterpret_cast<const sockaddr*>(&first.sa), first.len) == 0;
        return b;
    }
    fail(EAGAIN, v + ": the other end of '" + path + "' keeps appearing and disappearing");
}

}  // namespace

std::unique_ptr<Transport> open_ptp(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    const std::string v(vnl);
    const std::string path(rest);
    if (path.empty()) fail(EINVAL, v + ": a socket path is required (ptp://PATH)");
    if (path.find('\0') != std::string::npos) fail(EINVAL, v + ": bad socket path");
    // PATH+ and its terminating NUL must fit in sun_path.
    if (path.size() + 2 > sizeof(sockaddr_un::sun_path))
        fail(EINVAL, v + ": socket path too long (at most " + std::to_string(sizeof(sockaddr_un::sun_path) - 2) +
                         " bytes)");
    Bound b = choose_end(v, path);
    raise_sndbuf(b.sock.get(), kSockBuf);
    const std::string self = b.self;
    const FileId self_id = b.self_id;
    try {
        return std::make_unique<PtpTransport>(v, std::move(b));
    } catch (...) {
        if (file_id(self) == self_id) (void)::unlink(self.c_str());
        throw;
    }
}

}  // namespace vdestack::plug
