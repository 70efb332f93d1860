// vxvde_group.hpp - the multicast side of vxvde://, alone (each transport its
// own group socket) or shared by every stack of a process on one network.
//
// Theory of operation
// -------------------
// A vxvde network is a group:port and a VNI. Each member joins the group with
// a socket bound to group:port; everything it sends leaves from a unicast
// socket of its own, whose (address, port) is its identity to peers.
//
// Alone (libvdeplug's vde_open, vde_plug, vdens: no engine that fans out),
// each transport has its own group socket (open_group_socket) and reads it in
// recv(); LocalAddrs tells its own looped-back multicasts from peers'.
//
// Shared (the helper, OpenOptions::shared): N stacks of one process on one
// network would otherwise hold 2N sockets; the kernel then copies every
// multicast datagram N times, N engines read it, and each writes it into its
// stack, which drops most (a DAD probe or an MLD report is for nobody). The
// cost of one stack's creation grew with the number alive (1000 stacks took
// 15 ms each), and the fds (three per stack) capped the count. A VxvdeGroup
// is the network's port in this process, as a switch is one port of a vxvde
// network for all that is behind it: one group socket, made on first use
// through SharedSources and closed with the last member, and one unicast
// socket per engine (at most 4), made when the engine attaches and closed,
// after the leave message, when it detaches. A member sends from its
// engine's unicast socket, so peers learn its MAC at that address and its
// unicast comes back to the engine that runs it (as with a socket per stack:
// receive work stays on the stack's own engine). A stack then costs its tap
// and nothing else.
//
// Every engine that has a member polls the group socket (EPOLLEXCLUSIVE) and
// its own unicast socket and calls drain(fd); readers of one socket take
// turns under its Rx::mu, so frames keep their order.
// Each datagram is checked like the alone case (header, leave, runt), its
// source MAC learned once in the shared MacTable (which the members' sends
// use, so a peer that moved is re-learned for all), and the frame written
// straight into the tap (Inbox) of each member it is for:
//   - never the member that sent it (a datagram from our unicast address
//     whose source MAC is the member's);
//   - a unicast destination: the member that sent from that MAC (learned
//     from its own frames, sent()); on the group socket an unknown unicast
//     floods to every member, on the unicast socket it is dropped (it was
//     for a stack that is gone);
//   - an IPv4/IPv6 multicast MAC other than all-hosts/all-nodes: the members
//     that joined a group of that MAC, learned by snooping the IGMP/MLD
//     reports they send (wire/mcast_report.hpp), as a snooping switch does
//     (RFC 4541); Tuning::snoop off (VDESTACK_SNOOP=0) floods them instead;
//   - broadcast, all-hosts/all-nodes and other group MACs: every member.
// A unicast socket is read as a stack's own was: recvmmsg, then UDP GRO
// mode after a full batch (udp_gro.hpp); each run of frames for one member
// goes through frame::Gro into its vnet tap, as the engine does for a link.
// A member joins before its tap's interface can be up (the helper opens the
// transport before it creates the tap), so it reports every group it ever
// joins after; a member with more than kMaxGroups groups gets every
// multicast. The cost of a creation is then the same whatever the number of
// stacks, but for the broadcasts everybody must see (ARP).
//
// Threads and locks: drain() runs on any engine thread: the socket's Rx::mu
// (one reader), then the members' lock shared while it writes; attach/detach/join/leave/
// set_inbox/sent() run on the member's engine thread (or the helper's) and
// take the members' lock exclusively only when something changes (a leave,
// a new MAC or group), so they may wait for one drain round. Members send
// on their engine's unicast socket, from that engine's thread.
// Tap writes are non-blocking: a full queue drops the frame, as a NIC does;
// a frozen or departing member has no inbox (-1) and gets nothing. The
// MacTable has its own lock (SharedMacTable). Storage, per socket: 64
// slots of kMaxFrame for the reads and, in GRO mode, 1 MiB, allocated once;
// nothing is allocated per frame.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/fd.hpp"
#include "plug/dgram_batch.hpp"
#include "plug/transport.hpp"
#include "plug/udp/mactable.hpp"
#include "plug/udp/mcast_config.hpp"
#include "plug/udp/udp_gro.hpp"
#include "frame/offload.hpp"
#include "wire/mcast_report.hpp"
#include "wire/vxvde.hpp"

