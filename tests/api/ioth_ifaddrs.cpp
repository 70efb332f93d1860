// ioth_ifaddrs.cpp - ioth_getifaddrs() / ioth_freeifaddrs() on real stacks,
// in the private netns of netns_main.cpp: a vdestack's lo and vde0 with
// the addresses given through ioth_ipaddr_add (the AF_PACKET entry carries
// ioth_linkgetaddr's MAC), and the kernel stack's list, entry for entry,
// against glibc's getifaddrs() in the same namespace.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "ioth.h"
#include "support/proc.hpp"

namespace {

// An address as text: numeric host (with %scope for a scoped IPv6 one),
// or "ifindex/hatype/mac" for AF_PACKET.
std::string addr_text(const struct sockaddr* sa) {
    if (sa == nullptr) return "none";
    if (sa->sa_family == AF_PACKET) {
        const auto* ll = reinterpret_cast<const sockaddr_ll*>(sa);
        char mac[MAC_ADDRSTRLEN] = "";
        if (ll->sll_halen == 6) ioth_ntomac(ll->sll_addr, mac, sizeof mac);
        return std::to_string(ll->sll_ifindex) + "/" + std::to_string(ll->sll_hatype) + "/" +
               std::to_string(ll->sll_halen) + "/" + mac;
    }
    const socklen_t len = sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    char host[NI_MAXHOST];
    if (getnameinfo(sa, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) return "bad";
    if (sa->sa_family == AF_INET6) {
        const auto scope = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_scope_id;
        std::string h = host;
        return h.substr(0, h.find('%')) + (scope != 0 ? "%" + std::to_string(scope) : "");
    }
    return host;
}

// The entries we compare with glibc's: name, family, flags, address, netmask
// (and the hardware broadcast address; an IPv4 ifa_broadaddr differs by
// design: glibc gives the address itself when the stack gives none).
std::multiset<std::string> entries(const struct ifaddrs* list) {
    std::set<std::string> links;
    for (const struct ifaddrs* i = list; i != nullptr; i = i->ifa_next)
        if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_PACKET &&
            reinterpret_cast<const sockaddr_ll*>(i->ifa_addr)->sll_halen <= 8)
            links.insert(i->ifa_name);
    std::multiset<std::string> out;
    for (const struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || links.count(i->ifa_name) == 0) continue;
        const int family = i->ifa_addr->sa_family;
        std::string e = std::string(i->ifa_name) + " " + std::to_string(family) + " " + std::to_string(i->ifa_flags) +
                        " " + addr_text(i->ifa_addr) + " " + addr_text(i->ifa_netmask);
        if (family == AF_PACKET) {
            if (reinterpret_cast<const sockaddr_ll*>(i->ifa_addr)->sll_halen > 8) continue;
            e += " " + addr_text(i->ifa_broadaddr) + (i->ifa_data != nullptr ? " stats" : " nostats");
        } else if (family != AF_INET && family != AF_INET6) {
            continue;
        }
        out.insert(e);
    }
    return out;
}

const struct ifaddrs* find(const struct ifaddrs* l, const char* name, int family, const char* addr = nullptr) {
    for (; l != nullptr; l = l->ifa_next)
        if (std::strcmp(l->ifa_name, name) == 0 && l->ifa_addr != nullptr && l->ifa_addr->sa_family == family &&
            (addr == nullptr || addr_text(l->ifa_addr) == addr))
            return l;
    return nullptr;
}

void add_address(struct ioth* s, int ifindex, int family, const char* text, int prefixlen) {
    unsigned char a[16];
    ASSERT_EQ(inet_pton(family, text, a), 1) << text;
    ASSERT_EQ(ioth_ipaddr_add(s, family, a, prefixlen, ifindex), 0) << text << ": " << strerror(errno);
}

TEST(IothIfaddrs, AVdestackListsLoAndVde0WithTheirAddresses) {
    struct ioth* s = ioth_newstack("vdestack", "vxvde://234.0.0.1");
    ASSERT_NE(s, nullptr) << strerror(errno);
    const int vde0 = ioth_if_nametoindex(s, "vde0");
    const int lo = ioth_if_nametoindex(s, "lo");
    ASSERT_GT(vde0, 0);
    ASSERT_GT(lo, 0);
    add_address(s, vde0, AF_INET, "10.0.21.1", 24);
    add_address(s, vde0, AF_INET6, "fc00::21:1", 64);
    ASSERT_EQ(ioth_linksetupdown(s, vde0, 1), 0);
    ASSERT_EQ(ioth_linksetupdown(s, lo, 1), 0);
    unsigned char mac[6];
    ASSERT_EQ(ioth_linkgetaddr(s, vde0, mac), 0);
    const int fds = vdetest::quiet_fds();

    struct ifaddrs* l = nullptr;
    ASSERT_EQ(ioth_getifaddrs(s, &l), 0) << strerror(errno);
    const struct ifaddrs* p = find(l, "vde0", AF_PACKET);
    ASSERT_NE(p, nullptr);
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(p->ifa_addr);
    EXPECT_EQ(ll->sll_ifindex, vde0);
    ASSERT_EQ(ll->sll_halen, 6);
    EXPECT_EQ(std::memcmp(ll->sll_addr, mac, 6), 0);
    EXPECT_NE(p->ifa_flags & IFF_UP, 0u);
    EXPECT_NE(p->ifa_data, nullptr);
    EXPECT_EQ(addr_text(p->ifa_broadaddr), std::to_string(vde0) + "/1/6/ff:ff:ff:ff:ff:ff");
    p = find(l, "lo", AF_PACKET);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->ifa_flags & IFF_LOOPBACK, 0u);

    p = find(l, "vde0", AF_INET);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr_text(p->ifa_addr), "10.0.21.1");
    EXPECT_EQ(addr_text(p->ifa_netmask), "255.255.255.0");
    EXPECT_EQ(p->ifa_flags, find(l, "vde0", AF_PACKET)->ifa_flags);
    p = find(l, "vde0", AF_INET6, "fc00::21:1");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr_text(p->ifa_netmask), "ffff:ffff:ffff:ffff::");
    p = find(l, "lo", AF_INET);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr_text(p->ifa_addr), "127.0.0.1");
    EXPECT_EQ(addr_text(p->ifa_netmask), "255.0.0.0");
    EXPECT_NE(find(l, "lo", AF_INET6, "::1"), nullptr);
    ioth_freeifaddrs(l);

    // vde0's link-local address, once the stack has made it, is scoped to vde0.
    const std::string scoped = "%" + std::to_string(vde0);
    EXPECT_TRUE(vdetest::eventually([&] {
        struct ifaddrs* again = nullptr;
        if (ioth_getifaddrs(s, &again) != 0) return false;
        bool found = false;
        for (const struct ifaddrs* i = again; i != nullptr; i = i->ifa_next)
            if (find(i, "vde0", AF_INET6) == i && addr_text(i->ifa_addr).starts_with("fe80::") &&
                addr_text(i->ifa_addr).ends_with(scoped))
                found = true;
        ioth_freeifaddrs(again);
        return found;
    }));
    EXPECT_EQ(vdetest::settled(vdetest::count_fds, fds), fds);  // the netlink socket is closed
    EXPECT_EQ(ioth_delstack(s), 0);        // and no longer counts for EBUSY
}

