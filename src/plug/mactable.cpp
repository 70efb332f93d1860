// mactable.cpp - MAC learning table with expiry for the UDP transports
// (bounded linear probing, full keys stored; see mactable.hpp).
#include "plug/mactable.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace vdestack::plug {

PeerAddr::PeerAddr() noexcept { std::memset(&addr, 0, sizeof addr); }

PeerAddr PeerAddr::from(const sockaddr* sa, socklen_t salen) noexcept {
    PeerAddr p;
    if (sa == nullptr || salen < static_cast<socklen_t>(sizeof(sa_family_t))) return p;
    sa_family_t family = 0;
    std::memcpy(&family, reinterpret_cast<const char*>(sa) + offsetof(sockaddr, sa_family), sizeof family);
    if (family == AF_INET && salen >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in in{};
        std::memcpy(&in, sa, sizeof in);
        p.addr.v4.sin_family = AF_INET;
        p.addr.v4.sin_port = in.sin_port;
        p.addr.v4.sin_addr = in.sin_addr;
        p.len = sizeof(sockaddr_in);
    } else if (family == AF_INET6 && salen >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, sa, sizeof in6);
        p.addr.v6.sin6_family = AF_INET6;
        p.addr.v6.sin6_port = in6.sin6_port;
        p.addr.v6.sin6_addr = in6.sin6_addr;
        p.addr.v6.sin6_scope_id = in6.sin6_scope_id;
        p.len = sizeof(sockaddr_in6);
    }
    return p;
}

std::uint16_t PeerAddr::port() const noexcept {
    switch (family()) {
    case AF_INET: return ntohs(addr.v4.sin_port);
    case AF_INET6: return ntohs(addr.v6.sin6_port);
    default: return 0;
    }
}

bool operator==(const PeerAddr& a, const PeerAddr& b) noexcept {
    return a.len == b.len && std::memcmp(&a.addr, &b.addr, a.len) == 0;
}

namespace {

constexpr std::size_t kMaxSlots = std::size_t{1} << 24;

// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
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

}  // namespace

MacTable::MacTable(std::size_t hashsize, std::int64_t expire)
    : slots_(round_up_pow2(std::clamp(hashsize, kWindow, kMaxSlots))), expire_(expire) {
    mask_ = slots_.size() - 1;
    window_ = std::min(kWindow, slots_.size());
}

std::uint64_t MacTable::make_key(MacRef mac, std::uint16_t vlan) noexcept {
    std::uint64_t k = 0;
    for (std::byte b : mac) k = (k << 8) | std::to_integer<std::uint64_t>(b);
    return k | (std::uint64_t{vlan & 0xfffu} << 48);
}

std::size_t MacTable::home(std::uint64_t key) const noexcept { return static_cast<std::size_t>(fmix64(key)) & mask_; }

const PeerAddr* MacTable::lookup(MacRef mac, std::int64_t now, std::uint16_t vlan) const noexcept {
    const std::uint64_t key = make_key(mac, vlan);
    const std::size_t h = home(key);
    for (std::size_t i = 0; i < window_; i++) {
        const Slot& s = slots_[(h + i) & mask_];
        if (s.used && s.key == key) return fresh(s, now) ? &s.peer : nullptr;
    }
    return nullptr;
}

void MacTable::learn(MacRef mac, const PeerAddr& peer, std::int64_t now, std::uint16_t vlan) noexcept {
    if ((std::to_integer<unsigned>(mac[0]) & 1u) != 0 || !peer.valid()) return;
    const std::uint64_t key = make_key(mac, vlan);
    const std::size_t h = home(key);
    Slot* free_slot = nullptr;  // first unused or expired slot of the window
    Slot* oldest = nullptr;     // least recently seen slot of the window
    for (std::size_t i = 0; i < window_; i++) {
        Slot& s = slots_[(h + i) & mask_];
        if (s.used && s.key == key) {
            s.seen = now;
            s.peer = peer;
            return;
        }
        if (free_slot == nullptr && (!s.used || !fresh(s, now))) free_slot = &s;
        if (oldest == nullptr || s.seen < oldest->seen) oldest = &s;
    }
    Slot& s = free_slot != nullptr ? *free_slot : *oldest;
    s.key = key;
    s.seen = now;
    s.used = true;
    s.peer = peer;
}

std::size_t MacTable::forget_peer(const PeerAddr& peer) noexcept {
    std::size_t n = 0;
    for (Slot& s : slots_) {
        if (s.used && s.peer == peer) {
            s.used = false;
            n++;
        }
    }
    return n;
}

void MacTable::clear() noexcept {
    for (Slot& s : slots_) s.used = false;
}

std::size_t MacTable::size() const noexcept {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
}

}  // namespace vdestack::plug
