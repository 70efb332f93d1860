// whole.hpp - "whole frames": how two of our ends of a point-to-point VDE
// link (ptp://) agree to carry TCP super-segments (GSO frames, up to 64 KiB)
// as one datagram instead of cutting them into MTU-sized frames, and the
// envelope such a datagram travels in. Not part of any vdeplug4 protocol:
// a plain VDE peer never receives an envelope, and sees a hello as one
// ordinary frame of an experimental ethertype, which it ignores.
//
// Both are Ethernet frames from kSrc to kDst (locally administered
// addresses, the multicast one not in any range a bridge or host joins) of
// ethertype 0x88b5 (IEEE 802 "local experimental"), then an 8-byte tag:
//
//   hello     dst src 88b5 | "VDSHELO1" | dev(8) ino(8) | zeros to 60 bytes
//             "I can take whole frames": sent by an end that can, once per
//             peer it connects to, and in reply to the peer's hello. dev and
//             ino (big-endian) name the sender's own socket file: the
//             receiver believes a hello only when they are those of the file
//             at its peer's path, so a hello that a plain VDE peer (a
//             vdeplug4 vde_plug joining two cables, say) passes on as an
//             ordinary frame cannot make a far end send whole frames to a
//             peer that cannot take them.
//   envelope  dst src 88b5 | "VDSWHOL1" | 10-byte GSO header | frame
//             GSO header (big-endian): flags(1) gso_type(1) hdr_len(2)
//             gso_size(2) csum_start(2) csum_offset(2), the fields of the
//             virtio_net_hdr the sending tap gave the frame (vnet.hpp).
//
// Checked views: parse_envelope() validates lengths and the GSO header
// (a TCP GSO type, gso_size > 0, the checksum field inside the frame) and
// returns the header and the frame; no accessor reads past the datagram.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "wire/bytes.hpp"
#include "wire/vnet.hpp"

