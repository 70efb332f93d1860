// stack_nlinline.cpp - nlinline.h / nlinline+.h, compiled as C++
// (which proves the headers are valid C++), inside the private network
// namespace made by netns_main.cpp:
//   NlinlineStack: the functions NLINLINE_LIBMULTICOMP(vde_) generates, on
//     stacks of our libvdestack, each checked against the kernel's own view
//     (/bin/ip run in the stack by vde_stackcmd, its stdout captured), both
//     iproute call forms, kernel errors, the tutorial's net_setup with TCP
//     across two stacks, no fd leak over 1000 calls;
//   NlinlinePlain: the plain nlinline_* functions in this process's netns
//     (lo, a veth pair), never hanging on a missing answer;
//   NlinlineFake: NLINLINE_LIB / NLINLINE_LIBMULTI on a scripted fake stack:
//     the exact wire requests, nothing sent for bad arguments, replies of
//     other requests skipped, every malformed reply rejected.
#include <gtest/gtest.h>
#include <linux/veth.h>
#include <poll.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack.h"
#include "nlinline+.h"

NLINLINE_LIBMULTICOMP(vde_)

using namespace vdetest;

namespace {

constexpr const char* kVnl = "vxvde://234.0.0.1";

// errno captured right after the call, before any gtest code runs.
#define EXPECT_FAILS_WITH(call, err)                                                  \
    do {                                                                              \
        errno = 0;                                                                    \
        int rv_ = (call);                                                             \
        int e_ = errno;                                                               \
        EXPECT_EQ(rv_, -1) << #call;                                                  \
        EXPECT_EQ(e_, (err)) << #call << ": " << std::strerror(e_) << " instead of " \
                             << std::strerror(err);                                   \
    } while (0)

#define EXPECT_OK(call)                                                         \
    do {                                                                        \
        errno = 0;                                                              \
        int rv_ = (call);                                                       \
        int e_ = errno;                                                         \
        EXPECT_EQ(rv_, 0) << #call << ": " << (rv_ < 0 ? std::strerror(e_) : ""); \
    } while (0)

std::string drain(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 2000) <= 0) break;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// Runs cmd (absolute path, no shell) inside the stack and returns its stdout.
std::string in_stack(struct vdestack* s, const std::string& cmd) {
    int p[2];
    if (::pipe(p) != 0) return "<pipe failed>";
    std::fflush(stdout);
    int saved = ::dup(1);
    ::dup2(p[1], 1);
    ::close(p[1]);
    std::string c = cmd;
    int rv = vde_stackcmd(s, c.data());
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    std::string out = drain(p[0]);
    ::close(p[0]);
    if (rv != 0) out += "<status " + std::to_string(rv) + ">";
    return out;
}

// Runs a shell command line in this process's own netns, returns its stdout.
std::string here(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        ::pclose(f);
    }
    return out;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// The flags between <...> of an `ip -o link show` line contain flag.
bool link_flag(const std::string& line, const std::string& flag) {
    auto a = line.find('<'), b = line.find('>');
    if (a == std::string::npos || b == std::string::npos || b < a) return false;
    return has("," + line.substr(a + 1, b - a - 1) + ",", "," + flag + ",");
}

struct Stack {
    struct vdestack* s = nullptr;
    Stack() { s = vde_addstack(const_cast<char*>(kVnl), nullptr); }
    ~Stack() {
        if (s != nullptr) vde_delstack(s);
    }
    std::string ip(const std::string& args) { return in_stack(s, "/bin/ip " + args); }
};

uint8_t v4_60[4] = {10, 0, 0, 60};
uint8_t v4_1[4] = {10, 0, 0, 1};
uint8_t v6_60[16] = {0xfc, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1, 0, 0x60};
uint8_t v6_1[16] = {0xfc, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1, 0, 0x1};

}  // namespace

// ---------------------------------------------------------------- stacks ---

TEST(NlinlineStack, IfNameToIndex) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0) << std::strerror(errno);
    std::string line = st.ip("-o link show dev vde0");
    EXPECT_EQ(line.rfind(std::to_string(idx) + ": vde0", 0), 0u) << line;
    EXPECT_EQ(vde_if_nametoindex(st.s, "lo"), 1);
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, "nosuchif"), ENODEV);
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, "abcdefghijklmnop"), EINVAL);  // 16 > IFNAMSIZ-1
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, ""), EINVAL);
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, nullptr), EINVAL);
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, "abcdefghijklmno"), ENODEV);  // 15 fit: looked up
}

TEST(NlinlineStack, LinkUpDown) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    EXPECT_FALSE(link_flag(st.ip("-o link show dev vde0"), "UP"));
    EXPECT_OK(vde_linksetupdown(st.s, idx, 1));
    EXPECT_TRUE(link_flag(st.ip("-o link show dev vde0"), "UP")) << st.ip("-o link show dev vde0");
    EXPECT_OK(vde_linksetupdown(st.s, idx, 0));
    EXPECT_FALSE(link_flag(st.ip("-o link show dev vde0"), "UP"));
    EXPECT_OK(vde_linksetupdown(st.s, 1, 1));
    EXPECT_TRUE(link_flag(st.ip("-o link show dev lo"), "UP"));
    EXPECT_FAILS_WITH(vde_linksetupdown(st.s, 9999, 1), ENODEV);
}

TEST(NlinlineStack, MacAddressSetGet) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    unsigned char mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    unsigned char got[6] = {};
    EXPECT_OK(vde_linksetaddr(st.s, idx, mac));
    EXPECT_TRUE(has(st.ip("-o link show dev vde0"), "link/ether 02:11:22:33:44:55"));
    EXPECT_OK(vde_linkgetaddr(st.s, idx, got));
    EXPECT_EQ(std::memcmp(mac, got, 6), 0);
    // set by ip, read by nlinline
    st.ip("link set dev vde0 address 02:aa:bb:cc:dd:ee");
    unsigned char expect[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    EXPECT_OK(vde_linkgetaddr(st.s, idx, got));
    EXPECT_EQ(std::memcmp(expect, got, 6), 0);
    unsigned char lo[6] = {1, 1, 1, 1, 1, 1}, zero[6] = {};
    EXPECT_OK(vde_linkgetaddr(st.s, 1, lo));
    EXPECT_EQ(std::memcmp(lo, zero, 6), 0);
    EXPECT_FAILS_WITH(vde_linkgetaddr(st.s, 9999, got), ENODEV);
    EXPECT_FAILS_WITH(vde_linksetaddr(st.s, 9999, mac), ENODEV);
    EXPECT_FAILS_WITH(vde_linkgetaddr(st.s, idx, nullptr), EINVAL);
    EXPECT_FAILS_WITH(vde_linksetaddr(st.s, idx, nullptr), EINVAL);
    unsigned char multicast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    EXPECT_FAILS_WITH(vde_linksetaddr(st.s, idx, multicast), EADDRNOTAVAIL);
}

