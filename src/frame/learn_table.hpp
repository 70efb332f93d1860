// learn_table.hpp - the MAC learning table shared by the UDP transports
// (mactable.hpp: MAC -> peer address) and the switch (switch_core.hpp:
// MAC -> port): which place last sent a frame from a given Ethernet source
// address, with expiry.
//
// Theory of operation
// -------------------
// A fixed array of slots, allocated once by the constructor (capacity: a power
// of two >= hashsize, at least kWindow, at most 1 << 24); learn/find/forget
// never allocate. The key is the 48-bit MAC plus the 12-bit VLAN. A key hashes
// (MurmurHash3's 64-bit finalizer of key ^ seed) to a home slot and may live
// in any of the kWindow slots that follow it (open addressing, linear probing
// over a bounded window, wrapping around). Every slot stores its full key, so
// a collision can never return another MAC's value: find() scans the window
// for the exact key. learn() updates the key's slot if present, else takes the
// first free or expired slot of the window, else evicts the slot seen longest
// ago (that MAC is then unknown until seen again). Keys are unique within a
// window, because learn() always looks for the key first. Group MACs
// (mac[0] & 1) are never learned.
//
// Time is passed in explicitly (any monotonic count of seconds) so expiry is
// testable without sleeping: an entry learned at t is fresh while
// now - t < expire. Not thread-safe: owned and used by one transport.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wire/ethernet.hpp"

namespace vdestack::frame {

template <class Value>
class LearnTable {
public:
    static constexpr std::size_t kWindow = 8;  // probe length
    static constexpr std::size_t kMaxSlots = std::size_t{1} << 24;

    LearnTable(std::size_t hashsize, std::uint64_t seed, std::int64_t expire)
        : slots_(round_up_pow2(std::clamp(hashsize, kWindow, kMaxSlots))),
          mask_(slots_.size() - 1),
          window_(std::min(kWindow, slots_.size())),
          seed_(seed),
          expire_(expire) {}

    // The value learned for (mac, vlan), or nullptr when unknown or not fresh
    // at `now`. Valid until the next learn/forget/clear.
    [[nodiscard]] const Value* find(wire::MacSpan mac, std::uint16_t vlan,
                                    std::int64_t now) const noexcept {
        const std::uint64_t key = make_key(mac, vlan);
        const std::size_t h = home(key);
        for (std::size_t i = 0; i < window_; i++) {
            const Slot& s = slots_[(h + i) & mask_];
            if (s.used && s.key == key) return fresh(s, now) ? &s.value : nullptr;
        }
        return nullptr;
    }

    // True when learn(mac, vlan, value, now) would change nothing: the key
    // holds `value` and was seen at `now` already (a shared table's cheap
    // check before it takes its write lock).
    [[nodiscard]] bool current(wire::MacSpan mac, std::uint16_t vlan, const Value& value,
                               std::int64_t now) const noexcept {
        const std::uint64_t key = make_key(mac, vlan);
        const std::size_t h = home(key);
        for (std::size_t i = 0; i < window_; i++) {
            const Slot& s = slots_[(h + i) & mask_];
            if (s.used && s.key == key) return s.seen == now && s.value == value;
        }
        return false;
    }

    void learn(wire::MacSpan mac, std::uint16_t vlan, const Value& value, std::int64_t now) noexcept {
        if (wire::is_multicast(mac)) return;
        const std::uint64_t key = make_key(mac, vlan);
        const std::size_t h = home(key);
        Slot* free_slot = nullptr;  // first unused or expired slot of the window
        Slot* oldest = nullptr;     // least recently seen slot of the window
        for (std::size_t i = 0; i < window_; i++) {
            Slot& s = slots_[(h + i) & mask_];
            if (s.used && s.key == key) {
                s.seen = now;
                s.value = value;
                return;
            }
            if (free_slot == nullptr && (!s.used || !fresh(s, now))) free_slot = &s;
            if (oldest == nullptr || s.seen < oldest->seen) oldest = &s;
        }
        Slot& s = free_slot != nullptr ? *free_slot : *oldest;
        s.key = key;
        s.seen = now;
        s.used = true;
        s.value = value;
    }

    // Removes every entry whose value equals `value`; how many.
    std::size_t forget(const Value& value) noexcept {
        std::size_t n = 0;
        for (Slot& s : slots_) {
            if (s.used && s.value == value) {
                s.used = false;
                n++;
            }
        }
        return n;
    }

    void clear() noexcept {
        for (Slot& s : slots_) s.used = false;
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }
    [[nodiscard]] std::int64_t expire() const noexcept { return expire_; }
    // Used slots (fresh or not); O(capacity), for tests and stats.
    [[nodiscard]] std::size_t size() const noexcept {
        return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
    }

    // The 64-bit key of a MAC + VLAN.
    [[nodiscard]] static std::uint64_t make_key(wire::MacSpan mac, std::uint16_t vlan) noexcept {
        return wire::mac_key(mac) | (std::uint64_t{vlan & 0xfffu} << 48);
    }
    // The home slot of a key (exposed so tests can build collisions).
    [[nodiscard]] std::size_t home_of(wire::MacSpan mac, std::uint16_t vlan) const noexcept {
        return home(make_key(mac, vlan));
    }

private:
    struct Slot {
        std::uint64_t key = 0;
        std::int64_t seen = 0;
        bool used = false;
        Value value{};
    };

    // MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
    static constexpr std::uint64_t fmix64(std::uint64_t k) noexcept {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53ULL;
        k ^= k >> 33;
        return k;
    }
    static std::size_t round_up_pow2(std::size_t n) noexcept {
        std::size_t p = 1;
        while (p < n) p <<= 1;
        return p;
    }
    [[nodiscard]] std::size_t home(std::uint64_t key) const noexcept {
        return static_cast<std::size_t>(fmix64(key ^ seed_)) & mask_;
    }
    [[nodiscard]] bool fresh(const Slot& s, std::int64_t now) const noexcept { return now - s.seen < expire_; }

    std::vector<Slot> slots_;
    std::size_t mask_;
    std::size_t window_;
    std::uint64_t seed_;
    std::int64_t expire_;
};

}  // namespace vdestack::frame
