// fuzz_ifaddrs.cpp - libFuzzer target: ioth_getifaddrs() on arbitrary
// replies (src/api/ioth_ifaddrs.cpp, its ioth_* calls served here).
// Byte 0 chooses:
//   even: build_ifaddrs() on the rest, split by a 2-byte length (little
//         endian) into the RTM_GETLINK and the RTM_GETADDR dump;
//   odd:  the whole dialog, getifaddrs_within(), with a fake stack whose
//         replies are the rest cut into datagrams (each a 2-byte length,
//         then its bytes), served in order to both requests. Bit 1: the
//         messages of each datagram get the request's sequence number;
//         bit 2: the stack's MSG_PEEK|MSG_TRUNC fails (the default buffer).
// Every entry of a list is read whole (its name, each sockaddr as long as
// its family's, the statistics) so that the sanitizers see a bad pointer,
// then the list is freed node by node; a result must be 0 with a list or
// -1 with errno and no list.
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "api/ifaddrs_build.hpp"
#include "ioth.h"
#include "wire/netlink.hpp"

struct ioth {};

namespace {

struct Fake {
    std::vector<std::vector<std::byte>> datagrams;
    std::size_t next = 0;
    std::uint32_t seq = 0;
    bool patch_seq = false, no_peek = false;
} g;

void touch(const struct sockaddr* sa) {
    if (sa == nullptr) return;
    std::size_t len = sizeof(sa_family_t);
    switch (sa->sa_family) {
    case AF_PACKET:
        len = sizeof(sockaddr_ll);
        if (reinterpret_cast<const sockaddr_ll*>(sa)->sll_halen > 8) __builtin_trap();
        break;
    case AF_INET: len = sizeof(sockaddr_in); break;
    case AF_INET6: len = sizeof(sockaddr_in6); break;
    default: __builtin_trap();
    }
    unsigned char copy[sizeof(sockaddr_in6) > sizeof(sockaddr_ll) ? sizeof(sockaddr_in6) : sizeof(sockaddr_ll)];
    std::memcpy(copy, sa, len);
}

void check(int r, struct ifaddrs* list) {
    if (r != 0 && (r != -1 || errno == 0 || list != nullptr)) __builtin_trap();
    for (const struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_name == nullptr || i->ifa_addr == nullptr) __builtin_trap();
        (void)std::strlen(i->ifa_name);
        touch(i->ifa_addr);
        touch(i->ifa_netmask);
        touch(i->ifa_broadaddr);
        if (i->ifa_data != nullptr) {
            rtnl_link_stats s;
            std::memcpy(&s, i->ifa_data, sizeof s);
        }
    }
    ioth_freeifaddrs(list);
}

}  // namespace

extern "C" int ioth_msocket(struct ioth*, int, int, int) { return 1000; }  // a fake fd: never used as one
extern "C" int ioth_bind(int, const struct sockaddr*, socklen_t) { return 0; }
extern "C" int ioth_setsockopt(int, int, int, const void*, socklen_t) { return 0; }
extern "C" int ioth_close(int) { return 0; }
extern "C" ssize_t ioth_send(int, const void* buf, size_t len, int) {
    const auto req = vdestack::wire::NlMsgView::parse({static_cast<const std::byte*>(buf), len});
    if (!req) __builtin_trap();  // our own requests are whole messages
    g.seq = req->seq();
    return static_cast<ssize_t>(len);
}
extern "C" ssize_t ioth_recv(int, void* buf, size_t len, int flags) {
    if (g.next >= g.datagrams.size()) {
        errno = EAGAIN;
        return -1;
    }
    std::vector<std::byte>& d = g.datagrams[g.next];
    if ((flags & MSG_PEEK) != 0) {
        if (g.no_peek) {
            errno = EOPNOTSUPP;
            return -1;
        }
        return static_cast<ssize_t>(d.size());
    }
    if (g.patch_seq)
        for (const auto& m : vdestack::wire::NlMessages(d))
            std::memcpy(d.data() + (m.bytes().data() - d.data()) + offsetof(nlmsghdr, nlmsg_seq), &g.seq, 4);
    const std::size_t n = d.size() < len ? d.size() : len;
    if (n > 0) std::memcpy(buf, d.data(), n);
    g.next++;
    return static_cast<ssize_t>(n);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const unsigned mode = data[0];
    const auto* p = reinterpret_cast<const std::byte*>(data + 1);
    std::size_t n = size - 1;
    struct ifaddrs* list = nullptr;
    errno = 0;
    if ((mode & 1) == 0) {
        std::size_t cut = n >= 2 ? (data[1] | (std::size_t{data[2]} << 8)) : 0;
        if (n >= 2) {
            p += 2;
            n -= 2;
        }
        if (cut > n) cut = n;
        const int r = vde::capi::build_ifaddrs({p, cut}, {p + cut, n - cut}, &list);
        check(r, list);
        return 0;
    }
    g = Fake{};
    g.patch_seq = (mode & 2) != 0;
    g.no_peek = (mode & 4) != 0;
    while (n >= 2) {
        std::size_t len = std::to_integer<std::size_t>(p[0]) | (std::to_integer<std::size_t>(p[1]) << 8);
        p += 2;
        n -= 2;
        if (len > n) len = n;
        g.datagrams.emplace_back(p, p + len);
        p += len;
        n -= len;
    }
    const int r = vde::capi::getifaddrs_within(nullptr, &list, std::chrono::seconds(1));  // the fake never blocks
    check(r, list);
    return 0;
}
