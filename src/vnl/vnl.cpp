// vnl.cpp - the Virtual Network Locator parser (see vnl.hpp): splits a VNL into
// scheme and rest, then parses the rest in vdeplug4's IP style
// (address/key=value/...) or path style (path[key=value/...]). Parsing works in
// two steps: a structural scan finds the separators ('/', '=', '[', ']') that are
// neither quoted nor escaped, then each piece is decoded on its own (quotes
// removed, '\' escapes resolved, %XX turned into a byte). Quoting rules, used
// identically by both steps: '\' makes the next character literal anywhere (a
// trailing lone '\' stays as is); '...' and "..." make separators literal and
// are removed, only the matching quote ends them, and an unterminated quote is
// an error; %XX (two hex digits) is decoded anywhere except right after '\',
// any other '%' stays literal. Option keys are resolved against the caller's
// table: exact match, else the first table key the token is a prefix of, else
// the table's "" default entry for a bare word, else EINVAL. Every input is
// bounds-checked; the only failure mode is vdestack::Error(EINVAL, ...).
#include "vnl/vnl.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/error.hpp"
#include "base/nss.hpp"

namespace vdestack::vnl {
namespace {

constexpr std::string_view kSchemeSep = "://";

[[noreturn]] void invalid(std::string_view vnl, const std::string& what) {
    fail(EINVAL, std::string(vnl) + ": " + what);
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_quote(char c) { return c == '\'' || c == '"'; }

// Positions in `s` of the characters listed in `seps` that are neither quoted
// nor escaped, in increasing order. Throws on an unterminated quote.
std::vector<std::size_t> structural(std::string_view s, std::string_view seps, std::string_view vnl) {
    std::vector<std::size_t> out;
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); i++) {
        const char c = s[i];
        if (c == '\\') {
            i++;  // skip the escaped character (if any)
        } else if (quote != 0) {
            if (c == quote) quote = 0;
        } else if (is_quote(c)) {
            quote = c;
        } else if (seps.find(c) != std::string_view::npos) {
            out.push_back(i);
        }
    }
    if (quote != 0) invalid(vnl, std::string("unterminated quote (") + quote + ") in '" + std::string(s) + "'");
    return out;
}

// Removes quotes, resolves '\' escapes and decodes %XX. `s` must have balanced
// quotes (checked by structural() beforehand; an open quote just runs to the end).
std::string decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); i++) {
        const char c = s[i];
        if (c == '\\') {
            if (i + 1 < s.size()) {
                out.push_back(s[++i]);
            } else {
                out.push_back(c);
            }
        } else if (quote != 0 && c == quote) {
            quote = 0;
        } else if (quote == 0 && is_quote(c)) {
            quote = c;
        } else if (c == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Splits `s` at its structural '/' (s must start outside any quote).
std::vector<std::string_view> split_tokens(std::string_view s, std::string_view vnl) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t pos : structural(s, "/", vnl)) {
        out.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
    out.push_back(s.substr(start));
    return out;
}

// Canonical table key for `key`: exact match, else first prefix match.
std::optional<std::string_view> match_key(std::string_view key, std::span<const std::string_view> keys) {
    for (std::string_view k : keys)
        if (k == key) return k;
    if (key.empty()) return std::nullopt;
    for (std::string_view k : keys)
        if (k.starts_with(key)) return k;
    return std::nullopt;
}

// Parses the '/'-separated option list `opts` into `out.options`.
void parse_options(std::string_view opts, std::span<const std::string_view> keys, std::string_view vnl,
                   Parsed& out) {
    for (std::string_view token : split_tokens(opts, vnl)) {
        if (token.empty()) continue;
        const std::vector<std::size_t> eq = structural(token, "=", vnl);
        if (eq.empty()) {
            std::string word = decode(token);
            if (word.empty()) continue;  // e.g. '' : nothing to say
            if (auto k = match_key(word, keys)) {
                out.options.emplace_back(std::string(*k), "");
            } else if (!keys.empty() && keys.front().empty()) {
                out.options.emplace_back("", std::move(word));
            } else {
                invalid(vnl, "unknown option '" + word + "'");
            }
            continue;
        }
        std::string key = decode(token.substr(0, eq.front()));
        std::string value = decode(token.substr(eq.front() + 1));
        if (key.empty()) invalid(vnl, "missing option name before '=' in '" + std::string(token) + "'");
        auto k = match_key(key, keys);
        if (!k) invalid(vnl, "unknown option '" + key + "'");
        out.options.emplace_back(std::string(*k), std::move(value));
    }
}

}  // namespace

