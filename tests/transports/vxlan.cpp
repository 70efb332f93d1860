// plug_vxlan.cpp - the vxlan:// transport (src/plug/vxlan.cpp), run inside the
// private network namespace that netns_main.cpp sets up (lo up, 224.0.0.0/4
// routed on lo).
//
// The peer is a Linux KERNEL vxlan device. A VXLAN endpoint holds its UDP port
// in its namespace, so the kernel device cannot live in ours: PeerNs forks a
// child that unshares a network namespace of its own (it dies with us:
// PR_SET_PDEATHSIG), and joins it to ours by a veth pair:
//
//   this netns: vxk0 192.168.99.1/24 (fd99::1/64)  <- our transport, if=vxk0
//   peer netns: vxk1 192.168.99.2/24 (fd99::2/64)  <- vx0: vxlan id 1 group
//               239.0.0.1 (ff05:56de::1) dev vxk1 dstport 4789, 10.9.0.2/24
//
// We talk raw Ethernet frames: an ARP request for 10.9.0.2 gets the kernel's
// ARP reply, an ICMP echo request to the learned MAC gets the echo reply; a
// packet socket on vxk0 checks what crossed the wire (header bytes, flood to
// group:4789 with TTL 1, learned unicast to peer:4789 although the kernel sent
// from a hashed source port). Also: VNI isolation, accept rules (reserved
// bytes ignored), the self-filter, EADDRINUSE against our second open and
// against a kernel device, bad VNLs. Every wait is bounded; the veth pair is
// deleted and the child killed by the fixture even when a test fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plug/transport.hpp"
#include "plug/udp/vxlan.hpp"
#include "plug/udp/vxvde.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::Error;
using vdestack::UniqueFd;
using vdestack::plug::FrameBuf;
using vdestack::plug::FrameRef;
using vdestack::plug::kMaxFrame;
using vdestack::plug::Transport;

using vdetest::Frame;
using vdetest::Mac;
using vdetest::kBroadcast;
Mac mac_of(std::uint8_t n) { return vdetest::mac_of(0x10, n); }
using vdetest::make_frame;
using vdetest::recv_frames;
using vdetest::send_frames;
using vdetest::send_ok;


std::unique_ptr<Transport> open(std::string_view vnl) {
    constexpr std::string_view scheme = "vxlan://";
    EXPECT_TRUE(vnl.starts_with(scheme));
    return vdestack::plug::open_vxlan(vnl, vnl.substr(scheme.size()), {});
}

std::uint8_t u8(const Frame& f, std::size_t i) { return std::to_integer<std::uint8_t>(f.at(i)); }
std::uint16_t be16(const Frame& f, std::size_t i) {
    return static_cast<std::uint16_t>((u8(f, i) << 8) | u8(f, i + 1));
}
void put16(Frame& f, std::size_t i, std::uint16_t v) {
    f.at(i) = static_cast<std::byte>(v >> 8);
    f.at(i + 1) = static_cast<std::byte>(v & 0xff);
}
void put_bytes(Frame& f, std::size_t i, std::initializer_list<std::uint8_t> bytes) {
    for (std::uint8_t b : bytes) f.at(i++) = std::byte{b};
}
void put_mac(Frame& f, std::size_t i, const Mac& m) { std::memcpy(f.data() + i, m.data(), 6); }
Mac mac_at(const Frame& f, std::size_t i) {
    Mac m{};
    std::memcpy(m.data(), f.data() + i, 6);
    return m;
}

// ARP request "who has 10.9.0.<target>? tell 10.9.0.1" from `src`.
Frame arp_request(const Mac& src, std::uint8_t target) {
    Frame f(60);
    put_mac(f, 0, kBroadcast);
    put_mac(f, 6, src);
    put16(f, 12, 0x0806);
    put_bytes(f, 14, {0, 1, 0x08, 0, 6, 4, 0, 1});
    put_mac(f, 22, src);
    put_bytes(f, 28, {10, 9, 0, 1});
    put_bytes(f, 38, {10, 9, 0, target});
    return f;
}