TEST(NlinlineStack, Mtu) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    EXPECT_OK(vde_linksetmtu(st.s, idx, 1400));
    EXPECT_TRUE(has(st.ip("-o link show dev vde0"), " mtu 1400 ")) << st.ip("-o link show dev vde0");
    EXPECT_OK(vde_linksetmtu(st.s, idx, 1500));
    EXPECT_TRUE(has(st.ip("-o link show dev vde0"), " mtu 1500 "));
    EXPECT_FAILS_WITH(vde_linksetmtu(st.s, idx, 10), EINVAL);  // below the minimum: the kernel says EINVAL
    EXPECT_FAILS_WITH(vde_linksetmtu(st.s, 9999, 1400), ENODEV);
}

TEST(NlinlineStack, IpAddrV4AndV6) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    EXPECT_OK(vde_linksetupdown(st.s, idx, 1));
    EXPECT_OK(vde_ipaddr_add(st.s, AF_INET, v4_60, 24, idx));
    EXPECT_TRUE(has(st.ip("-o -4 addr show dev vde0"), "inet 10.0.0.60/24 ")) << st.ip("-o -4 addr show dev vde0");
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET, v4_60, 24, idx), EEXIST);
    EXPECT_OK(vde_ipaddr_add(st.s, AF_INET6, v6_60, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), idx));
    std::string a6 = st.ip("-o -6 addr show dev vde0");
    EXPECT_TRUE(has(a6, "inet6 fc00::1:60/64 ")) << a6;
    EXPECT_TRUE(has(a6, "nodad")) << a6;
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET6, v6_60, 64, idx), EEXIST);
    // a second IPv6 address, plain prefix length: goes through DAD ("tentative" at first)
    uint8_t v6_61[16] = {0xfc, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1, 0, 0x61};
    EXPECT_OK(vde_ipaddr_add(st.s, AF_INET6, v6_61, 64, idx));
    EXPECT_TRUE(has(st.ip("-o -6 addr show dev vde0"), "inet6 fc00::1:61/64 "));
    EXPECT_OK(vde_ipaddr_del(st.s, AF_INET6, v6_61, 64, idx));

    EXPECT_OK(vde_ipaddr_del(st.s, AF_INET, v4_60, 24, idx));
    EXPECT_FALSE(has(st.ip("-o -4 addr show dev vde0"), "10.0.0.60"));
    EXPECT_FAILS_WITH(vde_ipaddr_del(st.s, AF_INET, v4_60, 24, idx), EADDRNOTAVAIL);
    EXPECT_OK(vde_ipaddr_del(st.s, AF_INET6, v6_60, 64, idx));
    EXPECT_FALSE(has(st.ip("-o -6 addr show dev vde0"), "fc00::1:60"));
    EXPECT_FAILS_WITH(vde_ipaddr_del(st.s, AF_INET6, v6_60, 64, idx), EADDRNOTAVAIL);

    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET, v4_60, 24, 9999), ENODEV);
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_UNIX, v4_60, 24, idx), EINVAL);
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET, v4_60, 33, idx), EINVAL);
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET6, v6_60, 129, idx), EINVAL);
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET, v4_60, -1, idx), EINVAL);
    EXPECT_FAILS_WITH(vde_ipaddr_add(st.s, AF_INET, nullptr, 24, idx), EINVAL);
    EXPECT_EQ(st.ip("-o addr show dev vde0").find("inet "), std::string::npos);
}

TEST(NlinlineStack, RoutesBothCallForms) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    unsigned int uidx = static_cast<unsigned int>(idx);
    ASSERT_EQ(vde_linksetupdown(st.s, uidx, 1), 0);
    ASSERT_EQ(vde_ipaddr_add(st.s, AF_INET, v4_60, 24, idx), 0);
    ASSERT_EQ(vde_ipaddr_add(st.s, AF_INET6, v6_60, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), idx), 0);
    auto r4 = [&] { return st.ip("-d -4 route show"); };  // -d: with protocol and scope
    auto r6 = [&] { return st.ip("-d -6 route show"); };

    // IPv4 default route: the tutorial's 5-argument form, removed with the 6-argument one
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, nullptr, 0, v4_1));
    EXPECT_TRUE(has(r4(), "unicast default via 10.0.0.1 dev vde0 proto boot scope global")) << r4();
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET, nullptr, 0, v4_1), EEXIST);
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, nullptr, 0, v4_1, uidx));
    EXPECT_FALSE(has(r4(), "default"));
    EXPECT_FAILS_WITH(vde_iproute_del(st.s, AF_INET, nullptr, 0, v4_1), ESRCH);
    // 6-argument add with ifindex, 5-argument del
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, nullptr, 0, v4_1, uidx));
    EXPECT_TRUE(has(r4(), "default via 10.0.0.1 dev vde0"));
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, nullptr, 0, v4_1));
    EXPECT_FALSE(has(r4(), "default"));

    // prefixed routes
    uint8_t net4[4] = {192, 168, 7, 0};
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, net4, 24, v4_1, uidx));
    EXPECT_TRUE(has(r4(), "unicast 192.168.7.0/24 via 10.0.0.1 dev vde0 proto boot scope global")) << r4();
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, net4, 24, v4_1));
    EXPECT_FALSE(has(r4(), "192.168.7.0"));
    // on-link route: no gateway, an interface (scope link, as ip(8) does)
    uint8_t net16[4] = {172, 16, 0, 0};
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, net16, 16, nullptr, uidx));
    EXPECT_TRUE(has(r4(), "unicast 172.16.0.0/16 dev vde0 proto boot scope link")) << r4();
    // ... through which a gateway becomes reachable
    uint8_t gw16[4] = {172, 16, 0, 1}, net8[4] = {10, 8, 0, 0};
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, net8, 16, gw16));
    EXPECT_TRUE(has(r4(), "10.8.0.0/16 via 172.16.0.1 dev vde0")) << r4();
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, net8, 16, gw16));
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, net16, 16, nullptr, uidx));
    EXPECT_FALSE(has(r4(), "172.16.0.0"));
    // packed type/scope: a blackhole route
    uint8_t bh[4] = {198, 51, 100, 0};
    EXPECT_OK(vde_iproute_add(st.s, AF_INET, bh, nl_routedata2prefix(24, RTN_BLACKHOLE, RT_SCOPE_UNIVERSE), nullptr));
    EXPECT_TRUE(has(r4(), "blackhole 198.51.100.0/24 proto boot")) << r4();
    EXPECT_OK(vde_iproute_del(st.s, AF_INET, bh, nl_routedata2prefix(24, RTN_BLACKHOLE, RT_SCOPE_NOWHERE), nullptr));
    EXPECT_FALSE(has(r4(), "198.51.100.0"));

    // IPv6, both forms
    EXPECT_OK(vde_iproute_add(st.s, AF_INET6, nullptr, 0, v6_1));
    EXPECT_TRUE(has(r6(), "unicast default via fc00::1:1 dev vde0 proto boot scope global")) << r6();
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET6, nullptr, 0, v6_1, uidx), EEXIST);
    EXPECT_OK(vde_iproute_del(st.s, AF_INET6, nullptr, 0, v6_1, uidx));
    EXPECT_FALSE(has(r6(), "default"));
    EXPECT_FAILS_WITH(vde_iproute_del(st.s, AF_INET6, nullptr, 0, v6_1), ESRCH);
    uint8_t net6[16] = {0x20, 0x01, 0x0d, 0xb8};
    EXPECT_OK(vde_iproute_add(st.s, AF_INET6, net6, 32, v6_1, uidx));
    EXPECT_TRUE(has(r6(), "unicast 2001:db8::/32 via fc00::1:1 dev vde0 proto boot scope global")) << r6();
    EXPECT_OK(vde_iproute_del(st.s, AF_INET6, net6, 32, v6_1));
    EXPECT_FALSE(has(r6(), "2001:db8::"));

    // errors
    uint8_t far4[4] = {10, 9, 9, 9};
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET, nullptr, 0, far4), ENETUNREACH);
    uint8_t far6[16] = {0x20, 0x01, 0x0d, 0xb8, 9, 9};
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET6, nullptr, 0, far6), EHOSTUNREACH);
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET, net16, 16, nullptr, 9999u), ENODEV);
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_PACKET, nullptr, 0, v4_1), EINVAL);
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET, nullptr, 24, v4_1), EINVAL);  // a prefix needs dst
    EXPECT_FAILS_WITH(vde_iproute_add(st.s, AF_INET, net4, 40, v4_1), EINVAL);

    // the functions themselves: their addresses have the 0.2.2 types
    int (*add)(void*, int, void*, int, void*, unsigned int) = vde_iproute_add;
    int (*del)(void*, int, void*, int, void*, unsigned int) = &vde_iproute_del;
    EXPECT_EQ(add(st.s, AF_INET, nullptr, 0, v4_1, 0), 0);
    EXPECT_TRUE(has(r4(), "default via 10.0.0.1"));
    EXPECT_EQ(del(st.s, AF_INET, nullptr, 0, v4_1, 0), 0);
    EXPECT_FALSE(has(r4(), "default"));
}

