// ipv6_clients.cpp - router discovery and the DHCPv6 client (see
// ipv6_clients.hpp).
#include "conf/ipv6_clients.hpp"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "wire/dhcp6.hpp"
#include "wire/dns_name.hpp"

namespace vdestack::conf {

namespace d6 = wire::dhcp6;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::string ip6_str(const Ip6& a) {
    char b[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, a.data(), b, sizeof b);
    return b;
}

Ip6 ip6_of(const std::byte* p) {
    Ip6 a{};
    std::memcpy(a.data(), p, 16);
    return a;
}

// ff02::g7:g8 (its last two 16-bit groups), on ifindex.
sockaddr_in6 multicast(std::uint16_t g7, std::uint16_t g8, std::uint16_t port, unsigned ifindex) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr.s6_addr[0] = 0xff;
    a.sin6_addr.s6_addr[1] = 0x02;
    a.sin6_addr.s6_addr[12] = static_cast<std::uint8_t>(g7 >> 8);
    a.sin6_addr.s6_addr[13] = static_cast<std::uint8_t>(g7);
    a.sin6_addr.s6_addr[14] = static_cast<std::uint8_t>(g8 >> 8);
    a.sin6_addr.s6_addr[15] = static_cast<std::uint8_t>(g8);
    a.sin6_scope_id = ifindex;
    return a;
}

long long ms_until(SteadyTime t) {
    return std::chrono::duration_cast<milliseconds>(t - std::chrono::steady_clock::now()).count();
}

// Sends m to `to`; while the stack has no source address yet (a tentative
// link-local one), tries again every 100 ms until `deadline`: false then.
bool send_when_possible(NetOps& ops, int fd, std::span<const std::byte> m, const sockaddr_in6& to,
                        SteadyTime deadline, const std::string& what) {
    for (;;) {
        if (ops.sendto(fd, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) >= 0) return true;
        if (errno != EADDRNOTAVAIL && errno != ENETUNREACH && errno != EAGAIN && errno != ENOBUFS)
            fail_errno(what + ": sendto");
        if (ms_until(deadline) <= 100) return false;
        ::usleep(100000);
    }
}

// One datagram by `until` into buf (its length), and where it came from;
// nullopt at `until`.
std::optional<std::size_t> recv_until(NetOps& ops, int fd, std::span<std::byte> buf, SteadyTime until,
                                      sockaddr_in6& from, const std::string& what) {
    for (;;) {
        const long long left = ms_until(until);
        if (left <= 0) return std::nullopt;
        const int r = ops.wait_readable(fd, static_cast<int>(std::min<long long>(left, 1000)));
        if (r < 0) fail_errno(what + ": poll");
        if (r == 0) continue;
        socklen_t len = sizeof from;
        const ssize_t n =
            ops.recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            fail_errno(what + ": recvfrom");
        }
        return static_cast<std::size_t>(n);
    }
}

void set_multicast_if(NetOps& ops, int fd, unsigned ifindex) {
    const int i = static_cast<int>(ifindex);
    ops.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &i, sizeof i);
}

}  // namespace

// ---- router discovery ------------------------------------------------------

std::optional<RouterInfo> RouterInfo::of(std::span<const std::byte> ra, const Ip6& from) {
    auto v = wire::ndp::RaView::parse(ra);
    if (!v) return std::nullopt;
    RouterInfo info;
    info.router = from;
    info.lifetime = v->router_lifetime();
    info.flags = v->flags();
    v->for_each_prefix([&](const wire::ndp::PrefixInfo& p) { info.prefixes.push_back(p); });
    v->for_each_rdnss([&](const Ip6& a) {
        if (std::find(info.dns.begin(), info.dns.end(), a) == info.dns.end()) info.dns.push_back(a);
    });
    v->for_each_dnssl([&](std::span<const std::byte> names) {
        if (auto n = wire::decode_names(names, false))
            for (auto& d : *n)
                if (std::find(info.domains.begin(), info.domains.end(), d) == info.domains.end())
                    info.domains.push_back(std::move(d));
    });
    return info;
}

