// bytes.hpp - network byte order reads and writes of raw bytes: the one
// place where wire/ (and everything above it) turns bytes into numbers.
// Callers check lengths first (the views in this folder do, once).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdestack::wire {

[[nodiscard]] constexpr std::uint8_t u8(const std::byte* p) noexcept { return std::to_integer<std::uint8_t>(*p); }
[[nodiscard]] constexpr std::uint16_t be16(const std::byte* p) noexcept {
    return static_cast<std::uint16_t>((u8(p) << 8) | u8(p + 1));
}
[[nodiscard]] constexpr std::uint32_t be32(const std::byte* p) noexcept {
    return (std::uint32_t{u8(p)} << 24) | (std::uint32_t{u8(p + 1)} << 16) | (std::uint32_t{u8(p + 2)} << 8) |
           std::uint32_t{u8(p + 3)};
}
constexpr void put_be16(std::byte* p, std::size_t v) noexcept {
    p[0] = static_cast<std::byte>((v >> 8) & 0xff);
    p[1] = static_cast<std::byte>(v & 0xff);
}
constexpr void put_be32(std::byte* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>((v >> 16) & 0xff);
    p[2] = static_cast<std::byte>((v >> 8) & 0xff);
    p[3] = static_cast<std::byte>(v & 0xff);
}

}  // namespace vdestack::wire
