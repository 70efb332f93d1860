// dhcp4_client.hpp - our DHCPv4 client (RFC 2131): getting a lease, and
// renewing or rebinding it, over any stack (conf/netops.hpp).
//
// Theory of operation
// -------------------
// The exchanges are synchronous and bounded: each call returns, or throws,
// by its deadline. Messages go out and come in through one AF_PACKET
// SOCK_DGRAM socket (ETH_P_IP) bound to the interface, so they work before
// the interface has an address: we write the IPv4 and UDP headers
// ourselves, broadcast (source 0.0.0.0, or our address when rebinding) or
// unicast to the server's MAC and address when renewing. Received packets
// are read through the checked views (Ipv4View, UdpView, Dhcp4View): only a
// BOOTREPLY to port 68 with our xid and our MAC counts; anything else is
// skipped. A UDP socket bound to port 68 lives beside it while the exchange
// runs, so that the stack does not answer a unicast reply with an ICMP
// port unreachable.
//
// acquire(): DISCOVER, retransmitted after 1, 2, 4, ... s (RFC 2131 4.1,
// without the random part), until an OFFER; REQUEST for it (server id and
// requested address), retransmitted alike, until its ACK; a NAK or a
// silence of the chosen server starts over with a new xid. renew():
// REQUEST with ciaddr, unicast to the server (RENEWING) or broadcast
// (REBINDING), until an ACK (the lease is updated) or a NAK (it is lost).
// The lease's times come from options 51, 58 and 59 (T1, T2 default to
// 1/2 and 7/8 of the lease, RFC 2131 4.4.5).
//
// Errors: vdestack::Error with ETIMEDOUT ("no DHCP server answered on
// vde0 in 10 s"), or the errno of a failed socket call. Not thread-safe:
// one client per thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conf/netops.hpp"

namespace vdestack::conf {

using Mac = std::array<std::uint8_t, 6>;
using Ip4 = std::array<std::uint8_t, 4>;
using SteadyTime = std::chrono::steady_clock::time_point;

struct Dhcp4Lease {
    Ip4 addr{};
    int prefix = 24;
    Ip4 server{};             // option 54
    Mac server_mac{};         // where unicast renewals go
    std::vector<Ip4> routers;
    std::vector<Ip4> dns;
    std::vector<std::string> domains;  // option 15 first, then option 119's
    std::uint32_t lease_s = 0, t1_s = 0, t2_s = 0;
    SteadyTime start{};       // when the REQUEST that got it went out
    bool operator==(const Dhcp4Lease&) const = default;

    [[nodiscard]] SteadyTime t1() const { return start + std::chrono::seconds(t1_s); }
    [[nodiscard]] SteadyTime t2() const { return start + std::chrono::seconds(t2_s); }
    [[nodiscard]] SteadyTime expiry() const { return start + std::chrono::seconds(lease_s); }
    // "ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3,domain=example.org,lease=86400"
    [[nodiscard]] std::string str() const;
};

class Dhcp4Client {
public:
    // A client on interface `ifindex` (named `ifname` in messages) with
    // hardware address `mac`, sending `fqdn` (may be empty) as its name.
    Dhcp4Client(NetOps& ops, unsigned ifindex, std::string ifname, const Mac& mac, std::string fqdn);

    // A lease, by `deadline`. Throws Error.
    Dhcp4Lease acquire(SteadyTime deadline);
    enum class Renewal { kAck, kNak, kSilence };
    // Renews (rebinding: broadcast) `lease` by `deadline`: kAck with the
    // lease updated, kNak (the lease is void), or kSilence at the deadline
    // (the caller retries later). Throws Error only when a socket call fails.
    Renewal renew(Dhcp4Lease& lease, bool rebinding, SteadyTime deadline);
    // Gives the lease back (DHCPRELEASE, unicast, best effort).
    void release(const Dhcp4Lease& lease);

    // The lease carried by an ACK (for tests; nullopt if it is none or
    // lacks an address).
    static std::optional<Dhcp4Lease> lease_of(std::span<const std::byte> dhcp_message, SteadyTime start);

private:
    class Link;
    std::uint32_t new_xid();

    NetOps& ops_;
    unsigned ifindex_;
    std::string ifname_;
    Mac mac_;
    std::string fqdn_;
    std::uint32_t xid_state_;
};

}  // namespace vdestack::conf
