// vnl.hpp - parsing Virtual Network Locators the way vdeplug4 does.
//
// A VNL is "scheme://rest"; a string without "://" means "vde://" + the string
// (a bare path names a vde_switch). Transports then parse `rest` in one of two
// styles:
//   IP style   (vxvde, vxlan, udp):  address[/key[=value]]...
//              the address is everything before the first unquoted '/'.
//   path style (vde, switch, hub):   path[key=value/key/...]
//              options run from the first '[' to the last unquoted ']'.
// Both styles: '...' and "..." quote, '\' escapes the next character, %XX is
// decoded as a hex byte. Keys are matched exactly, else by prefix; when a prefix
// matches several keys the first in the table wins (vdeplug4's rule: "p" means
// "port" when the table lists port before portgroup). A table whose first entry
// is "" takes a bare word that matches no key as the value of that entry
// (vde:///sw[3] == vde:///sw[port=3]). A repeated key: the last one wins.
//
// Errors throw vdestack::Error(EINVAL, "<vnl>: unknown option 'k'") or
// "<vnl>: bad value 'v' for option 'k'". Pure functions, thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vdestack::vnl {

struct Locator {
    std::string scheme;  // as given, e.g. "vxvde" (case-sensitive, as vdeplug4 takes it)
    std::string rest;    // what follows "://" (or the whole string for a bare path)
};

// Splits a VNL at "://". Never throws.
Locator split(std::string_view vnl);

struct Parsed {
    std::string address;  // IP style: before the first '/'; path style: the path (decoded)
    // canonical key (from the table) -> value ("" for a bare flag such as "/v6")
    std::vector<std::pair<std::string, std::string>> options;

    [[nodiscard]] bool has(std::string_view key) const;
    // Value of the last occurrence of key, if present.
    [[nodiscard]] std::optional<std::string> get(std::string_view key) const;
};

// `keys` is the option table in priority order. `vnl` is the whole locator,
// used only in error messages.
Parsed parse_ip_style(std::string_view rest, std::span<const std::string_view> keys, std::string_view vnl);
Parsed parse_path_style(std::string_view rest, std::span<const std::string_view> keys, std::string_view vnl);

// Unsigned number with optional k/m/g/t suffix (x1024^n), decimal or 0x hex.
// Throws Error(EINVAL, "<vnl>: bad value '<value>' for option '<key>'") when it
// does not parse or exceeds max.
std::uint64_t parse_number(std::string_view value, std::string_view key, std::string_view vnl,
                           std::uint64_t max = UINT64_MAX);

// Throws Error(EINVAL, "<vnl>: bad value '<value>' for option '<key>'"): the
// error of every option parser here, for the checks transports add.
[[noreturn]] void bad_value(std::string_view value, std::string_view key, std::string_view vnl);

// A permission mode in octal (vdeplug4 reads mode= in base 8): 1 to 6 octal
// digits, at most 07777; else bad_value().
mode_t parse_mode(std::string_view value, std::string_view key, std::string_view vnl);

// A group: its name, else its number (all digits, at most 0xfffffffe).
// Error(EINVAL, "<vnl>: unknown group '<value>' for option '<key>'") when it is
// neither; an empty value is bad_value(). Reads the group database (NSS).
gid_t parse_group(const std::string& value, std::string_view key, std::string_view vnl);

}  // namespace vdestack::vnl
