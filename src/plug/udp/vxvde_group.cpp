// vxvde_group.cpp - the group socket of vxvde://, alone or shared (see
// vxvde_group.hpp for the theory of operation).
#include "plug/udp/vxvde_group.hpp"

#include <ifaddrs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/sockbuf.hpp"
#include "wire/ethernet.hpp"
#include "wire/vnet.hpp"

namespace vdestack::plug {

namespace {

constexpr int kDefaultSockBuf = 4 << 20;  // generous default socket buffers

template <typename T>
void set_opt(int fd, int level, int name, const T& value, std::string_view vnl, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0)
        fail_errno(std::string(vnl) + ": setsockopt(" + what + ")");
}

bool all_hosts(std::span<const std::byte, 6> mac) noexcept {
    static constexpr std::byte k4[6] = {std::byte{0x01}, std::byte{0x00}, std::byte{0x5e},
                                        std::byte{0},    std::byte{0},    std::byte{0x01}};
    static constexpr std::byte k6[6] = {std::byte{0x33}, std::byte{0x33}, std::byte{0},
                                        std::byte{0},    std::byte{0},    std::byte{0x01}};
    return std::memcmp(mac.data(), k4, 6) == 0 || std::memcmp(mac.data(), k6, 6) == 0;
}

// An IPv4 (01:00:5e, high bit of the 4th byte clear) or IPv6 (33:33) multicast MAC.
bool ip_multicast(std::span<const std::byte, 6> mac) noexcept {
    const auto b = [&](std::size_t i) { return std::to_integer<unsigned>(mac[i]); };
    return (b(0) == 0x01 && b(1) == 0x00 && b(2) == 0x5e && (b(3) & 0x80u) == 0) || (b(0) == 0x33 && b(1) == 0x33);
}

}  // namespace

// ---- LocalAddrs

void LocalAddrs::refresh() noexcept {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return;
    try {
        v4_.clear();
        v6_.clear();
        for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
            if (ifa->ifa_addr == nullptr) continue;
            if (ifa->ifa_addr->sa_family == AF_INET) {
                sockaddr_in sa{};
                std::memcpy(&sa, ifa->ifa_addr, sizeof sa);
                v4_.push_back(sa.sin_addr);
            } else if (ifa->ifa_addr->sa_family == AF_INET6) {
                sockaddr_in6 sa{};
                std::memcpy(&sa, ifa->ifa_addr, sizeof sa);
                v6_.push_back(sa.sin6_addr);
            }
        }
    } catch (...) {  // out of memory: keep what we have
    }
    ::freeifaddrs(list);
}

bool LocalAddrs::is_local(const PeerAddr& from, const PeerAddr& bound) const noexcept {
    if (from.family() == AF_INET) {
        const in_addr a = from.addr.v4.sin_addr;
        if (bound.family() == AF_INET && a.s_addr == bound.addr.v4.sin_addr.s_addr) return true;
        return std::any_of(v4_.begin(), v4_.end(), [&](const in_addr& l) { return l.s_addr == a.s_addr; });
    }
    const in6_addr& a = from.addr.v6.sin6_addr;
    if (bound.family() == AF_INET6 && std::memcmp(&a, &bound.addr.v6.sin6_addr, sizeof a) == 0) return true;
    return std::any_of(v6_.begin(), v6_.end(), [&](const in6_addr& l) { return std::memcmp(&l, &a, sizeof a) == 0; });
}

bool LocalAddrs::is_self(const PeerAddr& from, const PeerAddr& bound, const msghdr& mh, std::int64_t now) noexcept {
    if (from.family() == AF_INET) {
        for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&mh), cm)) {
            if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                in_pktinfo pi{};
                std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
                if (pi.ipi_spec_dst.s_addr == from.addr.v4.sin_addr.s_addr) return true;
            }
        }
    }
    if (is_local(from, bound)) return true;
    // Our port from an address we do not know: maybe one added since.
    if (now != refreshed_) {
        refreshed_ = now;
        refresh();
        return is_local(from, bound);
    }
    return false;
}

