// unit_switch.cpp - the forwarding logic of switch:// and hub://
// (src/plug/switch_core.hpp): learning, unicast to the learned port only,
// flooding of broadcast/multicast/unknown, no reflection to the source,
// VLAN-keyed entries (all 12 bits), expiry with explicit time, forgetting a
// removed port, hub behaviour, and correctness under forced hash collisions.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "plug/unix/switch_core.hpp"

namespace {

using vdestack::plug::Forwarder;
using vdestack::plug::frame_vlan;
using vdestack::plug::kHostPort;
using vdestack::plug::NodeKind;
using vdestack::plug::PortId;
using vdestack::plug::Route;
using vdestack::plug::SwitchTable;

using Mac = std::array<std::byte, 6>;
using Frame = std::vector<std::byte>;

Mac umac(std::uint32_t n) {
    return {std::byte{0x02}, std::byte{0x00}, static_cast<std::byte>(n >> 24), static_cast<std::byte>(n >> 16),
            static_cast<std::byte>(n >> 8), static_cast<std::byte>(n)};
}
constexpr Mac kBcast = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                        std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
constexpr Mac kMcast = {std::byte{0x01}, std::byte{0x00}, std::byte{0x5e},
                        std::byte{0x00}, std::byte{0x00}, std::byte{0x01}};

Frame frame(const Mac& dst, const Mac& src, std::optional<std::uint16_t> tci = std::nullopt, std::size_t len = 60) {
    Frame f(len);
    std::memcpy(f.data(), dst.data(), 6);
    std::memcpy(f.data() + 6, src.data(), 6);
    std::size_t off = 12;
    if (tci) {
        f[12] = std::byte{0x81};
        f[13] = std::byte{0x00};
        f[14] = static_cast<std::byte>(*tci >> 8);
        f[15] = static_cast<std::byte>(*tci & 0xff);
        off = 16;
    }
    if (off + 2 <= len) {
        f[off] = std::byte{0x88};
        f[off + 1] = std::byte{0xb5};
    }
    return f;
}

bool is_unicast_to(const Route& r, PortId p) { return r.kind == Route::kUnicast && r.port == p; }

TEST(SwitchCore, FrameVlan) {
    EXPECT_EQ(frame_vlan(frame(kBcast, umac(1))), 0);
    EXPECT_EQ(frame_vlan(frame(kBcast, umac(1), 0x0005)), 5);
    EXPECT_EQ(frame_vlan(frame(kBcast, umac(1), 0xefff)), 0xfff);  // PCP/DEI bits ignored
    EXPECT_EQ(frame_vlan(frame(kBcast, umac(1), 0x0405)), 0x405);  // all 12 bits (vdeplug4 keeps 10)
    Frame tagged_short = frame(kBcast, umac(1), 0x0005, 17);
    EXPECT_EQ(frame_vlan(tagged_short), 0);
}

TEST(SwitchCore, LearnsAndUnicastsOnlyToThatPort) {
    Forwarder fw(NodeKind::kSwitch);
    // Unknown destination: flood.
    EXPECT_EQ(fw.route(frame(umac(2), umac(1)), 1, 0).kind, Route::kFlood);
    // umac(1) is now on port 1: host -> umac(1) goes to port 1 only.
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(0xff)), kHostPort, 0), 1));
    // ... and port 3 -> host's MAC goes to the host port.
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(0xff), umac(3)), 3, 0), kHostPort));
    // A MAC that moves is re-learned.
    fw.route(frame(kBcast, umac(1)), 2, 1);
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(3)), 3, 1), 2));
}

TEST(SwitchCore, FloodsBroadcastMulticastUnknown) {
    Forwarder fw(NodeKind::kSwitch);
    fw.route(frame(kBcast, umac(1)), 1, 0);
    EXPECT_EQ(fw.route(frame(kBcast, umac(2)), 2, 0).kind, Route::kFlood);
    EXPECT_EQ(fw.route(frame(kMcast, umac(2)), 2, 0).kind, Route::kFlood);
    EXPECT_EQ(fw.route(frame(umac(9), umac(2)), 2, 0).kind, Route::kFlood);
    // Group source addresses are never learned.
    Mac group_src = kMcast;
    fw.route(frame(kBcast, group_src), 4, 0);
    EXPECT_EQ(fw.route(frame(group_src, umac(2)), 2, 0).kind, Route::kFlood);
}

TEST(SwitchCore, NoReflectionToSource) {
    Forwarder fw(NodeKind::kSwitch);
    fw.route(frame(kBcast, umac(1)), 1, 0);
    fw.route(frame(kBcast, umac(2)), 1, 0);  // two MACs behind port 1
    EXPECT_EQ(fw.route(frame(umac(2), umac(1)), 1, 0).kind, Route::kDrop);
}

TEST(SwitchCore, RuntsDropped) {
    Forwarder fw(NodeKind::kSwitch);
    Frame f = frame(kBcast, umac(1));
    EXPECT_EQ(fw.route(std::span(f.data(), 13), 1, 0).kind, Route::kDrop);
    EXPECT_EQ(fw.route(std::span(f.data(), 14), 1, 0).kind, Route::kFlood);
}

TEST(SwitchCore, VlanKeyedEntries) {
    Forwarder fw(NodeKind::kSwitch);
    fw.route(frame(kBcast, umac(1), 0x005), 1, 0);  // umac(1) on VLAN 5 via port 1
    fw.route(frame(kBcast, umac(1)), 2, 0);         // umac(1) untagged via port 2
    fw.route(frame(kBcast, umac(1), 0x405), 3, 0);  // VLAN 0x405: distinct from 5
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(9), 0x005), 4, 0), 1));
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(9)), 4, 0), 2));
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(9), 0x405), 4, 0), 3));
    EXPECT_EQ(fw.route(frame(umac(1), umac(9), 0x006), 4, 0).kind, Route::kFlood);
    // The priority bits do not change the key.
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(9), 0xe005), 4, 0), 1));
}

