// ipv6_conf.cpp - the IPv6 configuration wire on golden bytes: a Router
// Advertisement (prefix, RDNSS, DNSSL) through RaView and RouterInfo, a
// DHCPv6 REPLY through Dhcp6View and the lease it gives, the Router
// Solicitation and the builder's nesting, and the malformed messages the
// views refuse.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "conf/ipv6_clients.hpp"
#include "wire/dhcp6.hpp"
#include "wire/ndp.hpp"

namespace {

namespace ndp = vdestack::wire::ndp;
namespace d6 = vdestack::wire::dhcp6;
using vdestack::conf::Dhcp6Client;
using vdestack::conf::RouterInfo;

std::vector<std::byte> B(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}

std::array<std::uint8_t, 16> ip6(const char* s) {
    std::array<std::uint8_t, 16> a{};
    inet_pton(AF_INET6, s, a.data());
    return a;
}

// An RA as dnsmasq sends it: M|O, lifetime 1800; prefix fc00::/64 L|A valid
// 120 preferred 60; RDNSS fc00::1:1 lifetime 600; DNSSL "six.lan".
const std::vector<std::byte> kRa = B({
    134, 0, 0, 0, 64, 0xc0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,                              // header
    3, 4, 64, 0xc0, 0, 0, 0, 120, 0, 0, 0, 60, 0, 0, 0, 0,                                 // prefix info
    0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                                     //   fc00::
    25, 3, 0, 0, 0, 0, 2, 0x58,                                                            // RDNSS, 600 s
    0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1,                                     //   fc00::1:1
    31, 3, 0, 0, 0, 0, 2, 0x58,                                                            // DNSSL, 600 s
    3, 's', 'i', 'x', 3, 'l', 'a', 'n', 0, 0, 0, 0, 0, 0, 0, 0});                          //   six.lan, padded

TEST(RaView, ReadsTheRouterPrefixesAndDnsOptions) {
    auto info = RouterInfo::of(kRa, ip6("fe80::1"));
    ASSERT_TRUE(info);
    EXPECT_EQ(info->router, ip6("fe80::1"));
    EXPECT_EQ(info->lifetime, 1800);
    EXPECT_EQ(info->flags, ndp::kRaManaged | ndp::kRaOther);
    ASSERT_EQ(info->prefixes.size(), 1u);
    EXPECT_EQ(info->prefixes[0].length, 64);
    EXPECT_EQ(info->prefixes[0].flags, ndp::kPrefixOnLink | ndp::kPrefixAuto);
    EXPECT_EQ(info->prefixes[0].valid, 120u);
    EXPECT_EQ(info->prefixes[0].preferred, 60u);
    EXPECT_EQ(info->prefixes[0].prefix, ip6("fc00::"));
    ASSERT_EQ(info->dns.size(), 1u);
    EXPECT_EQ(info->dns[0], ip6("fc00::1:1"));
    EXPECT_EQ(info->domains, std::vector<std::string>{"six.lan"});
}

TEST(RaView, RefusesZeroLengthOverrunningAndOtherMessages) {
    auto bad = kRa;
    bad[16 + 1] = std::byte{0};  // an option of length 0 (RFC 4861 4.6)
    EXPECT_FALSE(ndp::RaView::parse(bad));
    bad = kRa;
    bad[16 + 1] = std::byte{40};  // past the end
    EXPECT_FALSE(ndp::RaView::parse(bad));
    bad = kRa;
    bad[0] = std::byte{133};  // a solicitation
    EXPECT_FALSE(ndp::RaView::parse(bad));
    EXPECT_FALSE(ndp::RaView::parse(std::span(kRa).first(15)));
    // A prefix option too short for its type is skipped, not read.
    auto shortp = B({134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 64, 0xc0, 0, 0, 0, 0});
    auto info = RouterInfo::of(shortp, ip6("fe80::1"));
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->prefixes.empty());
    EXPECT_EQ(info->lifetime, 0);  // not a default router
}

TEST(RouterSolicit, CarriesOurLinkLayerAddress) {
    const auto rs = ndp::router_solicit({0x02, 0, 0, 0, 0, 0x01});
    EXPECT_EQ(std::vector<std::byte>(rs.begin(), rs.end()),
              B({133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x02, 0, 0, 0, 0, 0x01}));
}

// DUID-LL of 02:00:00:00:00:01, IAID 0x00000001 (MAC bytes 2..5).
const std::vector<std::byte> kDuid = B({0, 3, 0, 1, 2, 0, 0, 0, 0, 1});