bool is_arp_reply_from(const Frame& f, std::uint8_t ip_last) {
    return f.size() >= 42 && be16(f, 12) == 0x0806 && be16(f, 20) == 2 && u8(f, 28) == 10 && u8(f, 29) == 9 &&
           u8(f, 30) == 0 && u8(f, 31) == ip_last;
}

std::uint16_t inet_checksum(const std::byte* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>((std::to_integer<unsigned>(p[i]) << 8) | std::to_integer<unsigned>(p[i + 1]));
    if ((n & 1) != 0) sum += static_cast<std::uint32_t>(std::to_integer<unsigned>(p[n - 1]) << 8);
    while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

// ICMP echo request 10.9.0.1 -> 10.9.0.2 (id 0x5678, seq `seq`), 32 bytes of data.
Frame icmp_echo(const Mac& dst, const Mac& src, std::uint16_t seq) {
    Frame f(14 + 20 + 8 + 32);
    put_mac(f, 0, dst);
    put_mac(f, 6, src);
    put16(f, 12, 0x0800);
    put_bytes(f, 14, {0x45, 0});
    put16(f, 16, static_cast<std::uint16_t>(20 + 8 + 32));
    put_bytes(f, 18, {0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2});
    put16(f, 24, inet_checksum(f.data() + 14, 20));
    put_bytes(f, 34, {8, 0, 0, 0, 0x56, 0x78});
    put16(f, 40, seq);
    for (std::size_t i = 42; i < f.size(); i++) f[i] = static_cast<std::byte>(i);
    put16(f, 36, inet_checksum(f.data() + 34, f.size() - 34));
    return f;
}

bool is_echo_reply(const Frame& f, std::uint16_t seq) {
    return f.size() >= 42 && be16(f, 12) == 0x0800 && u8(f, 23) == 1 && u8(f, 34) == 0 && be16(f, 38) == 0x5678 &&
           be16(f, 40) == seq;
}

void send_frame(Transport& t, const Frame& f) { send_ok(t, {f}); }

// The first frame matching `pred` within `timeout` (others are skipped: the
// kernel may send IPv6/IGMP chatter of its own).
std::optional<Frame> recv_matching(Transport& t, std::chrono::milliseconds timeout,
                                   const std::function<bool(const Frame&)>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) return std::nullopt;
        for (Frame& f : recv_frames(t, left, 1))
            if (pred(f)) return f;
    }
}

int sh(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

// Output of a shell command (bounded by the command itself).
std::string sh_output(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    ::pclose(p);
    return out;
}

// ---------------------------------------------------------------------------
// A UDP datagram seen by a packet socket.
struct Udp {
    unsigned pkttype = 0;  // PACKET_HOST, PACKET_OUTGOING, PACKET_MULTICAST...
    int family = 0;
    std::string src, dst;
    std::uint16_t sport = 0, dport = 0;
    unsigned ttl = 0;
    Frame payload;
};

// Captures the UDP datagrams that cross an interface (both directions).
class Sniffer {
public:
    explicit Sniffer(const char* ifname) {
        fd_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL)));
        EXPECT_TRUE(fd_.valid()) << std::strerror(errno);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = static_cast<int>(::if_nametoindex(ifname));
        EXPECT_NE(sll.sll_ifindex, 0) << ifname;
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0) << std::strerror(errno);
    }

    // Every UDP datagram captured so far (and within `settle` more).
    std::vector<Udp> drain(std::chrono::milliseconds settle = 200ms) {
        pollfd p{fd_.get(), POLLIN, 0};
        while (::poll(&p, 1, static_cast<int>(settle.count())) == 1) {
            Frame buf(65536);
            sockaddr_ll from{};
            socklen_t flen = sizeof from;
            const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                                         reinterpret_cast<sockaddr*>(&from), &flen);
            if (n < 0) break;
            buf.resize(static_cast<std::size_t>(n));
            parse(buf, from.sll_pkttype);
        }
        return seen_;
    }

