// migrate.cpp - moving a live stack: vde::Stack::save() and
// vde::Stack::restore() (include/vdestack/stack.hpp; the C forms are
// vde_stack_save/vde_stack_restore), over the repair layer (a socket's
// state) and stack_state (a namespace's configuration).
//
// Theory of operation
// -------------------
// save(): every socket is checked first (a socket of this stack, by the
// network namespace cookie; TCP established or listening, or UDP), so that
// a refusal changes nothing. Then the stack is frozen (its helper's engine
// stops forwarding both ways: from here its kernel can say nothing to the
// network, no RST, no retransmission), the sockets are captured (TCP ones
// are left in repair mode: closing them later sends nothing), the
// configuration is read through netlink, and the image is written to the fd
// in one piece (ImageWriter, wire/stack_image.hpp). Any failure after the
// freeze takes the captured sockets out of repair mode and thaws the stack:
// frames that waited in the tap's and the link's queues flow again.
//
// restore(): reads exactly one image from the fd (its header gives its
// length: the fd may carry more after it), checks it once (ImageView), and
// only then makes the stack: its own interface and the extra ones on their
// VNLs, frozen before anything is configured (a peer's retransmission
// reaching the new stack before its socket exists would be answered by a
// RST), the configuration applied (MAC first, IPv6 addresses without DAD:
// they were in use a moment ago), listeners rebuilt before the rest (an
// accepted connection shares its listener's port), then the thaw, and the
// announcements, so that switches and vxvde peers learn where the MAC is
// now: a gratuitous ARP per IPv4 address, sent by the kernel itself as the
// interface comes up (arp_notify, set before; the frames wait in the frozen
// tap and leave at the thaw: no packet socket, whose close would cost an
// RCU grace period, 10-20 ms), and an unsolicited neighbour advertisement
// (override, to ff02::1) per IPv6 one from a raw ICMPv6 socket. They are
// best effort: the first frame the stack sends teaches the network as well.
//
// Costs: a save is a freeze (one request to the helper), one capture per
// socket (a dozen getsockopt calls and a peek of each queue), five netlink
// dumps (links, addresses, IPv4 and IPv6 routes, neighbours) and one write;
// a restore is a stack's creation, a few netlink requests per address and
// route, the sockets made in batches of 64 (one request each), one rebuild
// per socket and a thaw. Beyond 256 sockets the tap's queue is lengthened
// first: every rebuilt connection sends a window probe while the stack is
// still frozen. Figures: bench/migrate.sh (4 ms for one connection, 51 ms
// for 1000).
//
// What is not carried: connections a listener has not accepted yet (accept
// them and pass them along), a TCP socket in any state but established and
// listening (EOPNOTSUPP), DHCP leases' renewal (the addresses are carried;
// the new stack's configuration is static). Bytes a peer sends while the
// stack is in flight are lost on the wire and come again by the peer's
// retransmission (its RTO: 200 ms at least on Linux).
//
// Errors: Error whose what() starts "vde_stack_save(<vnl>)" or
// "vde_stack_restore(<vnl>)". Thread-safety: as the Stack's other members;
// the sockets must not be used by other threads during a save.
#include "client/client.hpp"
#include "client/restore.hpp"
#include "client/stack_state.hpp"
#include "repair/socket_state.hpp"
#include "vdestack/stack.hpp"
#include "wire/stack_image.hpp"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/error.hpp"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace vde {

namespace image = vdestack::wire::image;
namespace repair = vdestack::repair;
using vdestack::fail;
using vdestack::fail_errno;
using vdestack::client::StackState;

namespace {

using SocketRecord = std::variant<image::TcpRecord, image::ListenRecord, image::UdpRecord>;

// e's message without the errno text std::system_error appended (the
// caller puts it back once, with its own context).
std::string context_of(const Error& e) {
    std::string m = e.what();
    const std::string tail = ": " + e.code().message();
    if (m.size() >= tail.size() && m.compare(m.size() - tail.size(), tail.size(), tail) == 0)
        m.resize(m.size() - tail.size());
    return m;
}

// Waits until fd can be read (or written); for fds in non-blocking mode.
void wait_for(int fd, short events, const char* what) {
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) fail_errno(what);
}

