// netlink.cpp - the checked netlink views of wire/netlink.hpp on golden
// bytes (host byte order: written for a little-endian host, skipped on
// others): the message walk and its alignment, attributes, the ifinfomsg /
// ifaddrmsg / nlmsgerr payloads, and every length they refuse.
#include <gtest/gtest.h>
#include <net/if_arp.h>
#include <net/if.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "wire/netlink.hpp"

namespace {

using vdestack::wire::IfAddrView;
using vdestack::wire::NdMsgView;
using vdestack::wire::IfInfoView;
using vdestack::wire::NlAttrs;
using vdestack::wire::NlAttrView;
using vdestack::wire::NlErrorView;
using vdestack::wire::NlMessages;
using vdestack::wire::NlMsgView;

// "14 00 10 00 ..." -> bytes.
std::vector<std::byte> hex(const std::string& text) {
    std::vector<std::byte> out;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] == ' ' || text[i] == '\n') {
            i++;
            continue;
        }
        out.push_back(static_cast<std::byte>(std::stoi(text.substr(i, 2), nullptr, 16)));
        i += 2;
    }
    return out;
}
std::span<const std::byte> first(const std::vector<std::byte>& b, std::size_t n) {
    return std::span<const std::byte>(b).first(n);
}
std::size_t count(const NlMessages& m) {
    std::size_t n = 0;
    for (auto it = m.begin(); it != m.end(); ++it) n++;
    return n;
}
std::size_t count(const NlAttrs& a) {
    std::size_t n = 0;
    for (auto it = a.begin(); it != a.end(); ++it) n++;
    return n;
}

class Netlink : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::endian::native != std::endian::little) GTEST_SKIP() << "golden bytes in little-endian order";
    }
};

// An RTM_NEWLINK of 21 bytes (5 of payload, 3 of padding after it), then NLMSG_DONE.
const std::vector<std::byte> kTwo = hex(
    "15 00 00 00  10 00 02 00  01 00 00 00  34 12 00 00  61 62 63 64 65 00 00 00"
    "14 00 00 00  03 00 02 00  01 00 00 00  34 12 00 00  00 00 00 00");

TEST_F(Netlink, WalksMessagesAtTheirAlignment) {
    ASSERT_EQ(kTwo.size(), 44u);
    const NlMessages msgs(kTwo);
    auto it = msgs.begin();
    ASSERT_NE(it, msgs.end());
    EXPECT_EQ(it->size(), 21u);
    EXPECT_EQ(it->type(), RTM_NEWLINK);
    EXPECT_EQ(it->flags(), NLM_F_MULTI);
    EXPECT_EQ(it->seq(), 1u);
    EXPECT_EQ(it->pid(), 0x1234u);
    ASSERT_EQ(it->payload().size(), 5u);
    EXPECT_EQ(std::to_integer<char>(it->payload()[4]), 'e');
    ++it;
    ASSERT_NE(it, msgs.end());
    EXPECT_EQ(it->type(), NLMSG_DONE);
    EXPECT_EQ(it->payload().size(), 4u);
    ++it;
    EXPECT_EQ(it, msgs.end());
    EXPECT_TRUE(msgs.rest().empty());
}

TEST_F(Netlink, EveryCutOfTheBufferIsWholeMessagesOrARest) {
    for (std::size_t n = 0; n <= kTwo.size(); n++) {
        SCOPED_TRACE(n);
        const NlMessages msgs(first(kTwo, n));
        if (n < 21) {  // no whole first message
            EXPECT_EQ(count(msgs), 0u);
            EXPECT_EQ(msgs.rest().size(), n);
        } else if (n <= 24) {  // the first, its padding cut: nothing left over
            EXPECT_EQ(count(msgs), 1u);
            EXPECT_TRUE(msgs.rest().empty());
        } else if (n < 44) {  // the second is cut
            EXPECT_EQ(count(msgs), 1u);
            EXPECT_EQ(msgs.rest().size(), n - 24);
        } else {
            EXPECT_EQ(count(msgs), 2u);
            EXPECT_TRUE(msgs.rest().empty());
        }
    }
}

