// buffer.hpp - the frame slots and references every layer above wire/ passes
// frames in: a receive slot (FrameBuf) and a frame to send (FrameRef), with
// the size limits of a VDE network. Plain structs over caller-owned memory:
// nothing here allocates, owns or locks.
#pragma once

#include <cstddef>

namespace vdestack::frame {

// Largest frame a VDE network carries: 9216-byte MTU + Ethernet header + 802.1Q tag
// (vdeplug4's VDE_ETHBUFSIZE).
inline constexpr std::size_t kMaxFrame = 9216 + 14 + 4;
// Smallest frame worth forwarding: an Ethernet header.
inline constexpr std::size_t kMinFrame = 14;

// A receive slot: the transport writes a frame of at most `cap` bytes at `data`
// and stores its length in `len`.
struct FrameBuf {
    std::byte* data = nullptr;
    std::size_t cap = 0;
    std::size_t len = 0;
    // A whole frame (see plug::Transport::accept_whole): the 10-byte
    // virtio_net_hdr to write before it, in host order; nullptr otherwise.
    const std::byte* vnet = nullptr;
};

// A frame to send.
struct FrameRef {
    const std::byte* data = nullptr;
    std::size_t len = 0;
};

}  // namespace vdestack::frame