void write_all(int fd, std::span<const std::byte> b) {
    for (std::size_t done = 0; done < b.size();) {
        const ssize_t n = ::write(fd, b.data() + done, b.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                wait_for(fd, POLLOUT, "writing the image: poll");
                continue;
            }
            fail_errno("writing the image");
        }
        done += static_cast<std::size_t>(n);
    }
}

// Appends exactly n bytes read from fd to out, in pieces (a hostile header
// does not make us allocate what it claims). EINVAL at an early end.
void read_exactly(int fd, std::vector<std::byte>& out, std::size_t n) {
    constexpr std::size_t kPiece = 1u << 20;
    while (n > 0) {
        const std::size_t at = out.size(), want = std::min(n, kPiece);
        out.resize(at + want);
        const ssize_t r = ::read(fd, out.data() + at, want);
        if (r < 0) {
            out.resize(at);
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                wait_for(fd, POLLIN, "reading the image: poll");
                continue;
            }
            fail_errno("reading the image");
        }
        out.resize(at + static_cast<std::size_t>(r));
        if (r == 0) fail(EINVAL, "a truncated stack image (the file ends inside it)");
        n -= static_cast<std::size_t>(r);
    }
}

std::vector<std::byte> read_image(int fd) {
    std::vector<std::byte> m;
    read_exactly(fd, m, image::kHeader);
    std::string why;
    const std::optional<std::size_t> length = image::ImageView::records_length(m, &why);
    if (!length) fail(EINVAL, why);  // before reading on: not ours, or a newer version
    read_exactly(fd, m, *length);
    return m;
}

std::uint64_t netns_cookie(int fd) {
    std::uint64_t c = 0;
    socklen_t l = sizeof c;
    if (::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &l) != 0) return 0;
    return c;
}

// Refuses, before anything changes, a socket save() cannot carry: one of
// another stack or none (EBADF), one capture() would refuse (EOPNOTSUPP).
void check_socket(int fd, std::size_t i, std::uint64_t cookie) {
    const std::string which = "socket " + std::to_string(i) + " (fd " + std::to_string(fd) + ")";
    int domain = 0;
    socklen_t l = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0) fail(EBADF, which + ": not a socket");
    // 0: a kernel without SO_NETNS_COOKIE (before 5.14): not checked.
    if (cookie != 0 && netns_cookie(fd) != cookie) fail(EBADF, which + " is not one of this stack's");
    try {
        repair::check(fd);
    } catch (const Error& e) {
        throw Error(e.code().value(), which + ": " + context_of(e));
    }
}

