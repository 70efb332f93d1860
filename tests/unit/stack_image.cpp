// stack_image.cpp - the saved-stack image format (wire/stack_image.hpp) on
// golden bytes: a UDP, a listener and a TCP record written and read back,
// the exact bytes of a small image, and what the view refuses: another
// version (with a message naming it), a bad magic, a truncated or padded
// image, a wrong count, malformed records.
#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include "wire/stack_image.hpp"

namespace {

namespace image = vdestack::wire::image;

std::vector<std::byte> B(std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
}

image::Endpoint ep4(int last, std::uint16_t port) {
    image::Endpoint e;
    e.family = 2;
    e.port = port;
    e.addr = {10, 0, 0, static_cast<std::uint8_t>(last)};
    return e;
}

TEST(StackImage, TheBytesOfASmallImage) {
    image::ImageWriter w;
    w.add(image::ListenRecord{ep4(1, 5000), 16});
    const auto img = w.finish();
    const auto golden = B({'V', 'D', 'E', 'S', 'T', 'K', 'I', 'M', 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 36,  // header
                           0, 17, 0, 0, 0, 0, 0, 28,                                                  // kTcpListen
                           2, 0, 0x13, 0x88, 0, 0, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0, 0, 0, 16});
    EXPECT_EQ(img, golden);
}

TEST(StackImage, RecordsGoThroughAndBack) {
    const auto sndq = B({1, 2, 3, 4, 5}), rcvq = B({9, 8});
    image::TcpRecord t;
    t.local = ep4(1, 5000);
    t.peer = ep4(2, 40000);
    t.snd_seq = 0x11223344;
    t.rcv_seq = 0xfffffff0;
    t.mss = 1448;
    t.snd_wscale = 7;
    t.rcv_wscale = 9;
    t.options = image::kOptTimestamps | image::kOptSack | image::kOptWscale;
    t.timestamp = 123456;
    t.snd_wl1 = 1, t.snd_wnd = 2, t.max_window = 3, t.rcv_wnd = 4, t.rcv_wup = 5;
    t.unsent = 2;
    t.sndbuf = 87040, t.rcvbuf = 131072;
    t.sndq = sndq;
    t.rcvq = rcvq;
    image::ImageWriter w;
    w.add(image::UdpRecord{ep4(1, 53), {}});
    w.add(t);
    const auto img = w.finish();
    std::string err;
    auto v = image::ImageView::parse(img, &err);
    ASSERT_TRUE(v) << err;
    EXPECT_EQ(v->count(), 2u);
    std::vector<image::RecordType> types;
    v->for_each([&](image::RecordType type, std::span<const std::byte> p) {
        types.push_back(type);
        if (type == image::kUdp) {
            auto u = image::decode_udp(p);
            ASSERT_TRUE(u);
            EXPECT_EQ(u->local, ep4(1, 53));
            EXPECT_EQ(u->peer.family, 0);  // unconnected
        }
        if (type == image::kTcp) {
            auto r = image::decode_tcp(p);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->peer, ep4(2, 40000));
            EXPECT_EQ(r->snd_seq, 0x11223344u);
            EXPECT_EQ(r->rcv_seq, 0xfffffff0u);
            EXPECT_EQ(r->mss, 1448);
            EXPECT_EQ(r->snd_wscale, 7);
            EXPECT_EQ(r->rcv_wscale, 9);
            EXPECT_EQ(r->options, t.options);
            EXPECT_EQ(r->timestamp, 123456u);
            EXPECT_EQ(r->rcv_wup, 5u);
            EXPECT_EQ(r->unsent, 2u);
            EXPECT_EQ(r->sndbuf, 87040u);
            EXPECT_EQ(std::vector<std::byte>(r->sndq.begin(), r->sndq.end()), sndq);
            EXPECT_EQ(std::vector<std::byte>(r->rcvq.begin(), r->rcvq.end()), rcvq);
        }
    });
    EXPECT_EQ(types, (std::vector<image::RecordType>{image::kUdp, image::kTcp}));
}

TEST(StackImage, RefusesWhatIsNotAWholeImageOfOurVersion) {
    image::ImageWriter w;
    w.add(image::ListenRecord{ep4(1, 5000), 16});
    const auto good = w.finish();
    std::string err;
    auto newer = good;
    newer[9] = std::byte{2};
    EXPECT_FALSE(image::ImageView::parse(newer, &err));
    EXPECT_NE(err.find("version 2"), std::string::npos) << err;
    EXPECT_NE(err.find("newer"), std::string::npos) << err;
    auto magic = good;
    magic[0] = std::byte{'X'};
    EXPECT_FALSE(image::ImageView::parse(magic, &err));
    EXPECT_NE(err.find("magic"), std::string::npos);
    for (std::size_t cut = 1; cut < good.size(); cut++)
        EXPECT_FALSE(image::ImageView::parse(std::span(good).first(cut))) << cut;
    auto padded = good;
    padded.push_back(std::byte{0});
    EXPECT_FALSE(image::ImageView::parse(padded));
    auto count = good;
    count[15] = std::byte{2};
    EXPECT_FALSE(image::ImageView::parse(count, &err));
    EXPECT_NE(err.find("count"), std::string::npos);
    auto type = good;
    type[21] = std::byte{99};  // an unknown record type
    EXPECT_FALSE(image::ImageView::parse(type));
    auto family = good;
    family[28] = std::byte{7};  // not IPv4 or IPv6
    EXPECT_FALSE(image::ImageView::parse(family));
}

