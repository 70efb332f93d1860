// ioth.cpp - the libioth API (ioth.h, libioth.so): vdestack and kernel
// stacks, interface names in the VNL, netlink configuration through
// NLINLINE_LIBMULTI(ioth_), TCP between two stacks over the Berkeley
// wrappers, the default stack, EBUSY while sockets live, and the errors.
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <thread>
#include <tuple>

#include "ioth.h"
#include "support/proc.hpp"

namespace {

// The inode of the network namespace a socket belongs to.
ino_t netns_of_socket(int fd) {
    const int ns = ioctl(fd, SIOCGSKNS);
    if (ns < 0) return 0;
    struct stat st {};
    fstat(ns, &st);
    close(ns);
    return st.st_ino;
}
ino_t our_netns() {
    struct stat st {};
    stat("/proc/self/ns/net", &st);
    return st.st_ino;
}

// Address ip/24 on the stack's interface `ifname`, up.
void configure(struct ioth* s, const char* ifname, const char* ip) {
    const int ifindex = ioth_if_nametoindex(s, ifname);
    ASSERT_GT(ifindex, 0) << ifname;
    in_addr a{};
    inet_pton(AF_INET, ip, &a);
    ASSERT_EQ(ioth_ipaddr_add(s, AF_INET, &a, 24, ifindex), 0);
    ASSERT_EQ(ioth_linksetupdown(s, ifindex, 1), 0);
}

TEST(Ioth, TwoVdestacksTalkTcpThroughTheWrappers) {
    struct ioth* a = ioth_newstack("vdestack", "eth0:vxvde://234.0.0.1");
    struct ioth* b = ioth_newstackl("vdestack,someoption", "vxvde://234.0.0.1", (char*)nullptr);
    ASSERT_NE(a, nullptr) << strerror(errno);
    ASSERT_NE(b, nullptr) << strerror(errno);
    EXPECT_EQ(ioth_if_nametoindex(a, "vde0"), -1);  // the VNL named it eth0
    configure(a, "eth0", "10.0.7.1");
    configure(b, "vde0", "10.0.7.2");

    const int l = ioth_msocket(b, AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(l, 0);
    EXPECT_NE(netns_of_socket(l), our_netns());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7000);
    inet_pton(AF_INET, "10.0.7.2", &sa.sin_addr);
    ASSERT_EQ(ioth_bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(ioth_listen(l, 1), 0);
    const int c = ioth_msocket(a, AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(c, 0);
    EXPECT_NE(netns_of_socket(c), netns_of_socket(l));
    ASSERT_TRUE(vdetest::eventually(
        [&] { return ioth_connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0; }, 10));
    const int acc = ioth_accept(l, nullptr, nullptr);
    ASSERT_GE(acc, 0);
    const char msg[] = "hello over ioth";
    ASSERT_EQ(ioth_write(c, msg, sizeof msg), static_cast<ssize_t>(sizeof msg));
    char got[sizeof msg] = {};
    ASSERT_EQ(ioth_recv(acc, got, sizeof got, MSG_WAITALL), static_cast<ssize_t>(sizeof msg));
    EXPECT_STREQ(got, msg);

    // Sockets open: the stacks stay.
    errno = 0;
    EXPECT_EQ(ioth_delstack(b), -1);
    EXPECT_EQ(errno, EBUSY);
    ioth_close(acc);
    close(l);  // a plain close() counts too
    EXPECT_EQ(ioth_delstack(b), 0);
    ioth_close(c);
    EXPECT_EQ(ioth_delstack(a), 0);
}

// A stack with an interface per VNL, each on its own network: a stack on
// either network reaches it through the interface on that network.
TEST(Ioth, SeveralInterfacesEachOnItsNetwork) {
    const int fds_before = vdetest::quiet_fds();
    struct ioth* r = ioth_newstackl("vdestack", "vxvde://234.0.0.11", "up:vxvde://234.0.0.12", (char*)nullptr);
    ASSERT_NE(r, nullptr) << strerror(errno);
    const char* one[] = {"vxvde://234.0.0.11", nullptr};
    const char* two[] = {"vxvde://234.0.0.12", nullptr};
    struct ioth* a = ioth_newstackv("vdestack", one);
    struct ioth* b = ioth_newstackv("vdestack", two);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_GT(ioth_if_nametoindex(r, "vde0"), 0);
    EXPECT_GT(ioth_if_nametoindex(r, "up"), 0);
    EXPECT_EQ(ioth_if_nametoindex(r, "vde1"), -1);  // the second VNL named it
    configure(r, "vde0", "10.0.11.1");
    configure(r, "up", "10.0.12.1");
    configure(a, "vde0", "10.0.11.2");
    configure(b, "vde0", "10.0.12.2");

    const int l = ioth_msocket(r, AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(l, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_port = htons(7100);
    ASSERT_EQ(ioth_bind(l, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
    ASSERT_EQ(ioth_listen(l, 2), 0);
    for (auto [client, server_ip, client_ip] : {std::tuple{a, "10.0.11.1", "10.0.11.2"}, std::tuple{b, "10.0.12.1", "10.0.12.2"}}) {
        SCOPED_TRACE(server_ip);
        const int c = ioth_msocket(client, AF_INET, SOCK_STREAM, 0);
        sockaddr_in to = any;
        inet_pton(AF_INET, server_ip, &to.sin_addr);
        ASSERT_TRUE(vdetest::eventually(
            [&] { return ioth_connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0; }, 10));
        const int acc = ioth_accept(l, nullptr, nullptr);
        ASSERT_GE(acc, 0);
        sockaddr_in local{}, peer{};
        socklen_t ll = sizeof local, pl = sizeof peer;
        ASSERT_EQ(ioth_getsockname(acc, reinterpret_cast<sockaddr*>(&local), &ll), 0);
        ASSERT_EQ(ioth_getpeername(acc, reinterpret_cast<sockaddr*>(&peer), &pl), 0);
        char text[INET_ADDRSTRLEN];
        EXPECT_STREQ(inet_ntop(AF_INET, &local.sin_addr, text, sizeof text), server_ip);
        EXPECT_STREQ(inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text), client_ip);
        ioth_close(acc);
        ioth_close(c);
    }
    EXPECT_EQ(ioth_delstack(r), -1);  // the listener is open
    ioth_close(l);
    EXPECT_EQ(ioth_delstack(r), 0);
    EXPECT_EQ(ioth_delstack(a), 0);
    EXPECT_EQ(ioth_delstack(b), 0);
    EXPECT_TRUE(vdetest::eventually([&] { return vdetest::count_fds() == fds_before; }));
}

TEST(Ioth, KernelStackAndTheDefaultStack) {
    struct ioth* k = ioth_newstack("kernel", nullptr);
    ASSERT_NE(k, nullptr);
    const int fd = ioth_msocket(k, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(netns_of_socket(fd), our_netns());
    EXPECT_EQ(ioth_delstack(k), -1);
    ioth_close(fd);
    EXPECT_EQ(ioth_delstack(k), 0);
    for (const char* none : {static_cast<const char*>(nullptr), ""}) {  // no name: the kernel's, as libioth
        struct ioth* n = ioth_newstack(none, nullptr);
        ASSERT_NE(n, nullptr);
        const int nfd = ioth_msocket(n, AF_INET, SOCK_DGRAM, 0);
        EXPECT_EQ(netns_of_socket(nfd), our_netns());
        ioth_close(nfd);
        EXPECT_EQ(ioth_delstack(n), 0);
    }

    struct ioth* s = ioth_newstack("vdestack++", nullptr);  // loopback only
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(ioth_get_defstack(), nullptr);
    const int plain = ioth_socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_EQ(netns_of_socket(plain), our_netns());
    ioth_set_defstack(s);
    EXPECT_EQ(ioth_get_defstack(), s);
    const int in_s = ioth_socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(in_s, 0);
    EXPECT_NE(netns_of_socket(in_s), our_netns());
    EXPECT_EQ(ioth_delstack(s), -1);  // ioth_socket's sockets count for the default stack
    close(in_s);
    close(plain);
    EXPECT_EQ(ioth_delstack(s), 0);
    EXPECT_EQ(ioth_get_defstack(), nullptr);  // deleting it unsets it
}

TEST(Ioth, ErrorsAreNullOrMinusOneWithErrno) {
    errno = 0;
    EXPECT_EQ(ioth_newstack("nosuchstack", nullptr), nullptr);
    EXPECT_EQ(errno, ENOTSUP);  // as libioth: no plugin ioth_nosuchstack.so
    EXPECT_EQ(ioth_newstack("vdestack", "nosuchscheme://x"), nullptr);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    EXPECT_EQ(ioth_newstackl("vdestack", "eth0:null://", "eth0:null://", (char*)nullptr), nullptr);
    EXPECT_EQ(errno, EEXIST);  // two interfaces of one name
    EXPECT_EQ(ioth_newstackl("vdestack", "null://", "bad/name:null://", (char*)nullptr), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(ioth_delstack(nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
    ASSERT_TRUE(vdetest::helper_gone()) << "no helper of an earlier test lingers";
    const int before = vdetest::count_fds();
    for (int i = 0; i < 3; i++) {
        struct ioth* s = ioth_newstack("vdestack", "null://");
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(ioth_delstack(s), 0);
    }
    EXPECT_TRUE(vdetest::eventually([&] { return vdetest::count_fds() == before; }));
}

TEST(Ioth, MacConversions) {
    const unsigned char mac[6] = {0x02, 0x00, 0x5e, 0xab, 0xcd, 0xef};
    char text[MAC_ADDRSTRLEN];
    EXPECT_STREQ(ioth_ntomac(mac, text, sizeof text), "02:00:5e:ab:cd:ef");
    unsigned char back[6] = {};
    EXPECT_EQ(ioth_macton("02:00:5E:AB:CD:EF", back), 1);
    EXPECT_EQ(std::memcmp(back, mac, 6), 0);
    EXPECT_EQ(ioth_macton("02-00-5e-ab-cd-ef", back), 1);
    EXPECT_EQ(std::memcmp(back, mac, 6), 0);
    EXPECT_EQ(ioth_macton("02:00:5e:ab:cd", back), 0);
    EXPECT_EQ(ioth_macton("hello", back), 0);
}

}  // namespace
