// dns_name.hpp - domain names in DNS wire format (RFC 1035 3.1), as DHCP
// options carry them: the domain search list (DHCPv4 option 119, RFC 3397,
// with compression pointers) and DHCPv6's (option 24, RFC 8415, without);
// and the encoding of a name for the client FQDN options.
//
// decode_names() is the one checked reader: every label and pointer stays
// inside the data, a pointer must go backwards (so no loop is possible),
// a name is at most 255 bytes, and a list at most kMaxNames names. It
// returns nullopt for any malformed list, never reads out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/bytes.hpp"

namespace vdestack::wire {

inline constexpr std::size_t kMaxNames = 32;

[[nodiscard]] inline std::optional<std::vector<std::string>> decode_names(std::span<const std::byte> d,
                                                                           bool compressed) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < d.size()) {
        if (out.size() == kMaxNames) return std::nullopt;
        std::string name;
        std::size_t i = at, end_of_name = 0;
        bool jumped = false;
        for (;;) {
            if (i >= d.size()) return std::nullopt;
            const std::uint8_t len = u8(d.data() + i);
            if (len == 0) {
                if (!jumped) end_of_name = i + 1;
                break;
            }
            if ((len & 0xc0) == 0xc0) {
                if (!compressed || i + 1 >= d.size()) return std::nullopt;
                const std::size_t target = ((len & 0x3fu) << 8) | u8(d.data() + i + 1);
                if (target >= i) return std::nullopt;  // only backwards: no loops
                if (!jumped) end_of_name = i + 2;
                jumped = true;
                i = target;
                continue;
            }
            if ((len & 0xc0) != 0 || i + 1 + len > d.size()) return std::nullopt;
            if (!name.empty()) name += '.';
            name.append(reinterpret_cast<const char*>(d.data() + i + 1), len);
            if (name.size() > 253) return std::nullopt;
            i += 1 + len;
        }
        if (!name.empty()) out.push_back(std::move(name));
        at = end_of_name;
    }
    return out;
}

// "host.example.org" (a trailing '.' ignored) in wire format, with its root
// label; empty if a label is empty or longer than 63 bytes.
[[nodiscard]] inline std::vector<std::byte> encode_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::vector<std::byte> out;
    while (!name.empty()) {
        const std::size_t dot = name.find('.');
        const std::string_view label = name.substr(0, dot);
        if (label.empty() || label.size() > 63) return {};
        out.push_back(static_cast<std::byte>(label.size()));
        for (char c : label) out.push_back(static_cast<std::byte>(c));
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    out.push_back(std::byte{0});
    return out;
}

}  // namespace vdestack::wire
