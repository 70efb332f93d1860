// ifaddrs.cpp - ioth_getifaddrs()'s two halves (api/ifaddrs_build.hpp)
// without a stack: build_ifaddrs() on hand-made rtnetlink dumps (what each
// entry holds, what is skipped, netmasks, statistics, errors), and
// getifaddrs_within() against a fake stack. The fake is this binary's own
// ioth_msocket & co. (the test defines struct ioth): a datagram socketpair
// whose far end answers each dump request with the datagrams the test
// scripted, so multi-part dumps, datagrams larger than any default buffer,
// error replies and a stack that never answers are all exercised.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "api/ifaddrs_build.hpp"
#include "ioth.h"
#include "support/proc.hpp"
#include "wire/netlink.hpp"

using Bytes = std::vector<std::byte>;

// The fake stack: what it answers to each dump, and what it saw.
struct ioth {
    std::vector<Bytes> link_replies, addr_replies;  // datagrams; seq 0 becomes the request's
    int msocket_errno = 0;                         // ioth_msocket fails with it
    bool no_peek = false;                          // MSG_PEEK|MSG_TRUNC fails (EOPNOTSUPP)
    int peer = -1;
    std::vector<Bytes> requests;
    int closes = 0;
};

namespace {
struct ioth* g_fake;  // the stack whose socket is open
}  // namespace

extern "C" int ioth_msocket(struct ioth* s, int domain, int type, int protocol) {
    if (s->msocket_errno != 0) {
        errno = s->msocket_errno;
        return -1;
    }
    EXPECT_EQ(domain, AF_NETLINK);
    EXPECT_EQ(type, SOCK_RAW | SOCK_CLOEXEC);
    EXPECT_EQ(protocol, NETLINK_ROUTE);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    int big = 1 << 20;
    ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    s->peer = sv[1];
    g_fake = s;
    return sv[0];
}
extern "C" int ioth_bind(int, const struct sockaddr* a, socklen_t l) {
    EXPECT_EQ(l, sizeof(sockaddr_nl));
    EXPECT_EQ(a->sa_family, AF_NETLINK);
    return 0;
}
extern "C" int ioth_setsockopt(int fd, int level, int name, const void* v, socklen_t l) {
    return ::setsockopt(fd, level, name, v, l);
}
extern "C" ssize_t ioth_send(int, const void* buf, size_t len, int) {
    const auto* p = static_cast<const std::byte*>(buf);
    g_fake->requests.emplace_back(p, p + len);
    const auto req = vdestack::wire::NlMsgView::parse(g_fake->requests.back());
    if (!req) {
        errno = EINVAL;
        return -1;
    }
    for (Bytes d : req->type() == RTM_GETLINK ? g_fake->link_replies : g_fake->addr_replies) {
        for (const auto& m : vdestack::wire::NlMessages(d))
            if (m.seq() == 0) {
                const std::uint32_t seq = req->seq();
                std::memcpy(d.data() + (m.bytes().data() - d.data()) + offsetof(nlmsghdr, nlmsg_seq), &seq, 4);
            }
        EXPECT_EQ(::send(g_fake->peer, d.data(), d.size(), MSG_DONTWAIT), static_cast<ssize_t>(d.size()));
    }
    return static_cast<ssize_t>(len);
}
extern "C" ssize_t ioth_recv(int fd, void* buf, size_t len, int flags) {
    if (g_fake->no_peek && (flags & MSG_PEEK) != 0) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return ::recv(fd, buf, len, flags);
}
extern "C" int ioth_close(int fd) {
    g_fake->closes++;
    ::close(g_fake->peer);
    return ::close(fd);
}

namespace {

using vde::capi::build_ifaddrs;
using vde::capi::getifaddrs_within;

// ---- hand-made rtnetlink messages (host byte order) ------------------------

template <class T>
void put(Bytes& b, const T& v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + sizeof v);
}
void pad(Bytes& b) { b.resize(vdestack::wire::nl_align(b.size())); }

