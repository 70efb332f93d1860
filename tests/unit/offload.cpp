// unit_offload.cpp - the tap offload fast path (src/frame/offload.hpp,
// src/wire/vnet.hpp) on golden packets: IPv4/IPv6 (and VLAN-tagged) TCP GSO
// frames with a known payload are cut by TsoSegmenter and every segment's
// headers, lengths, sequence numbers, flags and checksums are checked, the
// checksums by an independent textbook implementation; checksum completion
// (TCP, UDP, the 0 -> 0xffff case); Gro merging and refusing to merge, and
// a merged frame cut again giving back the same segments; malformed inputs
// (every truncation, bad lengths, unknown GSO types) refused without a crash.
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "frame/offload.hpp"
#include "wire/vnet.hpp"

namespace {

using vdestack::frame::FrameBuf;
using vdestack::frame::complete_csum;
using vdestack::frame::Config;
using vdestack::frame::csum_add;
using vdestack::frame::csum_fold;
using vdestack::frame::Gro;
using vdestack::parse_offloads;
using vdestack::frame::TsoSegmenter;
using vdestack::wire::VnetHdr;

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kCwr = 0x80;

// ---- independent helpers (big-endian by hand, RFC 1071 by the book) ----

std::uint16_t get16(const Bytes& b, std::size_t o) { return static_cast<std::uint16_t>(b[o] << 8 | b[o + 1]); }
std::uint32_t get32(const Bytes& b, std::size_t o) {
    return std::uint32_t{b[o]} << 24 | std::uint32_t{b[o + 1]} << 16 | std::uint32_t{b[o + 2]} << 8 | b[o + 3];
}
void set16(Bytes& b, std::size_t o, std::uint32_t v) {
    b[o] = static_cast<std::uint8_t>(v >> 8);
    b[o + 1] = static_cast<std::uint8_t>(v);
}
void set32(Bytes& b, std::size_t o, std::uint32_t v) {
    for (int i = 0; i < 4; i++) b[o + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// One's complement sum of big-endian 16-bit words, folded, not complemented.
std::uint32_t ref_sum(const Bytes& d, std::size_t from, std::size_t to, std::uint32_t s = 0) {
    for (std::size_t i = from; i < to; i += 2) s += static_cast<std::uint32_t>(d[i] << 8 | (i + 1 < to ? d[i + 1] : 0));
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
}

// Pseudo-header sum for TCP/UDP over the L3 header at l3 (v4 or v6), length l4len.
std::uint32_t ref_pseudo(const Bytes& f, std::size_t l3, bool v6, std::size_t l4len, std::uint8_t proto) {
    std::uint32_t s = v6 ? ref_sum(f, l3 + 8, l3 + 40) : ref_sum(f, l3 + 12, l3 + 20);
    s += proto + static_cast<std::uint32_t>(l4len);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
}

// True when the L4 checksum over [l4, end) verifies.
bool l4_csum_ok(const Bytes& f, std::size_t l3, bool v6, std::size_t l4, std::uint8_t proto = 6) {
    return ref_sum(f, l4, f.size(), ref_pseudo(f, l3, v6, f.size() - l4, proto)) == 0xffff;
}
bool ipv4_csum_ok(const Bytes& f, std::size_t l3) { return ref_sum(f, l3, l3 + (f[l3] & 15u) * 4) == 0xffff; }

// ---- golden frames ----

struct Spec {
    bool v6 = false;
    int vlans = 0;                  // 802.1Q tags before the IP header
    std::size_t payload = 10000;
    std::uint16_t mss = 1448;
    std::uint8_t flags = kAck | kPsh | kFin;
    std::size_t tcp_opts = 12;      // NOP NOP TS
    bool v6_hbh = false;            // an 8-byte hop-by-hop header
    std::uint32_t seq = 0xfffff000;  // wraps inside the frame
    std::uint16_t id = 0xfffe;       // wraps too
    std::uint16_t sport = 40000, dport = 5001;
};

struct Golden {
    Bytes frame;
    std::size_t l3 = 0, l4 = 0, hdrs = 0;
    VnetHdr hdr;
};

std::uint8_t pat(std::size_t i) { return static_cast<std::uint8_t>((i * 31 + i / 251) & 0xff); }

Golden make_gso(const Spec& s) {
    Golden g;
    Bytes& f = g.frame;
    for (int i = 0; i < 6; i++) f.push_back(static_cast<std::uint8_t>(0x02 + i));  // dst
    for (int i = 0; i < 6; i++) f.push_back(static_cast<std::uint8_t>(0x12 + i));  // src
    for (int v = 0; v < s.vlans; v++) f.insert(f.end(), {0x81, 0x00, 0x00, static_cast<std::uint8_t>(10 + v)});
    if (s.v6)
        f.insert(f.end(), {0x86, 0xdd});
    else
        f.insert(f.end(), {0x08, 0x00});
    g.l3 = f.size();
    const std::size_t thl = 20 + s.tcp_opts;
    if (s.v6) {
        Bytes ip(40, 0);
        ip[0] = 0x60;
        ip[1] = 0x01;  // traffic class / flow label bits
        ip[6] = s.v6_hbh ? 0 : 6;
        ip[7] = 64;
        for (int i = 0; i < 16; i++) ip[8 + i] = static_cast<std::uint8_t>(0xfc + i);
        for (int i = 0; i < 16; i++) ip[24 + i] = static_cast<std::uint8_t>(0xa0 + i);
        f.insert(f.end(), ip.begin(), ip.end());
        if (s.v6_hbh) f.insert(f.end(), {6, 0, 1, 4, 0, 0, 0, 0});  // next TCP, PadN
    } else {
        Bytes ip(20, 0);
        ip[0] = 0x45;
        ip[1] = 0x02;  // ECT(0)
        ip[6] = 0x40;  // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 1;
        ip[16] = 10, ip[17] = 0, ip[18] = 0, ip[19] = 2;
        f.insert(f.end(), ip.begin(), ip.end());
    }
    g.l4 = f.size();
    Bytes th(thl, 0);
    th[12] = static_cast<std::uint8_t>((thl / 4) << 4);
    th[13] = s.flags;
    th[14] = 0x12, th[15] = 0x34;  // window
    for (std::size_t i = 20; i + 1 < thl; i += 12) {
        const std::uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0x10, 0x01, 0, 0, 0x20, 0x02};
        for (std::size_t k = 0; k < 12 && i + k < thl; k++) th[i + k] = ts[k];
    }
    f.insert(f.end(), th.begin(), th.end());
    g.hdrs = f.size();
    for (std::size_t i = 0; i < s.payload; i++) f.push_back(pat(i));
    set16(f, g.l4, s.sport);
    set16(f, g.l4 + 2, s.dport);
    set32(f, g.l4 + 4, s.seq);
    set32(f, g.l4 + 8, 0x01020304);
    if (s.v6) {
        set16(f, g.l3 + 4, static_cast<std::uint32_t>(f.size() - g.l3 - 40));
    } else {
        set16(f, g.l3 + 2, static_cast<std::uint32_t>(f.size() - g.l3));
        set16(f, g.l3 + 4, s.id);
        set16(f, g.l3 + 10, ~ref_sum(f, g.l3, g.l3 + 20) & 0xffff);
    }
    // The kernel seeds the TCP checksum with the pseudo-header sum (CHECKSUM_PARTIAL).
    set16(f, g.l4 + 16, ref_pseudo(f, g.l3, s.v6, f.size() - g.l4, 6));
    g.hdr.flags = VnetHdr::kNeedsCsum;
    g.hdr.gso_type = s.v6 ? VnetHdr::kGsoTcpV6 : VnetHdr::kGsoTcpV4;
    g.hdr.gso_size = s.mss;
    g.hdr.hdr_len = static_cast<std::uint16_t>(g.hdrs);
    g.hdr.csum_start = static_cast<std::uint16_t>(g.l4);
    g.hdr.csum_offset = 16;
    return g;
}

std::span<const std::byte> as_span(const Bytes& b) { return std::as_bytes(std::span<const std::uint8_t>(b)); }

std::vector<Bytes> segment(const Golden& g, const VnetHdr& h) {
    TsoSegmenter t;
    std::vector<Bytes> out;
    if (!t.start(as_span(g.frame), h)) return out;
    std::vector<std::byte> buf(t.max_segment());
    while (!t.done()) {
        std::size_t n = t.next(buf);
        if (n == 0) break;
        Bytes b(n);
        std::memcpy(b.data(), buf.data(), n);
        out.push_back(std::move(b));
    }
    return out;
}

// Checks every segment of g against the spec it was made from.
void check_segments(const Golden& g, const Spec& s, const std::vector<Bytes>& segs) {
    const std::size_t nseg = (s.payload + s.mss - 1) / s.mss;
    ASSERT_EQ(segs.size(), nseg);
    std::size_t off = 0;
    for (std::size_t i = 0; i < segs.size(); i++) {
        SCOPED_TRACE("segment " + std::to_string(i));
        const Bytes& b = segs[i];
        const std::size_t chunk = std::min<std::size_t>(s.mss, s.payload - off);
        ASSERT_EQ(b.size(), g.hdrs + chunk);
        EXPECT_TRUE(std::equal(b.begin(), b.begin() + static_cast<long>(g.l3), g.frame.begin()));  // L2 untouched
        if (s.v6) {
            EXPECT_EQ(get16(b, g.l3 + 4), b.size() - g.l3 - 40);
            EXPECT_TRUE(std::equal(b.begin() + static_cast<long>(g.l3), b.begin() + static_cast<long>(g.l3 + 4),
                                   g.frame.begin() + static_cast<long>(g.l3)));
            EXPECT_TRUE(std::equal(b.begin() + static_cast<long>(g.l3 + 6), b.begin() + static_cast<long>(g.l4),
                                   g.frame.begin() + static_cast<long>(g.l3 + 6)));
        } else {
            EXPECT_EQ(get16(b, g.l3 + 2), b.size() - g.l3);
            EXPECT_EQ(get16(b, g.l3 + 4), static_cast<std::uint16_t>(s.id + i));
            EXPECT_EQ(get16(b, g.l3 + 6), 0x4000);  // DF kept
            EXPECT_EQ(b[g.l3 + 8], 64);
            EXPECT_EQ(b[g.l3 + 1], 0x02);
            EXPECT_TRUE(ipv4_csum_ok(b, g.l3));
        }
        EXPECT_EQ(get16(b, g.l4), s.sport);
        EXPECT_EQ(get16(b, g.l4 + 2), s.dport);
        EXPECT_EQ(get32(b, g.l4 + 4), static_cast<std::uint32_t>(s.seq + off));
        EXPECT_EQ(get32(b, g.l4 + 8), 0x01020304u);
        EXPECT_EQ(b[g.l4 + 12], g.frame[g.l4 + 12]);
        std::uint8_t want = s.flags;
        if (i + 1 != nseg) want &= static_cast<std::uint8_t>(~(kFin | kPsh));
        if (i != 0) want &= static_cast<std::uint8_t>(~kCwr);
        EXPECT_EQ(b[g.l4 + 13], want);
        EXPECT_EQ(get16(b, g.l4 + 14), 0x1234);
        EXPECT_TRUE(std::equal(b.begin() + static_cast<long>(g.l4 + 20), b.begin() + static_cast<long>(g.hdrs),
                               g.frame.begin() + static_cast<long>(g.l4 + 20)));  // options
        EXPECT_TRUE(l4_csum_ok(b, g.l3, s.v6, g.l4));
        for (std::size_t k = 0; k < chunk; k++)
            if (b[g.hdrs + k] != pat(off + k)) {
                ADD_FAILURE() << "payload byte " << off + k;
                break;
            }
        off += chunk;
    }
}

TEST(OffloadChecksum, MatchesTheTextbookSum) {
    std::mt19937 rng(7);
    for (std::size_t n = 0; n < 300; n++) {
        Bytes b(n);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        std::uint16_t ours = csum_fold(csum_add(0, reinterpret_cast<const std::byte*>(b.data()), n));
        Bytes bytes(2);  // ours is the network-order bytes read in host order
        std::memcpy(bytes.data(), &ours, 2);
        std::uint32_t ref = ref_sum(b, 0, n);
        // 0 and 0xffff are the same one's complement number
        std::uint32_t got = get16(bytes, 0);
        if (ref == 0xffff && got == 0) got = 0xffff;
        EXPECT_EQ(got, ref) << "n=" << n;
    }
}

TEST(OffloadVnetHdr, ParsesAndStoresHostOrder) {
    VnetHdr h;
    h.flags = VnetHdr::kNeedsCsum;
    h.gso_type = VnetHdr::kGsoTcpV6 | VnetHdr::kGsoEcn;
    h.hdr_len = 86;
    h.gso_size = 1428;
    h.csum_start = 54;
    h.csum_offset = 16;
    std::array<std::byte, VnetHdr::kSize> raw{};
    h.store(raw);
    auto p = VnetHdr::parse(raw);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, h);
    EXPECT_EQ(p->gso_kind(), VnetHdr::kGsoTcpV6);
    std::uint16_t v;
    std::memcpy(&v, raw.data() + 4, 2);
    EXPECT_EQ(v, 1428);
    EXPECT_FALSE(VnetHdr::parse(std::span<const std::byte>(raw.data(), 9)));
}

TEST(OffloadConfig, ParsesTheSwitch) {
    auto eq = [](Config c, bool csum, bool tso, bool gro) { return c.csum == csum && c.tso == tso && c.gro == gro; };
    EXPECT_TRUE(eq(parse_offloads(nullptr), true, true, true));
    EXPECT_TRUE(eq(parse_offloads("1"), true, true, true));
    EXPECT_TRUE(eq(parse_offloads("0"), false, false, false));
    EXPECT_FALSE(parse_offloads("off").vnet_hdr());
    EXPECT_TRUE(eq(parse_offloads("csum"), true, false, false));
    EXPECT_TRUE(eq(parse_offloads("tso"), true, true, false));
    EXPECT_TRUE(eq(parse_offloads("gro"), false, false, true));
    EXPECT_TRUE(parse_offloads("gro").vnet_hdr());
    EXPECT_TRUE(eq(parse_offloads("tso,gro"), true, true, true));
    EXPECT_TRUE(eq(parse_offloads("bogus"), false, false, false));
    EXPECT_TRUE(parse_offloads(nullptr).whole);
    EXPECT_FALSE(parse_offloads("0").whole);
    EXPECT_FALSE(parse_offloads("tso,gro").whole);
    EXPECT_TRUE(parse_offloads("tso,gro,whole").whole);
}

TEST(OffloadTso, Ipv4SegmentsAreExact) {
    Spec s;
    Golden g = make_gso(s);
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, Ipv4CwrOnFirstOnlyAndEvenSplit) {
    Spec s;
    s.flags = kAck | kCwr | 0x40 /* ECE */;
    s.payload = 4 * 1448;
    Golden g = make_gso(s);
    g.hdr.gso_type |= VnetHdr::kGsoEcn;
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, Ipv6SegmentsAreExact) {
    Spec s;
    s.v6 = true;
    s.mss = 1428;
    s.payload = 65000;
    Golden g = make_gso(s);
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, Ipv6HopByHopAndOddPayload) {
    Spec s;
    s.v6 = true;
    s.v6_hbh = true;
    s.payload = 3001;
    s.tcp_opts = 0;
    Golden g = make_gso(s);
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, VlanTaggedFrames) {
    for (int vlans = 1; vlans <= 2; vlans++) {
        Spec s;
        s.vlans = vlans;
        s.payload = 5000;
        Golden g = make_gso(s);
        check_segments(g, s, segment(g, g.hdr));
        s.v6 = true;
        Golden g6 = make_gso(s);
        check_segments(g6, s, segment(g6, g6.hdr));
    }
}

TEST(OffloadTso, JumboMssAndFullSize) {
    Spec s;
    s.mss = 8948;
    s.payload = 65535 - 20 - 32;
    Golden g = make_gso(s);
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, PayloadSmallerThanMssIsOneSegment) {
    Spec s;
    s.payload = 100;
    Golden g = make_gso(s);
    check_segments(g, s, segment(g, g.hdr));
}

TEST(OffloadTso, NextRefusesShortBuffers) {
    Golden g = make_gso(Spec{});
    TsoSegmenter t;
    ASSERT_TRUE(t.start(as_span(g.frame), g.hdr));
    EXPECT_EQ(t.max_segment(), g.hdrs + 1448);
    std::vector<std::byte> small(t.max_segment() - 1);
    EXPECT_EQ(t.next(small), 0u);
    EXPECT_FALSE(t.done());
}

TEST(OffloadTso, MalformedFramesAreRefused) {
    Golden g = make_gso(Spec{});
    TsoSegmenter t;
    // every truncation
    for (std::size_t n = 0; n < g.frame.size(); n++)
        EXPECT_FALSE(t.start(as_span(g.frame).first(n), g.hdr)) << "length " << n;
    auto refused = [&](auto mutate) {
        Golden c = g;
        mutate(c);
        return !t.start(as_span(c.frame), c.hdr);
    };
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.gso_type = VnetHdr::kGsoUdp; }));
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.gso_type = 0x05; }));
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.gso_type = VnetHdr::kGsoNone; }));
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.gso_type = VnetHdr::kGsoTcpV6; }));  // IPv4 frame
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.gso_size = 0; }));
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.csum_start = 0xffff; }));
    EXPECT_TRUE(refused([](Golden& c) { c.hdr.csum_offset = 6; }));
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3 + 2] ^= 1; }));           // total length
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3] = 0x44; }));             // IHL 4
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3] = 0x65; }));             // version
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3 + 6] |= 0x20; }));        // MF
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3 + 7] = 1; }));            // fragment offset
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l3 + 9] = 17; }));           // UDP
    EXPECT_TRUE(refused([](Golden& c) { c.frame[c.l4 + 12] = 0x40; }));        // data offset 16
    EXPECT_TRUE(refused([](Golden& c) { c.frame[12] = 0x08, c.frame[13] = 0x06; }));  // ARP
    // IPv6: payload length, a routing header, too many extension headers
    Spec s6;
    s6.v6 = true;
    Golden g6 = make_gso(s6);
    for (std::size_t n = 0; n < g6.frame.size(); n++) EXPECT_FALSE(t.start(as_span(g6.frame).first(n), g6.hdr));
    Golden c6 = g6;
    c6.frame[c6.l3 + 5] ^= 1;
    EXPECT_FALSE(t.start(as_span(c6.frame), c6.hdr));
    c6 = g6;
    c6.frame[c6.l3 + 6] = 43;  // routing header
    EXPECT_FALSE(t.start(as_span(c6.frame), c6.hdr));
    s6.v6_hbh = true;
    Golden h6 = make_gso(s6);
    h6.frame[h6.l3 + 40] = 0;  // hop-by-hop again: the TCP header is read as one, and refused
    EXPECT_FALSE(t.start(as_span(h6.frame), h6.hdr));
}

