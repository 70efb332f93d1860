// dhcp4_client.cpp - the DHCPv4 client (see dhcp4_client.hpp).
#include "conf/dhcp4_client.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "frame/offload.hpp"
#include "wire/dhcp4.hpp"
#include "wire/dns_name.hpp"
#include "wire/ip.hpp"
#include "wire/l4.hpp"

namespace vdestack::conf {

namespace dhcp = wire::dhcp4;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Ip4 kAny{0, 0, 0, 0};
constexpr Ip4 kAllOnes{255, 255, 255, 255};
constexpr std::size_t kIpUdp = 20 + 8;

std::string ip_str(const Ip4& a) {
    char b[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, a.data(), b, sizeof b);
    return b;
}

Ip4 ip_of(std::span<const std::byte> b) {
    Ip4 a{};
    std::memcpy(a.data(), b.data(), 4);
    return a;
}

int prefix_of(std::span<const std::byte> mask) {
    const std::uint32_t m = wire::be32(mask.data());
    int n = 0;
    while (n < 32 && (m & (0x80000000u >> n)) != 0) n++;
    return n;
}

std::uint16_t checksum(std::uint64_t sum) { return static_cast<std::uint16_t>(~frame::csum_fold(sum)); }

}  // namespace

std::string Dhcp4Lease::str() const {
    std::string s = "ip=" + ip_str(addr) + "/" + std::to_string(prefix);
    for (const Ip4& r : routers) s += ",gw=" + ip_str(r);
    for (const Ip4& d : dns) s += ",dns=" + ip_str(d);
    for (const std::string& d : domains) s += ",domain=" + d;
    s += ",server=" + ip_str(server) + ",lease=" + std::to_string(lease_s) + ",t1=" + std::to_string(t1_s) +
         ",t2=" + std::to_string(t2_s);
    return s;
}

