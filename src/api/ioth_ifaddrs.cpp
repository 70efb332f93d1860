// ioth_ifaddrs.cpp - ioth_getifaddrs() and ioth_freeifaddrs() of libioth:
// getifaddrs(3) of a stack, made from its rtnetlink dumps.
//
// Theory of operation
// -------------------
// getifaddrs_within() opens a NETLINK_ROUTE socket of the stack with
// ioth_msocket() and then talks only through the public wrappers
// (ioth_setsockopt, ioth_bind, ioth_send, ioth_recv, ioth_close), so a
// stack served by a plugin answers through its own calls. It asks two
// dumps, one after the other: RTM_GETLINK (sequence number 1), then
// RTM_GETADDR (2). Each reply datagram is sized first (MSG_PEEK|MSG_TRUNC;
// a stack that cannot say gets a 32 KiB buffer) and read whole; of its
// messages, those carrying the request's sequence number are kept, until
// its NLMSG_DONE or NLMSG_ERROR. The wait is bounded: SO_RCVTIMEO on the
// socket (when the stack takes it) and a deadline per dump, past which the
// call fails with ETIMEDOUT; a dump larger than 256 MiB is EMSGSIZE.
//
// build_ifaddrs() then makes the list from the two dumps as upstream libioth
// does, reading them only through wire/netlink.hpp's views:
//  - a link (RTM_NEWLINK) with a name and a hardware address of 1 to 8
//    bytes becomes an AF_PACKET entry: ifa_flags = ifi_flags, ifa_addr and
//    ifa_broadaddr sockaddr_ll of IFLA_ADDRESS and IFLA_BROADCAST, ifa_data
//    its struct rtnl_link_stats (IFLA_STATS; zeros where the stack's is
//    shorter). Links without an address are not listed;
//  - an AF_INET / AF_INET6 address (RTM_NEWADDR) of a listed link becomes
//    an entry with the link's name and flags: ifa_addr is IFA_LOCAL and
//    ifa_dstaddr IFA_ADDRESS on a point-to-point link (and, for IPv4, on a
//    loopback one), else ifa_addr is IFA_ADDRESS and ifa_broadaddr
//    IFA_BROADCAST; ifa_netmask from the prefix length; sin6_scope_id is the
//    interface index for link-local unicast and multicast addresses.
// Entries that lack what they need are skipped; an NLMSG_ERROR fails the
// call with its error. Each node is one malloc() block (the struct ifaddrs
// first, then its sockaddrs, statistics and name): ioth_freeifaddrs() frees
// the list node by node. Nothing is printed; on failure what was built is
// freed, *ifap is NULL and -1 is returned with errno. Thread-safe: no state
// outside the call.
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "api/ifaddrs_build.hpp"
#include "ioth.h"
#include "wire/netlink.hpp"