TEST(OffloadTso, RandomBytesNeverCrash) {
    std::mt19937 rng(1);
    TsoSegmenter t;
    std::vector<std::byte> out(70000);
    for (int iter = 0; iter < 20000; iter++) {
        Golden g = make_gso(Spec{});
        g.frame.resize(rng() % (g.frame.size() + 1));
        for (int k = 0; k < 4 && !g.frame.empty(); k++) g.frame[rng() % g.frame.size()] = static_cast<std::uint8_t>(rng());
        g.hdr.gso_size = static_cast<std::uint16_t>(rng() % 3000);
        g.hdr.csum_start = static_cast<std::uint16_t>(rng() % 2 ? g.l4 : rng());
        if (!t.start(as_span(g.frame), g.hdr)) continue;
        ASSERT_LE(t.max_segment(), g.frame.size());
        std::size_t total = 0;
        while (!t.done()) {
            std::size_t n = t.next(out);
            ASSERT_GT(n, 0u);
            ASSERT_LE(n, t.max_segment());
            total++;
        }
        EXPECT_EQ(total, t.segments());
    }
}

// ---- checksum completion ----

// An IPv4 UDP or TCP frame with the pseudo-header sum seeded, as the kernel hands it.
Bytes partial_frame(std::uint8_t proto, std::size_t payload, bool v6, VnetHdr& h) {
    Spec s;
    s.v6 = v6;
    s.payload = payload;
    s.tcp_opts = 0;
    Golden g = make_gso(s);
    Bytes f = g.frame;
    std::size_t l4 = g.l4;
    if (proto == 17) {
        if (v6)
            f[g.l3 + 6] = 17;
        else {
            f[g.l3 + 9] = 17;
            set16(f, g.l3 + 10, 0);
            set16(f, g.l3 + 10, ~ref_sum(f, g.l3, g.l3 + 20) & 0xffff);
        }
        set16(f, l4 + 4, static_cast<std::uint32_t>(f.size() - l4));
        set16(f, l4 + 6, ref_pseudo(f, g.l3, v6, f.size() - l4, 17));
        h.csum_offset = 6;
    } else {
        h.csum_offset = 16;
    }
    h.flags = VnetHdr::kNeedsCsum;
    h.csum_start = static_cast<std::uint16_t>(l4);
    return f;
}