TEST(StackImage, RefusesTcpRecordsWhoseQueuesDoNotAddUp) {
    image::TcpRecord t;
    t.local = ep4(1, 1);
    t.peer = ep4(2, 2);
    const auto q = B({1, 2, 3});
    t.sndq = q;
    t.unsent = 3;
    image::ImageWriter w;
    w.add(t);
    auto img = w.finish();
    ASSERT_TRUE(image::ImageView::parse(img));
    auto bad = img;
    bad[20 + 8 + 91] = std::byte{4};  // unsent 4 > the 3-byte send queue
    EXPECT_FALSE(image::ImageView::parse(bad));
    bad = img;
    bad[20 + 8 + 95] = std::byte{4};  // the send queue longer than the record
    EXPECT_FALSE(image::ImageView::parse(bad));
    bad = img;
    bad[20 + 8 + 58] = std::byte{15};  // a window scale past 14
    EXPECT_FALSE(image::ImageView::parse(bad));
    bad = img;
    bad[20 + 8 + 24] = std::byte{10};  // a peer of another family
    EXPECT_FALSE(image::ImageView::parse(bad));
}

TEST(StackImage, TheStacksInterfacesAddressesAndRoutes) {
    image::ImageWriter w;
    w.add(image::InterfaceRecord{"vde0", {2, 0, 0, 0, 1, 1}, 1400, image::kIfUp});
    w.add(image::AddressRecord{"vde0", 2, 24, {10, 0, 0, 1}});
    image::RouteRecord r{"vde0", 10, 0, {}, {0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xfe}};
    w.add(r);
    const auto img = w.finish();
    // The interface record, byte for byte.
    const auto iface = B({0, 1, 0, 0, 0, 0, 0, 19, 2, 0, 0, 0, 1, 1, 0, 0, 5, 0x78, 0, 0, 0, 1, 4, 'v', 'd', 'e', '0'});
    EXPECT_TRUE(std::equal(iface.begin(), iface.end(), img.begin() + 20));
    auto v = image::ImageView::parse(img);
    ASSERT_TRUE(v);
    int n = 0;
    v->for_each([&](image::RecordType type, std::span<const std::byte> p) {
        n++;
        if (type == image::kInterface) EXPECT_EQ(image::decode_interface(p)->mtu, 1400u);
        if (type == image::kAddress) EXPECT_EQ(image::decode_address(p)->prefix, 24);
        if (type == image::kRoute) EXPECT_EQ(*image::decode_route(p), r);
    });
    EXPECT_EQ(n, 3);
    // Names: 1..15 bytes, ending the record, without NUL, '/' or blanks.
    for (std::size_t at : {std::size_t{22}, std::size_t{23}}) {
        auto bad = img;
        bad[20 + 8 + 14 + (at - 22)] = at == 22 ? std::byte{0} : std::byte{'/'};
        EXPECT_FALSE(image::ImageView::parse(bad)) << at;
    }
    EXPECT_FALSE(image::decode_address(B({2, 33, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})));  // /33
    EXPECT_FALSE(image::decode_route(B({7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})));  // family 7
}

TEST(StackImage, VnlsAndNeighbours) {
    image::ImageWriter w;
    w.add(image::VnlRecord{"vde0", "vxvde://234.0.0.1"});
    w.add(image::VnlRecord{"lo2", ""});  // a stack of loopback only
    image::NeighbourRecord nb{"vde0", 10, image::kNeighPermanent, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                              {2, 0, 0, 0, 0, 9}};
    w.add(nb);
    const auto img = w.finish();
    // The first VNL record, byte for byte.
    const auto vnl = B({0, 4, 0, 0, 0, 0, 0, 24, 0, 17, 'v', 'x', 'v', 'd', 'e', ':', '/', '/', '2', '3', '4', '.', '0',
                        '.', '0', '.', '1', 4, 'v', 'd', 'e', '0'});
    ASSERT_GE(img.size(), 20 + vnl.size());
    EXPECT_TRUE(std::equal(vnl.begin(), vnl.end(), img.begin() + 20));
    auto v = image::ImageView::parse(img);
    ASSERT_TRUE(v);
    std::vector<image::VnlRecord> vnls;
    std::vector<image::NeighbourRecord> neigh;
    v->for_each([&](image::RecordType type, std::span<const std::byte> p) {
        if (type == image::kVnl) vnls.push_back(*image::decode_vnl(p));
        if (type == image::kNeighbour) neigh.push_back(*image::decode_neighbour(p));
    });
    ASSERT_EQ(vnls.size(), 2u);
    EXPECT_EQ(vnls[0].vnl, "vxvde://234.0.0.1");
    EXPECT_EQ(vnls[1], (image::VnlRecord{"lo2", ""}));
    ASSERT_EQ(neigh.size(), 1u);
    EXPECT_EQ(neigh[0], nb);
    // A VNL length past the payload, a NUL in the VNL, an unknown flag.
    EXPECT_FALSE(image::decode_vnl(B({0, 9, 'a', 1, 'x'})));
    EXPECT_FALSE(image::decode_vnl(B({0, 1, 0, 1, 'x'})));
    EXPECT_TRUE(image::decode_vnl(B({0, 1, 'a', 1, 'x'})));
    auto bad = img;
    bad[20 + 32 + 14 + 8 + 1] = std::byte{2};  // the neighbour's flags
    EXPECT_FALSE(image::ImageView::parse(bad));
}

}  // namespace
