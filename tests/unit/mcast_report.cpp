// mcast_report.cpp - wire/mcast_report.hpp on golden frames: the IGMP and
// MLD reports the Linux kernel sends (v3/v2 records, v1/v2 reports and
// leaves), cut short, and frames that are no report.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "wire/mcast_report.hpp"

namespace {

using vdestack::wire::for_each_membership;
using vdestack::wire::McastGroup;
using Bytes = std::vector<std::byte>;
using Mac = std::array<std::byte, 6>;

Bytes bytes(std::initializer_list<unsigned> v) {
    Bytes b;
    for (unsigned x : v) b.push_back(static_cast<std::byte>(x));
    return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
    return b;
}
Mac mac(std::initializer_list<unsigned> v) {
    Mac m{};
    std::size_t i = 0;
    for (unsigned x : v) m[i++] = static_cast<std::byte>(x);
    return m;
}

std::vector<McastGroup> groups(const Bytes& frame, bool* is_report = nullptr) {
    std::vector<McastGroup> out;
    const bool r = for_each_membership(frame, [&](const McastGroup& g) { out.push_back(g); });
    if (is_report != nullptr) *is_report = r;
    return out;
}

// Ethernet to 33:33:00:00:00:16 from 02:00:00:00:00:01, IPv6 from fe80::1 to
// ff02::16, hop limit 1, a hop-by-hop header with Router Alert (MLD), then
// `icmp` (the payload length is computed).
Bytes mld_frame(const Bytes& icmp) {
    const std::size_t plen = 8 + icmp.size();
    return cat({bytes({0x33, 0x33, 0, 0, 0, 0x16, 0x02, 0, 0, 0, 0, 0x01, 0x86, 0xdd}),
                bytes({0x60, 0, 0, 0, static_cast<unsigned>(plen >> 8), static_cast<unsigned>(plen & 0xff), 0, 1}),
                bytes({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                bytes({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16}),
                bytes({58, 0, 0x05, 0x02, 0, 0, 0x01, 0x00}),  // HBH: next ICMPv6, Router Alert, PadN
                icmp});
}

// Ethernet to `dst` from 02:00:00:00:00:01, IPv4 (with Router Alert, IHL 6)
// protocol 2 from 10.0.0.1 to `to`, then `igmp`.
Bytes igmp_frame(const Mac& dst, std::initializer_list<unsigned> to, const Bytes& igmp) {
    const std::size_t total = 24 + igmp.size();
    Bytes eth = cat({Bytes(dst.begin(), dst.end()), bytes({0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00})});
    return cat({eth,
                bytes({0x46, 0xc0, static_cast<unsigned>(total >> 8), static_cast<unsigned>(total & 0xff), 0, 0, 0x40,
                       0, 1, 2, 0, 0, 10, 0, 0, 1}),
                bytes(to), bytes({0x94, 0x04, 0, 0}), igmp});
}

const Bytes kSolicited = bytes({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x01});  // ff02::1:ff00:1
const Bytes kFf05_2 = bytes({0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02});

TEST(McastReport, Mldv2RecordsJoinAndLeave) {
    // 143, code 0, checksum, reserved, 2 records:
    //   CHANGE_TO_EXCLUDE {} ff02::1:ff00:1 (join), CHANGE_TO_INCLUDE {} ff05::2 (leave)
    const Bytes f = mld_frame(cat({bytes({143, 0, 0x12, 0x34, 0, 0, 0, 2}), bytes({4, 0, 0, 0}), kSolicited,
                                   bytes({3, 0, 0, 0}), kFf05_2}));
    bool report = false;
    const auto g = groups(f, &report);
    EXPECT_TRUE(report);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_EQ(g[0].family, 10);
    EXPECT_TRUE(g[0].join);
    EXPECT_EQ(g[0].mac(), mac({0x33, 0x33, 0xff, 0x00, 0x00, 0x01}));
    EXPECT_FALSE(g[1].join);
    EXPECT_EQ(g[1].mac(), mac({0x33, 0x33, 0, 0, 0, 0x02}));
}

TEST(McastReport, Mldv2SourcesAuxAndTruncation) {
    // MODE_IS_INCLUDE with one source (a join), aux data of 1 word; then a
    // record cut short: the first counts, the walk stops at the second.
    const Bytes src = bytes({0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
    const Bytes whole = mld_frame(cat({bytes({143, 0, 0, 0, 0, 0, 0, 2}), bytes({1, 1, 0, 1}), kFf05_2, src,
                                       bytes({0xaa, 0xbb, 0xcc, 0xdd}), bytes({2, 0, 0, 0}), kSolicited}));
    auto g = groups(whole);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_TRUE(g[0].join);
    EXPECT_TRUE(g[1].join);  // MODE_IS_EXCLUDE
    Bytes cut = mld_frame(cat({bytes({143, 0, 0, 0, 0, 0, 0, 2}), bytes({1, 1, 0, 1}), kFf05_2, src,
                               bytes({0xaa, 0xbb, 0xcc, 0xdd}), bytes({2, 0, 0, 0}), Bytes(kSolicited.begin(), kSolicited.begin() + 10)}));
    g = groups(cut);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].mac(), mac({0x33, 0x33, 0, 0, 0, 0x02}));
}

TEST(McastReport, MldBlockAndUnicastGroupsAreSkipped) {
    const Bytes unicast = bytes({0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    const Bytes f = mld_frame(cat({bytes({143, 0, 0, 0, 0, 0, 0, 2}), bytes({6, 0, 0, 0}), kSolicited,
                                   bytes({4, 0, 0, 0}), unicast}));
    bool report = false;
    EXPECT_TRUE(groups(f, &report).empty());
    EXPECT_TRUE(report);
}

TEST(McastReport, Mldv1ReportAndDone) {
    const Bytes report = mld_frame(cat({bytes({131, 0, 0, 0, 0, 0, 0, 0}), kSolicited}));
    auto g = groups(report);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_TRUE(g[0].join);
    EXPECT_EQ(g[0].mac(), mac({0x33, 0x33, 0xff, 0x00, 0x00, 0x01}));
    const Bytes done = mld_frame(cat({bytes({132, 0, 0, 0, 0, 0, 0, 0}), kSolicited}));
    g = groups(done);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_FALSE(g[0].join);
    // Cut before the address: not a report.
    const Bytes cut = mld_frame(cat({bytes({131, 0, 0, 0, 0, 0, 0, 0}), Bytes(kSolicited.begin(), kSolicited.begin() + 8)}));
    bool is = true;
    EXPECT_TRUE(groups(cut, &is).empty());
    EXPECT_FALSE(is);
}

TEST(McastReport, Igmpv3Report) {
    // 0x22, reserved, checksum, reserved, 1 record: CHANGE_TO_EXCLUDE {} 224.0.0.251
    const Bytes f = igmp_frame(mac({0x01, 0, 0x5e, 0, 0, 0x16}), {224, 0, 0, 22},
                               cat({bytes({0x22, 0, 0xab, 0xcd, 0, 0, 0, 1}), bytes({4, 0, 0, 0, 224, 0, 0, 251})}));
    const auto g = groups(f);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].family, 2);
    EXPECT_TRUE(g[0].join);
    EXPECT_EQ(g[0].mac(), mac({0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}));
}

TEST(McastReport, Igmpv2ReportLeaveAndLow23Bits) {
    // 239.129.2.3: the MAC keeps the low 23 bits (01:00:5e:01:02:03).
    const Bytes join = igmp_frame(mac({0x01, 0, 0x5e, 0x01, 0x02, 0x03}), {239, 129, 2, 3},
                                  bytes({0x16, 0, 0, 0, 239, 129, 2, 3}));
    auto g = groups(join);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_TRUE(g[0].join);
    EXPECT_EQ(g[0].mac(), mac({0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}));
    const Bytes leave = igmp_frame(mac({0x01, 0, 0x5e, 0, 0, 2}), {224, 0, 0, 2}, bytes({0x17, 0, 0, 0, 239, 129, 2, 3}));
    g = groups(leave);
    ASSERT_EQ(g.size(), 1u);
    EXPECT_FALSE(g[0].join);
}

TEST(McastReport, OtherFramesAreNoReports) {
    bool is = true;
    // An IGMP query (0x11) is no report.
    EXPECT_TRUE(groups(igmp_frame(mac({0x01, 0, 0x5e, 0, 0, 1}), {224, 0, 0, 1}, bytes({0x11, 100, 0, 0, 0, 0, 0, 0})), &is).empty());
    EXPECT_FALSE(is);
    // An ICMPv6 echo request.
    EXPECT_TRUE(groups(mld_frame(bytes({128, 0, 0, 0, 0, 1, 0, 1})), &is).empty());
    EXPECT_FALSE(is);
    // ARP, a runt, nothing.
    EXPECT_TRUE(groups(cat({bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06}), Bytes(28)}), &is).empty());
    EXPECT_FALSE(is);
    EXPECT_TRUE(groups(bytes({0x33, 0x33}), &is).empty());
    EXPECT_FALSE(is);
    EXPECT_TRUE(groups(Bytes{}, &is).empty());
    EXPECT_FALSE(is);
    // An IPv4 header that claims more than the frame holds.
    Bytes f = igmp_frame(mac({0x01, 0, 0x5e, 0, 0, 0x16}), {224, 0, 0, 22}, bytes({0x16, 0, 0, 0, 239, 1, 2, 3}));
    f.resize(f.size() - 2);
    EXPECT_TRUE(groups(f, &is).empty());
    EXPECT_FALSE(is);
}

}  // namespace