TEST(OffloadCsum, SumMatchesTheTextbookOneForEveryLengthAndAlignment) {
    // RFC 1071 done the slow way: 16-bit words, the odd byte padded.
    auto textbook = [](const std::byte* p, std::size_t n) {
        std::uint64_t s = 0;
        for (; n >= 2; p += 2, n -= 2) {
            std::uint16_t w;
            std::memcpy(&w, p, 2);
            s += w;
        }
        if (n != 0) {
            std::uint16_t w = 0;
            std::memcpy(&w, p, 1);
            s += w;
        }
        return vdestack::frame::csum_fold(s);
    };
    std::vector<std::byte> buf(70000 + 8);
    std::uint32_t x = 12345;
    for (auto& b : buf) {
        x = x * 1103515245u + 12345u;
        b = static_cast<std::byte>(x >> 16);
    }
    for (std::size_t off = 0; off < 8; off++)
        for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 5u, 7u, 31u, 32u, 33u, 63u, 64u, 65u, 127u, 1500u, 1514u, 9001u, 65535u, 70000u}) {
            const std::byte* p = buf.data() + off;
            if (n == 0) continue;
            EXPECT_EQ(vdestack::frame::csum_fold(vdestack::frame::csum_add(0, p, n)), textbook(p, n))
                << "offset " << off << " length " << n;
        }
    // Chained sums (a pseudo-header first) equal one sum over the concatenation.
    const std::uint64_t head = vdestack::frame::csum_add(0, buf.data(), 12);
    EXPECT_EQ(vdestack::frame::csum_fold(vdestack::frame::csum_add(head, buf.data() + 12, 4000)),
              textbook(buf.data(), 4012));
}