// ---- the group socket

UniqueFd open_group_socket(const McastConfig& c, std::string_view v) {
    const PeerAddr& group = c.group;
    const int family = group.family();
    UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!fd) fail_errno(std::string(v) + ": socket");
    const int mfd = fd.get();
    const int one = 1;
    set_opt(mfd, SOL_SOCKET, SO_REUSEADDR, one, v, "SO_REUSEADDR");
    if (family == AF_INET) {
        set_opt(mfd, IPPROTO_IP, IP_PKTINFO, one, v, "IP_PKTINFO");
        const int zero = 0;  // only the group we bound to, not every joined group
        (void)::setsockopt(mfd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    } else {
        set_opt(mfd, IPPROTO_IPV6, IPV6_RECVPKTINFO, one, v, "IPV6_RECVPKTINFO");
    }
    if (::bind(mfd, group.get(), group.len) != 0) fail_errno(std::string(v) + ": bind(multicast group)");
    if (family == AF_INET) {
        ip_mreqn mr{};
        mr.imr_multiaddr = group.addr.v4.sin_addr;
        mr.imr_address.s_addr = htonl(INADDR_ANY);
        mr.imr_ifindex = static_cast<int>(c.ifindex);
        set_opt(mfd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mr, v, "IP_ADD_MEMBERSHIP");
    } else {
        ipv6_mreq mr{};
        mr.ipv6mr_multiaddr = group.addr.v6.sin6_addr;
        mr.ipv6mr_interface = c.ifindex;
        set_opt(mfd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mr, v, "IPV6_ADD_MEMBERSHIP");
    }
    if (c.rcvbuf)
        set_opt(mfd, SOL_SOCKET, SO_RCVBUF, *c.rcvbuf, v, "SO_RCVBUF");
    else
        raise_rcvbuf(mfd, kDefaultSockBuf);
    return fd;
}

UniqueFd open_unicast_socket(const McastConfig& c, const PeerAddr& bind, std::string_view v) {
    const int family = c.group.family();
    UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!fd) fail_errno(std::string(v) + ": socket");
    const int ufd = fd.get();
    const int one = 1;
    if (::bind(ufd, bind.get(), bind.len) != 0) fail_errno(std::string(v) + ": bind(unicast)");
    if (family == AF_INET) {
        set_opt(ufd, IPPROTO_IP, IP_TTL, c.ttl, v, "IP_TTL");
        set_opt(ufd, IPPROTO_IP, IP_MULTICAST_TTL, c.ttl, v, "IP_MULTICAST_TTL");
        set_opt(ufd, IPPROTO_IP, IP_MULTICAST_LOOP, one, v, "IP_MULTICAST_LOOP");
        if (c.ifindex != 0) {
            ip_mreqn mr{};
            mr.imr_ifindex = static_cast<int>(c.ifindex);
            set_opt(ufd, IPPROTO_IP, IP_MULTICAST_IF, mr, v, "IP_MULTICAST_IF");
        }
    } else {
        set_opt(ufd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, c.ttl, v, "IPV6_MULTICAST_HOPS");
        set_opt(ufd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, one, v, "IPV6_MULTICAST_LOOP");
        if (c.ifindex != 0) {
            const int idx = static_cast<int>(c.ifindex);
            set_opt(ufd, IPPROTO_IPV6, IPV6_MULTICAST_IF, idx, v, "IPV6_MULTICAST_IF");
        }
    }
    if (c.rcvbuf)
        set_opt(ufd, SOL_SOCKET, SO_RCVBUF, *c.rcvbuf, v, "SO_RCVBUF");
    else
        raise_rcvbuf(ufd, kDefaultSockBuf);
    raise_sndbuf(ufd, kDefaultSockBuf);
    return fd;
}

// ---- VxvdeGroup

