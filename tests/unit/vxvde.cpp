// unit_vxvde.cpp - the vxvde wire header (src/wire/vxvde.hpp): golden byte
// arrays for encoding and parsing, short buffers rejected, 24-bit VNIs.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wire/vxvde.hpp"

namespace {

using vdestack::wire::make_vxvde_header;
using vdestack::wire::VxvdeHeader;
using vdestack::wire::write_vxvde_header;

template <typename... T>
constexpr std::array<std::byte, sizeof...(T)> bytes(T... v) {
    return {static_cast<std::byte>(v)...};
}

TEST(VxvdeHeader, EncodesDefaultVni) {
    constexpr auto golden = bytes(0x08, 0, 0, 0, 0, 0, 1, 0);
    EXPECT_EQ(make_vxvde_header(1), golden);
}

TEST(VxvdeHeader, EncodesVniBigEndian) {
    constexpr auto golden = bytes(0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0);
    EXPECT_EQ(make_vxvde_header(0xabcdef), golden);
    std::array<std::byte, 8> out{};
    out.fill(std::byte{0x55});  // every byte must be written
    write_vxvde_header(out, 0xabcdef);
    EXPECT_EQ(out, golden);
}

TEST(VxvdeHeader, EncodeUsesOnlyLow24Bits) {
    EXPECT_EQ(make_vxvde_header(0x12345678), bytes(0x08, 0, 0, 0, 0x34, 0x56, 0x78, 0));
    EXPECT_EQ(make_vxvde_header(0), bytes(0x08, 0, 0, 0, 0, 0, 0, 0));
    EXPECT_EQ(make_vxvde_header(0xffffff), bytes(0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0));
}

TEST(VxvdeHeader, ParsesGolden) {
    constexpr auto golden = bytes(0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0);
    auto h = VxvdeHeader::parse(golden);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->flags(), 0x08);
    EXPECT_EQ(h->vni(), 0xabcdefu);
    EXPECT_EQ(h->reserved1(), 0u);
    EXPECT_EQ(h->reserved2(), 0);
    EXPECT_TRUE(h->well_formed());
    EXPECT_EQ(h->bytes().data(), golden.data());
}

TEST(VxvdeHeader, ParsesHeaderOfLongerDatagram) {
    std::vector<std::byte> dgram(8 + 60, std::byte{0xee});
    auto hdr = make_vxvde_header(7);
    std::copy(hdr.begin(), hdr.end(), dgram.begin());
    auto h = VxvdeHeader::parse(dgram);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->vni(), 7u);
    EXPECT_EQ(h->bytes().size(), VxvdeHeader::kSize);
}

TEST(VxvdeHeader, ReservedAndFlagsAreReported) {
    constexpr auto odd = bytes(0x0c, 0x01, 0x02, 0x03, 0, 0, 1, 0x99);
    auto h = VxvdeHeader::parse(odd);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->flags(), 0x0c);
    EXPECT_EQ(h->reserved1(), 0x010203u);
    EXPECT_EQ(h->reserved2(), 0x99);
    EXPECT_EQ(h->vni(), 1u);
    EXPECT_FALSE(h->well_formed());
}

TEST(VxvdeHeader, RejectsShortBuffers) {
    constexpr auto full = bytes(0x08, 0, 0, 0, 0, 0, 1, 0);
    for (std::size_t n = 0; n < VxvdeHeader::kSize; n++)
        EXPECT_FALSE(VxvdeHeader::parse(std::span<const std::byte>(full.data(), n)).has_value()) << n;
    EXPECT_TRUE(VxvdeHeader::parse(std::span<const std::byte>(full.data(), 8)).has_value());
}

TEST(VxvdeHeader, RoundTripsAndIsConstexpr) {
    static constexpr auto h = make_vxvde_header(0x00beef);
    static_assert(VxvdeHeader::parse(h)->vni() == 0x00beef);
    static_assert(VxvdeHeader::parse(h)->well_formed());
    static_assert(VxvdeHeader::kSize == 8);
    for (std::uint32_t vni : {0u, 1u, 2u, 0x100u, 0x10000u, 0xabcdefu, 0xffffffu}) {
        auto b = make_vxvde_header(vni);
        auto p = VxvdeHeader::parse(b);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->vni(), vni);
        EXPECT_TRUE(p->well_formed());
    }
}

}  // namespace