private:
    void parse(const Frame& f, unsigned pkttype) {
        if (f.size() < 14) return;
        const std::uint16_t type = be16(f, 12);
        Udp u;
        u.pkttype = pkttype;
        std::size_t l4 = 0;
        char text[INET6_ADDRSTRLEN] = {};
        if (type == 0x0800 && f.size() >= 34) {
            const std::size_t ihl = static_cast<std::size_t>(u8(f, 14) & 0x0f) * 4;
            if (u8(f, 23) != IPPROTO_UDP) return;
            u.family = AF_INET;
            u.ttl = u8(f, 22);
            u.src = ::inet_ntop(AF_INET, f.data() + 26, text, sizeof text);
            u.dst = ::inet_ntop(AF_INET, f.data() + 30, text, sizeof text);
            l4 = 14 + ihl;
        } else if (type == 0x86dd && f.size() >= 54) {
            if (u8(f, 20) != IPPROTO_UDP) return;  // no extension headers in our traffic
            u.family = AF_INET6;
            u.ttl = u8(f, 21);
            u.src = ::inet_ntop(AF_INET6, f.data() + 22, text, sizeof text);
            u.dst = ::inet_ntop(AF_INET6, f.data() + 38, text, sizeof text);
            l4 = 54;
        } else {
            return;
        }
        if (f.size() < l4 + 8) return;
        u.sport = be16(f, l4);
        u.dport = be16(f, l4 + 2);
        u.payload.assign(f.begin() + static_cast<std::ptrdiff_t>(l4 + 8), f.end());
        seen_.push_back(std::move(u));
    }

    UniqueFd fd_;
    std::vector<Udp> seen_;
};

// A VXLAN datagram carrying `frame` with VNI `vni`.
bool carries(const Udp& u, const Frame& frame, std::uint32_t vni) {
    if (u.payload.size() != 8 + frame.size()) return false;
    const std::array<std::uint8_t, 8> hdr = {0x08, 0, 0, 0, static_cast<std::uint8_t>(vni >> 16),
                                             static_cast<std::uint8_t>(vni >> 8), static_cast<std::uint8_t>(vni), 0};
    for (std::size_t i = 0; i < 8; i++)
        if (u8(u.payload, i) != hdr[i]) return false;
    return std::memcmp(u.payload.data() + 8, frame.data(), frame.size()) == 0;
}

// ---------------------------------------------------------------------------
// The peer network namespace: a child process in a netns of its own, gone
// when the object (or this process) dies.
class PeerNs {
public:
    PeerNs() {
        int ready[2];
        int hold[2];
        if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) return;
        const pid_t parent = ::getpid();
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(1);
            ::close(ready[0]);
            ::close(hold[1]);
            const char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
            (void)!::write(ready[1], &ok, 1);
            ::close(ready[1]);
            char c = 0;
            while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
            }
            ::_exit(0);  // EOF: the parent is done with us
        }
        ::close(ready[1]);
        ::close(hold[0]);
        hold_ = UniqueFd(hold[1]);
        UniqueFd r(ready[0]);
        if (pid_ < 0) return;
        pollfd p{r.get(), POLLIN, 0};
        char ok = 0;
        ok_ = ::poll(&p, 1, 5000) == 1 && ::read(r.get(), &ok, 1) == 1 && ok == 'y';
    }
    ~PeerNs() {
        hold_.reset();
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    PeerNs(const PeerNs&) = delete;
    PeerNs& operator=(const PeerNs&) = delete;

    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] pid_t pid() const { return pid_; }
    // Runs a shell command inside the peer netns (no single quotes in cmd).
    [[nodiscard]] std::string in(const std::string& cmd) const {
        return "nsenter -t " + std::to_string(pid_) + " -n sh -c '" + cmd + "'";
    }
    int run(const std::string& cmd) const { return sh(in(cmd)); }

private:
    pid_t pid_ = -1;
    UniqueFd hold_;
    bool ok_ = false;
};

