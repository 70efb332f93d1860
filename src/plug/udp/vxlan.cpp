// vxlan.cpp - the vxlan:// transport: a VTEP of a multicast VXLAN segment
// (RFC 7348), wire-compatible with vdeplug4 4.0.1's libvdeplug_vxlan and with
// Linux kernel vxlan devices.
//
// Theory of operation
// -------------------
// A VXLAN segment is a group of VTEPs (VXLAN tunnel end points) that agree on
// a multicast group, a UDP port and a VNI. Each datagram is the 8-byte VXLAN
// header (flags 0x08, 3 reserved bytes, 24-bit VNI, 1 reserved byte: the same
// layout as vxvde's, wire/vxvde.hpp) + one Ethernet frame. Unlike vxvde, a VTEP
// is identified by its IP address alone: every VTEP listens on the well-known
// port, and sends from wherever it likes (the Linux kernel hashes the flow into
// its source port, vdeplug4 sends from the well-known port).
//
// Socket (one, UDP, nonblocking, CLOEXEC, created in open() in the calling
// thread's netns, owned through UniqueFd, closed by the destructor):
//   bound to any:port WITHOUT SO_REUSEADDR, so it holds the port: one endpoint
//   per network namespace, exactly like vdeplug4 and like a kernel vxlan device
//   (a second open, or a kernel device on the same port, is EADDRINUSE). It
//   joins the group on interface `if` (or the default), and sets the multicast
//   TTL/hops (ttl=), IP_MULTICAST_IF/IPV6_MULTICAST_IF (if=) and multicast loop
//   OFF (our own multicasts are not delivered back to us), and packet info on
//   (for the self-filter). IPv4: IP_MULTICAST_ALL off, so only the group we
//   joined is received. IPv6: IPV6_V6ONLY on, so the port is held for IPv6
//   only (IPv4 VTEPs are not part of an IPv6 segment).
//   Unicast datagrams to port arrive on the same socket. poll_fds() = {socket}.
//
// Receive accepts a datagram when the flags byte is exactly 0x08 and the VNI is
// ours; the reserved bytes are ignored (RFC 7348: "ignored on receipt"; so does
// vdeplug4); the frame part must be longer than 14 bytes, and truncated
// datagrams (larger than the slot) are dropped. Self-filter: multicast loop off
// does not stop a multicast route on "lo" from looping our floods back (with
// source address 0.0.0.0), and a peer learned at one of our own addresses
// makes us unicast to ourselves. Only our socket sends from our port on this
// host, so a datagram from our port is dropped when its source is unspecified,
// loopback, or the local address it arrived on (IP_PKTINFO / IPV6_PKTINFO).
//
// Learning: every accepted frame records (source MAC, VLAN key 1) -> sender
// address in a MacTable, with the sender's PORT REWRITTEN to our port: a VTEP
// receives on the well-known port whatever its source port was. send()
// unicasts a frame to the learned VTEP of its destination MAC when that MAC is
// unicast and fresh (learned less than expiretime seconds ago); otherwise
// (group MAC, unknown, stale) it goes to group:port. All datagrams leave from
// the bound socket (source port = port). VXLAN has no leave message.
//
// Batching and limits as vxvde: recv() uses recvmmsg in batches of at most
// 64 and at most 16 batches per call (dgram_batch.hpp); accepted frames are
// compacted into bufs[0..n). send() batches through UdpFrameSender
// (udp_send.hpp): one sendmmsg per 64 frames, a run of equal frames to one
// learned VTEP (what TSO cut) in one UDP_SEGMENT message (the datagrams on
// the wire are the same; VDESTACK_UDP_GSO=0 turns it off); EAGAIN/ENOBUFS
// drop the rest of the call's frames, other per-message errors skip that
// message. In, "GRO mode" (udp_gro.hpp, as vxvde): after a full batch the
// socket asks for UDP_GRO; coalesced datagrams are cut back into the
// datagrams the peer sent, each checked, self-filtered and learned as above,
// and handed out by pointer into the receiver's 1 MiB area (frames beyond
// the caller's slots held for the next call: pending()). Per-call storage is
// preallocated in the object: no allocation on the data path. Default socket
// buffers are 4 MiB (best effort); rcvbuf= sets SO_RCVBUF and must work.
//
// Beyond vdeplug4: its recv sets msg_namelen from an uninitialised sockaddr,
// so it learns garbage senders (with 4.0.1 we saw it never send a learned
// unicast at all: its peers get its floods only); here the sender name is
// always received into a full sockaddr_in6-sized buffer. Also: the self-filter,
// IP_MULTICAST_ALL off, range-checked numbers (EINVAL, not atoi's silent 0),
// and the group must be a numeric multicast address.
#include "plug/udp/vxlan.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "plug/dgram_batch.hpp"
#include "plug/udp/mactable.hpp"
#include "plug/udp/mcast_config.hpp"
#include "plug/udp/udp_gro.hpp"
#include "plug/udp/udp_send.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/sockbuf.hpp"
#include "vnl/vnl.hpp"
#include "wire/vxvde.hpp"

