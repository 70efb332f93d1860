// vxvde.cpp - the vxvde:// transport: a distributed Ethernet switch over UDP
// multicast, wire-compatible with vdeplug4 4.0.1's libvdeplug_vxvde.
//
// Theory of operation
// -------------------
// Every member of a vxvde network (same group, port and VNI) is a switch port.
// Each datagram is the 8-byte vxvde header (wire/vxvde.hpp) + one Ethernet frame.
//
// Sockets (both UDP, nonblocking, CLOEXEC, created in open() in the calling
// thread's netns, owned through UniqueFd):
//   group   bound to group:port with SO_REUSEADDR (so many processes of one host
//           can join), member of the group on interface `if` (or the default),
//           IP_PKTINFO / IPV6_RECVPKTINFO on. Receives multicast only
//           (vxvde_group.hpp: open_group_socket). VxvdeTransport owns one
//           (multi_) and reads it in recv().
//   uni_    bound to `bind` (default wildcard) on an ephemeral port. EVERY
//           datagram we send leaves from it, so a peer is identified by (IP,
//           ephemeral port), and unicast replies to us arrive on it. TTL (IPv4:
//           IP_TTL and IP_MULTICAST_TTL; IPv6: multicast hops), multicast
//           interface and multicast loop (on) are set here.
// poll_fds() = {multi_, uni_}.
//
// With OpenOptions::shared, open_vxvde() makes a VxvdeMember instead: no
// socket of its own, no fd to poll, recv() never returns a frame. The one
// VxvdeGroup of its network in this process writes its frames straight into
// its stack's tap (Inbox), and it sends from its engine's unicast socket of
// the group.
//
// Learning: every accepted frame records (source MAC, VLAN key 1) -> sender
// address in a MacTable (mactable.hpp): the transport's own, or for a
// VxvdeMember the group's SharedMacTable (so that what one stack learns from
// the group, every stack of the network knows). send() unicasts a frame to the
// learned sender of its destination MAC when that MAC is unicast and fresh
// (learned less than expiretime seconds ago); otherwise (group MAC, unknown,
// stale) it goes to group:port. A datagram that is exactly our header is a
// "leave": the sender closed, so every entry pointing at it is forgotten. Our
// destructor sends one (a VxvdeMember's group does, with its engine's last
// member). A VxvdeMember's send() also shows each frame to the group
// (VxvdeGroup::sent: our MACs, our IGMP/MLD reports).
//
// Accept rule (as vdeplug4): all 8 header bytes equal ours (flags 0x08, our VNI,
// zero reserved bytes) and the frame part is longer than 14 bytes; truncated
// datagrams (larger than the slot) are dropped.
//
// Self-filter: multicast loop is on, so our own multicasts come back on the
// group socket. A datagram there whose source port is our unicast port and
// whose source IP is ours is dropped (LocalAddrs, vxvde_group.hpp: the IPv4
// packet info's ipi_spec_dst, our explicit bind address, or any address of
// this netns, read when first needed and re-read at most once per second when
// a datagram from our port comes from an unknown address).
//
// Batching and limits: recv() drains both sockets with recvmmsg, in batches of
// at most 64 datagrams and at most 16 batches per socket per (dgram_batch.hpp)
// call (so a flood of rejected datagrams cannot hold the caller forever); the
// socket read first alternates between calls. Accepted frames are compacted
// (memcpy) into bufs[0..n); a frame longer than the earlier slot's cap is
// dropped (callers use equal caps). send() batches through UdpFrameSender
// (udp_send.hpp): one sendmmsg per 64 frames, EAGAIN/ENOBUFS drop the rest of
// the call's frames (a full queue drops like a NIC), any other per-message
// error skips that message. All per-call storage (mmsghdr, iovec, names,
// control buffers) is preallocated in the object: no allocation on the data
// path. Default socket buffers are 4 MiB (best effort, SO_RCVBUFFORCE first
// when privileged); rcvbuf= sets SO_RCVBUF and must work.
//
// UDP offloads (VDESTACK_UDP_GSO=0 turns both off). Out: a run of frames to
// one learned unicast peer, all of one length but a shorter last (what TSO
// cut), leaves in one UDP_SEGMENT message (udp_send.hpp); the datagrams on
// the wire are the same. In, "GRO mode" (udp_gro.hpp): after a full batch
// of unicast (a bulk flow) uni_ asks for UDP_GRO; coalesced datagrams are
// read into the receiver's own area (1 MiB, allocated then), cut at their
// gso_size, and each piece is checked and learned like a datagram of its
// own. Frames are handed out by pointer into the area (FrameBuf::data);
// those beyond the caller's slots are held (pending()) for the next call,
// which hands them out before it reads uni_ again.
#include "plug/udp/vxvde.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include <vector>

