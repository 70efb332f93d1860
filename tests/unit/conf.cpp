// conf.cpp - the iothconf layer on golden bytes and strings: the DHCPv4
// view and builder, the lease an ACK carries, domain-name lists, the
// configuration-string parser, and the merge of sources with its
// resolv.conf text.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.hpp"
#include "conf/config.hpp"
#include "conf/configurator.hpp"
#include "conf/dhcp4_client.hpp"
#include "wire/dhcp4.hpp"
#include "wire/dns_name.hpp"

namespace {

namespace dhcp = vdestack::wire::dhcp4;
using vdestack::conf::Dhcp4Client;
using vdestack::conf::parse_config;

std::vector<std::byte> B(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}

// The options of an ACK as dnsmasq sends them (fuzz/corpus/dhcp4/ack):
// 53 ACK, 54 server, 51 lease 120, 58 T1 60, 59 T2 105, 1 mask /24, 3 router,
// 6 two servers, 15 "test.lan", 119 "a.lan" "b.lan" (the second compressed), END.
const std::vector<std::byte> kAckOptions = B(
    {0x35, 0x01, 0x05, 0x36, 0x04, 0x0a, 0x00, 0x09, 0x01, 0x33, 0x04, 0x00, 0x00, 0x00, 0x78, 0x3a, 0x04, 0x00, 0x00,
     0x00, 0x3c, 0x3b, 0x04, 0x00, 0x00, 0x00, 0x69, 0x01, 0x04, 0xff, 0xff, 0xff, 0x00, 0x03, 0x04, 0x0a, 0x00, 0x09,
     0x01, 0x06, 0x08, 0x0a, 0x00, 0x09, 0x01, 0x0a, 0x00, 0x09, 0x02, 0x0f, 0x08, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x6c,
     0x61, 0x6e, 0x77, 0x0b, 0x01, 0x61, 0x03, 0x6c, 0x61, 0x6e, 0x00, 0x01, 0x62, 0xc0, 0x02, 0xff});

// A BOOTREPLY for xid 0x11223344, yiaddr 10.0.9.50, chaddr 02:00:00:00:00:01.
std::vector<std::byte> reply(const std::vector<std::byte>& options) {
    std::vector<std::byte> m(236);
    m[0] = std::byte{2};
    m[1] = std::byte{1};
    m[2] = std::byte{6};
    for (int i = 0; i < 4; i++) m[4 + i] = static_cast<std::byte>(0x11 * (i + 1));
    const int yi[] = {10, 0, 9, 50};
    for (int i = 0; i < 4; i++) m[16 + i] = static_cast<std::byte>(yi[i]);
    m[28] = std::byte{2};
    m[33] = std::byte{1};
    for (int c : {0x63, 0x82, 0x53, 0x63}) m.push_back(static_cast<std::byte>(c));
    m.insert(m.end(), options.begin(), options.end());
    return m;
}

TEST(Dhcp4View, ReadsTheHeaderAndEveryOption) {
    const auto m = reply(kAckOptions);
    ASSERT_EQ(m.size(), 313u);
    auto v = dhcp::Dhcp4View::parse(m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->op(), dhcp::kBootReply);
    EXPECT_EQ(v->xid(), 0x11223344u);
    EXPECT_EQ(v->message_type(), dhcp::kAck);
    EXPECT_EQ(v->u32_option(dhcp::kLeaseTime), 120u);
    EXPECT_EQ(v->option(dhcp::kDnsServer)->size(), 8u);
    EXPECT_FALSE(v->option(dhcp::kHostName));
    EXPECT_FALSE(v->u32_option(dhcp::kSubnetMask + 100));
}

TEST(Dhcp4View, RefusesShortHeadersBadCookiesAndOverrunningOptions) {
    auto m = reply(kAckOptions);
    for (std::size_t n : {0ul, 235ul, 236ul, 239ul})
        EXPECT_FALSE(dhcp::Dhcp4View::parse(std::span(m).first(n))) << n;
    EXPECT_TRUE(dhcp::Dhcp4View::parse(std::span(m).first(240)));  // no option at all: fine
    auto bad_cookie = m;
    bad_cookie[239] = std::byte{0x64};
    EXPECT_FALSE(dhcp::Dhcp4View::parse(bad_cookie));
    auto bad_hlen = m;
    bad_hlen[2] = std::byte{16};
    EXPECT_FALSE(dhcp::Dhcp4View::parse(bad_hlen));
    // An option whose length runs past the end, at every cut of the options.
    for (std::size_t cut = 241; cut < m.size() - 1; cut++) {
        auto v = dhcp::Dhcp4View::parse(std::span(m).first(cut));
        if (v) {  // a cut that falls between options: every option read stays inside
            for (int code = 1; code < 255; code++)
                if (auto o = v->option(static_cast<std::uint8_t>(code)))
                    EXPECT_LE(o->data() + o->size(), m.data() + cut);
        }
    }
    EXPECT_FALSE(dhcp::Dhcp4View::parse(reply(B({53, 1, 5, 6, 9, 10, 0, 9, 1}))));
}

TEST(Dhcp4View, ReadsOptionsOverloadedIntoFileAndSname) {
    auto m = reply(B({53, 1, 5, 52, 1, 3, 255}));
    // file (offset 108): the lease time; sname (offset 44): the router.
    const int file[] = {51, 4, 0, 0, 0, 30, 255};
    const int sname[] = {3, 4, 10, 0, 9, 254, 255};
    for (int i = 0; i < 7; i++) m[108 + i] = static_cast<std::byte>(file[i]);
    for (int i = 0; i < 7; i++) m[44 + i] = static_cast<std::byte>(sname[i]);
    auto v = dhcp::Dhcp4View::parse(m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->u32_option(dhcp::kLeaseTime), 30u);
    ASSERT_TRUE(v->option(dhcp::kRouter));
    EXPECT_EQ(static_cast<int>(v->option(dhcp::kRouter)->data()[3]), 254);
    m[108 + 1] = std::byte{200};  // overruns the file field
    EXPECT_FALSE(dhcp::Dhcp4View::parse(m));
}

TEST(Dhcp4Lease, IsWhatTheAckSays) {
    auto l = Dhcp4Client::lease_of(reply(kAckOptions), {});
    ASSERT_TRUE(l);
    EXPECT_EQ(l->str(),
              "ip=10.0.9.50/24,gw=10.0.9.1,dns=10.0.9.1,dns=10.0.9.2,domain=test.lan,domain=a.lan,domain=b.lan,"
              "server=10.0.9.1,lease=120,t1=60,t2=105");
    // Without T1/T2: 1/2 and 7/8 of the lease; an OFFER is no lease.
    auto no_times = reply(B({53, 1, 5, 51, 4, 0, 0, 0x0e, 0x10, 255}));
    l = Dhcp4Client::lease_of(no_times, {});
    ASSERT_TRUE(l);
    EXPECT_EQ(l->t1_s, 1800u);
    EXPECT_EQ(l->t2_s, 3150u);
    EXPECT_FALSE(Dhcp4Client::lease_of(reply(B({53, 1, 2, 255})), {}));
}

TEST(Dhcp4Builder, WritesARequestEveryServerTakes) {
    const std::array<std::uint8_t, 6> mac{2, 0, 0, 0, 0, 1};
    dhcp::Dhcp4Builder b(dhcp::kDiscover, 0xdeadbeef, mac, 3, true);
    const std::array<std::uint8_t, 4> ip{10, 0, 9, 50};
    b.add_ip(dhcp::kRequestedIp, ip);
    const auto m = b.finish();
    ASSERT_EQ(m.size(), 240u + 3 + 6 + 1);
    auto v = dhcp::Dhcp4View::parse(m);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->op(), dhcp::kBootRequest);
    EXPECT_EQ(v->xid(), 0xdeadbeefu);
    EXPECT_EQ(v->flags(), dhcp::kFlagBroadcast);
    EXPECT_EQ(v->message_type(), dhcp::kDiscover);
    EXPECT_EQ(std::to_integer<int>(m[8]) * 256 + std::to_integer<int>(m[9]), 3);  // secs
    EXPECT_EQ(std::to_integer<int>(m.back()), 255);
    // Options that would not fit are dropped whole.
    dhcp::Dhcp4Builder full(dhcp::kRequest, 1, mac, 0, false);
    std::vector<std::byte> big(255, std::byte{'x'});
    for (int i = 0; i < 4; i++) full.add(dhcp::kHostName, big);
    EXPECT_LE(full.finish().size(), dhcp::Dhcp4Builder::kMax);
    EXPECT_TRUE(dhcp::Dhcp4View::parse(full.finish()));
}