TEST(SwitchCore, Expiry) {
    Forwarder fw(NodeKind::kSwitch, 256, 0, 10);
    fw.route(frame(kBcast, umac(1)), 1, 100);
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(2)), 2, 109), 1));
    EXPECT_EQ(fw.route(frame(umac(1), umac(2)), 2, 110).kind, Route::kFlood);
    // Seen again: fresh again.
    fw.route(frame(kBcast, umac(1)), 1, 200);
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(1), umac(2)), 2, 205), 1));
}

TEST(SwitchCore, PortRemovedIsForgotten) {
    Forwarder fw(NodeKind::kSwitch);
    fw.route(frame(kBcast, umac(1)), 1, 0);
    fw.route(frame(kBcast, umac(2)), 1, 0);
    fw.route(frame(kBcast, umac(3)), 2, 0);
    fw.port_removed(1);
    EXPECT_EQ(fw.route(frame(umac(1), umac(9)), kHostPort, 0).kind, Route::kFlood);
    EXPECT_EQ(fw.route(frame(umac(2), umac(9)), kHostPort, 0).kind, Route::kFlood);
    EXPECT_TRUE(is_unicast_to(fw.route(frame(umac(3), umac(9)), kHostPort, 0), 2));
}

TEST(SwitchCore, HubFloodsEverything) {
    Forwarder fw(NodeKind::kHub);
    EXPECT_EQ(fw.table(), nullptr);
    fw.route(frame(kBcast, umac(1)), 1, 0);
    EXPECT_EQ(fw.route(frame(umac(1), umac(2)), 2, 0).kind, Route::kFlood);
    EXPECT_EQ(fw.route(frame(umac(1), umac(2)), 1, 0).kind, Route::kFlood);
    EXPECT_EQ(fw.route(frame(kBcast, umac(2)), kHostPort, 0).kind, Route::kFlood);
}

TEST(SwitchTableTest, SizeRoundsUpAndSeedMatters) {
    SwitchTable t(100, 0, 10);
    EXPECT_EQ(t.capacity(), 128u);
    SwitchTable tiny(1, 0, 10);
    EXPECT_EQ(tiny.capacity(), SwitchTable::kWindow);
    SwitchTable a(1024, 0, 10);
    SwitchTable b(1024, 12345, 10);
    int differ = 0;
    for (std::uint32_t i = 0; i < 64; i++) differ += a.home_of(umac(i), 0) != b.home_of(umac(i), 0) ? 1 : 0;
    EXPECT_GT(differ, 32);
}

TEST(SwitchTableTest, CollisionsNeverMisdirect) {
    // Many MACs sharing one home slot in a small table: every lookup returns the
    // MAC's own port or nothing, never another MAC's port.
    SwitchTable t(64, 7, 1000);
    const std::size_t target = t.home_of(umac(0), 0);
    std::vector<Mac> same;
    for (std::uint32_t i = 0; same.size() < 3 * SwitchTable::kWindow && i < 1000000; i++)
        if (t.home_of(umac(i), 0) == target) same.push_back(umac(i));
    ASSERT_EQ(same.size(), 3 * SwitchTable::kWindow);
    for (std::size_t i = 0; i < same.size(); i++)
        t.learn(same[i], 0, static_cast<PortId>(i + 1), static_cast<std::int64_t>(i));
    std::size_t found = 0;
    for (std::size_t i = 0; i < same.size(); i++) {
        const auto p = t.lookup(same[i], 0, static_cast<std::int64_t>(same.size()));
        if (p) {
            EXPECT_EQ(*p, static_cast<PortId>(i + 1)) << "collision returned another MAC's port";
            found++;
        }
    }
    // The window keeps the most recent kWindow of them.
    EXPECT_EQ(found, SwitchTable::kWindow);
    for (std::size_t i = same.size() - SwitchTable::kWindow; i < same.size(); i++)
        EXPECT_TRUE(t.lookup(same[i], 0, static_cast<std::int64_t>(same.size())).has_value());
    // Re-learning an existing key updates in place (no duplicate).
    const std::size_t before = t.size();
    t.learn(same.back(), 0, 99, 100);
    EXPECT_EQ(t.size(), before);
    EXPECT_EQ(t.lookup(same.back(), 0, 100), std::optional<PortId>(99));
}

TEST(SwitchTableTest, ForgetAndClear) {
    SwitchTable t(16, 0, 10);
    t.learn(umac(1), 0, 1, 0);
    t.learn(umac(2), 0, 2, 0);
    t.learn(umac(3), 0, 1, 0);
    EXPECT_EQ(t.forget_port(1), 2u);
    EXPECT_FALSE(t.lookup(umac(1), 0, 0));
    EXPECT_EQ(t.lookup(umac(2), 0, 0), std::optional<PortId>(2));
    t.clear();
    EXPECT_EQ(t.size(), 0u);
}

TEST(SwitchTableTest, KeyUsesMacAndTwelveVlanBits) {
    EXPECT_NE(SwitchTable::make_key(umac(1), 0), SwitchTable::make_key(umac(1), 1));
    EXPECT_NE(SwitchTable::make_key(umac(1), 0x005), SwitchTable::make_key(umac(1), 0x405));
    EXPECT_EQ(SwitchTable::make_key(umac(1), 0x1005), SwitchTable::make_key(umac(1), 0x005));
}

}  // namespace
