// switch_core.cpp - forwarding decisions and the (MAC, VLAN) -> port table of
// the switch:// and hub:// nodes. Theory of operation: switch_core.hpp.
#include "plug/unix/switch_core.hpp"

#include <algorithm>

#include "wire/ethernet.hpp"

namespace vdestack::plug {

std::uint16_t frame_vlan(std::span<const std::byte> frame) noexcept {
    // An 802.1Q outer tag only (vde_switch's rule): an 802.1ad one is not a port VLAN.
    const auto eth = wire::EthernetView::parse(frame);
    return eth && eth->tags() > 0 && wire::be16(frame.data() + 12) == wire::kEtherVlan ? eth->vlan() : 0;
}

Forwarder::Forwarder(NodeKind kind, std::size_t hashsize, std::uint64_t seed, std::int64_t expire)
    : kind_(kind), table_(kind == NodeKind::kSwitch ? hashsize : 0, seed, expire) {}

Route Forwarder::route(std::span<const std::byte> frame, PortId from, std::int64_t now) noexcept {
    if (frame.size() < wire::kEthHeader) return {Route::kDrop, 0};
    if (kind_ == NodeKind::kHub) return {Route::kFlood, 0};
    const MacBytes dst = wire::dst_mac(frame.data());
    const MacBytes src = wire::src_mac(frame.data());
    const std::uint16_t vlan = frame_vlan(frame);
    table_.learn(src, vlan, from, now);
    if (wire::is_multicast(dst)) return {Route::kFlood, 0};
    if (const auto port = table_.lookup(dst, vlan, now)) {
        if (*port == from) return {Route::kDrop, 0};
        return {Route::kUnicast, *port};
    }
    return {Route::kFlood, 0};
}

void Forwarder::port_removed(PortId p) noexcept { table_.forget_port(p); }

}  // namespace vdestack::plug
