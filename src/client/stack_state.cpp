// stack_state.cpp - reading and applying a stack's configuration (see
// stack_state.hpp).
#include "client/stack_state.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <map>
#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "wire/netlink.hpp"

namespace vdestack::client {

namespace image = wire::image;

namespace {

constexpr int kDumpTimeoutMs = 2000;

// The messages of one dump (type RTM_GET*, its request payload `head` for
// `family`), whole, up to NLMSG_DONE.
template <class Head>
std::vector<std::byte> dump(NetConf& nc, std::uint16_t type, std::uint8_t family, const char* what) {
    UniqueFd s(nc.make_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!s) fail_errno(std::string("reading the stack: socket(AF_NETLINK) for ") + what);
    struct {
        nlmsghdr h;
        Head body;
    } req{};
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    std::memcpy(&req.body, &family, 1);  // every rtnetlink head starts with its family
    if (::send(s.get(), &req, sizeof req, 0) != static_cast<ssize_t>(sizeof req))
        fail_errno(std::string("reading the stack: sending the dump request for ") + what);
    std::vector<std::byte> all, buf(64 * 1024);
    for (;;) {
        pollfd p{s.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, kDumpTimeoutMs);
        if (r == 0) fail(ETIMEDOUT, std::string("reading the stack: the dump of ") + what);
        if (r < 0) fail_errno(std::string("reading the stack: poll for ") + what);
        const ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
        if (n < 0) fail_errno(std::string("reading the stack: recv of ") + what);
        const std::span<const std::byte> got(buf.data(), static_cast<std::size_t>(n));
        const wire::NlMessages msgs(got);
        for (const wire::NlMsgView& m : msgs) {
            if (m.type() == NLMSG_DONE) return all;
            if (m.type() == NLMSG_ERROR) {
                const auto e = wire::NlErrorView::parse(m.payload());
                fail(e && e->errno_value() != 0 ? e->errno_value() : EIO, std::string("reading the stack: ") + what);
            }
            const auto b = m.bytes();
            all.insert(all.end(), b.begin(), b.end());
            all.resize(all.size() + (wire::nl_align(b.size()) - b.size()));
        }
        if (!msgs.rest().empty()) fail(EPROTO, std::string("reading the stack: a malformed reply for ") + what);
    }
}

// Sends one request (type, flags, head, attributes already laid out in
// `msg` after its nlmsghdr) and waits for its acknowledgement.
void request(NetConf& nc, std::vector<std::byte>& msg, const std::string& what) {
    UniqueFd s(nc.make_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!s) fail_errno("restoring the stack: socket(AF_NETLINK) to " + what);
    auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
    h->nlmsg_len = static_cast<std::uint32_t>(msg.size());
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    h->nlmsg_seq = 1;
    if (::send(s.get(), msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size()))
        fail_errno("restoring the stack: sending the request to " + what);
    std::vector<std::byte> buf(8192);
    for (;;) {
        pollfd p{s.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, kDumpTimeoutMs);
        if (r == 0) fail(ETIMEDOUT, "restoring the stack: " + what);
        if (r < 0) fail_errno("restoring the stack: poll to " + what);
        const ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
        if (n < 0) fail_errno("restoring the stack: recv to " + what);
        for (const wire::NlMsgView& m : wire::NlMessages(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)))) {
            if (m.type() != NLMSG_ERROR) continue;
            const auto e = wire::NlErrorView::parse(m.payload());
            if (!e) fail(EPROTO, "restoring the stack: a malformed acknowledgement to " + what);
            if (e->errno_value() != 0) fail(e->errno_value(), "restoring the stack: " + what);
            return;
        }
    }
}

// A request's first bytes: its nlmsghdr (type, flags; request() fills the
// rest) and its fixed head; attributes go after them (put_attr).
template <class Head>
std::vector<std::byte> message(std::uint16_t type, std::uint16_t flags, const Head& head) {
    std::vector<std::byte> msg(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(Head)));
    auto* h = reinterpret_cast<nlmsghdr*>(msg.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    std::memcpy(msg.data() + NLMSG_HDRLEN, &head, sizeof head);
    return msg;
}

// RTM_SETLINK of interface `ifname`, its attributes to follow.
std::vector<std::byte> setlink(const std::string& ifname, NetConf& nc) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = static_cast<int>(nc.index(ifname));
    return message(RTM_SETLINK, 0, ifi);
}

void put_attr(std::vector<std::byte>& msg, std::uint16_t type, const void* data, std::size_t len) {
    const std::size_t at = msg.size();
    msg.resize(at + wire::nl_align(NLA_HDRLEN + len));
    nlattr a{static_cast<std::uint16_t>(NLA_HDRLEN + len), type};
    std::memcpy(msg.data() + at, &a, sizeof a);
    std::memcpy(msg.data() + at + NLA_HDRLEN, data, len);
}

