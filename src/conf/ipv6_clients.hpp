// ipv6_clients.hpp - our IPv6 configuration clients over any stack
// (conf/netops.hpp): router discovery (RFC 4861 6.3.7) and a DHCPv6 client
// for one non-temporary address (RFC 8415, with the DNS options of RFC
// 3646 and the client FQDN of RFC 4704).
//
// Theory of operation
// -------------------
// Both are synchronous and bounded, as the DHCPv4 client: each call returns,
// or throws, by its deadline. Right after an interface comes up its
// link-local address is still tentative (duplicate address detection, ~1 s):
// a send that the stack refuses for want of a source address (EADDRNOTAVAIL,
// ENETUNREACH) is tried again every 100 ms until the deadline.
//
// Rd6Client::discover(): a raw ICMPv6 socket that lets only Router
// Advertisements in (ICMP6_FILTER), a Router Solicitation to ff02::2 with our
// link-layer address, repeated after 1, 2, 4 s; the first RA that arrives on
// this interface (its source's scope) from a link-local address (RFC 4861
// 6.1.2) and parses (wire::ndp::RaView) is the answer: its router,
// prefixes, RDNSS and DNSSL.
//
// Dhcp6Client: a UDP socket bound to [::]:546; messages to ff02::1:2 port
// 547 on this interface, retransmitted after 1, 2, 4, ... s (RFC 8415 15,
// without the random part). acquire(): SOLICIT, the first ADVERTISE that
// offers an address, REQUEST, REPLY. renew(): RENEW to the server (or
// REBIND to any, without its id), REPLY. Our identity: DUID-LL of the MAC
// (stable across runs, unlike upstream's DUID-LLT), IAID = MAC bytes 2..5 as
// upstream. A reply counts only with our transaction id and our client id.
//
// Errors: vdestack::Error with ETIMEDOUT ("no router advertised on vde0 in
// 3 s"), or the errno of a failed socket call. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conf/dhcp4_client.hpp"
#include "conf/netops.hpp"
#include "wire/ndp.hpp"

namespace vdestack::conf {

using Ip6 = std::array<std::uint8_t, 16>;

// What one Router Advertisement says.
struct RouterInfo {
    Ip6 router{};                 // its link-local source
    std::uint16_t lifetime = 0;   // as default router, s (0: not one)
    std::uint8_t flags = 0;       // M, O
    std::vector<wire::ndp::PrefixInfo> prefixes;
    std::vector<Ip6> dns;
    std::vector<std::string> domains;
    // The RA's data, nullopt if it is none.
    static std::optional<RouterInfo> of(std::span<const std::byte> ra, const Ip6& from);
};

class Rd6Client {
public:
    Rd6Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac);
    RouterInfo discover(SteadyTime deadline);

private:
    NetOps& ops_;
    unsigned ifindex_;
    std::string ifname_;
    Mac mac_;
};

struct Dhcp6Lease {
    Ip6 addr{};
    std::uint32_t preferred_s = 0, valid_s = 0, t1_s = 0, t2_s = 0;
    std::vector<std::byte> server_id;
    std::vector<Ip6> dns;
    std::vector<std::string> domains;
    SteadyTime start{};
    bool operator==(const Dhcp6Lease&) const = default;

    // T1/T2 0 mean the client's choice: 0.5 and 0.8 of the preferred lifetime.
    [[nodiscard]] SteadyTime t1() const;
    [[nodiscard]] SteadyTime t2() const;
    [[nodiscard]] SteadyTime expiry() const { return start + std::chrono::seconds(valid_s); }
    // "ip=fc00::1:55/128,dns=fc00::1:1,domain=test.lan,valid=120,t1=60,t2=96"
    [[nodiscard]] std::string str() const;
};

class Dhcp6Client {
public:
    Dhcp6Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac, std::string fqdn);
    Dhcp6Lease acquire(SteadyTime deadline);
    using Renewal = Dhcp4Client::Renewal;
    // kAck: the lease renewed (updated); kNak: the server refused it.
    Renewal renew(Dhcp6Lease& lease, bool rebinding, SteadyTime deadline);
    void release(const Dhcp6Lease& lease);

    // The lease a REPLY (or ADVERTISE) gives client `duid` (for tests:
    // nullopt when it carries no address for our IAID).
    static std::optional<Dhcp6Lease> lease_of(std::span<const std::byte> msg, std::span<const std::byte> duid,
                                              std::uint32_t iaid, SteadyTime start);

private:
    class Link;
    std::vector<std::byte> message(std::uint8_t type, std::uint32_t xid, const Dhcp6Lease* lease,
                                   bool with_server, std::uint16_t elapsed_cs) const;
    std::optional<Dhcp6Lease> exchange(Link& link, std::uint8_t type, const Dhcp6Lease* lease, bool with_server,
                                       SteadyTime deadline, bool* refused);

    NetOps& ops_;
    unsigned ifindex_;
    std::string ifname_;
    Mac mac_;
    std::string fqdn_;
    std::vector<std::byte> duid_;
    std::uint32_t iaid_;
    std::uint32_t xid_state_;
};

}  // namespace vdestack::conf