struct VxvdeGroup::Member {
    Inbox inbox;
    const Reader* reader = nullptr;  // its engine's (kept while frozen)
    std::size_t index = 0;  // in all_
    std::array<std::byte, 6> last_src{};
    std::vector<std::uint64_t> macs;         // unicast MACs it sent from (owners_)
    std::vector<wire::McastGroup> groups;    // groups it joined
    bool flood = false;                      // too many groups: every multicast
};

VxvdeGroup::Rx::Rx()
    : pool(std::make_unique_for_overwrite<std::byte[]>(Batch::kBatch * kMaxFrame)), slots(Batch::kBatch), tcp_gro(Batch::kBatch) {}

void VxvdeGroup::Rx::reset_slots() noexcept {
    for (std::size_t i = 0; i < slots.size(); i++) slots[i] = FrameBuf{pool.get() + i * kMaxFrame, kMaxFrame, 0};
}

VxvdeGroup::VxvdeGroup(const McastConfig& c, const PeerAddr& bind,
                       std::span<const std::byte, wire::VxvdeHeader::kSize> hdr, GroupOptions o, std::string_view vnl)
    : config_(c), bind_(bind), vnl_(vnl), group_(open_group_socket(c, vnl)), opts_(o), peers_(c.hashsize, c.expire) {
    std::copy(hdr.begin(), hdr.end(), hdr_.begin());
}

VxvdeGroup::~VxvdeGroup() {
    for (const auto& r : readers_) say_goodbye(r->uni.get());  // engines detach first; in case one did not
}

void VxvdeGroup::say_goodbye(int fd) const noexcept {
    // Leave: the bare header to the group, so peers forget the MACs they learned at fd's address now.
    (void)::sendto(fd, hdr_.data(), hdr_.size(), MSG_DONTWAIT, config_.group.get(), config_.group.len);
}

std::span<const int> VxvdeGroup::attach(const void* reader) {
    std::lock_guard lk(mu_);
    for (auto& r : readers_)
        if (r->key == reader) {
            r->attached++;
            return r->fds;
        }
    readers_.reserve(readers_.size() + 1);
    auto r = std::make_unique<Reader>();
    r->key = reader;
    r->attached = 1;
    r->uni = open_unicast_socket(config_, bind_, vnl_);
    sockaddr_in6 name{};
    socklen_t namelen = sizeof name;
    if (::getsockname(r->uni.get(), reinterpret_cast<sockaddr*>(&name), &namelen) != 0)
        fail_errno(vnl_ + ": getsockname");
    r->bound = PeerAddr::from(reinterpret_cast<const sockaddr*>(&name), namelen);
    r->fds = {group_.get(), r->uni.get()};
    r->rx.udp_gro.allow(opts_.udp_gso);
    readers_.push_back(std::move(r));
    return readers_.back()->fds;
}

void VxvdeGroup::detach(const void* reader) noexcept {
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < readers_.size(); i++) {
        Reader& r = *readers_[i];
        if (r.key != reader) continue;
        if (--r.attached > 0) return;
        for (const auto& m : all_)
            if (m->reader == &r) m->reader = nullptr;
        say_goodbye(r.uni.get());
        readers_.erase(readers_.begin() + static_cast<std::ptrdiff_t>(i));
        return;
    }
}

int VxvdeGroup::unicast_fd(const Member* m) const noexcept { return m->reader != nullptr ? m->reader->uni.get() : -1; }

VxvdeGroup::Member* VxvdeGroup::join() {
    auto m = std::make_unique<Member>();
    Member* raw = m.get();
    std::lock_guard lk(mu_);
    all_.reserve(all_.size() + 1);
    floods_.reserve(all_.size() + 1);  // make_flood() never allocates
    raw->index = all_.size();
    all_.push_back(std::move(m));
    return raw;
}