namespace vde::capi {

namespace {

namespace wire = vdestack::wire;

union AnyAddr {
    struct sockaddr sa;
    struct sockaddr_ll ll;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

// One entry, one malloc() block: this struct, then the name and its NUL.
struct Node {
    struct ifaddrs ifa;  // first: a node is freed through &ifa
    AnyAddr addr;
    AnyAddr netmask;
    AnyAddr other;  // ifa_broadaddr or ifa_dstaddr
    struct rtnl_link_stats stats;
};
static_assert(offsetof(Node, ifa) == 0);

Node* new_node(std::string_view name) noexcept {
    void* block = std::malloc(sizeof(Node) + name.size() + 1);
    if (block == nullptr) return nullptr;
    auto* n = new (block) Node{};
    char* text = static_cast<char*>(block) + sizeof(Node);
    std::memcpy(text, name.data(), name.size());
    text[name.size()] = '\0';
    n->ifa.ifa_name = text;
    return n;
}

// A sockaddr_ll of a hardware address attribute of 1..8 bytes.
bool set_ll(AnyAddr& a, const std::optional<wire::NlAttrView>& attr, const wire::IfInfoView& info) noexcept {
    if (!attr) return false;
    const auto hw = attr->payload();
    if (hw.empty() || hw.size() > sizeof a.ll.sll_addr) return false;
    a.ll.sll_family = AF_PACKET;
    a.ll.sll_ifindex = info.index();
    a.ll.sll_hatype = info.type();
    a.ll.sll_halen = static_cast<unsigned char>(hw.size());
    std::memcpy(a.ll.sll_addr, hw.data(), hw.size());
    return true;
}

bool is_link_local6(const std::byte* a) noexcept {
    const unsigned b0 = std::to_integer<unsigned>(a[0]), b1 = std::to_integer<unsigned>(a[1]);
    return (b0 == 0xfe && (b1 & 0xc0) == 0x80) || (b0 == 0xff && (b1 & 0x0f) == 0x02);
}

// A sockaddr_in / sockaddr_in6 of an address attribute of the family's size.
bool set_inet(AnyAddr& a, int family, const std::optional<wire::NlAttrView>& attr, int ifindex) noexcept {
    if (!attr) return false;
    const auto p = attr->payload();
    if (family == AF_INET) {
        if (p.size() != sizeof a.in.sin_addr) return false;
        a.in.sin_family = AF_INET;
        std::memcpy(&a.in.sin_addr, p.data(), p.size());
        return true;
    }
    if (p.size() != sizeof a.in6.sin6_addr) return false;
    a.in6.sin6_family = AF_INET6;
    std::memcpy(&a.in6.sin6_addr, p.data(), p.size());
    if (is_link_local6(p.data())) a.in6.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
    return true;
}

// The netmask of a prefix length (clamped to the family's address size).
void set_netmask(AnyAddr& a, int family, unsigned prefixlen) noexcept {
    unsigned char* bytes = nullptr;
    unsigned size = 0;
    if (family == AF_INET) {
        a.in.sin_family = AF_INET;
        bytes = reinterpret_cast<unsigned char*>(&a.in.sin_addr);
        size = sizeof a.in.sin_addr;
    } else {
        a.in6.sin6_family = AF_INET6;
        bytes = a.in6.sin6_addr.s6_addr;
        size = sizeof a.in6.sin6_addr;
    }
    for (unsigned i = 0; i < size; i++) {
        const unsigned bits = prefixlen > 8 * i ? std::min(prefixlen - 8 * i, 8u) : 0u;
        bytes[i] = static_cast<unsigned char>((0xff00u >> bits) & 0xffu);
    }
}

// The list as it is built: owns its nodes until release().
class ListBuilder {
public:
    ListBuilder() = default;
    ListBuilder(const ListBuilder&) = delete;
    ListBuilder& operator=(const ListBuilder&) = delete;
    ~ListBuilder() { ioth_freeifaddrs(head_); }

    struct ifaddrs* release() noexcept { return std::exchange(head_, nullptr); }

    // An RTM_NEWLINK message (anything else is ignored). False: no memory.
    bool add_link(const wire::NlMsgView& m) {
        if (m.type() != RTM_NEWLINK) return true;
        const auto info = wire::IfInfoView::parse(m.payload());
        if (!info) return true;
        const auto attrs = info->attrs().index<IFLA_STATS + 1>();
        if (!attrs[IFLA_IFNAME] || !attrs[IFLA_ADDRESS]) return true;
        AnyAddr hw{};
        if (!set_ll(hw, attrs[IFLA_ADDRESS], *info)) return true;
        Node* n = new_node(attrs[IFLA_IFNAME]->str());
        if (n == nullptr) return false;
        n->addr = hw;
        n->ifa.ifa_addr = &n->addr.sa;
        n->ifa.ifa_flags = info->flags();
        if (set_ll(n->other, attrs[IFLA_BROADCAST], *info)) n->ifa.ifa_broadaddr = &n->other.sa;
        if (attrs[IFLA_STATS] && !attrs[IFLA_STATS]->payload().empty()) {
            const auto s = attrs[IFLA_STATS]->payload();
            std::memcpy(&n->stats, s.data(), std::min(s.size(), sizeof n->stats));
            n->ifa.ifa_data = &n->stats;
        }
        append(n);
        links_.emplace_back(info->index(), n);  // may throw: n is in the list already
        return true;
    }

