// unit_whole.cpp - the whole-frame hello and envelope (src/wire/whole.hpp):
// golden bytes, and every malformed envelope refused.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wire/whole.hpp"

namespace {

using namespace vdestack::wire;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) out.push_back(static_cast<std::byte>(b));
    return out;
}

VnetHdr tso4() {
    VnetHdr h;
    h.flags = VnetHdr::kNeedsCsum;
    h.gso_type = VnetHdr::kGsoTcpV4;
    h.hdr_len = 54;
    h.gso_size = 1448;
    h.csum_start = 34;
    h.csum_offset = 16;
    return h;
}

TEST(WholeWire, HelloGoldenBytes) {
    const whole::HelloId id{0x0000000000000021ULL, 0x0102030405060708ULL};
    const auto h = whole::hello(id);
    const auto want = bytes({0x03, 0x76, 0x64, 0x65, 0x67, 0x73, 0x02, 0x76, 0x64, 0x65, 0x67, 0x73, 0x88, 0xb5,
                             'V', 'D', 'S', 'H', 'E', 'L', 'O', '1',
                             0, 0, 0, 0, 0, 0, 0, 0x21, 1, 2, 3, 4, 5, 6, 7, 8});
    ASSERT_EQ(h.size(), 60u);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), h.begin()));
    for (std::size_t i = want.size(); i < h.size(); i++) EXPECT_EQ(h[i], std::byte{0}) << i;
    EXPECT_TRUE(whole::is_hello(h));
    EXPECT_FALSE(whole::is_envelope(h));
    ASSERT_TRUE(whole::parse_hello(h));
    EXPECT_EQ(*whole::parse_hello(h), id);
    EXPECT_FALSE(whole::parse_hello(std::span<const std::byte>(h.data(), 30)));  // cut short
    auto other = h;
    other[15] = std::byte{'X'};
    EXPECT_FALSE(whole::is_hello(other));
    EXPECT_FALSE(whole::parse_hello(other));
}

TEST(WholeWire, EnvelopeGoldenBytesAndRoundTrip) {
    const auto head = whole::envelope_head(tso4());
    const auto want = bytes({0x03, 0x76, 0x64, 0x65, 0x67, 0x73, 0x02, 0x76, 0x64, 0x65, 0x67, 0x73, 0x88, 0xb5,
                             'V', 'D', 'S', 'W', 'H', 'O', 'L', '1',
                             0x01, 0x01, 0x00, 0x36, 0x05, 0xa8, 0x00, 0x22, 0x00, 0x10});
    ASSERT_EQ(head.size(), want.size());
    EXPECT_TRUE(std::equal(want.begin(), want.end(), head.begin()));
    std::vector<std::byte> d(head.begin(), head.end());
    for (int i = 0; i < 3000; i++) d.push_back(static_cast<std::byte>(i * 13));
    const auto e = whole::parse_envelope(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->hdr, tso4());
    EXPECT_EQ(e->frame.size(), 3000u);
    EXPECT_EQ(e->frame.data(), d.data() + whole::kEnvelopeHead);
    EXPECT_FALSE(whole::is_hello(d));
}

TEST(WholeWire, MalformedEnvelopesAreRefused) {
    auto make = [](VnetHdr h, std::size_t frame) {
        const auto head = whole::envelope_head(h);
        std::vector<std::byte> d(head.begin(), head.end());
        d.resize(d.size() + frame);
        return d;
    };
    EXPECT_TRUE(whole::parse_envelope(make(tso4(), 100)));
    VnetHdr h = tso4();
    h.gso_type = VnetHdr::kGsoUdp;
    EXPECT_FALSE(whole::parse_envelope(make(h, 100)));  // not TCP
    h = tso4();
    h.gso_type = VnetHdr::kGsoNone;
    EXPECT_FALSE(whole::parse_envelope(make(h, 100)));  // not a super-segment
    h = tso4();
    h.gso_type = VnetHdr::kGsoTcpV6 | VnetHdr::kGsoEcn;
    EXPECT_TRUE(whole::parse_envelope(make(h, 100)));  // ECN bit allowed
    h = tso4();
    h.gso_size = 0;
    EXPECT_FALSE(whole::parse_envelope(make(h, 100)));
    h = tso4();
    h.flags = 0;
    EXPECT_FALSE(whole::parse_envelope(make(h, 100)));  // a TSO frame has a partial checksum
    h = tso4();
    h.csum_start = 90;
    h.csum_offset = 16;
    EXPECT_FALSE(whole::parse_envelope(make(h, 100)));  // checksum field beyond the frame
    EXPECT_FALSE(whole::parse_envelope(make(tso4(), 13)));  // no Ethernet header
    EXPECT_FALSE(whole::parse_envelope(make(tso4(), whole::kMaxFrame + 1)));
    auto d = make(tso4(), 100);
    d[14 + 7] = std::byte{'2'};  // another version
    EXPECT_FALSE(whole::parse_envelope(d));
    EXPECT_FALSE(whole::is_envelope(d));
    d = make(tso4(), 100);
    d[13] = std::byte{0xb6};  // another ethertype
    EXPECT_FALSE(whole::is_envelope(d));
    EXPECT_FALSE(whole::parse_envelope(std::span<const std::byte>(d.data(), 20)));
}

}  // namespace
