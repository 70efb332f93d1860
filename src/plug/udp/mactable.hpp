// mactable.hpp - MAC learning table of the UDP transports: which peer (UDP
// address) last sent a frame from a given Ethernet source address.
//
// Theory of operation
// -------------------
// A LearnTable (learn_table.hpp: bounded linear probing over a fixed array,
// full keys stored, expiry, eviction of the oldest in a full window) whose
// values are peers; vxvde always passes the same VLAN. Invalid peers are not
// learned, and a leave forgets every MAC of its peer.
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
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "frame/learn_table.hpp"
#include "wire/ethernet.hpp"

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

using MacRef = wire::MacSpan;

class MacTable {
public:
    static constexpr std::size_t kWindow = frame::LearnTable<PeerAddr>::kWindow;  // probe length

    // `hashsize`: minimum number of slots (rounded up to a power of two, at
    // least kWindow; at most 1 << 24). `expire`: seconds an entry stays fresh.
    MacTable(std::size_t hashsize, std::int64_t expire) : table_(hashsize, 0, expire) {}

    // The peer that last sent from `mac` on `vlan`, or nullptr when unknown or
    // not fresh at `now`. The pointer is valid until the next learn/forget.
    [[nodiscard]] const PeerAddr* lookup(MacRef mac, std::int64_t now, std::uint16_t vlan = 0) const noexcept {
        return table_.find(mac, vlan, now);
    }

    // Records that `mac` was seen from `peer` at `now`. Group MACs (mac[0] & 1)
    // and invalid peers are ignored.
    void learn(MacRef mac, const PeerAddr& peer, std::int64_t now, std::uint16_t vlan = 0) noexcept {
        if (peer.valid()) table_.learn(mac, vlan, peer, now);
    }

    // True when learn(mac, peer, now, vlan) would change nothing.
    [[nodiscard]] bool current(MacRef mac, const PeerAddr& peer, std::int64_t now, std::uint16_t vlan = 0) const noexcept {
        return !peer.valid() || wire::is_multicast(mac) || table_.current(mac, vlan, peer, now);
    }

    // Invalidates every entry whose peer equals `peer` (a leave message).
    // Returns how many were removed.
    std::size_t forget_peer(const PeerAddr& peer) noexcept { return table_.forget(peer); }

    // Empties the table.
    void clear() noexcept { table_.clear(); }

    [[nodiscard]] std::size_t capacity() const noexcept { return table_.capacity(); }
    [[nodiscard]] std::int64_t expire() const noexcept { return table_.expire(); }
    // Number of used slots (fresh or not); O(capacity), for tests and stats.
    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }

    // The 64-bit key of a MAC + VLAN (exposed for tests).
    [[nodiscard]] static std::uint64_t make_key(MacRef mac, std::uint16_t vlan) noexcept {
        return frame::LearnTable<PeerAddr>::make_key(mac, vlan);
    }

private:
    frame::LearnTable<PeerAddr> table_;
};

// A MacTable shared by the transports of one network in this process (the
// stacks of a helper on one vxvde group, group_socket.hpp), used from their
// engine threads: learn() and forget_peer() take the write lock only when
// they change something (an entry is re-stamped at most once a second), and
// read(f) runs f(const MacTable&) under the read lock (a send batch's
// lookups). Thread-safe.
class SharedMacTable {
public:
    SharedMacTable(std::size_t hashsize, std::int64_t expire) : table_(hashsize, expire) {}

    void learn(MacRef mac, const PeerAddr& peer, std::int64_t now, std::uint16_t vlan = 0) noexcept {
        {
            std::shared_lock lk(mu_);
            if (table_.current(mac, peer, now, vlan)) return;
        }
        std::lock_guard lk(mu_);
        table_.learn(mac, peer, now, vlan);
    }
    void forget_peer(const PeerAddr& peer) noexcept {
        std::lock_guard lk(mu_);
        table_.forget_peer(peer);
    }
    template <class F>
    auto read(F&& f) const {
        std::shared_lock lk(mu_);
        return f(static_cast<const MacTable&>(table_));
    }

private:
    mutable std::shared_mutex mu_;
    MacTable table_;
};

}  // namespace vdestack::plug