TEST(IothIfaddrs, TheKernelStackAgreesWithGlibc) {
    // A veth pair beside lo when the kernel has it (this is our private netns).
    const bool veth = std::system("ip link add ifa0 type veth peer name ifa1 2>/dev/null && ip link set ifa1 up") == 0;
    struct ioth* k = ioth_newstack("kernel", nullptr);
    ASSERT_NE(k, nullptr);
    const int lo = ioth_if_nametoindex(k, "lo");
    ASSERT_GT(lo, 0);
    add_address(k, lo, AF_INET, "10.0.23.1", 16);
    if (veth) {
        const int ifa0 = ioth_if_nametoindex(k, "ifa0");
        ASSERT_GT(ifa0, 0);
        add_address(k, ifa0, AF_INET, "10.0.22.1", 24);
        add_address(k, ifa0, AF_INET6, "fc00::22:1", 64);
        ASSERT_EQ(ioth_linksetupdown(k, ifa0, 1), 0);
    }
    std::multiset<std::string> ours, theirs;
    // Flags and addresses settle (carrier, link-local): compare until both agree.
    EXPECT_TRUE(vdetest::eventually([&] {
        struct ifaddrs *a = nullptr, *b = nullptr;
        if (ioth_getifaddrs(k, &a) != 0 || getifaddrs(&b) != 0) return false;
        ours = entries(a);
        theirs = entries(b);
        ioth_freeifaddrs(a);
        freeifaddrs(b);
        return ours == theirs;
    }));
    EXPECT_EQ(ours, theirs);
    auto has = [&](const std::string& prefix) {
        return std::any_of(ours.begin(), ours.end(), [&](const std::string& e) { return e.starts_with(prefix); });
    };
    EXPECT_TRUE(has("lo " + std::to_string(AF_PACKET)));
    EXPECT_TRUE(has("lo " + std::to_string(AF_INET) + " "));
    EXPECT_EQ(std::count_if(ours.begin(), ours.end(),
                            [](const std::string& e) {
                                return e.starts_with("lo " + std::to_string(AF_INET) + " ") &&
                                       e.ends_with(" 10.0.23.1 255.255.0.0");
                            }),
              1);
    if (veth) {
        EXPECT_TRUE(has("ifa0 " + std::to_string(AF_PACKET)));
        EXPECT_TRUE(has("ifa1 " + std::to_string(AF_PACKET)));
        struct ifaddrs* l = nullptr;
        ASSERT_EQ(ioth_getifaddrs(nullptr, &l), 0);  // the default stack: the kernel's
        const struct ifaddrs* v4 = find(l, "ifa0", AF_INET, "10.0.22.1");
        ASSERT_NE(v4, nullptr);
        EXPECT_EQ(addr_text(v4->ifa_netmask), "255.255.255.0");
        const struct ifaddrs* v6 = find(l, "ifa0", AF_INET6, "fc00::22:1");
        ASSERT_NE(v6, nullptr);
        EXPECT_EQ(addr_text(v6->ifa_netmask), "ffff:ffff:ffff:ffff::");
        ioth_freeifaddrs(l);
    } else {
        std::fprintf(stderr, "no veth in this kernel: lo only\n");
    }
    EXPECT_EQ(ioth_delstack(k), 0);
}

TEST(IothIfaddrs, ErrorsAndAStackWithoutInterfaces) {
    errno = 0;
    EXPECT_EQ(ioth_getifaddrs(nullptr, nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
    ioth_freeifaddrs(nullptr);
    // A stack without a VNL has lo alone.
    struct ioth* s = ioth_newstack("vdestack", nullptr);
    ASSERT_NE(s, nullptr);
    struct ifaddrs* l = nullptr;
    ASSERT_EQ(ioth_getifaddrs(s, &l), 0) << strerror(errno);
    ASSERT_NE(l, nullptr);
    EXPECT_NE(find(l, "lo", AF_PACKET), nullptr);
    for (const struct ifaddrs* i = l; i != nullptr; i = i->ifa_next) EXPECT_STREQ(i->ifa_name, "lo");
    ioth_freeifaddrs(l);
    EXPECT_EQ(ioth_delstack(s), 0);
}

}  // namespace
