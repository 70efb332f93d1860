// ethernet.hpp - checked view of an Ethernet II frame with up to two VLAN
// tags (802.1Q 0x8100, 802.1ad 0x88a8 outside it), as every VDE network
// carries them (no preamble, no FCS).
//
// EthernetView::parse() validates once: at least the 14-byte header and
// every tag it announces. The accessors then never read past the frame.
// A view does not own the bytes; it is valid while they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire {

inline constexpr std::size_t kEthHeader = 14;
inline constexpr std::size_t kVlanTag = 4;
inline constexpr std::size_t kMacLen = 6;
inline constexpr std::uint16_t kEtherIPv4 = 0x0800;
inline constexpr std::uint16_t kEtherIPv6 = 0x86dd;
inline constexpr std::uint16_t kEtherArp = 0x0806;
inline constexpr std::uint16_t kEtherVlan = 0x8100;  // 802.1Q
inline constexpr std::uint16_t kEtherQinQ = 0x88a8;  // 802.1ad service tag

using MacSpan = std::span<const std::byte, kMacLen>;

// The two addresses of any frame of at least 12 bytes (no other check):
// for code that only learns or switches on MACs.
[[nodiscard]] inline MacSpan dst_mac(const std::byte* frame) noexcept { return MacSpan(frame, kMacLen); }
[[nodiscard]] inline MacSpan src_mac(const std::byte* frame) noexcept { return MacSpan(frame + kMacLen, kMacLen); }
[[nodiscard]] inline bool is_multicast(MacSpan mac) noexcept { return (u8(mac.data()) & 1u) != 0; }
// The 48 bits of a MAC as a number (first byte highest): the key of the
// tables that map MACs to something.
[[nodiscard]] inline std::uint64_t mac_key(MacSpan mac) noexcept {
    std::uint64_t k = 0;
    for (std::byte b : mac) k = (k << 8) | std::to_integer<std::uint64_t>(b);
    return k;
}

class EthernetView {
public:
    static constexpr int kMaxTags = 2;

    // nullopt: shorter than its header (and tags).
    [[nodiscard]] static std::optional<EthernetView> parse(std::span<const std::byte> frame) noexcept {
        if (frame.size() < kEthHeader) return std::nullopt;
        std::size_t off = 12;
        std::uint16_t et = be16(frame.data() + off);
        int tags = 0;
        std::uint16_t vlan = 0;
        while ((et == kEtherVlan || et == kEtherQinQ) && tags < kMaxTags) {
            if (frame.size() < off + kVlanTag + 2) return std::nullopt;
            if (tags == 0) vlan = be16(frame.data() + off + 2) & 0x0fff;
            off += kVlanTag;
            et = be16(frame.data() + off);
            tags++;
        }
        return EthernetView(frame, off + 2, et, tags, vlan);
    }

    [[nodiscard]] MacSpan dst() const noexcept { return dst_mac(f_.data()); }
    [[nodiscard]] MacSpan src() const noexcept { return src_mac(f_.data()); }
    // The EtherType after the tags.
    [[nodiscard]] std::uint16_t ethertype() const noexcept { return et_; }
    // Where the payload (the L3 header) starts: 14, 18 or 22.
    [[nodiscard]] std::size_t header_len() const noexcept { return hlen_; }
    [[nodiscard]] int tags() const noexcept { return tags_; }
    // The outer tag's VLAN id (0 when untagged).
    [[nodiscard]] std::uint16_t vlan() const noexcept { return vlan_; }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return f_.subspan(hlen_); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return f_; }

private:
    EthernetView(std::span<const std::byte> f, std::size_t hlen, std::uint16_t et, int tags, std::uint16_t vlan) noexcept
        : f_(f), hlen_(hlen), et_(et), tags_(tags), vlan_(vlan) {}
    std::span<const std::byte> f_;
    std::size_t hlen_;
    std::uint16_t et_;
    int tags_;
    std::uint16_t vlan_;
};

}  // namespace vdestack::wire