TEST(DnsNames, DecodesListsWithBackwardPointersOnly) {
    using vdestack::wire::decode_names;
    auto v = decode_names(B({1, 'a', 3, 'l', 'a', 'n', 0, 1, 'b', 0xc0, 2}), true);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, (std::vector<std::string>{"a.lan", "b.lan"}));
    EXPECT_FALSE(decode_names(B({1, 'a', 3, 'l', 'a', 'n', 0, 1, 'b', 0xc0, 2}), false));  // DHCPv6: no pointers
    EXPECT_FALSE(decode_names(B({0xc0, 0}), true));                // to itself
    EXPECT_FALSE(decode_names(B({1, 'a', 0xc0, 4, 0, 1, 'b', 0}), true));  // forwards
    EXPECT_FALSE(decode_names(B({3, 'a', 'b'}), true));              // a label past the end
    EXPECT_FALSE(decode_names(B({1, 'a'}), true));                   // no root label
    EXPECT_FALSE(decode_names(B({0x40, 'a', 0}), true));             // reserved label type
    EXPECT_EQ(decode_names({}, true)->size(), 0u);
    EXPECT_EQ(vdestack::wire::encode_name("host.v2.lan."), B({4, 'h', 'o', 's', 't', 2, 'v', '2', 3, 'l', 'a', 'n', 0}));
    EXPECT_TRUE(vdestack::wire::encode_name("a..b").empty());
}

