// frames.hpp - test frames: MAC addresses, and Ethernet frames whose bytes
// depend on a seed, so that what arrives can be compared with what was sent.
// Part of the tests' support library: no dependency on the library's code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vdetest {

using Frame = std::vector<std::byte>;
using Mac = std::array<std::byte, 6>;

inline constexpr Mac kBroadcast = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                                   std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
// The local experimental EtherType: no stack on the path takes it for its own.
inline constexpr std::uint16_t kTestEtherType = 0x88b5;

// A locally administered unicast MAC, 02:00:5e:<family>:00:<n>; each test
// file uses a family of its own, so that frames of two files never mix.
inline Mac mac_of(std::uint8_t family, std::uint8_t n) {
    return {std::byte{0x02}, std::byte{0x00}, std::byte{0x5e}, std::byte{family}, std::byte{0x00}, std::byte{n}};
}

// A frame of `len` bytes in all (at least 14; 18 with a tag): dst, src, an
// 802.1Q tag when vlan >= 0, the EtherType, then a payload whose bytes
// depend on their offset in it and on `seed` (the same with or without the tag).
inline Frame make_frame(const Mac& dst, const Mac& src, std::size_t len, std::uint8_t seed = 0, int vlan = -1,
                        std::uint16_t ethertype = kTestEtherType) {
    Frame f;
    f.reserve(len);
    f.insert(f.end(), dst.begin(), dst.end());
    f.insert(f.end(), src.begin(), src.end());
    if (vlan >= 0) {
        f.push_back(std::byte{0x81});
        f.push_back(std::byte{0x00});
        f.push_back(static_cast<std::byte>((vlan >> 8) & 0x0f));
        f.push_back(static_cast<std::byte>(vlan & 0xff));
    }
    f.push_back(static_cast<std::byte>(ethertype >> 8));
    f.push_back(static_cast<std::byte>(ethertype & 0xff));
    for (std::size_t k = 0; f.size() < len; k++) f.push_back(static_cast<std::byte>((k * 7 + seed) & 0xff));
    f.resize(len);
    return f;
}

// A broadcast frame from mac_of(family, seed).
inline Frame make_frame(std::uint8_t family, std::size_t len, std::uint8_t seed) {
    return make_frame(kBroadcast, mac_of(family, seed), len, seed);
}

}  // namespace vdetest