// An unsolicited neighbour advertisement (override, to ff02::1) for each
// IPv6 address, from a raw ICMPv6 socket bound to it (the kernel sums it).
// The IPv4 addresses' gratuitous ARPs went out with the link's coming up
// (arp_notify, apply_state). Best effort: never throws.
void announce(const StackState& st, detail::StackCore* core, vdestack::client::NetConf& nc) noexcept {
    std::map<std::string, std::array<std::uint8_t, 6>> macs;
    for (const auto& i : st.interfaces) macs[i.name] = i.mac;
    for (const auto& a : st.addresses) {
        try {
            auto m = macs.find(a.name);
            if (a.family != AF_INET6 || m == macs.end() || m->second == std::array<std::uint8_t, 6>{}) continue;
            const int ifindex = static_cast<int>(nc.index(a.name));
            UniqueFd s(detail::stack_socket(core, AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
            if (!s) continue;
            sockaddr_in6 from{};
            from.sin6_family = AF_INET6;
            std::memcpy(&from.sin6_addr, a.addr.data(), 16);
            if (IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr)) from.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
            if (::bind(s.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) continue;
            const int hops = 255;  // RFC 4861 7.1.2: receivers drop anything else
            (void)::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
            (void)::setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
            std::array<std::byte, 32> p{};
            p[0] = std::byte{ND_NEIGHBOR_ADVERT};
            p[4] = std::byte{0x20};  // override (not solicited, not a router)
            std::memcpy(p.data() + 8, a.addr.data(), 16);
            p[24] = std::byte{ND_OPT_TARGET_LINKADDR};
            p[25] = std::byte{1};
            std::memcpy(p.data() + 26, m->second.data(), 6);
            sockaddr_in6 to{};
            to.sin6_family = AF_INET6;
            ::inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
            to.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
            (void)::sendto(s.get(), p.data(), p.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to);
        } catch (...) {
        }
    }
}

// The sockets a restore's rebuilds take, made beforehand in batches (one
// request to the helper per kMaxSocketBatch sockets instead of one per
// socket: 1000 connections restore in half the time); any other is made on
// demand. Those left over are closed with the pool.
class SocketPool {
public:
    explicit SocketPool(detail::StackCore* core) : core_(core) {}
    void fill(int domain, int type, std::size_t n) {
        if (n == 0) return;
        if (int r = core_->msockets(domain, type, 0, n, pool_[{domain, type}]); r < 0)
            fail(-r, "making the sockets to rebuild");
    }
    int make(int domain, int type, int protocol) {
        auto it = pool_.find({domain, type});
        if (protocol != 0 || it == pool_.end() || it->second.empty())
            return detail::stack_socket(core_, domain, type, protocol);
        const int fd = it->second.back().release();
        it->second.pop_back();
        return fd;
    }

private:
    detail::StackCore* core_;
    std::map<std::pair<int, int>, std::vector<UniqueFd>> pool_;
};

}  // namespace

void Stack::save(std::span<const int> sockets, int fd) {
    if (!core_) throw Error(EBADF, "vde_stack_save: moved-from stack");
    const std::string ctx = "vde_stack_save(" + vnl() + ")";
    try {
        {
            UniqueFd probe(detail::stack_socket(core_.get(), AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
            if (!probe) fail_errno("a socket in the stack");
            const std::uint64_t cookie = netns_cookie(probe.get());
            std::set<int> seen;
            for (std::size_t i = 0; i < sockets.size(); i++) {
                if (!seen.insert(sockets[i]).second)
                    fail(EINVAL, "fd " + std::to_string(sockets[i]) + " given twice");
                check_socket(sockets[i], i, cookie);
            }
        }
        if (int r = core_->freeze(true); r < 0) fail(-r, "freezing the stack");
        std::vector<repair::Captured> caps;
        try {
            caps.reserve(sockets.size());
            for (int s : sockets) caps.push_back(repair::capture(s));
            auto nc = detail::netconf_of(core_.get(), vnl());
            const StackState st = vdestack::client::read_state(nc);
            image::ImageWriter w;
            for (const auto& [name, v] : core_->interfaces()) w.add(image::VnlRecord{name, v});
            for (const auto& r : st.interfaces) w.add(r);
            for (const auto& r : st.addresses) w.add(r);
            for (const auto& r : st.routes) w.add(r);
            for (const auto& r : st.neighbours) w.add(r);
            for (const auto& c : caps) std::visit([&](const auto& r) { w.add(r); }, c.record);
            const std::vector<std::byte> img = w.finish();
            write_all(fd, img);
        } catch (...) {
            for (std::size_t i = 0; i < caps.size(); i++)
                if (std::holds_alternative<image::TcpRecord>(caps[i].record)) repair::release(sockets[i]);
            (void)core_->freeze(false);
            throw;
        }
    } catch (const Error& e) {
        throw Error(e.code().value(), ctx + ": " + context_of(e));
    }
}

Restored Stack::restore(int fd, std::string_view vnl) { return detail::StackAccess::restore(fd, vnl, std::nullopt); }

Restored detail::restore_expecting(int fd, std::string_view vnl, std::size_t sockets) {
    return StackAccess::restore(fd, vnl, sockets);
}

Restored detail::StackAccess::restore(int fd, std::string_view vnl, std::optional<std::size_t> expect) {
    std::string ctx = "vde_stack_restore(" + std::string(vnl) + ")";
    try {
        const std::vector<std::byte> bytes = read_image(fd);
        std::string why;
        const auto view = image::ImageView::parse(bytes, &why);
        if (!view) fail(EINVAL, why);
        std::vector<image::VnlRecord> vnls;
        StackState st;
        std::vector<SocketRecord> socks;
        view->for_each([&](image::RecordType type, std::span<const std::byte> p) {
            // parse() checked every record: the decoders cannot refuse them.
            switch (type) {
            case image::kVnl: vnls.push_back(*image::decode_vnl(p)); break;
            case image::kInterface: st.interfaces.push_back(*image::decode_interface(p)); break;
            case image::kAddress: st.addresses.push_back(*image::decode_address(p)); break;
            case image::kRoute: st.routes.push_back(*image::decode_route(p)); break;
            case image::kNeighbour: st.neighbours.push_back(*image::decode_neighbour(p)); break;
            case image::kTcp: socks.emplace_back(*image::decode_tcp(p)); break;
            case image::kTcpListen: socks.emplace_back(*image::decode_listen(p)); break;
            case image::kUdp: socks.emplace_back(*image::decode_udp(p)); break;
            }
        });
        if (expect && *expect != socks.size())
            fail(ENOSPC, "the image holds " + std::to_string(socks.size()) + " sockets, not " + std::to_string(*expect));
        image::VnlRecord own = vnls.empty() ? image::VnlRecord{"vde0", ""} : vnls.front();
        if (!vnl.empty()) own.vnl = std::string(vnl);
        ctx = "vde_stack_restore(" + own.vnl + ")";
        StackOptions opts;
        opts.ifname = own.name;
        Stack s(own.vnl, opts);
        for (std::size_t i = 1; i < vnls.size(); i++) s.add_interface(vnls[i].vnl, vnls[i].name);
        StackAccess::freeze(s, true);
        auto nc = netconf_of(s.core_.get(), own.vnl);
        vdestack::client::apply_state(st, nc, true);
        // Every rebuilt connection sends a window probe as it goes live, while
        // the stack is still frozen: the tap's queue (500 frames) must hold
        // them all, and the first segments after the thaw, or the kernel
        // drops some, and a lost segment of a restored socket waits for the
        // initial RTO (1 s: its RTT is not carried).
        if (socks.size() > 256)
            for (const auto& i : st.interfaces)
                if (i.mac != std::array<std::uint8_t, 6>{})
                    vdestack::client::set_txqueuelen(i.name, static_cast<std::uint32_t>(2 * socks.size() + 512), nc);
        StackCore* core = s.core_.get();
        SocketPool pool(core);
        std::map<std::pair<int, int>, std::size_t> wanted;  // (family, type) -> how many
        for (const auto& r : socks)
            std::visit(
                [&](const auto& rec) {
                    const int type = std::is_same_v<std::decay_t<decltype(rec)>, image::UdpRecord> ? SOCK_DGRAM : SOCK_STREAM;
                    wanted[{rec.local.family, type | SOCK_CLOEXEC}]++;
                },
                r);
        for (const auto& [key, n] : wanted) pool.fill(key.first, key.second, n);
        const repair::SocketFn make = [&pool](int d, int t, int p) { return pool.make(d, t, p); };
        std::vector<Socket> out(socks.size());
        for (bool listeners : {true, false})
            for (std::size_t i = 0; i < socks.size(); i++)
                if (std::holds_alternative<image::ListenRecord>(socks[i]) == listeners)
                    out[i] = std::visit([&](const auto& r) { return repair::rebuild(r, make); }, socks[i]);
        StackAccess::freeze(s, false);
        announce(st, core, nc);
        return Restored{std::move(s), std::move(out)};
    } catch (const Error& e) {
        throw Error(e.code().value(), ctx + ": " + context_of(e));
    }
}

}  // namespace vde
