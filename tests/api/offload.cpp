// stack_offload.cpp - the tap offload fast path end to end (engine.hpp,
// offload.hpp), through libvdestack.so inside the private netns made by
// netns_main.cpp: large TCP transfers between two stacks over vxvde, both
// directions at once, IPv4 and IPv6, at MTU 1500 and 9000, compared byte for
// byte and by hash (TSO on the sending taps, GRO on the receiving ones); many
// flows at once; UDP of every size (checksum completion, fragments); TCP over
// an 802.1Q VLAN on vde0 (TSO of tagged frames); and our stack against a
// plain peer: a stack of another process whose helper runs with
// VDESTACK_OFFLOAD=0 (its tap reads and writes ordinary frames only).
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <tuple>
#include <optional>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack.h"

extern char** environ;

using namespace vdetest;

namespace {

constexpr const char* kVnl = "vxvde://234.0.0.1";
constexpr std::uint64_t kBig = 64ull << 20;  // 64 MiB per direction

struct vdestack* stack_on(const std::string& vnl, const std::string& a4, const std::string& a6, unsigned mtu = 0,
                          const std::string& extra = "") {
    struct vdestack* s = vde_addstack(const_cast<char*>(vnl.c_str()), nullptr);
    if (s == nullptr) return nullptr;
    std::string c = "/bin/ip addr add " + a4 + " dev vde0; /bin/ip addr add " + a6 + " dev vde0 nodad; ";
    if (mtu != 0) c += "/bin/ip link set vde0 mtu " + std::to_string(mtu) + "; ";
    c += "/bin/ip link set vde0 up; /bin/ip link set lo up";
    if (!extra.empty()) c += "; " + extra;
    if (vde_stackcmd(s, c.data()) != 0) {
        vde_delstack(s);
        return nullptr;
    }
    return s;
}

struct vdestack* stack_with(const std::string& a4, const std::string& a6, unsigned mtu = 0,
                            const std::string& extra = "") {
    return stack_on(kVnl, a4, a6, mtu, extra);
}

int listener(struct vdestack* s, int family, int port) {
    int fd = vde_msocket(s, family, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len;
    sockaddr_storage a = make_addr(family == AF_INET6 ? "::" : "0.0.0.0", port, len);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Connects from s to ip:port, retrying while neighbours resolve (or the peer starts).
int dial(struct vdestack* s, const char* ip, int port, double seconds = 10) {
    int family = std::strchr(ip, ':') ? AF_INET6 : AF_INET;
    int result = -1;
    eventually(
        [&] {
            int fd = vde_msocket(s, family, SOCK_STREAM, 0);
            if (fd < 0) return false;
            socklen_t len;
            sockaddr_storage a = make_addr(ip, port, len);
            if (connect(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) {
                result = fd;
                return true;
            }
            close(fd);
            return false;
        },
        seconds);
    return result;
}

int accept_within(int lfd, int ms = 10000) {
    pollfd p{lfd, POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return -1;
    return accept(lfd, nullptr, nullptr);
}

void set_timeouts(int fd) {
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// ---- a reproducible byte stream, generated at any offset ----

std::uint64_t splitmix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
void fill(std::uint8_t* p, std::uint64_t off, std::size_t len, std::uint64_t seed) {
    std::size_t i = 0;
    while (i < len) {
        std::uint64_t v = splitmix(seed * 0x100000001b3ull ^ ((off + i) / 8));
        for (std::uint64_t b = (off + i) % 8; b < 8 && i < len; b++, i++) p[i] = static_cast<std::uint8_t>(v >> (8 * b));
    }
}
std::uint64_t fnv(std::uint64_t h, const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ull;

struct Sent {
    std::uint64_t bytes = 0, hash = kFnvBasis;
};
// Writes n bytes of stream `seed` in writes of varying sizes, then shuts down the write side.
Sent send_stream(int fd, std::uint64_t n, std::uint64_t seed) {
    Sent s;
    std::vector<std::uint8_t> buf(1 << 18);
    std::size_t step = 1;
    while (s.bytes < n) {
        step = step * 7 % buf.size() + 1;  // 1 byte .. 256 KiB: small and large segments
        std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(step, n - s.bytes));
        fill(buf.data(), s.bytes, len, seed);
        std::size_t done = 0;
        while (done < len) {
            ssize_t w = ::write(fd, buf.data() + done, len - done);
            if (w <= 0) return s;
            s.hash = fnv(s.hash, buf.data() + done, static_cast<std::size_t>(w));
            done += static_cast<std::size_t>(w);
            s.bytes += static_cast<std::uint64_t>(w);
        }
    }
    ::shutdown(fd, SHUT_WR);
    return s;
}

struct Received {
    std::uint64_t bytes = 0, hash = kFnvBasis;
    std::int64_t first_bad = -1;  // offset of the first byte that differs from the stream
};
// Reads until EOF (or a 30 s silence), checking every byte against stream `seed`.
Received recv_stream(int fd, std::uint64_t seed) {
    Received r;
    std::vector<std::uint8_t> buf(1 << 17), want(1 << 17);
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) break;
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        const auto len = static_cast<std::size_t>(n);
        r.hash = fnv(r.hash, buf.data(), len);
        if (r.first_bad < 0) {
            fill(want.data(), r.bytes, len, seed);
            for (std::size_t i = 0; i < len; i++)
                if (buf[i] != want[i]) {
                    r.first_bad = static_cast<std::int64_t>(r.bytes + i);
                    break;
                }
        }
        r.bytes += len;
    }
    return r;
}

// n bytes each way at once over the connection a <-> b.
void expect_duplex(int a, int b, std::uint64_t n) {
    set_timeouts(a);
    set_timeouts(b);
    Sent sa, sb;
    Received ra, rb;
    std::thread t1([&] { sa = send_stream(a, n, 1); });
    std::thread t2([&] { sb = send_stream(b, n, 2); });
    std::thread t3([&] { rb = recv_stream(b, 1); });
    ra = recv_stream(a, 2);
    t1.join();
    t2.join();
    t3.join();
    EXPECT_EQ(sa.bytes, n);
    EXPECT_EQ(sb.bytes, n);
    EXPECT_EQ(rb.bytes, n);
    EXPECT_EQ(ra.bytes, n);
    EXPECT_EQ(rb.hash, sa.hash);
    EXPECT_EQ(ra.hash, sb.hash);
    EXPECT_EQ(rb.first_bad, -1);
    EXPECT_EQ(ra.first_bad, -1);
}

void expect_transfer(struct vdestack* from, struct vdestack* to, const char* to_ip, int port, std::uint64_t n) {
    int lfd = listener(to, std::strchr(to_ip, ':') ? AF_INET6 : AF_INET, port);
    ASSERT_GE(lfd, 0) << strerror(errno);
    int c = dial(from, to_ip, port);
    ASSERT_GE(c, 0) << "cannot connect to " << to_ip << ": " << strerror(errno);
    int a = accept_within(lfd);
    ASSERT_GE(a, 0);
    expect_duplex(c, a, n);
    close(a);
    close(c);
    close(lfd);
}

// Sets an environment variable for the helpers started in its lifetime. The
// helper reads it when it starts: use it when no stack is alive (the helper
// is then gone).
struct EnvSet {
    const char* name;
    // The helper reads the environment when it starts (one that lingers
    // after its last stack is taken back only with the same settings).
    EnvSet(const char* n, const char* v) : name(n) {
        setenv(n, v, 1);
    }
    ~EnvSet() { unsetenv(name); }
    EnvSet(const EnvSet&) = delete;
    EnvSet& operator=(const EnvSet&) = delete;
};
// New helpers run without the local fabric (fabric.hpp), so two stacks of
// this process talk through the network: TSO out of one tap, the transport,
// GRO into the other.
struct FabricOff : EnvSet {
    FabricOff() : EnvSet("VDESTACK_FABRIC", "0") {}
};
// One datagram per frame (no UDP segmentation offload, no GRO mode).
struct UdpGsoOff : EnvSet {
    UdpGsoOff() : EnvSet("VDESTACK_UDP_GSO", "0") {}
};

// UDP datagrams this network namespace has sent (the helper's transports live in it).
std::uint64_t udp_out_datagrams() {
    std::FILE* f = std::fopen("/proc/net/snmp", "r");
    if (f == nullptr) return 0;
    char line[1024];
    std::vector<std::string> names;
    std::uint64_t value = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "Udp: ", 5) != 0) continue;
        std::vector<std::string> words;
        for (char* w = std::strtok(line + 5, " \n"); w != nullptr; w = std::strtok(nullptr, " \n")) words.emplace_back(w);
        if (names.empty()) {
            names = words;
            continue;
        }
        for (std::size_t i = 0; i < names.size() && i < words.size(); i++)
            if (names[i] == "OutDatagrams") value = std::strtoull(words[i].c_str(), nullptr, 10);
    }
    std::fclose(f);
    return value;
}

// (MTU, local fabric on): with the fabric the frames go tap to tap whole;
// without it they take the network (TSO, vxvde, GRO).
class OffloadMtu : public ::testing::TestWithParam<std::tuple<unsigned, bool>> {};

TEST_P(OffloadMtu, LargeTcpTransfersBothWaysIPv4AndIPv6) {
    const unsigned mtu = std::get<0>(GetParam());
    std::optional<FabricOff> off;
    if (!std::get<1>(GetParam())) off.emplace();
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64", mtu);
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64", mtu);
    ASSERT_NE(s2, nullptr) << strerror(errno);
    {
        SCOPED_TRACE("IPv4");
        expect_transfer(s1, s2, "10.0.0.2", 7001, kBig);
    }
    {
        SCOPED_TRACE("IPv6");
        expect_transfer(s2, s1, "fc00::1:1", 7002, kBig);
    }
    vde_delstack(s1);
    vde_delstack(s2);
}

INSTANTIATE_TEST_SUITE_P(Offload, OffloadMtu, ::testing::Combine(::testing::Values(1500u, 9000u), ::testing::Bool()),
                         [](const auto& p) {
                             return "Mtu" + std::to_string(std::get<0>(p.param)) +
                                    (std::get<1>(p.param) ? "Fabric" : "Network");
                         });

TEST(Offload, LocalFabricSkipsTheNetwork) {
    // 16 MiB between two stacks of this process: through the fabric hardly a
    // UDP datagram leaves (ARP/ND and the like); through the network every
    // segment is one (about 11600 at MSS 1448), which shows the count works.
    auto transfer_datagrams = [](int port) {
        struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64");
        struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64");
        EXPECT_NE(s1, nullptr);
        EXPECT_NE(s2, nullptr);
        if (s1 == nullptr || s2 == nullptr) return std::uint64_t{0};
        const std::uint64_t before = udp_out_datagrams();
        expect_transfer(s1, s2, "10.0.0.2", port, 16u << 20);
        const std::uint64_t sent = udp_out_datagrams() - before;
        vde_delstack(s1);
        vde_delstack(s2);
        return sent;
    };
    const std::uint64_t fabric = transfer_datagrams(7050);
    EXPECT_LT(fabric, 500u);
    FabricOff off;
    UdpGsoOff gso_off;  // a UDP_SEGMENT run counts as one datagram
    const std::uint64_t network = transfer_datagrams(7051);
    EXPECT_GT(network, 11000u);
}

TEST(Offload, UdpSegmentationOffloadOverVxvde) {
    // Between stacks over vxvde (fabric off, as between two processes), runs
    // of equal segments leave in one UDP_SEGMENT send and arrive coalesced
    // (GRO mode): 16 MiB arrive intact (expect_transfer checks every byte) in
    // far fewer sends than segments (about 11600 at MSS 1448).
    FabricOff off;
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64");
    struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s1, nullptr);
    ASSERT_NE(s2, nullptr);
    const std::uint64_t before = udp_out_datagrams();
    expect_transfer(s1, s2, "10.0.0.2", 7052, 16u << 20);
    const std::uint64_t sends = udp_out_datagrams() - before;
    EXPECT_LT(sends, 4000u);
    vde_delstack(s1);
    vde_delstack(s2);
}