TEST(ConfigString, ParsesEveryOption) {
    auto r = parse_config("eth,dhcp,auto6,iface=eth1,fqdn=h.v2.lan,mac=02:00:00:00:00:09,ip=10.0.0.1/16,"
                          "ip=fc00::1/64,gw=10.0.0.254,dns=fc00::53,domain=v2.lan,-ip=10.0.0.9,debug,timeout=3");
    using namespace vdestack::conf;
    EXPECT_EQ(r.sources, kEth | kDhcp4 | kDhcp6 | kRd | kStatic);
    EXPECT_EQ(r.iface, "eth1");
    EXPECT_EQ(r.fqdn, "h.v2.lan");
    EXPECT_EQ(r.mac, (std::array<std::uint8_t, 6>{2, 0, 0, 0, 0, 9}));
    ASSERT_EQ(r.statics.size(), 6u);
    EXPECT_EQ(r.statics[0].prefix, 16);
    EXPECT_EQ(r.statics[1].prefix, 64);
    EXPECT_EQ(r.statics[1].addr.family, AF_INET6);
    EXPECT_EQ(r.statics[2].kind, StaticItem::kGw);
    EXPECT_EQ(r.statics[4].domain, "v2.lan");
    EXPECT_TRUE(r.statics[5].remove);
    EXPECT_EQ(r.statics[5].prefix, 0);  // a removal: any length
    EXPECT_TRUE(r.debug);
    EXPECT_EQ(r.timeout_s, 3);

    EXPECT_EQ(parse_config("-all").clean, kEth | kDhcp4 | kDhcp6 | kRd);
    EXPECT_EQ(parse_config("-static,-eth").clean, kStatic | kEth);
    EXPECT_EQ(parse_config("auto4").sources, kEth | kDhcp4);
    EXPECT_EQ(parse_config("rd,slaac").sources, kRd | kSlaac);
    EXPECT_EQ(parse_config("").sources, 0u);
    auto n = parse_config("stack=vdestack,vnl=\"eth0:vxvde://234.0.0.1\",eth", true);
    EXPECT_EQ(n.stack, "vdestack");
    EXPECT_EQ(n.vnl, "eth0:vxvde://234.0.0.1");
    EXPECT_EQ(parse_config("domain=a\\,b").statics[0].domain, "a,b");
}

