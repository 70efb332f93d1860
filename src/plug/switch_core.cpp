// switch_core.cpp - forwarding decisions and the (MAC, VLAN) -> port table of
// the switch:// and hub:// nodes. Theory of operation: switch_core.hpp.
#include "plug/switch_core.hpp"

#include <algorithm>

namespace vdestack::plug {

namespace {

constexpr std::size_t kMaxSlots = std::size_t{1} << 24;
constexpr std::size_t kEthHeader = 14;
constexpr std::size_t kVlanTagged = kEthHeader + 4;

constexpr std::uint64_t fmix64(std::uint64_t k) noexcept {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

std::size_t round_up_pow2(std::size_t n) noexcept {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

bool is_group(MacBytes mac) noexcept { return (std::to_integer<unsigned>(mac[0]) & 1u) != 0; }

}  // namespace

SwitchTable::SwitchTable(std::size_t hashsize, std::uint64_t seed, std::int64_t expire)
    : slots_(round_up_pow2(std::clamp(hashsize, kWindow, kMaxSlots))), seed_(seed), expire_(expire) {
    mask_ = slots_.size() - 1;
    window_ = std::min(kWindow, slots_.size());
}

std::uint64_t SwitchTable::make_key(MacBytes mac, std::uint16_t vlan) noexcept {
    std::uint64_t k = 0;
    for (std::byte b : mac) k = (k << 8) | std::to_integer<std::uint64_t>(b);
    return k | (std::uint64_t{vlan & 0xfffu} << 48);
}

std::size_t SwitchTable::home(std::uint64_t key) const noexcept {
    return static_cast<std::size_t>(fmix64(key ^ seed_)) & mask_;
}

std::size_t SwitchTable::home_of(MacBytes mac, std::uint16_t vlan) const noexcept { return home(make_key(mac, vlan)); }

std::optional<PortId> SwitchTable::lookup(MacBytes mac, std::uint16_t vlan, std::int64_t now) const noexcept {
    const std::uint64_t key = make_key(mac, vlan);
    const std::size_t h = home(key);
    for (std::size_t i = 0; i < window_; i++) {
        const Slot& s = slots_[(h + i) & mask_];
        if (s.used && s.key == key) {
            if (fresh(s, now)) return s.port;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

void SwitchTable::learn(MacBytes mac, std::uint16_t vlan, PortId port, std::int64_t now) noexcept {
    if (is_group(mac)) return;
    const std::uint64_t key = make_key(mac, vlan);
    const std::size_t h = home(key);
    Slot* free_slot = nullptr;
    Slot* oldest = nullptr;
    for (std::size_t i = 0; i < window_; i++) {
        Slot& s = slots_[(h + i) & mask_];
        if (s.used && s.key == key) {
            s.seen = now;
            s.port = port;
            return;
        }
        if (free_slot == nullptr && (!s.used || !fresh(s, now))) free_slot = &s;
        if (oldest == nullptr || s.seen < oldest->seen) oldest = &s;
    }
    Slot& s = free_slot != nullptr ? *free_slot : *oldest;
    s.key = key;
    s.seen = now;
    s.port = port;
    s.used = true;
}

std::size_t SwitchTable::forget_port(PortId port) noexcept {
    std::size_t n = 0;
    for (Slot& s : slots_) {
        if (s.used && s.port == port) {
            s.used = false;
            n++;
        }
    }
    return n;
}

void SwitchTable::clear() noexcept {
    for (Slot& s : slots_) s.used = false;
}

std::size_t SwitchTable::size() const noexcept {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
}

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
