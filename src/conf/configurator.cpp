// configurator.cpp - the sources of configuration and their merge (see
// configurator.hpp).
#include "conf/configurator.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "conf/hash.hpp"

namespace vdestack::conf {

namespace {

constexpr Source kAllSources[] = {kStatic, kEth, kDhcp4, kDhcp6, kRd};

Addr addr4(const Ip4& a) {
    Addr r;
    r.family = AF_INET;
    std::memcpy(r.bytes.data(), a.data(), 4);
    return r;
}

Addr addr6(const Ip6& a) {
    Addr r;
    r.family = AF_INET6;
    std::memcpy(r.bytes.data(), a.data(), 16);
    return r;
}

const char* source_name(Source s) {
    switch (s) {
    case kStatic: return "static";
    case kEth: return "eth";
    case kDhcp4: return "dhcp";
    case kDhcp6: return "dhcp6";
    case kRd: return "rd";
    default: return "?";
    }
}

}  // namespace

// ---- InterfaceData ---------------------------------------------------------

std::vector<Record> InterfaceData::merged() const {
    std::vector<Record> all;
    for (const auto& [src, recs] : by_source_)
        for (const Record& r : recs)
            if (std::find(all.begin(), all.end(), r) == all.end()) all.push_back(r);
    return all;
}

bool InterfaceData::provided(const Record& r) const {
    for (const auto& [src, recs] : by_source_)
        if (std::find(recs.begin(), recs.end(), r) != recs.end()) return true;
    return false;
}

InterfaceData::Diff InterfaceData::replace(Source source, std::vector<Record> records) {
    std::vector<Record> old = std::move(by_source_[source]);
    by_source_[source].clear();
    Diff d;
    for (const Record& r : old)
        if (std::find(records.begin(), records.end(), r) == records.end() && !provided(r)) d.removed.push_back(r);
    for (const Record& r : records)
        if (std::find(old.begin(), old.end(), r) == old.end() && !provided(r)) d.added.push_back(r);
    auto& mine = by_source_[source];
    for (Record& r : records)
        if (std::find(mine.begin(), mine.end(), r) == mine.end()) mine.push_back(std::move(r));
    return d;
}

InterfaceData::Diff InterfaceData::add(Source source, const Record& r) {
    std::vector<Record> v = by_source_[source];
    if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
    return replace(source, std::move(v));
}

InterfaceData::Diff InterfaceData::remove(Source source, const Record& r) {
    std::vector<Record> v = by_source_[source];
    std::erase(v, r);
    return replace(source, std::move(v));
}

const std::vector<Record>& InterfaceData::of(Source source) const {
    static const std::vector<Record> kNone;
    auto it = by_source_.find(source);
    return it == by_source_.end() ? kNone : it->second;
}

std::optional<std::string> InterfaceData::resolvconf() {
    std::vector<std::string> domains;
    for (Source s : {kStatic, kDhcp4, kDhcp6, kRd})
        for (const Record& r : of(s))
            if (r.kind == Record::kDomain && std::find(domains.begin(), domains.end(), r.domain) == domains.end())
                domains.push_back(r.domain);
    std::string text;
    if (!domains.empty()) {
        text = "search";
        for (const auto& d : domains) text += " " + d;
        text += "\n";
    }
    std::vector<Addr> servers;  // each once, in this order of sources
    auto add = [&](Source s, int family) {
        for (const Record& r : of(s))
            if (r.kind == Record::kDns && r.addr.family == family &&
                std::find(servers.begin(), servers.end(), r.addr) == servers.end())
                servers.push_back(r.addr);
    };
    add(kStatic, AF_INET6);
    add(kStatic, AF_INET);
    add(kDhcp6, AF_INET6);
    add(kRd, AF_INET6);
    add(kDhcp4, AF_INET);
    for (const Addr& a : servers) text += "nameserver " + a.str() + "\n";
    if (text == last_resolvconf_) return std::nullopt;
    last_resolvconf_ = text;
    return text;
}

std::string InterfaceData::debug() const {
    std::string s;
    for (Source src : kAllSources) {
        for (const Record& r : of(src)) {
            s += std::string(source_name(src)) + ": ";
            switch (r.kind) {
            case Record::kAddr: s += "ip " + r.addr.str() + "/" + std::to_string(r.prefix); break;
            case Record::kRoute: s += "gw " + r.addr.str(); break;
            case Record::kDns: s += "dns " + r.addr.str(); break;
            case Record::kDomain: s += "domain " + r.domain; break;
            }
            s += "\n";
        }
    }
    return s;
}

// ---- Configurator ----------------------------------------------------------

unsigned Configurator::resolve(const std::string& iface, unsigned ifindex) {
    if (ifindex != 0) return ifindex;
    const std::string name = iface.empty() ? "vde0" : iface;
    const int i = ops_->if_nametoindex(name.c_str());
    if (i <= 0) fail(ENODEV, "ioth_config: no interface " + name);
    return static_cast<unsigned>(i);
}

void Configurator::apply(unsigned ifindex, const InterfaceData::Diff& d) {
    bool lost_addr = false;
    for (const Record& r : d.removed) {
        if (r.kind == Record::kAddr) {
            ops_->addr_del(r.addr.family, r.addr.bytes.data(), r.prefix, ifindex);
            lost_addr = true;
        }
        if (r.kind == Record::kRoute) ops_->route_del(r.addr.family, nullptr, 0, r.addr.bytes.data(), ifindex);
    }
    // Deleting an IPv4 subnet's primary address also deletes its secondaries
    // (unless promote_secondaries) and the routes through it: after an
    // address went, everything still provided is put back (EEXIST for what
    // stayed). Addresses first: a route needs its gateway on-link.
    const std::vector<Record> again = lost_addr ? ifs_[ifindex].merged() : d.added;
    for (const Record& r : again)
        if (r.kind == Record::kAddr) ops_->addr_add(r.addr.family, r.addr.bytes.data(), r.prefix, ifindex, true);
    for (const Record& r : again)
        if (r.kind == Record::kRoute) ops_->route_add(r.addr.family, nullptr, 0, r.addr.bytes.data(), ifindex);
}

std::vector<Record> Configurator::records_of(const Dhcp4Lease& l) {
    std::vector<Record> v;
    v.push_back(Record{Record::kAddr, addr4(l.addr), l.prefix, {}});
    if (!l.routers.empty()) v.push_back(Record{Record::kRoute, addr4(l.routers[0]), 0, {}});
    for (const Ip4& d : l.dns) v.push_back(Record{Record::kDns, addr4(d), 0, {}});
    for (const std::string& d : l.domains) v.push_back(Record{Record::kDomain, {}, 0, d});
    return v;
}

std::vector<Record> Configurator::records_of(const Dhcp6Lease& l) {
    std::vector<Record> v;
    v.push_back(Record{Record::kAddr, addr6(l.addr), 128, {}});  // as iothconf: the prefix is the RA's
    for (const Ip6& d : l.dns) v.push_back(Record{Record::kDns, addr6(d), 0, {}});
    for (const std::string& d : l.domains) v.push_back(Record{Record::kDomain, {}, 0, d});
    return v;
}

std::vector<Record> Configurator::records_of(const RouterInfo& ri, bool slaac, const Mac& mac,
                                             const std::string& fqdn) {
    std::vector<Record> v;
    if (ri.lifetime > 0) v.push_back(Record{Record::kRoute, addr6(ri.router), 0, {}});
    // With slaac, as iothconf: an address in each /64 prefix that allows
    // autoconfiguration (or any /64, given a name): the name's hash, else
    // the MAC's EUI-64.
    if (slaac)
        for (const auto& p : ri.prefixes) {
            if (p.length != 64 || p.valid == 0 || ((p.flags & wire::ndp::kPrefixAuto) == 0 && fqdn.empty())) continue;
            Ip6 a = p.prefix;
            if (!fqdn.empty())
                hash_addr6(a, fqdn);
            else
                a = eui64(a, mac);
            v.push_back(Record{Record::kAddr, addr6(a), 64, {}});
        }
    for (const Ip6& d : ri.dns) v.push_back(Record{Record::kDns, addr6(d), 0, {}});
    for (const std::string& d : ri.domains) v.push_back(Record{Record::kDomain, {}, 0, d});
    return v;
}

Configurator::Result Configurator::configure(const ConfigRequest& r) {
    Result res;
    if (r.sources == 0 && r.clean == 0 && !r.debug) return res;
    const unsigned ifindex = resolve(r.iface, r.ifindex);
    InterfaceData& data = ifs_[ifindex];
    auto failed = [&](const Error& e) {
        if (res.err == 0) {
            res.err = e.errno_value();
            res.message = e.what();
        }
    };

    // Undo first, as iothconf does; leases go back while their addresses
    // are still there to send the release from.
    if (r.clean & kDhcp4) release<Dhcp4Client>(leases_, ifindex);
    if (r.clean & kDhcp6) release<Dhcp6Client>(leases6_, ifindex);
    for (Source s : {kStatic, kRd, kDhcp6, kDhcp4})
        if (r.clean & s) apply(ifindex, data.replace(s, {}));
    if (r.clean & kEth) ops_->link_up(ifindex, false);

    Mac mac{};
    if (r.sources & kEth) {
        std::optional<Mac> set = r.mac;
        if (!set && !r.fqdn.empty()) set = hash_mac(r.fqdn);
        bool ok = true;
        if (set && ops_->set_mac(ifindex, set->data()) != 0) {
            failed(Error(errno, "ioth_config: eth: setting the MAC address"));
            ok = false;
        }
        if (ops_->link_up(ifindex, true) != 0) {
            failed(Error(errno, "ioth_config: eth: bringing the interface up"));
            ok = false;
        }
        if (ok) res.mask |= kEth;
    }
    std::string ifname = r.iface.empty() && r.ifindex == 0 ? "vde0" : r.iface;
    if (ifname.empty()) ifname = "ifindex " + std::to_string(ifindex);
    if (r.sources & (kDhcp4 | kDhcp6 | kRd)) {
        if (ops_->get_mac(ifindex, mac.data()) != 0) failed(Error(errno, "ioth_config: reading the MAC address"));
    }
    // As iothconf: router discovery, DHCPv6, DHCPv4, each on its own: one
    // that fails leaves its bit out and the others go on.
    auto attempt = [&](Source source, auto&& run) {
        if ((r.sources & source) == 0) return;
        try {
            run();
            res.mask |= source;
        } catch (const Error& e) {
            failed(e);
        }
    };
    attempt(kRd, [&] {
        // At most 3 s (or timeout=): a network without IPv6 routers must not
        // hold up "auto" for long.
        const int wait_s = std::min(r.timeout_s, 3);
        Rd6Client client(*ops_, ifindex, ifname, mac);
        const RouterInfo ri = client.discover(std::chrono::steady_clock::now() + std::chrono::seconds(wait_s));
        apply(ifindex, data.replace(kRd, records_of(ri, (r.sources & kSlaac) != 0, mac, r.fqdn)));
    });
    attempt(kDhcp6, [&] { acquire<Dhcp6Client>(kDhcp6, leases6_, ifindex, ifname, mac, r.fqdn, r.timeout_s); });
    attempt(kDhcp4, [&] { acquire<Dhcp4Client>(kDhcp4, leases_, ifindex, ifname, mac, r.fqdn, r.timeout_s); });
    if (r.sources & kStatic) {
        for (const StaticItem& it : r.statics) {
            Record rec;
            switch (it.kind) {
            case StaticItem::kIp: rec = Record{Record::kAddr, it.addr, it.prefix, {}}; break;
            case StaticItem::kGw: rec = Record{Record::kRoute, it.addr, 0, {}}; break;
            case StaticItem::kDns: rec = Record{Record::kDns, it.addr, 0, {}}; break;
            case StaticItem::kDomain: rec = Record{Record::kDomain, {}, 0, it.domain}; break;
            }
            if (it.remove && it.kind == StaticItem::kIp && it.prefix == 0)  // -ip=ADDR: of any length
                for (const Record& have : data.of(kStatic))
                    if (have.kind == Record::kAddr && have.addr == it.addr) {
                        rec = have;
                        break;
                    }
            apply(ifindex, it.remove ? data.remove(kStatic, rec) : data.add(kStatic, rec));
        }
        res.mask |= kStatic;
    }
    if (r.debug) {
        res.debug = data.debug();
        if (auto it = leases_.find(ifindex); it != leases_.end())
            res.debug += "lease: " + it->second.lease.str() + " renewals=" + std::to_string(it->second.renewals) + "\n";
        if (auto it = leases6_.find(ifindex); it != leases6_.end())
            res.debug += "lease6: " + it->second.lease.str() + " renewals=" + std::to_string(it->second.renewals) + "\n";
    }
    return res;
}

std::optional<std::string> Configurator::resolvconf(const std::string& iface, unsigned ifindex) {
    return ifs_[resolve(iface, ifindex)].resolvconf();
}

std::string Configurator::lease_text(const std::string& iface, unsigned ifindex, bool v6) {
    const unsigned i = resolve(iface, ifindex);
    auto text = [](const auto& held, unsigned at) -> std::string {
        auto it = held.find(at);
        if (it == held.end() || !it->second.valid) return "";
        return it->second.lease.str() + ",renewals=" + std::to_string(it->second.renewals);
    };
    return v6 ? text(leases6_, i) : text(leases_, i);
}

template <class L>
void Configurator::schedule(Held<L>& l, SteadyTime now) {
    // Next: T1, then retries halfway to T2 (at least 5 s apart; RFC 2131
    // says 60, scaled down for short leases), T2 and retries halfway to
    // expiry, then expiry.
    const auto halfway = [&](SteadyTime to) {
        return std::max(now + std::chrono::seconds(5), now + (to - now) / 2);
    };
    if (!l.valid) {
        l.next = now + std::chrono::seconds(30);  // another try at a lease
    } else if (now < l.lease.t1()) {
        l.next = l.lease.t1();
    } else if (now < l.lease.t2()) {
        l.next = std::min(halfway(l.lease.t2()), l.lease.t2());
    } else if (now < l.lease.expiry()) {
        l.next = std::min(halfway(l.lease.expiry()), l.lease.expiry());
    } else {
        l.next = now;
    }
}

SteadyTime Configurator::next_lease_work() const {
    SteadyTime t = SteadyTime::max();
    for (const auto& [ifindex, l] : leases_) t = std::min(t, l.next);
    for (const auto& [ifindex, l] : leases6_) t = std::min(t, l.next);
    return t;
}

template <class Client, class L>
void Configurator::acquire(Source source, std::map<unsigned, Held<L>>& held, unsigned ifindex,
                           const std::string& ifname, const Mac& mac, const std::string& fqdn, int timeout_s) {
    Client client(*ops_, ifindex, ifname, mac, fqdn);
    const SteadyTime now = std::chrono::steady_clock::now();
    Held<L> l{client.acquire(now + std::chrono::seconds(timeout_s)), ifname, fqdn, mac};
    apply(ifindex, ifs_[ifindex].replace(source, records_of(l.lease)));
    schedule(l, std::chrono::steady_clock::now());
    held[ifindex] = std::move(l);
}

template <class Client, class L>
void Configurator::work(Source source, std::map<unsigned, Held<L>>& held, SteadyTime now) {
    for (auto& [ifindex, l] : held) {
        if (l.next > now) continue;
        try {
            Client client(*ops_, ifindex, l.ifname, l.mac, l.fqdn);
            InterfaceData& data = ifs_[ifindex];
            if (!l.valid) {
                l.lease = client.acquire(now + std::chrono::seconds(10));
                l.valid = true;
                apply(ifindex, data.replace(source, records_of(l.lease)));
            } else if (now >= l.lease.expiry()) {
                l.valid = false;  // lost: its records go
                apply(ifindex, data.replace(source, {}));
            } else {
                const bool rebinding = now >= l.lease.t2();
                const SteadyTime until = std::min(rebinding ? l.lease.expiry() : l.lease.t2(),
                                                  now + std::chrono::seconds(10));
                L fresh = l.lease;
                const auto got = client.renew(fresh, rebinding, until);
                if (got == Dhcp4Client::Renewal::kAck) {
                    l.lease = fresh;
                    l.renewals++;
                    apply(ifindex, data.replace(source, records_of(l.lease)));
                } else if (got == Dhcp4Client::Renewal::kNak) {
                    l.valid = false;  // refused: the lease is void
                    apply(ifindex, data.replace(source, {}));
                }
            }
        } catch (const Error&) {
            // a socket call failed (the interface went?): try again later
        }
        schedule(l, std::chrono::steady_clock::now());
    }
}

template <class Client, class L>
void Configurator::release(std::map<unsigned, Held<L>>& held, unsigned ifindex) {
    auto it = held.find(ifindex);
    if (it == held.end()) return;
    if (it->second.valid) {
        Client c(*ops_, ifindex, it->second.ifname, it->second.mac, it->second.fqdn);
        c.release(it->second.lease);
    }
    held.erase(it);
}

void Configurator::lease_work(SteadyTime now) {
    work<Dhcp4Client>(kDhcp4, leases_, now);
    work<Dhcp6Client>(kDhcp6, leases6_, now);
}

void Configurator::release_all() {
    while (!leases_.empty()) release<Dhcp4Client>(leases_, leases_.begin()->first);
    while (!leases6_.empty()) release<Dhcp6Client>(leases6_, leases6_.begin()->first);
}

}  // namespace vdestack::conf