// The topology of the file comment, IPv4 or IPv6 underlay.
class VxlanKernel : public ::testing::Test {
protected:
    void make(bool v6) {
        v6_ = v6;
        if (sh("command -v nsenter >/dev/null") != 0) GTEST_SKIP() << "nsenter not installed";
        peer_ = std::make_unique<PeerNs>();
        ASSERT_TRUE(peer_->ok()) << "cannot create the peer network namespace";
        (void)sh("ip link del vxk0 >/dev/null 2>&1");
        ASSERT_EQ(sh("ip link add vxk0 type veth peer name vxk1 netns " + std::to_string(peer_->pid())), 0)
            << "cannot create the veth pair (no veth support?)";
        made_link_ = true;
        ASSERT_EQ(sh("ip link set vxk0 up && ip addr add 192.168.99.1/24 dev vxk0 &&"
                     " ip -6 addr add fd99::1/64 dev vxk0 nodad"),
                  0);
        const std::string group = v6 ? "ff05:56de::1" : "239.0.0.1";
        const int rc = peer_->run(
            "set -e; ip link set lo up; ip link set vxk1 up; ip addr add 192.168.99.2/24 dev vxk1;"
            " ip -6 addr add fd99::2/64 dev vxk1 nodad;"
            " ip link add vx0 type vxlan id 1 group " + group + " dev vxk1 dstport 4789;"
            " sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1;"
            " ip link set vx0 address 02:00:5e:99:00:02; ip addr add 10.9.0.2/24 dev vx0; ip link set vx0 up");
        if (rc != 0) GTEST_SKIP() << "cannot create a kernel vxlan device (no vxlan module?)";
    }
    void TearDown() override {
        if (made_link_) (void)sh("ip link del vxk0 >/dev/null 2>&1");
        peer_.reset();
    }

    [[nodiscard]] const char* peer_ip() const { return v6_ ? "fd99::2" : "192.168.99.2"; }
    [[nodiscard]] const char* our_ip() const { return v6_ ? "fd99::1" : "192.168.99.1"; }
    [[nodiscard]] const char* group() const { return v6_ ? "ff05:56de::1" : "239.0.0.1"; }

    // The ARP exchange and the learned unicast ICMP echo, checked on the wire.
    void arp_then_ping(const std::string& vnl) {
        const Mac kernel_mac = {std::byte{0x02}, std::byte{0x00}, std::byte{0x5e},
                                std::byte{0x99}, std::byte{0x00}, std::byte{0x02}};
        Sniffer wire("vxk0");
        auto t = open(vnl);
        const Mac me = mac_of(1);

        const Frame req = arp_request(me, 2);
        send_frame(*t, req);
        auto reply = recv_matching(*t, 3s, [](const Frame& f) { return is_arp_reply_from(f, 2); });
        ASSERT_TRUE(reply) << "no ARP reply from the kernel's vx0";
        EXPECT_EQ(mac_at(*reply, 0), me);
        EXPECT_EQ(mac_at(*reply, 22), kernel_mac);

        const Frame echo = icmp_echo(kernel_mac, me, 1);
        send_frame(*t, echo);
        ASSERT_TRUE(recv_matching(*t, 3s, [](const Frame& f) { return is_echo_reply(f, 1); }))
            << "no ICMP echo reply from the kernel";

        // The wire: the ARP request flooded to group:4789 from port 4789 with
        // TTL 1; the kernel's reply unicast to us:4789; our echo request
        // unicast to peer:4789 (the learned address, port rewritten).
        const std::vector<Udp> seen = wire.drain();
        bool flood = false, kernel_unicast = false, our_unicast = false;
        std::uint16_t kernel_sport = 0;
        for (const Udp& u : seen) {
            if (u.pkttype == PACKET_OUTGOING && carries(u, req, 1)) {
                EXPECT_EQ(u.dst, group());
                EXPECT_EQ(u.dport, 4789);
                EXPECT_EQ(u.sport, 4789);
                EXPECT_EQ(u.ttl, 1u);
                flood = true;
            }
            if (u.pkttype == PACKET_HOST && u.src == peer_ip() && u.dst == our_ip() && u.dport == 4789 &&
                u.payload.size() >= 8 + 42 && is_arp_reply_from(Frame(u.payload.begin() + 8, u.payload.end()), 2)) {
                kernel_unicast = true;
                kernel_sport = u.sport;
            }
            if (u.pkttype == PACKET_OUTGOING && carries(u, echo, 1)) {
                EXPECT_EQ(u.dst, peer_ip()) << "the echo request was not unicast to the learned VTEP";
                EXPECT_EQ(u.dport, 4789);
                EXPECT_EQ(u.sport, 4789);
                our_unicast = true;
            }
        }
        EXPECT_TRUE(flood) << "ARP request not seen on the wire";
        EXPECT_TRUE(kernel_unicast) << "the kernel's ARP reply was not unicast to " << our_ip() << ":4789";
        EXPECT_TRUE(our_unicast) << "echo request not seen on the wire";
        RecordProperty("kernel_source_port", kernel_sport);

        // The kernel learned our MAC at our address.
        const std::string fdb = sh_output(peer_->in("bridge fdb show dev vx0"));
        EXPECT_NE(fdb.find(std::string("02:00:5e:10:00:01 dst ") + our_ip()), std::string::npos) << fdb;
    }

