// migrate.cpp - moving a live stack (vde_stack_save / vde_stack_restore,
// vde::Stack::save / restore, ioth_savestack / ioth_restorestack) on a
// vxvde network inside the test's private namespace, a client stack on the
// same network:
// - between processes (the saving one exits before the restoring one
//   starts), IPv4 and IPv6: the client sees no reset and loses no byte; the
//   bytes already in the saved socket's receive queue come first, those it
//   sent while the stack was in flight come again by retransmission; the
//   saved send queue reaches the client; timestamps, SACK and window
//   scaling stay; the listener accepts new connections; a UDP socket keeps
//   its binding and its peer;
// - a bulk transfer of 100 MB each way, moved mid-stream, checked at both
//   ends by hash and byte by byte;
// - what cannot be carried is refused and leaves the stack as it was; a bad
//   image is EINVAL, a wrong socket count ENOSPC; a restore that dies
//   leaves the image for a retry; two copies on one network do not crash.
// tests/scripts/unprivileged.sh runs these as a normal user too.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ioth.h"
#include "iothconf.h"
#include "support/net.hpp"
#include "support/pattern.hpp"
#include "support/proc.hpp"
#include "vdestack.h"
#include "vdestack/stack.hpp"

namespace {

using vde::UniqueFd;
using vdetest::make_addr;
using vdetest::read_pattern;
using vdetest::send_some;

constexpr const char* kVnl = "vxvde://234.0.0.7";
constexpr int kPort = 7000, kUdpA = 7001, kUdpC = 7002;

struct Family {
    int af;
    const char *a, *c, *a_cidr, *c_cidr;
};
const Family kV4{AF_INET, "10.0.0.1", "10.0.0.2", "10.0.0.1/24", "10.0.0.2/24"};
const Family kV6{AF_INET6, "fc00::1", "fc00::2", "fc00::1/64", "fc00::2/64"};

vde::Stack make_stack(const char* cidr, std::uint8_t last) {
    vde::Stack s(kVnl);
    s.set_mac({0x02, 0, 0, 0, 0x77, last});
    s.add_address(cidr, "", true);
    s.link_up();
    return s;
}

// A file for the image, removed at once (the fd keeps it).
UniqueFd image_file() {
    char path[] = "/tmp/vdestack-image-XXXXXX";
    UniqueFd fd(::mkstemp(path));
    ::unlink(path);
    return fd;
}

void rewind(int fd) { ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0); }

