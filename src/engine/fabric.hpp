// fabric.hpp - the local fabric: unicast frames between stacks of one helper
// (one process) on the same VDE network go straight from tap to tap.
//
// Theory of operation
// -------------------
// Two stacks of one process on, say, vxvde://234.0.0.1 would otherwise talk
// through the network: tap A -> engine -> UDP socket -> loopback -> UDP
// socket -> engine (often another thread) -> tap B. The fabric is the switch
// that a local port of a real switch would be: each engine learns which
// stack owns a source MAC (from the frames it reads from that stack's tap)
// on which segment (a network name given by the transport,
// plug::Capabilities::local_segment; empty = not eligible), and a unicast
// frame whose destination MAC belongs to another stack of the same segment is
// written to that stack's tap by the engine that read it. Both taps carry
// virtio_net_hdrs (offload.hpp), so the frame goes whole, header included:
// a 64 KiB TCP super-segment of stack A arrives as one GSO frame at stack B,
// with no segmentation, no checksum and no copy but the kernel's. Multicast
// and broadcast frames, and unicast to MACs the fabric does not know, take
// the network as before (local stacks get them from it too), so peers in
// other processes or hosts see exactly what they saw without the fabric.
//
// Threads and ownership: one Fabric per helper (or vdens), owned by it and
// shared by all its engine threads, each of which holds a pointer to it
// (nullptr: no fabric). Entries name a stack's tap fd but do not own it: an
// engine calls forget(stack) under the exclusive lock before it closes a tap
// or drops a link, and deliver() writes under the shared lock, so a write
// never meets a closed or reused fd. Writes are non-blocking (a full tap
// queue drops the frame, as a NIC would). Entries live until their stack
// leaves the segment; a MAC that appears behind another stack moves to it.
// Tuning::fabric false (VDESTACK_FABRIC=0) means no Fabric is made: every
// frame takes the network.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace vdestack::engine {

class Fabric {
public:
    Fabric() = default;
    Fabric(const Fabric&) = delete;
    Fabric& operator=(const Fabric&) = delete;

    // A small number (> 0) naming segment `name` (non-empty), the same for
    // the same name. Thread-safe; allocates the first time a name is seen.
    std::uint32_t segment(const std::string& name);

    // Records that `mac` (6 bytes, unicast) is behind stack `id`, whose tap is
    // `tap`, on `segment`. Cheap when nothing changes (shared lock only).
    void learn(std::uint32_t segment, std::span<const std::byte, 6> mac, std::uint64_t id, int tap);

    // Writes the frame `iov` (virtio_net_hdr first) to the tap of the stack
    // that owns `dst` on `segment`, if that is a stack other than `self`.
    // True when the fabric took the frame (written, or dropped by a full
    // queue); false when the frame must take the network.
    bool deliver(std::uint32_t segment, std::span<const std::byte, 6> dst, std::uint64_t self,
                 std::span<const iovec> iov) noexcept;

    // Forgets every MAC of stack `id`; on return no deliver() uses its tap.
    void forget(std::uint64_t id);

    // Entries now (tests).
    [[nodiscard]] std::size_t size() const;

private:
    struct Port {
        std::uint64_t id;
        int tap;
    };
    static std::uint64_t key(std::uint32_t segment, std::span<const std::byte, 6> mac) noexcept;

    mutable std::shared_mutex mu_;
    std::unordered_map<std::uint64_t, Port> ports_;  // (segment << 48 | mac) -> port
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> by_id_;  // stack -> its keys (forget: O(its MACs))
    std::unordered_map<std::string, std::uint32_t> segments_;
};

}  // namespace vdestack::engine
