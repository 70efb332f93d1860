// md5.cpp - conf/'s MD5 on RFC 1321's test suite and on the lengths around the
// padding's edges (55, 56, 63, 64, 65, a million), one-shot and fed in pieces;
// and conf/'s hash_mac, hash_addr6 and eui64 on golden bytes computed, apart
// from this code, with python3's hashlib following upstream iothconf_hash.c.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "conf/hash.hpp"
#include "conf/md5.hpp"

namespace {

using vdestack::conf::Md5;
using vdestack::conf::md5;

std::string hex(const std::array<std::uint8_t, 16>& d) {
    std::string out;
    char two[3];
    for (std::uint8_t b : d) {
        std::snprintf(two, sizeof two, "%02x", b);
        out += two;
    }
    return out;
}
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Md5, Rfc1321TestSuite) {
    EXPECT_EQ(hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex(md5("a")), "0cc175b9c0f1b6a831c399e269772661");
    EXPECT_EQ(hex(md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(md5("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
    EXPECT_EQ(hex(md5("abcdefghijklmnopqrstuvwxyz")), "c3fcd3d76192e4007dfb496cca67e13b");
    EXPECT_EQ(hex(md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")),
              "d174ab98d277d9f5a5611c2c9f419d9f");
    EXPECT_EQ(hex(md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
              "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, PaddingEdges) {
    const std::pair<std::size_t, std::string_view> cases[] = {
        {55, "ef1772b6dff9a122358552954ad0df65"},  // the last length with the bit count in the same block
        {56, "3b0c8ac703f828b04c6c197006d17218"},  // the first that needs one more block
        {63, "b06521f39153d618550606be297466d5"},
        {64, "014842d480b571495a4a0363793f7367"},
        {65, "c743a45e0d2e6a95cb859adae0248435"},
    };
    for (const auto& [length, digest] : cases) {
        const std::string a(length, 'a');
        EXPECT_EQ(hex(md5(a)), digest) << length;
        EXPECT_EQ(hex(md5(bytes_of(a))), digest) << length;
    }
}

TEST(Md5, MillionA) {
    const std::string a(1000000, 'a');
    EXPECT_EQ(hex(md5(a)), "7707d6ae4e027c70eea2a935c2296f21");
    Md5 h;  // in pieces of a length prime to 64
    for (std::size_t at = 0; at < a.size(); at += 997) h.update(bytes_of(std::string_view(a).substr(at, 997)));
    EXPECT_EQ(hex(h.finish()), "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(Md5, AnySplitGivesTheOneShotDigest) {
    std::string text;
    for (int i = 0; i < 150; ++i) text += static_cast<char>('!' + i % 90);
    const auto whole = md5(text);
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        Md5 h;
        h.update(bytes_of(std::string_view(text).substr(0, cut)));
        h.update({});
        h.update(bytes_of(std::string_view(text).substr(cut)));
        ASSERT_EQ(h.finish(), whole) << cut;
    }
}

TEST(Md5, FinishStartsOver) {
    Md5 h;
    h.update(bytes_of("junk"));
    (void)h.finish();
    h.update(bytes_of("abc"));
    EXPECT_EQ(hex(h.finish()), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(h.finish()), "d41d8cd98f00b204e9800998ecf8427e");
}

using Mac = std::array<std::uint8_t, 6>;
using Addr = std::array<std::uint8_t, 16>;

// 2001:db8:0:1::, a bare /64 prefix.
constexpr Addr kPrefix{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
// 2001:db8:0:1:311:2233:4455:66ff, with the bits hash_addr6 masks and eui64 XORs.
constexpr Addr kFull{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xff};
// md5("host.v2.cs.unibo.it") = 506f03597354fbd3fc2f0139c7b12784
constexpr Mac kHostMac{0x52, 0x6f, 0x03, 0x54, 0xfb, 0xd3};

TEST(Hash, MacOfAName) {
    using vdestack::conf::hash_mac;
    EXPECT_EQ(hash_mac("host.v2.cs.unibo.it"), kHostMac);
    EXPECT_EQ(hash_mac("host.v2.cs.unibo.it."), kHostMac);  // the root's dot is dropped
    // md5("vdestack") = 9c065450f118dfa3682ff2ee462ca46e: 0x9c has the group bit clear, the local one set
    EXPECT_EQ(hash_mac("vdestack"), (Mac{0x9e, 0x06, 0x54, 0x18, 0xdf, 0xa3}));
    // Only one dot: "a.." is "a." (md5 9fbcccf456ef61f9...), not "a" (md5 0cc175b9c0f1b6a8...).
    EXPECT_EQ(hash_mac("a.."), (Mac{0x9e, 0xbc, 0xcc, 0xef, 0x61, 0xf9}));
    EXPECT_EQ(hash_mac("a."), (Mac{0x0e, 0xc1, 0x75, 0xf1, 0xb6, 0xa8}));
}

TEST(Hash, EmptyNameIsTheEmptyMessage) {
    using vdestack::conf::hash_mac;
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    EXPECT_EQ(hash_mac(""), (Mac{0xd6, 0x1d, 0x8c, 0x00, 0xb2, 0x04}));
    EXPECT_EQ(hash_mac("."), hash_mac(""));
    EXPECT_EQ(hash_mac(std::string_view{}), hash_mac(""));
    Addr a = kPrefix;
    vdestack::conf::hash_addr6(a, "");
    EXPECT_EQ(a, (Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04}));
}

TEST(Hash, Addr6XorsTheDigestIn) {
    using vdestack::conf::hash_addr6;
    Addr a = kPrefix;
    hash_addr6(a, "host.v2.cs.unibo.it.");
    EXPECT_EQ(a, (Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x50, 0x6f, 0x03, 0x59, 0x73, 0x54, 0xfb, 0xd3}));
    Addr b = kFull;  // 0x03 ^ 0x50 = 0x53, masked to 0x50
    hash_addr6(b, "host.v2.cs.unibo.it");
    EXPECT_EQ(b, (Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x50, 0x7e, 0x21, 0x6a, 0x37, 0x01, 0x9d, 0x2c}));
}

TEST(Hash, Eui64AsUpstream) {
    using vdestack::conf::eui64;
    EXPECT_EQ(eui64(kPrefix, kHostMac),
              (Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x50, 0x6f, 0x03, 0xff, 0xfe, 0x54, 0xfb, 0xd3}));
    // fe80:: and 52:54:00:12:34:56: the textbook fe80::5054:ff:fe12:3456.
    constexpr Addr kLinkLocal{0xfe, 0x80};
    EXPECT_EQ(eui64(kLinkLocal, Mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}),
              (Addr{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56}));
    // Bytes 8..12 are assigned, 13..15 XORed with what was there (55 66 ff ^ 54 fb d3).
    EXPECT_EQ(eui64(kFull, kHostMac),
              (Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x50, 0x6f, 0x03, 0xff, 0xfe, 0x01, 0x9d, 0x2c}));
}

}  // namespace
