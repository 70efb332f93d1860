// mcast_report.hpp - a checked reading of the multicast membership reports a
// host sends: IGMP v1/v2/v3 (IPv4) and MLD v1/v2 (IPv6), the messages an
// "IGMP/MLD snooping" switch listens to in order to forward a group's frames
// only to the ports that joined it (RFC 4541).
//
// for_each_membership(frame, visit) parses an Ethernet frame (untagged or
// tagged, wire/ethernet.hpp) once: an IPv4 datagram of protocol 2 (IGMP), or
// an IPv6 packet whose upper layer (after hop-by-hop/destination options,
// wire/ip.hpp) is ICMPv6 with an MLD report or done. Every group it names is
// shown to visit(Group), in order; a v3/v2 record that does not fit stops the
// walk (the records before it count). Checksums are not verified: the
// reports read here are our own stacks' (the snooper sits on their tap side).
//
// What is a join: IGMPv1/v2 and MLDv1 reports join; IGMPv2 leave and MLD
// done leave. v3/v2 records (RFC 3376 4.2.12, RFC 3810 5.2.12):
// MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE and ALLOW_NEW_SOURCES join;
// MODE_IS_INCLUDE and CHANGE_TO_INCLUDE join with sources and leave without;
// BLOCK_OLD_SOURCES changes nothing (we do not track sources, so a host stays
// a member until it says so). Groups that are not multicast are skipped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/ip.hpp"

namespace vdestack::wire {

inline constexpr std::uint8_t kProtoIgmp = 2;
inline constexpr std::uint8_t kProtoIcmp6 = 58;

struct McastGroup {
    int family = 0;                     // AF_INET (2) or AF_INET6 (10)
    std::array<std::byte, 16> addr{};   // IPv4: the first 4 bytes
    bool join = false;
    // The Ethernet group address the group's frames are sent to
    // (01:00:5e + low 23 bits; 33:33 + low 32 bits).
    [[nodiscard]] std::array<std::byte, 6> mac() const noexcept {
        if (family == 2)
            return {std::byte{0x01}, std::byte{0x00}, std::byte{0x5e}, addr[1] & std::byte{0x7f}, addr[2], addr[3]};
        return {std::byte{0x33}, std::byte{0x33}, addr[12], addr[13], addr[14], addr[15]};
    }
};

namespace mcast_detail {

// v3 (IGMP, 4-byte addresses) and MLDv2 (16-byte) record types.
inline constexpr std::uint8_t kIsInclude = 1, kIsExclude = 2, kToInclude = 3, kToExclude = 4, kAllow = 5,
                              kBlock = 6;

template <class Visit>
void records(std::span<const std::byte> m, std::size_t alen, int family, Visit& visit) noexcept {
    if (m.size() < 8) return;
    const std::size_t nrec = be16(m.data() + 6);
    std::size_t p = 8;
    for (std::size_t r = 0; r < nrec; r++) {
        if (m.size() < p + 4 + alen) return;
        const std::uint8_t type = u8(m.data() + p);
        const std::size_t aux = std::size_t{u8(m.data() + p + 1)} * 4;
        const std::size_t nsrc = be16(m.data() + p + 2);
        const std::size_t len = 4 + alen + nsrc * alen + aux;
        if (m.size() < p + len) return;
        McastGroup g;
        g.family = family;
        for (std::size_t i = 0; i < alen; i++) g.addr[i] = m[p + 4 + i];
        bool known = true;
        switch (type) {
            case kIsExclude: case kToExclude: case kAllow: g.join = true; break;
            case kIsInclude: case kToInclude: g.join = nsrc > 0; break;
            case kBlock: known = false; break;
            default: known = false; break;
        }
        const bool mcast = family == 2 ? (std::to_integer<unsigned>(g.addr[0]) & 0xf0u) == 0xe0u
                                       : g.addr[0] == std::byte{0xff};
        if (known && mcast) visit(g);
        p += len;
    }
}

template <class Visit>
void one(std::span<const std::byte> group, int family, bool join, Visit& visit) noexcept {
    McastGroup g;
    g.family = family;
    g.join = join;
    for (std::size_t i = 0; i < group.size(); i++) g.addr[i] = group[i];
    const bool mcast = family == 2 ? (std::to_integer<unsigned>(g.addr[0]) & 0xf0u) == 0xe0u
                                   : g.addr[0] == std::byte{0xff};
    if (mcast) visit(g);
}

}  // namespace mcast_detail

// Visits every group that `frame` (an Ethernet frame) reports joined or left.
// True when the frame is a membership report or leave (even one naming no
// group), false otherwise (nothing visited). Never reads outside `frame`.
template <class Visit>
bool for_each_membership(std::span<const std::byte> frame, Visit&& visit) noexcept {
    using namespace mcast_detail;
    const auto eth = EthernetView::parse(frame);
    if (!eth) return false;
    if (eth->ethertype() == kEtherIPv4) {
        const auto ip = Ipv4View::parse(eth->payload());
        if (!ip || ip->protocol() != kProtoIgmp || ip->is_fragment()) return false;
        const std::span<const std::byte> m = ip->payload();
        if (m.size() < 8) return false;
        switch (u8(m.data())) {
            case 0x12: case 0x16: one(m.subspan(4, 4), 2, true, visit); return true;  // v1, v2 report
            case 0x17: one(m.subspan(4, 4), 2, false, visit); return true;            // v2 leave
            case 0x22: records(m, 4, 2, visit); return true;                          // v3 report
            default: return false;
        }
    }
    if (eth->ethertype() == kEtherIPv6) {
        const auto ip = Ipv6View::parse(eth->payload());
        if (!ip) return false;
        const auto up = ip->upper();
        if (!up || up->protocol != kProtoIcmp6) return false;
        const std::span<const std::byte> m = ip->bytes().subspan(up->offset);
        if (m.size() < 8) return false;
        switch (u8(m.data())) {
            case 131: case 132:  // MLDv1 report, done
                if (m.size() < 24) return false;
                one(m.subspan(8, 16), 10, u8(m.data()) == 131, visit);
                return true;
            case 143: records(m, 16, 10, visit); return true;  // MLDv2 report
            default: return false;
        }
    }
    return false;
}

}  // namespace vdestack::wire
