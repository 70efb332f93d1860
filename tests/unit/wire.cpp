// unit_wire.cpp - the checked views of wire/ (Ethernet + 802.1Q, IPv4, IPv6,
// TCP, UDP) on golden byte arrays: what each accepts, what it reads, and
// every length it refuses.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "frame/offload.hpp"
#include "wire/ethernet.hpp"
#include "wire/ip.hpp"
#include "wire/l4.hpp"

namespace {

using vdestack::wire::EthernetView;
using vdestack::wire::Ipv4View;
using vdestack::wire::Ipv6View;
using vdestack::wire::TcpView;
using vdestack::wire::UdpView;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) out.push_back(static_cast<std::byte>(b));
    return out;
}
std::span<const std::byte> first(const std::vector<std::byte>& b, std::size_t n) {
    return std::span<const std::byte>(b).first(n);
}

// dst 02:00:00:00:00:01, src 02:00:00:00:00:02
const std::vector<int> kMacs = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

std::vector<std::byte> frame(std::initializer_list<int> after_macs) {
    std::vector<int> v = kMacs;
    v.insert(v.end(), after_macs);
    std::vector<std::byte> out;
    for (int b : v) out.push_back(static_cast<std::byte>(b));
    return out;
}

TEST(WireEthernet, UntaggedTaggedAndDoubleTagged) {
    auto plain = frame({0x08, 0x00, 0x45});
    auto e = EthernetView::parse(plain);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ethertype(), 0x0800);
    EXPECT_EQ(e->header_len(), 14u);
    EXPECT_EQ(e->tags(), 0);
    EXPECT_EQ(e->vlan(), 0);
    EXPECT_EQ(std::to_integer<int>(e->dst()[5]), 1);
    EXPECT_EQ(std::to_integer<int>(e->src()[5]), 2);
    EXPECT_EQ(e->payload().size(), 1u);

    auto q = frame({0x81, 0x00, 0x20, 0x05, 0x86, 0xdd});  // PCP 1, VLAN 5
    e = EthernetView::parse(q);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ethertype(), 0x86dd);
    EXPECT_EQ(e->header_len(), 18u);
    EXPECT_EQ(e->tags(), 1);
    EXPECT_EQ(e->vlan(), 5);

    auto qinq = frame({0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x07, 0x08, 0x06});
    e = EthernetView::parse(qinq);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ethertype(), 0x0806);
    EXPECT_EQ(e->header_len(), 22u);
    EXPECT_EQ(e->tags(), 2);
    EXPECT_EQ(e->vlan(), 100);  // the outer tag's

    // A third tag is not unwrapped: its TPID is the EtherType.
    auto three = frame({0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0});
    e = EthernetView::parse(three);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->ethertype(), 0x8100);
    EXPECT_EQ(e->header_len(), 22u);
}

TEST(WireEthernet, ShortFramesAreRefused) {
    auto plain = frame({0x08, 0x00});
    EXPECT_TRUE(EthernetView::parse(plain));
    EXPECT_FALSE(EthernetView::parse(first(plain, 13)));
    auto q = frame({0x81, 0x00, 0x00, 0x05, 0x08, 0x00});
    EXPECT_TRUE(EthernetView::parse(q));
    for (std::size_t n = 14; n < q.size(); n++) EXPECT_FALSE(EthernetView::parse(first(q, n))) << n;
    EXPECT_FALSE(EthernetView::parse({}));
}

// RFC 1071's textbook header (the Wikipedia IPv4 checksum example).
const std::vector<int> kIpv4 = {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06,
                                0xb1, 0xe6, 0xac, 0x10, 0x0a, 0x63, 0xac, 0x10, 0x0a, 0x0c};

std::vector<std::byte> ipv4_packet(std::size_t extra = 0) {
    std::vector<std::byte> p;
    for (int b : kIpv4) p.push_back(static_cast<std::byte>(b));
    p.resize(60 + extra);  // total length 60
    return p;
}

TEST(WireIpv4, ReadsTheTextbookHeader) {
    auto p = ipv4_packet(6);  // Ethernet padding after the datagram
    auto ip = Ipv4View::parse(p);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->header_len(), 20u);
    EXPECT_EQ(ip->total_len(), 60u);
    EXPECT_EQ(ip->payload().size(), 40u);  // the padding is outside the view
    EXPECT_EQ(ip->id(), 0x1c46);
    EXPECT_FALSE(ip->is_fragment());  // DF only
    EXPECT_EQ(ip->protocol(), 6);
    EXPECT_EQ(std::to_integer<int>(ip->addrs()[0]), 0xac);
    EXPECT_EQ(std::to_integer<int>(ip->addrs()[7]), 0x0c);
    using namespace vdestack::frame;
    EXPECT_EQ(csum_fold(csum_add(0, ip->header().data(), ip->header_len())), 0xffff);
}

