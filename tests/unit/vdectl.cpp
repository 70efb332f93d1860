// unit_vdectl.cpp - the vde_switch control protocol (src/wire/vde_ctl.hpp):
// golden bytes of a v3 request, its length rule (122 + strlen, no NUL), the
// layout against a packed C struct shaped like vdeplug4's, parse() on short,
// bad-magic, v1 and bad-version input, and the 110-byte reply.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "wire/vde_ctl.hpp"

namespace {

namespace wire = vdestack::wire;
using Bytes = std::vector<std::byte>;

// The reference layout (as in vde2/vdeplug4 sources: packed, native order).
struct __attribute__((packed)) RefRequestV3 {
    std::uint32_t magic;
    std::uint32_t version;
    std::uint32_t type;  // a 4-byte enum there
    sockaddr_un sock;
    char description[128];
};
static_assert(sizeof(RefRequestV3) == 250);

Bytes build(std::uint32_t type, const std::string& path, std::string_view descr) {
    std::array<std::byte, wire::kRequestMaxSize> out{};
    const auto sa = wire::make_sockaddr_un(path);
    EXPECT_TRUE(sa.has_value());
    const std::size_t n = wire::write_request_v3(out, type, *sa, descr);
    return Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
}

Bytes hex(std::initializer_list<int> v) {
    Bytes b;
    for (int x : v) b.push_back(static_cast<std::byte>(x));
    return b;
}

TEST(VdeCtl, Constants) {
    EXPECT_EQ(wire::kSockaddrUnSize, 110u);
    EXPECT_EQ(wire::kRequestMinSize, 122u);
    EXPECT_EQ(wire::kRequestMaxSize, 250u);
    EXPECT_EQ(wire::request_type_for_port(0), 0u);
    EXPECT_EQ(wire::request_type_for_port(5), 0x500u);
    EXPECT_EQ(wire::request_type_for_port(-1), 1u);  // REQ_NEW_PORT0
}

TEST(VdeCtl, GoldenRequestBytes) {
    if constexpr (std::endian::native != std::endian::little) GTEST_SKIP() << "golden bytes are little-endian";
    const Bytes req = build(5u << 8, "/tmp/sw/.01234-00007", "test");
    ASSERT_EQ(req.size(), 122u + 4u);  // no NUL after the description
    Bytes want = hex({0xce, 0xfa, 0xed, 0xfe,   // magic 0xfeedface
                      0x03, 0x00, 0x00, 0x00,   // version 3
                      0x00, 0x05, 0x00, 0x00,   // type: port 5 << 8
                      0x01, 0x00});             // AF_UNIX
    const std::string path = "/tmp/sw/.01234-00007";
    for (char c : path) want.push_back(static_cast<std::byte>(c));
    want.resize(12 + 110, std::byte{0});       // sun_path zero-filled to 108 bytes
    for (char c : std::string("test")) want.push_back(static_cast<std::byte>(c));
    EXPECT_EQ(req, want);
}

TEST(VdeCtl, MatchesPackedReferenceLayout) {
    const std::string descr = "vdestack user=0 pid=42";
    const Bytes req = build(wire::kReqNewPort0, "/var/run/vde.ctl/.00042-00000", descr);
    RefRequestV3 ref{};
    ref.magic = 0xfeedface;
    ref.version = 3;
    ref.type = 1;
    ref.sock.sun_family = AF_UNIX;
    std::strcpy(ref.sock.sun_path, "/var/run/vde.ctl/.00042-00000");
    std::strncpy(ref.description, descr.c_str(), sizeof ref.description);
    // vdeplug4 sends sizeof(req) - MAXDESCR + strlen(description) bytes.
    const std::size_t ref_len = sizeof ref - 128 + descr.size();
    ASSERT_EQ(req.size(), ref_len);
    EXPECT_EQ(std::memcmp(req.data(), &ref, ref_len), 0);
}

TEST(VdeCtl, DescriptionCutAt128AndAtNul) {
    const Bytes longer = build(0, "/x", std::string(300, 'd'));
    EXPECT_EQ(longer.size(), 250u);
    const Bytes nul = build(0, "/x", std::string_view("ab\0cd", 5));
    EXPECT_EQ(nul.size(), 124u);
    const Bytes empty = build(0, "/x", "");
    EXPECT_EQ(empty.size(), 122u);
}

TEST(VdeCtl, ParseRoundTrip) {
    const Bytes req = build(7u << 8, "/tmp/a/.1-2", "hello");
    std::optional<wire::RequestV3View> v;
    ASSERT_EQ(wire::parse_request(req, v), wire::RequestStatus::kOk);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->magic(), wire::kSwitchMagic);
    EXPECT_EQ(v->version(), 3u);
    EXPECT_EQ(v->type(), 0x700u);
    EXPECT_EQ(v->kind(), 0u);
    EXPECT_EQ(v->port(), 7u);
    const sockaddr_un sa = v->sock();
    EXPECT_EQ(sa.sun_family, AF_UNIX);
    EXPECT_EQ(wire::sun_path_of(sa), "/tmp/a/.1-2");
    EXPECT_EQ(v->description(), "hello");