TEST(NlinlineStack, IplinkAddDel) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    // 0.2.2 form: (stack, ifname, ifindex, type, data)
    EXPECT_OK(vde_iplink_add(st.s, "nlv0", 0, "veth", nullptr));
    EXPECT_TRUE(has(st.ip("-o link show dev nlv0"), "nlv0@")) << st.ip("-o link show");
    int idx = vde_if_nametoindex(st.s, "nlv0");
    EXPECT_GT(idx, 0);
    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "nlv0", 0, "veth", nullptr), EEXIST);
    EXPECT_OK(vde_iplink_del(st.s, "nlv0", 0));
    EXPECT_FAILS_WITH(vde_if_nametoindex(st.s, "nlv0"), ENODEV);
    EXPECT_FAILS_WITH(vde_iplink_del(st.s, "nlv0", 0), ENODEV);

    // newer upstream form: (stack, ifname, ifindex, type, ifd, nifd), a veth peer named in IFLA_INFO_DATA
    struct {
        ifinfomsg ifi;
        nlattr a;
        char name[8];
    } peer{};
    peer.a.nla_len = static_cast<unsigned short>(sizeof(nlattr) + 6);
    peer.a.nla_type = IFLA_IFNAME;
    std::memcpy(peer.name, "nlv1p", 6);
    nl_iplink_data ifd{VETH_INFO_PEER, static_cast<int>(sizeof peer), &peer};
    EXPECT_OK(vde_iplink_add(st.s, "nlv1", 0, "veth", &ifd, 1));
    EXPECT_TRUE(has(st.ip("-o link show dev nlv1"), "nlv1@nlv1p")) << st.ip("-o link show");
    EXPECT_OK(vde_iplink_add_ifd(st.s, "nlv2", 0, "veth", nullptr, 0));
    EXPECT_GT(vde_if_nametoindex(st.s, "nlv2"), 0);
    // delete by index only
    int idx1 = vde_if_nametoindex(st.s, "nlv1");
    ASSERT_GT(idx1, 0);
    EXPECT_OK(vde_iplink_del(st.s, nullptr, static_cast<unsigned int>(idx1)));
    EXPECT_FALSE(has(st.ip("-o link show"), "nlv1"));
    EXPECT_OK(vde_iplink_del(st.s, "nlv2", 0));

    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "nlv3", 0, "nosuchkind", nullptr), EOPNOTSUPP);
    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "a-name-too-long-0", 0, "veth", nullptr), EINVAL);
    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "nlv3", 0, "veth", &ifd, -1), EINVAL);
    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "nlv3", 0, "veth", nullptr, 1), EINVAL);
    // ifindex -1 asks a user-mode stack for the new index through IFLA_NEW_IFINDEX
    // (0.2.2's wire format); the Linux kernel refuses that attribute's 0
    EXPECT_FAILS_WITH(vde_iplink_add(st.s, "nlv3", static_cast<unsigned int>(-1), "veth", nullptr), ERANGE);
    EXPECT_FAILS_WITH(vde_iplink_del(st.s, nullptr, 0), EINVAL);
    EXPECT_FAILS_WITH(vde_iplink_del(st.s, nullptr, 9999), ENODEV);
    EXPECT_FALSE(has(st.ip("-o link show"), "nlv"));
}

TEST(NlinlineStack, NldialogCallerBuiltMessages) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    struct {
        nlmsghdr h;
        ifinfomsg i;
    } msg{};
    msg.h.nlmsg_len = sizeof msg;
    msg.h.nlmsg_type = RTM_SETLINK;
    msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    msg.h.nlmsg_seq = 42;
    msg.i.ifi_index = idx;
    msg.i.ifi_flags = IFF_UP;
    msg.i.ifi_change = IFF_UP;
    EXPECT_OK(vde_nldialog(st.s, &msg));
    EXPECT_TRUE(link_flag(st.ip("-o link show dev vde0"), "UP"));
    // RTM_GETLINK answers with the link's index (0.2.2's decoding)
    msg.h.nlmsg_type = RTM_GETLINK;
    msg.i.ifi_flags = msg.i.ifi_change = 0;
    EXPECT_EQ(vde_nldialog(st.s, &msg), idx);
    msg.i.ifi_index = 9999;
    EXPECT_FAILS_WITH(vde_nldialog(st.s, &msg), ENODEV);
    msg.h.nlmsg_len = 4;
    EXPECT_FAILS_WITH(vde_nldialog(st.s, &msg), EINVAL);
    EXPECT_FAILS_WITH(vde_nldialog(st.s, nullptr), EINVAL);
}