Bytes attr(std::uint16_t type, const void* data, std::size_t n) {
    Bytes b;
    put(b, static_cast<std::uint16_t>(4 + n));
    put(b, type);
    const auto* p = static_cast<const std::byte*>(data);
    b.insert(b.end(), p, p + n);
    pad(b);
    return b;
}
Bytes attr(std::uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
Bytes attr(std::uint16_t type, std::initializer_list<unsigned char> v) {
    const std::vector<unsigned char> bytes(v);
    return attr(type, bytes.data(), bytes.size());
}
Bytes ip(int family, const char* text) {
    unsigned char a[16];
    EXPECT_EQ(inet_pton(family, text, a), 1) << text;
    return Bytes(reinterpret_cast<std::byte*>(a), reinterpret_cast<std::byte*>(a) + (family == AF_INET ? 4 : 16));
}
Bytes attr(std::uint16_t type, const Bytes& payload) { return attr(type, payload.data(), payload.size()); }

template <class Head>
Bytes message(std::uint16_t type, const Head& head, std::initializer_list<Bytes> attrs, std::uint32_t seq = 0) {
    Bytes b;
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = NLM_F_MULTI;
    h.nlmsg_seq = seq;
    put(b, h);
    put(b, head);
    pad(b);
    for (const Bytes& a : attrs) b.insert(b.end(), a.begin(), a.end());
    const auto len = static_cast<std::uint32_t>(b.size());
    std::memcpy(b.data(), &len, 4);
    return b;
}
Bytes link(int index, unsigned flags, std::initializer_list<Bytes> attrs, unsigned short type = ARPHRD_ETHER) {
    ifinfomsg i{};
    i.ifi_type = type;
    i.ifi_index = index;
    i.ifi_flags = flags;
    return message(RTM_NEWLINK, i, attrs);
}
Bytes address(int family, int prefixlen, int index, std::initializer_list<Bytes> attrs) {
    ifaddrmsg a{};
    a.ifa_family = static_cast<unsigned char>(family);
    a.ifa_prefixlen = static_cast<unsigned char>(prefixlen);
    a.ifa_index = static_cast<unsigned>(index);
    return message(RTM_NEWADDR, a, attrs);
}
Bytes done(std::uint32_t seq = 0) { return message(NLMSG_DONE, 0, {}, seq); }
Bytes error(int err) {
    nlmsgerr e{};
    e.error = err;
    return message(NLMSG_ERROR, e, {});
}
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes b;
    for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
    return b;
}

const Bytes kLoLink = link(1, IFF_UP | IFF_LOOPBACK | IFF_RUNNING,
                           {attr(IFLA_IFNAME, "lo"), attr(IFLA_ADDRESS, {0, 0, 0, 0, 0, 0}),
                            attr(IFLA_BROADCAST, {0, 0, 0, 0, 0, 0})},
                           ARPHRD_LOOPBACK);
const Bytes kEthLink = link(2, IFF_UP | IFF_BROADCAST | IFF_MULTICAST,
                            {attr(IFLA_IFNAME, "eth0"), attr(IFLA_ADDRESS, {2, 0, 0, 0, 0, 1}),
                             attr(IFLA_BROADCAST, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff})});

// ---- reading the list -----------------------------------------------------

struct List {
    struct ifaddrs* head = nullptr;
    List() = default;
    List(const List&) = delete;
    List& operator=(const List&) = delete;
    ~List() { ioth_freeifaddrs(head); }
    [[nodiscard]] std::vector<const struct ifaddrs*> entries() const {
        std::vector<const struct ifaddrs*> v;
        for (const struct ifaddrs* i = head; i != nullptr; i = i->ifa_next) v.push_back(i);
        return v;
    }
};

std::string text(const struct sockaddr* sa) {
    if (sa == nullptr) return "-";
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET) return inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    if (sa->sa_family == AF_INET6) {
        const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
        std::string t = inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
        return s6->sin6_scope_id != 0 ? t + "%" + std::to_string(s6->sin6_scope_id) : t;
    }
    if (sa->sa_family == AF_PACKET) {
        const auto* ll = reinterpret_cast<const sockaddr_ll*>(sa);
        std::string t = "#" + std::to_string(ll->sll_ifindex) + "/" + std::to_string(ll->sll_hatype) + ":";
        for (int i = 0; i < ll->sll_halen; i++) {
            char h[4];
            std::snprintf(h, sizeof h, "%02x", ll->sll_addr[i]);
            t += h;
        }
        return t;
    }
    return "?";
}
// "name addr netmask other", one string per entry.
std::vector<std::string> describe(const List& l) {
    std::vector<std::string> v;
    for (const struct ifaddrs* i : l.entries())
        v.push_back(std::string(i->ifa_name) + " " + text(i->ifa_addr) + " " + text(i->ifa_netmask) + " " +
                    text(i->ifa_broadaddr));
    return v;
}