namespace vdestack::wire::whole {

inline constexpr std::array<std::uint8_t, 6> kDst = {0x03, 0x76, 0x64, 0x65, 0x67, 0x73};
inline constexpr std::array<std::uint8_t, 6> kSrc = {0x02, 0x76, 0x64, 0x65, 0x67, 0x73};
inline constexpr std::uint16_t kEthertype = 0x88b5;
inline constexpr std::array<char, 8> kHelloTag = {'V', 'D', 'S', 'H', 'E', 'L', 'O', '1'};
inline constexpr std::array<char, 8> kEnvelopeTag = {'V', 'D', 'S', 'W', 'H', 'O', 'L', '1'};
inline constexpr std::size_t kPrefix = 14 + 8;                 // Ethernet header + tag
inline constexpr std::size_t kEnvelopeHead = kPrefix + 10;    // + GSO header
inline constexpr std::size_t kHelloSize = 60;
// The largest frame an envelope carries: a 64 KiB IP packet + Ethernet
// header and two VLAN tags.
inline constexpr std::size_t kMaxFrame = 65535 + 14 + 8;

namespace detail {
inline bool prefix_is(std::span<const std::byte> d, const std::array<char, 8>& tag) noexcept {
    if (d.size() < kPrefix) return false;
    if (std::memcmp(d.data(), kDst.data(), 6) != 0 || std::memcmp(d.data() + 6, kSrc.data(), 6) != 0) return false;
    if (std::to_integer<unsigned>(d[12]) != (kEthertype >> 8) || std::to_integer<unsigned>(d[13]) != (kEthertype & 0xff))
        return false;
    return std::memcmp(d.data() + 14, tag.data(), 8) == 0;
}
inline void write_prefix(std::byte* out, const std::array<char, 8>& tag) noexcept {
    std::memcpy(out, kDst.data(), 6);
    std::memcpy(out + 6, kSrc.data(), 6);
    out[12] = std::byte{kEthertype >> 8};
    out[13] = std::byte{kEthertype & 0xff};
    std::memcpy(out + 14, tag.data(), 8);
}
}  // namespace detail

// Who sent a hello: the device and inode of its socket file.
struct HelloId {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    friend constexpr bool operator==(const HelloId&, const HelloId&) = default;
};

// The hello frame of the end whose socket file is `id`.
inline std::array<std::byte, kHelloSize> hello(HelloId id) noexcept {
    std::array<std::byte, kHelloSize> h{};
    detail::write_prefix(h.data(), kHelloTag);
    for (int i = 0; i < 8; i++) {
        h[kPrefix + static_cast<std::size_t>(i)] = static_cast<std::byte>(id.dev >> (56 - 8 * i));
        h[kPrefix + 8 + static_cast<std::size_t>(i)] = static_cast<std::byte>(id.ino >> (56 - 8 * i));
    }
    return h;
}

// True when the datagram claims to be a hello (valid or not: either way it
// is not an ordinary frame to deliver).
[[nodiscard]] inline bool is_hello(std::span<const std::byte> d) noexcept {
    return detail::prefix_is(d, kHelloTag);
}

// The sender of a hello; nullopt when d is not a well-formed one.
[[nodiscard]] inline std::optional<HelloId> parse_hello(std::span<const std::byte> d) noexcept {
    if (!is_hello(d) || d.size() < kPrefix + 16) return std::nullopt;
    HelloId id;
    for (std::size_t i = 0; i < 8; i++) {
        id.dev = (id.dev << 8) | std::to_integer<std::uint64_t>(d[kPrefix + i]);
        id.ino = (id.ino << 8) | std::to_integer<std::uint64_t>(d[kPrefix + 8 + i]);
    }
    return id;
}

// True when the datagram claims to be an envelope (valid or not: either way
// it is not an ordinary frame to deliver).
[[nodiscard]] inline bool is_envelope(std::span<const std::byte> d) noexcept {
    return detail::prefix_is(d, kEnvelopeTag);
}

// The envelope head (prefix + GSO header) for a frame with header h.
inline std::array<std::byte, kEnvelopeHead> envelope_head(const VnetHdr& h) noexcept {
    std::array<std::byte, kEnvelopeHead> e{};
    detail::write_prefix(e.data(), kEnvelopeTag);
    std::byte* g = e.data() + kPrefix;
    g[0] = std::byte{h.flags};
    g[1] = std::byte{h.gso_type};
    put_be16(g + 2, h.hdr_len);
    put_be16(g + 4, h.gso_size);
    put_be16(g + 6, h.csum_start);
    put_be16(g + 8, h.csum_offset);
    return e;
}

struct Envelope {
    VnetHdr hdr;
    std::span<const std::byte> frame;
};

// The envelope in datagram d, validated; nullopt when d is not a well-formed
// envelope of a TCP super-segment.
[[nodiscard]] inline std::optional<Envelope> parse_envelope(std::span<const std::byte> d) noexcept {
    if (!is_envelope(d) || d.size() < kEnvelopeHead + 14 || d.size() - kEnvelopeHead > kMaxFrame) return std::nullopt;
    const std::byte* g = d.data() + kPrefix;
    Envelope e;
    e.hdr.flags = std::to_integer<std::uint8_t>(g[0]);
    e.hdr.gso_type = std::to_integer<std::uint8_t>(g[1]);
    e.hdr.hdr_len = be16(g + 2);
    e.hdr.gso_size = be16(g + 4);
    e.hdr.csum_start = be16(g + 6);
    e.hdr.csum_offset = be16(g + 8);
    e.frame = d.subspan(kEnvelopeHead);
    const std::uint8_t kind = e.hdr.gso_kind();
    if (kind != VnetHdr::kGsoTcpV4 && kind != VnetHdr::kGsoTcpV6) return std::nullopt;
    if (e.hdr.gso_size == 0 || !e.hdr.needs_csum()) return std::nullopt;
    if (std::size_t{e.hdr.csum_start} + e.hdr.csum_offset + 2 > e.frame.size()) return std::nullopt;
    return e;
}

}  // namespace vdestack::wire::whole