TEST(ConfigString, RefusesBadInputWithEinval) {
    for (const char* bad : {"frob", "-iface=x", "ip", "ip=", "ip=10.0.0.1", "ip=fc00::1", "ip=10.0.0.256", "ip=10.0.0.1/0", "ip=10.0.0.1/33",
                            "ip=fc00::1/129", "ip=10.0.0.1/x", "gw=10.0.0.1/24", "dns=host", "mac=02:00:00:00:00",
                            "mac=02:00:00:00:00:0g", "ifindex=0", "ifindex=-1", "timeout=301", "stack=kernel",
                            "vnl=x", "'open"}) {
        try {
            parse_config(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const vdestack::Error& e) {
            EXPECT_EQ(e.errno_value(), EINVAL) << bad;
            EXPECT_NE(std::string(e.what()).find("ioth_config"), std::string::npos) << e.what();
        }
    }
}

TEST(ConfigString, RefusesAddressesWithANulInside) {
    const std::string text("ip=fc00::\0\0/64", 15);
    EXPECT_THROW(parse_config(text), vdestack::Error);
    EXPECT_THROW(parse_config(std::string("-ip=10.0.0.1\0", 13)), vdestack::Error);
}

TEST(ResolvconfString, TakesTheInterfaceOnly) {
    using vdestack::conf::parse_resolvconf;
    EXPECT_EQ(parse_resolvconf("").iface, "");
    EXPECT_EQ(parse_resolvconf("iface=eth1").iface, "eth1");
    EXPECT_EQ(parse_resolvconf("ifindex=7").ifindex, 7u);
    for (const char* bad : {"eth", "dhcp", "iface", "ifindex=0", "ip=10.0.0.1/24", "debug"}) {
        try {
            parse_resolvconf(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const vdestack::Error& e) {
            EXPECT_EQ(e.errno_value(), EINVAL) << bad;
        }
    }
}

vdestack::conf::Record rec(vdestack::conf::Record::Kind k, const char* a, int prefix = 0) {
    vdestack::conf::Record r;
    r.kind = k;
    if (k == vdestack::conf::Record::kDomain)
        r.domain = a;
    else
        r.addr = *vdestack::conf::Addr::parse(a);
    r.prefix = prefix;
    return r;
}

TEST(InterfaceData, EachSourceReplacesOnlyItsOwn) {
    using namespace vdestack::conf;
    InterfaceData d;
    EXPECT_FALSE(d.resolvconf());  // nothing yet
    auto diff = d.replace(kDhcp4, {rec(Record::kAddr, "10.0.9.50", 24), rec(Record::kDns, "10.0.9.1"),
                                   rec(Record::kDomain, "test.lan")});
    EXPECT_EQ(diff.added.size(), 3u);
    EXPECT_TRUE(diff.removed.empty());
    diff = d.add(kStatic, rec(Record::kAddr, "10.0.9.50", 24));  // the stack has it already
    EXPECT_TRUE(diff.added.empty());
    d.add(kStatic, rec(Record::kDns, "fc00::53"));
    d.add(kStatic, rec(Record::kDomain, "test.lan"));
    EXPECT_EQ(*d.resolvconf(), "search test.lan\nnameserver fc00::53\nnameserver 10.0.9.1\n");
    EXPECT_FALSE(d.resolvconf());  // unchanged since

    // A new lease: the old address goes (the static one stays: it is still provided).
    diff = d.replace(kDhcp4, {rec(Record::kAddr, "10.0.9.51", 24), rec(Record::kDns, "10.0.9.1")});
    ASSERT_EQ(diff.added.size(), 1u);
    EXPECT_EQ(diff.added[0].addr.str(), "10.0.9.51");
    EXPECT_TRUE(diff.removed.empty());  // 10.0.9.50 and test.lan are static's too
    EXPECT_FALSE(d.resolvconf());       // the same text as before
    diff = d.replace(kStatic, {});
    ASSERT_EQ(diff.removed.size(), 3u);
    EXPECT_EQ(*d.resolvconf(), "nameserver 10.0.9.1\n");
    // What every source provides, once each.
    d.add(kStatic, rec(Record::kAddr, "10.0.9.51", 24));
    d.add(kStatic, rec(Record::kRoute, "10.0.9.1"));
    const std::vector<Record> all = d.merged();
    EXPECT_EQ(all.size(), 3u);  // 10.0.9.51/24 (both), the DNS server, the route
    EXPECT_EQ(std::count(all.begin(), all.end(), rec(Record::kAddr, "10.0.9.51", 24)), 1);
}

}  // namespace
