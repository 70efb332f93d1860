// mactable.cpp - PeerAddr, the value of the UDP transports' MAC table
// (mactable.hpp; the table itself is learn_table.hpp).
#include "plug/udp/mactable.hpp"

#include <arpa/inet.h>

#include <cstddef>
#include <cstring>

namespace vdestack::plug {

PeerAddr::PeerAddr() noexcept { std::memset(&addr, 0, sizeof addr); }

PeerAddr PeerAddr::from(const sockaddr* sa, socklen_t salen) noexcept {
    PeerAddr p;
    if (sa == nullptr || salen < static_cast<socklen_t>(sizeof(sa_family_t))) return p;
    sa_family_t family = 0;
    std::memcpy(&family, reinterpret_cast<const char*>(sa) + offsetof(sockaddr, sa_family), sizeof family);
    if (family == AF_INET && salen >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in in{};
        std::memcpy(&in, sa, sizeof in);
        p.addr.v4.sin_family = AF_INET;
        p.addr.v4.sin_port = in.sin_port;
        p.addr.v4.sin_addr = in.sin_addr;
        p.len = sizeof(sockaddr_in);
    } else if (family == AF_INET6 && salen >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, sa, sizeof in6);
        p.addr.v6.sin6_family = AF_INET6;
        p.addr.v6.sin6_port = in6.sin6_port;
        p.addr.v6.sin6_addr = in6.sin6_addr;
        p.addr.v6.sin6_scope_id = in6.sin6_scope_id;
        p.len = sizeof(sockaddr_in6);
    }
    return p;
}

std::uint16_t PeerAddr::port() const noexcept {
    switch (family()) {
    case AF_INET: return ntohs(addr.v4.sin_port);
    case AF_INET6: return ntohs(addr.v6.sin6_port);
    default: return 0;
    }
}

bool operator==(const PeerAddr& a, const PeerAddr& b) noexcept {
    return a.len == b.len && std::memcmp(&a.addr, &b.addr, a.len) == 0;
}

}  // namespace vdestack::plug
