// whole_end.cpp - whole frames on a connected datagram link (whole_end.hpp).
#include "plug/unix/whole_end.hpp"

#include <cerrno>
#include <cstring>

#include "wire/vnet.hpp"

namespace vdestack::plug {

bool WholeEnd::accept(bool yes) noexcept {
    if (yes && !area_) {
        try {
            area_ = std::make_unique_for_overwrite<std::byte[]>(kAreaMsgs * kRegion);
        } catch (...) {
            return false;
        }
        for (std::size_t i = 0; i < kAreaMsgs; i++) iov_[i] = {area_.get() + i * kRegion, kRegion};
    }
    accepting_ = yes && area_;
    return accepting_ == yes;
}

void WholeEnd::send_hello(int fd) noexcept {
    if (!accepting_ || hello_sent_) return;
    const auto hello = wire::whole::hello(self_);
    if (::send(fd, hello.data(), hello.size(), MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(hello.size()))
        hello_sent_ = true;
}

void WholeEnd::on_hello(int fd, std::span<const std::byte> d) noexcept {
    const auto id = wire::whole::parse_hello(d);
    if (!id || !peer_known_ || !(*id == peer_)) return;  // not our peer's own
    peer_whole_ = true;
    send_hello(fd);
}

ssize_t WholeEnd::recv_area(int fd, std::span<FrameBuf> bufs) noexcept {
    std::size_t n = 0, base = 0;  // regions [0, base) hold frames handed out in this call
    for (int round = 0; round < 16 && n < bufs.size() && base < kAreaMsgs; round++) {
        const std::size_t chunk = std::min(kAreaMsgs - base, bufs.size() - n);
        for (std::size_t i = 0; i < chunk; i++) {
            msghdr& mh = msg_[i].msg_hdr;
            mh = msghdr{};
            mh.msg_iov = &iov_[base + i];
            mh.msg_iovlen = 1;
            msg_[i].msg_len = 0;
        }
        const int r = ::recvmmsg(fd, msg_.data(), static_cast<unsigned>(chunk), MSG_DONTWAIT, nullptr);
        if (r < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (err == EBADF || err == ENOTSOCK || err == EFAULT) return n > 0 ? static_cast<ssize_t>(n) : -err;
            break;  // EAGAIN: drained; anything else: transient
        }
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); i++) {
            const std::size_t len = msg_[i].msg_len;
            std::byte* region = area_.get() + (base + i) * kRegion;
            if ((msg_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len < kMinFrame) continue;
            const std::span<const std::byte> d(region, len);
            if (wire::whole::is_hello(d)) {
                on_hello(fd, d);
                continue;
            }
            if (wire::whole::is_envelope(d)) {
                const auto e = wire::whole::parse_envelope(d);
                if (!e) continue;  // malformed: dropped
                std::byte* vnet = region + wire::whole::kPrefix;
                e->hdr.store(std::span<std::byte, wire::VnetHdr::kSize>(vnet, wire::VnetHdr::kSize));
                bufs[n++] = FrameBuf{region + wire::whole::kEnvelopeHead, e->frame.size(), e->frame.size(), vnet};
                continue;
            }
            if (len > kMaxFrame) continue;  // longer than any ordinary frame
            bufs[n++] = FrameBuf{region, len, len, nullptr};
        }
        base += static_cast<std::size_t>(r);
        if (static_cast<std::size_t>(r) < chunk) break;  // drained
    }
    return static_cast<ssize_t>(n);
}

int WholeEnd::send_whole(int fd, std::span<const iovec> vnet_and_frame) noexcept {
    if (vnet_and_frame.empty() || vnet_and_frame.size() > 7) return EINVAL;
    const auto h = wire::VnetHdr::parse(
        std::span<const std::byte>(static_cast<const std::byte*>(vnet_and_frame[0].iov_base), vnet_and_frame[0].iov_len));
    if (!h) return EINVAL;
    const auto head = wire::whole::envelope_head(*h);
    iovec iov[8];
    iov[0] = {const_cast<std::byte*>(head.data()), head.size()};
    for (std::size_t k = 1; k < vnet_and_frame.size(); k++) iov[k] = vnet_and_frame[k];
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = vnet_and_frame.size();
    for (int tries = 0; tries < 8; tries++) {
        if (::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
        if (errno != EINTR) return errno;
    }
    return EINTR;
}

}  // namespace vdestack::plug
