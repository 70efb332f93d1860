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
//   its binding and its peer; the new stack announces itself (gratuitous
//   ARP, unsolicited neighbour advertisement);
// - a bulk transfer of 100 MB each way, moved mid-stream, checked at both
//   ends by hash and byte by byte; 300 connections at once (their sockets
//   made in batches, the tap queue holding every window probe); a send
//   queue of 4 MB, mostly sent and unacknowledged;
// - what cannot be carried is refused and leaves the stack as it was; a bad
//   image is EINVAL, a wrong socket count ENOSPC; a restore that dies
//   leaves the image for a retry; two copies on one network do not crash.
// tests/scripts/unprivileged.sh runs these as a normal user too.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <cstring>
#include <optional>
#include <span>
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

// A move within this process: stack `a` saved with the sockets `saved` (in
// that order) into a file, those and `closed` closed (nothing is sent), `a`
// deleted (silently), then the stack restored from the file.
vde::Restored move_stack(std::optional<vde::Stack>& a, const std::vector<UniqueFd*>& saved,
                         const std::vector<UniqueFd*>& closed = {}) {
    UniqueFd image = image_file();
    std::vector<int> socks;
    for (const UniqueFd* s : saved) socks.push_back(s->get());
    a->save(socks, image.get());
    for (UniqueFd* s : saved) s->reset();
    for (UniqueFd* s : closed) s->reset();
    a.reset();
    rewind(image.get());
    return vde::Stack::restore(image.get());
}

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

// Waits (1 s at most) on a packet socket for the restored stack's
// announcement of `ip`: a gratuitous ARP (sender and target both ip) or an
// unsolicited neighbour advertisement with the override flag, from `mac`.
bool announced(int packets, const Family& f, const std::array<std::uint8_t, 6>& mac) {
    std::uint8_t ip[16] = {};
    ::inet_pton(f.af, f.a, ip);
    std::uint8_t b[2048];
    for (int i = 0; i < 200; i++) {
        pollfd p{packets, POLLIN, 0};
        if (::poll(&p, 1, 5) != 1) continue;
        const ssize_t n = ::recv(packets, b, sizeof b, 0);
        if (n < 14 || std::memcmp(b + 6, mac.data(), 6) != 0) continue;
        const unsigned type = (b[12] << 8) | b[13];
        if (f.af == AF_INET && type == 0x0806 && n >= 42 && std::memcmp(b + 28, ip, 4) == 0 &&
            std::memcmp(b + 38, ip, 4) == 0)
            return true;
        // IPv6 (40) then ICMPv6: type 136, flags with override (0x20), target.
        if (f.af == AF_INET6 && type == 0x86dd && n >= 14 + 40 + 24 && b[14 + 6] == IPPROTO_ICMPV6 &&
            b[54] == 136 && (b[58] & 0x20) != 0 && std::memcmp(b + 62, ip, 16) == 0)
            return true;
    }
    return false;
}

void set_helper() { ASSERT_EQ(::setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0); }

// ---- between processes, through the C API ---------------------------------

class MigrateProcess : public ::testing::TestWithParam<Family> {};