// What build_ifaddrs() makes of two dumps, described; {"errno N"} when it fails.
std::vector<std::string> built(const Bytes& links, const Bytes& addrs) {
    List l;
    if (build_ifaddrs(links, addrs, &l.head) != 0) return {"errno " + std::to_string(errno)};
    return describe(l);
}

TEST(IfaddrsBuild, LinksThenAddressesInDumpOrder) {
    rtnl_link_stats stats{};
    stats.rx_packets = 7;
    stats.rx_nohandler = 9;
    const Bytes lo_with_stats = link(1, IFF_UP | IFF_LOOPBACK | IFF_RUNNING,
                                     {attr(IFLA_IFNAME, "lo"), attr(IFLA_ADDRESS, {0, 0, 0, 0, 0, 0}),
                                      attr(IFLA_STATS, &stats, sizeof stats)},
                                     ARPHRD_LOOPBACK);
    const Bytes links = cat({lo_with_stats, kEthLink, done()});
    const Bytes addrs = cat({
        address(AF_INET, 8, 1, {attr(IFA_ADDRESS, ip(AF_INET, "127.0.0.1")), attr(IFA_LOCAL, ip(AF_INET, "127.0.0.1"))}),
        address(AF_INET, 24, 2,
                {attr(IFA_ADDRESS, ip(AF_INET, "10.0.0.1")), attr(IFA_LOCAL, ip(AF_INET, "10.0.0.1")),
                 attr(IFA_BROADCAST, ip(AF_INET, "10.0.0.255")), attr(IFA_LABEL, "eth0")}),
        address(AF_INET6, 64, 2, {attr(IFA_ADDRESS, ip(AF_INET6, "fc00::1"))}),
        address(AF_INET6, 64, 2, {attr(IFA_ADDRESS, ip(AF_INET6, "fe80::1"))}),
        address(AF_INET6, 128, 1, {attr(IFA_ADDRESS, ip(AF_INET6, "::1"))}),
        done(),
    });
    List l;
    ASSERT_EQ(build_ifaddrs(links, addrs, &l.head), 0);
    EXPECT_EQ(describe(l), (std::vector<std::string>{
                               "lo #1/772:000000000000 - -",
                               "eth0 #2/1:020000000001 - #2/1:ffffffffffff",
                               "lo 127.0.0.1 255.0.0.0 127.0.0.1",  // loopback: ifa_dstaddr is IFA_ADDRESS
                               "eth0 10.0.0.1 255.255.255.0 10.0.0.255",
                               "eth0 fc00::1 ffff:ffff:ffff:ffff:: -",
                               "eth0 fe80::1%2 ffff:ffff:ffff:ffff:: -",
                               "lo ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff -",
                           }));
    const auto e = l.entries();
    EXPECT_EQ(e[0]->ifa_flags, unsigned{IFF_UP | IFF_LOOPBACK | IFF_RUNNING});
    ASSERT_NE(e[0]->ifa_data, nullptr);
    const auto* s = static_cast<const rtnl_link_stats*>(e[0]->ifa_data);
    EXPECT_EQ(s->rx_packets, 7u);
    EXPECT_EQ(s->rx_nohandler, 9u);
    EXPECT_EQ(e[1]->ifa_data, nullptr);  // no IFLA_STATS
    EXPECT_EQ(e[1]->ifa_flags, unsigned{IFF_UP | IFF_BROADCAST | IFF_MULTICAST});
    EXPECT_EQ(e[3]->ifa_flags, e[1]->ifa_flags);  // an address has its link's flags
    EXPECT_EQ(e[3]->ifa_data, nullptr);
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(e[1]->ifa_addr);
    EXPECT_EQ(ll->sll_family, AF_PACKET);
    EXPECT_EQ(ll->sll_halen, 6);
    EXPECT_EQ(ll->sll_protocol, 0);
    EXPECT_NE(e[3]->ifa_name, e[1]->ifa_name);  // each node its own name
}