#include "plug/dgram_batch.hpp"
#include "plug/udp/mactable.hpp"
#include "plug/udp/mcast_config.hpp"
#include "plug/udp/udp_gro.hpp"
#include "plug/udp/udp_send.hpp"
#include "plug/udp/vxvde_group.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/nss.hpp"
#include "base/fd.hpp"
#include "base/sockbuf.hpp"
#include "vnl/vnl.hpp"
#include "wire/vxvde.hpp"

namespace vdestack::plug {

namespace {

using wire::VxvdeHeader;


constexpr const char* kDefaultGroup4 = "239.0.0.1";
constexpr const char* kDefaultGroup6 = "ff05:56de::1";
constexpr std::uint16_t kDefaultPort = 14789;
constexpr std::uint32_t kDefaultVni = 1;
constexpr int kDefaultTtl = 1;
constexpr std::size_t kDefaultHashSize = 1024;
constexpr std::int64_t kDefaultExpire = 128;

// Option table in vdeplug4 prefix-priority order.
constexpr std::string_view kKeys[] = {"v4", "v6",       "port",       "vni",    "grp", "ttl",
                                      "if", "hashsize", "expiretime", "rcvbuf", "bind"};

// A group name or number -> 24-bit id. "" means our effective gid.
std::uint32_t resolve_gid(const std::string& value, std::string_view key, std::string_view vnl_text) {
    if (value.empty()) return static_cast<std::uint32_t>(::getegid()) & VxvdeHeader::kMaxVni;
    if (value[0] >= '0' && value[0] <= '9')
        return static_cast<std::uint32_t>(vnl::parse_number(value, key, vnl_text, VxvdeHeader::kMaxVni));
    const auto gid = group_id_of(value);
    if (!gid) fail(EINVAL, std::string(vnl_text) + ": unknown group '" + value + "' for option '" + std::string(key) + "'");
    return static_cast<std::uint32_t>(*gid) & VxvdeHeader::kMaxVni;
}

// What a VNL says: the shared multicast options (mcast_config.hpp), the VNI
// and the unicast socket's address.
struct Config : McastConfig {
    std::uint32_t vni = kDefaultVni;
    PeerAddr bind;  // unicast socket address, port 0
};

Config parse_config(std::string_view vnl_text, std::string_view rest) {
    const vnl::Parsed p = vnl::parse_ip_style(rest, kKeys, vnl_text);
    Config c;
    // VNI: explicit vni, else grp, else 1. grp also rewrites the group address.
    std::optional<std::uint32_t> grp;
    if (auto v = p.get("grp")) grp = resolve_gid(*v, "grp", vnl_text);
    if (auto v = p.get("vni"))
        c.vni = resolve_gid(*v, "vni", vnl_text);
    else if (grp)
        c.vni = *grp;
    static_cast<McastConfig&>(c) = parse_mcast(
        p, vnl_text, {kDefaultGroup4, kDefaultGroup6, kDefaultPort, kDefaultTtl, kDefaultHashSize, kDefaultExpire}, grp);
    const int family = c.group.family();
    // IPv4: ttl is also the unicast IP_TTL, which the kernel refuses to set to 0
    // (IPv6 sets only the multicast hop limit, where 0 means "this host only").
    if (family == AF_INET && c.ttl == 0)
        fail(EINVAL, std::string(vnl_text) + ": bad value '0' for option 'ttl' (IPv4 needs 1..255: it is also the "
                                             "unicast TTL)");

    // The unicast socket's address.
    std::string baddr = p.get("bind").value_or("");
    if (family == AF_INET) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        if (!baddr.empty() && ::inet_pton(AF_INET, baddr.c_str(), &sa.sin_addr) != 1)
            vnl::bad_value(baddr, "bind", vnl_text);
        c.bind = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    } else {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = in6addr_any;
        if (!baddr.empty() && ::inet_pton(AF_INET6, baddr.c_str(), &sa.sin6_addr) != 1)
            vnl::bad_value(baddr, "bind", vnl_text);
        if (IN6_IS_ADDR_LINKLOCAL(&sa.sin6_addr)) sa.sin6_scope_id = c.ifindex;
        c.bind = PeerAddr::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    }
    return c;
}

// A socket address's IP address as text.
std::string addr_text(const PeerAddr& a) {
    char text[INET6_ADDRSTRLEN] = "";
    const void* p = a.family() == AF_INET ? static_cast<const void*>(&a.addr.v4.sin_addr)
                                          : static_cast<const void*>(&a.addr.v6.sin6_addr);
    ::inet_ntop(a.family(), p, text, sizeof text);
    return text;
}

// What makes two vxvde transports one network (Capabilities::local_segment).
std::string segment_name(const Config& c) {
    return "vxvde " + addr_text(c.group) + " port " + std::to_string(c.group.port()) + " vni " + std::to_string(c.vni) +
           " if " + std::to_string(c.ifindex);
}

// A vxvde transport with sockets of its own (no OpenOptions::shared).
class VxvdeTransport final : public Transport {
public:
    VxvdeTransport(std::string vnl_text, const Config& c, std::string segment, bool offloads);
    ~VxvdeTransport() override;

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    [[nodiscard]] bool pending() const noexcept override { return gro_.holding(); }
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    // Receives from socket `which` (0 multi, 1 uni) into bufs[n..); advances n.
    // Returns 0, or -errno when the socket is dead.
    int drain(int which, std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept;
    // The same for uni_ in GRO mode (see the header).
    int drain_gro(std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept;
    void learn(wire::MacSpan mac, const PeerAddr& from, std::int64_t now) noexcept {
        table_.learn(mac, from, now, kVxvdeVlan);
    }
    void forget(const PeerAddr& peer) noexcept { table_.forget_peer(peer); }

    std::string vnl_;
    UniqueFd multi_;  // our group socket
    UniqueFd uni_;    // our unicast socket
    std::array<int, 2> fds_{-1, -1};
    std::array<std::byte, VxvdeHeader::kSize> hdr_{};
    PeerAddr group_addr_;
    PeerAddr bound_;          // uni_'s address (port = our unicast port)
    std::uint16_t uniport_ = 0;  // our unicast port, host byte order
    MacTable table_;             // the learned peers
    LocalAddrs local_;
    int first_ = 0;  // socket recv() reads first; alternates

    // recv: header, frame, sender (and on the multicast socket the packet
    // info) per datagram (dgram_batch.hpp)
    using Batch = EncapBatch<VxvdeHeader::kSize>;
    Batch batch_;
    // send: every datagram leaves from uni_ (udp_send.hpp: batches, GSO runs)
    UdpFrameSender sender_{hdr_};
    // GRO mode (uni_ only, udp_gro.hpp): entered once, after a full batch.
    UdpGroReceiver gro_;
};

// A stack's end of a network whose sockets the stacks of this process share
// (OpenOptions::shared, vxvde_group.hpp): it has no fd and receives nothing
// itself (the group writes into its Inbox); it sends from its engine's
// unicast socket of the group, with the group's learned peers.
class VxvdeMember final : public Transport {
public:
    VxvdeMember(std::string vnl_text, std::string segment, std::shared_ptr<VxvdeGroup> group, bool offloads)
        : vnl_(std::move(vnl_text)), group_(std::move(group)), member_(group_->join()), sender_(group_->header()) {
        caps_.local_segment = std::move(segment);
        sender_.set_gso(offloads);
    }
    ~VxvdeMember() override { group_->leave(member_); }  // the group says goodbye with its last member

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return {}; }
    ssize_t recv(std::span<FrameBuf>) noexcept override { return 0; }
    ssize_t send(std::span<const FrameRef> frames) noexcept override {
        const std::int64_t now = mono_seconds();
        for (const FrameRef& f : frames)
            if (f.data != nullptr && f.len >= wire::kEthHeader)
                group_->sent(member_, std::span<const std::byte>(f.data, f.len));
        return group_->peers().read([&](const MacTable& t) {
            return send_learned(sender_, group_->unicast_fd(member_), frames, t, group_->group_address(), kVxvdeVlan,
                                now);
        });
    }
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }
    [[nodiscard]] SharedSource* shared_source() noexcept override { return group_.get(); }
    void set_inbox(Inbox inbox) noexcept override { group_->set_inbox(member_, inbox); }

private:
    std::string vnl_;
    std::shared_ptr<VxvdeGroup> group_;
    VxvdeGroup::Member* member_;
    UdpFrameSender sender_;  // its prefix: the group's header
};

VxvdeTransport::VxvdeTransport(std::string vnl_text, const Config& c, std::string segment, bool offloads)
    : vnl_(std::move(vnl_text)),
      multi_(open_group_socket(c, vnl_)),
      uni_(open_unicast_socket(c, c.bind, vnl_)),
      group_addr_(c.group),
      table_(c.hashsize, c.expire) {
    wire::write_vxvde_header(hdr_, c.vni);
    caps_.local_segment = std::move(segment);
    sender_.set_gso(offloads);
    // ---- our unicast address (the self-filter's port)
    sockaddr_in6 name{};
    socklen_t namelen = sizeof name;
    if (::getsockname(uni_.get(), reinterpret_cast<sockaddr*>(&name), &namelen) != 0) fail_errno(vnl_ + ": getsockname");
    bound_ = PeerAddr::from(reinterpret_cast<const sockaddr*>(&name), namelen);
    uniport_ = bound_.port();
    fds_ = {multi_.get(), uni_.get()};
    gro_.allow(offloads);
    // Frames split from a coalesced datagram wait in gro_ (GRO mode,
    // pending()), and a recv() that returns fewer than asked handed them all out.
    caps_.drained_when_short = true;
}

VxvdeTransport::~VxvdeTransport() {
    // Leave: the bare header to the group, so peers forget our MACs now.
    (void)::sendto(uni_.get(), hdr_.data(), hdr_.size(), MSG_DONTWAIT, group_addr_.get(), group_addr_.len);
}

int VxvdeTransport::drain(int which, std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept {
    const int fd = fds_[static_cast<std::size_t>(which)];
    const bool multicast = which == 0;
    using Take = Batch::Take;
    const auto got = batch_.recv(
        fd, bufs.subspan(n),
        [&](const msghdr& mh, std::span<const std::byte, VxvdeHeader::kSize> hdr, std::span<const std::byte> f) {
            const PeerAddr from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
            switch (classify_vxvde(hdr_, hdr, f)) {
                case VxvdeDatagram::drop: return Take::consumed;
                case VxvdeDatagram::leave:
                    if (from.valid()) forget(from);
                    return Take::consumed;
                case VxvdeDatagram::frame: break;
            }
            if (multicast && from.valid() && from.port() == uniport_ && local_.is_self(from, bound_, mh, now))
                return Take::consumed;
            learn(wire::src_mac(f.data()), from, now);
            return Take::frame;
        },
        // A full batch of unicast: a bulk flow, worth GRO mode from now on.
        [&](std::size_t r, std::size_t chunk) {
            return !multicast && r == chunk && chunk == Batch::kBatch && gro_.enter_once(uni_.get());
        },
        Batch::kMaxRounds, multicast);  // the packet info tells our own multicast from a peer's
    n += got.n;
    if (got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT) return -got.err;
    return 0;  // drained, full, or a transient error: try next time
}

int VxvdeTransport::drain_gro(std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept {
    PeerAddr from;
    const std::byte* learned = nullptr;  // the source MAC learned last for this datagram
    return gro_.drain(uni_.get(), bufs, n, [&](const msghdr& mh, std::span<std::byte> d, std::size_t seg) {
        if (seg == 0) {
            from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
            learned = nullptr;
        }
        if (d.size() < VxvdeHeader::kSize) return std::span<std::byte>();
        const std::span<std::byte> f = d.subspan(VxvdeHeader::kSize);
        switch (classify_vxvde(hdr_, d.first(VxvdeHeader::kSize), f)) {
            case VxvdeDatagram::drop: return std::span<std::byte>();
            case VxvdeDatagram::leave:
                if (from.valid()) forget(from);
                return std::span<std::byte>();
            case VxvdeDatagram::frame: break;
        }
        if (f.size() > kMaxFrame) return std::span<std::byte>();
        const wire::MacSpan src = wire::src_mac(f.data());
        if (learned == nullptr || std::memcmp(learned, src.data(), src.size()) != 0) {
            learn(src, from, now);
            learned = src.data();
        }
        return f;
    });
}

ssize_t VxvdeTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (bufs.empty()) return 0;
    const std::int64_t now = mono_seconds();
    std::size_t n = 0;
    const int first = first_;
    first_ ^= 1;
    // Frames held from the last call go first (they arrived first). They
    // live in the GRO area, which drain_gro() would overwrite: the unicast
    // socket waits for the next call then.
    const bool held = gro_.holding();
    gro_.hand_out(bufs, n);
    for (int k = 0; k < 2 && n < bufs.size(); k++) {
        const int which = first ^ k;
        if (which == 1 && gro_.on() && held) continue;
        const int err = which == 1 && gro_.on() ? drain_gro(bufs, n, now) : drain(which, bufs, n, now);
        if (err < 0 && n == 0) return err;
    }
    return static_cast<ssize_t>(n);
}

ssize_t VxvdeTransport::send(std::span<const FrameRef> frames) noexcept {
    return send_learned(sender_, uni_.get(), frames, table_, group_addr_, kVxvdeVlan, mono_seconds());
}

}  // namespace

std::unique_ptr<Transport> open_vxvde(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    const Config c = parse_config(vnl, rest);
    std::string segment = segment_name(c);
    if (opts.shared == nullptr || !opts.tuning.shared_groups)
        return std::make_unique<VxvdeTransport>(std::string(vnl), c, std::move(segment), opts.tuning.udp_gso);
    // One group per network of this netns, and per setting that its sockets
    // or its table take from the VNL.
    struct stat ns{};
    if (::stat("/proc/thread-self/ns/net", &ns) != 0) fail_errno(std::string(vnl) + ": stat(/proc/thread-self/ns/net)");
    const std::string key = segment + " netns " + std::to_string(ns.st_ino) + " hashsize " + std::to_string(c.hashsize) +
                            " expire " + std::to_string(c.expire) + " rcvbuf " +
                            (c.rcvbuf ? std::to_string(*c.rcvbuf) : "-") + " ttl " + std::to_string(c.ttl) + " bind " +
                            addr_text(c.bind);
    auto group = std::static_pointer_cast<VxvdeGroup>(opts.shared->get(key, [&]() -> std::shared_ptr<SharedSource> {
        std::array<std::byte, VxvdeHeader::kSize> hdr{};
        wire::write_vxvde_header(hdr, c.vni);
        const GroupOptions go{opts.tuning.snoop, opts.tuning.udp_gso, opts.tuning.offload.gro};
        return std::make_shared<VxvdeGroup>(c, c.bind, hdr, go, vnl);
    }));
    return std::make_unique<VxvdeMember>(std::string(vnl), std::move(segment), std::move(group), opts.tuning.udp_gso);
}

}  // namespace vdestack::plug