TEST(OffloadCsum, CompletesTcpAndUdp) {
    for (bool v6 : {false, true})
        for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
            for (std::size_t payload : {0, 1, 2, 3, 1000, 1447}) {
                SCOPED_TRACE(std::to_string(v6) + "/" + std::to_string(proto) + "/" + std::to_string(payload));
                VnetHdr h;
                Bytes f = partial_frame(proto, payload, v6, h);
                ASSERT_TRUE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), h));
                EXPECT_TRUE(l4_csum_ok(f, 14, v6, 14 + (v6 ? 40u : 20u), proto));
            }
}

TEST(OffloadCsum, ZeroIsSentAsAllOnes) {
    VnetHdr h;
    Bytes f = partial_frame(17, 2, false, h);
    const std::size_t l4 = 34;
    f[l4 + 8] = f[l4 + 9] = 0;
    Bytes probe = f;
    ASSERT_TRUE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(probe)), h));
    // Make the zero payload word equal to the checksum it gave: the sum becomes 0xffff, the checksum 0.
    f[l4 + 8] = probe[l4 + 6];
    f[l4 + 9] = probe[l4 + 7];
    ASSERT_TRUE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), h));
    EXPECT_EQ(get16(f, l4 + 6), 0xffff);
    EXPECT_TRUE(l4_csum_ok(f, 14, false, l4, 17));
}