    // A request without description, and one with a NUL-terminated one (vde2 style).
    const Bytes bare = build(0, "/p", "");
    ASSERT_EQ(wire::parse_request(bare, v), wire::RequestStatus::kOk);
    EXPECT_EQ(v->description(), "");
    Bytes nul = build(0, "/p", "xy");
    nul.push_back(std::byte{0});
    nul.push_back(std::byte{'z'});
    ASSERT_EQ(wire::parse_request(nul, v), wire::RequestStatus::kOk);
    EXPECT_EQ(v->description(), "xy");
}

TEST(VdeCtl, ParseShortIsIncomplete) {
    const Bytes req = build(0, "/tmp/a/.1-2", "hello");
    std::optional<wire::RequestV3View> v;
    for (std::size_t n : {0u, 1u, 3u, 4u, 7u, 8u, 12u, 100u, 121u}) {
        EXPECT_EQ(wire::parse_request(std::span(req.data(), n), v), wire::RequestStatus::kIncomplete) << n;
        EXPECT_FALSE(v.has_value());
    }
    EXPECT_EQ(wire::parse_request(std::span(req.data(), 122), v), wire::RequestStatus::kOk);
}

TEST(VdeCtl, ParseRejectsBadMagic) {
    Bytes req = build(0, "/tmp/a", "d");
    std::optional<wire::RequestV3View> v;
    req[0] = std::byte{0};
    EXPECT_EQ(wire::parse_request(req, v), wire::RequestStatus::kBadMagic);
    EXPECT_FALSE(v.has_value());
    // Detected on the first bytes already.
    EXPECT_EQ(wire::parse_request(std::span(req.data(), 2), v), wire::RequestStatus::kBadMagic);
    Bytes swapped = build(0, "/tmp/a", "d");
    std::reverse(swapped.begin(), swapped.begin() + 4);  // other-endian magic
    EXPECT_EQ(wire::parse_request(swapped, v), wire::RequestStatus::kBadMagic);
    const Bytes text = hex({'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'});
    EXPECT_EQ(wire::parse_request(text, v), wire::RequestStatus::kBadMagic);
}

TEST(VdeCtl, ParseRejectsOtherVersions) {
    std::optional<wire::RequestV3View> v;
    for (std::uint32_t version : {2u, 4u, 0xffffffffu}) {
        Bytes req = build(0, "/tmp/a", "d");
        std::memcpy(req.data() + 4, &version, 4);
        EXPECT_EQ(wire::parse_request(req, v), wire::RequestStatus::kBadVersion) << version;
        EXPECT_FALSE(v.has_value());
    }
    // v1: {magic, type, mac[6], sockaddr_un, descr}: the "version" field is the type 0 or 1.
    for (std::uint32_t type : {0u, 1u}) {
        Bytes v1;
        const std::uint32_t head[2] = {wire::kSwitchMagic, type};
        v1.resize(8 + 6 + 110 + 4);
        std::memcpy(v1.data(), head, sizeof head);
        EXPECT_EQ(wire::parse_request(v1, v), wire::RequestStatus::kVersion1) << type;
        EXPECT_FALSE(v.has_value());
    }
}

TEST(VdeCtl, Reply) {
    const auto sa = wire::make_sockaddr_un("/tmp/sw/fd7");
    ASSERT_TRUE(sa);
    std::array<std::byte, wire::kReplySize> r{};
    wire::write_reply(r, *sa);
    EXPECT_EQ(r[0], std::byte{AF_UNIX & 0xff});
    const auto back = wire::parse_reply(r);
    ASSERT_TRUE(back);
    EXPECT_EQ(wire::sun_path_of(*back), "/tmp/sw/fd7");

    EXPECT_FALSE(wire::parse_reply(std::span(r.data(), 109)));
    Bytes longer(r.begin(), r.end());
    longer.push_back(std::byte{0});
    EXPECT_FALSE(wire::parse_reply(longer));
    std::array<std::byte, wire::kReplySize> bad = r;
    bad[0] = std::byte{AF_INET};
    EXPECT_FALSE(wire::parse_reply(bad));
    std::array<std::byte, wire::kReplySize> empty{};
    empty[0] = std::byte{AF_UNIX};
    EXPECT_FALSE(wire::parse_reply(empty));
}

TEST(VdeCtl, SockaddrLimits) {
    EXPECT_FALSE(wire::make_sockaddr_un(""));
    EXPECT_FALSE(wire::make_sockaddr_un(std::string(108, 'a')));
    EXPECT_TRUE(wire::make_sockaddr_un(std::string(107, 'a')));
    EXPECT_FALSE(wire::make_sockaddr_un(std::string_view("a\0b", 3)));
}

}  // namespace