namespace vdestack::plug {

inline constexpr std::uint16_t kVxvdeVlan = 1;  // vdeplug4 learns with VLAN key 1

// The addresses of this netns, for the self-filter: a datagram from one of
// them and our unicast port is our own multicast, looped back.
class LocalAddrs {
public:
    LocalAddrs() = default;  // read at the first datagram that asks
    // True when `from` (whose port the caller matched with a unicast port of
    // ours, bound to `bound`) is ours: the IPv4 packet info names it as the
    // receiving interface's address, it is `bound`'s address, or one of this
    // netns' (re-read at most once a second when unknown).
    [[nodiscard]] bool is_self(const PeerAddr& from, const PeerAddr& bound, const msghdr& mh, std::int64_t now) noexcept;

private:
    [[nodiscard]] bool is_local(const PeerAddr& from, const PeerAddr& bound) const noexcept;
    void refresh() noexcept;
    std::vector<in_addr> v4_;
    std::vector<in6_addr> v6_;
    std::int64_t refreshed_ = -1;
};

// The accept rule of a vxvde datagram (as vdeplug4's): `hdr` (the
// datagram's first 8 bytes) must equal `ours` (flags, our VNI, zero
// reserved bytes); nothing after it is a leave (its sender closed); a frame
// must be longer than an Ethernet header and at least kMinFrame. One place
// for every reader of vxvde sockets, alone or shared.
enum class VxvdeDatagram { frame, leave, drop };
[[nodiscard]] inline VxvdeDatagram classify_vxvde(std::span<const std::byte, wire::VxvdeHeader::kSize> ours,
                                                  std::span<const std::byte> hdr,
                                                  std::span<const std::byte> frame) noexcept {
    if (hdr.size() != ours.size() || std::memcmp(hdr.data(), ours.data(), ours.size()) != 0) return VxvdeDatagram::drop;
    if (frame.empty()) return VxvdeDatagram::leave;
    if (frame.size() <= wire::kEthHeader || frame.size() < kMinFrame) return VxvdeDatagram::drop;
    return VxvdeDatagram::frame;
}

// A socket bound to c.group (SO_REUSEADDR), member of it on c.ifindex, with
// packet info on and the receive buffer of c.rcvbuf (or a generous default).
// Throws Error naming `vnl` and the call.
UniqueFd open_group_socket(const McastConfig& c, std::string_view vnl);
// The socket every datagram of a member leaves from: bound to `bind` (port
// 0: ephemeral), TTL and multicast hops c.ttl, multicast interface
// c.ifindex, multicast loop on, generous buffers (c.rcvbuf exactly when
// given). Throws Error naming `vnl` and the call.
UniqueFd open_unicast_socket(const McastConfig& c, const PeerAddr& bind, std::string_view vnl);

struct GroupOptions {
    bool snoop = true;    // Tuning::snoop
    bool udp_gso = true;  // Tuning::udp_gso: UDP GRO mode on the unicast socket
    bool tcp_gro = true;  // Tuning::offload.gro: frame::Gro into vnet taps
};

class VxvdeGroup final : public SharedSource {
public:
    static constexpr std::size_t kMaxGroups = 256;  // per member; more: it gets every multicast
    struct Member;

    // Opens the network's group socket (c: group, port, interface, TTL,
    // buffers; `bind`: the unicast sockets' address, made per engine in
    // attach(); `hdr`: the vxvde header with the VNI). Throws Error naming
    // `vnl`.
    VxvdeGroup(const McastConfig& c, const PeerAddr& bind, std::span<const std::byte, wire::VxvdeHeader::kSize> hdr,
               GroupOptions o, std::string_view vnl);
    ~VxvdeGroup() override;

    // {group socket, the reader's unicast socket} (opened at its first
    // attach; a reader's members send from it and their unicast arrives
    // there). Its last detach says goodbye from it (the leave message) and
    // closes it.
    [[nodiscard]] std::span<const int> attach(const void* reader) override;
    void detach(const void* reader) noexcept override;
    void drain(int fd) noexcept override;