TEST(Offload, StacksOnAnotherVniAreAnotherNetwork) {
    // Same group and port, another VNI: another segment, which the fabric
    // must not join. Static neighbours make every frame unicast (no ARP
    // broadcast that the network would keep apart anyway): only the fabric
    // could carry s2's SYN to s1. s3, on s1's VNI, shows that it would.
    const std::string mac = "/bin/ip link set vde0 address 02:00:00:00:07:0";
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64", 0,
                                     mac + "1; /bin/ip neigh add 10.0.0.2 lladdr 02:00:00:00:07:02 dev vde0");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = vde_addstack(const_cast<char*>("vxvde://234.0.0.1/vni=7"), nullptr);
    ASSERT_NE(s2, nullptr) << strerror(errno);
    std::string c2 = mac + "2; /bin/ip addr add 10.0.0.2/24 dev vde0; /bin/ip link set vde0 up; "
                           "/bin/ip neigh add 10.0.0.1 lladdr 02:00:00:00:07:01 dev vde0";
    ASSERT_EQ(vde_stackcmd(s2, c2.data()), 0);
    struct vdestack* s3 = stack_with("10.0.0.3/24", "fc00::1:3/64", 0,
                                     mac + "3; /bin/ip neigh add 10.0.0.1 lladdr 02:00:00:00:07:01 dev vde0");
    ASSERT_NE(s3, nullptr) << strerror(errno);
    int lfd = listener(s1, AF_INET, 7060);
    ASSERT_GE(lfd, 0);
    // s1 sends a frame, so the fabric learns its MAC.
    int u = vde_msocket(s1, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(u, 0);
    socklen_t len;
    sockaddr_storage to = make_addr("10.0.0.2", 9, len);
    EXPECT_EQ(sendto(u, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), len), 1);
    close(u);
    // A connect that gives up after 2 s (an unanswered SYN would block for minutes).
    auto connects = [](struct vdestack* s) {
        int fd = vde_msocket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) return false;
        socklen_t alen;
        sockaddr_storage a = make_addr("10.0.0.1", 7060, alen);
        bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), alen) == 0;
        if (!ok && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            int err = 0;
            socklen_t elen = sizeof err;
            ok = poll(&p, 1, 2000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
        }
        close(fd);
        return ok;
    };
    EXPECT_FALSE(connects(s2)) << "a stack on VNI 7 reached one on VNI 1";
    EXPECT_TRUE(connects(s3)) << "the same on one VNI must work";
    close(lfd);
    vde_delstack(s1);
    vde_delstack(s2);
    vde_delstack(s3);
}

