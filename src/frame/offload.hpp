// offload.hpp - the tap offload fast path: what the engine does in user space
// so that a stack's kernel may hand its tap unfinished frames (partial
// checksums, 64 KiB TCP super-segments) and may be handed coalesced ones,
// while only ordinary frames ever reach a VDE transport.
//
// Theory of operation
// -------------------
// A tap opened with IFF_VNET_HDR prefixes every frame with a virtio_net_hdr
// (wire/vnet.hpp); TUNSETOFFLOAD tells the stack's kernel what the reader of
// the tap can finish, so it stops doing it per packet:
//   TUN_F_CSUM  frames come with NEEDS_CSUM: the L4 checksum holds only the
//               pseudo-header sum; complete_csum() finishes it.
//   TUN_F_TSO4/6 (+ECN)  TCP frames come as GSO super-segments of up to
//               64 KiB (gso_size = MSS); TsoSegmenter cuts them into
//               ordinary frames no longer than the MTU (headers copied,
//               lengths, IPv4 id and header checksum, sequence numbers,
//               FIN/PSH on the last segment, CWR on the first, full TCP
//               checksums), into buffers the caller provides.
// The other way, Gro coalesces the in-order TCP segments of one flow found
// in a received batch into one GSO frame (gso_size = the segments' payload,
// NEEDS_CSUM with the pseudo-header sum in the TCP checksum), so the stack's
// kernel runs its receive path once per 64 KiB instead of once per segment.
// Every segment's checksums are verified here before it is merged (a merged
// frame is not verified again by the kernel); a segment that fails is written
// as it came, and the kernel drops it.
//
// Everything here works on caller-owned buffers and allocates only in Gro's
// constructor. Every length is checked before a byte is touched: a frame that
// does not parse is refused (false / 0), never read past its end.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "base/tuning.hpp"
#include "frame/buffer.hpp"
#include "wire/vnet.hpp"

namespace vdestack::frame {

// ---- configuration -------------------------------------------------------

// Which offloads are used: base/tuning.hpp (VDESTACK_OFFLOAD, parsed there).
using Config = OffloadConfig;

// ---- Internet checksum (RFC 1071) ----------------------------------------

// Adds the bytes [p, p+n) to a running sum of 16-bit words read in host
// order (an odd last byte is padded with zero). Sums of pieces may be added
// as long as every piece but the last has an even length.
[[nodiscard]] std::uint64_t csum_add(std::uint64_t acc, const std::byte* p, std::size_t n) noexcept;
// Folds a running sum to 16 bits (not complemented), in host order: store it
// with memcpy to get network order bytes.
[[nodiscard]] std::uint16_t csum_fold(std::uint64_t acc) noexcept;

// ---- frames --------------------------------------------------------------

// Completes the checksum of a frame read with VIRTIO_NET_HDR_F_NEEDS_CSUM:
// the one's complement sum over [csum_start, end) (which includes the
// pre-seeded pseudo-header sum) stored complemented at csum_start +
// csum_offset (0 as 0xffff, as the kernel does). Nothing to do without the
// flag. False when the offsets do not fit in the frame (drop it).
bool complete_csum(std::span<std::byte> frame, const wire::VnetHdr& h) noexcept;

// Cuts one TCPv4/TCPv6 GSO frame (optionally VLAN-tagged; IPv6 extension
// headers hop-by-hop and destination options) into ordinary frames.
class TsoSegmenter {
public:
    // Parses `frame` (valid until the last next()). False when it is not a
    // GSO TCP frame that can be cut: unknown gso_type, gso_size 0, lengths
    // that disagree with the frame, not TCP, a fragment, csum_start/offset
    // that do not point at the TCP checksum.
    [[nodiscard]] bool start(std::span<const std::byte> frame, const wire::VnetHdr& h) noexcept;
    // Length of the longest segment (the first): headers + min(MSS, payload).
    [[nodiscard]] std::size_t max_segment() const noexcept { return max_segment_; }
    [[nodiscard]] std::size_t segments() const noexcept { return nseg_; }
    [[nodiscard]] bool done() const noexcept { return index_ >= nseg_; }
    // Writes the next segment to `out`; returns its length, or 0 when done
    // or when `out` is shorter than max_segment().
    std::size_t next(std::span<std::byte> out) noexcept;

private:
    const std::byte* f_ = nullptr;
    std::size_t len_ = 0, l3_ = 0, l4_ = 0, hdrs_ = 0, mss_ = 0, off_ = 0;
    std::size_t nseg_ = 0, index_ = 0, max_segment_ = 0;
    std::uint32_t seq0_ = 0;
    std::uint16_t id0_ = 0;
    bool v6_ = false;
    std::uint64_t pseudo_ = 0;  // the addresses and protocol of the pseudo-header
};

// Coalesces received TCP segments (see the theory above). One object per
// engine, reused for every batch.
class Gro {
public:
    static constexpr std::size_t kMaxFlows = 8;  // groups open at once per batch
    static constexpr std::size_t kMaxLen = 65535;  // IP length limit of a merged frame

    explicit Gro(std::size_t max_frames);

    // Processes one batch of received frames, in arrival order, and emits
    // every frame exactly once, alone or merged: emit(iov) gets the frame as
    // an iovec array whose first element is the virtio_net_hdr (zero for a
    // frame written as it came). The frames of one flow keep their order.
    // Merged frames' headers are rewritten in place; the iovecs point into
    // `frames` and are valid during the call only.
    template <class F>
    void run(std::span<const FrameBuf> frames, F&& emit) {
        run_impl(frames, [](void* c, std::span<const iovec> iov) { (*static_cast<std::remove_reference_t<F>*>(c))(iov); },
                 &emit);
    }

    // Counters since construction (tests and diagnostics).
    std::uint64_t merged_frames = 0;    // GSO frames emitted
    std::uint64_t merged_segments = 0;  // segments that went into them

private:
    using EmitFn = void (*)(void*, std::span<const iovec>);
    struct Seg {
        std::uint32_t l3 = 0, l4 = 0, thl = 0, ip_end = 0, plen = 0, seq = 0;
        std::uint8_t kind = 0;  // kOther, kTcp (a flow, not mergeable), kMergeable
        std::uint8_t flags = 0;
        bool v6 = false;
    };
    struct Group {
        bool used = false;
        std::uint32_t head = 0, tail = 0, count = 0, mss = 0, total = 0, next_seq = 0;
    };
    void run_impl(std::span<const FrameBuf> frames, EmitFn emit, void* ctx);
    void classify(const FrameBuf& f, Seg& s) const noexcept;
    [[nodiscard]] bool same_flow(std::uint32_t a, std::uint32_t b) const noexcept;
    [[nodiscard]] bool can_append(const Group& g, std::uint32_t i) const noexcept;
    void emit_plain(std::uint32_t i);
    void flush(Group& g);

    std::span<const FrameBuf> frames_;
    EmitFn emit_ = nullptr;
    void* ctx_ = nullptr;
    std::vector<Seg> segs_;
    std::vector<std::uint32_t> next_;
    std::vector<iovec> iov_;
    Group groups_[kMaxFlows];
    std::byte hdr_[wire::VnetHdr::kSize]{};
};

}  // namespace vdestack::frame
