// switch_core.hpp - the forwarding logic of the switch:// and hub:// nodes
// (switch.cpp), kept free of sockets so that it can be unit-tested.
//
// Theory of operation
// -------------------
// Ports are small integers: kHostPort (0) is the process that opened the node,
// client ports are 1..n. Forwarder::route() takes one frame and the port it
// came from and says where it goes:
//   hub:    always "flood" (every port but the source, host included).
//   switch: learns (source MAC, VLAN) -> source port (group source MACs are
//           never learned), then a unicast destination that is known and fresh
//           goes to its port only ("drop" when that is the source port itself:
//           no reflection); broadcast, multicast and unknown destinations
//           flood. The VLAN is the full 12-bit VID of an 802.1Q tag
//           (ethertype 0x8100 at offset 12), 0 for an untagged frame. Tags are
//           not touched (frames pass through unchanged).
// Frames shorter than an Ethernet header are dropped.
//
// SwitchTable: (MAC, VLAN) -> port with expiry, a LearnTable
// (learn_table.hpp): a collision can never misdirect a frame, it only costs
// a probe or, when the whole window is fresh, evicts the least recently seen
// entry of the window (that MAC then floods until it is seen again).
// forget_port() removes every entry of a port (the port went away; its number
// may be reused). Times are explicit seconds (testable).
//
// No allocation after construction; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "frame/learn_table.hpp"
#include "wire/ethernet.hpp"

namespace vdestack::plug {

using PortId = std::uint16_t;
inline constexpr PortId kHostPort = 0;

using MacBytes = wire::MacSpan;

class SwitchTable {
public:
    static constexpr std::size_t kWindow = frame::LearnTable<PortId>::kWindow;

    // `hashsize`: minimum number of slots (rounded up to a power of two, at
    // least kWindow, at most 1 << 24). `seed` perturbs the hash. `expire`:
    // seconds an entry stays fresh.
    SwitchTable(std::size_t hashsize, std::uint64_t seed, std::int64_t expire) : table_(hashsize, seed, expire) {}

    [[nodiscard]] std::optional<PortId> lookup(MacBytes mac, std::uint16_t vlan, std::int64_t now) const noexcept {
        const PortId* p = table_.find(mac, vlan, now);
        return p != nullptr ? std::optional<PortId>(*p) : std::nullopt;
    }
    // Group MACs (mac[0] & 1) are ignored.
    void learn(MacBytes mac, std::uint16_t vlan, PortId port, std::int64_t now) noexcept {
        table_.learn(mac, vlan, port, now);
    }
    std::size_t forget_port(PortId port) noexcept { return table_.forget(port); }
    void clear() noexcept { table_.clear(); }

    [[nodiscard]] std::size_t capacity() const noexcept { return table_.capacity(); }
    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }  // used slots, O(capacity)
    [[nodiscard]] static std::uint64_t make_key(MacBytes mac, std::uint16_t vlan) noexcept {
        return frame::LearnTable<PortId>::make_key(mac, vlan);
    }
    // The home slot of a key (exposed so tests can build collisions).
    [[nodiscard]] std::size_t home_of(MacBytes mac, std::uint16_t vlan) const noexcept {
        return table_.home_of(mac, vlan);
    }

private:
    frame::LearnTable<PortId> table_;
};


// The 12-bit 802.1Q VLAN id of a frame, 0 when untagged (or too short).
[[nodiscard]] std::uint16_t frame_vlan(std::span<const std::byte> frame) noexcept;

enum class NodeKind { kHub, kSwitch };

struct Route {
    enum Kind { kDrop, kUnicast, kFlood } kind = kDrop;
    PortId port = 0;  // kUnicast: the destination port
};

class Forwarder {
public:
    static constexpr std::size_t kDefaultHashSize = 256;
    static constexpr std::int64_t kDefaultExpire = 120;

    explicit Forwarder(NodeKind kind, std::size_t hashsize = kDefaultHashSize, std::uint64_t seed = 0,
                       std::int64_t expire = kDefaultExpire);

    // Where the frame from port `from` goes (learning its source first).
    Route route(std::span<const std::byte> frame, PortId from, std::int64_t now) noexcept;
    // Port `p` went away: forget what was learned on it.
    void port_removed(PortId p) noexcept;

    [[nodiscard]] NodeKind kind() const noexcept { return kind_; }
    [[nodiscard]] const SwitchTable* table() const noexcept { return kind_ == NodeKind::kSwitch ? &table_ : nullptr; }

private:
    NodeKind kind_;
    SwitchTable table_;
};

}  // namespace vdestack::plug
