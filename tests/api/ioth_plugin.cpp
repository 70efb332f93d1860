// ioth_plugin.cpp - libioth's plugin ABI, both ways: libioth.so loading
// third-party plugins (progs/ioth_memnet.c, built several times into
// VDESTACK_TEST_IOTH_HOME/.ioth) and dispatching their fds, and our engine
// as the plugin ioth_vdestack.so driven as upstream libioth drives it.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ioth.h"

namespace {

constexpr int kInstanceOpt = 0x4d454d;  // MEMNET_OPT_INSTANCE

class IothPlugin : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(setenv("HOME", VDESTACK_TEST_IOTH_HOME, 1), 0); }
};

sockaddr_in port(unsigned short p) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p);
    return a;
}

int instance_of(int fd) {
    int v = -1;
    socklen_t l = sizeof v;
    if (ioth_getsockopt(fd, SOL_SOCKET, kInstanceOpt, &v, &l) != 0) return -1;
    return v;
}

TEST_F(IothPlugin, LoadsAPluginAndSendsEveryCallOnItsFdsToIt) {
    struct ioth* s = ioth_newstack("memnet", nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno) << ": " << ioth_last_error();
    const int a = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
    const int b = ioth_msocket(s, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    const sockaddr_in pa = port(1000), pb = port(1001);
    ASSERT_EQ(ioth_bind(a, reinterpret_cast<const sockaddr*>(&pa), sizeof pa), 0);
    ASSERT_EQ(ioth_bind(b, reinterpret_cast<const sockaddr*>(&pb), sizeof pb), 0);
    // libc's sendto on these fds (eventfds) fails: the plugin must serve it.
    EXPECT_EQ(sendto(a, "x", 1, 0, reinterpret_cast<const sockaddr*>(&pb), sizeof pb), -1);
    ASSERT_EQ(ioth_sendto(a, "hello", 5, 0, reinterpret_cast<const sockaddr*>(&pb), sizeof pb), 5);
    char buf[64];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ASSERT_EQ(ioth_recvfrom(b, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_EQ(ntohs(from.sin_port), 1000);

    // The plugin's errno (its own libc's, in its own link map) reaches us.
    errno = 0;
    EXPECT_EQ(ioth_recvfrom(b, buf, sizeof buf, 0, nullptr, nullptr), -1);
    EXPECT_EQ(errno, EAGAIN);
    errno = 0;
    EXPECT_EQ(ioth_listen(a, 1), -1);  // the plugin has no listen
    EXPECT_EQ(errno, ENOSYS);

    // send, write and read, recv have no function in the plugin: libioth's
    // fallbacks to sendto and recvfrom.
    ASSERT_EQ(ioth_connect(a, reinterpret_cast<const sockaddr*>(&pb), sizeof pb), 0);
    ASSERT_EQ(ioth_send(a, "one", 3, 0), 3);
    ASSERT_EQ(ioth_write(a, "two", 3), 3);
    iovec iov{const_cast<char*>("three"), 5};
    errno = 0;
    EXPECT_EQ(ioth_writev(a, &iov, 1), -1);  // nor sendmsg: no fallback left
    EXPECT_EQ(errno, ENOSYS);
    ASSERT_EQ(ioth_read(b, buf, sizeof buf), 3);
    EXPECT_EQ(std::string(buf, 3), "one");
    ASSERT_EQ(ioth_recv(b, buf, sizeof buf, 0), 3);
    EXPECT_EQ(std::string(buf, 3), "two");

    // EBUSY until every socket is ioth_close'd.
    EXPECT_EQ(ioth_delstack(s), -1);
    EXPECT_EQ(errno, EBUSY);
    EXPECT_EQ(ioth_close(a), 0);
    EXPECT_EQ(ioth_delstack(s), -1);
    EXPECT_EQ(ioth_close(b), 0);
    errno = 0;
    EXPECT_EQ(ioth_close(b), -1);  // no longer a plugin fd: libc's close
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(ioth_delstack(s), 0);
}

TEST_F(IothPlugin, ANonReentrantPluginIsLoadedAfreshForEveryStack) {
    struct ioth* s1 = ioth_newstack("memnet", nullptr);
    struct ioth* s2 = ioth_newstack("memnet", nullptr);
    struct ioth* r1 = ioth_newstack("memnetr", nullptr);
    struct ioth* r2 = ioth_newstack("memnetr", nullptr);
    ASSERT_TRUE(s1 && s2 && r1 && r2) << ioth_last_error();
    int fds[4];
    struct ioth* stacks[4] = {s1, s2, r1, r2};
    for (int i = 0; i < 4; i++) ASSERT_GE(fds[i] = ioth_msocket(stacks[i], AF_INET, SOCK_DGRAM, 0), 0);
    EXPECT_EQ(instance_of(fds[0]), 1);  // each its own copy: the first stack of it
    EXPECT_EQ(instance_of(fds[1]), 1);
    EXPECT_EQ(instance_of(fds[2]), 1);  // ioth_memnetr-r.so: one copy for both
    EXPECT_EQ(instance_of(fds[3]), 2);

    // The stacks are apart: a port bound in s2 is not reachable from s1.
    const sockaddr_in p = port(2000);
    ASSERT_EQ(ioth_bind(fds[1], reinterpret_cast<const sockaddr*>(&p), sizeof p), 0);
    errno = 0;
    EXPECT_EQ(ioth_sendto(fds[0], "x", 1, 0, reinterpret_cast<const sockaddr*>(&p), sizeof p), -1);
    EXPECT_EQ(errno, ECONNREFUSED);

    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(ioth_close(fds[i]), 0);
        EXPECT_EQ(ioth_delstack(stacks[i]), 0);
    }
}

TEST_F(IothPlugin, PluginsThatCannotServeGiveAClearError) {
    errno = 0;
    EXPECT_EQ(ioth_newstack("nosuchstack", "vxvde://234.0.0.1"), nullptr);
    EXPECT_EQ(errno, ENOTSUP);
    EXPECT_NE(std::string(ioth_last_error()).find("ioth_nosuchstack.so"), std::string::npos) << ioth_last_error();

    errno = 0;
    EXPECT_EQ(ioth_newstack("../etc/x", nullptr), nullptr);
    EXPECT_EQ(errno, EINVAL);

    errno = 0;
    EXPECT_EQ(ioth_newstack("broken", nullptr), nullptr);
    EXPECT_EQ(errno, ENOTSUP);
    EXPECT_NE(std::string(ioth_last_error()).find("memnet_symbol_that_does_not_exist"), std::string::npos)
        << ioth_last_error();

    errno = 0;
    EXPECT_EQ(ioth_newstack("nonew", nullptr), nullptr);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_NE(std::string(ioth_last_error()).find("ioth_nonew_newstack"), std::string::npos);

    errno = 0;
    EXPECT_EQ(ioth_newstack("memnet,fail", nullptr), nullptr);  // the options reach the plugin
    EXPECT_EQ(errno, ECONNREFUSED);

    // A GPL plugin loads only into a program that declares a compatible license.
    errno = 0;
    EXPECT_EQ(ioth_newstack("gplnet", nullptr), nullptr);
    EXPECT_EQ(errno, EPERM);
    EXPECT_NE(std::string(ioth_last_error()).find("GPL-3.0-or-later"), std::string::npos);
    ioth_set_license("SPDX-License-Identifier: GPL-2.0-only");
    EXPECT_EQ(ioth_newstack("gplnet", nullptr), nullptr);
    ioth_set_license("GPL-3.0-only");
    struct ioth* g = ioth_newstack("gplnet", nullptr);
    ASSERT_NE(g, nullptr) << ioth_last_error();
    EXPECT_STREQ(ioth_last_error(), "");
    EXPECT_EQ(ioth_delstack(g), 0);
    ioth_set_license(nullptr);
}

TEST_F(IothPlugin, PluginFdsAndEngineFdsLiveSideBySide) {
    struct ioth* m = ioth_newstack("memnet", nullptr);
    struct ioth* v = ioth_newstack("vdestack", "vxvde://234.0.0.1");
    ASSERT_TRUE(m && v) << ioth_last_error();
    const int pm = ioth_msocket(m, AF_INET, SOCK_DGRAM, 0);
    const int pv = ioth_msocket(v, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(pm, 0);
    ASSERT_GE(pv, 0);
    const sockaddr_in any = port(3000);
    EXPECT_EQ(ioth_bind(pv, reinterpret_cast<const sockaddr*>(&any), sizeof any), 0);  // libc's bind
    sockaddr_in got{};
    socklen_t gl = sizeof got;
    ASSERT_EQ(ioth_getsockname(pv, reinterpret_cast<sockaddr*>(&got), &gl), 0);
    EXPECT_EQ(ntohs(got.sin_port), 3000);
    errno = 0;
    EXPECT_EQ(ioth_getsockname(pm, reinterpret_cast<sockaddr*>(&got), &gl), -1);  // memnet has none
    EXPECT_EQ(errno, ENOSYS);
    EXPECT_EQ(ioth_close(pv), 0);
    EXPECT_EQ(ioth_close(pm), 0);
    EXPECT_EQ(ioth_delstack(v), 0);
    EXPECT_EQ(ioth_delstack(m), 0);
}

// Upstream libioth's side of the ABI, as ioth.c does it: dlopen the plugin,
// resolve ioth_vdestack_*, call newstack with the functions, then socket
// with getstackdata() naming the stack.
void* g_current;
void* current() { return g_current; }

TEST(IothVdestackPlugin, ServesUpstreamLibiothsAbi) {
    // Installed, the plugin finds the helper in the install tree; here, in the build tree.
    ASSERT_EQ(setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0);
    void* h = dlopen(VDESTACK_TEST_IOTH_VDESTACK, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto newstack = reinterpret_cast<void* (*)(const char**, const char*, ioth_functions*)>(
        dlsym(h, "ioth_vdestack_newstack"));
    auto delstack = reinterpret_cast<int (*)(void*)>(dlsym(h, "ioth_vdestack_delstack"));
    auto sock = reinterpret_cast<int (*)(int, int, int)>(dlsym(h, "ioth_vdestack_socket"));
    auto license = static_cast<const char* const*>(dlsym(h, "ioth_vdestack_license"));
    ASSERT_TRUE(newstack && delstack && sock && license);
    EXPECT_NE(std::string(*license).find("LGPL"), std::string::npos);
    EXPECT_EQ(dlsym(h, "_ZN3vde5StackD1Ev"), nullptr);  // nothing of ours but the ABI

    ioth_functions f{};
    f.getstackdata = current;
    const char* vnlv[] = {"vxvde://234.0.0.1", "eth1:vxvde://234.0.0.2", nullptr};
    g_current = newstack(vnlv, "", &f);
    ASSERT_NE(g_current, nullptr) << strerror(errno);
    ASSERT_NE(f.close, nullptr);
    ASSERT_NE(f.sendmsg, nullptr);
    const int fd = sock(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0) << strerror(errno);
    for (const char* name : {"vde0", "eth1"}) {
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        EXPECT_EQ(f.ioctl(fd, SIOCGIFINDEX, &ifr), 0) << name;  // the stack's interfaces, not ours
        EXPECT_EQ(if_nametoindex(name), 0u) << name;
    }
    EXPECT_EQ(f.close(fd), 0);
    EXPECT_EQ(delstack(g_current), 0);
    g_current = nullptr;
    errno = 0;
    EXPECT_EQ(sock(AF_INET, SOCK_DGRAM, 0), -1);  // no stack named
    EXPECT_EQ(errno, EINVAL);
    dlclose(h);
}

}  // namespace