// How long the moved connection's peer may take to retransmit (its RTO
// doubles at each unanswered try: 0.2, 0.4, 0.8, 1.6, 3.2, 6.4 s ...).
constexpr int kRetransmitWaitMs = 20000;

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
    const pid_t pid = vdetest::fork_quietly();
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

    // What C's interface receives from here: B's announcement among it.
    UniqueFd packets = c.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(c.if_index());
    ASSERT_EQ(::bind(packets.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0);

    rewind(image.get());
    int socks[3] = {-1, -1, -1};
    struct vdestack* b = vde_stack_restore(image.get(), nullptr, socks, 3);
    ASSERT_NE(b, nullptr) << std::strerror(errno);
    EXPECT_TRUE(announced(packets.get(), f, {0x02, 0, 0, 0, 0x77, 0x01}));
    packets.reset();
    {
        UniqueFd bl(socks[0]), bconn(socks[1]), bu(socks[2]);
        // The receive queue first, then the retransmitted bytes, then new
        // ones. C retransmits at its RTO, backed off while nobody answered
        // (A gone, B not yet there): on a loaded machine its next try can
        // be more than 5 s away, hence the longer wait (kRetransmitWaitMs).
        EXPECT_TRUE(read_pattern(bconn.get(), 0, 5000, kRetransmitWaitMs));
        ASSERT_EQ(send_some(conn.get(), 5000, 1000), 1000u);
        EXPECT_TRUE(read_pattern(bconn.get(), 5000, 1000, kRetransmitWaitMs));
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

// ---- a bulk transfer both ways, moved mid-stream (C++ API) ----------------

constexpr std::size_t kBulk = 100u << 20;

std::uint64_t fnv(std::uint64_t h, const std::byte* b, std::size_t n) {
    for (std::size_t i = 0; i < n; i++) h = (h ^ std::to_integer<std::uint8_t>(b[i])) * 1099511628211ull;
    return h;
}
std::uint64_t pattern_hash(std::size_t n) {
    std::uint64_t h = 14695981039346656037ull;
    for (std::size_t i = 0; i < n; i++) {
        const std::byte b = vdetest::pattern(i);
        h = fnv(h, &b, 1);
    }
    return h;
}

// One end's pumps: sends the stream from `sent` and reads it from `got`
// until the whole of it went each way, or until `stop_after` bytes came in;
// `ok` false at a byte out of place, a reset or 10 s without progress.
struct Pump {
    std::size_t sent = 0, got = 0;
    std::uint64_t hash = 14695981039346656037ull;
    bool ok = true;
    void run(int fd, std::size_t stop_after = SIZE_MAX) {
        std::vector<std::byte> out(1 << 16), in(1 << 16);
        int idle = 0;
        while (ok && (sent < kBulk || got < kBulk) && got < stop_after) {
            pollfd p{fd, static_cast<short>(POLLIN | (sent < kBulk ? POLLOUT : 0)), 0};
            const int r = ::poll(&p, 1, 10);
            if (r == 0) {
                if (++idle > 1000) ok = false;  // 10 s
                continue;
            }
            idle = 0;
            if ((p.revents & POLLOUT) && sent < kBulk) {
                const std::size_t n = std::min(out.size(), kBulk - sent);
                for (std::size_t i = 0; i < n; i++) out[i] = vdetest::pattern(sent + i);
                const ssize_t w = ::send(fd, out.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) ok = false;
                if (w > 0) sent += static_cast<std::size_t>(w);
            }
            if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
                const ssize_t n = ::recv(fd, in.data(), std::min(in.size(), kBulk - got), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN)) ok = false;
                for (ssize_t i = 0; i < n && ok; i++)
                    if (in[static_cast<std::size_t>(i)] != vdetest::pattern(got + static_cast<std::size_t>(i))) ok = false;
                if (n > 0) {
                    hash = fnv(hash, in.data(), static_cast<std::size_t>(n));
                    got += static_cast<std::size_t>(n);
                }
            }
        }
    }
};

TEST(Migrate, ABulkTransferBothWaysMovesMidStream) {
    set_helper();
    vde::Stack c = make_stack(kV4.c_cidr, 2);
    std::optional<vde::Stack> a(make_stack(kV4.a_cidr, 1));
    UniqueFd l = listener(*a, kV4.a);
    UniqueFd cconn = connect_to(c, kV4.a);
    UniqueFd aconn = accept_one(l.get());
    ASSERT_TRUE(aconn);
    Pump client, server;
    std::thread ct([&] { client.run(cconn.get()); });
    // A serves until it has read 30 MB; then it is saved mid-stream.
    server.run(aconn.get(), 30u << 20);
    ASSERT_TRUE(server.ok);
    vde::Restored b = move_stack(a, {&aconn}, {&l});
    ASSERT_EQ(b.sockets.size(), 1u);
    server.run(b.sockets[0].get());
    ct.join();
    EXPECT_TRUE(server.ok);
    EXPECT_TRUE(client.ok);
    EXPECT_EQ(server.got, kBulk);
    EXPECT_EQ(client.got, kBulk);
    const std::uint64_t want = pattern_hash(kBulk);
    EXPECT_EQ(server.hash, want);
    EXPECT_EQ(client.hash, want);
}