TEST_F(Netlink, RefusesLengthsBelowTheHeaderOrPastTheBuffer) {
    for (std::uint8_t len : {0, 1, 4, 15}) {
        auto b = kTwo;
        b[0] = std::byte{len};
        EXPECT_FALSE(NlMsgView::parse(b)) << int{len};
        EXPECT_EQ(count(NlMessages(b)), 0u);
        EXPECT_EQ(NlMessages(b).rest().size(), b.size());
    }
    auto b = kTwo;
    b[0] = std::byte{45};  // one past the buffer
    EXPECT_FALSE(NlMsgView::parse(b));
    b[0] = std::byte{44};  // all of it: the second message is its payload
    ASSERT_TRUE(NlMsgView::parse(b));
    EXPECT_EQ(count(NlMessages(b)), 1u);
    b = kTwo;
    b[3] = std::byte{0x80};  // 2 GiB
    EXPECT_FALSE(NlMsgView::parse(b));
    EXPECT_FALSE(NlMsgView::parse({}));
    const auto header_only = hex("10 00 00 00  03 00 00 00  00 00 00 00  00 00 00 00");
    ASSERT_TRUE(NlMsgView::parse(header_only));
    EXPECT_TRUE(NlMsgView::parse(header_only)->payload().empty());
}

// struct ifinfomsg: AF_UNSPEC, ARPHRD_ETHER, index 2, UP|BROADCAST|RUNNING|MULTICAST,
// change ~0; IFLA_IFNAME "eth0", IFLA_ADDRESS 02:00:00:00:00:01, IFLA_MTU 1500,
// an empty nested IFLA_AF_SPEC, and a second IFLA_MTU 9000.
const std::vector<std::byte> kLink = hex(
    "00 00 01 00  02 00 00 00  43 10 00 00  ff ff ff ff"
    "09 00 03 00  65 74 68 30  00 00 00 00"
    "0a 00 01 00  02 00 00 00  00 01 00 00"
    "08 00 04 00  dc 05 00 00"
    "04 00 1a 80"
    "08 00 04 00  28 23 00 00");

TEST_F(Netlink, ReadsIfinfomsgAndItsAttributes) {
    const auto info = IfInfoView::parse(kLink);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->family(), AF_UNSPEC);
    EXPECT_EQ(info->type(), ARPHRD_ETHER);
    EXPECT_EQ(info->index(), 2);
    EXPECT_EQ(info->flags(), unsigned{IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST});
    EXPECT_EQ(info->change(), 0xffffffffu);
    const NlAttrs attrs = info->attrs();
    EXPECT_EQ(count(attrs), 5u);
    EXPECT_TRUE(attrs.rest().empty());

    const auto name = attrs.find(IFLA_IFNAME);
    ASSERT_TRUE(name);
    EXPECT_EQ(name->size(), 9u);
    EXPECT_EQ(name->payload().size(), 5u);
    EXPECT_EQ(name->str(), "eth0");
    EXPECT_FALSE(name->u32());
    const auto addr = attrs.find(IFLA_ADDRESS);
    ASSERT_TRUE(addr);
    ASSERT_EQ(addr->payload().size(), 6u);
    EXPECT_EQ(std::to_integer<int>(addr->payload()[5]), 1);
    EXPECT_EQ(attrs.find(IFLA_MTU)->u32(), 9000u);  // the last one wins
    const auto spec = attrs.find(IFLA_AF_SPEC);
    ASSERT_TRUE(spec);
    EXPECT_TRUE(spec->nested());
    EXPECT_FALSE(spec->net_byteorder());
    EXPECT_EQ(spec->type(), IFLA_AF_SPEC);  // the flag masked off
    EXPECT_EQ(count(NlAttrs(spec->payload())), 0u);
    EXPECT_FALSE(attrs.find(IFLA_STATS));

    const auto table = attrs.index<IFLA_MTU + 1>();  // IFLA_AF_SPEC is past it
    EXPECT_FALSE(table[0]);
    EXPECT_EQ(table[IFLA_IFNAME]->str(), "eth0");
    EXPECT_EQ(table[IFLA_MTU]->u32(), 9000u);
}

