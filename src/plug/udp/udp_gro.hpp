// udp_gro.hpp - "GRO mode", the receive side of UDP offload for a UDP
// transport's socket: shared by vxvde://, vxlan:// and udp:// (udp_send.hpp
// is the send side).
//
// Theory of operation
// -------------------
// A transport reads its socket the ordinary way (recvmmsg into the caller's
// slots, one datagram per frame) until a call finds a full batch of unicast,
// that is, a bulk flow. Then it calls enter_once(): the socket gets UDP_GRO, and
// this object allocates its receive area (kMsgs x kSlot = 1 MiB, never
// zeroed) and its held list, once (one try: when the kernel or the memory
// says no, the transport stays as it was). From then on drain() reads the
// socket: each recvmmsg takes up to kMsgs datagrams into the area, where a
// datagram may be a coalesced run of equal-sized ones (cmsg UDP_GRO: their
// size); each is cut at that size into the datagrams the peer sent, and
// every piece goes to the transport's accept(), which checks it exactly as it
// checks an ordinary datagram (header, VNI, self-filter, learning) and says
// which bytes of it are the frame. Frames are handed out by pointer into the
// area (FrameBuf::data); those beyond the caller's slots are held for the
// next call: hand_out() gives them first, and while any was held the
// transport must not drain() the socket in that call (the area would be
// overwritten). Within one call no area message is written twice.
//
// The wire is unchanged: the sender's datagrams are what they were; only
// how many of them one system call returns changes. Control messages: room
// for UDP_GRO and for IP_PKTINFO and IPV6_PKTINFO (a transport that asked for
// packet info, for its self-filter, gets it on every datagram here too).
// No allocation after enter(); not thread-safe (one engine thread).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "plug/transport.hpp"

namespace vdestack::plug {

class UdpGroReceiver {
public:
    static constexpr std::size_t kMsgs = 16;          // datagrams per recvmmsg
    static constexpr std::size_t kSlot = 65536;       // room per (coalesced) datagram
    // Datagrams per coalesced one: GRO merges at most 64, but a local
    // sender's UDP_SEGMENT message may reach us whole with up to
    // UDP_MAX_SEGMENTS (128 in newer kernels).
    static constexpr std::size_t kMaxSegments = 128;
    static constexpr int kMaxRounds = 16;             // recvmmsg calls per drain()

    UdpGroReceiver() = default;
    UdpGroReceiver(const UdpGroReceiver&) = delete;
    UdpGroReceiver& operator=(const UdpGroReceiver&) = delete;

    // Whether GRO mode may ever be entered (the transport's offload switch,
    // Tuning::udp_gso); default yes.
    void allow(bool yes) noexcept { tried_ = !yes; }
    // After a full batch: turns GRO mode on for fd, at the first call only
    // (when the kernel or the memory says no, it stays off for good). True
    // when this call made the attempt (the caller ends its read there).
    bool enter_once(int fd) noexcept {
        if (tried_) return false;
        tried_ = true;
        (void)enter(fd);
        return true;
    }
    [[nodiscard]] bool on() const noexcept { return on_; }
    // Frames split off and not handed out yet.
    [[nodiscard]] bool holding() const noexcept { return pos_ < held_.size(); }
    // Hands held frames out into bufs[n..); advances n.
    void hand_out(std::span<FrameBuf> bufs, std::size_t& n) noexcept {
        while (pos_ < held_.size() && n < bufs.size()) {
            const Held& h = held_[pos_++];
            bufs[n++] = FrameBuf{h.data, h.len, h.len};
        }
    }

    // recv() of a transport with one socket in GRO mode: the held frames
    // first; then, if none was held and bufs has room, drain(). Returns the
    // frames filled, or -errno when the socket is unusable and none was.
    template <class Accept>
    ssize_t recv(int fd, std::span<FrameBuf> bufs, Accept&& accept) noexcept {
        std::size_t n = 0;
        const bool held = holding();
        hand_out(bufs, n);
        if (held || n == bufs.size()) return static_cast<ssize_t>(n);  // the socket waits for the next call
        const int err = drain(fd, bufs, n, accept);
        if (err < 0 && n == 0) return err;
        return static_cast<ssize_t>(n);
    }

    // Reads fd into the area while bufs has room (call only when !holding()).
    // accept(const msghdr& mh, std::span<std::byte> piece, std::size_t seg)
    // -> std::span<std::byte>: the frame within the piece (empty: dropped);
    // seg is the piece's index within its datagram. Returns 0, or -errno
    // when the socket is unusable (EBADF, ENOTSOCK, EFAULT).
    template <class Accept>
    int drain(int fd, std::span<FrameBuf> bufs, std::size_t& n, Accept&& accept) noexcept {
        std::size_t base = 0;  // messages [0, base) hold frames handed out in this call
        for (int round = 0; round < kMaxRounds && n < bufs.size() && base < kMsgs; round++) {
            held_.clear();
            pos_ = 0;
            prepare(base);
            const int r = ::recvmmsg(fd, msg_.data() + base, static_cast<unsigned>(kMsgs - base), MSG_DONTWAIT, nullptr);
            if (r < 0) {
                const int err = errno;
                if (err == EINTR) continue;
                if (err == EBADF || err == ENOTSOCK || err == EFAULT) return -err;
                return 0;  // EAGAIN: drained; anything else: transient
            }
            for (std::size_t i = base; i < base + static_cast<std::size_t>(r); i++) {
                const msghdr& mh = msg_[i].msg_hdr;
                if ((mh.msg_flags & MSG_TRUNC) != 0) continue;
                const std::size_t len = msg_[i].msg_len;
                if (len == 0) {  // an empty datagram means something to udp://
                    (void)accept(mh, std::span<std::byte>(), 0);
                    continue;
                }
                const std::size_t seg = segment_size(i);
                std::byte* d = area_.get() + i * kSlot;
                for (std::size_t off = 0, k = 0; off < len && held_.size() < held_.capacity(); off += seg, k++) {
                    const std::span<std::byte> f = accept(mh, std::span<std::byte>(d + off, std::min(seg, len - off)), k);
                    if (!f.empty()) held_.push_back(Held{f.data(), f.size()});
                }
            }
            const bool drained = static_cast<std::size_t>(r) < kMsgs - base;
            base += static_cast<std::size_t>(r);
            hand_out(bufs, n);
            if (drained) return 0;
        }
        // Out of messages with the socket perhaps not drained: the
        // level-triggered fd says there is more.
        return 0;
    }

private:
    // Turns GRO mode on for fd; false (and off) when it cannot be.
    bool enter(int fd) noexcept;

    struct Held {
        std::byte* data;
        std::size_t len;
    };
    struct alignas(cmsghdr) Control {
        unsigned char bytes[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(in6_pktinfo))];
    };

    // Fresh message headers for messages [base, kMsgs).
    void prepare(std::size_t base) noexcept;
    // The datagram size of message i (a received, not truncated, non-empty
    // one): its UDP_GRO size, or its length when it was not coalesced.
    [[nodiscard]] std::size_t segment_size(std::size_t i) const noexcept;

    bool tried_ = false;  // enter_once() was called, or GRO mode is not allowed
    bool on_ = false;
    std::unique_ptr<std::byte[]> area_;  // kMsgs x kSlot
    std::array<mmsghdr, kMsgs> msg_{};
    std::array<iovec, kMsgs> iov_{};
    std::array<sockaddr_in6, kMsgs> name_{};
    std::array<Control, kMsgs> ctl_{};
    std::vector<Held> held_;  // reserved for kMsgs x kMaxSegments
    std::size_t pos_ = 0;
};

}  // namespace vdestack::plug
