// ip.hpp - checked views of IPv4 and IPv6 headers.
//
// Ipv4View::parse() validates once: version 4, a header length of 20..60
// bytes that fits, and a total length that fits in the bytes given (bytes
// beyond it, Ethernet padding, are outside the view). Ipv6View::parse():
// version 6, the 40-byte header and the payload length fit; upper() walks
// the hop-by-hop and destination options headers (each checked) to the
// upper-layer protocol. Views do not own the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire {

inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

class Ipv4View {
public:
    static constexpr std::size_t kMinHeader = 20;

    [[nodiscard]] static std::optional<Ipv4View> parse(std::span<const std::byte> b) noexcept {
        if (b.size() < kMinHeader) return std::nullopt;
        const std::uint8_t vihl = u8(b.data());
        const std::size_t ihl = (vihl & 0x0fu) * 4u;
        const std::size_t total = be16(b.data() + 2);
        if ((vihl >> 4) != 4 || ihl < kMinHeader || total < ihl || total > b.size()) return std::nullopt;
        return Ipv4View(b.first(total), ihl);
    }

    [[nodiscard]] std::size_t header_len() const noexcept { return ihl_; }
    [[nodiscard]] std::size_t total_len() const noexcept { return b_.size(); }
    [[nodiscard]] std::uint16_t id() const noexcept { return be16(b_.data() + 4); }
    // More fragments or a fragment offset: not a whole datagram.
    [[nodiscard]] bool is_fragment() const noexcept { return (be16(b_.data() + 6) & 0x3fff) != 0; }
    [[nodiscard]] std::uint8_t protocol() const noexcept { return u8(b_.data() + 9); }
    // Source and destination, 8 bytes (the pseudo-header's addresses).
    [[nodiscard]] std::span<const std::byte, 8> addrs() const noexcept { return b_.subspan<12, 8>(); }
    [[nodiscard]] std::span<const std::byte> header() const noexcept { return b_.first(ihl_); }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return b_.subspan(ihl_); }

private:
    Ipv4View(std::span<const std::byte> b, std::size_t ihl) noexcept : b_(b), ihl_(ihl) {}
    std::span<const std::byte> b_;
    std::size_t ihl_;
};

class Ipv6View {
public:
    static constexpr std::size_t kHeader = 40;

    [[nodiscard]] static std::optional<Ipv6View> parse(std::span<const std::byte> b) noexcept {
        if (b.size() < kHeader || (u8(b.data()) >> 4) != 6) return std::nullopt;
        const std::size_t plen = be16(b.data() + 4);
        if (kHeader + plen > b.size()) return std::nullopt;
        return Ipv6View(b.first(kHeader + plen));
    }

    [[nodiscard]] std::size_t payload_len() const noexcept { return b_.size() - kHeader; }
    [[nodiscard]] std::uint8_t next_header() const noexcept { return u8(b_.data() + 6); }
    // Source and destination, 32 bytes (the pseudo-header's addresses).
    [[nodiscard]] std::span<const std::byte, 32> addrs() const noexcept { return b_.subspan<8, 32>(); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return b_; }

    // The first header after at most `max_ext` hop-by-hop (0) and
    // destination options (60) headers: its protocol and offset from the
    // start of the IPv6 header. That protocol may be another extension
    // header (a routing header, 43, which changes the pseudo-header's
    // destination): callers compare it with the one they handle. nullopt
    // when more options headers follow or one does not fit.
    struct Upper {
        std::uint8_t protocol;
        std::size_t offset;
    };
    [[nodiscard]] std::optional<Upper> upper(int max_ext = 4) const noexcept {
        std::uint8_t nh = next_header();
        std::size_t p = kHeader;
        for (int k = 0; k <= max_ext; k++) {
            if (nh != 0 && nh != 60) return Upper{nh, p};
            if (k == max_ext || b_.size() < p + 8) break;
            nh = u8(b_.data() + p);
            p += (std::size_t{u8(b_.data() + p + 1)} + 1) * 8;
            if (p > b_.size()) break;
        }
        return std::nullopt;
    }

private:
    explicit Ipv6View(std::span<const std::byte> b) noexcept : b_(b) {}
    std::span<const std::byte> b_;
};

}  // namespace vdestack::wire
