// configurator.hpp - what ioth_config() does to a stack: the sources of
// configuration data (static, eth, DHCPv4; DHCPv6 and router discovery
// later), their merge, the stack's addresses and routes kept in step with
// it, the leases kept alive, and the resolv.conf text.
//
// Theory of operation
// -------------------
// A Configurator belongs to one stack and reaches it through a NetOps
// (netops.hpp). Per interface it keeps the records (address, default
// route, DNS server, search domain) each source provides. A source replaces
// only its own records: the stack loses a record when no source provides
// it any more, and gains one when a first source does (EEXIST is fine).
// When an address goes, every address and route still provided is added
// again: the kernel drops an IPv4 primary address's secondaries and the
// routes through it along with it.
// Static data accumulates over calls (ip=A then ip=B: both), '-ip=A' and
// '-static' remove it, as iothconf does; a DHCP lease replaces the DHCP
// records of its interface whenever it changes.
//
// Leases (DHCPv4 and DHCPv6 alike): configure() gets a lease synchronously
// (a bounded wait, 10 s or the extension option timeout=SECONDS).
// lease_work() renews it at T1 (to its server), rebinds at T2 (to any), and
// at expiry removes its records and tries to get a new one; next_lease_work() says when to
// call it. Where the caller never calls lease_work() (libiothconf on a
// plugin stack, as upstream iothconf) a lease is got once and not renewed.
// In the helper, the configuration thread calls it for every stack.
//
// Router discovery takes one Router Advertisement (at most 3 s, or
// timeout=): a default route via the router (when it is one), RDNSS
// servers, DNSSL domains, and with "slaac" an address in each /64 prefix
// (the name's hash with fqdn=, else the MAC's EUI-64); taken once, as
// iothconf does (our own stacks' kernels also follow the RAs they get).
// A DHCPv6 address is a /128, as iothconf's: its prefix comes from the RA.
// IPv6 addresses (static, DHCPv6, SLAAC) are added without duplicate
// address detection, usable when configure() returns (the server or the
// name's hash makes them unique; DAD would hold them 1-2 s).
//
// resolvconf(): "search ..." (the static domains, then DHCPv4's, DHCPv6's,
// the RA's, without repeats) and a "nameserver" line per server, each once
// (static IPv6, static IPv4, DHCPv6, RA, DHCPv4); nullopt when nothing
// changed since the previous call for that interface (iothconf's NULL with
// errno 0).
//
// Errors: configure() throws Error (ENODEV: no such interface; EINVAL from
// the parser); a source that fails (DHCP: no server) leaves its bit out of
// the result and its error in Result::err/message. Not thread-safe: one
// thread at a time per Configurator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "conf/dhcp4_client.hpp"
#include "conf/ipv6_clients.hpp"
#include "conf/netops.hpp"

namespace vdestack::conf {

struct Record {
    enum Kind { kAddr, kRoute, kDns, kDomain } kind{};
    Addr addr{};         // kAddr, kRoute (the gateway), kDns
    int prefix = 0;      // kAddr
    std::string domain;  // kDomain
    bool operator==(const Record&) const = default;
};

// The records of one interface, by source.
class InterfaceData {
public:
    struct Diff {
        std::vector<Record> removed, added;  // what the stack must lose and gain
    };
    // Replaces the records of `source` with `records`.
    Diff replace(Source source, std::vector<Record> records);
    // Adds or removes one record of `source`.
    Diff add(Source source, const Record& r);
    Diff remove(Source source, const Record& r);
    [[nodiscard]] const std::vector<Record>& of(Source source) const;
    // Every record some source provides, once each.
    [[nodiscard]] std::vector<Record> merged() const;
    // The resolv.conf text, or nullopt when it is the text the previous
    // call gave (the first call with no DNS data at all: nullopt too).
    std::optional<std::string> resolvconf();
    [[nodiscard]] std::string debug() const;

private:
    [[nodiscard]] bool provided(const Record& r) const;
    std::map<Source, std::vector<Record>> by_source_;
    std::string last_resolvconf_;  // the text the previous resolvconf() gave
};

class Configurator {
public:
    struct Result {
        std::uint32_t mask = 0;  // the sources that succeeded (Source bits, without kSlaac)
        int err = 0;             // errno of the first source that failed, or 0
        std::string message;     // its message
        std::string debug;       // the state after it, when the request said debug
    };

    explicit Configurator(NetOps& ops) : ops_(&ops) {}
    // Another NetOps for the same stack (the helper's per-call one).
    void set_ops(NetOps& ops) noexcept { ops_ = &ops; }

    // Carries out a parsed request. Throws Error for a bad interface.
    Result configure(const ConfigRequest& r);
    // The resolv.conf text of an interface (iface "" = vde0, or ifindex).
    std::optional<std::string> resolvconf(const std::string& iface, unsigned ifindex);
    // The current DHCPv4 lease of the interface, as Dhcp4Lease::str(), and
    // how many times it was renewed; "" when there is none. With v6, the
    // DHCPv6 lease (Dhcp6Lease::str()).
    std::string lease_text(const std::string& iface, unsigned ifindex, bool v6 = false);

    // When lease_work() has something to do (max(): never).
    [[nodiscard]] SteadyTime next_lease_work() const;
    // Renews, rebinds or replaces the leases that are due. Never throws.
    void lease_work(SteadyTime now);
    // Gives every lease back (DHCPRELEASE), e.g. when the stack goes.
    void release_all();

private:
    // A lease held for an interface, DHCPv4's or DHCPv6's.
    template <class L>
    struct Held {
        L lease;
        std::string ifname, fqdn;
        Mac mac{};
        SteadyTime next{};   // when to act next
        unsigned renewals = 0;
        bool valid = true;   // false: expired, trying to get a new one
    };
    unsigned resolve(const std::string& iface, unsigned ifindex);
    void apply(unsigned ifindex, const InterfaceData::Diff& d);
    static std::vector<Record> records_of(const Dhcp4Lease& l);
    static std::vector<Record> records_of(const Dhcp6Lease& l);
    static std::vector<Record> records_of(const RouterInfo& ri, bool slaac, const Mac& mac, const std::string& fqdn);
    template <class L>
    static void schedule(Held<L>& l, SteadyTime now);
    // Gets a lease for `source` with Client; its records replace the source's.
    template <class Client, class L>
    void acquire(Source source, std::map<unsigned, Held<L>>& held, unsigned ifindex, const std::string& ifname,
                 const Mac& mac, const std::string& fqdn, int timeout_s);
    template <class Client, class L>
    void work(Source source, std::map<unsigned, Held<L>>& held, SteadyTime now);
    template <class Client, class L>
    void release(std::map<unsigned, Held<L>>& held, unsigned ifindex);

    NetOps* ops_;
    std::map<unsigned, InterfaceData> ifs_;
    std::map<unsigned, Held<Dhcp4Lease>> leases_;
    std::map<unsigned, Held<Dhcp6Lease>> leases6_;
};

}  // namespace vdestack::conf