    std::unique_ptr<PeerNs> peer_;
    bool made_link_ = false;
    bool v6_ = false;
};

TEST_F(VxlanKernel, ArpAndLearnedUnicastIcmpV4) {
    make(false);
    if (IsSkipped() || HasFatalFailure()) return;
    arp_then_ping("vxlan://239.0.0.1/if=vxk0");
}

TEST_F(VxlanKernel, ArpAndLearnedUnicastIcmpV6Underlay) {
    make(true);
    if (IsSkipped() || HasFatalFailure()) return;
    arp_then_ping("vxlan:///v6/if=vxk0");
}

TEST_F(VxlanKernel, OtherVniIsIgnoredBothWays) {
    make(false);
    if (IsSkipped() || HasFatalFailure()) return;
    Sniffer wire("vxk0");
    {
        auto t = open("vxlan://239.0.0.1/if=vxk0/vni=2");
        // The kernel does not answer VNI 2...
        send_frame(*t, arp_request(mac_of(1), 2));
        EXPECT_FALSE(recv_matching(*t, 700ms, [](const Frame& f) { return is_arp_reply_from(f, 2); }));
        // ...and its VNI 1 flood (an ARP request for 10.9.0.1) reaches our socket but is not delivered.
        EXPECT_NE(peer_->run("ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1"), 0);
        EXPECT_TRUE(recv_frames(*t, 300ms).empty());
    }
    bool kernel_flood = false;
    for (const Udp& u : wire.drain())
        if (u.pkttype != PACKET_OUTGOING && u.dst == "239.0.0.1" && u.dport == 4789) kernel_flood = true;
    EXPECT_TRUE(kernel_flood) << "the kernel's flood never reached us: the test proves nothing";

    // VNI 1: the kernel's ARP request for 10.9.0.1 is delivered.
    auto t = open("vxlan://239.0.0.1/if=vxk0");
    EXPECT_NE(peer_->run("ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1"), 0);
    auto got = recv_matching(*t, 2s, [](const Frame& f) {
        return f.size() >= 42 && be16(f, 12) == 0x0806 && be16(f, 20) == 1 && u8(f, 41) == 1;
    });
    EXPECT_TRUE(got) << "the kernel's ARP request (VNI 1) was not delivered";
}

TEST_F(VxlanKernel, KernelDeviceHoldsThePort) {
    make(false);
    if (IsSkipped() || HasFatalFailure()) return;
    // A kernel vxlan device in OUR netns on port 4790: our open must fail clearly.
    ASSERT_EQ(sh("ip link add vxk9 type vxlan id 9 group 239.0.0.9 dev vxk0 dstport 4790 && ip link set vxk9 up"), 0);
    try {
        auto t = open("vxlan://239.0.0.9/port=4790/vni=9");
        ADD_FAILURE() << "opened port 4790 held by a kernel vxlan device";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE) << e.what();
        EXPECT_NE(std::string(e.what()).find("vxlan://239.0.0.9/port=4790/vni=9"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("kernel vxlan device"), std::string::npos) << e.what();
    }
    (void)sh("ip link del vxk9");
    // And the other way round: while we hold 4790, the kernel device cannot come up.
    auto t = open("vxlan://239.0.0.9/port=4790/vni=9");
    EXPECT_NE(sh("ip link add vxk9 type vxlan id 9 group 239.0.0.9 dev vxk0 dstport 4790 && ip link set vxk9 up"
                 " 2>/dev/null"),
              0);
    (void)sh("ip link del vxk9 >/dev/null 2>&1");
}

