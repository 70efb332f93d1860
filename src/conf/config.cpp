// config.cpp - parsing iothconf's configuration strings (see config.hpp).
#include "conf/config.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

#include "base/error.hpp"

namespace vdestack::conf {

namespace {

[[noreturn]] void bad(const std::string& what) { fail(EINVAL, "ioth_config: " + what); }

bool separator(char c) { return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\n'; }

template <class T>
std::optional<T> number(std::string_view s) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<std::array<std::uint8_t, 6>> parse_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    std::array<std::uint8_t, 6> m{};
    const char sep = s[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    for (std::size_t i = 0; i < 6; i++) {
        if (i > 0 && s[i * 3 - 1] != sep) return std::nullopt;
        std::uint8_t b = 0;
        auto [p, ec] = std::from_chars(s.data() + i * 3, s.data() + i * 3 + 2, b, 16);
        if (ec != std::errc() || p != s.data() + i * 3 + 2) return std::nullopt;
        m[i] = b;
    }
    return m;
}

const std::string& need(const std::string& tag, const std::optional<std::string>& v) {
    if (!v || v->empty()) bad(tag + " needs a value (" + tag + "=...)");
    return *v;
}

}  // namespace

std::string Addr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<Addr> Addr::parse(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
    const std::string t(text);
    Addr a;
    if (::inet_pton(AF_INET, t.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (::inet_pton(AF_INET6, t.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::optional<std::string>>> split_items(std::string_view text) {
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    std::string tag, value;
    bool in_value = false, any = false;
    char quote = 0;
    auto flush = [&] {
        if (any) out.emplace_back(tag, in_value ? std::optional<std::string>(value) : std::nullopt);
        tag.clear();
        value.clear();
        in_value = any = false;
    };
    for (std::size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (c == '\\' && i + 1 < text.size()) {
            c = text[++i];
        } else if (quote != 0) {
            if (c == quote) {
                quote = 0;
                continue;
            }
        } else if (c == '"' || c == '\'') {
            quote = c;
            any = true;
            continue;
        } else if (separator(c)) {
            flush();
            continue;
        } else if (c == '=' && !in_value) {
            in_value = any = true;
            continue;
        }
        (in_value ? value : tag) += c;
        any = true;
    }
    if (quote != 0) bad("unterminated quote");
    flush();
    return out;
}

ConfigRequest parse_config(std::string_view text, bool allow_stack) {
    ConfigRequest r;
    for (const auto& [tag, v] : split_items(text)) {
        const bool minus = !tag.empty() && tag[0] == '-';
        const std::string_view t = minus ? std::string_view(tag).substr(1) : std::string_view(tag);
        std::uint32_t& set = minus ? r.clean : r.sources;
        if (t == "eth") {
            set |= kEth;
        } else if (t == "dhcp" || t == "dhcp4" || t == "dhcpv4") {
            set |= kDhcp4;
        } else if (t == "dhcp6" || t == "dhcpv6") {
            set |= kDhcp6;
        } else if (t == "rd" || t == "rd6") {
            set |= kRd;
        } else if (t == "slaac" && !minus) {
            r.sources |= kSlaac;
        } else if (t == "auto" || (minus && t == "all")) {
            set |= kEth | kDhcp4 | kDhcp6 | kRd;
        } else if (t == "auto4" || t == "autov4") {
            set |= kEth | kDhcp4;
        } else if (t == "auto6" || t == "autov6") {
            set |= kEth | kDhcp6 | kRd;
        } else if (minus && t == "static") {
            r.clean |= kStatic;
        } else if (t == "ip" || t == "gw" || t == "dns") {
            const std::string& val = need(tag, v);
            StaticItem item;
            item.kind = t == "ip" ? StaticItem::kIp : t == "gw" ? StaticItem::kGw : StaticItem::kDns;
            item.remove = minus;
            std::string_view a = val;
            std::optional<int> len;
            if (const std::size_t slash = a.find('/'); slash != std::string_view::npos) {
                if (item.kind != StaticItem::kIp) bad(tag + "=" + val + ": no prefix length here");
                len = number<int>(a.substr(slash + 1));
                a = a.substr(0, slash);
                if (!len) bad(tag + "=" + val + ": bad prefix length");
            }
            const auto addr = Addr::parse(a);
            if (!addr) bad(tag + "=" + val + ": not an IPv4 or IPv6 address");
            item.addr = *addr;
            if (item.kind == StaticItem::kIp) {
                // A prefix length is needed to add (iothconf would guess
                // /24 or /64: a guess that may route wrongly), not to remove.
                if (!len && !minus)
                    bad(tag + "=" + val + ": no prefix length (e.g. " + tag + "=" + val +
                        (addr->family == AF_INET ? "/24)" : "/64)"));
                const int max = addr->family == AF_INET ? 32 : 128;
                item.prefix = len.value_or(0);  // 0: -ip= of any prefix
                if (len && (item.prefix < 1 || item.prefix > max)) bad(tag + "=" + val + ": bad prefix length");
            }
            r.statics.push_back(item);
            r.sources |= kStatic;
        } else if (t == "domain") {
            StaticItem item;
            item.kind = StaticItem::kDomain;
            item.remove = minus;
            item.domain = need(tag, v);
            r.statics.push_back(item);
            r.sources |= kStatic;
        } else if (minus) {
            bad("unknown option " + tag);
        } else if (t == "iface") {
            r.iface = need(tag, v);
        } else if (t == "ifindex") {
            const auto n = number<unsigned>(need(tag, v));
            if (!n || *n == 0) bad("ifindex=" + *v + ": not an interface index");
            r.ifindex = *n;
        } else if (t == "fqdn") {
            r.fqdn = need(tag, v);
            if (r.fqdn.size() > 253) bad("fqdn: longer than 253 characters");
        } else if (t == "mac" || t == "macaddr") {
            r.mac = parse_mac(need(tag, v));
            if (!r.mac) bad(tag + "=" + *v + ": not a MAC address (xx:xx:xx:xx:xx:xx)");
        } else if (t == "timeout") {
            const auto n = number<int>(need(tag, v));
            if (!n || *n < 1 || *n > 300) bad("timeout=" + *v + ": not 1..300 seconds");
            r.timeout_s = *n;
        } else if (t == "debug") {
            r.debug = true;
        } else if (t == "stack" || t == "vnl") {
            if (!allow_stack) bad(tag + "= is for ioth_newstackc only");
            (t == "stack" ? r.stack : r.vnl) = v.value_or("");
        } else {
            bad("unknown option " + tag);
        }
    }
    return r;
}

ConfigRequest parse_resolvconf(std::string_view text) {
    for (const auto& item : split_items(text))
        if (item.first != "iface" && item.first != "ifindex")
            fail(EINVAL, "ioth_resolvconf: unknown option " + item.first + " (only iface= and ifindex=)");
    return parse_config(text);
}

}  // namespace vdestack::conf