TEST(IfaddrsBuild, SkipsWhatLacksItsParts) {
    const Bytes links = cat({
        link(3, IFF_UP, {attr(IFLA_IFNAME, "tun0")}, ARPHRD_NONE),                            // no address
        link(4, IFF_UP, {attr(IFLA_ADDRESS, {2, 0, 0, 0, 0, 4})}),                            // no name
        link(5, IFF_UP, {attr(IFLA_IFNAME, "ip6tnl0"), attr(IFLA_ADDRESS, ip(AF_INET6, "::"))}),  // 16 > 8 bytes
        link(6, IFF_UP, {attr(IFLA_IFNAME, "ib0"), attr(IFLA_ADDRESS, {1, 2, 3, 4, 5, 6, 7, 8})}),  // 8: fits
        link(7, IFF_UP, {attr(IFLA_IFNAME, "e0"), attr(IFLA_ADDRESS, nullptr, 0)}),           // empty address
        message(RTM_NEWLINK, std::uint32_t{0}, {}),                                           // short ifinfomsg
        message(RTM_NEWROUTE, ifinfomsg{}, {attr(IFLA_IFNAME, "x"), attr(IFLA_ADDRESS, {1})}),  // not a link
        message(NLMSG_NOOP, 0, {}),
        kEthLink,
    });
    const Bytes addrs = cat({
        address(AF_INET, 24, 3, {attr(IFA_ADDRESS, ip(AF_INET, "10.3.0.1"))}),   // its link is not listed
        address(AF_INET, 24, 99, {attr(IFA_ADDRESS, ip(AF_INET, "10.9.0.1"))}),  // no such link
        address(AF_PACKET, 24, 2, {attr(IFA_ADDRESS, ip(AF_INET, "10.2.0.1"))}),
        address(AF_INET, 24, 2, {attr(IFA_ADDRESS, ip(AF_INET6, "fc00::2"))}),   // 16 bytes for AF_INET
        address(AF_INET6, 64, 2, {attr(IFA_ADDRESS, ip(AF_INET, "10.2.0.2"))}),  // 4 bytes for AF_INET6
        address(AF_INET, 24, 2, {attr(IFA_LOCAL, ip(AF_INET, "10.2.0.3"))}),     // no IFA_ADDRESS on Ethernet
        message(RTM_NEWADDR, std::uint32_t{2}, {}),                                // short ifaddrmsg
        address(AF_INET, 24, 6, {attr(IFA_ADDRESS, ip(AF_INET, "10.6.0.1"))}),
    });
    EXPECT_EQ(built(links, addrs), (std::vector<std::string>{
                               "ib0 #6/1:0102030405060708 - -",
                               "eth0 #2/1:020000000001 - #2/1:ffffffffffff",
                               "ib0 10.6.0.1 255.255.255.0 -",
                           }));
}

TEST(IfaddrsBuild, PointToPointAndLoopbackTakeTheLocalAddress) {
    const Bytes links = cat({
        link(8, IFF_UP | IFF_POINTOPOINT, {attr(IFLA_IFNAME, "gre1"), attr(IFLA_ADDRESS, {10, 8, 0, 1})}, ARPHRD_IPGRE),
        kLoLink,
    });
    const Bytes addrs = cat({
        address(AF_INET, 32, 8, {attr(IFA_ADDRESS, ip(AF_INET, "10.8.0.2")), attr(IFA_LOCAL, ip(AF_INET, "10.8.0.1"))}),
        address(AF_INET6, 128, 8, {attr(IFA_ADDRESS, ip(AF_INET6, "fc00::8:2")), attr(IFA_LOCAL, ip(AF_INET6, "fc00::8:1"))}),
        address(AF_INET, 32, 8, {attr(IFA_ADDRESS, ip(AF_INET, "10.8.0.9"))}),  // no IFA_LOCAL: skipped
        address(AF_INET6, 64, 8, {attr(IFA_LOCAL, ip(AF_INET6, "fe80::8"))}),   // no peer: none given
        // Loopback: IPv4 takes IFA_LOCAL, IPv6 IFA_ADDRESS.
        address(AF_INET, 8, 1, {attr(IFA_ADDRESS, ip(AF_INET, "127.0.0.9")), attr(IFA_LOCAL, ip(AF_INET, "127.0.0.1"))}),
        address(AF_INET6, 128, 1, {attr(IFA_ADDRESS, ip(AF_INET6, "::1")), attr(IFA_LOCAL, ip(AF_INET6, "::2"))}),
    });
    EXPECT_EQ(built(links, addrs), (std::vector<std::string>{
                               "gre1 #8/778:0a080001 - -",
                               "lo #1/772:000000000000 - #1/772:000000000000",
                               "gre1 10.8.0.1 255.255.255.255 10.8.0.2",
                               "gre1 fc00::8:1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff fc00::8:2",
                               "gre1 fe80::8%8 ffff:ffff:ffff:ffff:: -",
                               "lo 127.0.0.1 255.0.0.0 127.0.0.9",
                               "lo ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff -",
                           }));
}