namespace vdestack::plug {

namespace {

using Header = wire::VxvdeHeader;  // the VXLAN header: same 8 bytes

constexpr std::uint16_t kVlan = 1;        // learning VLAN key (as vdeplug4)
constexpr int kDefaultSockBuf = 4 << 20;  // generous default socket buffers

constexpr const char* kDefaultGroup4 = "239.0.0.1";
constexpr const char* kDefaultGroup6 = "ff05:56de::1";
constexpr std::uint16_t kDefaultPort = 4789;  // IANA's VXLAN port (Linux defaults to 8472)
constexpr std::uint32_t kDefaultVni = 1;
constexpr int kDefaultTtl = 1;
constexpr std::size_t kDefaultHashSize = 1024;
constexpr std::int64_t kDefaultExpire = 128;

// Option table in vdeplug4's order (it decides prefix matches: "v" is vni).
constexpr std::string_view kKeys[] = {"port", "vni", "ttl", "rcvbuf", "v6", "v4", "hashsize", "expiretime", "if"};

// What a VNL says: the shared multicast options (mcast_config.hpp) and the VNI.
struct Config : McastConfig {
    std::uint32_t vni = kDefaultVni;
};

Config parse_config(std::string_view vnl_text, std::string_view rest) {
    const vnl::Parsed p = vnl::parse_ip_style(rest, kKeys, vnl_text);
    Config c;
    static_cast<McastConfig&>(c) = parse_mcast(
        p, vnl_text, {kDefaultGroup4, kDefaultGroup6, kDefaultPort, kDefaultTtl, kDefaultHashSize, kDefaultExpire});
    if (auto v = p.get("vni"))
        c.vni = static_cast<std::uint32_t>(vnl::parse_number(*v, "vni", vnl_text, Header::kMaxVni));
    return c;
}

template <typename T>
void set_opt(int fd, int level, int name, const T& value, std::string_view vnl, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0)
        fail_errno(std::string(vnl) + ": setsockopt(" + what + ")");
}

class VxlanTransport final : public Transport {
public:
    VxlanTransport(std::string vnl_text, const Config& c, bool offloads);

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    [[nodiscard]] bool pending() const noexcept override { return gro_.holding(); }
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    [[nodiscard]] bool is_self(const PeerAddr& from, const msghdr& mh) const noexcept;
    // The sender of an accepted datagram as a VTEP: its address, our port.
    [[nodiscard]] PeerAddr vtep_of(const msghdr& mh) const noexcept;
    // recv() in GRO mode (udp_gro.hpp).
    ssize_t recv_gro(std::span<FrameBuf> bufs, std::int64_t now) noexcept;

    std::string vnl_;
    UniqueFd fd_;
    std::array<int, 1> fds_{-1};
    std::array<std::byte, Header::kSize> hdr_{};
    PeerAddr group_;
    std::uint32_t vni_ = kDefaultVni;
    std::uint16_t port_net_ = 0;  // our port, network byte order (learned peers get it)
    std::uint16_t port_ = 0;      // our port, host byte order
    MacTable table_;