TEST(Offload, ManyFlowsAtOnce) {
    FabricOff off;  // GRO sorting flows needs the network path
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr) << strerror(errno);
    constexpr int kFlows = 12;  // more than Gro::kMaxFlows
    int lfd4 = listener(s2, AF_INET, 7010), lfd6 = listener(s2, AF_INET6, 7011);
    ASSERT_GE(lfd4, 0);
    ASSERT_GE(lfd6, 0);
    std::vector<int> cs, as;
    for (int i = 0; i < kFlows; i++) {
        cs.push_back(dial(s1, i % 2 ? "fc00::1:2" : "10.0.0.2", i % 2 ? 7011 : 7010));
        ASSERT_GE(cs.back(), 0);
        as.push_back(accept_within(i % 2 ? lfd6 : lfd4));
        ASSERT_GE(as.back(), 0);
    }
    std::vector<std::thread> ts;
    for (int i = 0; i < kFlows; i++) ts.emplace_back([&, i] { expect_duplex(cs[i], as[i], 4u << 20); });
    for (auto& t : ts) t.join();
    for (int fd : cs) close(fd);
    for (int fd : as) close(fd);
    close(lfd4);
    close(lfd6);
    vde_delstack(s1);
    vde_delstack(s2);
}

TEST(Offload, UdpOfEverySizeArrivesIntact) {
    FabricOff off;  // checksum completion on the network path
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr) << strerror(errno);
    for (const char* ip : {"10.0.0.2", "fc00::1:2"}) {
        SCOPED_TRACE(ip);
        const int family = std::strchr(ip, ':') ? AF_INET6 : AF_INET;
        int rx = vde_msocket(s2, family, SOCK_DGRAM, 0), tx = vde_msocket(s1, family, SOCK_DGRAM, 0);
        ASSERT_GE(rx, 0);
        ASSERT_GE(tx, 0);
        socklen_t len;
        sockaddr_storage any = make_addr(family == AF_INET6 ? "::" : "0.0.0.0", 7020, len);
        ASSERT_EQ(bind(rx, reinterpret_cast<sockaddr*>(&any), len), 0);
        sockaddr_storage to = make_addr(ip, 7020, len);
        std::vector<std::uint8_t> buf(65536), got(65536);
        for (std::size_t size : {0, 1, 2, 17, 1000, 1472, 1473, 1452, 1453, 3000, 8972, 9000, 30000, 65000}) {
            if (family == AF_INET && size > 65507) continue;
            fill(buf.data(), size, size, 7);
            // UDP may be lost (the first datagram waits for the neighbour): retry
            bool ok = false;
            for (int attempt = 0; attempt < 20 && !ok; attempt++) {
                ASSERT_EQ(sendto(tx, buf.data(), size, 0, reinterpret_cast<sockaddr*>(&to), len),
                          static_cast<ssize_t>(size))
                    << strerror(errno);
                pollfd p{rx, POLLIN, 0};
                while (poll(&p, 1, 250) == 1) {
                    ssize_t n = recv(rx, got.data(), got.size(), 0);
                    if (n == static_cast<ssize_t>(size) && std::memcmp(got.data(), buf.data(), size) == 0) {
                        ok = true;
                        break;
                    }
                }
            }
            EXPECT_TRUE(ok) << "a datagram of " << size << " bytes never arrived intact";
        }
        close(rx);
        close(tx);
    }
    vde_delstack(s1);
    vde_delstack(s2);
}

