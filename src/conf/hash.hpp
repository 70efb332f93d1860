// hash.hpp - addresses made from a host name, as upstream iothconf makes them
// (iothconf_hash.c: iothconf_hashmac, iothconf_hashaddr6, iothconf_eui64).
//
// Compatibility promise: for every name a C string can hold, and every input
// address, these give the very bytes upstream iothconf gives, so that a node
// configured by vdestack++ gets the same MAC and the same IPv6 addresses as
// with upstream (the same name, the same neighbours' caches, the same DNS).
// Do not "fix" them: the test golden values (tests/unit/md5.cpp) were
// computed from upstream's algorithm and pin it.
//
// The name: one trailing '.' (the root of a fully qualified name) is dropped
// before hashing, so "host.example." and "host.example" give the same bytes;
// only one: "a.." hashes as "a.". An empty name (upstream reads name[-1]
// there) hashes the empty message, as does "."; the MAC of both is
// d6:1d:8c:00:b2:04. Every byte of the view is hashed: upstream, a C string,
// stops at the first NUL, which a valid name does not contain.
// All thread-safe, no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vdestack::conf {

// The MAC of a name: digest bytes 0, 1, 2, 5, 6, 7, then the locally
// administered bit set and the multicast bit cleared.
[[nodiscard]] std::array<std::uint8_t, 6> hash_mac(std::string_view fqdn) noexcept;

// Mixes a name into the interface id of an IPv6 address: addr bytes 8..15
// XOR= digest bytes 0..7, then addr[8] &= ~0x3 (its u and g bits cleared).
// Bytes 0..7 (the prefix) are left alone.
void hash_addr6(std::array<std::uint8_t, 16>& addr, std::string_view fqdn) noexcept;

// The modified EUI-64 address of a MAC, over prefix_addr: bytes 0..7 are
// prefix_addr's, 8..10 = mac[0..2] (then byte 8 ^= 0x2, the u bit inverted),
// 11..12 = ff fe, and 13..15 = prefix_addr[13..15] XOR mac[3..5]. That last
// one is upstream's, an XOR and not an assignment: it is RFC 4291's EUI-64
// only when prefix_addr's bytes 13..15 are zero, as they are for a bare
// prefix; an address with other bits there keeps them, mixed with the MAC.
[[nodiscard]] std::array<std::uint8_t, 16> eui64(const std::array<std::uint8_t, 16>& prefix_addr,
                                                 const std::array<std::uint8_t, 6>& mac) noexcept;

}  // namespace vdestack::conf
