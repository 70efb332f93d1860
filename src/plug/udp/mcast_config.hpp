// mcast_config.hpp - the VNL options that vxvde:// and vxlan:// share: both
// are multicast UDP segments, and vdeplug4 gives them the same keys for the
// same things (port, v4/v6, ttl, hashsize, expiretime, rcvbuf, if) and the
// same kind of address (a numeric multicast group). Each transport parses
// its own key table (the order decides prefix matches) and its own keys
// (vni, grp, bind), then hands the rest to parse_mcast().
//
// Errors: Error(EINVAL) naming the VNL and the key or the address (bad
// value, not multicast, not numeric), Error(ENODEV) for an unknown `if`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "plug/udp/mactable.hpp"
#include "vnl/vnl.hpp"

namespace vdestack::plug {

struct McastDefaults {
    const char* group4;  // the group when the VNL names none (IPv4, or IPv6 with /v6)
    const char* group6;
    std::uint16_t port;
    int ttl;
    std::size_t hashsize;
    std::int64_t expire;  // seconds
};

struct McastConfig {
    PeerAddr group;       // group:port, IPv6 interface-/link-local groups scoped to ifindex
    int ttl = 1;
    unsigned ifindex = 0;  // 0: the default interface
    std::size_t hashsize = 0;
    std::int64_t expire = 0;
    std::optional<int> rcvbuf;  // rcvbuf=: set exactly (else a best-effort default)
};

// `low24`: replaces the group address's low 24 bits (vxvde's grp=).
[[nodiscard]] McastConfig parse_mcast(const vnl::Parsed& p, std::string_view vnl_text, const McastDefaults& d,
                                      std::optional<std::uint32_t> low24 = std::nullopt);

}  // namespace vdestack::plug