Rd6Client::Rd6Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac)
    : ops_(ops), ifindex_(ifindex), ifname_(std::move(ifname)), mac_(mac) {}

RouterInfo Rd6Client::discover(SteadyTime deadline) {
    const std::string what = "rd on " + ifname_;
    const SteadyTime begin = std::chrono::steady_clock::now();
    OpsFd s(ops_, ops_.socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
    if (!s) fail_errno(what + ": socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)");
    icmp6_filter filter{};
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
    ops_.setsockopt(s.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);  // best effort
    const int hops = 255;  // RFC 4861 6.1.1: receivers drop NDP messages with another
    ops_.setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    set_multicast_if(ops_, s.get(), ifindex_);
    const sockaddr_in6 all_routers = multicast(0, 2, 0, ifindex_);  // ff02::2
    const auto rs = wire::ndp::router_solicit(mac_);

    std::array<std::byte, 2048> buf{};
    auto wait = seconds(1);
    SteadyTime next_send = begin;
    for (;;) {
        const SteadyTime now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        if (now >= next_send) {
            if (!send_when_possible(ops_, s.get(), rs, all_routers, deadline, what)) break;
            next_send = std::chrono::steady_clock::now() + wait;
            wait = std::min(wait * 2, seconds(4));
        }
        sockaddr_in6 from{};
        auto n = recv_until(ops_, s.get(), buf, std::min(next_send, deadline), from, what);
        if (!n) continue;
        if (from.sin6_scope_id != 0 && from.sin6_scope_id != ifindex_) continue;  // another interface's
        // RFC 4861 6.1.2: an RA must come from a link-local address.
        if (from.sin6_addr.s6_addr[0] != 0xfe || (from.sin6_addr.s6_addr[1] & 0xc0) != 0x80) continue;
        Ip6 router{};
        std::memcpy(router.data(), from.sin6_addr.s6_addr, 16);
        if (auto info = RouterInfo::of(std::span<const std::byte>(buf.data(), *n), router)) return *info;
    }
    const auto waited = std::chrono::round<seconds>(std::chrono::steady_clock::now() - begin).count();
    fail(ETIMEDOUT, what + ": no router advertised in " + std::to_string(waited) + " s");
}

// ---- DHCPv6 ----------------------------------------------------------------

SteadyTime Dhcp6Lease::t1() const {
    return start + seconds(t1_s != 0 ? t1_s : preferred_s / 2);
}
SteadyTime Dhcp6Lease::t2() const {
    return start + seconds(t2_s != 0 ? t2_s : static_cast<std::uint32_t>(preferred_s * 0.8));
}

std::string Dhcp6Lease::str() const {
    std::string s = "ip=" + ip6_str(addr) + "/128";
    for (const Ip6& d : dns) s += ",dns=" + ip6_str(d);
    for (const std::string& d : domains) s += ",domain=" + d;
    s += ",valid=" + std::to_string(valid_s) + ",t1=" + std::to_string(t1_s) + ",t2=" + std::to_string(t2_s);
    return s;
}

// The client's UDP socket for one exchange.
class Dhcp6Client::Link {
public:
    Link(NetOps& ops, unsigned ifindex, const std::string& what)
        : fd(ops, ops.socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (!fd) fail_errno(what + ": socket(AF_INET6)");
        const int one = 1;
        ops.setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(d6::kClientPort);
        if (ops.bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
            fail_errno(what + ": bind([::]:546)");
        set_multicast_if(ops, fd.get(), ifindex);
    }
    OpsFd fd;
};

Dhcp6Client::Dhcp6Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac, std::string fqdn)
    : ops_(ops), ifindex_(ifindex), ifname_(std::move(ifname)), mac_(mac), fqdn_(std::move(fqdn)) {
    duid_ = {std::byte{0}, std::byte{3}, std::byte{0}, std::byte{1}};  // DUID-LL, Ethernet
    for (auto b : mac_) duid_.push_back(std::byte{b});
    iaid_ = (std::uint32_t{mac_[2]} << 24) | (std::uint32_t{mac_[3]} << 16) | (std::uint32_t{mac_[4]} << 8) | mac_[5];
    if (::getrandom(&xid_state_, sizeof xid_state_, 0) != sizeof xid_state_)
        xid_state_ = static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::vector<std::byte> Dhcp6Client::message(std::uint8_t type, std::uint32_t xid, const Dhcp6Lease* lease,
                                            bool with_server, std::uint16_t elapsed_cs) const {
    d6::Dhcp6Builder b(type, xid & 0xffffff);
    b.add(d6::kClientId, duid_);
    if (with_server && lease != nullptr) b.add(d6::kServerId, lease->server_id);
    std::array<std::byte, 4> oro{};
    wire::put_be16(oro.data(), d6::kDnsServers);
    wire::put_be16(oro.data() + 2, d6::kDomainList);
    if (type != d6::kRelease) b.add(d6::kOro, oro);
    b.add_u16(d6::kElapsedTime, elapsed_cs);
    if (!fqdn_.empty() && type != d6::kRelease) {
        std::vector<std::byte> f{std::byte{0}};  // flags: the client updates its AAAA (as upstream)
        const auto name = wire::encode_name(fqdn_);
        f.insert(f.end(), name.begin(), name.end());
        if (!name.empty()) b.add(d6::kClientFqdn, f);
    }
    std::array<std::byte, 12> ia{};  // IAID, T1 = T2 = 0: the server's choice
    wire::put_be32(ia.data(), iaid_);
    b.begin(d6::kIaNa, ia);
    if (lease != nullptr) {
        std::array<std::byte, 24> a{};  // the address, lifetimes 0 (RFC 8415 18.2.4)
        std::memcpy(a.data(), lease->addr.data(), 16);
        b.add(d6::kIaAddr, a);
    }
    b.end();
    const auto bytes = b.bytes();
    return {bytes.begin(), bytes.end()};
}

std::optional<Dhcp6Lease> Dhcp6Client::lease_of(std::span<const std::byte> msg, std::span<const std::byte> duid,
                                                std::uint32_t iaid, SteadyTime start) {
    auto m = d6::Dhcp6View::parse(msg);
    if (!m) return std::nullopt;
    const auto& o = m->options();
    auto client = o.find(d6::kClientId);
    auto server = o.find(d6::kServerId);
    if (!client || !std::equal(client->begin(), client->end(), duid.begin(), duid.end()) || !server ||
        server->empty())
        return std::nullopt;
    if (o.status() != d6::kStatusSuccess) return std::nullopt;
    Dhcp6Lease l;
    l.start = start;
    l.server_id.assign(server->begin(), server->end());
    bool got = false;
    o.for_each([&](std::uint16_t code, std::span<const std::byte> v) {
        if (got || code != d6::kIaNa) return;
        auto ia = d6::IaNa::parse(v);
        if (!ia || ia->iaid != iaid || ia->options.status() != d6::kStatusSuccess) return;
        ia->options.for_each([&](std::uint16_t c, std::span<const std::byte> av) {
            if (got || c != d6::kIaAddr) return;
            auto a = d6::IaAddr::parse(av);
            if (!a || a->valid == 0 || a->options.status() != d6::kStatusSuccess) return;
            l.addr = a->addr;
            l.preferred_s = a->preferred;
            l.valid_s = a->valid;
            l.t1_s = ia->t1;
            l.t2_s = ia->t2;
            got = true;
        });
    });
    if (!got) return std::nullopt;
    if (auto d = o.find(d6::kDnsServers); d && d->size() % 16 == 0)
        for (std::size_t i = 0; i < d->size(); i += 16) l.dns.push_back(ip6_of(d->data() + i));
    if (auto d = o.find(d6::kDomainList))
        if (auto names = wire::decode_names(*d, false)) l.domains = std::move(*names);
    return l;
}

std::optional<Dhcp6Lease> Dhcp6Client::exchange(Link& link, std::uint8_t type, const Dhcp6Lease* lease,
                                                bool with_server, SteadyTime deadline, bool* refused) {
    const std::string what = "dhcp6 on " + ifname_;
    xid_state_ = xid_state_ * 1664525u + 1013904223u;
    const std::uint32_t xid = xid_state_ & 0xffffff;
    const std::uint8_t expect = type == d6::kSolicit ? d6::kAdvertise : d6::kReply;
    const sockaddr_in6 servers = multicast(1, 2, d6::kServerPort, ifindex_);
    const SteadyTime begin = std::chrono::steady_clock::now();
    std::array<std::byte, 2048> buf{};
    auto wait = seconds(1);
    SteadyTime next_send = begin;
    for (;;) {
        const SteadyTime now = std::chrono::steady_clock::now();
        if (now >= deadline) return std::nullopt;
        if (now >= next_send) {
            const auto cs = std::chrono::duration_cast<milliseconds>(now - begin).count() / 10;
            const auto m = message(type, xid, lease, with_server, static_cast<std::uint16_t>(std::min<long long>(cs, 0xffff)));
            if (!send_when_possible(ops_, link.fd.get(), m, servers, deadline, what)) return std::nullopt;
            next_send = std::chrono::steady_clock::now() + wait;
            wait = std::min(wait * 2, seconds(16));
        }
        sockaddr_in6 from{};
        auto n = recv_until(ops_, link.fd.get(), buf, std::min(next_send, deadline), from, what);
        if (!n) continue;
        const std::span<const std::byte> msg(buf.data(), *n);
        auto v = d6::Dhcp6View::parse(msg);
        if (!v || v->type() != expect || v->xid() != xid) continue;
        auto client = v->options().find(d6::kClientId);
        if (!client || !std::equal(client->begin(), client->end(), duid_.begin(), duid_.end())) continue;
        if (auto l = lease_of(msg, duid_, iaid_, begin)) return l;
        if (expect == d6::kReply && refused != nullptr) {  // ours, and no address in it: refused
            *refused = true;
            return std::nullopt;
        }
    }
}

Dhcp6Lease Dhcp6Client::acquire(SteadyTime deadline) {
    const SteadyTime begin = std::chrono::steady_clock::now();
    for (;;) {
        Link link(ops_, ifindex_, "dhcp6 on " + ifname_);
        auto offer = exchange(link, d6::kSolicit, nullptr, false, deadline, nullptr);
        if (!offer) break;
        bool refused = false;
        if (auto l = exchange(link, d6::kRequest, &*offer, true, deadline, &refused)) return *l;
        if (!refused) break;  // the deadline
    }
    const auto waited = std::chrono::round<seconds>(std::chrono::steady_clock::now() - begin).count();
    fail(ETIMEDOUT, "dhcp6 on " + ifname_ + ": no DHCPv6 server answered in " + std::to_string(waited) + " s");
}

Dhcp6Client::Renewal Dhcp6Client::renew(Dhcp6Lease& lease, bool rebinding, SteadyTime deadline) {
    Link link(ops_, ifindex_, "dhcp6 on " + ifname_);
    bool refused = false;
    auto l = exchange(link, rebinding ? d6::kRebind : d6::kRenew, &lease, !rebinding, deadline, &refused);
    if (l) {
        lease = *l;
        return Renewal::kAck;
    }
    return refused ? Renewal::kNak : Renewal::kSilence;
}

void Dhcp6Client::release(const Dhcp6Lease& lease) {
    try {
        Link link(ops_, ifindex_, "dhcp6 on " + ifname_);
        xid_state_ = xid_state_ * 1664525u + 1013904223u;
        const auto m = message(d6::kRelease, xid_state_, &lease, true, 0);
        const sockaddr_in6 servers = multicast(1, 2, d6::kServerPort, ifindex_);
        ops_.sendto(link.fd.get(), m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&servers), sizeof servers);
    } catch (const Error&) {
        // best effort, as DHCPv4's
    }
}

}  // namespace vdestack::conf