TEST(IfaddrsBuild, NetmasksOfEveryPrefixLengthAndScopes) {
    const Bytes links = cat({kEthLink});
    std::vector<std::pair<int, std::string>> want4 = {{0, "0.0.0.0"}, {1, "128.0.0.0"}, {9, "255.128.0.0"},
                                                      {31, "255.255.255.254"}, {32, "255.255.255.255"},
                                                      {40, "255.255.255.255"}};
    std::vector<std::pair<int, std::string>> want6 = {{0, "::"}, {7, "fe00::"}, {64, "ffff:ffff:ffff:ffff::"},
                                                      {127, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
                                                      {200, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}};
    Bytes addrs;
    for (const auto& [len, mask] : want4) {
        const Bytes m = address(AF_INET, len, 2, {attr(IFA_ADDRESS, ip(AF_INET, "10.0.0.1"))});
        addrs.insert(addrs.end(), m.begin(), m.end());
    }
    for (const auto& [len, mask] : want6) {
        const Bytes m = address(AF_INET6, len, 2, {attr(IFA_ADDRESS, ip(AF_INET6, "ff02::1"))});
        addrs.insert(addrs.end(), m.begin(), m.end());
    }
    const Bytes m = address(AF_INET6, 10, 2, {attr(IFA_ADDRESS, ip(AF_INET6, "ff05::1"))});  // site-local multicast
    addrs.insert(addrs.end(), m.begin(), m.end());
    List l;
    ASSERT_EQ(build_ifaddrs(links, addrs, &l.head), 0);
    const auto e = l.entries();
    ASSERT_EQ(e.size(), 1 + want4.size() + want6.size() + 1);
    for (std::size_t i = 0; i < want4.size(); i++) EXPECT_EQ(text(e[1 + i]->ifa_netmask), want4[i].second) << want4[i].first;
    for (std::size_t i = 0; i < want6.size(); i++) {
        const auto* a = e[1 + want4.size() + i];
        EXPECT_EQ(text(a->ifa_netmask), want6[i].second) << want6[i].first;
        EXPECT_EQ(text(a->ifa_addr), "ff02::1%2");  // link-local multicast: scoped
    }
    EXPECT_EQ(text(e.back()->ifa_addr), "ff05::1");
}

TEST(IfaddrsBuild, StatisticsOfAnySizeAndNamesOfAnyLength) {
    const std::uint32_t two[2] = {11, 12};
    std::vector<std::uint32_t> longer(sizeof(rtnl_link_stats) / 4 + 3, 5);
    const std::string name(40, 'n');
    const Bytes links = cat({
        link(1, 0, {attr(IFLA_IFNAME, "short"), attr(IFLA_ADDRESS, {1}), attr(IFLA_STATS, two, sizeof two)}),
        link(2, 0, {attr(IFLA_IFNAME, "long"), attr(IFLA_ADDRESS, {2}), attr(IFLA_STATS, longer.data(), longer.size() * 4)}),
        link(3, 0, {attr(IFLA_IFNAME, "none"), attr(IFLA_ADDRESS, {3}), attr(IFLA_STATS, nullptr, 0)}),
        link(4, 0, {attr(IFLA_IFNAME, name), attr(IFLA_ADDRESS, {4})}),
        link(5, 0, {attr(IFLA_IFNAME, "nonul", 5), attr(IFLA_ADDRESS, {5})}),
    });
    List l;
    ASSERT_EQ(build_ifaddrs(links, {}, &l.head), 0);
    const auto e = l.entries();
    ASSERT_EQ(e.size(), 5u);
    const auto* s = static_cast<const rtnl_link_stats*>(e[0]->ifa_data);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->rx_packets, 11u);
    EXPECT_EQ(s->tx_packets, 12u);
    EXPECT_EQ(s->rx_bytes, 0u);  // the stack's are shorter: zeros
    EXPECT_EQ(s->rx_nohandler, 0u);
    s = static_cast<const rtnl_link_stats*>(e[1]->ifa_data);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->rx_nohandler, 5u);
    EXPECT_EQ(e[2]->ifa_data, nullptr);
    EXPECT_EQ(e[3]->ifa_name, name);
    EXPECT_STREQ(e[4]->ifa_name, "nonul");
}

