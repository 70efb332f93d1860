// hash.cpp - upstream iothconf's name-based MAC and IPv6 address, and its
// EUI-64 (see hash.hpp for the promise and the byte layout).
#include "conf/hash.hpp"

#include <cstddef>

#include "conf/md5.hpp"

namespace vdestack::conf {
namespace {

// The digest of a name, without one trailing '.'; of "" for "" (hash.hpp).
Md5Digest name_digest(std::string_view fqdn) noexcept {
    if (!fqdn.empty() && fqdn.back() == '.') fqdn.remove_suffix(1);
    return md5(fqdn);
}

constexpr std::uint8_t kLocal = 0x02;      // the locally administered (u/l) bit of byte 0
constexpr std::uint8_t kMulticast = 0x01;  // the group (i/g) bit of byte 0

}  // namespace

std::array<std::uint8_t, 6> hash_mac(std::string_view fqdn) noexcept {
    const Md5Digest d = name_digest(fqdn);
    std::array<std::uint8_t, 6> mac{d[0], d[1], d[2], d[5], d[6], d[7]};
    mac[0] = static_cast<std::uint8_t>((mac[0] | kLocal) & ~kMulticast);
    return mac;
}

void hash_addr6(std::array<std::uint8_t, 16>& addr, std::string_view fqdn) noexcept {
    const Md5Digest d = name_digest(fqdn);
    for (std::size_t i = 0; i < 8; ++i) addr[8 + i] ^= d[i];
    addr[8] &= static_cast<std::uint8_t>(~(kLocal | kMulticast));
}

std::array<std::uint8_t, 16> eui64(const std::array<std::uint8_t, 16>& prefix_addr,
                                   const std::array<std::uint8_t, 6>& mac) noexcept {
    std::array<std::uint8_t, 16> addr = prefix_addr;
    for (std::size_t i = 0; i < 3; ++i) addr[8 + i] = mac[i];
    addr[11] = 0xff;
    addr[12] = 0xfe;
    for (std::size_t i = 3; i < 6; ++i) addr[10 + i] ^= mac[i];  // XOR, as upstream (hash.hpp)
    addr[8] ^= kLocal;
    return addr;
}

}  // namespace vdestack::conf