TEST(OffloadCsum, NothingToDoAndBadOffsets) {
    VnetHdr h;
    Bytes f = partial_frame(6, 100, false, h);
    Bytes copy = f;
    VnetHdr none;
    EXPECT_TRUE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), none));
    EXPECT_EQ(f, copy);
    VnetHdr bad = h;
    bad.csum_start = static_cast<std::uint16_t>(f.size() + 1);
    EXPECT_FALSE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), bad));
    bad = h;
    bad.csum_offset = static_cast<std::uint16_t>(f.size() - h.csum_start - 1);
    EXPECT_FALSE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), bad));
    bad.csum_offset = static_cast<std::uint16_t>(f.size() - h.csum_start - 2);  // the last two bytes: fits
    EXPECT_TRUE(complete_csum(std::as_writable_bytes(std::span<std::uint8_t>(f)), bad));
    EXPECT_FALSE(complete_csum(std::span<std::byte>(), h));
}

// ---- GRO ----

struct Out {
    VnetHdr hdr;
    Bytes frame;
};

// Runs a batch through Gro; the frames are copied (Gro rewrites headers in place).
std::vector<Out> gro(Gro& g, std::vector<Bytes> frames) {
    std::vector<FrameBuf> bufs;
    for (auto& f : frames) bufs.push_back(FrameBuf{reinterpret_cast<std::byte*>(f.data()), f.size(), f.size()});
    std::vector<Out> out;
    g.run(bufs, [&](std::span<const iovec> iov) {
        EXPECT_GE(iov.size(), 2u);
        EXPECT_EQ(iov[0].iov_len, VnetHdr::kSize);
        Out o;
        o.hdr = *VnetHdr::parse(std::span<const std::byte>(static_cast<const std::byte*>(iov[0].iov_base), VnetHdr::kSize));
        for (std::size_t i = 1; i < iov.size(); i++) {
            auto* p = static_cast<const std::uint8_t*>(iov[i].iov_base);
            o.frame.insert(o.frame.end(), p, p + iov[i].iov_len);
        }
        out.push_back(std::move(o));
    });
    return out;
}