TEST(IfaddrsBuild, ErrorsLeaveNoList) {
    List l;
    errno = 0;
    const Bytes links = cat({kLoLink, kEthLink, done()});
    EXPECT_EQ(build_ifaddrs(links, cat({address(AF_INET, 8, 1, {attr(IFA_LOCAL, ip(AF_INET, "127.0.0.1"))}), error(-EPERM)}), &l.head), -1);
    EXPECT_EQ(errno, EPERM);
    EXPECT_EQ(l.head, nullptr);
    EXPECT_EQ(build_ifaddrs(cat({kLoLink, error(0)}), {}, &l.head), -1);  // an ack is no answer
    EXPECT_EQ(errno, EIO);
    EXPECT_EQ(build_ifaddrs(cat({kLoLink, message(NLMSG_ERROR, 0, {})}), {}, &l.head), -1);  // too short for nlmsgerr
    EXPECT_EQ(errno, EIO);
    Bytes cut = links;
    cut.resize(kLoLink.size() + 20);
    EXPECT_EQ(build_ifaddrs(cut, {}, &l.head), -1);
    EXPECT_EQ(errno, EPROTO);
    EXPECT_EQ(l.head, nullptr);
    EXPECT_EQ(build_ifaddrs(links, {}, nullptr), -1);
    EXPECT_EQ(errno, EINVAL);

    // What follows NLMSG_DONE is not read: neither a link nor garbage.
    Bytes after = cat({kLoLink, done(), kEthLink});
    after.push_back(std::byte{1});
    ASSERT_EQ(build_ifaddrs(after, {}, &l.head), 0);
    EXPECT_EQ(describe(l), (std::vector<std::string>{"lo #1/772:000000000000 - #1/772:000000000000"}));
    ioth_freeifaddrs(std::exchange(l.head, nullptr));
    ASSERT_EQ(build_ifaddrs({}, {}, &l.head), 0);
    EXPECT_EQ(l.head, nullptr);
    ioth_freeifaddrs(nullptr);
}

// ---- the dialog, against the fake stack -----------------------------------

constexpr std::chrono::milliseconds kShort{300};