void VxvdeGroup::leave(Member* m) noexcept {
    std::lock_guard lk(mu_);
    for (std::uint64_t k : m->macs)
        if (auto it = owners_.find(k); it != owners_.end() && it->second == m) owners_.erase(it);
    for (const wire::McastGroup& g : m->groups) unlist(m, g.mac());
    if (m->flood) std::erase(floods_, m);
    // Swap-remove from all_ (O(1)): the last member takes its place.
    const std::size_t i = m->index;
    if (i + 1 != all_.size()) {
        std::swap(all_[i], all_.back());
        all_[i]->index = i;
    }
    all_.pop_back();  // destroys *m
}

void VxvdeGroup::make_flood(Member* m) noexcept {
    if (m->flood) return;
    m->flood = true;
    try {
        floods_.push_back(m);
    } catch (...) {  // reserved in join(): cannot happen
    }
}

void VxvdeGroup::set_inbox(Member* m, Inbox inbox) noexcept {
    std::lock_guard lk(mu_);
    m->inbox = inbox;
    if (inbox.reader != nullptr)
        for (const auto& r : readers_)
            if (r->key == inbox.reader) m->reader = r.get();
}

void VxvdeGroup::sent(Member* m, std::span<const std::byte> f) noexcept {
    if (f.size() < wire::kEthHeader) return;
    const wire::MacSpan src = wire::src_mac(f.data());
    if (!wire::is_multicast(src) && std::memcmp(m->last_src.data(), src.data(), src.size()) != 0) {
        try {
            std::lock_guard lk(mu_);
            std::memcpy(m->last_src.data(), src.data(), src.size());
            const std::uint64_t k = wire::mac_key(src);
            owners_[k] = m;
            if (std::find(m->macs.begin(), m->macs.end(), k) == m->macs.end()) m->macs.push_back(k);
        } catch (...) {  // out of memory: frames for that MAC flood
        }
    }
    if (!opts_.snoop || m->flood || !wire::is_multicast(wire::dst_mac(f.data()))) return;
    (void)wire::for_each_membership(f, [&](const wire::McastGroup& g) {
        try {
            update(m, g);
        } catch (...) {  // out of memory: the member gets every multicast
            std::lock_guard lk(mu_);
            make_flood(m);
        }
    });
}

void VxvdeGroup::update(Member* m, const wire::McastGroup& g) {
    const auto same = [&](const wire::McastGroup& x) { return x.family == g.family && x.addr == g.addr; };
    const auto mac = g.mac();
    const auto same_mac = [&](const wire::McastGroup& x) { return x.mac() == mac; };
    {
        std::shared_lock lk(mu_);  // a report repeats (robustness): mostly nothing changes
        const bool has = std::any_of(m->groups.begin(), m->groups.end(), same);
        if (m->flood || has == g.join) return;
    }
    std::lock_guard lk(mu_);
    if (g.join) {
        if (m->groups.size() >= kMaxGroups) {
            // Past the bound: every multicast, and no more bookkeeping.
            for (const wire::McastGroup& x : m->groups) unlist(m, x.mac());
            m->groups.clear();
            make_flood(m);
            return;
        }
        const bool mac_known = std::any_of(m->groups.begin(), m->groups.end(), same_mac);
        m->groups.reserve(m->groups.size() + 1);
        if (!mac_known) groups_[wire::mac_key(mac)].push_back(m);
        m->groups.push_back(g);
        return;
    }
    std::erase_if(m->groups, same);
    if (std::any_of(m->groups.begin(), m->groups.end(), same_mac)) return;  // another group of that MAC
    unlist(m, mac);
}

void VxvdeGroup::unlist(const Member* m, std::span<const std::byte, 6> mac) noexcept {
    auto it = groups_.find(wire::mac_key(mac));
    if (it == groups_.end()) return;
    std::erase(it->second, m);
    if (it->second.empty()) groups_.erase(it);
}

bool VxvdeGroup::take(std::span<const std::byte> hdr, std::span<const std::byte> f, const PeerAddr& from,
                      std::int64_t now, bool learn) noexcept {
    switch (classify_vxvde(hdr_, hdr, f)) {
        case VxvdeDatagram::drop: return false;
        case VxvdeDatagram::leave:
            if (from.valid()) peers_.forget_peer(from);
            return false;
        case VxvdeDatagram::frame: break;
    }
    if (learn) peers_.learn(wire::src_mac(f.data()), from, now, kVxvdeVlan);
    return true;
}

