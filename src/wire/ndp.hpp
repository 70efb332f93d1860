// ndp.hpp - IPv6 router discovery (RFC 4861 4.1, 4.2, 4.6): a checked view
// of a Router Advertisement as a raw ICMPv6 socket delivers it (from the
// ICMPv6 header on), its options (prefix information, MTU, RDNSS and DNSSL
// of RFC 8106), and the Router Solicitation a host sends.
//
// RaView::parse() validates once: type 134, code 0, the 16-byte header fits,
// every option has a non-zero length (RFC 4861 4.6: a zero length is
// invalid and the whole message is dropped) within the message. Options
// that are too short for their type are skipped by the accessors, not read.
// The checksum is the kernel's (it verifies ICMPv6 on raw sockets).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire::ndp {

inline constexpr std::uint8_t kRouterSolicit = 133, kRouterAdvert = 134;
inline constexpr std::uint8_t kOptSourceLla = 1, kOptPrefix = 3, kOptMtu = 5, kOptRdnss = 25, kOptDnssl = 31;
inline constexpr std::uint8_t kRaManaged = 0x80, kRaOther = 0x40;        // RA flags
inline constexpr std::uint8_t kPrefixOnLink = 0x80, kPrefixAuto = 0x40;  // prefix flags

struct PrefixInfo {
    std::uint8_t length = 0, flags = 0;
    std::uint32_t valid = 0, preferred = 0;
    std::array<std::uint8_t, 16> prefix{};
};

class RaView {
public:
    [[nodiscard]] static std::optional<RaView> parse(std::span<const std::byte> m) noexcept {
        if (m.size() < 16 || u8(m.data()) != kRouterAdvert || u8(m.data() + 1) != 0) return std::nullopt;
        for (std::size_t i = 16; i < m.size();) {
            if (i + 2 > m.size()) return std::nullopt;
            const std::size_t len = std::size_t{u8(m.data() + i + 1)} * 8;
            if (len == 0 || i + len > m.size()) return std::nullopt;
            i += len;
        }
        return RaView(m);
    }
    [[nodiscard]] std::uint8_t flags() const noexcept { return u8(m_.data() + 5); }
    [[nodiscard]] std::uint16_t router_lifetime() const noexcept { return be16(m_.data() + 6); }

    // f(type, whole option bytes) for every option.
    template <class F>
    void for_each_option(F&& f) const {
        for (std::size_t i = 16; i < m_.size();) {
            const std::size_t len = std::size_t{u8(m_.data() + i + 1)} * 8;
            f(u8(m_.data() + i), m_.subspan(i, len));
            i += len;
        }
    }
    template <class F>
    void for_each_prefix(F&& f) const {
        for_each_option([&](std::uint8_t type, std::span<const std::byte> o) {
            if (type != kOptPrefix || o.size() < 32) return;
            PrefixInfo p;
            p.length = u8(o.data() + 2);
            p.flags = u8(o.data() + 3);
            p.valid = be32(o.data() + 4);
            p.preferred = be32(o.data() + 8);
            std::memcpy(p.prefix.data(), o.data() + 16, 16);
            f(p);
        });
    }
    // f(address) for every RDNSS server (lifetime > 0).
    template <class F>
    void for_each_rdnss(F&& f) const {
        for_each_option([&](std::uint8_t type, std::span<const std::byte> o) {
            if (type != kOptRdnss || o.size() < 24 || be32(o.data() + 4) == 0) return;
            for (std::size_t at = 8; at + 16 <= o.size(); at += 16) {
                std::array<std::uint8_t, 16> a{};
                std::memcpy(a.data(), o.data() + at, 16);
                f(a);
            }
        });
    }
    // f(names in DNS wire format, zero-padded) for every DNSSL (lifetime > 0).
    template <class F>
    void for_each_dnssl(F&& f) const {
        for_each_option([&](std::uint8_t type, std::span<const std::byte> o) {
            if (type != kOptDnssl || o.size() < 16 || be32(o.data() + 4) == 0) return;
            f(o.subspan(8));
        });
    }

private:
    explicit RaView(std::span<const std::byte> m) noexcept : m_(m) {}
    std::span<const std::byte> m_;
};

// A Router Solicitation with the source link-layer address option (16 bytes;
// the kernel fills the checksum).
[[nodiscard]] inline std::array<std::byte, 16> router_solicit(const std::array<std::uint8_t, 6>& mac) noexcept {
    std::array<std::byte, 16> m{};
    m[0] = std::byte{kRouterSolicit};
    m[8] = std::byte{kOptSourceLla};
    m[9] = std::byte{1};
    std::memcpy(m.data() + 10, mac.data(), 6);
    return m;
}

}  // namespace vdestack::wire::ndp