// The tutorial's net_setup on two stacks, then TCP between them over IPv4 and IPv6.
TEST(NlinlineStack, TutorialNetSetupCarriesTcp) {
    Stack server, client;
    ASSERT_NE(server.s, nullptr) << std::strerror(errno);
    ASSERT_NE(client.s, nullptr) << std::strerror(errno);
    auto setup = [](struct vdestack* s, uint8_t* a4, uint8_t* gw4, uint8_t* a6, uint8_t* gw6) {
        int ifindex = vde_if_nametoindex(s, "vde0");
        if (ifindex < 0) return false;
        return vde_linksetupdown(s, ifindex, 1) == 0 && vde_ipaddr_add(s, AF_INET, a4, 24, ifindex) == 0 &&
               vde_iproute_add(s, AF_INET, nullptr, 0, gw4) == 0 &&
               vde_ipaddr_add(s, AF_INET6, a6, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), ifindex) == 0 &&
               vde_iproute_add(s, AF_INET6, nullptr, 0, gw6, 0) == 0;
    };
    ASSERT_TRUE(setup(server.s, v4_60, v4_1, v6_60, v6_1)) << std::strerror(errno);
    ASSERT_TRUE(setup(client.s, v4_1, v4_60, v6_1, v6_60)) << std::strerror(errno);
    EXPECT_TRUE(has(server.ip("route show"), "default via 10.0.0.1 dev vde0"));
    EXPECT_TRUE(has(client.ip("-6 route show"), "default via fc00::1:60 dev vde0"));

    int lfd = vde_msocket(server.s, AF_INET6, SOCK_STREAM, 0);
    ASSERT_GE(lfd, 0);
    socklen_t len;
    sockaddr_storage any = make_addr("::", 7000, len);
    ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&any), len), 0) << std::strerror(errno);
    ASSERT_EQ(listen(lfd, 4), 0);
    for (const char* ip : {"10.0.0.60", "fc00::1:60"}) {
        int fd = -1;
        eventually([&] {
            int c = vde_msocket(client.s, std::strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
            if (c < 0) return false;
            socklen_t l;
            sockaddr_storage a = make_addr(ip, 7000, l);
            if (connect(c, reinterpret_cast<sockaddr*>(&a), l) == 0) {
                fd = c;
                return true;
            }
            close(c);
            return false;
        });
        ASSERT_GE(fd, 0) << "cannot connect to " << ip;
        int a = accept(lfd, nullptr, nullptr);
        ASSERT_GE(a, 0);
        EXPECT_TRUE(write_all(fd, std::string("hello ") + ip));
        EXPECT_EQ(read_n(a, 6 + std::strlen(ip)), std::string("hello ") + ip);
        close(a);
        close(fd);
    }
    close(lfd);
}

TEST(NlinlineStack, NoFdLeakOver1000Calls) {
    Stack st;
    ASSERT_NE(st.s, nullptr) << std::strerror(errno);
    int idx = vde_if_nametoindex(st.s, "vde0");
    ASSERT_GT(idx, 0);
    ASSERT_EQ(vde_ipaddr_add(st.s, AF_INET, v4_60, 24, idx), 0);
    unsigned char mac[6];
    int before = quiet_fds();
    int bad = 0;
    for (int i = 0; i < 250; i++) {
        if (vde_if_nametoindex(st.s, "vde0") != idx) bad++;                      // success
        if (vde_linkgetaddr(st.s, static_cast<unsigned int>(idx), mac) != 0) bad++; // success, parsed reply
        if (vde_ipaddr_add(st.s, AF_INET, v4_60, 24, idx) != -1) bad++;           // kernel error
        if (vde_if_nametoindex(st.s, "abcdefghijklmnopq") != -1) bad++;           // refused before sending
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(settled(count_fds, before), before);
}

// ------------------------------------------------- this process's netns ---

TEST(NlinlinePlain, LoopbackAndVeth) {
    EXPECT_EQ(nlinline_if_nametoindex("lo"), 1);
    EXPECT_FAILS_WITH(nlinline_if_nametoindex("nosuchif"), ENODEV);
    // 0.2.2's iplink_add: (ifname, ifindex, type, data)
    ASSERT_EQ(nlinline_iplink_add("pv0", 0, "veth", nullptr), 0) << std::strerror(errno);
    int idx = nlinline_if_nametoindex("pv0");
    ASSERT_GT(idx, 0);
    unsigned int uidx = static_cast<unsigned int>(idx);
    EXPECT_TRUE(has(here("ip -o link show dev pv0"), std::to_string(idx) + ": pv0@"));
    EXPECT_FAILS_WITH(nlinline_iplink_add("pv0", 0, "veth", nullptr), EEXIST);

    EXPECT_OK(nlinline_linksetupdown(uidx, 1));
    EXPECT_TRUE(link_flag(here("ip -o link show dev pv0"), "UP"));
    unsigned char mac[6] = {0x02, 0, 0, 0, 0, 0x42}, got[6] = {};
    EXPECT_OK(nlinline_linksetaddr(uidx, mac));
    EXPECT_OK(nlinline_linkgetaddr(uidx, got));
    EXPECT_EQ(std::memcmp(mac, got, 6), 0);
    EXPECT_TRUE(has(here("ip -o link show dev pv0"), "link/ether 02:00:00:00:00:42"));
    EXPECT_OK(nlinline_linksetmtu(uidx, 1280));
    EXPECT_TRUE(has(here("ip -o link show dev pv0"), " mtu 1280 "));

    uint8_t a4[4] = {192, 0, 2, 10}, gw4[4] = {192, 0, 2, 1}, net4[4] = {203, 0, 113, 0};
    EXPECT_OK(nlinline_ipaddr_add(AF_INET, a4, 24, uidx));
    EXPECT_TRUE(has(here("ip -o -4 addr show dev pv0"), "inet 192.0.2.10/24"));
    EXPECT_FAILS_WITH(nlinline_ipaddr_add(AF_INET, a4, 24, uidx), EEXIST);
    // old 4-argument and 0.2.2 5-argument route calls
    EXPECT_OK(nlinline_iproute_add(AF_INET, nullptr, 0, gw4));
    EXPECT_OK(nlinline_iproute_add(AF_INET, net4, 24, gw4, uidx));
    std::string routes = here("ip -d -4 route show");
    EXPECT_TRUE(has(routes, "unicast default via 192.0.2.1 dev pv0 proto boot scope global")) << routes;
    EXPECT_TRUE(has(routes, "unicast 203.0.113.0/24 via 192.0.2.1 dev pv0 proto boot scope global")) << routes;
    EXPECT_OK(nlinline_iproute_del(AF_INET, nullptr, 0, gw4, uidx));
    EXPECT_OK(nlinline_iproute_del(AF_INET, net4, 24, gw4));
    EXPECT_FAILS_WITH(nlinline_iproute_del(AF_INET, net4, 24, gw4), ESRCH);
    routes = here("ip -4 route show");
    EXPECT_FALSE(has(routes, "via 192.0.2.1")) << routes;
    uint8_t far4[4] = {10, 99, 0, 1};
    EXPECT_FAILS_WITH(nlinline_iproute_add(AF_INET, nullptr, 0, far4), ENETUNREACH);

    uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    EXPECT_OK(nlinline_ipaddr_add(AF_INET6, a6, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), uidx));
    EXPECT_TRUE(has(here("ip -o -6 addr show dev pv0"), "inet6 2001:db8::10/64"));
    EXPECT_OK(nlinline_ipaddr_del(AF_INET6, a6, 64, uidx));
    EXPECT_FAILS_WITH(nlinline_ipaddr_del(AF_INET6, a6, 64, uidx), EADDRNOTAVAIL);
    EXPECT_OK(nlinline_ipaddr_del(AF_INET, a4, 24, uidx));
    EXPECT_FAILS_WITH(nlinline_ipaddr_del(AF_INET, a4, 24, uidx), EADDRNOTAVAIL);
    EXPECT_FAILS_WITH(nlinline_ipaddr_add(AF_APPLETALK, a4, 24, uidx), EINVAL);

    EXPECT_OK(nlinline_iplink_del("pv0", 0));
    EXPECT_FALSE(has(here("ip -o link show"), "pv0"));
    EXPECT_FAILS_WITH(nlinline_linksetupdown(uidx, 1), ENODEV);
}