// 300 connections: their sockets are made in batches (64 a request) and the
// tap's queue must hold 300 window probes; every connection lives on.
TEST(Migrate, ThreeHundredConnectionsMoveTogether) {
    set_helper();
    constexpr int kConns = 300;
    vde::Stack c = make_stack(kV4.c_cidr, 2);
    std::optional<vde::Stack> a(make_stack(kV4.a_cidr, 1));
    UniqueFd l = listener(*a, kV4.a);
    std::vector<UniqueFd> cs, as;
    for (int i = 0; i < kConns; i++) {
        cs.push_back(connect_to(c, kV4.a));
        as.push_back(accept_one(l.get()));
        ASSERT_TRUE(as.back());
        ASSERT_EQ(send_some(cs.back().get(), static_cast<std::size_t>(i), 1), 1u);  // left unread
    }
    ::usleep(100000);
    std::vector<UniqueFd*> saved{&l};
    for (UniqueFd& s : as) saved.push_back(&s);
    vde::Restored b = move_stack(a, saved);
    ASSERT_EQ(b.sockets.size(), static_cast<std::size_t>(kConns + 1));
    for (int i = 0; i < kConns; i++) {
        int fd = b.sockets[static_cast<std::size_t>(i) + 1].get();
        ASSERT_TRUE(read_pattern(fd, static_cast<std::size_t>(i), 1)) << i;
        ASSERT_EQ(send_some(fd, static_cast<std::size_t>(i), 1), 1u);
    }
    for (int i = 0; i < kConns; i++) ASSERT_TRUE(read_pattern(cs[static_cast<std::size_t>(i)].get(), static_cast<std::size_t>(i), 1)) << i;
}

// A send queue of megabytes, most of it sent and unacknowledged (the
// client's window is large and it reads nothing): it must fit in the
// rebuilt socket, unprivileged too (where SO_SNDBUFFORCE is not allowed).
TEST(Migrate, AFullSendQueueMoves) {
    set_helper();
    vde::Stack c = make_stack(kV4.c_cidr, 2);
    std::optional<vde::Stack> a(make_stack(kV4.a_cidr, 1));
    UniqueFd l = listener(*a, kV4.a);
    UniqueFd cconn = connect_to(c, kV4.a, 4 << 20);
    UniqueFd aconn = accept_one(l.get());
    ASSERT_TRUE(aconn);
    std::size_t queued = 0;
    for (int i = 0; i < 50; i++) {  // until the client's window and our buffer are full
        queued += send_some(aconn.get(), queued, 1 << 20);
        ::usleep(10000);
    }
    int outq = 0;
    ASSERT_EQ(::ioctl(aconn.get(), SIOCOUTQ, &outq), 0);
    std::printf("queued %zu bytes, %d in the send queue\n", queued, outq);
    EXPECT_GT(outq, 1 << 20);
    vde::Restored b = move_stack(a, {&aconn}, {&l});
    EXPECT_TRUE(read_pattern(cconn.get(), 0, queued));
    ASSERT_EQ(send_some(b.sockets[0].get(), queued, 1000), 1000u);
    EXPECT_TRUE(read_pattern(cconn.get(), queued, 1000));
}

// ---- what cannot move, bad images, faults ---------------------------------

struct Connected {
    vde::Stack a, c;
    UniqueFd l, aconn, cconn;
};

Connected connected(const Family& f = kV4) {
    vde::Stack a = make_stack(f.a_cidr, 1);
    vde::Stack c = make_stack(f.c_cidr, 2);
    UniqueFd l = listener(a, f.a);
    UniqueFd cconn = connect_to(c, f.a);
    UniqueFd aconn = accept_one(l.get());
    EXPECT_TRUE(aconn);
    return Connected{std::move(a), std::move(c), std::move(l), std::move(aconn), std::move(cconn)};
}

// The connection still carries bytes both ways: nothing was frozen or broken.
void still_works(Connected& k, std::size_t at) {
    ASSERT_EQ(send_some(k.cconn.get(), at, 100), 100u);
    EXPECT_TRUE(read_pattern(k.aconn.get(), at, 100));
    ASSERT_EQ(send_some(k.aconn.get(), at, 100), 100u);
    EXPECT_TRUE(read_pattern(k.cconn.get(), at, 100));
}

