// whole_end.hpp - one end of a connected AF_UNIX datagram link that speaks
// "whole frames" (wire/whole.hpp): the hello handshake, the receive area that
// a super-segment fits in, and sending envelopes. Used by ptp:// (towards
// another end of ours) and the vde:// client (towards our switch). The
// switch's side of the link (switch.cpp: client_hello, drain_whole) is its own.
//
// Theory of operation
// -------------------
// The owner says who it is (set_self: dev/ino of its socket file, recorded
// before any unlink) and who the peer is (set_peer, at connect: the file at
// the peer's path). accept(true) allocates the area (kAreaMsgs x kRegion,
// never zeroed) and lets hello() go out. A received hello counts only when it
// names the peer's file (a hello passed on by a plain peer names another);
// then peer_whole() is true and, if we accept, our hello answers. After our
// hello the peer may send envelopes at any time, so receiving switches to
// recv_area(): up to kAreaMsgs datagrams per recvmmsg into regions not yet
// handed out in this call, frames handed out by pointer (FrameBuf::vnet set
// for an envelope, its GSO header rewritten in place in host order).
// reset() forgets the peer (a new connection). Not thread-safe.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "plug/transport.hpp"
#include "wire/whole.hpp"

namespace vdestack::plug {

class WholeEnd {
public:
    static constexpr std::size_t kAreaMsgs = 16;
    static constexpr std::size_t kRegion = wire::whole::kEnvelopeHead + wire::whole::kMaxFrame + 1;

    void set_self(wire::whole::HelloId id) noexcept { self_ = id; }
    void set_peer(wire::whole::HelloId id) noexcept {
        peer_ = id;
        peer_known_ = true;
    }
    // Allocates the area (once); false when there is no memory.
    bool accept(bool yes) noexcept;
    [[nodiscard]] bool accepting() const noexcept { return accepting_; }
    [[nodiscard]] bool hello_sent() const noexcept { return hello_sent_; }
    [[nodiscard]] bool peer_whole() const noexcept { return peer_whole_; }
    // A new connection: nothing said yet either way.
    void reset() noexcept { hello_sent_ = peer_whole_ = false; }

    // Sends our hello on the connected fd when we accept and have not yet.
    void send_hello(int fd) noexcept;
    // A datagram that is_hello(): believes it if it names the peer, answers.
    void on_hello(int fd, std::span<const std::byte> d) noexcept;
    // Receives into the area (after our hello); returns frames filled.
    ssize_t recv_area(int fd, std::span<FrameBuf> bufs) noexcept;
    // Sends one envelope (iov[0]: the virtio_net_hdr, then the frame) on the
    // connected fd; 0, or the errno of sendmsg.
    int send_whole(int fd, std::span<const iovec> vnet_and_frame) noexcept;

private:
    wire::whole::HelloId self_{}, peer_{};
    bool peer_known_ = false;
    bool accepting_ = false, hello_sent_ = false, peer_whole_ = false;
    std::unique_ptr<std::byte[]> area_;
    std::array<mmsghdr, kAreaMsgs> msg_{};
    std::array<iovec, kAreaMsgs> iov_{};
};

}  // namespace vdestack::plug