    // recv: header, frame, sender and packet info per datagram (dgram_batch.hpp)
    using Batch = EncapBatch<Header::kSize>;
    Batch batch_;
    // send: batches and GSO runs (udp_send.hpp)
    UdpFrameSender sender_{hdr_};
    UdpGroReceiver gro_;       // entered once, after a full batch
};

VxlanTransport::VxlanTransport(std::string vnl_text, const Config& c, bool offloads)
    : vnl_(std::move(vnl_text)), group_(c.group), vni_(c.vni), table_(c.hashsize, c.expire) {
    const std::string& v = vnl_;
    const int family = group_.family();
    wire::write_vxvde_header(hdr_, c.vni);
    port_ = group_.port();
    port_net_ = htons(port_);
    const int one = 1;
    const int zero = 0;

    fd_ = UniqueFd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!fd_) fail_errno(v + ": socket");
    const int fd = fd_.get();

    // ---- options that must precede bind, then any:port (no SO_REUSEADDR)
    PeerAddr any;
    if (family == AF_INET) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = port_net_;
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        any = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
        set_opt(fd, IPPROTO_IP, IP_PKTINFO, one, v, "IP_PKTINFO");
    } else {
        set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, v, "IPV6_V6ONLY");
        set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, one, v, "IPV6_RECVPKTINFO");
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = port_net_;
        sa.sin6_addr = in6addr_any;
        any = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    }
    if (::bind(fd, any.get(), any.len) != 0) {
        const int err = errno;
        const std::string where =
            v + ": bind(" + (family == AF_INET ? "0.0.0.0" : "[::]") + ":" + std::to_string(port_) + ")";
        if (err == EADDRINUSE)
            fail(err, where + ": UDP port " + std::to_string(port_) +
                          " is already taken in this network namespace (by another vxlan:// endpoint or a kernel "
                          "vxlan device: there can be one VTEP per port and namespace)");
        fail(err, where);
    }

    // ---- group membership and multicast sending
    if (family == AF_INET) {
        (void)::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);  // only our group
        ip_mreqn mr{};
        mr.imr_multiaddr = group_.addr.v4.sin_addr;
        mr.imr_address.s_addr = htonl(INADDR_ANY);
        mr.imr_ifindex = static_cast<int>(c.ifindex);
        set_opt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mr, v, "IP_ADD_MEMBERSHIP");
        set_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, c.ttl, v, "IP_MULTICAST_TTL");
        set_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, zero, v, "IP_MULTICAST_LOOP");
        if (c.ifindex != 0) {
            ip_mreqn ifr{};
            ifr.imr_ifindex = static_cast<int>(c.ifindex);
            set_opt(fd, IPPROTO_IP, IP_MULTICAST_IF, ifr, v, "IP_MULTICAST_IF");
        }
    } else {
        ipv6_mreq mr{};
        mr.ipv6mr_multiaddr = group_.addr.v6.sin6_addr;
        mr.ipv6mr_interface = c.ifindex;
        set_opt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mr, v, "IPV6_ADD_MEMBERSHIP");
        set_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, c.ttl, v, "IPV6_MULTICAST_HOPS");
        set_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, zero, v, "IPV6_MULTICAST_LOOP");
        if (c.ifindex != 0) {
            const int idx = static_cast<int>(c.ifindex);
            set_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, idx, v, "IPV6_MULTICAST_IF");
        }
    }

    // ---- buffers
    if (c.rcvbuf)
        set_opt(fd, SOL_SOCKET, SO_RCVBUF, *c.rcvbuf, v, "SO_RCVBUF");
    else
        raise_rcvbuf(fd, kDefaultSockBuf);
    raise_sndbuf(fd, kDefaultSockBuf);

    fds_ = {fd};
    sender_.set_gso(offloads);
    gro_.allow(offloads);
    caps_.drained_when_short = true;  // GRO mode holds split frames (pending()); a short recv() handed them all out
}