    // Where member m sends from: its reader's unicast socket (-1 before it
    // had an inbox: nothing to send then). Called on m's engine thread.
    [[nodiscard]] int unicast_fd(const Member* m) const noexcept;
    // The network's learned peers, shared with the members' sends.
    [[nodiscard]] SharedMacTable& peers() noexcept { return peers_; }
    // The network's vxvde header (every datagram's first bytes) and group:port.
    [[nodiscard]] std::span<const std::byte, wire::VxvdeHeader::kSize> header() const noexcept { return hdr_; }
    [[nodiscard]] const PeerAddr& group_address() const noexcept { return config_.group; }

    // A new member, without an inbox yet. Throws bad_alloc.
    Member* join();
    // Forgets the member; on return drain() no longer uses it.
    void leave(Member* m) noexcept;
    // inbox.reader must be attached (or null: inbox.fd is -1 then).
    void set_inbox(Member* m, Inbox inbox) noexcept;
    // Shows the group a frame member `m` sends: it learns the member's
    // source MAC and the groups its IGMP/MLD reports join or leave.
    void sent(Member* m, std::span<const std::byte> frame) noexcept;

    // Members now, and members that receive multicast MAC `mac` (tests).
    [[nodiscard]] std::size_t members() const;
    [[nodiscard]] std::size_t listeners(std::span<const std::byte, 6> mac) const;

private:
    using Batch = EncapBatch<wire::VxvdeHeader::kSize>;
    // What one socket's reads need (one reader at a time: `mu`), allocated
    // once: 64 slots of kMaxFrame, the GRO area when in GRO mode.
    struct Rx {
        std::mutex mu;
        Batch batch;
        std::unique_ptr<std::byte[]> pool;
        std::vector<FrameBuf> slots;
        UdpGroReceiver udp_gro;
        frame::Gro tcp_gro;
        Rx();
        void reset_slots() noexcept;
    };
    // An engine's unicast socket.
    struct Reader {
        const void* key;
        std::size_t attached = 0;
        UniqueFd uni;
        PeerAddr bound;
        std::array<int, 2> fds{};  // {group socket, uni}
        Rx rx;
    };

    // Under rx.mu and mu_ (shared): frame f from `from` on the group
    // socket to the members it is for.
    void fan_out(const PeerAddr& from, const msghdr& mh, std::int64_t now, std::span<const std::byte> f) noexcept;
    // Under mu_ (shared): frames in rx.slots[0, n) from a unicast socket.
    void deliver(Rx& rx, std::size_t n) noexcept;
    void drain_group(std::int64_t now) noexcept;
    void drain_unicast(Reader& r, std::int64_t now) noexcept;
    void update(Member* m, const wire::McastGroup& g);
    void make_flood(Member* m) noexcept;  // under mu_ (exclusive)
    // Under mu_ (exclusive): m no longer listens to group MAC `mac`.
    void unlist(const Member* m, std::span<const std::byte, 6> mac) noexcept;
    [[nodiscard]] Member* owner(std::span<const std::byte, 6> mac) const noexcept;
    [[nodiscard]] bool ours(const PeerAddr& from, const msghdr& mh, std::int64_t now) noexcept;
    // classify_vxvde() and what follows: a leave forgets its sender, a frame
    // teaches its source MAC (when `learn`). True for a frame to deliver.
    bool take(std::span<const std::byte> hdr, std::span<const std::byte> f, const PeerAddr& from, std::int64_t now,
              bool learn = true) noexcept;
    void say_goodbye(int fd) const noexcept;

    McastConfig config_;
    PeerAddr bind_;
    std::string vnl_;
    UniqueFd group_;
    std::array<std::byte, wire::VxvdeHeader::kSize> hdr_{};
    GroupOptions opts_;
    SharedMacTable peers_;
    Rx group_rx_;       // the group socket's reads
    LocalAddrs local_;  // under group_rx_.mu

    mutable std::shared_mutex mu_;  // the members, their indexes and the readers
    std::vector<std::unique_ptr<Reader>> readers_;
    std::vector<std::unique_ptr<Member>> all_;
    std::unordered_map<std::uint64_t, Member*> owners_;                // unicast MAC -> member
    std::unordered_map<std::uint64_t, std::vector<Member*>> groups_;  // group MAC -> members
    std::vector<Member*> floods_;  // members past kMaxGroups (or out of memory): every multicast
};

}  // namespace vdestack::plug