std::vector<Bytes> segs_of(const Spec& s) {
    Golden g = make_gso(s);
    return segment(g, g.hdr);
}

// A merged frame cut again must give back exactly the segments it was made of.
void expect_roundtrip(const Out& o, const std::vector<Bytes>& segs) {
    ASSERT_NE(o.hdr.gso_type, VnetHdr::kGsoNone);
    Golden m;
    m.frame = o.frame;
    auto again = segment(m, o.hdr);
    ASSERT_EQ(again.size(), segs.size());
    for (std::size_t i = 0; i < segs.size(); i++) EXPECT_EQ(again[i], segs[i]) << "segment " << i;
}

TEST(OffloadGro, MergesAFlowIntoOneGsoFrame) {
    for (bool v6 : {false, true}) {
        SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
        Spec s;
        s.v6 = v6;
        s.payload = 20 * 1448 + 100;  // 21 segments, the last short, PSH|FIN on it
        auto segs = segs_of(s);
        Gro g(64);
        auto out = gro(g, segs);
        ASSERT_EQ(out.size(), 1u);
        const Out& o = out[0];
        const std::size_t l3 = 14, l4 = v6 ? 54 : 34, hdrs = l4 + 32;
        EXPECT_EQ(o.hdr.flags, VnetHdr::kNeedsCsum);
        EXPECT_EQ(o.hdr.gso_type, v6 ? VnetHdr::kGsoTcpV6 : VnetHdr::kGsoTcpV4);
        EXPECT_EQ(o.hdr.gso_size, 1448);
        EXPECT_EQ(o.hdr.hdr_len, hdrs);
        EXPECT_EQ(o.hdr.csum_start, l4);
        EXPECT_EQ(o.hdr.csum_offset, 16);
        ASSERT_EQ(o.frame.size(), hdrs + s.payload);
        if (v6) {
            EXPECT_EQ(get16(o.frame, l3 + 4), o.frame.size() - l3 - 40);
        } else {
            EXPECT_EQ(get16(o.frame, l3 + 2), o.frame.size() - l3);
            EXPECT_EQ(get16(o.frame, l3 + 4), s.id);  // the first segment's
            EXPECT_TRUE(ipv4_csum_ok(o.frame, l3));
        }
        EXPECT_EQ(get32(o.frame, l4 + 4), s.seq);
        EXPECT_EQ(o.frame[l4 + 13], kAck | kPsh | kFin);
        // CHECKSUM_PARTIAL: the checksum field holds the pseudo-header sum
        EXPECT_EQ(get16(o.frame, l4 + 16), ref_pseudo(o.frame, l3, v6, o.frame.size() - l4, 6));
        for (std::size_t k = 0; k < s.payload; k++)
            if (o.frame[hdrs + k] != pat(k)) {
                ADD_FAILURE() << "payload byte " << k;
                break;
            }
        EXPECT_EQ(g.merged_frames, 1u);
        EXPECT_EQ(g.merged_segments, segs.size());
        expect_roundtrip(o, segs);
    }
}

// The same parser as TSO's (wire::EthernetView): tagged segments merge too,
// with every offset moved by the tags, and round-trip through TSO.
TEST(OffloadGro, VlanTaggedSegmentsMerge) {
    for (int vlans = 1; vlans <= 2; vlans++) {
        for (bool v6 : {false, true}) {
            SCOPED_TRACE(std::to_string(vlans) + (v6 ? " tags, IPv6" : " tags, IPv4"));
            Spec s;
            s.v6 = v6;
            s.vlans = vlans;
            s.payload = 10 * 1448;
            auto segs = segs_of(s);
            Gro g(64);
            auto out = gro(g, segs);
            ASSERT_EQ(out.size(), 1u);
            const std::size_t l3 = 14 + 4 * static_cast<std::size_t>(vlans), l4 = l3 + (v6 ? 40 : 20);
            EXPECT_EQ(out[0].hdr.csum_start, l4);
            EXPECT_EQ(out[0].hdr.hdr_len, l4 + 32);
            if (!v6) EXPECT_TRUE(ipv4_csum_ok(out[0].frame, l3));
            EXPECT_EQ(get16(out[0].frame, l4 + 16), ref_pseudo(out[0].frame, l3, v6, out[0].frame.size() - l4, 6));
            expect_roundtrip(out[0], segs);
        }
    }
}