std::string text(std::uint8_t family, const std::array<std::uint8_t, 16>& a) {
    char b[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, a.data(), b, sizeof b);
    return b;
}

void copy_addr(std::array<std::uint8_t, 16>& to, std::span<const std::byte> from, std::uint8_t family) {
    const std::size_t n = family == AF_INET ? 4 : 16;
    if (from.size() == n) std::memcpy(to.data(), from.data(), n);
}

}  // namespace

StackState read_state(NetConf& nc) {
    StackState st;
    std::map<int, std::string> names;  // ifindex -> name, of the interfaces kept
    // Each dump in a variable: a temporary in the range-for would be gone
    // (C++20) before the walk over its bytes.
    const std::vector<std::byte> links = dump<ifinfomsg>(nc, RTM_GETLINK, AF_UNSPEC, "links");
    for (const wire::NlMsgView& m : wire::NlMessages(links)) {
        auto v = wire::IfInfoView::parse(m.payload());
        if (!v) continue;
        const bool loopback = v->type() == ARPHRD_LOOPBACK;
        image::InterfaceRecord r;
        for (const wire::NlAttrView& a : v->attrs()) {
            if (a.type() == IFLA_IFNAME) r.name = std::string(a.str());
            if (a.type() == IFLA_ADDRESS && a.payload().size() == 6) std::memcpy(r.mac.data(), a.payload().data(), 6);
            if (a.type() == IFLA_MTU && a.u32()) r.mtu = *a.u32();
        }
        if (loopback) {  // only whether it is up: its MAC, MTU and addresses are the kernel's
            r.mac = {};
            r.mtu = 0;
        }
        if (r.name.empty() || r.name.size() > image::kMaxIfname) continue;
        r.flags = (v->flags() & IFF_UP) != 0 ? image::kIfUp : 0;
        if (loopback) {
            st.interfaces.push_back(std::move(r));
            continue;  // nothing else of it is kept
        }
        names[v->index()] = r.name;
        st.interfaces.push_back(std::move(r));
    }
    const std::vector<std::byte> addresses = dump<ifaddrmsg>(nc, RTM_GETADDR, AF_UNSPEC, "addresses");
    for (const wire::NlMsgView& m : wire::NlMessages(addresses)) {
        auto v = wire::IfAddrView::parse(m.payload());
        if (!v || (v->family() != AF_INET && v->family() != AF_INET6)) continue;
        auto it = names.find(static_cast<int>(v->index()));
        if (it == names.end()) continue;
        if (v->family() == AF_INET6 && v->scope() == RT_SCOPE_LINK) continue;  // the kernel's own
        image::AddressRecord r;
        r.name = it->second;
        r.family = v->family();
        r.prefix = v->prefixlen();
        for (const wire::NlAttrView& a : v->attrs()) {
            // IPv4: IFA_LOCAL is the address (IFA_ADDRESS the peer's on p-t-p);
            // IPv6 has IFA_ADDRESS only.
            if (a.type() == IFA_LOCAL || (a.type() == IFA_ADDRESS && r.family == AF_INET6))
                copy_addr(r.addr, a.payload(), r.family);
        }
        st.addresses.push_back(std::move(r));
    }
    for (std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
        const std::vector<std::byte> routes = dump<rtmsg>(nc, RTM_GETROUTE, family, "routes");
        for (const wire::NlMsgView& m : wire::NlMessages(routes)) {
            auto v = wire::RtMsgView::parse(m.payload());
            if (!v || v->family() != family || v->table() != RT_TABLE_MAIN || v->type() != RTN_UNICAST) continue;
            if (v->protocol() == RTPROT_KERNEL || v->protocol() == RTPROT_RA) continue;  // made again by themselves
            image::RouteRecord r;
            r.family = family;
            r.dst_len = v->dst_len();
            int oif = 0;
            for (const wire::NlAttrView& a : v->attrs()) {
                if (a.type() == RTA_DST) copy_addr(r.dst, a.payload(), family);
                if (a.type() == RTA_GATEWAY) copy_addr(r.gw, a.payload(), family);
                if (a.type() == RTA_OIF && a.u32()) oif = static_cast<int>(*a.u32());
            }
            auto it = names.find(oif);
            if (it == names.end()) continue;
            r.name = it->second;
            st.routes.push_back(std::move(r));
        }
    }
    const std::vector<std::byte> neighbours = dump<ndmsg>(nc, RTM_GETNEIGH, AF_UNSPEC, "neighbours");
    for (const wire::NlMsgView& m : wire::NlMessages(neighbours)) {
        auto v = wire::NdMsgView::parse(m.payload());
        if (!v || (v->family() != AF_INET && v->family() != AF_INET6)) continue;
        constexpr std::uint16_t kKnown = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
        if ((v->state() & kKnown) == 0 || v->type() != RTN_UNICAST) continue;
        auto it = names.find(v->index());
        if (it == names.end()) continue;
        image::NeighbourRecord r;
        r.name = it->second;
        r.family = v->family();
        r.flags = (v->state() & NUD_PERMANENT) != 0 ? image::kNeighPermanent : 0;
        bool ll = false, dst = false;
        for (const wire::NlAttrView& a : v->attrs()) {
            if (a.type() == NDA_DST && a.payload().size() == (r.family == AF_INET ? 4u : 16u)) {
                copy_addr(r.addr, a.payload(), r.family);
                dst = true;
            }
            if (a.type() == NDA_LLADDR && a.payload().size() == 6) {
                std::memcpy(r.mac.data(), a.payload().data(), 6);
                ll = true;
            }
        }
        if (ll && dst) st.neighbours.push_back(std::move(r));
    }
    return st;
}

