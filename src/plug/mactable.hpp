// mactable.hpp - MAC learning table of the UDP transports: which peer (UDP
// address) last sent a frame from a given Ethernet source address.
//
// Theory of operation
// -------------------
// A fixed array of slots, allocated once by the constructor (capacity: a power
// of two >= hashsize, at least kWindow); learn/lookup/forget never allocate.
// The key is the 48-bit MAC plus a 12-bit VLAN field (vxvde always passes the
// same VLAN). A key hashes (MurmurHash3's 64-bit finalizer) to a home slot and
// may live in any of the kWindow slots that follow it (open addressing, linear
// probing over a bounded window, wrapping around). Every slot stores its full
// key, so a collision can never return another MAC's peer: lookup() scans the
// window for the exact key. learn() updates the key's slot if present, else
// takes the first free or expired slot of the window, else evicts the slot
// seen longest ago. Keys are unique within a window, because learn() always
// looks for the key first.
//
// Time is passed in explicitly (any monotonic count of seconds, e.g. steady
// clock seconds) so expiry is testable without sleeping. An entry learned at t
// is fresh while now - t < expire.
//
// Peers are stored normalized (family, port, address and IPv6 scope only, the
// rest zeroed), so two PeerAddr of the same endpoint compare equal byte-wise.
//
// Not thread-safe: owned and used by one transport.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vdestack::plug {

// A UDP peer: an AF_INET or AF_INET6 socket address, normalized.
struct PeerAddr {
    union {
        sockaddr sa;
        sockaddr_in v4;
        sockaddr_in6 v6;
    } addr;
    socklen_t len = 0;  // 0: not a valid address

    PeerAddr() noexcept;
    // Normalizes `sa` (of `salen` bytes); an unsupported family or short length
    // gives an invalid (len 0) PeerAddr.
    static PeerAddr from(const sockaddr* sa, socklen_t salen) noexcept;

    [[nodiscard]] bool valid() const noexcept { return len != 0; }
    [[nodiscard]] const sockaddr* get() const noexcept { return &addr.sa; }
    [[nodiscard]] int family() const noexcept { return addr.sa.sa_family; }
    // Port in host byte order.
    [[nodiscard]] std::uint16_t port() const noexcept;

    friend bool operator==(const PeerAddr& a, const PeerAddr& b) noexcept;
};

using MacRef = std::span<const std::byte, 6>;

class MacTable {
public:
    static constexpr std::size_t kWindow = 8;  // probe length

    // `hashsize`: minimum number of slots (rounded up to a power of two, at
    // least kWindow; at most 1 << 24). `expire`: seconds an entry stays fresh.
    MacTable(std::size_t hashsize, std::int64_t expire);

    // The peer that last sent from `mac` on `vlan`, or nullptr when unknown or
    // not fresh at `now`. The pointer is valid until the next learn/forget.
    [[nodiscard]] const PeerAddr* lookup(MacRef mac, std::int64_t now, std::uint16_t vlan = 0) const noexcept;

    // Records that `mac` was seen from `peer` at `now`. Group MACs (mac[0] & 1)
    // and invalid peers are ignored.
    void learn(MacRef mac, const PeerAddr& peer, std::int64_t now, std::uint16_t vlan = 0) noexcept;

    // Invalidates every entry whose peer equals `peer` (a leave message).
    // Returns how many were removed.
    std::size_t forget_peer(const PeerAddr& peer) noexcept;

    // Empties the table.
    void clear() noexcept;

    [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }
    [[nodiscard]] std::int64_t expire() const noexcept { return expire_; }
    // Number of used slots (fresh or not); O(capacity), for tests and stats.
    [[nodiscard]] std::size_t size() const noexcept;

    // The 64-bit key of a MAC + VLAN (exposed for tests).
    [[nodiscard]] static std::uint64_t make_key(MacRef mac, std::uint16_t vlan) noexcept;

private:
    struct Slot {
        std::uint64_t key = 0;
        std::int64_t seen = 0;
        bool used = false;
        PeerAddr peer;
    };

    [[nodiscard]] std::size_t home(std::uint64_t key) const noexcept;
    [[nodiscard]] bool fresh(const Slot& s, std::int64_t now) const noexcept { return now - s.seen < expire_; }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t window_ = 0;
    std::int64_t expire_ = 0;
};

}  // namespace vdestack::plug