TEST(NlinlinePlain, CallFormsAndFunctionAddresses) {
    // both nldialog forms (nlinline.h's and nlinline+ 0.2.2's with a leading ifname)
    struct {
        nlmsghdr h;
        ifinfomsg i;
    } msg{};
    msg.h.nlmsg_len = sizeof msg;
    msg.h.nlmsg_type = RTM_GETLINK;
    msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    msg.i.ifi_index = 1;
    EXPECT_EQ(nlinline_nldialog(&msg), 1);
    EXPECT_EQ(nlinline_nldialog("ignored", &msg), 1);
    int (*dialog)(void*) = nlinline_nldialog;
    EXPECT_EQ(dialog(&msg), 1);
    int (*add)(int, void*, int, void*, unsigned int) = nlinline_iproute_add;
    int (*linkadd)(const char*, unsigned int, const char*, const char*) = nlinline_iplink_add;
    int (*linkadd_ifd)(const char*, unsigned int, const char*, const nl_iplink_data*, int) = nlinline_iplink_add_ifd;
    int (*multi)(void*, const char*, unsigned int, const char*, const char*) = vde_iplink_add;
    EXPECT_FAILS_WITH(add(AF_UNIX, nullptr, 0, nullptr, 0), EINVAL);
    EXPECT_FAILS_WITH(linkadd("sixteen-chars-xx", 0, "veth", nullptr), EINVAL);
    EXPECT_FAILS_WITH(linkadd_ifd("v0", 0, "veth", nullptr, 1), EINVAL);
    EXPECT_FAILS_WITH(multi(nullptr, "sixteen-chars-xx", 0, "veth", nullptr), EINVAL);
    EXPECT_EQ(nlinline_family2addrlen(AF_INET), 4);
    EXPECT_EQ(nlinline_family2addrlen(AF_INET6), 16);
    EXPECT_EQ(nlinline_family2addrlen(AF_UNIX), 0);
    EXPECT_EQ(nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_LINK), 0x70000000 | IFA_F_NODAD << 16 | RT_SCOPE_LINK << 8 | 64);
    EXPECT_EQ(nl_routedata2prefix(24, RTN_BLACKHOLE, 0), 0x60000000 | RTN_BLACKHOLE << 16 | 24);
}

// A request the kernel does not answer (no NLM_F_ACK) ends in ETIMEDOUT.
TEST(NlinlinePlain, NeverWaitsForeverForAnAnswer) {
    struct {
        nlmsghdr h;
        ifinfomsg i;
    } msg{};
    msg.h.nlmsg_len = sizeof msg;
    msg.h.nlmsg_type = RTM_SETLINK;
    msg.h.nlmsg_flags = NLM_F_REQUEST;  // succeeds silently
    msg.i.ifi_index = 1;
    msg.i.ifi_flags = IFF_UP;
    msg.i.ifi_change = IFF_UP;
    int before = quiet_fds();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FAILS_WITH(nlinline_nldialog(&msg), ETIMEDOUT);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(secs, 1.5);
    EXPECT_LT(secs, 5.0);
    EXPECT_EQ(settled(count_fds, before), before);
    EXPECT_TRUE(link_flag(here("ip -o link show dev lo"), "UP"));
}