int save_errno(vde::Stack& s, std::vector<int> socks, int fd) {
    try {
        s.save(socks, fd);
    } catch (const vde::Error& e) {
        return e.errno_value();
    }
    return 0;
}

TEST(Migrate, WhatCannotMoveIsRefusedAndTheStackLeftAsItWas) {
    set_helper();
    Connected k = connected();
    UniqueFd image = image_file();
    // Not TCP or UDP: a ping socket, a raw one, a netlink one.
    UniqueFd raw = k.a.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    UniqueFd nl = k.a.socket(AF_NETLINK, SOCK_RAW, 0);
    EXPECT_EQ(save_errno(k.a, {k.aconn.get(), raw.get()}, image.get()), EOPNOTSUPP);
    still_works(k, 0);
    EXPECT_EQ(save_errno(k.a, {nl.get(), k.aconn.get()}, image.get()), EOPNOTSUPP);
    // A TCP socket in SYN_SENT (nobody at 10.0.0.99 answers).
    UniqueFd syn = k.a.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    socklen_t len;
    sockaddr_storage nobody = make_addr("10.0.0.99", 9, len);
    ASSERT_EQ(::connect(syn.get(), reinterpret_cast<sockaddr*>(&nobody), len), -1);
    EXPECT_EQ(save_errno(k.a, {k.aconn.get(), syn.get()}, image.get()), EOPNOTSUPP);
    // A socket of another stack, of no stack, the same one twice.
    EXPECT_EQ(save_errno(k.a, {k.aconn.get(), k.cconn.get()}, image.get()), EBADF);
    EXPECT_EQ(save_errno(k.a, {image.get()}, image.get()), EBADF);
    EXPECT_EQ(save_errno(k.a, {k.aconn.get(), k.aconn.get()}, image.get()), EINVAL);
    // An image that cannot be written (a read-only fd): refused after the
    // freeze, which is undone, and the socket taken out of repair mode.
    UniqueFd ro(::open("/dev/null", O_RDONLY));
    EXPECT_EQ(save_errno(k.a, {k.aconn.get()}, ro.get()), EBADF);
    still_works(k, 100);
    EXPECT_EQ(::lseek(image.get(), 0, SEEK_END), 0);  // nothing was written
    // The C API says the same.
    const int bad[] = {raw.get()};
    struct vdestack* none = nullptr;
    errno = 0;
    EXPECT_EQ(vde_stack_save(none, bad, 1, image.get()), -1);
    EXPECT_EQ(errno, EBADF);
}

// An image of the connected stack, saved; the stacks stay (frozen A).
std::vector<std::byte> saved_image(Connected& k, int nsocks_out[1]) {
    UniqueFd image = image_file();
    const int socks[] = {k.l.get(), k.aconn.get()};
    k.a.save(socks, image.get());
    nsocks_out[0] = 2;
    const off_t n = ::lseek(image.get(), 0, SEEK_END);
    std::vector<std::byte> b(static_cast<std::size_t>(n));
    EXPECT_EQ(::pread(image.get(), b.data(), b.size(), 0), n);
    return b;
}

UniqueFd file_with(std::span<const std::byte> b) {
    UniqueFd f = image_file();
    EXPECT_EQ(::write(f.get(), b.data(), b.size()), static_cast<ssize_t>(b.size()));
    ::lseek(f.get(), 0, SEEK_SET);
    return f;
}

std::string restore_error(std::span<const std::byte> b, int* err) {
    UniqueFd f = file_with(b);
    try {
        (void)vde::Stack::restore(f.get());
    } catch (const vde::Error& e) {
        *err = e.errno_value();
        return e.what();
    }
    *err = 0;
    return "";
}

