// unit_vnl.cpp - golden and error cases for the VNL parser (src/vnl): scheme
// splitting, IP style and path style option parsing with vdeplug4's prefix-key
// and default-tag rules, quoting/escaping/%XX decoding, and parse_number.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "vnl/vnl.hpp"

namespace {

using namespace std::string_view_literals;
using ::testing::HasSubstr;
using vdestack::vnl::parse_ip_style;
using vdestack::vnl::parse_number;
using vdestack::vnl::parse_path_style;
using vdestack::vnl::Parsed;
using vdestack::vnl::split;

// vxvde's table (order matters for prefix matching).
constexpr std::array kVxvdeKeys{"v4"sv, "v6"sv, "port"sv, "vni"sv, "grp"sv,
                                "ttl"sv, "if"sv, "hashsize"sv, "expiretime"sv};
// vde's table: "" first = default tag for a bare word.
constexpr std::array kVdeKeys{""sv, "port"sv, "portgroup"sv, "group"sv, "mode"sv};

Parsed ip(std::string_view vnl) {
    return parse_ip_style(split(vnl).rest, kVxvdeKeys, vnl);
}
Parsed path(std::string_view vnl) {
    return parse_path_style(split(vnl).rest, kVdeKeys, vnl);
}

// Runs f, expects vdestack::Error with EINVAL whose message contains all parts.
template <class F>
void expect_einval(F&& f, std::initializer_list<std::string_view> parts) {
    try {
        f();
        ADD_FAILURE() << "no exception thrown";
    } catch (const vdestack::Error& e) {
        EXPECT_EQ(e.errno_value(), EINVAL);
        for (auto p : parts) EXPECT_THAT(e.what(), HasSubstr(std::string(p)));
    }
}

// ---- split ------------------------------------------------------------------

TEST(VnlSplit, SchemeAndRest) {
    auto l = split("vxvde://234.0.0.1/port=1234");
    EXPECT_EQ(l.scheme, "vxvde");
    EXPECT_EQ(l.rest, "234.0.0.1/port=1234");
}

TEST(VnlSplit, BarePathIsVde) {
    auto l = split("/tmp/sw[3]");
    EXPECT_EQ(l.scheme, "vde");
    EXPECT_EQ(l.rest, "/tmp/sw[3]");
}

TEST(VnlSplit, EmptyStringIsVde) {
    auto l = split("");
    EXPECT_EQ(l.scheme, "vde");
    EXPECT_EQ(l.rest, "");
}

TEST(VnlSplit, VdeTripleSlash) {
    auto l = split("vde:///tmp/sw");
    EXPECT_EQ(l.scheme, "vde");
    EXPECT_EQ(l.rest, "/tmp/sw");
}

// ---- IP style -----------------------------------------------------------------

TEST(VnlIp, AddressAndOptions) {
    auto p = ip("vxvde://234.0.0.1/port=1234/vni=5");
    EXPECT_EQ(p.address, "234.0.0.1");
    ASSERT_EQ(p.options.size(), 2u);
    EXPECT_EQ(p.options[0].first, "port");
    EXPECT_EQ(p.options[0].second, "1234");
    EXPECT_EQ(p.options[1].first, "vni");
    EXPECT_EQ(p.get("vni"), "5");
    EXPECT_TRUE(p.has("port"));
    EXPECT_FALSE(p.has("ttl"));
    EXPECT_EQ(p.get("ttl"), std::nullopt);
}

TEST(VnlIp, EmptyAddress) {
    auto p = ip("vxvde://");
    EXPECT_EQ(p.address, "");
    EXPECT_TRUE(p.options.empty());
}

TEST(VnlIp, BareFlagWithEmptyAddress) {
    auto p = ip("vxvde:///v6");
    EXPECT_EQ(p.address, "");
    ASSERT_EQ(p.options.size(), 1u);
    EXPECT_EQ(p.options[0].first, "v6");
    EXPECT_EQ(p.get("v6"), "");
}

TEST(VnlIp, PrefixKey) {
    auto p = ip("vxvde://1.2.3.4/p=9");
    EXPECT_EQ(p.address, "1.2.3.4");
    EXPECT_EQ(p.get("port"), "9");
}

TEST(VnlIp, AmbiguousPrefixFirstInTableWins) {
    // "v" prefixes v4, v6 and vni: v4 is first.
    auto p = ip("vxvde://1.2.3.4/v");
    ASSERT_EQ(p.options.size(), 1u);
    EXPECT_EQ(p.options[0].first, "v4");
    // "h" -> hashsize, "e" -> expiretime
    auto q = ip("vxvde://1.2.3.4/h=8/e=30");
    EXPECT_EQ(q.get("hashsize"), "8");
    EXPECT_EQ(q.get("expiretime"), "30");
}

TEST(VnlIp, ExactMatchBeatsEarlierPrefix) {
    constexpr std::array keys{"portgroup"sv, "port"sv};
    auto p = parse_ip_style("a/port=1", keys, "x://a/port=1");
    EXPECT_EQ(p.options.at(0).first, "port");
    auto q = parse_ip_style("a/po=1", keys, "x://a/po=1");
    EXPECT_EQ(q.options.at(0).first, "portgroup");
}

TEST(VnlIp, Ipv6Address) {
    auto p = ip("vxvde://ff05::1/port=5");
    EXPECT_EQ(p.address, "ff05::1");
    EXPECT_EQ(p.get("port"), "5");
}

TEST(VnlIp, EmptyTokensSkipped) {
    auto p = ip("vxvde://1.2.3.4//port=5///ttl=2/");
    ASSERT_EQ(p.options.size(), 2u);
    EXPECT_EQ(p.get("port"), "5");
    EXPECT_EQ(p.get("ttl"), "2");
}

TEST(VnlIp, SingleQuotesProtectSlash) {
    auto p = ip("vxvde://1.2.3.4/if='a/b'");
    EXPECT_EQ(p.get("if"), "a/b");
}

TEST(VnlIp, DoubleQuotesProtectSlashAndEquals) {
    auto p = ip(R"(vxvde://"x/y"/if="a=b/c")");
    EXPECT_EQ(p.address, "x/y");
    EXPECT_EQ(p.get("if"), "a=b/c");
}

TEST(VnlIp, BackslashEscapes) {
    auto p = ip(R"(vxvde://1.2.3.4/if=a\/b\'c\\d)");
    EXPECT_EQ(p.get("if"), R"(a/b'c\d)");
    EXPECT_EQ(p.options.size(), 1u);
}

TEST(VnlIp, PercentDecoding) {
    auto p = ip("vxvde://1.2.3.4/if=a%2Fb%2f%41");
    EXPECT_EQ(p.get("if"), "a/b/A");
    EXPECT_EQ(p.options.size(), 1u);  // %2F does not split
    // Keys and the address are decoded too.
    auto q = ip("vxvde://ff05%3A%3A1/%70ort=7");
    EXPECT_EQ(q.address, "ff05::1");
    EXPECT_EQ(q.get("port"), "7");
}

TEST(VnlIp, LonePercentKeptLiterally) {
    auto p = ip("vxvde://1.2.3.4/if=50%/ttl=%zz/grp=%4");
    EXPECT_EQ(p.get("if"), "50%");
    EXPECT_EQ(p.get("ttl"), "%zz");
    EXPECT_EQ(p.get("grp"), "%4");
}

TEST(VnlIp, RepeatedKeyLastWins) {
    auto p = ip("vxvde://1.2.3.4/port=1/p=2/port=3");
    EXPECT_EQ(p.options.size(), 3u);
    EXPECT_EQ(p.get("port"), "3");
}

TEST(VnlIp, ValueMayContainEquals) {
    auto p = ip("vxvde://1.2.3.4/if=a=b");
    EXPECT_EQ(p.get("if"), "a=b");
}

// ---- path style ---------------------------------------------------------------

TEST(VnlPath, BareWordGoesToDefaultTag) {
    auto p = path("vde:///tmp/sw[3]");
    EXPECT_EQ(p.address, "/tmp/sw");
    ASSERT_EQ(p.options.size(), 1u);
    EXPECT_EQ(p.options[0].first, "");
    EXPECT_EQ(p.get(""), "3");
}

TEST(VnlPath, KeyValueOptions) {
    auto p = path("/tmp/sw[port=3/mode=0660]");
    EXPECT_EQ(p.address, "/tmp/sw");
    EXPECT_EQ(p.get("port"), "3");
    EXPECT_EQ(p.get("mode"), "0660");
}

TEST(VnlPath, BarePathViaSplit) {
    auto l = split("/tmp/sw");
    auto p = parse_path_style(l.rest, kVdeKeys, "/tmp/sw");
    EXPECT_EQ(l.scheme, "vde");
    EXPECT_EQ(p.address, "/tmp/sw");
    EXPECT_TRUE(p.options.empty());
}

TEST(VnlPath, BareKeyPrefixIsFlag) {
    auto p = path("vde:///tmp/sw[m]");
    ASSERT_EQ(p.options.size(), 1u);
    EXPECT_EQ(p.options[0].first, "mode");
    EXPECT_EQ(p.options[0].second, "");
    auto q = path("vde:///tmp/sw[p=4/g=staff]");
    EXPECT_EQ(q.get("port"), "4");
    EXPECT_EQ(q.get("group"), "staff");
}

TEST(VnlPath, LastBracketCloses) {
    auto p = path("vde:///tmp/sw[group=a]b]");
    EXPECT_EQ(p.address, "/tmp/sw");
    EXPECT_EQ(p.get("group"), "a]b");
}

TEST(VnlPath, QuotedBracketsAndDecodedPath) {
    auto p = path(R"(vde:///tmp/my%20sw'[x]'[group='a]/b'])");
    EXPECT_EQ(p.address, "/tmp/my sw[x]");
    EXPECT_EQ(p.get("group"), "a]/b");
}

TEST(VnlPath, EmptyBrackets) {
    auto p = path("vde:///tmp/sw[]");
    EXPECT_EQ(p.address, "/tmp/sw");
    EXPECT_TRUE(p.options.empty());
}

TEST(VnlPath, RepeatedKeyLastWins) {
    auto p = path("vde:///tmp/sw[port=1/2]");
    EXPECT_EQ(p.get("port"), "1");
    EXPECT_EQ(p.get(""), "2");
    auto q = path("vde:///tmp/sw[mode=1/mo=2]");
    EXPECT_EQ(q.get("mode"), "2");
}

// ---- errors -------------------------------------------------------------------

TEST(VnlError, UnknownKey) {
    expect_einval([] { ip("vxvde://1.2.3.4/bogus=1"); }, {"vxvde://1.2.3.4/bogus=1", "unknown option 'bogus'"});
    // A bare unknown word without a default tag is an error too.
    expect_einval([] { ip("vxvde://1.2.3.4/zz"); }, {"vxvde://1.2.3.4/zz", "unknown option 'zz'"});
    // With a default tag, key=value that matches nothing is still an error.
    expect_einval([] { path("vde:///tmp/sw[zz=1]"); }, {"vde:///tmp/sw[zz=1]", "unknown option 'zz'"});
}

TEST(VnlError, EmptyKey) {
    expect_einval([] { ip("vxvde://1.2.3.4/=v"); }, {"vxvde://1.2.3.4/=v", "'=v'"});
    expect_einval([] { path("vde:///tmp/sw[=3]"); }, {"vde:///tmp/sw[=3]"});
}

TEST(VnlError, UnterminatedBracket) {
    expect_einval([] { path("vde:///tmp/sw[port=3"); }, {"vde:///tmp/sw[port=3", "']'"});
}

TEST(VnlError, TrailingGarbageAfterBracket) {
    expect_einval([] { path("vde:///tmp/sw[port=3]xyz"); }, {"vde:///tmp/sw[port=3]xyz", "'xyz'"});
}

TEST(VnlError, UnterminatedQuote) {
    expect_einval([] { ip("vxvde://1.2.3.4/if='eth0"); }, {"vxvde://1.2.3.4/if='eth0", "quote"});
    expect_einval([] { path(R"(vde:///tmp/sw[group="a])"); }, {"quote"});
}

// ---- parse_number ---------------------------------------------------------------

TEST(VnlNumber, DecimalHexAndSuffixes) {
    EXPECT_EQ(parse_number("0", "port", "v"), 0u);
    EXPECT_EQ(parse_number("1234", "port", "v"), 1234u);
    EXPECT_EQ(parse_number("0x10", "port", "v"), 16u);
    EXPECT_EQ(parse_number("0XfF", "port", "v"), 255u);
    EXPECT_EQ(parse_number("1k", "hashsize", "v"), 1024u);
    EXPECT_EQ(parse_number("2M", "hashsize", "v"), 2u * 1024 * 1024);
    EXPECT_EQ(parse_number("3g", "x", "v"), 3ull << 30);
    EXPECT_EQ(parse_number("1T", "x", "v"), 1ull << 40);
    EXPECT_EQ(parse_number("0x2k", "x", "v"), 2048u);
    EXPECT_EQ(parse_number("0660", "mode", "v"), 660u);  // decimal, not octal
    EXPECT_EQ(parse_number("18446744073709551615", "x", "v"), UINT64_MAX);
    EXPECT_EQ(parse_number("65535", "port", "v", 65535), 65535u);
}

TEST(VnlNumber, Rejects) {
    const std::string_view vnl = "vxvde://1.2.3.4/port=X";
    for (std::string_view bad : {"", "12x", "-1", "+1", " 1", "1 ", "0x", "k", "0xk", "1kk", "1.5",
                                 "0x1g0", "99999999999999999999", "18446744073709551616", "16777216T"}) {
        SCOPED_TRACE(std::string(bad));
        expect_einval([&] { parse_number(bad, "port", vnl); },
                      {vnl, "bad value '" + std::string(bad) + "' for option 'port'"});
    }
}

TEST(VnlNumber, OverMax) {
    expect_einval([] { parse_number("65536", "port", "vxvde://a/port=65536", 65535); },
                  {"vxvde://a/port=65536", "bad value '65536' for option 'port'"});
    expect_einval([] { parse_number("1k", "ttl", "vxvde://a/ttl=1k", 255); }, {"'1k'", "'ttl'"});
}

// ---- robustness -------------------------------------------------------------------

TEST(VnlRobust, OddInputsNeverCrash) {
    // Every input must either parse or throw vdestack::Error(EINVAL).
    for (std::string_view s : {"", "/", "//", "[", "]", "[]", "][", "\\", "%", "%4", "%%%", "'", "\"", "='",
                               "a\\", "[\\]", "['", "a/=", "a/'='", "x[/]", "[[[]]]", "%00", "a/\\"}) {
        SCOPED_TRACE(std::string(s));
        for (int style = 0; style < 2; style++) {
            try {
                if (style == 0) {
                    (void)parse_ip_style(s, kVxvdeKeys, s);
                } else {
                    (void)parse_path_style(s, kVdeKeys, s);
                }
            } catch (const vdestack::Error& e) {
                EXPECT_EQ(e.errno_value(), EINVAL);
            }
        }
    }
}

TEST(VnlRobust, EmptyTable) {
    auto p = parse_ip_style("a", std::span<const std::string_view>{}, "x://a");
    EXPECT_EQ(p.address, "a");
    expect_einval([] { (void)parse_ip_style("a/b", std::span<const std::string_view>{}, "x://a/b"); },
                  {"unknown option 'b'"});
}

}  // namespace