TEST(NlinlinePlain, NoFdLeakOver1000Calls) {
    int before = quiet_fds();
    unsigned char mac[6];
    uint8_t a4[4] = {127, 0, 0, 1};
    int bad = 0;
    for (int i = 0; i < 250; i++) {
        if (nlinline_if_nametoindex("lo") != 1) bad++;
        if (nlinline_linkgetaddr(1, mac) != 0) bad++;
        if (nlinline_ipaddr_add(AF_INET, a4, 8, 1) != -1 || errno != EEXIST) bad++;
        if (nlinline_iproute_add(AF_INET6, nullptr, 0, nullptr, 9999) != -1) bad++;
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(settled(count_fds, before), before);
}

// ------------------------------------------------------------ fake stack ---
//
// NLINLINE_LIB(fake_) and NLINLINE_LIBMULTI(fakem_) on functions that record
// every request and answer with scripted datagrams.

namespace {

using Bytes = std::vector<uint8_t>;

struct FakeNet {
    std::vector<Bytes> sent;
    std::deque<Bytes> replies;
    std::function<std::vector<Bytes>(const Bytes& req)> responder;
    int opened = 0, closed = 0;
    void* mstack = nullptr;
    void reset() { *this = FakeNet{}; }
} fake;

struct FakeStack {
    int id;
};

int fake_socket(int domain, int type, int protocol) {
    if (domain != AF_NETLINK || (type & ~SOCK_CLOEXEC) != SOCK_RAW || protocol != NETLINK_ROUTE) {
        errno = EINVAL;
        return -1;
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // a real fd, so leaks would show
    if (fd >= 0) fake.opened++;
    return fd;
}
int fake_bind(int, const struct sockaddr* sa, socklen_t len) {
    return (len == sizeof(sockaddr_nl) && sa->sa_family == AF_NETLINK) ? 0 : (errno = EINVAL, -1);
}
ssize_t fake_send(int, const void* buf, size_t len, int) {
    Bytes req(static_cast<const uint8_t*>(buf), static_cast<const uint8_t*>(buf) + len);
    fake.sent.push_back(req);
    if (fake.responder)
        for (auto& d : fake.responder(req)) fake.replies.push_back(d);
    return static_cast<ssize_t>(len);
}
ssize_t fake_recv(int, void* buf, size_t len, int) {
    if (fake.replies.empty()) {
        errno = EAGAIN;  // what a receive timeout looks like
        return -1;
    }
    Bytes d = fake.replies.front();
    fake.replies.pop_front();
    if (!d.empty()) std::memcpy(buf, d.data(), std::min(len, d.size()));
    return static_cast<ssize_t>(d.size());
}
int fake_close(int fd) {
    fake.closed++;
    return ::close(fd);
}
int fakem_msocket(FakeStack* s, int d, int t, int p) {
    fake.mstack = s;
    return fake_socket(d, t, p);
}
int fakem_bind(int fd, const struct sockaddr* sa, socklen_t l) { return fake_bind(fd, sa, l); }
ssize_t fakem_send(int fd, const void* b, size_t l, int f) { return fake_send(fd, b, l, f); }
ssize_t fakem_recv(int fd, void* b, size_t l, int f) { return fake_recv(fd, b, l, f); }
int fakem_close(int fd) { return fake_close(fd); }

}  // namespace

NLINLINE_LIB(fake_)
NLINLINE_LIBMULTI(fakem_)

namespace {

uint32_t seq_of(const Bytes& req) {
    nlmsghdr h;
    std::memcpy(&h, req.data(), sizeof h);
    return h.nlmsg_seq;
}

void put_attr(Bytes& m, uint16_t type, const void* data, size_t len) {
    nlattr a{static_cast<uint16_t>(sizeof(nlattr) + len), type};
    size_t at = m.size();
    m.resize(at + NLA_ALIGN(sizeof(nlattr) + len), 0);
    std::memcpy(m.data() + at, &a, sizeof a);
    if (len) std::memcpy(m.data() + at + sizeof a, data, len);
}

// A message: header + fixed part (+ attributes added later), nlmsg_len fixed up by finish().
Bytes msg(uint16_t type, uint32_t seq, const void* fixed, size_t len) {
    Bytes m(sizeof(nlmsghdr) + NLMSG_ALIGN(len), 0);
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_seq = seq;
    std::memcpy(m.data(), &h, sizeof h);
    if (len) std::memcpy(m.data() + sizeof h, fixed, len);
    return m;
}
Bytes finish(Bytes m) {
    uint32_t len = static_cast<uint32_t>(m.size());
    std::memcpy(m.data(), &len, sizeof len);
    return m;
}
Bytes ack(uint32_t seq, int error) { return finish(msg(NLMSG_ERROR, seq, &error, sizeof error)); }
Bytes newlink(uint32_t seq, int ifindex, const void* mac = nullptr, size_t maclen = 6) {
    ifinfomsg ifi{};
    ifi.ifi_index = ifindex;
    Bytes m = msg(RTM_NEWLINK, seq, &ifi, sizeof ifi);
    const char name[] = "fake0";
    put_attr(m, IFLA_IFNAME, name, sizeof name);
    if (mac) put_attr(m, IFLA_ADDRESS, mac, maclen);
    return finish(m);
}
Bytes cat(const Bytes& a, const Bytes& b) {
    Bytes r = a;
    r.insert(r.end(), b.begin(), b.end());
    return r;
}

// The attributes of a request after its fixed part of `fixed` bytes: type -> payload.
std::vector<std::pair<uint16_t, Bytes>> attrs(const Bytes& m, size_t off, size_t end) {
    std::vector<std::pair<uint16_t, Bytes>> out;
    while (off + sizeof(nlattr) <= end) {
        nlattr a;
        std::memcpy(&a, m.data() + off, sizeof a);
        if (a.nla_len < sizeof a || off + a.nla_len > end) break;
        out.emplace_back(a.nla_type & NLA_TYPE_MASK, Bytes(m.begin() + static_cast<long>(off + sizeof a),
                                                           m.begin() + static_cast<long>(off + a.nla_len)));
        off += NLA_ALIGN(a.nla_len);
    }
    return out;
}
const Bytes* find_attr(const std::vector<std::pair<uint16_t, Bytes>>& v, uint16_t type) {
    for (auto& [t, p] : v)
        if (t == type) return &p;
    return nullptr;
}

}  // namespace

TEST(NlinlineFake, RequestsOnTheWire) {
    fake.reset();
    fake.responder = [](const Bytes& req) { return std::vector<Bytes>{ack(seq_of(req), 0)}; };
    uint8_t dst[4] = {192, 168, 1, 0}, gw[4] = {10, 0, 0, 1};
    size_t rt = sizeof(nlmsghdr) + NLMSG_ALIGN(sizeof(rtmsg));

    // old form: no RTA_OIF at all
    ASSERT_EQ(fake_iproute_add(AF_INET, nullptr, 0, gw, 0), 0);
    ASSERT_EQ(fake.sent.size(), 1u);
    Bytes r = fake.sent[0];
    nlmsghdr h;
    std::memcpy(&h, r.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_len, r.size());
    EXPECT_EQ(h.nlmsg_type, RTM_NEWROUTE);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    rtmsg rtm;
    std::memcpy(&rtm, r.data() + sizeof h, sizeof rtm);
    EXPECT_EQ(rtm.rtm_family, AF_INET);
    EXPECT_EQ(rtm.rtm_dst_len, 0);
    EXPECT_EQ(rtm.rtm_table, RT_TABLE_MAIN);
    EXPECT_EQ(rtm.rtm_protocol, RTPROT_BOOT);
    EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_UNIVERSE);
    EXPECT_EQ(rtm.rtm_type, RTN_UNICAST);
    auto a = attrs(r, rt, r.size());
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].first, RTA_GATEWAY);
    EXPECT_EQ(a[0].second, Bytes(gw, gw + 4));

    // full form with a destination and an interface
    ASSERT_EQ(fake_iproute_del(AF_INET, dst, 24, gw, 7), 0);
    r = fake.sent[1];
    std::memcpy(&h, r.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_type, RTM_DELROUTE);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    std::memcpy(&rtm, r.data() + sizeof h, sizeof rtm);
    EXPECT_EQ(rtm.rtm_dst_len, 24);
    a = attrs(r, rt, r.size());
    ASSERT_NE(find_attr(a, RTA_DST), nullptr);
    EXPECT_EQ(*find_attr(a, RTA_DST), Bytes(dst, dst + 4));
    ASSERT_NE(find_attr(a, RTA_OIF), nullptr);
    uint32_t oif;
    std::memcpy(&oif, find_attr(a, RTA_OIF)->data(), 4);
    EXPECT_EQ(oif, 7u);

    // iplink_add, 0.2.2 form: IFLA_INFO_DATA is the string
    size_t li = sizeof(nlmsghdr) + NLMSG_ALIGN(sizeof(ifinfomsg));
    ASSERT_EQ(fake_iplink_add("vde1", 0, "vde", "vxvde://234.0.0.1"), 0);
    r = fake.sent[2];
    std::memcpy(&h, r.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_type, RTM_NEWLINK);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    a = attrs(r, li, r.size());
    ASSERT_NE(find_attr(a, IFLA_IFNAME), nullptr);
    EXPECT_STREQ(reinterpret_cast<const char*>(find_attr(a, IFLA_IFNAME)->data()), "vde1");
    EXPECT_EQ(find_attr(a, IFLA_NEW_IFINDEX), nullptr);
    const Bytes* info = find_attr(a, IFLA_LINKINFO);
    ASSERT_NE(info, nullptr);
    auto in = attrs(*info, 0, info->size());
    ASSERT_NE(find_attr(in, IFLA_INFO_KIND), nullptr);
    EXPECT_STREQ(reinterpret_cast<const char*>(find_attr(in, IFLA_INFO_KIND)->data()), "vde");
    ASSERT_NE(find_attr(in, IFLA_INFO_DATA), nullptr);
    EXPECT_STREQ(reinterpret_cast<const char*>(find_attr(in, IFLA_INFO_DATA)->data()), "vxvde://234.0.0.1");

    // newer form: IFLA_INFO_DATA nests IFLA_VDE_VNL; ifindex -1 adds IFLA_NEW_IFINDEX
    fake.responder = [](const Bytes& req) { return std::vector<Bytes>{ack(seq_of(req), 5)}; };
    EXPECT_EQ(fake_iplink_add_ifd("vde2", static_cast<unsigned int>(-1), "vde",
                                  nl_iplink_strdata(IFLA_VDE_VNL, "vxvde://234.0.0.2")),
              5)
        << "a stack's positive answer (the new ifindex) is returned";
    r = fake.sent[3];
    a = attrs(r, li, r.size());
    EXPECT_NE(find_attr(a, IFLA_NEW_IFINDEX), nullptr);
    info = find_attr(a, IFLA_LINKINFO);
    ASSERT_NE(info, nullptr);
    in = attrs(*info, 0, info->size());
    const Bytes* data = find_attr(in, IFLA_INFO_DATA);
    ASSERT_NE(data, nullptr);
    auto vnl = attrs(*data, 0, data->size());
    ASSERT_EQ(vnl.size(), 1u);
    EXPECT_EQ(vnl[0].first, IFLA_VDE_VNL);
    EXPECT_STREQ(reinterpret_cast<const char*>(vnl[0].second.data()), "vxvde://234.0.0.2");

    // ipaddr with packed flags/scope
    uint8_t a6[16] = {0xfc};
    fake.responder = [](const Bytes& req) { return std::vector<Bytes>{ack(seq_of(req), 0)}; };
    ASSERT_EQ(fake_ipaddr_add(AF_INET6, a6, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_LINK), 3), 0);
    r = fake.sent[4];
    ifaddrmsg ifa;
    std::memcpy(&ifa, r.data() + sizeof h, sizeof ifa);
    EXPECT_EQ(ifa.ifa_prefixlen, 64);
    EXPECT_EQ(ifa.ifa_flags, IFA_F_NODAD);
    EXPECT_EQ(ifa.ifa_scope, RT_SCOPE_LINK);
    EXPECT_EQ(ifa.ifa_index, 3u);
    a = attrs(r, sizeof(nlmsghdr) + NLMSG_ALIGN(sizeof(ifaddrmsg)), r.size());
    ASSERT_NE(find_attr(a, IFA_LOCAL), nullptr);
    EXPECT_EQ(*find_attr(a, IFA_LOCAL), Bytes(a6, a6 + 16));
    EXPECT_EQ(*find_attr(a, IFA_ADDRESS), Bytes(a6, a6 + 16));

    // every request had its own sequence number; every socket was closed
    EXPECT_NE(seq_of(fake.sent[0]), seq_of(fake.sent[1]));
    EXPECT_EQ(fake.opened, 5);
    EXPECT_EQ(fake.closed, 5);
}