TEST(Migrate, ABadImageIsEINVALAndAWrongCountENOSPC) {
    set_helper();
    Connected k = connected();
    int n[1];
    const std::vector<std::byte> img = saved_image(k, n);
    const int fds_before = vdetest::quiet_fds();
    int err = 0;
    // Empty, garbage, cut short, a byte changed inside a record, a newer version.
    EXPECT_NE(restore_error({}, &err), "");
    EXPECT_EQ(err, EINVAL);
    std::vector<std::byte> junk(100, std::byte{'x'});
    EXPECT_NE(restore_error(junk, &err).find("not a stack image"), std::string::npos);
    EXPECT_EQ(err, EINVAL);
    EXPECT_NE(restore_error(std::span(img).first(img.size() / 2), &err).find("truncated"), std::string::npos);
    EXPECT_EQ(err, EINVAL);
    std::vector<std::byte> bad = img;
    bad[20 + 1] = std::byte{0x7f};  // the first record's type
    restore_error(bad, &err);
    EXPECT_EQ(err, EINVAL);
    bad = img;
    bad[9] = std::byte{2};  // version 2
    const std::string why = restore_error(bad, &err);
    EXPECT_EQ(err, EINVAL);
    EXPECT_NE(why.find("version 2"), std::string::npos) << why;
    EXPECT_NE(why.find("newer"), std::string::npos) << why;
    // The C API: ENOSPC when nsocks does not match, before anything is made.
    UniqueFd f = file_with(img);
    int socks[3];
    errno = 0;
    EXPECT_EQ(vde_stack_restore(f.get(), nullptr, socks, 3), nullptr);
    EXPECT_EQ(errno, ENOSPC);
    ::lseek(f.get(), 0, SEEK_SET);
    EXPECT_EQ(vde_stack_restore(f.get(), nullptr, socks, 1), nullptr);
    EXPECT_EQ(errno, ENOSPC);
    EXPECT_EQ(vdetest::settled(vdetest::count_fds, fds_before + 1), fds_before + 1);  // f only: nothing leaked
}

TEST(Migrate, ARestoreThatDiesLeavesTheImageForARetry) {
    set_helper();
    Connected k = connected();
    ASSERT_EQ(send_some(k.cconn.get(), 0, 1000), 1000u);
    ::usleep(50000);
    int n[1];
    const std::vector<std::byte> img = saved_image(k, n);
    k.aconn.reset();
    k.l.reset();
    { vde::Stack gone = std::move(k.a); }
    // B reads the image from a pipe that gives it half, and dies there.
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    const pid_t pid = vdetest::fork_quietly();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        wr.reset();
        int socks[2];
        (void)vde_stack_restore(rd.get(), nullptr, socks, 2);
        ::_exit(3);  // not reached while the pipe stays open
    }
    rd.reset();
    ASSERT_EQ(::write(wr.get(), img.data(), img.size() / 2), static_cast<ssize_t>(img.size() / 2));
    ::usleep(200000);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    // The retry, from the intact image: the connection carries on.
    UniqueFd f = file_with(img);
    vde::Restored b = vde::Stack::restore(f.get());
    ASSERT_EQ(b.sockets.size(), 2u);
    EXPECT_TRUE(read_pattern(b.sockets[1].get(), 0, 1000));
    ASSERT_EQ(send_some(b.sockets[1].get(), 0, 100), 100u);
    EXPECT_TRUE(read_pattern(k.cconn.get(), 0, 100));
}

// Two copies of one stack on one network (the image restored twice, or the
// old stack still there): both restores succeed, the network delivers each
// frame to the copy that spoke last, and the connection is the copies'
// quarrel (duplicate segments, perhaps resets). Nothing crashes, nothing
// leaks, and each copy goes when deleted.
TEST(Migrate, TwoCopiesOnOneNetworkDoNotCrash) {
    set_helper();
    Connected k = connected();
    int n[1];
    const std::vector<std::byte> img = saved_image(k, n);
    const int fds_before = vdetest::quiet_fds();
    {
        UniqueFd f1 = file_with(img), f2 = file_with(img);
        vde::Restored b1 = vde::Stack::restore(f1.get());
        vde::Restored b2 = vde::Stack::restore(f2.get());
        ASSERT_EQ(b2.sockets.size(), 2u);
        (void)send_some(k.cconn.get(), 0, 1000);
        (void)send_some(b1.sockets[1].get(), 0, 1000);
        (void)send_some(b2.sockets[1].get(), 0, 1000);
        ::usleep(300000);
        char buf[4096];
        for (int fd : {b1.sockets[1].get(), b2.sockets[1].get(), k.cconn.get()})
            (void)::recv(fd, buf, sizeof buf, MSG_DONTWAIT);  // whatever came, or an error: no crash
        EXPECT_EQ(b1.stack.mac(), b2.stack.mac());
    }
    EXPECT_TRUE(vdetest::eventually([&] { return vdetest::count_fds() == fds_before; }));
}

