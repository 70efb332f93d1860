// udp_send.cpp - batched UDP sends with segmentation offload (see udp_send.hpp).
#include "plug/udp/udp_send.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vdestack::plug {

UdpFrameSender::UdpFrameSender(std::span<const std::byte> prefix) noexcept : prefix_(prefix) {}

bool UdpFrameSender::add(const FrameRef& f, const PeerAddr* to, bool may_run) noexcept {
    if (frames_ == kBatch) return false;
    const std::size_t dlen = prefix_.size() + f.len;
    auto piece = [&](std::size_t at) {
        std::size_t k = at;
        if (!prefix_.empty()) iov_[k++] = {const_cast<std::byte*>(prefix_.data()), prefix_.size()};
        iov_[k++] = {const_cast<std::byte*>(f.data), f.len};
        return k - at;
    };
    frames_++;
    if (cnt_ > 0) {
        Run& run = run_[cnt_ - 1];
        const bool same = to == nullptr ? !run.named : run.named && name_[cnt_ - 1] == *to;
        if (run.open && may_run && same && dlen <= run.seg && run.count < kMaxSegments &&
            run.bytes + dlen <= kMaxBytes) {
            const std::size_t k = piece(nio_);
            msg_[cnt_ - 1].msg_hdr.msg_iovlen += k;
            nio_ += k;
            run.count++;
            run.bytes += dlen;
            run.open = dlen == run.seg;  // a shorter datagram ends the run
            return true;
        }
    }
    msghdr& mh = msg_[cnt_].msg_hdr;
    mh = msghdr{};
    if (to != nullptr) {
        name_[cnt_] = *to;
        mh.msg_name = &name_[cnt_].addr;
        mh.msg_namelen = name_[cnt_].len;
    }
    mh.msg_iov = &iov_[nio_];
    mh.msg_iovlen = piece(nio_);
    nio_ += mh.msg_iovlen;
    run_[cnt_] = Run{1, dlen, dlen, gso_ && may_run, to != nullptr};
    cnt_++;
    return true;
}

void UdpFrameSender::send_each(int fd, int flags, const msghdr& run) noexcept {
    const std::size_t per = prefix_.empty() ? 1 : 2;
    for (std::size_t k = 0; k + per <= run.msg_iovlen; k += per) {
        msghdr mh{};
        mh.msg_name = run.msg_name;
        mh.msg_namelen = run.msg_namelen;
        mh.msg_iov = run.msg_iov + k;
        mh.msg_iovlen = per;
        if (::sendmsg(fd, &mh, flags | MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == ENOBUFS)) return;
    }
}

int UdpFrameSender::flush(int fd, int flags) noexcept {
    const std::size_t cnt = cnt_;
    cnt_ = nio_ = frames_ = 0;
    for (std::size_t m = 0; m < cnt; m++) {
        if (run_[m].count < 2) continue;
        msghdr& mh = msg_[m].msg_hdr;
        mh.msg_control = ctl_[m].bytes;
        mh.msg_controllen = sizeof ctl_[m].bytes;
        cmsghdr* cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto seg = static_cast<std::uint16_t>(run_[m].seg);
        std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    }
    std::size_t pos = 0;
    int retries = 0;
    while (pos < cnt) {
        const int r = ::sendmmsg(fd, msg_.data() + pos, static_cast<unsigned>(cnt - pos), flags | MSG_DONTWAIT);
        if (r > 0) {
            for (std::size_t m = pos; m < pos + static_cast<std::size_t>(r); m++)
                if (run_[m].count > 1) runs_sent++;
            pos += static_cast<std::size_t>(r);
            continue;
        }
        const int err = r < 0 ? errno : EIO;
        if ((err == EINTR || err == ECONNREFUSED) && ++retries < 8) continue;
        switch (err) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case ENOBUFS:
        case EBADF:
        case ENOTSOCK:
        case ENOTCONN:
        case EDESTADDRREQ:
            return err;
        default:
            break;
        }
        if (run_[pos].count > 1) {
            gso_ = false;  // refused: one datagram per frame from now on, these first
            send_each(fd, flags, msg_[pos].msg_hdr);
        }
        pos++;  // this message cannot go (EMSGSIZE, ENETUNREACH, ...): skip it
    }
    return 0;
}

ssize_t send_learned(UdpFrameSender& sender, int fd, std::span<const FrameRef> frames, const MacTable& table,
                     const PeerAddr& group, std::uint16_t vlan, std::int64_t now) noexcept {
    for (const FrameRef& f : frames) {
        if (f.data == nullptr || f.len < kMinFrame) continue;
        const PeerAddr* to = &group;
        if (const wire::MacSpan dst = wire::dst_mac(f.data); !wire::is_multicast(dst)) {
            if (const PeerAddr* p = table.lookup(dst, now, vlan)) to = p;
        }
        if (!sender.add(f, to, to != &group)) {
            const int err = sender.flush(fd, 0);
            if (err == EBADF || err == ENOTSOCK) return -err;
            if (err != 0) return static_cast<ssize_t>(frames.size());  // queue full: drop the rest
            (void)sender.add(f, to, to != &group);
        }
    }
    const int err = sender.flush(fd, 0);
    if (err == EBADF || err == ENOTSOCK) return -err;
    return static_cast<ssize_t>(frames.size());
}

}  // namespace vdestack::plug
