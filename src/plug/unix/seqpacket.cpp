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
// recv() drains with recvmmsg (kBatch per call, kMaxRounds calls), dropping
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

namespace vdestack::plug {

namespace {

constexpr std::size_t kBatch = 64;
constexpr int kMaxRounds = 16;
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

    std::array<mmsghdr, kBatch> rmsg_{};
    std::array<iovec, kBatch> riov_{};
    std::array<mmsghdr, kBatch> smsg_{};
    std::array<iovec, kBatch> siov_{};
};

ssize_t SeqpacketTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (dead_) return -EPIPE;
    std::size_t n = 0;
    for (int round = 0; round < kMaxRounds && n < bufs.size() && !dead_; round++) {
        const std::size_t chunk = std::min(kBatch, bufs.size() - n);
        for (std::size_t i = 0; i < chunk; i++) {
            riov_[i] = {bufs[n + i].data, bufs[n + i].cap};
            msghdr& mh = rmsg_[i].msg_hdr;
            mh = {};
            mh.msg_iov = &riov_[i];
            mh.msg_iovlen = 1;
            rmsg_[i].msg_len = 0;
        }
        const int r = ::recvmmsg(fd_.get(), rmsg_.data(), static_cast<unsigned>(chunk), MSG_DONTWAIT, nullptr);
        if (r < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (is_hangup_errno(err) || err == EBADF || err == ENOTSOCK || err == EFAULT) {
                dead_ = true;
                break;
            }
            break;  // EAGAIN: drained
        }
        std::size_t accepted = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); i++) {
            const std::size_t len = rmsg_[i].msg_len;
            if (len == 0) {
                if (at_eof()) {
                    dead_ = true;
                    break;
                }
                continue;  // an empty message
            }
            if ((rmsg_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len < kMinFrame) continue;
            FrameBuf& dst = bufs[n + accepted];
            const FrameBuf& src = bufs[n + i];
            if (&dst != &src) {
                if (len > dst.cap) continue;
                std::memcpy(dst.data, src.data, len);
            }
            dst.len = len;
            accepted++;
        }
        n += accepted;
        if (static_cast<std::size_t>(r) < chunk) break;
    }
    if (n == 0 && dead_) return -EPIPE;
    return static_cast<ssize_t>(n);
}

ssize_t SeqpacketTransport::send(std::span<const FrameRef> frames) noexcept {
    if (dead_) return -EPIPE;
    std::size_t i = 0;
    while (i < frames.size()) {
        std::size_t cnt = 0;
        while (i < frames.size() && cnt < kBatch) {
            const FrameRef& f = frames[i++];
            if (f.data == nullptr || f.len < kMinFrame) continue;  // never an empty message
            siov_[cnt] = {const_cast<std::byte*>(f.data), f.len};
            msghdr& mh = smsg_[cnt].msg_hdr;
            mh = {};
            mh.msg_iov = &siov_[cnt];
            mh.msg_iovlen = 1;
            cnt++;
        }
        std::size_t pos = 0;
        int eintr = 0;
        while (pos < cnt) {
            const int r = ::sendmmsg(fd_.get(), smsg_.data() + pos, static_cast<unsigned>(cnt - pos),
                                     MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r > 0) {
                pos += static_cast<std::size_t>(r);
                continue;
            }
            const int err = r < 0 ? errno : EIO;
            if (err == EINTR && ++eintr < 8) continue;
            if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return static_cast<ssize_t>(frames.size());
            if (is_hangup_errno(err) || err == EBADF || err == ENOTSOCK) {
                dead_ = true;
                return -EPIPE;
            }
            pos++;  // EMSGSIZE, ...: this frame cannot go
        }
    }
    return static_cast<ssize_t>(frames.size());
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