TEST(NlinlineFake, BadArgumentsSendNothing) {
    fake.reset();
    uint8_t a4[4] = {10, 0, 0, 1};
    EXPECT_FAILS_WITH(fake_if_nametoindex("sixteen-chars-xx"), EINVAL);
    EXPECT_FAILS_WITH(fake_if_nametoindex(nullptr), EINVAL);
    EXPECT_FAILS_WITH(fake_ipaddr_add(AF_UNIX, a4, 8, 1), EINVAL);
    EXPECT_FAILS_WITH(fake_ipaddr_add(AF_INET, a4, 33, 1), EINVAL);
    EXPECT_FAILS_WITH(fake_ipaddr_del(AF_INET, nullptr, 8, 1), EINVAL);
    EXPECT_FAILS_WITH(fake_iproute_add(AF_UNIX, nullptr, 0, a4, 0), EINVAL);
    EXPECT_FAILS_WITH(fake_iproute_add(AF_INET, nullptr, 8, a4, 0), EINVAL);
    EXPECT_FAILS_WITH(fake_iproute_add(AF_INET, a4, nl_routedata2prefix(33, RTN_UNICAST, 0), a4, 0), EINVAL);
    EXPECT_FAILS_WITH(fake_linksetaddr(1, nullptr), EINVAL);
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, nullptr), EINVAL);
    EXPECT_FAILS_WITH(fake_iplink_add("sixteen-chars-xx", 0, "veth", nullptr), EINVAL);
    EXPECT_FAILS_WITH(fake_iplink_add("", 0, "veth", nullptr), EINVAL);
    EXPECT_FAILS_WITH(fake_iplink_del(nullptr, 0), EINVAL);
    EXPECT_FAILS_WITH(fake_iplink_del("sixteen-chars-xx", 0), EINVAL);
    EXPECT_FAILS_WITH(fake_nldialog("x", nullptr), EINVAL);
    std::string big(70000, 'x');
    nl_iplink_data huge{1, static_cast<int>(big.size()), big.data()};
    EXPECT_FAILS_WITH(fake_iplink_add_ifd("v0", 0, "vde", &huge, 1), EMSGSIZE);
    EXPECT_EQ(fake.sent.size(), 0u);
    EXPECT_EQ(fake.opened, 0);
}