// ---------------------------------------------------------------------------
// On "lo" of the test's own netns (multicast routed there).

// A plain UDP socket bound to 127.0.0.1:port.
UniqueFd udp_at(std::uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    return fd;
}

void udp_send(int fd, std::uint16_t port, const Frame& dgram) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::sendto(fd, dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa),
              static_cast<ssize_t>(dgram.size()));
}

Frame with_header(std::array<std::uint8_t, 8> hdr, const Frame& frame) {
    Frame d;
    for (std::uint8_t b : hdr) d.push_back(std::byte{b});
    d.insert(d.end(), frame.begin(), frame.end());
    return d;
}

TEST(Vxlan, PollFdsAndVnl) {
    auto a = open("vxlan://239.0.0.5/port=4791");
    ASSERT_EQ(a->poll_fds().size(), 1u);
    EXPECT_GE(a->poll_fds()[0], 0);
    EXPECT_EQ(a->vnl(), "vxlan://239.0.0.5/port=4791");
    std::array<FrameBuf, 0> none{};
    EXPECT_EQ(a->recv(none), 0);
    EXPECT_EQ(a->send({}), 0);
}

TEST(Vxlan, FloodWireFormatAndNoSelfDelivery) {
    Sniffer wire("lo");
    auto a = open("vxlan://239.0.0.5/port=4792/vni=0xabcdef/ttl=5");
    const Frame f = make_frame(kBroadcast, mac_of(1), 60);
    send_ok(*a, {f, Frame(13, std::byte{0xff})});  // the runt is consumed, not sent
    // lo loops our multicast back despite IP_MULTICAST_LOOP=0: it is filtered.
    EXPECT_TRUE(recv_frames(*a, 300ms).empty()) << "sender received its own frame";
    int sent = 0;
    for (const Udp& u : wire.drain()) {
        if (u.pkttype != PACKET_OUTGOING) continue;
        sent++;
        EXPECT_TRUE(carries(u, f, 0xabcdef));
        EXPECT_EQ(u.dst, "239.0.0.5");
        EXPECT_EQ(u.sport, 4792);
        EXPECT_EQ(u.dport, 4792);
        EXPECT_EQ(u.ttl, 5u);
    }
    EXPECT_EQ(sent, 1);
}

TEST(Vxlan, AcceptRulesAndPortRewrite) {
    auto a = open("vxlan://239.0.0.5/port=4793");
    UniqueFd peer = udp_at(40001);
    const Frame f = make_frame(kBroadcast, mac_of(5), 60);
    // Reserved bytes are ignored (RFC 7348), unlike vxvde.
    udp_send(peer.get(), 4793, with_header({0x08, 0xaa, 0xbb, 0xcc, 0, 0, 1, 0xdd}, f));
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
    // Rejected: other flags, other VNI, a 14-byte frame, a bare header, a runt.
    udp_send(peer.get(), 4793, with_header({0x0c, 0, 0, 0, 0, 0, 1, 0}, f));
    udp_send(peer.get(), 4793, with_header({0x00, 0, 0, 0, 0, 0, 1, 0}, f));
    udp_send(peer.get(), 4793, with_header({0x08, 0, 0, 0, 0, 0, 2, 0}, f));
    udp_send(peer.get(), 4793, with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, make_frame(kBroadcast, mac_of(5), 14)));
    udp_send(peer.get(), 4793, with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, {}));
    udp_send(peer.get(), 4793, Frame(5, std::byte{0x08}));
    EXPECT_TRUE(recv_frames(*a, 300ms).empty());

    // mac_of(5) was learned at 127.0.0.1:40001 -> 127.0.0.1:4793 (a VTEP
    // listens on the VXLAN port): a frame to it is unicast there, not to 40001.
    Sniffer wire("lo");
    const Frame to5 = make_frame(mac_of(5), mac_of(1), 70, 1);
    send_frame(*a, to5);
    bool unicast = false;
    for (const Udp& u : wire.drain())
        if (u.pkttype == PACKET_OUTGOING && carries(u, to5, 1)) {
            EXPECT_EQ(u.dst, "127.0.0.1");
            EXPECT_EQ(u.dport, 4793);
            unicast = true;
        }
    EXPECT_TRUE(unicast);
    pollfd p{peer.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 100), 0) << "sent to the peer's source port";

    // A group destination is flooded even if "learned".
    const Frame bcast = make_frame(kBroadcast, mac_of(1), 60);
    send_frame(*a, bcast);
    for (const Udp& u : wire.drain())
        if (u.pkttype == PACKET_OUTGOING && carries(u, bcast, 1)) EXPECT_EQ(u.dst, "239.0.0.5");
}

