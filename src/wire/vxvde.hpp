// vxvde.hpp - the 8-byte header that prefixes every vxvde:// datagram (vdeplug4 wire format).
//
// Layout (byte offsets), as sent by Debian's vdeplug4 4.0.1:
//   0      flags      0x08 (the VXLAN "I" bit: a VNI is present)
//   1..3   reserved   zero
//   4..6   VNI        24-bit big-endian virtual network identifier
//   7      reserved   zero
// The Ethernet frame follows. A datagram consisting of exactly the header and
// nothing else is a "leave" message: the sender is closing its connection.
//
// VxvdeHeader is a checked, non-owning view over received bytes (in the spirit
// of smoltcp's Packet<T>): parse() refuses buffers shorter than kSize, after
// which every accessor is in bounds. write_vxvde_header() encodes our header.
// Header-only, constexpr where possible, no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace vdestack::wire {

class VxvdeHeader {
public:
    static constexpr std::size_t kSize = 8;
    static constexpr std::uint8_t kFlagVni = 0x08;  // the only flag vxvde sets
    static constexpr std::uint32_t kMaxVni = 0xffffff;

    // A view over the first kSize bytes of `bytes`, or nullopt when it is shorter.
    [[nodiscard]] static constexpr std::optional<VxvdeHeader> parse(std::span<const std::byte> bytes) noexcept {
        if (bytes.size() < kSize) return std::nullopt;
        return VxvdeHeader(bytes.first<kSize>());
    }

    [[nodiscard]] constexpr std::uint8_t flags() const noexcept { return u8(0); }
    [[nodiscard]] constexpr std::uint32_t vni() const noexcept {
        return (std::uint32_t{u8(4)} << 16) | (std::uint32_t{u8(5)} << 8) | std::uint32_t{u8(6)};
    }
    // Bytes 1..3 as a 24-bit big-endian number (zero in a valid header).
    [[nodiscard]] constexpr std::uint32_t reserved1() const noexcept {
        return (std::uint32_t{u8(1)} << 16) | (std::uint32_t{u8(2)} << 8) | std::uint32_t{u8(3)};
    }
    // Byte 7 (zero in a valid header).
    [[nodiscard]] constexpr std::uint8_t reserved2() const noexcept { return u8(7); }
    // True when flags == 0x08 and both reserved fields are zero.
    [[nodiscard]] constexpr bool well_formed() const noexcept {
        return flags() == kFlagVni && reserved1() == 0 && reserved2() == 0;
    }
    [[nodiscard]] constexpr std::span<const std::byte, kSize> bytes() const noexcept { return bytes_; }

private:
    constexpr explicit VxvdeHeader(std::span<const std::byte, kSize> b) noexcept : bytes_(b) {}
    [[nodiscard]] constexpr std::uint8_t u8(std::size_t i) const noexcept { return std::to_integer<std::uint8_t>(bytes_[i]); }

    std::span<const std::byte, kSize> bytes_;
};

// The name used by the transport for a parsed header.
using VxvdeView = VxvdeHeader;

// Writes the header for `vni` (only its low 24 bits are used): 08 00 00 00 V V V 00.
constexpr void write_vxvde_header(std::span<std::byte, VxvdeHeader::kSize> out, std::uint32_t vni) noexcept {
    out[0] = std::byte{VxvdeHeader::kFlagVni};
    out[1] = out[2] = out[3] = std::byte{0};
    out[4] = static_cast<std::byte>((vni >> 16) & 0xff);
    out[5] = static_cast<std::byte>((vni >> 8) & 0xff);
    out[6] = static_cast<std::byte>(vni & 0xff);
    out[7] = std::byte{0};
}

// The header for `vni` as a value (also the complete "leave" datagram).
[[nodiscard]] constexpr std::array<std::byte, VxvdeHeader::kSize> make_vxvde_header(std::uint32_t vni) noexcept {
    std::array<std::byte, VxvdeHeader::kSize> h{};
    write_vxvde_header(h, vni);
    return h;
}

}  // namespace vdestack::wire
