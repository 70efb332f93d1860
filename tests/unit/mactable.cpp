// unit_mactable.cpp - the MAC learning table (src/plug/mactable.hpp): learn and
// lookup, expiry with explicit time, correctness under heavy hash collisions,
// forget_peer (leave messages), group MACs never learned, peer normalization.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "plug/udp/mactable.hpp"

namespace {

using vdestack::plug::MacTable;
using vdestack::plug::PeerAddr;

using Mac = std::array<std::byte, 6>;

Mac mac(std::uint64_t v) {
    Mac m{};
    for (int i = 5; i >= 0; i--) {
        m[static_cast<std::size_t>(i)] = static_cast<std::byte>(v & 0xff);
        v >>= 8;
    }
    return m;
}

// A unicast, locally administered MAC numbered n.
Mac umac(std::uint32_t n) { return mac((std::uint64_t{0x02} << 40) | n); }

PeerAddr peer4(std::uint32_t ip, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(ip);
    return PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

PeerAddr peer6(std::uint8_t last, std::uint16_t port) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr.s6_addr[0] = 0xfd;
    sa.sin6_addr.s6_addr[15] = last;
    return PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

TEST(PeerAddr, NormalizesAndCompares) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(1234);
    a.sin_addr.s_addr = htonl(0x7f000001);
    std::memset(a.sin_zero, 0xaa, sizeof a.sin_zero);  // junk must not matter
    PeerAddr p = PeerAddr::from(reinterpret_cast<const sockaddr*>(&a), sizeof a);
    EXPECT_TRUE(p.valid());
    EXPECT_EQ(p.family(), AF_INET);
    EXPECT_EQ(p.port(), 1234);
    EXPECT_EQ(p.len, sizeof(sockaddr_in));
    EXPECT_EQ(p, peer4(0x7f000001, 1234));
    EXPECT_FALSE(p == peer4(0x7f000001, 1235));
    EXPECT_FALSE(p == peer4(0x7f000002, 1234));

    sockaddr_in6 b{};
    b.sin6_family = AF_INET6;
    b.sin6_port = htons(9);
    b.sin6_flowinfo = 0x12345;  // ignored
    b.sin6_addr.s6_addr[0] = 0xfd;
    b.sin6_addr.s6_addr[15] = 3;
    PeerAddr q = PeerAddr::from(reinterpret_cast<const sockaddr*>(&b), sizeof b);
    EXPECT_TRUE(q.valid());
    EXPECT_EQ(q, peer6(3, 9));
    EXPECT_FALSE(q == p);

    EXPECT_FALSE(PeerAddr::from(nullptr, 0).valid());
    EXPECT_FALSE(PeerAddr::from(reinterpret_cast<const sockaddr*>(&a), 4).valid());
    sockaddr_storage unix_like{};
    unix_like.ss_family = AF_UNIX;
    EXPECT_FALSE(PeerAddr::from(reinterpret_cast<const sockaddr*>(&unix_like), sizeof unix_like).valid());
}

TEST(MacTable, CapacityIsPowerOfTwoAtLeastHashsize) {
    EXPECT_EQ(MacTable(1024, 128).capacity(), 1024u);
    EXPECT_EQ(MacTable(1000, 128).capacity(), 1024u);
    EXPECT_EQ(MacTable(1025, 128).capacity(), 2048u);
    EXPECT_GE(MacTable(1, 128).capacity(), 1u);
    EXPECT_EQ(MacTable(1, 128).capacity() & (MacTable(1, 128).capacity() - 1), 0u);
}

TEST(MacTable, LearnAndLookup) {
    MacTable t(1024, 128);
    const PeerAddr a = peer4(0x0a000001, 1000);
    const PeerAddr b = peer6(2, 2000);
    EXPECT_EQ(t.lookup(umac(1), 0), nullptr);
    t.learn(umac(1), a, 10);
    t.learn(umac(2), b, 10);
    const PeerAddr* p = t.lookup(umac(1), 10);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, a);
    p = t.lookup(umac(2), 11);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, b);
    EXPECT_EQ(t.lookup(umac(3), 10), nullptr);
    // Relearning moves the MAC to its new peer.
    t.learn(umac(1), b, 12);
    p = t.lookup(umac(1), 12);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, b);
    EXPECT_EQ(t.size(), 2u);
}

TEST(MacTable, VlanIsPartOfTheKey) {
    MacTable t(64, 128);
    t.learn(umac(1), peer4(1, 1), 0, 1);
    EXPECT_NE(t.lookup(umac(1), 0, 1), nullptr);
    EXPECT_EQ(t.lookup(umac(1), 0, 2), nullptr);
    EXPECT_EQ(t.lookup(umac(1), 0, 0), nullptr);
    EXPECT_NE(MacTable::make_key(umac(1), 1), MacTable::make_key(umac(1), 2));
}

TEST(MacTable, ExpiresWithExplicitTime) {
    MacTable t(1024, 128);
    const PeerAddr a = peer4(0x0a000001, 1000);
    t.learn(umac(1), a, 1000);
    EXPECT_NE(t.lookup(umac(1), 1000), nullptr);
    EXPECT_NE(t.lookup(umac(1), 1127), nullptr);
    EXPECT_EQ(t.lookup(umac(1), 1128), nullptr);
    EXPECT_EQ(t.lookup(umac(1), 5000), nullptr);
    // Seeing it again refreshes it.
    t.learn(umac(1), a, 5000);
    EXPECT_NE(t.lookup(umac(1), 5100), nullptr);
}