TEST(NlinlineFake, AnswersOfOtherRequestsAreSkipped) {
    fake.reset();
    // one datagram: a message of another request, then ours (multipart)
    fake.responder = [](const Bytes& req) {
        uint32_t s = seq_of(req);
        return std::vector<Bytes>{cat(newlink(s + 100, 99), cat(newlink(s, 7), ack(s, 0)))};
    };
    EXPECT_EQ(fake_if_nametoindex("fake0"), 7);
    // separate datagrams: a stale one first, a NOOP, then ours
    fake.responder = [](const Bytes& req) {
        uint32_t s = seq_of(req);
        return std::vector<Bytes>{ack(s - 1, -EPERM), finish(msg(NLMSG_NOOP, s, nullptr, 0)), newlink(s, 8), ack(s, 0)};
    };
    EXPECT_EQ(fake_if_nametoindex("fake0"), 8);
    // the MAC of the requested link, not of another one in the same reply
    const uint8_t other[6] = {1, 2, 3, 4, 5, 6}, mine[6] = {2, 0, 0, 0, 0, 9};
    fake.responder = [&](const Bytes& req) {
        uint32_t s = seq_of(req);
        return std::vector<Bytes>{cat(newlink(s, 3, other), newlink(s, 4, mine))};
    };
    uint8_t got[6] = {};
    EXPECT_OK(fake_linkgetaddr(4, got));
    EXPECT_EQ(std::memcmp(got, mine, 6), 0);
    // only messages of others until the stack falls silent: a timeout, not a hang
    fake.responder = [](const Bytes& req) {
        return std::vector<Bytes>{ack(seq_of(req) + 1, 0), ack(seq_of(req) + 2, 0)};
    };
    EXPECT_FAILS_WITH(fake_linksetupdown(1, 1), ETIMEDOUT);
    EXPECT_EQ(fake.opened, fake.closed);
}

TEST(NlinlineFake, MalformedRepliesAreRejected) {
    fake.reset();
    uint8_t mac[6];
    auto reply = [](std::function<Bytes(uint32_t)> f) {
        fake.responder = [f](const Bytes& req) { return std::vector<Bytes>{f(seq_of(req))}; };
    };
    // nlmsg_len beyond the datagram
    reply([](uint32_t s) {
        Bytes m = newlink(s, 1, "\x02\0\0\0\0\x01");
        uint32_t len = static_cast<uint32_t>(m.size() + 64);
        std::memcpy(m.data(), &len, 4);
        return m;
    });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), EFAULT);
    // nlmsg_len below a header
    reply([](uint32_t s) {
        Bytes m = ack(s, 0);
        uint32_t len = 8;
        std::memcpy(m.data(), &len, 4);
        return m;
    });
    EXPECT_FAILS_WITH(fake_linksetupdown(1, 1), EFAULT);
    // an attribute longer than its message
    reply([](uint32_t s) {
        Bytes m = newlink(s, 1, "\x02\0\0\0\0\x01");
        nlattr a;
        size_t at = sizeof(nlmsghdr) + NLMSG_ALIGN(sizeof(ifinfomsg));
        std::memcpy(&a, m.data() + at, sizeof a);
        a.nla_len = 400;
        std::memcpy(m.data() + at, &a, sizeof a);
        return m;
    });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), EFAULT);
    // an attribute length below its header
    reply([](uint32_t s) {
        Bytes m = newlink(s, 1, "\x02\0\0\0\0\x01");
        nlattr a{2, IFLA_ADDRESS};
        std::memcpy(m.data() + sizeof(nlmsghdr) + NLMSG_ALIGN(sizeof(ifinfomsg)), &a, sizeof a);
        return m;
    });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), EFAULT);
    // a hardware address that is not 6 bytes
    reply([](uint32_t s) { return newlink(s, 1, "\x0a\0\0\x01", 4); });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), EINVAL);
    // no hardware address at all
    reply([](uint32_t s) { return newlink(s, 1); });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), ENOENT);
    // a NEWLINK too short for its ifinfomsg
    reply([](uint32_t s) { return finish(msg(RTM_NEWLINK, s, "abcd", 4)); });
    EXPECT_FAILS_WITH(fake_if_nametoindex("x"), EFAULT);
    // an NLMSG_ERROR without its error code
    reply([](uint32_t s) { return finish(msg(NLMSG_ERROR, s, nullptr, 0)); });
    EXPECT_FAILS_WITH(fake_linksetmtu(1, 1500), EFAULT);
    // a negative interface index
    reply([](uint32_t s) { return newlink(s, -3); });
    EXPECT_FAILS_WITH(fake_if_nametoindex("x"), EFAULT);
    // an acknowledgement without the link description asked for
    reply([](uint32_t s) { return ack(s, 0); });
    EXPECT_FAILS_WITH(fake_linkgetaddr(1, mac), ENODEV);
    // the stack's own errors come through
    reply([](uint32_t s) { return ack(s, -EPERM); });
    EXPECT_FAILS_WITH(fake_linksetmtu(1, 1500), EPERM);
    // an empty datagram
    reply([](uint32_t) { return Bytes{}; });
    EXPECT_FAILS_WITH(fake_linksetmtu(1, 1500), EFAULT);
    EXPECT_EQ(fake.opened, fake.closed);
}

TEST(NlinlineFake, MultiPassesTheStackToMsocket) {
    fake.reset();
    FakeStack st{1};
    fake.responder = [](const Bytes& req) {
        uint32_t s = seq_of(req);
        return std::vector<Bytes>{newlink(s, 12), ack(s, 0)};
    };
    EXPECT_EQ(fakem_if_nametoindex(&st, "fake0"), 12);
    EXPECT_EQ(fake.mstack, &st);
    fake.responder = [](const Bytes& req) { return std::vector<Bytes>{ack(seq_of(req), 0)}; };
    uint8_t gw[4] = {10, 0, 0, 1};
    EXPECT_OK(fakem_iproute_add(&st, AF_INET, nullptr, 0, gw, 0));
    EXPECT_OK(fakem_ipaddr_add(&st, AF_INET, gw, 24, 2));
    EXPECT_OK(fakem_iplink_add(&st, "x", 0, "vde", "null://"));
    EXPECT_OK(fakem_iplink_add_ifd(&st, "x", 0, "vde", nl_iplink_strdata(IFLA_VDE_VNL, "null://")));
    EXPECT_OK(fakem_iplink_del(&st, "x", 0));
    EXPECT_EQ(fake.opened, 6);
    EXPECT_EQ(fake.closed, 6);
}