// Two flows that differ only in their VLAN tag are two flows.
TEST(OffloadGro, AnotherVlanIsAnotherFlow) {
    Spec s;
    s.vlans = 1;
    s.payload = 4 * 1448;
    s.flags = kAck;
    auto a = segs_of(s);
    auto b = a;
    for (auto& f : b) f[15] = 99;  // the tag's VLAN id (its TCI is not in any checksum)
    std::vector<Bytes> mixed;
    for (std::size_t i = 0; i < a.size(); i++) {
        mixed.push_back(a[i]);
        mixed.push_back(b[i]);
    }
    Gro g(64);
    auto out = gro(g, mixed);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].frame[15], 10);
    EXPECT_EQ(out[1].frame[15], 99);
    expect_roundtrip(out[0], a);
    expect_roundtrip(out[1], b);
}

TEST(OffloadGro, SizeLimitSplitsIntoSeveralFrames) {
    Spec s;
    s.payload = 30 * 1448;
    s.flags = kAck;
    auto segs = segs_of(s);
    Spec s2 = s;  // the next 30 segments of the flow: 86880 bytes in all, more than an IP packet holds
    s2.seq = s.seq + 30 * 1448;
    s2.id = static_cast<std::uint16_t>(s.id + 30);
    for (auto& b : segs_of(s2)) segs.push_back(b);
    s.payload *= 2;
    Gro g(64);
    auto out = gro(g, segs);
    ASSERT_EQ(out.size(), 2u);
    std::size_t total = 0;
    std::uint32_t seq = s.seq;
    for (const Out& o : out) {
        EXPECT_LE(get16(o.frame, 16), 65535);
        EXPECT_EQ(get32(o.frame, 34 + 4), seq);
        const std::size_t pl = o.frame.size() - 34 - 32;
        total += pl;
        seq += static_cast<std::uint32_t>(pl);
    }
    EXPECT_EQ(total, s.payload);
}

void refix_tcp(Bytes& b) {
    set16(b, 34 + 16, 0);
    set16(b, 34 + 16, ~ref_sum(b, 34, b.size(), ref_pseudo(b, 14, false, b.size() - 34, 6)) & 0xffff);
}
void refix_ip(Bytes& b) {
    set16(b, 24, 0);
    set16(b, 24, ~ref_sum(b, 14, 34) & 0xffff);
}

TEST(OffloadGro, FramesThatDoNotMergeGoOutAsTheyCame) {
    Spec s;
    s.payload = 4 * 1448;
    s.flags = kAck;
    auto segs = segs_of(s);
    Gro g(64);
    auto plain = [&](const std::vector<Bytes>& in) {
        auto out = gro(g, in);
        std::vector<Bytes> frames;
        for (auto& o : out) {
            EXPECT_EQ(o.hdr, VnetHdr{});
            frames.push_back(o.frame);
        }
        return frames;
    };
    // Out of order: no two consecutive sequence numbers
    std::vector<Bytes> swapped = {segs[1], segs[0], segs[3], segs[2]};
    EXPECT_EQ(plain(swapped), swapped);
    // Pure ACKs, SYN, RST, non-IP, IPv4 with options, fragments, a bad checksum, truncated
    std::vector<Bytes> odd;
    Bytes ack(segs[0].begin(), segs[0].begin() + 66);
    set16(ack, 16, 66 - 14);
    odd.push_back(ack);
    odd.push_back(ack);
    for (std::uint8_t fl : {kSyn, kRst, kCwr, std::uint8_t{0}}) {
        Bytes b = segs[2];
        b[34 + 13] = static_cast<std::uint8_t>(fl | (fl == 0 ? 0 : kAck));
        refix_tcp(b);
        odd.push_back(segs[1]);  // would start a group...
        odd.push_back(b);        // ...that this frame of the same flow ends at once
    }
    Bytes arp = segs[0];
    arp[12] = 0x08, arp[13] = 0x06;
    odd.push_back(arp);
    Bytes frag = segs[0];
    frag[20] |= 0x20;
    odd.push_back(frag);
    for (std::size_t n : {0, 13, 20, 40, 60}) odd.emplace_back(segs[0].begin(), segs[0].begin() + static_cast<long>(n));
    Bytes bad = segs[2];
    bad.back() ^= 0x55;
    odd.push_back(bad);
    odd.push_back(segs[3]);  // seq follows bad's, but bad did not start a group
    EXPECT_EQ(plain(odd), odd);
    EXPECT_EQ(g.merged_frames, 0u);
}

TEST(OffloadGro, InterleavedFlowsMergeSeparatelyInOrder) {
    Spec a, b;
    a.flags = b.flags = kAck;
    a.payload = b.payload = 5 * 1448;
    b.sport = 40001;
    b.seq = 77;
    auto sa = segs_of(a), sb = segs_of(b);
    std::vector<Bytes> in;
    for (std::size_t i = 0; i < 5; i++) {
        in.push_back(sa[i]);
        in.push_back(sb[i]);
    }
    Gro g(64);
    auto out = gro(g, in);
    ASSERT_EQ(out.size(), 2u);
    expect_roundtrip(out[0], sa);
    expect_roundtrip(out[1], sb);
}

