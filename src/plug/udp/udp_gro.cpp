// udp_gro.cpp - GRO mode for a UDP transport's socket (udp_gro.hpp).
#include "plug/udp/udp_gro.hpp"

#include <netinet/udp.h>

#include <cstring>

namespace vdestack::plug {

bool UdpGroReceiver::enter(int fd) noexcept {
    if (on_) return true;
    try {
        held_.reserve(kMsgs * kMaxSegments);
        area_ = std::make_unique_for_overwrite<std::byte[]>(kMsgs * kSlot);
    } catch (...) {
        held_ = {};
        return false;  // no memory: stay as we are
    }
    const int one = 1;
    if (::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) != 0) {
        area_.reset();
        held_ = {};
        return false;  // an older kernel: stay as we are
    }
    for (std::size_t i = 0; i < kMsgs; i++) iov_[i] = {area_.get() + i * kSlot, kSlot};
    on_ = true;
    return true;
}

void UdpGroReceiver::prepare(std::size_t base) noexcept {
    for (std::size_t i = base; i < kMsgs; i++) {
        msghdr& mh = msg_[i].msg_hdr;
        mh.msg_name = &name_[i];
        mh.msg_namelen = sizeof name_[i];
        mh.msg_iov = &iov_[i];
        mh.msg_iovlen = 1;
        mh.msg_control = ctl_[i].bytes;
        mh.msg_controllen = sizeof ctl_[i].bytes;
        mh.msg_flags = 0;
        msg_[i].msg_len = 0;
    }
}

std::size_t UdpGroReceiver::segment_size(std::size_t i) const noexcept {
    const msghdr& mh = msg_[i].msg_hdr;
    std::size_t seg = msg_[i].msg_len;  // a datagram that was not coalesced
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&mh), cm)) {
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(cm), sizeof v);
            if (v > 0) seg = static_cast<std::size_t>(v);
        }
    }
    return seg;
}

}  // namespace vdestack::plug
