// switch_core.cpp - forwarding decisions and the (MAC, VLAN) -> port table of
// the switch:// and hub:// nodes. Theory of operation: switch_core.hpp.
#include "plug/unix/switch_core.hpp"

#include <algorithm>

namespace vdestack::plug {

namespace {

constexpr std::size_t kEthHeader = 14;
constexpr std::size_t kVlanTagged = kEthHeader + 4;

bool is_group(MacBytes mac) noexcept { return (std::to_integer<unsigned>(mac[0]) & 1u) != 0; }

}  // namespace

std::uint16_t frame_vlan(std::span<const std::byte> frame) noexcept {
    if (frame.size() < kVlanTagged) return 0;
    if (frame[12] != std::byte{0x81} || frame[13] != std::byte{0x00}) return 0;
    const unsigned tci = (std::to_integer<unsigned>(frame[14]) << 8) | std::to_integer<unsigned>(frame[15]);
    return static_cast<std::uint16_t>(tci & 0xfffu);
}

Forwarder::Forwarder(NodeKind kind, std::size_t hashsize, std::uint64_t seed, std::int64_t expire)
    : kind_(kind), table_(kind == NodeKind::kSwitch ? hashsize : 0, seed, expire) {}

Route Forwarder::route(std::span<const std::byte> frame, PortId from, std::int64_t now) noexcept {
    if (frame.size() < kEthHeader) return {Route::kDrop, 0};
    if (kind_ == NodeKind::kHub) return {Route::kFlood, 0};
    const MacBytes dst = frame.first<6>();
    const MacBytes src = frame.subspan<6, 6>();
    const std::uint16_t vlan = frame_vlan(frame);
    table_.learn(src, vlan, from, now);
    if (is_group(dst)) return {Route::kFlood, 0};
    if (const auto port = table_.lookup(dst, vlan, now)) {
        if (*port == from) return {Route::kDrop, 0};
        return {Route::kUnicast, *port};
    }
    return {Route::kFlood, 0};
}

void Forwarder::port_removed(PortId p) noexcept { table_.forget_port(p); }

}  // namespace vdestack::plug