// A REPLY: client id, server id (DUID-LL 02:..:fe), IA_NA (T1 60, T2 96,
// IAADDR fc00::1:55 preferred 90 valid 120), DNS fc00::1:1, domain six.lan.
std::vector<std::byte> reply(int ia_status = -1) {
    auto m = B({7, 0x12, 0x34, 0x56});
    auto add = [&](std::initializer_list<int> v) {
        auto b = B(v);
        m.insert(m.end(), b.begin(), b.end());
    };
    add({0, 1, 0, 10});
    m.insert(m.end(), kDuid.begin(), kDuid.end());
    add({0, 2, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, 0, 0xfe});
    const int ia_len = 12 + 28 + (ia_status >= 0 ? 6 : 0);
    add({0, 3, 0, ia_len, 0, 0, 0, 1, 0, 0, 0, 60, 0, 0, 0, 96});
    add({0, 5, 0, 24, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x55, 0, 0, 0, 90, 0, 0, 0, 120});
    if (ia_status >= 0) add({0, 13, 0, 2, 0, ia_status});
    add({0, 23, 0, 16, 0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1});
    add({0, 24, 0, 9, 3, 's', 'i', 'x', 3, 'l', 'a', 'n', 0});
    return m;
}

TEST(Dhcp6View, ReadsAReplyIntoALease) {
    const auto m = reply();
    auto v = d6::Dhcp6View::parse(m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->type(), d6::kReply);
    EXPECT_EQ(v->xid(), 0x123456u);
    auto l = Dhcp6Client::lease_of(m, kDuid, 1, {});
    ASSERT_TRUE(l);
    EXPECT_EQ(l->addr, ip6("fc00::1:55"));
    EXPECT_EQ(l->preferred_s, 90u);
    EXPECT_EQ(l->valid_s, 120u);
    EXPECT_EQ(l->t1_s, 60u);
    EXPECT_EQ(l->t2_s, 96u);
    EXPECT_EQ(l->server_id, B({0, 3, 0, 1, 2, 0, 0, 0, 0, 0xfe}));
    EXPECT_EQ(l->str(), "ip=fc00::1:55/128,dns=fc00::1:1,domain=six.lan,valid=120,t1=60,t2=96");
    // Another client's, another IAID's, or an IA without addresses: no lease.
    EXPECT_FALSE(Dhcp6Client::lease_of(m, B({0, 3, 0, 1, 2, 0, 0, 0, 0, 2}), 1, {}));
    EXPECT_FALSE(Dhcp6Client::lease_of(m, kDuid, 2, {}));
    EXPECT_FALSE(Dhcp6Client::lease_of(reply(d6::kStatusNoAddrsAvail), kDuid, 1, {}));
    EXPECT_TRUE(Dhcp6Client::lease_of(reply(d6::kStatusSuccess), kDuid, 1, {}));
}

TEST(Dhcp6View, RefusesTruncatedOptions) {
    auto m = reply();
    const std::size_t ids_end = 4 + 14 + 14;  // header, client id, server id
    // Cut after the ids: a message without the IA_NA, which gives no lease.
    ASSERT_TRUE(d6::Dhcp6View::parse(std::span(m).first(ids_end)));
    EXPECT_FALSE(Dhcp6Client::lease_of(std::span(m).first(ids_end), kDuid, 1, {}));
    // Any cut inside an option: refused whole.
    for (std::size_t at : {ids_end + 1, ids_end + 3, ids_end + 10, ids_end + 30, m.size() - 1})
        EXPECT_FALSE(d6::Dhcp6View::parse(std::span(m).first(at))) << at;
    // An IAADDR shorter than its 24 fixed bytes inside a well-formed IA_NA.
    auto shorta = m;
    shorta[ids_end + 4 + 12 + 3] = std::byte{20};  // IAADDR length 20 ...
    shorta[ids_end + 3] = std::byte{12 + 24};      // ... and IA_NA's 4 less
    shorta.erase(shorta.begin() + static_cast<long>(ids_end + 4 + 12 + 4 + 20),
                 shorta.begin() + static_cast<long>(ids_end + 4 + 12 + 4 + 24));
    ASSERT_TRUE(d6::Dhcp6View::parse(shorta));
    EXPECT_FALSE(Dhcp6Client::lease_of(shorta, kDuid, 1, {}));
    EXPECT_FALSE(d6::Dhcp6View::parse(std::span(m).first(3)));
    m[4 + 3] = std::byte{200};  // the client id's length past the end
    EXPECT_FALSE(d6::Dhcp6View::parse(m));
}

TEST(Dhcp6Builder, NestsOptionsAndSetsLengths) {
    d6::Dhcp6Builder b(d6::kRequest, 0xabcdef);
    b.add_u16(d6::kElapsedTime, 5);
    std::array<std::byte, 12> ia{};
    b.begin(d6::kIaNa, ia);
    std::array<std::byte, 24> a{};
    b.add(d6::kIaAddr, a);
    b.end();
    const auto m = b.bytes();
    ASSERT_EQ(m.size(), 4u + 6u + 4u + 12u + 4u + 24u);
    auto v = d6::Dhcp6View::parse(m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->xid(), 0xabcdefu);
    auto ia_v = v->options().find(d6::kIaNa);
    ASSERT_TRUE(ia_v);
    EXPECT_EQ(ia_v->size(), 12u + 28u);
    auto ia_na = d6::IaNa::parse(*ia_v);
    ASSERT_TRUE(ia_na);
    EXPECT_TRUE(ia_na->options.find(d6::kIaAddr));
}

}  // namespace