Locator split(std::string_view vnl) {
    const std::size_t pos = vnl.find(kSchemeSep);
    if (pos == std::string_view::npos) return Locator{"vde", std::string(vnl)};
    return Locator{std::string(vnl.substr(0, pos)), std::string(vnl.substr(pos + kSchemeSep.size()))};
}

bool Parsed::has(std::string_view key) const {
    for (const auto& [k, v] : options)
        if (k == key) return true;
    return false;
}

std::optional<std::string> Parsed::get(std::string_view key) const {
    for (auto it = options.rbegin(); it != options.rend(); ++it)
        if (it->first == key) return it->second;
    return std::nullopt;
}

Parsed parse_ip_style(std::string_view rest, std::span<const std::string_view> keys, std::string_view vnl) {
    Parsed out;
    const std::vector<std::size_t> slashes = structural(rest, "/", vnl);
    if (slashes.empty()) {
        out.address = decode(rest);
        return out;
    }
    out.address = decode(rest.substr(0, slashes.front()));
    parse_options(rest.substr(slashes.front() + 1), keys, vnl, out);
    return out;
}

Parsed parse_path_style(std::string_view rest, std::span<const std::string_view> keys, std::string_view vnl) {
    Parsed out;
    const std::vector<std::size_t> brackets = structural(rest, "[]", vnl);
    std::size_t open = std::string_view::npos;
    std::size_t close = std::string_view::npos;
    for (std::size_t pos : brackets) {
        if (rest[pos] == '[') {
            if (open == std::string_view::npos) open = pos;
        } else if (open != std::string_view::npos) {
            close = pos;  // the last ']' after the first '['
        }
    }
    if (open == std::string_view::npos) {
        out.address = decode(rest);
        return out;
    }
    if (close == std::string_view::npos) invalid(vnl, "missing ']' after '['");
    if (close + 1 < rest.size())
        invalid(vnl, "unexpected text '" + std::string(rest.substr(close + 1)) + "' after ']'");
    out.address = decode(rest.substr(0, open));
    parse_options(rest.substr(open + 1, close - open - 1), keys, vnl, out);
    return out;
}

std::uint64_t parse_number(std::string_view value, std::string_view key, std::string_view vnl,
                           std::uint64_t max) {
    auto bad = [&]() -> void {
        invalid(vnl, "bad value '" + std::string(value) + "' for option '" + std::string(key) + "'");
    };
    std::string_view v = value;
    if (v.empty()) bad();
    unsigned shift = 0;
    switch (v.back()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift != 0) v.remove_suffix(1);
    unsigned base = 10;
    if (v.size() >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v.remove_prefix(2);
    }
    if (v.empty()) bad();
    std::uint64_t n = 0;
    for (char c : v) {
        const int d = hex_digit(c);
        if (d < 0 || static_cast<unsigned>(d) >= base) bad();
        const auto ud = static_cast<std::uint64_t>(d);
        if (n > (UINT64_MAX - ud) / base) bad();
        n = n * base + ud;
    }
    if (n > (UINT64_MAX >> shift)) bad();
    n <<= shift;
    if (n > max) bad();
    return n;
}

void bad_value(std::string_view value, std::string_view key, std::string_view vnl) {
    invalid(vnl, "bad value '" + std::string(value) + "' for option '" + std::string(key) + "'");
}

mode_t parse_mode(std::string_view value, std::string_view key, std::string_view vnl) {
    if (value.empty() || value.size() > 6) bad_value(value, key, vnl);
    unsigned m = 0;
    for (char c : value) {
        if (c < '0' || c > '7') bad_value(value, key, vnl);
        m = m * 8 + static_cast<unsigned>(c - '0');
    }
    if (m > 07777) bad_value(value, key, vnl);
    return static_cast<mode_t>(m);
}

gid_t parse_group(const std::string& value, std::string_view key, std::string_view vnl) {
    if (value.empty()) bad_value(value, key, vnl);
    if (const auto gid = group_id_of(value)) return *gid;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return static_cast<gid_t>(parse_number(value, key, vnl, 0xfffffffeU));
    invalid(vnl, "unknown group '" + value + "' for option '" + std::string(key) + "'");
}

}  // namespace vdestack::vnl