// One UDP_SEGMENT message: the datagrams in `run` (all of the first one's
// size but a shorter last), cut by the kernel.
void udp_send_run(int fd, std::uint16_t port, const std::vector<Frame>& run) {
    Frame all;
    for (const Frame& d : run) all.insert(all.end(), d.begin(), d.end());
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    iovec iov{all.data(), all.size()};
    alignas(cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(std::uint16_t))] = {};
    msghdr mh{};
    mh.msg_name = &sa;
    mh.msg_namelen = sizeof sa;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto seg = static_cast<std::uint16_t>(run.front().size());
    std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    ASSERT_EQ(::sendmsg(fd, &mh, 0), static_cast<ssize_t>(all.size()));
}

TEST(Vxlan, GroModeCutsCoalescedDatagramsAndChecksEach) {
    // After a full batch the socket takes coalesced datagrams (GRO mode):
    // every datagram of a run is checked (VNI), learned and delivered in
    // order, from the transport's own memory, held across calls when the
    // caller has fewer slots.
    auto a = open("vxlan://239.0.0.5/port=4795");
    UniqueFd peer = udp_at(40003);
    std::vector<Frame> warm;
    for (int i = 0; i < 80; i++) warm.push_back(make_frame(kBroadcast, mac_of(6), 100, static_cast<std::uint8_t>(i)));
    for (const Frame& f : warm) udp_send(peer.get(), 4795, with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, f));
    ASSERT_EQ(recv_frames(*a, 2s, warm.size(), {.slots = 64}), warm);
    std::size_t foreign = 0;
    std::uint8_t seed = 0;
    for (std::size_t slots : {std::size_t{64}, std::size_t{7}, std::size_t{1}}) {
        std::vector<Frame> sent;
        for (int k = 0; k < 3; k++) {
            std::vector<Frame> run, other;
            for (std::size_t i = 0; i < 30; i++) {
                Frame f = make_frame(mac_of(1), mac_of(6), i + 1 == 30 ? 300 : 1514, seed++);
                f[14] = static_cast<std::byte>(i);
                run.push_back(with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, f));
                other.push_back(with_header({0x08, 0, 0, 0, 0, 0, 2, 0}, f));  // VNI 2: not ours
                sent.push_back(std::move(f));
            }
            udp_send_run(peer.get(), 4795, run);
            udp_send_run(peer.get(), 4795, other);
        }
        const auto got = vdetest::recv_vnet(*a, 3s, sent.size(), {.slots = slots});
        ASSERT_EQ(got.size(), sent.size()) << slots << " slots";
        for (std::size_t i = 0; i < sent.size(); i++) {
            ASSERT_EQ(got[i].frame, sent[i]) << slots << " slots, frame " << i;
            foreign += got[i].foreign ? 1 : 0;
        }
        EXPECT_TRUE(recv_frames(*a, 100ms).empty()) << "VNI 2 delivered";
        EXPECT_FALSE(a->pending());
    }
    EXPECT_GT(foreign, 0u);  // GRO mode was on
}

TEST(Vxlan, ExpiredEntryIsFlooded) {
    auto a = open("vxlan://239.0.0.5/port=4794/expiretime=1");
    UniqueFd peer = udp_at(40002);
    udp_send(peer.get(), 4794, with_header({0x08, 0, 0, 0, 0, 0, 1, 0}, make_frame(kBroadcast, mac_of(6), 60)));
    ASSERT_EQ(recv_frames(*a, 2s, 1).size(), 1u);
    ::usleep(2100 * 1000);
    Sniffer wire("lo");
    const Frame to6 = make_frame(mac_of(6), mac_of(1), 60);
    send_frame(*a, to6);
    bool flooded = false;
    for (const Udp& u : wire.drain())
        if (u.pkttype == PACKET_OUTGOING && carries(u, to6, 1)) flooded = u.dst == "239.0.0.5";
    EXPECT_TRUE(flooded);
}