    // An RTM_NEWADDR message (anything else is ignored). False: no memory.
    bool add_address(const wire::NlMsgView& m) {
        if (m.type() != RTM_NEWADDR) return true;
        const auto ia = wire::IfAddrView::parse(m.payload());
        if (!ia || (ia->family() != AF_INET && ia->family() != AF_INET6)) return true;
        const int family = ia->family();
        const int ifindex = static_cast<int>(ia->index());
        const auto link = std::find_if(links_.begin(), links_.end(), [&](const auto& l) { return l.first == ifindex; });
        if (link == links_.end()) return true;
        const unsigned flags = link->second->ifa.ifa_flags;
        const unsigned peer_flags = family == AF_INET ? IFF_POINTOPOINT | IFF_LOOPBACK : IFF_POINTOPOINT;
        const bool peer = (flags & peer_flags) != 0;
        const auto attrs = ia->attrs().index<IFA_BROADCAST + 1>();
        AnyAddr addr{};
        if (!set_inet(addr, family, attrs[peer ? IFA_LOCAL : IFA_ADDRESS], ifindex)) return true;
        Node* n = new_node(link->second->ifa.ifa_name);
        if (n == nullptr) return false;
        n->addr = addr;
        n->ifa.ifa_addr = &n->addr.sa;
        n->ifa.ifa_flags = flags;
        if (set_inet(n->other, family, attrs[peer ? IFA_ADDRESS : IFA_BROADCAST], ifindex))
            n->ifa.ifa_ifu.ifu_broadaddr = &n->other.sa;  // ifa_dstaddr when peer
        set_netmask(n->netmask, family, ia->prefixlen());
        n->ifa.ifa_netmask = &n->netmask.sa;
        append(n);
        return true;
    }

private:
    void append(Node* n) noexcept {
        *tail_ = &n->ifa;
        tail_ = &n->ifa.ifa_next;
    }
    struct ifaddrs* head_ = nullptr;
    struct ifaddrs** tail_ = &head_;
    std::vector<std::pair<int, Node*>> links_;  // the AF_PACKET entries by ifindex
};

// add(m) for each message of a dump up to its NLMSG_DONE: 0, or -1 with errno.
template <class Add>
int for_each_entry(std::span<const std::byte> dump, Add&& add) {
    const wire::NlMessages msgs(dump);
    for (const wire::NlMsgView& m : msgs) {
        if (m.type() == NLMSG_DONE) return 0;
        if (m.type() == NLMSG_ERROR) {
            const auto e = wire::NlErrorView::parse(m.payload());
            errno = e && e->errno_value() != 0 ? e->errno_value() : EIO;
            return -1;
        }
        if (!add(m)) {
            errno = ENOMEM;
            return -1;
        }
    }
    if (!msgs.rest().empty()) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

// ---- the dialog with the stack -----------------------------------------

constexpr std::uint32_t kLinkSeq = 1, kAddrSeq = 2;
constexpr std::size_t kMinReplyBuffer = 32 * 1024;
constexpr std::size_t kMaxDump = 256u << 20;

// The socket, closed with ioth_close() (errno kept) when the call ends.
struct NlSocket {
    explicit NlSocket(int f) noexcept : fd(f) {}
    NlSocket(const NlSocket&) = delete;
    NlSocket& operator=(const NlSocket&) = delete;
    ~NlSocket() {
        const int saved = errno;
        ioth_close(fd);
        errno = saved;
    }
    int fd;
};

template <class Body>
int send_dump_request(int fd, std::uint16_t type, std::uint32_t seq) {
    struct {
        struct nlmsghdr h;
        Body body;
    } req{};
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    for (;;) {
        const ssize_t n = ioth_send(fd, &req, sizeof req, 0);
        if (n == static_cast<ssize_t>(sizeof req)) return 0;
        if (n >= 0) errno = EIO;
        if (n >= 0 || errno != EINTR) return -1;
    }
}

enum class Reply { more, done, malformed };

// Appends the messages of `seq` in a reply datagram to `dump`, each padded
// to the alignment; done at its NLMSG_DONE or NLMSG_ERROR.
Reply keep_messages(std::span<const std::byte> datagram, std::uint32_t seq, std::vector<std::byte>& dump) {
    const wire::NlMessages msgs(datagram);
    for (const wire::NlMsgView& m : msgs) {
        if (m.seq() != seq) continue;
        const auto b = m.bytes();
        dump.insert(dump.end(), b.begin(), b.end());
        dump.resize(dump.size() + (wire::nl_align(b.size()) - b.size()));
        if (m.type() == NLMSG_DONE || m.type() == NLMSG_ERROR) return Reply::done;
    }
    return msgs.rest().empty() ? Reply::more : Reply::malformed;
}

bool timed_out(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

// The replies to the dump request `seq`, into `dump`: 0, or -1 with errno.
int receive_dump(int fd, std::uint32_t seq, std::chrono::milliseconds timeout, std::vector<std::byte>& buf,
                 std::vector<std::byte>& dump) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (std::chrono::steady_clock::now() > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t size = ioth_recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
        if (size < 0) {
            if (errno == EINTR) continue;
            if (timed_out(errno)) {
                errno = ETIMEDOUT;
                return -1;
            }
            size = 0;  // a stack that cannot size it: the default buffer; recv says what is wrong
        }
        buf.resize(std::max(static_cast<std::size_t>(size), kMinReplyBuffer));
        const ssize_t n = ioth_recv(fd, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (timed_out(errno)) errno = ETIMEDOUT;
            return -1;
        }
        if (n == 0) {  // not a netlink reply (nor does it end)
            errno = EPROTO;
            return -1;
        }
        switch (keep_messages(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)), seq, dump)) {
        case Reply::done: return 0;
        case Reply::malformed: errno = EPROTO; return -1;
        case Reply::more: break;
        }
        if (dump.size() > kMaxDump) {
            errno = EMSGSIZE;
            return -1;
        }
    }
}

}  // namespace

int build_ifaddrs(std::span<const std::byte> links, std::span<const std::byte> addrs, struct ifaddrs** ifap) noexcept {
    if (ifap == nullptr) {
        errno = EINVAL;
        return -1;
    }
    *ifap = nullptr;
    try {
        ListBuilder list;
        if (for_each_entry(links, [&](const wire::NlMsgView& m) { return list.add_link(m); }) < 0) return -1;
        if (for_each_entry(addrs, [&](const wire::NlMsgView& m) { return list.add_address(m); }) < 0) return -1;
        *ifap = list.release();
        return 0;
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return -1;
    }
}

int getifaddrs_within(struct ioth* stack, struct ifaddrs** ifap, std::chrono::milliseconds timeout) noexcept {
    if (ifap == nullptr) {
        errno = EINVAL;
        return -1;
    }
    *ifap = nullptr;
    const int fd = ioth_msocket(stack, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    const NlSocket sock{fd};
    try {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
        struct timeval tv {};
        tv.tv_sec = secs.count();
        tv.tv_usec = static_cast<suseconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs).count());
        (void)ioth_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);  // best effort: the deadline bounds too
        struct sockaddr_nl local {};
        local.nl_family = AF_NETLINK;
        if (ioth_bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof local) < 0) return -1;
        std::vector<std::byte> buf, links, addrs;
        if (send_dump_request<struct ifinfomsg>(fd, RTM_GETLINK, kLinkSeq) < 0) return -1;
        if (receive_dump(fd, kLinkSeq, timeout, buf, links) < 0) return -1;
        if (send_dump_request<struct ifaddrmsg>(fd, RTM_GETADDR, kAddrSeq) < 0) return -1;
        if (receive_dump(fd, kAddrSeq, timeout, buf, addrs) < 0) return -1;
        return build_ifaddrs(links, addrs, ifap);
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
        return -1;
    }
}

}  // namespace vde::capi

#define IOTH_API extern "C" __attribute__((visibility("default")))

IOTH_API int ioth_getifaddrs(struct ioth* stack, struct ifaddrs** ifap) {
    return vde::capi::getifaddrs_within(stack, ifap, vde::capi::kIfaddrsDumpTimeout);
}

IOTH_API void ioth_freeifaddrs(struct ifaddrs* ifa) {
    while (ifa != nullptr) {
        struct ifaddrs* next = ifa->ifa_next;
        std::free(ifa);  // the whole node (see Node)
        ifa = next;
    }
}