TEST(WireIpv4, FragmentsAndBadHeadersAreSeen) {
    auto p = ipv4_packet();
    p[6] = std::byte{0x20};  // MF
    EXPECT_TRUE(Ipv4View::parse(p)->is_fragment());
    p[6] = std::byte{0x00};
    p[7] = std::byte{0x01};  // offset 8
    EXPECT_TRUE(Ipv4View::parse(p)->is_fragment());

    auto q = ipv4_packet();
    EXPECT_FALSE(Ipv4View::parse(first(q, 59)));  // total length beyond the bytes
    EXPECT_FALSE(Ipv4View::parse(first(q, 19)));
    q[0] = std::byte{0x44};  // IHL 16 bytes
    EXPECT_FALSE(Ipv4View::parse(q));
    q[0] = std::byte{0x65};  // version 6
    EXPECT_FALSE(Ipv4View::parse(q));
    q[0] = std::byte{0x4f};  // IHL 60 > total 60? no: equal is allowed
    EXPECT_TRUE(Ipv4View::parse(q));
    q[3] = std::byte{0x3b};  // total 59 < IHL 60
    EXPECT_FALSE(Ipv4View::parse(q));
}

std::vector<std::byte> ipv6_packet(int first_next, std::initializer_list<int> ext, std::size_t upper_len) {
    std::vector<std::byte> p(40);
    p[0] = std::byte{0x60};
    p[6] = static_cast<std::byte>(first_next);
    p[7] = std::byte{64};
    for (int b : ext) p.push_back(static_cast<std::byte>(b));
    p.resize(p.size() + upper_len);
    const std::size_t plen = p.size() - 40;
    p[4] = static_cast<std::byte>(plen >> 8);
    p[5] = static_cast<std::byte>(plen & 0xff);
    return p;
}

TEST(WireIpv6, WalksOptionsHeadersToTheUpperLayer) {
    auto direct = ipv6_packet(6, {}, 20);
    auto ip = Ipv6View::parse(direct);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->payload_len(), 20u);
    ASSERT_TRUE(ip->upper());
    EXPECT_EQ(ip->upper()->protocol, 6);
    EXPECT_EQ(ip->upper()->offset, 40u);

    // hop-by-hop (8 bytes), destination options (16 bytes), then UDP
    auto ext = ipv6_packet(0, {60, 0, 1, 4, 0, 0, 0, 0, 17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8);
    ip = Ipv6View::parse(ext);
    ASSERT_TRUE(ip && ip->upper());
    EXPECT_EQ(ip->upper()->protocol, 17);
    EXPECT_EQ(ip->upper()->offset, 64u);
    EXPECT_FALSE(ip->upper(1));  // only one extension header allowed

    auto routing = ipv6_packet(43, {6, 0, 0, 0, 0, 0, 0, 0}, 20);
    ip = Ipv6View::parse(routing);
    ASSERT_TRUE(ip && ip->upper());
    EXPECT_EQ(ip->upper()->protocol, 43);  // not TCP: TSO refuses it (its pseudo-header would change)

    auto overlong = ipv6_packet(0, {6, 9, 0, 0, 0, 0, 0, 0}, 0);  // claims 80 bytes
    EXPECT_FALSE(Ipv6View::parse(overlong)->upper());
}

TEST(WireIpv6, LengthsAndVersionAreChecked) {
    auto p = ipv6_packet(6, {}, 20);
    EXPECT_FALSE(Ipv6View::parse(first(p, p.size() - 1)));
    EXPECT_FALSE(Ipv6View::parse(first(p, 39)));
    p[0] = std::byte{0x45};
    EXPECT_FALSE(Ipv6View::parse(p));
}

TEST(WireTcp, ReadsFieldsAndOptions) {
    auto seg = bytes({0x9c, 0x40, 0x13, 0x89, 0xff, 0xff, 0xf0, 0x00, 0x01, 0x02, 0x03, 0x04, 0x80, 0x18, 0x12, 0x34,
                      0x00, 0x00, 0x00, 0x00, 1, 1, 8, 10, 0, 0, 0x10, 0x01, 0, 0, 0x20, 0x02, 'h', 'i'});
    auto t = TcpView::parse(seg);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->src_port(), 40000);
    EXPECT_EQ(t->dst_port(), 5001);
    EXPECT_EQ(t->seq(), 0xfffff000u);
    EXPECT_EQ(t->ack(), 0x01020304u);
    EXPECT_EQ(t->header_len(), 32u);
    EXPECT_EQ(t->flags(), TcpView::kAck | TcpView::kPsh);
    EXPECT_EQ(t->window(), 0x1234);
    EXPECT_EQ(t->options().size(), 12u);
    EXPECT_EQ(t->payload().size(), 2u);
    EXPECT_FALSE(TcpView::parse(first(seg, 31)));  // options cut
    seg[12] = std::byte{0x40};                      // data offset 16 bytes
    EXPECT_FALSE(TcpView::parse(seg));
    EXPECT_FALSE(TcpView::parse(first(seg, 19)));
}

TEST(WireUdp, LengthFieldBoundsTheDatagram) {
    auto d = bytes({0x12, 0x34, 0x00, 0x35, 0x00, 0x0a, 0xbe, 0xef, 'o', 'k', 0, 0});
    auto u = UdpView::parse(d);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->src_port(), 0x1234);
    EXPECT_EQ(u->dst_port(), 53);
    EXPECT_EQ(u->checksum(), 0xbeef);
    EXPECT_EQ(u->payload().size(), 2u);  // not the two bytes after the length
    EXPECT_FALSE(UdpView::parse(first(d, 9)));
    d[5] = std::byte{7};
    EXPECT_FALSE(UdpView::parse(d));
}

}  // namespace
