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
// network would otherwise hold N group sockets; the kernel then copies every
// multicast datagram N times, N engines read it, and each writes it into its
// stack, which drops most (a DAD probe or an MLD report is for nobody). The
// cost of one stack's creation grew with the number alive, and 1000 stacks
// took 15 ms each. A VxvdeGroup is the one group socket of such a network in
// this process (made on first use through SharedSources, closed with its last
// member). Every engine that has a member polls its fd (EPOLLEXCLUSIVE) and
// calls drain(); readers take turns under read_mu_, so frames keep their
// order. Each datagram is checked like the alone case (header, leave, runt),
// its source MAC learned once in the shared MacTable (which the members'
// unicast paths use too, so a peer that moved is re-learned for all), and the
// frame written straight into the tap (Inbox) of each member it is for:
//   - never the member that sent it (a datagram from a local address and a
//     member's unicast port);
//   - a unicast destination: the member that sent from that MAC (learned
//     from its own frames), else every member (an unknown unicast floods);
//   - an IPv4/IPv6 multicast MAC other than all-hosts/all-nodes: the members
//     that joined a group of that MAC, learned by snooping the IGMP/MLD
//     reports they send (wire/mcast_report.hpp), as a snooping switch does
//     (RFC 4541); Tuning::snoop off (VDESTACK_SNOOP=0) floods them instead;
//   - broadcast, all-hosts/all-nodes and other group MACs: every member.
// A member joins before its tap's interface can be up (the helper opens the
// transport before it creates the tap), so it reports every group it ever
// joins after; a member with more than kMaxGroups groups gets every
// multicast. The cost of a creation is then the same whatever the number of
// stacks, but for the broadcasts everybody must see (ARP).
//
// Threads and locks: drain() runs on any engine thread (read_mu_, then the
// members' lock shared while it writes); join/leave/set_inbox/sent() run on
// the member's engine thread (or the helper's) and take the members' lock
// exclusively only when something changes. Tap writes are non-blocking: a
// full queue drops the frame, as a NIC does; a frozen or departing member
// has no inbox (-1) and gets nothing. The MacTable has its own lock
// (SharedMacTable). Storage: 64 slots of kMaxFrame for the reads, allocated
// once per group; nothing is allocated per frame.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/fd.hpp"
#include "plug/dgram_batch.hpp"
#include "plug/transport.hpp"
#include "plug/udp/mactable.hpp"
#include "plug/udp/mcast_config.hpp"
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

// A socket bound to c.group (SO_REUSEADDR), member of it on c.ifindex, with
// packet info on and the receive buffer of c.rcvbuf (or a generous default).
// Throws Error naming `vnl` and the call.
UniqueFd open_group_socket(const McastConfig& c, std::string_view vnl);

class VxvdeGroup final : public SharedSource {
public:
    static constexpr std::size_t kMaxGroups = 256;  // per member; more: it gets every multicast
    struct Member;

    // `fd`: open_group_socket()'s; `hdr`: the network's vxvde header.
    VxvdeGroup(UniqueFd fd, std::span<const std::byte, wire::VxvdeHeader::kSize> hdr, std::size_t hashsize,
               std::int64_t expire, bool snoop);
    ~VxvdeGroup() override;

    [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
    void drain() noexcept override;

    // The network's learned peers, shared with the members' unicast paths.
    [[nodiscard]] SharedMacTable& peers() noexcept { return peers_; }

    // A member whose unicast socket is bound to `bound` (its port: the
    // member's identity); it has no inbox yet. Throws bad_alloc.
    Member* join(const PeerAddr& bound);
    // Forgets the member; on return drain() no longer uses it.
    void leave(Member* m) noexcept;
    void set_inbox(Member* m, Inbox inbox) noexcept;
    // Shows the group a frame member `m` sends: it learns the member's
    // source MAC and the groups its IGMP/MLD reports join or leave.
    void sent(Member* m, std::span<const std::byte> frame) noexcept;

    // Members now, and members that receive multicast MAC `mac` (tests).
    [[nodiscard]] std::size_t members() const;
    [[nodiscard]] std::size_t listeners(std::span<const std::byte, 6> mac) const;

private:
    using Batch = EncapBatch<wire::VxvdeHeader::kSize>;
    // Under read_mu_: writes frame f from `from` to the members it is for.
    void fan_out(const PeerAddr& from, const msghdr& mh, std::int64_t now, std::span<const std::byte> f) noexcept;
    void update(Member* m, const wire::McastGroup& g);
    void make_flood(Member* m) noexcept;  // under mu_ (exclusive)
    static std::uint64_t key(std::span<const std::byte, 6> mac) noexcept;

    UniqueFd fd_;
    std::array<std::byte, wire::VxvdeHeader::kSize> hdr_{};
    bool snoop_;
    SharedMacTable peers_;

    std::mutex read_mu_;  // one reader at a time; guards what follows
    Batch batch_;
    std::unique_ptr<std::byte[]> pool_;
    std::vector<FrameBuf> slots_;
    LocalAddrs local_;

    mutable std::shared_mutex mu_;  // the members and their indexes
    std::vector<std::unique_ptr<Member>> all_;
    std::unordered_map<std::uint16_t, Member*> by_port_;
    std::unordered_map<std::uint64_t, Member*> owners_;                // unicast MAC -> member
    std::unordered_map<std::uint64_t, std::vector<Member*>> groups_;  // group MAC -> members
    std::vector<Member*> floods_;  // members past kMaxGroups (or out of memory): every multicast
};

}  // namespace vdestack::plug