void add_neighbour(const image::NeighbourRecord& n, NetConf& nc) {
    ndmsg nd{};
    nd.ndm_family = n.family;
    nd.ndm_ifindex = static_cast<int>(nc.index(n.name));
    nd.ndm_state = (n.flags & image::kNeighPermanent) != 0 ? NUD_PERMANENT : NUD_STALE;
    nd.ndm_type = RTN_UNICAST;
    std::vector<std::byte> msg = message(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, nd);
    put_attr(msg, NDA_DST, n.addr.data(), n.family == AF_INET ? 4 : 16);
    put_attr(msg, NDA_LLADDR, n.mac.data(), 6);
    request(nc, msg, "add neighbour " + text(n.family, n.addr) + " on " + n.name);
}

// net.ipv4.conf.<ifname>.arp_notify = 1, through netlink (RTM_SETLINK,
// IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF): the interface sends a
// gratuitous ARP for each of its addresses when it comes up.
void set_arp_notify(const std::string& ifname, NetConf& nc) {
    std::vector<std::byte> msg = setlink(ifname, nc);
    // Three nested attributes, innermost first: {IPV4_DEVCONF_ARP_NOTIFY: 1}.
    const std::uint32_t on = 1;
    std::vector<std::byte> conf, inet, spec;
    put_attr(conf, IPV4_DEVCONF_ARP_NOTIFY, &on, sizeof on);
    put_attr(inet, static_cast<std::uint16_t>(IFLA_INET_CONF | NLA_F_NESTED), conf.data(), conf.size());
    put_attr(spec, static_cast<std::uint16_t>(AF_INET | NLA_F_NESTED), inet.data(), inet.size());
    put_attr(msg, static_cast<std::uint16_t>(IFLA_AF_SPEC | NLA_F_NESTED), spec.data(), spec.size());
    request(nc, msg, "set arp_notify on " + ifname);
}

void set_txqueuelen(const std::string& ifname, std::uint32_t frames, NetConf& nc) {
    std::vector<std::byte> msg = setlink(ifname, nc);
    put_attr(msg, IFLA_TXQLEN, &frames, sizeof frames);
    request(nc, msg, "set txqueuelen " + std::to_string(frames) + " on " + ifname);
}

void apply_state(const StackState& state, NetConf& nc, bool announce) {
    for (const auto& i : state.interfaces) {
        if (i.mac == std::array<std::uint8_t, 6>{}) continue;  // loopback: only brought up
        nc.set_mac(i.name, i.mac);
        if (i.mtu != 0) nc.set_mtu(i.name, i.mtu);
        if (announce) set_arp_notify(i.name, nc);
    }
    for (const auto& a : state.addresses)
        nc.add_address(a.name, text(a.family, a.addr) + "/" + std::to_string(a.prefix), a.family == AF_INET6);
    for (const auto& i : state.interfaces)
        if (i.flags & image::kIfUp) nc.set_up(i.name, true);
    for (const auto& r : state.routes) {
        const std::string dst = r.dst_len == 0 ? "default" : text(r.family, r.dst) + "/" + std::to_string(r.dst_len);
        const bool on_link = r.gw == std::array<std::uint8_t, 16>{};
        nc.add_route(dst, on_link ? "" : text(r.family, r.gw), r.name);
    }
    for (const auto& n : state.neighbours) add_neighbour(n, nc);
}

}  // namespace vdestack::client