// A stack of loopback only: lo comes up again, the UDP socket on 127.0.0.1
// keeps its port.
TEST(Migrate, ALoopbackOnlyStackMovesWithLoUp) {
    set_helper();
    std::optional<vde::Stack> a(std::in_place, "");
    a->link_up("lo");
    UniqueFd u = bound_udp(*a, "127.0.0.1", 9000);
    vde::Restored b = move_stack(a, {&u});
    ASSERT_EQ(b.sockets.size(), 1u);
    EXPECT_EQ(b.stack.vnl(), "");
    UniqueFd sender = b.stack.socket(AF_INET, SOCK_DGRAM);
    socklen_t len;
    sockaddr_storage to = make_addr("127.0.0.1", 9000, len);
    ASSERT_EQ(::sendto(sender.get(), "lo", 2, 0, reinterpret_cast<sockaddr*>(&to), len), 2) << std::strerror(errno);
    EXPECT_EQ(vdetest::read_n(b.sockets[0].get(), 2), "lo");
}

// ---- libioth's stacks ------------------------------------------------------

TEST(Migrate, AnIothStackMovesToo) {
    set_helper();
    vde::Stack c = make_stack(kV6.c_cidr, 2);
    struct ioth* a = ioth_newstack("vdestack", kVnl);
    ASSERT_NE(a, nullptr);
    ASSERT_GE(ioth_config(a, "eth,ip=fc00::1/64,mac=02:00:00:00:77:01"), 0) << ioth_last_error();
    const int l = ioth_msocket(a, AF_INET6, SOCK_STREAM, 0);
    socklen_t len;
    sockaddr_storage ss = make_addr(kV6.a, kPort, len);
    ASSERT_EQ(ioth_bind(l, reinterpret_cast<sockaddr*>(&ss), len), 0);
    ASSERT_EQ(ioth_listen(l, 4), 0);
    UniqueFd cconn = connect_to(c, kV6.a);
    const int conn = ioth_accept(l, nullptr, nullptr);
    ASSERT_GE(conn, 0);
    // A kernel stack and a socket of another stack are refused.
    struct ioth* kernel = ioth_newstack(nullptr, nullptr);
    UniqueFd image = image_file();
    const int socks[] = {l, conn};
    EXPECT_EQ(ioth_savestack(kernel, socks, 2, image.get()), -1);
    EXPECT_EQ(errno, EOPNOTSUPP);
    const int other[] = {cconn.get()};
    EXPECT_EQ(ioth_savestack(a, other, 1, image.get()), -1);
    EXPECT_EQ(errno, EBADF);
    ASSERT_EQ(ioth_savestack(a, socks, 2, image.get()), 0) << ioth_last_error();
    EXPECT_EQ(ioth_close(l), 0);
    EXPECT_EQ(ioth_close(conn), 0);
    EXPECT_EQ(ioth_delstack(a), 0);
    EXPECT_EQ(ioth_delstack(kernel), 0);
    rewind(image.get());
    int back[2] = {-1, -1};
    struct ioth* b = ioth_restorestack(image.get(), nullptr, back, 2);
    ASSERT_NE(b, nullptr) << ioth_last_error();
    ASSERT_EQ(send_some(cconn.get(), 0, 500), 500u);
    EXPECT_TRUE(read_pattern(back[1], 0, 500));
    EXPECT_EQ(ioth_delstack(b), -1);  // its sockets are open
    EXPECT_EQ(errno, EBUSY);
    EXPECT_EQ(ioth_close(back[0]), 0);
    EXPECT_EQ(ioth_close(back[1]), 0);
    EXPECT_EQ(ioth_delstack(b), 0);
}

}  // namespace
