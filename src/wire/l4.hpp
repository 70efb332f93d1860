// l4.hpp - checked views of TCP and UDP headers.
//
// TcpView::parse() validates once: the 20-byte header fits and its data
// offset is 20..60 bytes within the segment; UdpView::parse(): the 8-byte
// header fits and its length field covers it and fits. Views do not own
// the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire {

class TcpView {
public:
    static constexpr std::size_t kMinHeader = 20;
    static constexpr std::size_t kCsumOffset = 16;
    static constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20,
                                  kEce = 0x40, kCwr = 0x80;

    [[nodiscard]] static std::optional<TcpView> parse(std::span<const std::byte> seg) noexcept {
        if (seg.size() < kMinHeader) return std::nullopt;
        const std::size_t thl = (u8(seg.data() + 12) >> 4) * 4u;
        if (thl < kMinHeader || thl > seg.size()) return std::nullopt;
        return TcpView(seg, thl);
    }

    [[nodiscard]] std::size_t header_len() const noexcept { return thl_; }
    [[nodiscard]] std::uint16_t src_port() const noexcept { return be16(s_.data()); }
    [[nodiscard]] std::uint16_t dst_port() const noexcept { return be16(s_.data() + 2); }
    [[nodiscard]] std::uint32_t seq() const noexcept { return be32(s_.data() + 4); }
    [[nodiscard]] std::uint32_t ack() const noexcept { return be32(s_.data() + 8); }
    [[nodiscard]] std::uint8_t flags() const noexcept { return u8(s_.data() + 13); }
    [[nodiscard]] std::uint16_t window() const noexcept { return be16(s_.data() + 14); }
    [[nodiscard]] std::span<const std::byte> options() const noexcept { return s_.subspan(kMinHeader, thl_ - kMinHeader); }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return s_.subspan(thl_); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return s_; }

private:
    TcpView(std::span<const std::byte> s, std::size_t thl) noexcept : s_(s), thl_(thl) {}
    std::span<const std::byte> s_;
    std::size_t thl_;
};

class UdpView {
public:
    static constexpr std::size_t kHeader = 8;

    [[nodiscard]] static std::optional<UdpView> parse(std::span<const std::byte> d) noexcept {
        if (d.size() < kHeader) return std::nullopt;
        const std::size_t len = be16(d.data() + 4);
        if (len < kHeader || len > d.size()) return std::nullopt;
        return UdpView(d.first(len));
    }

    [[nodiscard]] std::uint16_t src_port() const noexcept { return be16(d_.data()); }
    [[nodiscard]] std::uint16_t dst_port() const noexcept { return be16(d_.data() + 2); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return be16(d_.data() + 6); }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return d_.subspan(kHeader); }

private:
    explicit UdpView(std::span<const std::byte> d) noexcept : d_(d) {}
    std::span<const std::byte> d_;
};

}  // namespace vdestack::wire