TEST(Vxlan, SecondOpenOnThePortIsEaddrinuse) {
    auto a = open("vxlan://239.0.0.5/port=4795");
    const std::string vnl = "vxlan://239.0.0.6/port=4795";
    try {
        auto b = open(vnl);
        ADD_FAILURE() << "two endpoints on one port";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find(vnl), std::string::npos) << what;
        EXPECT_NE(what.find("4795 is already taken"), std::string::npos) << what;
    }
    a.reset();
    EXPECT_NO_THROW(open(vnl));  // free again once closed
    // Through the registry too.
    auto c = vdestack::plug::open_transport("vxlan://239.0.0.5/port=4795/hashsize=16/rcvbuf=1m/v4");
    ASSERT_NE(c, nullptr);
}

void expect_error(std::string_view vnl, int err) {
    try {
        auto t = open(vnl);
        ADD_FAILURE() << vnl << ": opened, expected errno " << err;
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), err) << vnl << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(vnl), std::string::npos) << e.what();
    }
}

TEST(Vxlan, BadVnls) {
    expect_error("vxlan://239.0.0.5/nosuchoption=1", EINVAL);
    expect_error("vxlan://239.0.0.5/grp=5", EINVAL);    // vxvde only
    expect_error("vxlan://239.0.0.5/bind=127.0.0.1", EINVAL);  // vxvde only
    expect_error("vxlan://239.0.0.5/port=99999", EINVAL);
    expect_error("vxlan://239.0.0.5/port=vxlan", EINVAL);
    expect_error("vxlan://239.0.0.5/port=0", EINVAL);
    expect_error("vxlan://239.0.0.5/vni=16777216", EINVAL);
    expect_error("vxlan://239.0.0.5/vni=users", EINVAL);  // numeric only (unlike vxvde)
    expect_error("vxlan://239.0.0.5/ttl=256", EINVAL);
    expect_error("vxlan://239.0.0.5/hashsize=0", EINVAL);
    expect_error("vxlan://239.0.0.5/rcvbuf=lots", EINVAL);
    expect_error("vxlan://10.0.0.1", EINVAL);
    expect_error("vxlan://not.an.address", EINVAL);
    expect_error("vxlan://239.0.0.5/v6", EINVAL);
    expect_error("vxlan://ff05::1/v4", EINVAL);
    expect_error("vxlan://239.0.0.5/if=nonexistent0", ENODEV);
}

TEST(Vxlan, PrefixKeysFollowVdeplug4) {
    // "p" is port, "v" is vni (vdeplug4's table order: port vni ttl rcvbuf v6 v4 ...).
    auto a = open("vxlan://239.0.0.5/p=4796/v=3/t=2/i=lo");
    UniqueFd peer = udp_at(40003);
    const Frame f = make_frame(kBroadcast, mac_of(7), 60);
    udp_send(peer.get(), 4796, with_header({0x08, 0, 0, 0, 0, 0, 3, 0}, f));
    auto got = recv_frames(*a, 2s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], f);
}

// ttl=0: vxlan sets only the multicast TTL, where 0 keeps floods on this host.
// vxvde (IPv4) also sets the unicast IP_TTL from it, which cannot be 0: a bad
// value for 'ttl', not an anonymous setsockopt failure.
TEST(VxlanAndVxvde, TtlZero) {
    EXPECT_NO_THROW(open("vxlan://239.0.0.5/port=4797/ttl=0"));
    const std::string vnl = "vxvde://239.0.0.5/port=15797/ttl=0";
    try {
        auto t = vdestack::plug::open_vxvde(vnl, vnl.substr(8), {});
        ADD_FAILURE() << "vxvde opened with IPv4 ttl=0";
    } catch (const Error& e) {
        EXPECT_EQ(e.code().value(), EINVAL) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find(vnl), std::string::npos) << what;
        EXPECT_NE(what.find("'ttl'"), std::string::npos) << what;
    }
}

}  // namespace