// Only our socket sends from our port on this host's addresses.
bool VxlanTransport::is_self(const PeerAddr& from, const msghdr& mh) const noexcept {
    if (from.port() != port_) return false;
    if (from.family() == AF_INET) {
        const in_addr a = from.addr.v4.sin_addr;
        if (a.s_addr == htonl(INADDR_ANY) || (ntohl(a.s_addr) >> 24) == IN_LOOPBACKNET) return true;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&mh), cm)) {
            if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_PKTINFO) continue;
            in_pktinfo pi{};
            std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
            if (pi.ipi_spec_dst.s_addr == a.s_addr || pi.ipi_addr.s_addr == a.s_addr) return true;
        }
        return false;
    }
    const in6_addr& a = from.addr.v6.sin6_addr;
    if (IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a)) return true;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&mh), cm)) {
        if (cm->cmsg_level != IPPROTO_IPV6 || cm->cmsg_type != IPV6_PKTINFO) continue;
        in6_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        if (std::memcmp(&pi.ipi6_addr, &a, sizeof a) == 0) return true;
    }
    return false;
}

PeerAddr VxlanTransport::vtep_of(const msghdr& mh) const noexcept {
    PeerAddr from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
    if (!from.valid() || is_self(from, mh)) return PeerAddr{};
    // A VTEP listens on the VXLAN port whatever port it sent from.
    if (from.family() == AF_INET)
        from.addr.v4.sin_port = port_net_;
    else
        from.addr.v6.sin6_port = port_net_;
    return from;
}

ssize_t VxlanTransport::recv_gro(std::span<FrameBuf> bufs, std::int64_t now) noexcept {
    PeerAddr from;
    return gro_.recv(fd_.get(), bufs, [&](const msghdr& mh, std::span<std::byte> d, std::size_t seg) {
        if (seg == 0) from = vtep_of(mh);
        if (!from.valid() || d.size() <= Header::kSize + wire::kEthHeader || d.size() > Header::kSize + kMaxFrame)
            return std::span<std::byte>();
        const auto h = Header::parse(std::span<const std::byte, Header::kSize>(d.data(), Header::kSize));
        if (!h || h->flags() != Header::kFlagVni || h->vni() != vni_) return std::span<std::byte>();
        const std::span<std::byte> f = d.subspan(Header::kSize);
        table_.learn(wire::src_mac(f.data()), from, now, kVlan);
        return f;
    });
}

ssize_t VxlanTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (bufs.empty()) return 0;
    const std::int64_t now = mono_seconds();
    if (gro_.on()) return recv_gro(bufs, now);
    using Take = Batch::Take;
    const int fd = fd_.get();
    const auto got = batch_.recv(
        fd, bufs,
        [&](const msghdr& mh, std::span<const std::byte, Header::kSize> hdr, std::span<const std::byte> f) {
            if (f.size() <= wire::kEthHeader) return Take::consumed;
            const auto h = Header::parse(hdr);
            if (!h || h->flags() != Header::kFlagVni || h->vni() != vni_) return Take::consumed;
            const PeerAddr from = vtep_of(mh);
            if (!from.valid()) return Take::consumed;
            table_.learn(wire::src_mac(f.data()), from, now, kVlan);
            return Take::frame;
        },
        // A full batch: a bulk flow, worth GRO mode from now on.
        [&](std::size_t r, std::size_t chunk) { return r == chunk && chunk == Batch::kBatch && gro_.enter_once(fd); },
        Batch::kMaxRounds, true);
    if (got.n == 0 && (got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT)) return -got.err;
    return static_cast<ssize_t>(got.n);  // another error: transient, try next time
}

ssize_t VxlanTransport::send(std::span<const FrameRef> frames) noexcept {
    return send_learned(sender_, fd_.get(), frames, table_, group_, kVlan, mono_seconds());
}

}  // namespace

std::unique_ptr<Transport> open_vxlan(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    const Config c = parse_config(vnl, rest);
    return std::make_unique<VxlanTransport>(std::string(vnl), c, opts.tuning.udp_gso);
}

}  // namespace vdestack::plug