TEST_F(Netlink, AStringWithoutNulIsAllItsPayload) {
    const auto b = hex("07 00 03 00  6c 6f 30 00");  // "lo0", no NUL within rta_len
    const auto a = NlAttrView::parse(b);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->str(), "lo0");
    EXPECT_EQ(a->size(), 7u);
    const auto empty = hex("04 00 03 00");
    EXPECT_EQ(NlAttrView::parse(empty)->str(), "");
}

TEST_F(Netlink, RefusesAttributeLengthsAndStopsAtACutOne) {
    const auto attrs = IfInfoView::parse(kLink)->attrs().bytes();
    ASSERT_EQ(attrs.size(), 44u);
    for (std::uint8_t len : {0, 1, 2, 3}) {
        std::vector<std::byte> b(attrs.begin(), attrs.end());
        b[0] = std::byte{len};
        EXPECT_FALSE(NlAttrView::parse(b)) << int{len};
        EXPECT_EQ(count(NlAttrs(b)), 0u);
        EXPECT_EQ(NlAttrs(b).rest().size(), b.size());
    }
    std::vector<std::byte> b(attrs.begin(), attrs.end());
    b[0] = std::byte{45};  // one past the bytes
    EXPECT_FALSE(NlAttrView::parse(b));
    b[1] = std::byte{1};  // 301
    EXPECT_FALSE(NlAttrView::parse(b));
    // Cut anywhere: the attributes whole before the cut (their padding may
    // be cut), then the rest from the aligned end of the last of them.
    const std::size_t ends[] = {9, 22, 32, 36, 44};
    for (std::size_t n = 0; n <= attrs.size(); n++) {
        SCOPED_TRACE(n);
        std::size_t whole = 0;
        while (whole < 5 && n >= ends[whole]) whole++;
        const std::size_t used = whole == 0 ? 0 : std::min(vdestack::wire::nl_align(ends[whole - 1]), n);
        const NlAttrs cut(attrs.first(n));
        EXPECT_EQ(count(cut), whole);
        EXPECT_EQ(cut.rest().size(), n - used);
        EXPECT_FALSE(cut.find(IFLA_STATS));
    }
    EXPECT_EQ(count(NlAttrs(std::span<const std::byte>{})), 0u);
}

TEST_F(Netlink, PayloadViewsRefuseShortStructs) {
    for (std::size_t n = 0; n < sizeof(ifinfomsg); n++) EXPECT_FALSE(IfInfoView::parse(first(kLink, n))) << n;
    const auto bare = IfInfoView::parse(first(kLink, 16));
    ASSERT_TRUE(bare);
    EXPECT_EQ(count(bare->attrs()), 0u);
    EXPECT_TRUE(bare->attrs().rest().empty());
    const auto cut = IfInfoView::parse(first(kLink, 18));  // half an attribute header
    ASSERT_TRUE(cut);
    EXPECT_EQ(count(cut->attrs()), 0u);
    EXPECT_EQ(cut->attrs().rest().size(), 2u);
}

// struct ifaddrmsg: AF_INET6, /64, IFA_F_PERMANENT, RT_SCOPE_LINK, index 3;
// IFA_ADDRESS fe80::1.
const std::vector<std::byte> kAddr = hex(
    "0a 40 80 fd  03 00 00 00"
    "14 00 01 00  fe 80 00 00  00 00 00 00  00 00 00 00  00 00 00 01");