TEST(Offload, TcpOverAVlanOnTheTap) {
    FabricOff off;  // TSO of tagged frames on the network path
    const std::string vlan = "/bin/ip link add link vde0 name vde0.10 type vlan id 10";
    struct vdestack* s1 = stack_with("10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    std::string c1 = vlan + "; /bin/ip addr add 10.0.10.1/24 dev vde0.10; /bin/ip link set vde0.10 up";
    if (vde_stackcmd(s1, c1.data()) != 0) {
        vde_delstack(s1);
        GTEST_SKIP() << "no 802.1Q support in this kernel";
    }
    struct vdestack* s2 = stack_with("10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr) << strerror(errno);
    std::string c2 = vlan + "; /bin/ip addr add 10.0.10.2/24 dev vde0.10; /bin/ip link set vde0.10 up";
    ASSERT_EQ(vde_stackcmd(s2, c2.data()), 0);
    expect_transfer(s1, s2, "10.0.10.2", 7030, 16u << 20);
    vde_delstack(s1);
    vde_delstack(s2);
}

// ---- ptp: whole super-segments between two of our ends (wire/whole.hpp) ----

void ptp_transfer(int port) {
    char tmpl[] = "/tmp/vdestack-ptp-stack-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string vnl = std::string("ptp://") + tmpl + "/cable";
    struct vdestack* s1 = stack_on(vnl, "10.0.0.1/24", "fc00::1:1/64");
    struct vdestack* s2 = stack_on(vnl, "10.0.0.2/24", "fc00::1:2/64");
    EXPECT_NE(s1, nullptr) << strerror(errno);
    EXPECT_NE(s2, nullptr) << strerror(errno);
    if (s1 != nullptr && s2 != nullptr) {
        expect_transfer(s1, s2, "10.0.0.2", port, 16u << 20);
        expect_transfer(s2, s1, "fc00::1:1", port + 1, 4u << 20);
    }
    if (s1 != nullptr) vde_delstack(s1);
    if (s2 != nullptr) vde_delstack(s2);
    rmdir(tmpl);
}

TEST(Offload, TcpOverPtpCarriesWholeSuperSegments) {
    // Both ends ours: TSO super-segments travel whole, in envelopes, and are
    // written whole to the other tap; every byte arrives (both directions,
    // IPv4 and IPv6).
    ptp_transfer(7070);
}

TEST(Offload, TcpOverPtpWithoutWholeFrames) {
    // The same with whole frames off: TSO cut into ordinary frames, GRO.
    EnvSet off("VDESTACK_OFFLOAD", "csum,tso,gro");
    ptp_transfer(7072);
}

TEST(Offload, TcpThroughOurSwitchCarriesWholeSuperSegments) {
    // A stack hosts switch:// (its helper serves the node); two stacks are
    // its vde:// clients: between them super-segments go whole through the
    // switch; towards the hosting stack the switch cuts them.
    char tmpl[] = "/tmp/vdestack-sw-stack-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = std::string(tmpl) + "/sw";
    struct vdestack* host = stack_on("switch://" + dir, "10.0.0.3/24", "fc00::1:3/64");
    ASSERT_NE(host, nullptr) << strerror(errno);
    struct vdestack* s1 = stack_on("vde://" + dir, "10.0.0.1/24", "fc00::1:1/64");
    struct vdestack* s2 = stack_on("vde://" + dir, "10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    ASSERT_NE(s2, nullptr) << strerror(errno);
    expect_transfer(s1, s2, "10.0.0.2", 7080, 16u << 20);
    expect_transfer(s2, s1, "fc00::1:1", 7081, 4u << 20);
    expect_transfer(s1, host, "10.0.0.3", 7082, 4u << 20);
    vde_delstack(s1);
    vde_delstack(s2);
    vde_delstack(host);
}

// ---- against a plain peer ----

// The peer's side: runs only when started by PlainPeerBothWays (below), in
// another process with its own helper, whose taps have no offloads. An echo
// server for two connections (IPv4, then IPv6); reports readiness on stdout.
TEST(OffloadPeer, PlainEchoServer) {
    if (std::getenv("VDESTACK_TEST_PLAIN_PEER") == nullptr) GTEST_SKIP() << "started by PlainPeerBothWays only";
    struct vdestack* s = stack_with("10.0.0.2/24", "fc00::1:2/64", 0);
    ASSERT_NE(s, nullptr) << strerror(errno);
    int lfd4 = listener(s, AF_INET, 7040), lfd6 = listener(s, AF_INET6, 7041);
    ASSERT_GE(lfd4, 0);
    ASSERT_GE(lfd6, 0);
    std::printf("READY\n");
    std::fflush(stdout);
    for (int lfd : {lfd4, lfd6}) {
        int a = accept_within(lfd, 30000);
        ASSERT_GE(a, 0);
        set_timeouts(a);
        std::vector<char> buf(1 << 17);
        ssize_t n;
        while ((n = read(a, buf.data(), buf.size())) > 0)
            ASSERT_TRUE(write_all(a, std::string(buf.data(), static_cast<std::size_t>(n))));
        // Our stack goes with this process: close() waits until the peer has it all.
        linger l{1, 30};
        setsockopt(a, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close(a);
    }
    vde_delstack(s);
}

TEST(Offload, PlainPeerBothWays) {
    // The peer: this binary again, with a helper of its own (offloads off),
    // in this network namespace.
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<std::string> env = {"VDESTACK_OFFLOAD=0", "VDESTACK_TEST_PLAIN_PEER=1", "VDESTACK_TEST_NETNS_READY=1"};
    for (char** e = environ; *e != nullptr; e++)
        if (std::strncmp(*e, "VDESTACK_OFFLOAD=", 17) != 0) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe", filter = "--gtest_filter=OffloadPeer.PlainEchoServer";
    char* argv[] = {exe.data(), filter.data(), nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    std::string said;
    EXPECT_TRUE(eventually(
        [&] {
            pollfd p{out[0], POLLIN, 0};
            char c[256];
            ssize_t n;
            while (poll(&p, 1, 0) == 1 && (n = read(out[0], c, sizeof c)) > 0) said.append(c, static_cast<std::size_t>(n));
            return said.find("READY") != std::string::npos;
        },
        30))
        << said;

    struct vdestack* s = stack_with("10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s, nullptr) << strerror(errno);
    for (const char* ip : {"10.0.0.2", "fc00::1:2"}) {
        SCOPED_TRACE(ip);
        int c = dial(s, ip, std::strchr(ip, ':') ? 7041 : 7040, 20);
        ASSERT_GE(c, 0) << strerror(errno);
        set_timeouts(c);
        // What we send comes back: TSO out of our tap, GRO into it, the peer's plain tap between.
        Sent sent;
        std::thread t([&] { sent = send_stream(c, 32u << 20, 3); });
        Received back = recv_stream(c, 3);
        t.join();
        EXPECT_EQ(sent.bytes, 32u << 20);
        EXPECT_EQ(back.bytes, sent.bytes);
        EXPECT_EQ(back.hash, sent.hash);
        EXPECT_EQ(back.first_bad, -1);
        close(c);
    }
    int st = 0;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "peer: " << said;
    close(out[0]);
    vde_delstack(s);
}

}  // namespace
