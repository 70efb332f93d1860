// udp_send.hpp - batched sending of VDE frames over a UDP socket, with UDP
// segmentation offload: the send path shared by vxvde://, vxlan:// and udp://.
//
// Theory of operation
// -------------------
// Every datagram is `prefix` (the transport's fixed header: vxvde's or
// VXLAN's 8 bytes, or nothing) + one frame. add() puts frames into a batch of
// at most kBatch messages; flush() sends the batch with one sendmmsg. With
// GSO on, a frame that goes to the same destination as the previous one, and
// is not longer than it, joins the previous message instead of starting a
// new one (a "run"), as long as the run's datagrams all have the run's first
// length but the last (shorter or equal), it has fewer than kMaxSegments
// datagrams and at most kMaxBytes bytes: the message then carries a
// UDP_SEGMENT control message, and the kernel cuts it into the very
// datagrams the frames would have been, after one trip through its stack
// (what TSO produced, MSS-sized segments of one flow, forms such runs).
//
// A run the kernel refuses (no UDP_SEGMENT, a segment beyond the path MTU:
// EINVAL, EIO, EMSGSIZE, EOPNOTSUPP, ...) turns GSO off for good and is
// re-sent one datagram per frame. flush() retries EINTR and ECONNREFUSED (a
// consumed ICMP error of a connected socket) up to 8 times, stops at a
// "stop" error (EAGAIN, EWOULDBLOCK, ENOBUFS: a full queue drops the rest,
// as a NIC does; EBADF, ENOTSOCK, ENOTCONN, EDESTADDRREQ) and returns it,
// and skips a message that fails otherwise.
//
// Storage (messages, 2 iovecs per frame, destinations, control messages) is
// preallocated in the object: no allocation on the data path. Not
// thread-safe (one engine thread).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "plug/udp/mactable.hpp"
#include "plug/transport.hpp"

namespace vdestack::plug {

// The UDP offloads of both directions (this sender's runs, udp_gro.hpp's GRO
// mode) are on unless OpenOptions::tuning.udp_gso says no
// (VDESTACK_UDP_GSO=0): each transport passes that flag to set_gso() and
// UdpGroReceiver::allow() when it opens.

class UdpFrameSender {
public:
    static constexpr std::size_t kBatch = 64;         // frames per batch
    static constexpr std::size_t kMaxSegments = 64;   // datagrams per run (UDP_MAX_SEGMENTS >= 64)
    static constexpr std::size_t kMaxBytes = 65000;   // bytes per run (a UDP payload fits 65507)

    // prefix: the bytes before every frame (kept by reference: it must outlive this).
    explicit UdpFrameSender(std::span<const std::byte> prefix) noexcept;
    UdpFrameSender(const UdpFrameSender&) = delete;
    UdpFrameSender& operator=(const UdpFrameSender&) = delete;

    void set_gso(bool on) noexcept { gso_ = on; }
    [[nodiscard]] bool gso() const noexcept { return gso_; }

    // Adds frame f for `to` (nullptr: the socket's connected peer). may_run:
    // f may join a run (a unicast destination; floods to a group never do).
    // False when the batch is full (flush() first); f is not taken then.
    bool add(const FrameRef& f, const PeerAddr* to, bool may_run) noexcept;
    [[nodiscard]] bool empty() const noexcept { return cnt_ == 0; }

    // Sends and clears the batch. Returns 0, or the stop error (see above).
    int flush(int fd, int flags) noexcept;

    // Counters (tests and diagnostics).
    std::uint64_t runs_sent = 0;  // UDP_SEGMENT messages the kernel took

private:
    struct Run {
        std::size_t count = 0;  // datagrams
        std::size_t seg = 0;    // size of each but the last
        std::size_t bytes = 0;  // all of them
        bool open = false;      // may take more
        bool named = false;     // has a destination (else: connected)
    };
    struct alignas(cmsghdr) SegControl {
        unsigned char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
    };
    // Sends one run's frames one datagram each (after a GSO refusal).
    void send_each(int fd, int flags, const msghdr& run) noexcept;

    std::span<const std::byte> prefix_;
    bool gso_ = true;
    std::size_t cnt_ = 0, nio_ = 0, frames_ = 0;
    std::array<mmsghdr, kBatch> msg_{};
    std::array<iovec, 2 * kBatch> iov_{};
    std::array<PeerAddr, kBatch> name_{};
    std::array<Run, kBatch> run_{};
    std::array<SegControl, kBatch> ctl_{};
};

// The send() of a learning transport (vxvde, vxlan): each frame goes to the
// peer learned for its destination MAC (key `vlan`), when it is unicast and
// fresh, else to `group`; runs form only towards learned peers. Returns like
// Transport::send: frames.size() (a full queue drops the rest), or -errno
// when the socket is unusable (EBADF, ENOTSOCK).
ssize_t send_learned(UdpFrameSender& sender, int fd, std::span<const FrameRef> frames, const MacTable& table,
                     const PeerAddr& group, std::uint16_t vlan, std::int64_t now) noexcept;

}  // namespace vdestack::plug