TEST_F(Netlink, ReadsIfaddrmsg) {
    const auto a = IfAddrView::parse(kAddr);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family(), AF_INET6);
    EXPECT_EQ(a->prefixlen(), 64);
    EXPECT_EQ(a->flags(), IFA_F_PERMANENT);
    EXPECT_EQ(a->scope(), RT_SCOPE_LINK);
    EXPECT_EQ(a->index(), 3u);
    const auto addr = a->attrs().find(IFA_ADDRESS);
    ASSERT_TRUE(addr);
    EXPECT_EQ(addr->payload().size(), 16u);
    EXPECT_EQ(std::to_integer<int>(addr->payload()[0]), 0xfe);
    for (std::size_t n = 0; n < sizeof(ifaddrmsg); n++) EXPECT_FALSE(IfAddrView::parse(first(kAddr, n))) << n;
    EXPECT_FALSE(IfAddrView::parse(first(kAddr, 27))->attrs().find(IFA_ADDRESS));  // cut by one byte
}

// struct ndmsg: AF_INET, index 3, NUD_STALE, no flags, RTN_UNICAST;
// NDA_DST 10.0.0.1, NDA_LLADDR 02:00:00:00:00:09 (padded).
const std::vector<std::byte> kNeigh = hex(
    "02 00 00 00  03 00 00 00  04 00 00 01"
    "08 00 01 00  0a 00 00 01  0a 00 02 00  02 00 00 00  00 09 00 00");

TEST_F(Netlink, ReadsNdmsg) {
    const auto n = NdMsgView::parse(kNeigh);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->family(), AF_INET);
    EXPECT_EQ(n->index(), 3);
    EXPECT_EQ(n->state(), NUD_STALE);
    EXPECT_EQ(n->flags(), 0);
    EXPECT_EQ(n->type(), RTN_UNICAST);
    const auto ll = n->attrs().find(NDA_LLADDR);
    ASSERT_TRUE(ll);
    ASSERT_EQ(ll->payload().size(), 6u);
    EXPECT_EQ(std::to_integer<int>(ll->payload()[5]), 9);
    EXPECT_EQ(n->attrs().find(NDA_DST)->payload().size(), 4u);
    for (std::size_t k = 0; k < sizeof(ndmsg); k++) EXPECT_FALSE(NdMsgView::parse(first(kNeigh, k))) << k;
}

TEST_F(Netlink, ReadsNlmsgerr) {
    // error -EACCES, then the request's header (RTM_GETLINK, NLM_F_REQUEST|NLM_F_DUMP, seq 7).
    const auto b = hex("f3 ff ff ff  20 00 00 00  12 00 01 03  07 00 00 00  00 00 00 00");
    const auto e = NlErrorView::parse(b);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->error(), -EACCES);
    EXPECT_EQ(e->errno_value(), EACCES);
    EXPECT_EQ(e->request_type(), RTM_GETLINK);
    EXPECT_EQ(e->request_seq(), 7u);
    EXPECT_EQ(e->request().size(), 16u);
    EXPECT_FALSE(NlMsgView::parse(e->request()));  // its length is the request's, 32
    for (std::size_t n = 0; n < sizeof(nlmsgerr); n++) EXPECT_FALSE(NlErrorView::parse(first(b, n))) << n;

    auto ack = b;
    ack[0] = ack[1] = ack[2] = ack[3] = std::byte{0};
    EXPECT_EQ(NlErrorView::parse(ack)->errno_value(), 0);
    auto positive = b;
    positive[0] = std::byte{5};
    positive[1] = positive[2] = positive[3] = std::byte{0};
    EXPECT_EQ(NlErrorView::parse(positive)->errno_value(), EIO);
    auto huge = b;  // INT_MIN: no errno
    huge[0] = huge[1] = huge[2] = std::byte{0};
    huge[3] = std::byte{0x80};
    EXPECT_EQ(NlErrorView::parse(huge)->error(), INT_MIN);
    EXPECT_EQ(NlErrorView::parse(huge)->errno_value(), EIO);
}

}  // namespace