bool VxvdeGroup::ours(const PeerAddr& from, const msghdr& mh, std::int64_t now) noexcept {
    if (!from.valid()) return false;
    for (const auto& r : readers_)
        if (from.port() == r->bound.port() && local_.is_self(from, r->bound, mh, now)) return true;
    return false;
}

VxvdeGroup::Member* VxvdeGroup::owner(std::span<const std::byte, 6> mac) const noexcept {
    auto it = owners_.find(wire::mac_key(mac));
    return it == owners_.end() ? nullptr : it->second;
}

namespace {
// Writes frame f into inbox `in` (behind a zero virtio_net_hdr for a vnet
// tap), if there is one. EAGAIN (queue full) or EIO (interface down):
// dropped, as a NIC would.
void put(const Inbox& in, std::span<const std::byte> f) noexcept {
    static const std::byte zero[wire::VnetHdr::kSize]{};
    if (in.fd < 0) return;
    if (in.vnet) {
        const iovec iov[2] = {{const_cast<std::byte*>(zero), sizeof zero}, {const_cast<std::byte*>(f.data()), f.size()}};
        (void)!::writev(in.fd, iov, 2);
    } else {
        (void)!::write(in.fd, f.data(), f.size());
    }
}
}  // namespace

void VxvdeGroup::fan_out(const PeerAddr& from, const msghdr& mh, std::int64_t now,
                         std::span<const std::byte> f) noexcept {
    const std::span<const std::byte, 6> dst(f.data(), 6);
    // Our own member's multicast, looped back: not for it.
    const Member* sender = ours(from, mh, now) ? owner(std::span<const std::byte, 6>(f.data() + 6, 6)) : nullptr;
    const auto to = [&](const Member* m) {
        if (m != sender) put(m->inbox, f);
    };
    if (!wire::is_multicast(dst)) {
        if (const Member* m = owner(dst)) {
            to(m);
            return;
        }
    } else if (opts_.snoop && ip_multicast(dst) && !all_hosts(dst)) {
        if (auto it = groups_.find(wire::mac_key(dst)); it != groups_.end())
            for (const Member* m : it->second) to(m);
        for (const Member* m : floods_) to(m);
        return;
    }
    for (const auto& m : all_) to(m.get());
}

void VxvdeGroup::deliver(Rx& rx, std::size_t n) noexcept {
    const std::vector<FrameBuf>& slots = rx.slots;
    // Runs of frames for one member: through frame::Gro into a vnet tap
    // (a bulk flow's segments become one GSO frame), as they came otherwise.
    std::size_t i = 0;
    while (i < n) {
        const std::span<const std::byte, 6> dst(slots[i].data, 6);
        if (wire::is_multicast(dst)) {  // not sent to a unicast socket by a vxvde peer, but possible
            for (const auto& m : all_) put(m->inbox, std::span<const std::byte>(slots[i].data, slots[i].len));
            i++;
            continue;
        }
        const Member* m = owner(dst);
        std::size_t j = i + 1;
        while (j < n && !wire::is_multicast(std::span<const std::byte, 6>(slots[j].data, 6)) &&
               owner(std::span<const std::byte, 6>(slots[j].data, 6)) == m)
            j++;
        if (m != nullptr && m->inbox.fd >= 0) {
            const int tap = m->inbox.fd;
            if (m->inbox.vnet && opts_.tcp_gro)
                rx.tcp_gro.run(std::span<const FrameBuf>(slots.data() + i, j - i), [tap](std::span<const iovec> iov) {
                    (void)!::writev(tap, iov.data(), static_cast<int>(iov.size()));
                });
            else
                for (std::size_t k = i; k < j; k++) put(m->inbox, std::span<const std::byte>(slots[k].data, slots[k].len));
        }
        i = j;  // no owner: for a stack that is gone
    }
}