TEST(MacTable, GroupMacsAreNeverLearned) {
    MacTable t(1024, 128);
    const PeerAddr a = peer4(0x0a000001, 1000);
    const Mac bcast = mac(0xffffffffffff);
    const Mac mcast = mac(0x01005e000001);
    const Mac mcast6 = mac(0x333300000001);
    t.learn(bcast, a, 0);
    t.learn(mcast, a, 0);
    t.learn(mcast6, a, 0);
    EXPECT_EQ(t.lookup(bcast, 0), nullptr);
    EXPECT_EQ(t.lookup(mcast, 0), nullptr);
    EXPECT_EQ(t.lookup(mcast6, 0), nullptr);
    EXPECT_EQ(t.size(), 0u);
}

TEST(MacTable, InvalidPeersAreNotLearned) {
    MacTable t(16, 128);
    t.learn(umac(1), PeerAddr{}, 0);
    EXPECT_EQ(t.lookup(umac(1), 0), nullptr);
}

TEST(MacTable, ForgetPeerRemovesAllItsMacs) {
    MacTable t(1024, 128);
    const PeerAddr a = peer4(0x0a000001, 1000);
    const PeerAddr b = peer4(0x0a000001, 1001);  // same IP, other port: other peer
    for (std::uint32_t i = 0; i < 10; i++) t.learn(umac(i), a, 0);
    for (std::uint32_t i = 10; i < 15; i++) t.learn(umac(i), b, 0);
    EXPECT_EQ(t.forget_peer(a), 10u);
    for (std::uint32_t i = 0; i < 10; i++) EXPECT_EQ(t.lookup(umac(i), 0), nullptr) << i;
    for (std::uint32_t i = 10; i < 15; i++) {
        const PeerAddr* p = t.lookup(umac(i), 0);
        ASSERT_NE(p, nullptr) << i;
        EXPECT_EQ(*p, b);
    }
    EXPECT_EQ(t.forget_peer(a), 0u);
    // A forgotten MAC can be learned again.
    t.learn(umac(3), b, 1);
    ASSERT_NE(t.lookup(umac(3), 1), nullptr);
    EXPECT_EQ(*t.lookup(umac(3), 1), b);
}

// Many more MACs than slots: every lookup returns that MAC's own peer or
// nullptr, never another MAC's peer.
TEST(MacTable, CollisionsNeverReturnAnotherMacsPeer) {
    MacTable t(8, 1000000);
    ASSERT_LE(t.capacity(), 16u);
    constexpr std::uint32_t kMacs = 500;
    std::vector<PeerAddr> peers;
    for (std::uint32_t i = 0; i < kMacs; i++) peers.push_back(peer4(0x0a000000 + i, static_cast<std::uint16_t>(1000 + i)));
    std::int64_t now = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (std::uint32_t i = 0; i < kMacs; i++) {
            t.learn(umac(i), peers[i], ++now);
            // The MAC just learned is always found.
            const PeerAddr* just = t.lookup(umac(i), now);
            ASSERT_NE(just, nullptr);
            EXPECT_EQ(*just, peers[i]);
        }
        std::size_t found = 0;
        for (std::uint32_t i = 0; i < kMacs; i++) {
            const PeerAddr* p = t.lookup(umac(i), now);
            if (p != nullptr) {
                found++;
                EXPECT_EQ(*p, peers[i]) << "MAC " << i << " returned another MAC's peer";
            }
        }
        EXPECT_GT(found, 0u);
        EXPECT_LE(found, t.capacity());
    }
}

// Keys that share a home slot still coexist within the probe window.
TEST(MacTable, CollidingKeysCoexistWithinWindow) {
    MacTable t(1024, 128);
    // Fill: learn many and verify all are present while the table is sparse.
    for (std::uint32_t i = 0; i < 200; i++) t.learn(umac(i), peer4(i + 1, 1), 0);
    for (std::uint32_t i = 0; i < 200; i++) {
        const PeerAddr* p = t.lookup(umac(i), 0);
        ASSERT_NE(p, nullptr) << i;
        EXPECT_EQ(*p, peer4(i + 1, 1));
    }
}

// With a full window, learn replaces an expired entry before a fresh one,
// and otherwise the oldest.
TEST(MacTable, FullWindowEvictsExpiredThenOldest) {
    MacTable t(8, 100);  // window == capacity: every key shares one window
    ASSERT_EQ(t.capacity(), MacTable::kWindow);
    for (std::uint32_t i = 0; i < 8; i++) t.learn(umac(i), peer4(i + 1, 1), static_cast<std::int64_t>(i));
    for (std::uint32_t i = 0; i < 8; i++) ASSERT_NE(t.lookup(umac(i), 8), nullptr) << i;
    // A new MAC evicts the oldest (MAC 0, seen at 0).
    t.learn(umac(100), peer4(100, 1), 9);
    EXPECT_EQ(t.lookup(umac(0), 9), nullptr);
    for (std::uint32_t i = 1; i < 8; i++) EXPECT_NE(t.lookup(umac(i), 9), nullptr) << i;
    ASSERT_NE(t.lookup(umac(100), 9), nullptr);
    EXPECT_EQ(*t.lookup(umac(100), 9), peer4(100, 1));
    // Refresh all but MAC 5 much later, so MAC 5 (seen at 5) has expired at 104...
    for (std::uint32_t i : {1u, 2u, 3u, 4u, 6u, 7u}) t.learn(umac(i), peer4(i + 1, 1), 104);
    t.learn(umac(100), peer4(100, 1), 104);
    // ...and is the one replaced by the next new MAC.
    t.learn(umac(200), peer4(200, 1), 105);
    EXPECT_EQ(t.lookup(umac(5), 105), nullptr);
    for (std::uint32_t i : {1u, 2u, 3u, 4u, 6u, 7u, 100u, 200u}) EXPECT_NE(t.lookup(umac(i), 105), nullptr) << i;
}

}  // namespace
