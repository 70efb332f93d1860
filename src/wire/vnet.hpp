// vnet.hpp - the virtio_net_hdr that a tap opened with IFF_VNET_HDR puts in
// front of every frame it hands out, and expects in front of every frame
// written to it (<linux/virtio_net.h>).
//
// Layout (byte offsets), 10 bytes (TUNSETVNETHDRSZ 10, the default):
//   0      flags        VIRTIO_NET_HDR_F_NEEDS_CSUM (1): the checksum at
//                       csum_start + csum_offset is to be completed over
//                       [csum_start, end) (the kernel seeded it with the
//                       pseudo-header sum); _DATA_VALID (2)
//   1      gso_type     NONE 0, TCPV4 1, UDP 3, TCPV6 4, | ECN 0x80
//   2..3   hdr_len      length of the headers (a hint; not trusted here)
//   4..5   gso_size     MSS: payload bytes per segment
//   6..7   csum_start   offset of the checksummed part (the L4 header)
//   8..9   csum_offset  offset of the checksum field from csum_start
// The 16-bit fields are in the host's byte order: a tap is a "legacy"
// virtio device unless TUNSETVNETLE/BE says otherwise, which we never do.
//
// VnetHdr is a plain value: parse() refuses buffers shorter than kSize and
// decodes the fields; store() encodes them. Header-only, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace vdestack::wire {

struct VnetHdr {
    static constexpr std::size_t kSize = 10;
    static constexpr std::uint8_t kNeedsCsum = 1;
    static constexpr std::uint8_t kDataValid = 2;
    static constexpr std::uint8_t kGsoNone = 0;
    static constexpr std::uint8_t kGsoTcpV4 = 1;
    static constexpr std::uint8_t kGsoUdp = 3;
    static constexpr std::uint8_t kGsoTcpV6 = 4;
    static constexpr std::uint8_t kGsoEcn = 0x80;

    std::uint8_t flags = 0;
    std::uint8_t gso_type = kGsoNone;
    std::uint16_t hdr_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;

    // The GSO type without the ECN bit.
    [[nodiscard]] constexpr std::uint8_t gso_kind() const noexcept {
        return static_cast<std::uint8_t>(gso_type & ~kGsoEcn);
    }
    [[nodiscard]] constexpr bool needs_csum() const noexcept { return (flags & kNeedsCsum) != 0; }

    // The header at the start of `bytes`, or nullopt when it is shorter than kSize.
    [[nodiscard]] static std::optional<VnetHdr> parse(std::span<const std::byte> bytes) noexcept {
        if (bytes.size() < kSize) return std::nullopt;
        VnetHdr h;
        h.flags = std::to_integer<std::uint8_t>(bytes[0]);
        h.gso_type = std::to_integer<std::uint8_t>(bytes[1]);
        std::memcpy(&h.hdr_len, bytes.data() + 2, 2);
        std::memcpy(&h.gso_size, bytes.data() + 4, 2);
        std::memcpy(&h.csum_start, bytes.data() + 6, 2);
        std::memcpy(&h.csum_offset, bytes.data() + 8, 2);
        return h;
    }

    // Writes the kSize bytes of the header.
    void store(std::span<std::byte, kSize> out) const noexcept {
        out[0] = std::byte{flags};
        out[1] = std::byte{gso_type};
        std::memcpy(out.data() + 2, &hdr_len, 2);
        std::memcpy(out.data() + 4, &gso_size, 2);
        std::memcpy(out.data() + 6, &csum_start, 2);
        std::memcpy(out.data() + 8, &csum_offset, 2);
    }

    friend constexpr bool operator==(const VnetHdr&, const VnetHdr&) = default;
};

}  // namespace vdestack::wire