// The interface's packet socket (and the port-68 UDP socket beside it) for
// one exchange.
class Dhcp4Client::Link {
public:
    Link(NetOps& ops, unsigned ifindex, const std::string& ifname)
        : ops_(ops), ifindex_(ifindex), ifname_(ifname),
          // Protocol 0, then bound to ETH_P_IP: a packet socket made with its
          // protocol hooks in at once, and its bind() then waits for an RCU
          // grace period to unhook it again (~10 ms on every exchange).
          pkt_(ops, ops.socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
          udp_(ops, ops.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (!pkt_) fail_errno("dhcp on " + ifname + ": socket(AF_PACKET)");
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_ifindex = static_cast<int>(ifindex);
        if (ops.bind(pkt_.get(), reinterpret_cast<const sockaddr*>(&ll), sizeof ll) != 0)
            fail_errno("dhcp on " + ifname + ": bind(AF_PACKET)");
        if (udp_) {  // best effort: only keeps the stack from sending port unreachables
            const int one = 1;
            ops.setsockopt(udp_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in in{};
            in.sin_family = AF_INET;
            in.sin_port = htons(dhcp::kClientPort);
            ops.bind(udp_.get(), reinterpret_cast<const sockaddr*>(&in), sizeof in);
        }
    }

    // Sends a DHCP message from src:68 to dst:67 in an IPv4 packet to dst_mac.
    void send(std::span<const std::byte> msg, const Ip4& src, const Ip4& dst, const Mac& dst_mac) {
        std::array<std::byte, kIpUdp + dhcp::Dhcp4Builder::kMax> p{};
        const std::size_t total = kIpUdp + msg.size();
        std::byte* ip = p.data();
        ip[0] = std::byte{0x45};
        wire::put_be16(ip + 2, total);
        ip[8] = std::byte{64};
        ip[9] = std::byte{17};
        std::memcpy(ip + 12, src.data(), 4);
        std::memcpy(ip + 16, dst.data(), 4);
        const std::uint16_t ipsum = checksum(frame::csum_add(0, ip, 20));
        std::memcpy(ip + 10, &ipsum, 2);
        std::byte* udp = ip + 20;
        wire::put_be16(udp, dhcp::kClientPort);
        wire::put_be16(udp + 2, dhcp::kServerPort);
        wire::put_be16(udp + 4, 8 + msg.size());
        std::memcpy(udp + 8, msg.data(), msg.size());
        // Pseudo header: the addresses, protocol, UDP length.
        std::array<std::byte, 4> tail{};
        tail[1] = std::byte{17};
        wire::put_be16(tail.data() + 2, 8 + msg.size());
        std::uint64_t sum = frame::csum_add(0, ip + 12, 8);
        sum = frame::csum_add(sum, tail.data(), 4);
        sum = frame::csum_add(sum, udp, 8 + msg.size());
        std::uint16_t usum = checksum(sum);
        if (usum == 0) usum = 0xffff;
        std::memcpy(udp + 6, &usum, 2);

        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_protocol = htons(ETH_P_IP);
        to.sll_ifindex = static_cast<int>(ifindex_);
        to.sll_halen = 6;
        std::memcpy(to.sll_addr, dst_mac.data(), 6);
        if (ops_.sendto(pkt_.get(), p.data(), total, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
            fail_errno("dhcp on " + ifname_ + ": sendto");
    }

    // The next DHCP reply for xid/mac by `until` (its bytes in buf_), and the
    // MAC it came from; nullopt at `until`.
    std::optional<dhcp::Dhcp4View> recv(std::uint32_t xid, const Mac& mac, SteadyTime until, Mac* from) {
        for (;;) {
            const auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            const int r = ops_.wait_readable(pkt_.get(), static_cast<int>(std::min<long long>(left.count(), 1000)));
            if (r < 0) fail_errno("dhcp on " + ifname_ + ": poll");
            if (r == 0) continue;
            sockaddr_ll ll{};
            socklen_t ll_len = sizeof ll;
            const ssize_t n = ops_.recvfrom(pkt_.get(), buf_.data(), buf_.size(), MSG_DONTWAIT,
                                            reinterpret_cast<sockaddr*>(&ll), &ll_len);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail_errno("dhcp on " + ifname_ + ": recvfrom");
            }
            if (ll.sll_pkttype == PACKET_OUTGOING) continue;
            auto ip = wire::Ipv4View::parse(std::span<const std::byte>(buf_.data(), static_cast<std::size_t>(n)));
            if (!ip || ip->protocol() != 17 || ip->is_fragment()) continue;
            if (frame::csum_fold(frame::csum_add(0, ip->header().data(), ip->header_len())) != 0xffff) continue;
            auto udp = wire::UdpView::parse(ip->payload());
            if (!udp || udp->dst_port() != dhcp::kClientPort || udp->src_port() != dhcp::kServerPort) continue;
            auto m = dhcp::Dhcp4View::parse(udp->payload());
            if (!m || m->op() != dhcp::kBootReply || m->xid() != xid) continue;
            if (std::memcmp(m->chaddr().data(), mac.data(), 6) != 0) continue;
            if (from != nullptr) std::memcpy(from->data(), ll.sll_addr, 6);
            return m;
        }
    }

private:
    NetOps& ops_;
    unsigned ifindex_;
    const std::string& ifname_;
    OpsFd pkt_, udp_;
    std::array<std::byte, 2048> buf_{};
};

Dhcp4Client::Dhcp4Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac, std::string fqdn)
    : ops_(ops), ifindex_(ifindex), ifname_(std::move(ifname)), mac_(mac), fqdn_(std::move(fqdn)) {
    if (::getrandom(&xid_state_, sizeof xid_state_, 0) != sizeof xid_state_)
        xid_state_ = static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::uint32_t Dhcp4Client::new_xid() {
    xid_state_ = xid_state_ * 1664525u + 1013904223u;  // distinct xids in a row; randomness from the seed
    return xid_state_;
}

std::optional<Dhcp4Lease> Dhcp4Client::lease_of(std::span<const std::byte> msg, SteadyTime start) {
    auto m = dhcp::Dhcp4View::parse(msg);
    if (!m || m->message_type() != dhcp::kAck) return std::nullopt;
    Dhcp4Lease l;
    l.addr = ip_of(m->yiaddr());
    if (l.addr == kAny) return std::nullopt;
    l.start = start;
    if (auto o = m->option(dhcp::kSubnetMask); o && o->size() == 4) l.prefix = prefix_of(*o);
    if (l.prefix == 0) l.prefix = 24;
    if (auto o = m->option(dhcp::kServerId); o && o->size() == 4) l.server = ip_of(*o);
    for (auto code : {dhcp::kRouter, dhcp::kDnsServer}) {
        if (auto o = m->option(code); o && !o->empty() && o->size() % 4 == 0)
            for (std::size_t i = 0; i < o->size(); i += 4)
                (code == dhcp::kRouter ? l.routers : l.dns).push_back(ip_of(o->subspan(i, 4)));
    }
    if (auto o = m->option(dhcp::kDomainName); o && !o->empty()) {
        std::string d(reinterpret_cast<const char*>(o->data()), o->size());
        d.erase(std::find(d.begin(), d.end(), '\0'), d.end());
        if (!d.empty()) l.domains.push_back(d);
    }
    if (auto o = m->option(dhcp::kDomainSearch))
        if (auto names = wire::decode_names(*o, true))
            for (auto& n : *names)
                if (std::find(l.domains.begin(), l.domains.end(), n) == l.domains.end()) l.domains.push_back(n);
    l.lease_s = m->u32_option(dhcp::kLeaseTime).value_or(0xffffffffu);
    const std::uint32_t lease = l.lease_s;
    l.t1_s = m->u32_option(dhcp::kRenewalT1).value_or(lease / 2);
    l.t2_s = m->u32_option(dhcp::kRebindT2).value_or(static_cast<std::uint32_t>(lease / 8ull * 7));
    if (l.t2_s > lease) l.t2_s = lease;
    if (l.t1_s > l.t2_s) l.t1_s = l.t2_s;
    return l;
}

namespace {

// The options every request of ours carries.
void common_options(dhcp::Dhcp4Builder& b, const Mac& mac, const std::string& fqdn) {
    std::array<std::byte, 7> cid{std::byte{1}};
    std::memcpy(cid.data() + 1, mac.data(), 6);
    b.add(dhcp::kClientId, cid);
    const std::uint8_t params[] = {dhcp::kSubnetMask, dhcp::kRouter,  dhcp::kDnsServer, dhcp::kDomainName,
                                   dhcp::kBroadcast,  dhcp::kLeaseTime, dhcp::kRenewalT1, dhcp::kRebindT2,
                                   dhcp::kDomainSearch};
    b.add(dhcp::kParamList, std::as_bytes(std::span(params)));
    std::array<std::byte, 2> max{};
    wire::put_be16(max.data(), 1500 - kIpUdp);
    b.add(dhcp::kMaxSize, max);
    if (!fqdn.empty()) {
        const std::string host = fqdn.substr(0, fqdn.find('.'));
        b.add(dhcp::kHostName, std::as_bytes(std::span(host.data(), host.size())));
        const std::vector<std::byte> wire_name = wire::encode_name(fqdn);
        if (!wire_name.empty() && wire_name.size() <= 252) {
            std::vector<std::byte> v{std::byte{0x05}, std::byte{0}, std::byte{0}};  // S|E: server updates, wire format
            v.insert(v.end(), wire_name.begin(), wire_name.end());
            b.add(dhcp::kClientFqdn, v);
        }
    }
}

}  // namespace

Dhcp4Lease Dhcp4Client::acquire(SteadyTime deadline) {
    Link link(ops_, ifindex_, ifname_);
    const SteadyTime begin = std::chrono::steady_clock::now();
    auto secs = [&] {
        return static_cast<std::uint16_t>(
            std::min<long long>(0xffff, std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - begin).count()));
    };
    while (std::chrono::steady_clock::now() < deadline) {
        // SELECTING: DISCOVER until an OFFER.
        const std::uint32_t xid = new_xid();
        std::optional<Ip4> offered, server;
        auto wait = seconds(1);
        while (!offered && std::chrono::steady_clock::now() < deadline) {
            dhcp::Dhcp4Builder b(dhcp::kDiscover, xid, mac_, secs(), true);
            common_options(b, mac_, fqdn_);
            link.send(b.finish(), kAny, kAllOnes, kBroadcastMac);
            const SteadyTime until = std::min(deadline, std::chrono::steady_clock::now() + wait);
            while (auto m = link.recv(xid, mac_, until, nullptr)) {
                auto sid = m->option(dhcp::kServerId);
                if (m->message_type() != dhcp::kOffer || !sid || sid->size() != 4) continue;
                offered = ip_of(m->yiaddr());
                server = ip_of(*sid);
                break;
            }
            wait = std::min(wait * 2, seconds(16));
        }
        if (!offered) break;
        // REQUESTING: REQUEST until the ACK (or a NAK: start over).
        wait = seconds(1);
        for (int tries = 0; tries < 4 && std::chrono::steady_clock::now() < deadline; tries++) {
            const SteadyTime sent = std::chrono::steady_clock::now();
            dhcp::Dhcp4Builder b(dhcp::kRequest, xid, mac_, secs(), true);
            common_options(b, mac_, fqdn_);
            b.add_ip(dhcp::kRequestedIp, *offered);
            b.add_ip(dhcp::kServerId, *server);
            link.send(b.finish(), kAny, kAllOnes, kBroadcastMac);
            const SteadyTime until = std::min(deadline, sent + wait);
            Mac from{};
            while (auto m = link.recv(xid, mac_, until, &from)) {
                const std::uint8_t type = m->message_type();
                auto sid = m->option(dhcp::kServerId);
                if (sid && sid->size() == 4 && ip_of(*sid) != *server) continue;  // another server's
                if (type == dhcp::kNak) goto start_over;
                if (type != dhcp::kAck) continue;
                if (auto lease = lease_of(m->bytes(), sent)) {
                    if (lease->server == kAny) lease->server = *server;
                    lease->server_mac = from;
                    return *lease;
                }
            }
            wait = std::min(wait * 2, seconds(16));
        }
    start_over:;
    }
    // Rounded: the bound is the caller's whole seconds, a little less is spent.
    const auto waited =
        std::chrono::round<seconds>(std::chrono::steady_clock::now() - begin).count();
    fail(ETIMEDOUT, "dhcp on " + ifname_ + ": no DHCP server answered in " + std::to_string(waited) + " s");
}

Dhcp4Client::Renewal Dhcp4Client::renew(Dhcp4Lease& lease, bool rebinding, SteadyTime deadline) {
    Link link(ops_, ifindex_, ifname_);
    const std::uint32_t xid = new_xid();
    auto wait = seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        const SteadyTime sent = std::chrono::steady_clock::now();
        dhcp::Dhcp4Builder b(dhcp::kRequest, xid, mac_, 0, false);
        b.set_ciaddr(lease.addr);
        common_options(b, mac_, fqdn_);
        if (rebinding)
            link.send(b.finish(), lease.addr, kAllOnes, kBroadcastMac);
        else
            link.send(b.finish(), lease.addr, lease.server, lease.server_mac);
        const SteadyTime until = std::min(deadline, sent + wait);
        Mac from{};
        while (auto m = link.recv(xid, mac_, until, &from)) {
            const std::uint8_t type = m->message_type();
            if (type == dhcp::kNak) return Renewal::kNak;
            if (type != dhcp::kAck) continue;
            auto fresh = lease_of(m->bytes(), sent);
            if (!fresh || fresh->addr != lease.addr) return Renewal::kNak;
            if (fresh->server == kAny) fresh->server = lease.server;
            fresh->server_mac = from;
            lease = *fresh;
            return Renewal::kAck;
        }
        wait = std::min(wait * 2, seconds(16));
    }
    return Renewal::kSilence;
}

void Dhcp4Client::release(const Dhcp4Lease& lease) {
    // Straight to the server's MAC (RFC 2131 4.4.6: unicast): no ARP, whose
    // queue the stack would drop when the address goes right after.
    try {
        Link link(ops_, ifindex_, ifname_);
        dhcp::Dhcp4Builder b(dhcp::kRelease, new_xid(), mac_, 0, false);
        b.set_ciaddr(lease.addr);
        b.add_ip(dhcp::kServerId, lease.server);
        link.send(b.finish(), lease.addr, lease.server, lease.server_mac);
    } catch (const Error&) {
        // best effort: the server's lease runs out on its own
    }
}

}  // namespace vdestack::conf