TEST(IfaddrsDialog, MultiPartDumpsAndADatagramLargerThanTheBuffers) {
    struct ioth fake;
    // 400 links in one datagram (about 100 KiB), then one more with a foreign
    // message and NLMSG_DONE in a second datagram.
    Bytes big;
    rtnl_link_stats stats{};
    for (int i = 0; i < 400; i++) {
        const Bytes l = link(100 + i, IFF_UP | IFF_BROADCAST,
                             {attr(IFLA_IFNAME, "veth" + std::to_string(i)),
                              attr(IFLA_ADDRESS, {2, 0, 0, 0, static_cast<unsigned char>(i >> 8), static_cast<unsigned char>(i)}),
                              attr(IFLA_STATS, &stats, sizeof stats), attr(IFLA_IFALIAS, std::string(60, 'a'))});
        big.insert(big.end(), l.begin(), l.end());
    }
    ASSERT_GT(big.size(), 64u * 1024);
    Bytes foreign = kEthLink;
    const std::uint32_t other_seq = 77;
    std::memcpy(foreign.data() + offsetof(nlmsghdr, nlmsg_seq), &other_seq, 4);
    fake.link_replies = {big, cat({foreign, kLoLink}), done()};
    fake.addr_replies = {cat({address(AF_INET, 24, 1, {attr(IFA_LOCAL, ip(AF_INET, "127.0.0.1"))}),
                              address(AF_INET6, 64, 399 + 100, {attr(IFA_ADDRESS, ip(AF_INET6, "fc00::399"))})}),
                         cat({done(), kEthLink})};  // after DONE: not part of the dump
    const int fds = vdetest::count_fds();
    List l;
    ASSERT_EQ(getifaddrs_within(&fake, &l.head, kShort), 0) << strerror(errno);
    const auto d = describe(l);
    ASSERT_EQ(d.size(), 403u);
    EXPECT_EQ(d[0], "veth0 #100/1:020000000000 - -");
    EXPECT_EQ(d[399], "veth399 #499/1:02000000018f - -");
    EXPECT_EQ(d[400], "lo #1/772:000000000000 - #1/772:000000000000");  // not eth0: its seq was not ours
    EXPECT_EQ(d[401], "lo 127.0.0.1 255.255.255.0 -");
    EXPECT_EQ(d[402], "veth399 fc00::399 ffff:ffff:ffff:ffff:: -");
    EXPECT_EQ(fake.closes, 1);
    EXPECT_EQ(vdetest::count_fds(), fds);

    // The two requests: dumps of every family.
    ASSERT_EQ(fake.requests.size(), 2u);
    const std::uint16_t types[] = {RTM_GETLINK, RTM_GETADDR};
    const std::size_t sizes[] = {sizeof(nlmsghdr) + sizeof(ifinfomsg), sizeof(nlmsghdr) + sizeof(ifaddrmsg)};
    for (int i = 0; i < 2; i++) {
        const auto r = vdestack::wire::NlMsgView::parse(fake.requests[i]);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->size(), sizes[i]);
        EXPECT_EQ(fake.requests[i].size(), sizes[i]);
        EXPECT_EQ(r->type(), types[i]);
        EXPECT_EQ(r->flags(), NLM_F_REQUEST | NLM_F_DUMP);
        EXPECT_EQ(std::to_integer<int>(r->payload()[0]), AF_UNSPEC);
    }
    EXPECT_NE(vdestack::wire::NlMsgView::parse(fake.requests[0])->seq(),
              vdestack::wire::NlMsgView::parse(fake.requests[1])->seq());
}

TEST(IfaddrsDialog, AStackThatCannotPeekGetsTheDefaultBuffer) {
    struct ioth fake;
    fake.no_peek = true;
    fake.link_replies = {cat({kLoLink, kEthLink, done()})};
    fake.addr_replies = {done()};
    List l;
    ASSERT_EQ(getifaddrs_within(&fake, &l.head, kShort), 0) << strerror(errno);
    EXPECT_EQ(describe(l).size(), 2u);
}

TEST(IfaddrsDialog, ErrorsOfTheStack) {
    struct ioth refused;
    refused.link_replies = {cat({kLoLink, done()})};
    refused.addr_replies = {error(-EACCES)};
    List l;
    EXPECT_EQ(getifaddrs_within(&refused, &l.head, kShort), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_EQ(l.head, nullptr);
    EXPECT_EQ(refused.closes, 1);

    struct ioth garbled;
    Bytes cut = kLoLink;
    cut.resize(cut.size() - 1);
    garbled.link_replies = {cat({kEthLink}), cut};
    EXPECT_EQ(getifaddrs_within(&garbled, &l.head, kShort), -1);
    EXPECT_EQ(errno, EPROTO);
    EXPECT_EQ(garbled.closes, 1);

    struct ioth nosocket;
    nosocket.msocket_errno = EAFNOSUPPORT;
    EXPECT_EQ(getifaddrs_within(&nosocket, &l.head, kShort), -1);
    EXPECT_EQ(errno, EAFNOSUPPORT);
    EXPECT_EQ(getifaddrs_within(&nosocket, nullptr, kShort), -1);
    EXPECT_EQ(errno, EINVAL);
}

TEST(IfaddrsDialog, AStackThatNeverAnswersTimesOut) {
    for (bool half : {false, true}) {
        SCOPED_TRACE(half);
        struct ioth silent;
        if (half) silent.link_replies = {kLoLink};  // a dump that never ends
        const int fds = vdetest::count_fds();
        List l;
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(getifaddrs_within(&silent, &l.head, kShort), -1);
        EXPECT_EQ(errno, ETIMEDOUT);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 4 * kShort);
        EXPECT_EQ(l.head, nullptr);
        EXPECT_EQ(vdetest::count_fds(), fds);
    }
}

}  // namespace
