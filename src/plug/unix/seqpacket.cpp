// seqpacket.cpp - the seqpacket:// transport: frames over an inherited
// SOCK_SEQPACKET socket, compatible with vdeplug4 4.0.1's libvdeplug_seqpacket.
//
// Theory of operation
// -------------------
// VNL: seqpacket://FD, FD parsed like vdeplug4's strtol(.., 0) (decimal, 0x
// hex, 0 octal) but strictly (the whole text must be the number). The fd must
// be open and a SOCK_SEQPACKET socket (normally one end of an AF_UNIX
// socketpair whose other end belongs to another process, as
// libvdeplug4_static makes). On success the transport owns it: it is marked
// close-on-exec (a per-descriptor flag, invisible to the peer) and closed by
// the destructor. Its file status flags (shared with whoever else holds the
// open file) are left alone: every call uses MSG_DONTWAIT.
//
// Wire: one message = one raw Ethernet frame, both ways, no header. We never
// send an empty message (frames shorter than 14 bytes are dropped): for a
// seqpacket socket an empty message reads like end-of-file.
//
// recv() drains with recvmmsg (dgram_batch.hpp: 64 per call, 16 calls), dropping
// runts and truncated messages. A zero-length result is end-of-file only if
// poll() reports POLLRDHUP/POLLHUP (else it was an empty message from a peer
// that is not vdeplug4, and it is skipped). End-of-file, ECONNRESET and
// ENOTCONN make the link dead: frames already read in that call are returned,
// then recv and send return -EPIPE from then on. send() uses sendmmsg with
// MSG_DONTWAIT|MSG_NOSIGNAL: EAGAIN/ENOBUFS drop the rest of the call's
// frames, EMSGSIZE skips one, EPIPE/ECONNRESET/ENOTCONN are a dead link. The
// send buffer is raised to 4 MiB (best effort; ours, not the peer's). No
// allocation per frame.
#include "plug/unix/seqpacket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/sockbuf.hpp"
#include "plug/dgram_batch.hpp"

namespace vdestack::plug {

namespace {

constexpr int kSockBuf = 4 << 20;

bool is_hangup_errno(int err) noexcept {
    return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ECONNABORTED;
}

class SeqpacketTransport final : public Transport {
public:
    // Takes the fd only once nothing can throw any more.
    SeqpacketTransport(std::string_view vnl_text, int fd) : vnl_(vnl_text), fd_(fd) {
        fds_[0] = fd_.get();
    }

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    // A zero-length read: is it the end of the stream?
    [[nodiscard]] bool at_eof() const noexcept {
        pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
        if (::poll(&p, 1, 0) <= 0) return false;
        return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
    }

    std::string vnl_;
    UniqueFd fd_;
    std::array<int, 1> fds_{-1};
    bool dead_ = false;

    DgramBatch batch_;
};

ssize_t SeqpacketTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (dead_) return -EPIPE;
    using Take = DgramBatch::Take;
    const auto got = batch_.recv(
        fd_.get(), bufs,
        [&](std::span<const std::byte> d) {
            if (!d.empty()) return Take::frame;
            if (!at_eof()) return Take::consumed;  // an empty message
            dead_ = true;
            return Take::stop;
        },
        [](std::size_t, std::size_t) { return false; });
    if (is_hangup_errno(got.err) || got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT) dead_ = true;
    if (got.n == 0 && dead_) return -EPIPE;
    return static_cast<ssize_t>(got.n);
}

ssize_t SeqpacketTransport::send(std::span<const FrameRef> frames) noexcept {
    if (dead_) return -EPIPE;
    using V = DgramBatch::SendVerdict;
    return batch_.send(fd_.get(), frames, MSG_NOSIGNAL, [&](int err) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return V{V::drop_rest};  // queue full
        if (is_hangup_errno(err) || err == EBADF || err == ENOTSOCK) {
            dead_ = true;
            return V{V::fail, -EPIPE};
        }
        return V{V::skip_frame};  // EMSGSIZE, ...: this frame cannot go
    });
}

}  // namespace

std::unique_ptr<Transport> open_seqpacket(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    const std::string v(vnl);
    const std::string text(rest);
    if (text.empty() || text.find_first_not_of("0123456789abcdefABCDEFxX") != std::string::npos)
        fail(EINVAL, v + ": bad file descriptor number '" + text + "' (expected seqpacket://FD)");
    errno = 0;
    char* end = nullptr;
    const long fd = std::strtol(text.c_str(), &end, 0);
    if (errno != 0 || end == nullptr || *end != '\0' || fd < 0 || fd > INT_MAX)
        fail(EINVAL, v + ": bad file descriptor number '" + text + "' (expected seqpacket://FD)");
    const int ifd = static_cast<int>(fd);
    const int fdflags = ::fcntl(ifd, F_GETFD);
    if (fdflags < 0) fail_errno(v + ": fd " + text);
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(ifd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        if (errno == ENOTSOCK) fail(ENOTSOCK, v + ": fd " + text + " is not a socket");
        fail_errno(v + ": getsockopt(SO_TYPE)");
    }
    if (type != SOCK_SEQPACKET) fail(EINVAL, v + ": fd " + text + " is not a SOCK_SEQPACKET socket");
    auto t = std::make_unique<SeqpacketTransport>(v, ifd);  // owns the fd from here
    (void)::fcntl(ifd, F_SETFD, fdflags | FD_CLOEXEC);
    raise_sndbuf(ifd, kSockBuf);
    return t;
}

}  // namespace vdestack::plug