void VxvdeGroup::drain_group(std::int64_t now) noexcept {
    using Take = Batch::Take;
    Rx& rx = group_rx_;
    rx.reset_slots();
    (void)rx.batch.recv(
        group_.get(), rx.slots,
        [&](const msghdr& mh, std::span<const std::byte, wire::VxvdeHeader::kSize> hdr, std::span<const std::byte> f) {
            const PeerAddr from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
            if (take(hdr, f, from, now)) fan_out(from, mh, now, f);
            return Take::consumed;
        },
        [](std::size_t, std::size_t) { return false; }, Batch::kMaxRounds, true);
}

void VxvdeGroup::drain_unicast(Reader& r, std::int64_t now) noexcept {
    using Take = Batch::Take;
    Rx& rx = r.rx;
    UdpGroReceiver& gro = rx.udp_gro;
    const int fd = r.uni.get();
    for (int round = 0; round < Batch::kMaxRounds; round++) {
        std::size_t n = 0;
        if (gro.on()) {
            PeerAddr from;
            const std::byte* learned = nullptr;
            const bool held = gro.holding();
            gro.hand_out(rx.slots, n);
            if (!held)
                (void)gro.drain(fd, rx.slots, n, [&](const msghdr& mh, std::span<std::byte> d, std::size_t seg) {
                    if (seg == 0) {
                        from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
                        learned = nullptr;
                    }
                    if (d.size() < wire::VxvdeHeader::kSize) return std::span<std::byte>();
                    const std::span<std::byte> f = d.subspan(wire::VxvdeHeader::kSize);
                    if (f.size() > kMaxFrame) return std::span<std::byte>();
                    // A run of one sender's datagrams teaches its source MAC once.
                    const bool again = learned != nullptr && f.size() >= wire::kEthHeader &&
                                       std::memcmp(learned, f.data() + wire::kMacLen, wire::kMacLen) == 0;
                    if (!take(d.first(wire::VxvdeHeader::kSize), f, from, now, !again)) return std::span<std::byte>();
                    learned = f.data() + wire::kMacLen;
                    return f;
                });
        } else {
            rx.reset_slots();
            const auto got = rx.batch.recv(
                fd, rx.slots,
                [&](const msghdr& mh, std::span<const std::byte, wire::VxvdeHeader::kSize> hdr,
                    std::span<const std::byte> f) {
                    const PeerAddr from = PeerAddr::from(static_cast<const sockaddr*>(mh.msg_name), mh.msg_namelen);
                    return take(hdr, f, from, now) ? Take::frame : Take::consumed;
                },
                // A full batch: a bulk flow, worth GRO mode from now on.
                [&](std::size_t got_n, std::size_t chunk) {
                    return got_n == chunk && chunk == Batch::kBatch && gro.enter_once(fd);
                },
                1);
            n = got.n;
        }
        if (n == 0 && !gro.holding()) return;
        deliver(rx, n);
        if (n < rx.slots.size() && !gro.holding()) return;  // drained
    }
}

void VxvdeGroup::drain(int fd) noexcept {
    const std::int64_t now = mono_seconds();
    if (fd == group_.get()) {
        std::lock_guard rd(group_rx_.mu);
        std::shared_lock lk(mu_);
        drain_group(now);
        return;
    }
    std::shared_lock lk(mu_);
    for (const auto& r : readers_)
        if (r->uni.get() == fd) {
            std::lock_guard rd(r->rx.mu);
            drain_unicast(*r, now);
            return;
        }
}

std::size_t VxvdeGroup::members() const {
    std::shared_lock lk(mu_);
    return all_.size();
}

std::size_t VxvdeGroup::listeners(std::span<const std::byte, 6> mac) const {
    std::shared_lock lk(mu_);
    if (!opts_.snoop) return all_.size();
    auto it = groups_.find(wire::mac_key(mac));
    return (it == groups_.end() ? 0 : it->second.size()) + floods_.size();
}

}  // namespace vdestack::plug