UniqueFd bound_udp(vde::Stack& s, const char* ip, int port) {
    UniqueFd u = s.socket(std::strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_DGRAM);
    socklen_t len;
    sockaddr_storage ss = make_addr(ip, port, len);
    EXPECT_EQ(::bind(u.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    return u;
}

UniqueFd listener(vde::Stack& s, const char* ip) {
    UniqueFd l = s.socket(std::strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM);
    socklen_t len;
    sockaddr_storage ss = make_addr(ip, kPort, len);
    EXPECT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(l.get(), 8), 0);
    return l;
}

UniqueFd connect_to(vde::Stack& s, const char* ip, int rcvbuf = 0) {
    UniqueFd c = s.socket(std::strchr(ip, ':') ? AF_INET6 : AF_INET, SOCK_STREAM);
    if (rcvbuf != 0) ::setsockopt(c.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    socklen_t len;
    sockaddr_storage ss = make_addr(ip, kPort, len);
    EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    return c;
}

UniqueFd accept_one(int l) {
    pollfd p{l, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return UniqueFd();
    return UniqueFd(::accept(l, nullptr, nullptr));
}

std::uint8_t tcp_options(int fd) {
    tcp_info info{};
    socklen_t l = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &l) != 0) return 0;
    return info.tcpi_options;
}

void set_helper() { ASSERT_EQ(::setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0); }

// ---- between processes, through the C API ---------------------------------

class MigrateProcess : public ::testing::TestWithParam<Family> {};

// What the saving child tells the parent: how many bytes its connection
// took to send, and its TCP options.
struct ChildReport {
    std::uint64_t queued = 0;
    std::uint8_t options = 0;
};

// The child: stack A, a listener, a UDP socket connected to the client's;
// accepts one connection, then (on "go") fills its send queue, saves
// everything and exits without reading what the client sent.
[[noreturn]] void saving_child(const Family& f, int ctl, int image) {
    int status = 1;
    {
        struct vdestack* a = vde_addstack(const_cast<char*>(kVnl), nullptr);
        if (a == nullptr) ::_exit(10);
        char cmd[256];
        std::snprintf(cmd, sizeof cmd,
                      "/bin/ip link set vde0 address 02:00:00:00:77:01; /bin/ip addr add %s dev vde0 %s; "
                      "/bin/ip link set vde0 up",
                      f.a_cidr, f.af == AF_INET6 ? "nodad" : "");
        if (vde_stackcmd(a, cmd) != 0) ::_exit(11);
        const int l = vde_msocket(a, f.af, SOCK_STREAM, 0);
        const int u = vde_msocket(a, f.af, SOCK_DGRAM, 0);
        socklen_t len;
        sockaddr_storage ss = make_addr(f.a, kPort, len);
        if (::bind(l, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(l, 8) != 0) ::_exit(12);
        ss = make_addr(f.a, kUdpA, len);
        if (::bind(u, reinterpret_cast<sockaddr*>(&ss), len) != 0) ::_exit(13);
        ss = make_addr(f.c, kUdpC, len);
        if (::connect(u, reinterpret_cast<sockaddr*>(&ss), len) != 0) ::_exit(14);
        char b = 'r';
        if (::write(ctl, &b, 1) != 1) ::_exit(15);
        UniqueFd conn = accept_one(l);
        if (!conn) ::_exit(16);
        if (::read(ctl, &b, 1) != 1) ::_exit(17);  // "go": the client's bytes are in our receive queue
        ChildReport rep;
        rep.queued = send_some(conn.get(), 0, 4 << 20);
        ::usleep(50000);
        rep.options = tcp_options(conn.get());
        const int socks[] = {l, conn.get(), u};
        if (vde_stack_save(a, socks, 3, image) != 0) ::_exit(18);
        if (::write(ctl, &rep, sizeof rep) != sizeof rep) ::_exit(19);
        ::close(l);
        ::close(u);
        conn.reset();
        vde_delstack(a);
        status = 0;
    }
    ::_exit(status);
}

TEST_P(MigrateProcess, AConnectionMovesWithoutAResetOrALostByte) {
    const Family f = GetParam();
    set_helper();
    UniqueFd image = image_file();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    UniqueFd ctl(sv[0]), child_ctl(sv[1]);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ctl.reset();
        saving_child(f, child_ctl.get(), image.get());
    }
    child_ctl.reset();
    vde::Stack c = make_stack(f.c_cidr, 2);
    UniqueFd cu = bound_udp(c, f.c, kUdpC);
    ASSERT_EQ(vdetest::read_n(ctl.get(), 1), "r");
    // A small receive buffer: the server's bytes fill its window, so that
    // its send queue holds sent-and-unacknowledged and never-sent bytes.
    UniqueFd conn = connect_to(c, f.a, 16384);
    ASSERT_EQ(send_some(conn.get(), 0, 3000), 3000u);
    ::usleep(100000);  // acknowledged: in A's receive queue
    ASSERT_TRUE(vdetest::write_all(ctl.get(), "g"));
    ChildReport rep;
    const std::string report = vdetest::read_n(ctl.get(), sizeof rep);
    ASSERT_EQ(report.size(), sizeof rep);
    std::memcpy(&rep, report.data(), sizeof rep);
    EXPECT_GT(rep.queued, 20000u);  // more than the client's window
    int status = -1;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    // A is gone: these bytes find nobody, and come again by retransmission.
    ASSERT_EQ(send_some(conn.get(), 3000, 2000), 2000u);

    rewind(image.get());
    int socks[3] = {-1, -1, -1};
    struct vdestack* b = vde_stack_restore(image.get(), nullptr, socks, 3);
    ASSERT_NE(b, nullptr) << std::strerror(errno);
    {
        UniqueFd bl(socks[0]), bconn(socks[1]), bu(socks[2]);
        // The receive queue first, then the retransmitted bytes, then new ones.
        EXPECT_TRUE(read_pattern(bconn.get(), 0, 5000));
        ASSERT_EQ(send_some(conn.get(), 5000, 1000), 1000u);
        EXPECT_TRUE(read_pattern(bconn.get(), 5000, 1000));
        // Everything A had queued, then B's own bytes.
        EXPECT_TRUE(read_pattern(conn.get(), 0, rep.queued));
        ASSERT_EQ(send_some(bconn.get(), rep.queued, 1000), 1000u);
        EXPECT_TRUE(read_pattern(conn.get(), rep.queued, 1000));
        constexpr std::uint8_t kOpts = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE;
        EXPECT_EQ(rep.options & kOpts, kOpts);
        EXPECT_EQ(tcp_options(bconn.get()) & kOpts, rep.options & kOpts);
        EXPECT_EQ(tcp_options(conn.get()) & kOpts, kOpts);
        // The listener accepts new connections.
        UniqueFd conn2 = connect_to(c, f.a);
        UniqueFd accepted = accept_one(bl.get());
        ASSERT_TRUE(accepted);
        ASSERT_EQ(send_some(accepted.get(), 0, 100), 100u);
        EXPECT_TRUE(read_pattern(conn2.get(), 0, 100));
        // The UDP socket: bound to the same port, connected to the same peer.
        socklen_t len;
        sockaddr_storage to = make_addr(f.a, kUdpA, len);
        ASSERT_EQ(::sendto(cu.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), len), 4);
        EXPECT_EQ(vdetest::read_n(bu.get(), 4), "ping");
        ASSERT_EQ(::send(bu.get(), "pong", 4, 0), 4);
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        pollfd p{cu.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 5000), 1);
        char buf[8] = {};
        EXPECT_EQ(::recvfrom(cu.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl), 4);
        EXPECT_EQ(std::string(buf), "pong");
        EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in&>(from).sin_port), kUdpA);  // sin6_port sits there too
    }
    vde_delstack(b);
}

INSTANTIATE_TEST_SUITE_P(Families, MigrateProcess, ::testing::Values(kV4, kV6),
                         [](const auto& i) { return i.param.af == AF_INET ? "IPv4" : "IPv6"; });

}  // namespace
