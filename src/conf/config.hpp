// config.hpp - iothconf's configuration strings ("eth,dhcp,ip=10.0.0.1/24")
// parsed, once and with a clear error, into a plain struct that the
// configurator (configurator.hpp) carries out.
//
// Syntax (as libstropt, which iothconf uses): items separated by ',', ';'
// or whitespace, each a tag or tag=value; '"' and '\'' quote, '\\' escapes
// the next character, so a value may hold commas. Tags are case sensitive.
//   stack=, vnl=       only where `allow_stack` (ioth_newstackc)
//   iface=NAME, ifindex=N, fqdn=NAME, mac=|macaddr=XX:XX:XX:XX:XX:XX
//   eth, dhcp|dhcp4|dhcpv4, dhcp6|dhcpv6, rd|rd6, slaac,
//   auto (eth+dhcp+dhcp6+rd), auto4|autov4 (eth+dhcp), auto6|autov6 (eth+dhcp6+rd)
//   ip=ADDR/LEN (the length is required: iothconf would guess /24 or /64),
//   gw=ADDR, dns=ADDR, domain=NAME: static data, each also with a leading
//   '-' to remove it ('-ip=ADDR' without a length: that address, any length)
//   -static, -eth, -dhcp..., -dhcp6..., -rd..., -auto|-all, -auto4, -auto6:
//   undo what that source configured
//   debug
//   timeout=SECONDS (ours, not iothconf's: how long DHCP may wait, 1..300,
//   default 10)
// Errors (vdestack::Error, EINVAL): an unknown tag, a tag that needs a value
// without one, ip= without a prefix length, a malformed address, prefix length, MAC or ifindex; stack=/vnl=
// outside ioth_newstackc. Nothing is parsed partially: it throws or returns
// the whole request.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vdestack::conf {

// The sources of configuration data, as iothconf's return mask.
enum Source : std::uint32_t {
    kStatic = 1U << 0,
    kEth = 1U << 1,
    kDhcp4 = 1U << 2,
    kDhcp6 = 1U << 3,
    kRd = 1U << 4,
    kSlaac = 1U << 5,  // a flag of kRd (not in the return mask)
};

// An IPv4 or IPv6 address.
struct Addr {
    int family = 0;  // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const Addr&) const = default;
    [[nodiscard]] std::size_t size() const noexcept { return family == 10 /*AF_INET6*/ ? 16 : 4; }
    [[nodiscard]] std::string str() const;
    // "10.0.0.1" or "fc00::1"; nullopt if it is neither.
    static std::optional<Addr> parse(std::string_view text);
};

// One item of static data (ip=, gw=, dns=, domain=), or its removal (-ip=...).
struct StaticItem {
    enum Kind { kIp, kGw, kDns, kDomain } kind = kIp;
    bool remove = false;
    Addr addr{};            // kIp, kGw, kDns
    int prefix = 0;         // kIp (0: a removal of any length)
    std::string domain;     // kDomain
    bool operator==(const StaticItem&) const = default;
};

struct ConfigRequest {
    std::uint32_t sources = 0;  // what to configure (Source bits)
    std::uint32_t clean = 0;    // what to undo first (Source bits)
    std::string iface;          // "" = vde0 (unless ifindex is set)
    unsigned ifindex = 0;       // 0 = by iface
    std::string fqdn;
    std::optional<std::array<std::uint8_t, 6>> mac;
    std::vector<StaticItem> statics;  // in the order given
    bool debug = false;
    int timeout_s = 10;      // extension timeout=SECONDS: the bound of each DHCP wait
    std::string stack, vnl;  // ioth_newstackc's
    bool operator==(const ConfigRequest&) const = default;
};

// Parses a configuration string; throws Error(EINVAL, "ioth_config: ...").
ConfigRequest parse_config(std::string_view text, bool allow_stack = false);
// ioth_resolvconf's string: iface= and ifindex= only; throws
// Error(EINVAL, "ioth_resolvconf: ...").
ConfigRequest parse_resolvconf(std::string_view text);

// The items of a configuration string, as libstropt splits them: (tag,
// value) pairs, value nullopt for a bare tag. Throws Error(EINVAL) on an
// unterminated quote.
std::vector<std::pair<std::string, std::optional<std::string>>> split_items(std::string_view text);

}  // namespace vdestack::conf