TEST(OffloadGro, AFlowFrameThatCannotMergeFlushesItsGroupFirst) {
    Spec s;
    s.flags = kAck;
    s.payload = 6 * 1448;
    auto segs = segs_of(s);
    Bytes ack(segs[0].begin(), segs[0].begin() + 66);  // same flow, no payload
    set16(ack, 16, 66 - 14);
    Bytes other = segs[0];
    other[34] = 0x99;  // another flow
    std::vector<Bytes> in = {segs[0], segs[1], other, segs[2], ack, segs[3], segs[4], segs[5]};
    Gro g(64);
    auto out = gro(g, in);
    // other (plain, passes the open group), [0..2] merged, ack, [3..5] merged
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].frame, other);
    expect_roundtrip(out[1], {segs[0], segs[1], segs[2]});
    EXPECT_EQ(out[2].frame, ack);
    expect_roundtrip(out[3], {segs[3], segs[4], segs[5]});
}

TEST(OffloadGro, DifferencesThatEndAGroup) {
    Spec s;
    s.flags = kAck;
    s.payload = 4 * 1448;
    auto segs = segs_of(s);
    auto groups = [](std::vector<Bytes> in) {
        Gro g(64);
        return gro(g, std::move(in)).size();
    };
    EXPECT_EQ(groups(segs), 1u);
    auto changed = [&](auto mutate) {
        std::vector<Bytes> in = segs;
        mutate(in[2]);
        return groups(in);
    };
    // Segment 2 differs in its options (timestamps), window, ack, TTL, TOS,
    // MAC, or has a bad IP header checksum: [0,1] merged, [2] alone, [3]
    // alone (it differs from 2 the same way): 3 frames.
    EXPECT_EQ(changed([&](Bytes& b) { b[34 + 29] ^= 1, refix_tcp(b); }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[34 + 15] ^= 1, refix_tcp(b); }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[34 + 11] ^= 1, refix_tcp(b); }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[22] ^= 1, refix_ip(b); }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[15] ^= 4, refix_ip(b); }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[0] ^= 2; }), 3u);
    EXPECT_EQ(changed([&](Bytes& b) { b[24] ^= 1; }), 3u);
    // the IP id does not matter
    EXPECT_EQ(changed([&](Bytes& b) { b[19] ^= 1, refix_ip(b); }), 1u);
    // PSH or a short segment in the middle closes the group after it: [0..2] [3]
    EXPECT_EQ(changed([&](Bytes& b) { b[34 + 13] |= kPsh, refix_tcp(b); }), 2u);
    EXPECT_EQ(changed([&](Bytes& b) {
                  b.resize(b.size() - 100);
                  set16(b, 16, static_cast<std::uint32_t>(b.size() - 14));
                  refix_ip(b);
                  refix_tcp(b);
              }),
              2u);
}

TEST(OffloadGro, PaddedShortFramesAndManyFlows) {
    // Ethernet padding after a short IP packet is not payload
    Spec s;
    s.flags = kAck;
    s.payload = 2 * 10;
    s.mss = 10;
    auto segs = segs_of(s);
    for (auto& b : segs) b.resize(b.size() + 6, 0xee);
    Gro g(64);
    auto out = gro(g, segs);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].frame.size(), 34u + 32 + 20);
    // more flows than groups: every frame still comes out exactly once
    std::vector<Bytes> in;
    std::size_t payload = 0;
    for (int round = 0; round < 3; round++)
        for (std::uint16_t f = 0; f < Gro::kMaxFlows + 3; f++) {
            Spec x;
            x.flags = kAck;
            x.payload = 3 * 100;
            x.mss = 100;
            x.sport = static_cast<std::uint16_t>(1000 + f);
            in.push_back(segs_of(x)[static_cast<std::size_t>(round)]);
            payload += 100;
        }
    auto out2 = gro(g, in);
    std::size_t got = 0;
    for (auto& o : out2) got += o.frame.size() - 66;
    EXPECT_EQ(got, payload);
}

TEST(OffloadGro, MoreFramesThanCapacityStillGoOut) {
    Spec s;
    s.flags = kAck;
    s.payload = 10 * 100;
    s.mss = 100;
    auto segs = segs_of(s);
    Gro g(4);
    auto out = gro(g, segs);
    std::size_t got = 0;
    for (auto& o : out) got += o.frame.size() - 66;
    EXPECT_EQ(got, s.payload);
    EXPECT_EQ(out.size(), 7u);  // [0..3] merged, then 6 plain
}

TEST(OffloadGro, RandomBytesNeverCrash) {
    std::mt19937 rng(3);
    Spec s;
    s.flags = kAck;
    s.payload = 8 * 1448;
    auto segs = segs_of(s);
    Gro g(16);
    for (int iter = 0; iter < 5000; iter++) {
        std::vector<Bytes> in;
        for (int k = 0; k < 12; k++) {
            Bytes b = segs[rng() % segs.size()];
            b.resize(rng() % (b.size() + 1));
            for (int m = 0; m < 3 && !b.empty(); m++) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
            in.push_back(std::move(b));
        }
        std::size_t bytes_in = 0;
        for (auto& b : in) bytes_in += b.size();
        auto out = gro(g, in);
        EXPECT_LE(out.size(), in.size());
        std::size_t bytes_out = 0;
        for (auto& o : out) bytes_out += o.frame.size();
        EXPECT_LE(bytes_out, bytes_in);
    }
}

}  // namespace
