// stack_image.hpp - the byte format of a saved stack (vde_stack_save /
// vde_stack_restore, a live migration): a checked view of an image and its
// writer. Version 1 carries the stack's interfaces with their VNLs, its
// addresses, routes and neighbours, and its sockets.
//
// Format (every number big-endian):
//   header, 20 bytes: magic "VDESTKIM", version u16 (1), reserved u16 (0),
//   record count u32, length of the records that follow u32.
//   record: type u16, reserved u16 (0), payload length u32, payload.
//   endpoint, 24 bytes: family u8 (AF_INET 2, AF_INET6 10; 0: none, for an
//     unconnected UDP peer), reserved u8, port u16, IPv6 scope id u32,
//     address 16 bytes (an IPv4 address in the first 4, the rest zero).
//   kTcp (an established connection, its state as TCP_REPAIR reads it):
//     local, peer endpoints (48); snd_seq (the sequence number after the
//     last byte of the send queue) u32, rcv_seq (the next expected) u32;
//     mss u16, snd_wscale u8, rcv_wscale u8; options u8 (kOpt* bits),
//     buffer locks u8 (SO_BUF_LOCK: kLockSndbuf, kLockRcvbuf: a buffer
//     size the program set, else the kernel's autotuning), reserved 2; timestamp u32; window: snd_wl1, snd_wnd, max_window,
//     rcv_wnd, rcv_wup u32 each; unsent u32 (how many of the send queue's
//     last bytes were never sent), sndq length u32, rcvq length u32;
//     SO_SNDBUF u32, SO_RCVBUF u32 (as getsockopt gives them; 108 bytes so
//     far); then the send queue's bytes, then the receive queue's.
//   kTcpListen: local endpoint, backlog u32 (28 bytes).
//   kUdp: local endpoint, peer endpoint (48 bytes).
//   name: length u8 (1..15) and the interface's name.
//   kInterface: MAC 6 bytes, MTU u32, flags u32 (kIfUp), name.
//   kAddress: family u8, prefix length u8, address 16 bytes, name.
//   kRoute: family u8, destination length u8, destination 16, gateway 16
//     (zero: on-link), name (the output interface).
//   kVnl: VNL length u16 (0..4095), the VNL's bytes (no NUL), name (the
//     interface it joins; the first kVnl record is the stack's own
//     interface, vde_addstack's, the others vde::Stack::add_interface's).
//   kNeighbour: family u8, flags u8 (kNeighPermanent), address 16, MAC 6,
//     name.
// Writers put the records in this order: kVnl, kInterface, kAddress,
// kRoute, kNeighbour, then the sockets in the order the caller gave them.
//
// ImageView::parse() validates once: the magic, the version (another one is
// refused: parse_error() says which), the lengths (the header's count and
// length match the records exactly), every record's type and payload (its
// fixed part, its families, its queue lengths adding up, unsent within the
// send queue). The records' decoders then read only checked bytes. A view
// does not own the bytes; the records it gives point into them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wire/bytes.hpp"

namespace vdestack::wire::image {

inline constexpr std::array<char, 8> kMagic = {'V', 'D', 'E', 'S', 'T', 'K', 'I', 'M'};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeader = 20, kRecordHeader = 8, kEndpoint = 24, kTcpFixed = 108;
inline constexpr std::size_t kMaxQueue = 64u << 20;  // per queue: more than any socket buffer holds

enum RecordType : std::uint16_t {
    kInterface = 1,
    kAddress = 2,
    kRoute = 3,
    kVnl = 4,
    kNeighbour = 5,
    kTcp = 16,
    kTcpListen = 17,
    kUdp = 18,
};
inline constexpr std::size_t kMaxVnl = 4095;
inline constexpr std::uint8_t kNeighPermanent = 1;
inline constexpr std::uint32_t kIfUp = 1;
inline constexpr std::size_t kMaxIfname = 15;  // IFNAMSIZ - 1
enum TcpOption : std::uint8_t { kOptTimestamps = 1, kOptSack = 2, kOptWscale = 4, kOptNodelay = 8 };
enum BufferLock : std::uint8_t { kLockSndbuf = 1, kLockRcvbuf = 2 };  // SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK

struct Endpoint {
    std::uint8_t family = 0;  // 0: none
    std::uint16_t port = 0;
    std::uint32_t scope = 0;
    std::array<std::uint8_t, 16> addr{};
    bool operator==(const Endpoint&) const = default;
};

struct TcpRecord {
    Endpoint local, peer;
    std::uint32_t snd_seq = 0, rcv_seq = 0;
    std::uint16_t mss = 0;
    std::uint8_t snd_wscale = 0, rcv_wscale = 0, options = 0;
    std::uint8_t locks = 0;  // BufferLock bits
    std::uint32_t timestamp = 0;
    std::uint32_t snd_wl1 = 0, snd_wnd = 0, max_window = 0, rcv_wnd = 0, rcv_wup = 0;
    std::uint32_t unsent = 0;
    std::uint32_t sndbuf = 0, rcvbuf = 0;
    std::span<const std::byte> sndq, rcvq;  // into the image (or the writer's caller)
};

struct ListenRecord {
    Endpoint local;
    std::uint32_t backlog = 0;
};

struct UdpRecord {
    Endpoint local, peer;
};

struct InterfaceRecord {
    std::string name;
    std::array<std::uint8_t, 6> mac{};
    std::uint32_t mtu = 0, flags = 0;
    bool operator==(const InterfaceRecord&) const = default;
};

struct AddressRecord {
    std::string name;
    std::uint8_t family = 0, prefix = 0;
    std::array<std::uint8_t, 16> addr{};
    bool operator==(const AddressRecord&) const = default;
};

struct RouteRecord {
    std::string name;
    std::uint8_t family = 0, dst_len = 0;
    std::array<std::uint8_t, 16> dst{}, gw{};
    bool operator==(const RouteRecord&) const = default;
};

struct VnlRecord {
    std::string name;  // the interface
    std::string vnl;
    bool operator==(const VnlRecord&) const = default;
};

struct NeighbourRecord {
    std::string name;
    std::uint8_t family = 0, flags = 0;
    std::array<std::uint8_t, 16> addr{};
    std::array<std::uint8_t, 6> mac{};
    bool operator==(const NeighbourRecord&) const = default;
};

namespace detail {

inline bool family_ok(std::uint8_t f, bool none_ok) noexcept { return f == 2 || f == 10 || (none_ok && f == 0); }

inline Endpoint endpoint(const std::byte* p) noexcept {
    Endpoint e;
    e.family = u8(p);
    e.port = be16(p + 2);
    e.scope = be32(p + 4);
    std::memcpy(e.addr.data(), p + 8, 16);
    return e;
}

inline void put_endpoint(std::byte* p, const Endpoint& e) noexcept {
    p[0] = std::byte{e.family};
    put_be16(p + 2, e.port);
    put_be32(p + 4, e.scope);
    std::memcpy(p + 8, e.addr.data(), 16);
}

// A name at p (len u8 + bytes) that ends the payload exactly.
inline std::optional<std::string> name_at(std::span<const std::byte> p, std::size_t at) {
    if (at >= p.size()) return std::nullopt;
    const std::size_t len = u8(p.data() + at);
    if (len == 0 || len > kMaxIfname || at + 1 + len != p.size()) return std::nullopt;
    std::string n(reinterpret_cast<const char*>(p.data() + at + 1), len);
    for (char c : n)
        if (c == '\0' || c == '/' || c == ' ') return std::nullopt;
    return n;
}

inline std::size_t max_prefix(std::uint8_t family) noexcept { return family == 2 ? 32 : 128; }

}  // namespace detail

// The decoders: nullopt when the payload is not a valid record of the type.
[[nodiscard]] inline std::optional<InterfaceRecord> decode_interface(std::span<const std::byte> p) {
    if (p.size() < 14) return std::nullopt;
    InterfaceRecord r;
    std::memcpy(r.mac.data(), p.data(), 6);
    r.mtu = be32(p.data() + 6);
    r.flags = be32(p.data() + 10);
    auto n = detail::name_at(p, 14);
    if (!n || r.mtu > 65535) return std::nullopt;
    r.name = std::move(*n);
    return r;
}

[[nodiscard]] inline std::optional<AddressRecord> decode_address(std::span<const std::byte> p) {
    if (p.size() < 18) return std::nullopt;
    AddressRecord r;
    r.family = u8(p.data());
    r.prefix = u8(p.data() + 1);
    std::memcpy(r.addr.data(), p.data() + 2, 16);
    auto n = detail::name_at(p, 18);
    if (!n || !detail::family_ok(r.family, false) || r.prefix > detail::max_prefix(r.family)) return std::nullopt;
    r.name = std::move(*n);
    return r;
}

[[nodiscard]] inline std::optional<RouteRecord> decode_route(std::span<const std::byte> p) {
    if (p.size() < 34) return std::nullopt;
    RouteRecord r;
    r.family = u8(p.data());
    r.dst_len = u8(p.data() + 1);
    std::memcpy(r.dst.data(), p.data() + 2, 16);
    std::memcpy(r.gw.data(), p.data() + 18, 16);
    auto n = detail::name_at(p, 34);
    if (!n || !detail::family_ok(r.family, false) || r.dst_len > detail::max_prefix(r.family)) return std::nullopt;
    r.name = std::move(*n);
    return r;
}

[[nodiscard]] inline std::optional<VnlRecord> decode_vnl(std::span<const std::byte> p) {
    if (p.size() < 2) return std::nullopt;
    const std::size_t len = be16(p.data());
    if (len > kMaxVnl || p.size() < 2 + len) return std::nullopt;
    VnlRecord r;
    r.vnl.assign(reinterpret_cast<const char*>(p.data() + 2), len);
    if (r.vnl.find('\0') != std::string::npos) return std::nullopt;
    auto n = detail::name_at(p, 2 + len);
    if (!n) return std::nullopt;
    r.name = std::move(*n);
    return r;
}

[[nodiscard]] inline std::optional<NeighbourRecord> decode_neighbour(std::span<const std::byte> p) {
    if (p.size() < 24) return std::nullopt;
    NeighbourRecord r;
    r.family = u8(p.data());
    r.flags = u8(p.data() + 1);
    std::memcpy(r.addr.data(), p.data() + 2, 16);
    std::memcpy(r.mac.data(), p.data() + 18, 6);
    auto n = detail::name_at(p, 24);
    if (!n || !detail::family_ok(r.family, false) || (r.flags & ~kNeighPermanent) != 0) return std::nullopt;
    r.name = std::move(*n);
    return r;
}

[[nodiscard]] inline std::optional<TcpRecord> decode_tcp(std::span<const std::byte> p) noexcept {
    if (p.size() < kTcpFixed) return std::nullopt;
    const std::byte* b = p.data();
    TcpRecord t;
    t.local = detail::endpoint(b);
    t.peer = detail::endpoint(b + kEndpoint);
    if (!detail::family_ok(t.local.family, false) || t.peer.family != t.local.family) return std::nullopt;
    t.snd_seq = be32(b + 48);
    t.rcv_seq = be32(b + 52);
    t.mss = be16(b + 56);
    t.snd_wscale = u8(b + 58);
    t.rcv_wscale = u8(b + 59);
    t.options = u8(b + 60);
    t.locks = u8(b + 61);
    if ((t.locks & ~(kLockSndbuf | kLockRcvbuf)) != 0) return std::nullopt;
    t.timestamp = be32(b + 64);
    t.snd_wl1 = be32(b + 68);
    t.snd_wnd = be32(b + 72);
    t.max_window = be32(b + 76);
    t.rcv_wnd = be32(b + 80);
    t.rcv_wup = be32(b + 84);
    t.unsent = be32(b + 88);
    const std::size_t sndq = be32(b + 92), rcvq = be32(b + 96);
    t.sndbuf = be32(b + 100);
    t.rcvbuf = be32(b + 104);
    if (sndq > kMaxQueue || rcvq > kMaxQueue || t.unsent > sndq || p.size() != kTcpFixed + sndq + rcvq)
        return std::nullopt;
    if (t.snd_wscale > 14 || t.rcv_wscale > 14) return std::nullopt;  // RFC 7323 2.3
    t.sndq = p.subspan(kTcpFixed, sndq);
    t.rcvq = p.subspan(kTcpFixed + sndq, rcvq);
    return t;
}

[[nodiscard]] inline std::optional<ListenRecord> decode_listen(std::span<const std::byte> p) noexcept {
    if (p.size() != kEndpoint + 4) return std::nullopt;
    ListenRecord l{detail::endpoint(p.data()), be32(p.data() + kEndpoint)};
    if (!detail::family_ok(l.local.family, false)) return std::nullopt;
    return l;
}

[[nodiscard]] inline std::optional<UdpRecord> decode_udp(std::span<const std::byte> p) noexcept {
    if (p.size() != 2 * kEndpoint) return std::nullopt;
    UdpRecord u{detail::endpoint(p.data()), detail::endpoint(p.data() + kEndpoint)};
    if (!detail::family_ok(u.local.family, false) || !detail::family_ok(u.peer.family, true)) return std::nullopt;
    if (u.peer.family != 0 && u.peer.family != u.local.family) return std::nullopt;
    return u;
}

class ImageView {
public:
    // The header alone (the first kHeader bytes of m): the length of the
    // records that follow it, or nullopt with *error saying what is wrong
    // (too short, the magic, the version). For a reader that must know how
    // much to read; parse() checks it too.
    [[nodiscard]] static std::optional<std::size_t> records_length(std::span<const std::byte> m,
                                                                   std::string* error = nullptr) {
        auto bad = [&](const char* what) -> std::optional<std::size_t> {
            if (error != nullptr) *error = what;
            return std::nullopt;
        };
        if (m.size() < kHeader) return bad("not a stack image: shorter than its header");
        if (std::memcmp(m.data(), kMagic.data(), kMagic.size()) != 0) return bad("not a stack image: bad magic");
        const std::uint16_t version = be16(m.data() + 8);
        if (version != kVersion) {
            if (error != nullptr)
                *error = "a stack image of version " + std::to_string(version) + ": this library reads version " +
                         std::to_string(kVersion) + (version > kVersion ? " (a newer library wrote it)" : "");
            return std::nullopt;
        }
        return be32(m.data() + 16);
    }

    // The image, or nullopt with *error saying what is wrong (when given).
    [[nodiscard]] static std::optional<ImageView> parse(std::span<const std::byte> m,
                                                        std::string* error = nullptr) {
        auto bad = [&](const char* what) -> std::optional<ImageView> {
            if (error != nullptr) *error = what;
            return std::nullopt;
        };
        const std::optional<std::size_t> length = records_length(m, error);
        if (!length) return std::nullopt;
        const std::uint32_t count = be32(m.data() + 12);
        if (*length != m.size() - kHeader) return bad("a truncated stack image (or one with trailing bytes)");
        std::size_t at = kHeader, n = 0;
        while (at < m.size()) {
            if (m.size() - at < kRecordHeader) return bad("a stack image record cut short");
            const std::uint16_t type = be16(m.data() + at);
            const std::size_t len = be32(m.data() + at + 4);
            if (len > m.size() - at - kRecordHeader) return bad("a stack image record longer than the image");
            const auto payload = m.subspan(at + kRecordHeader, len);
            const bool ok = (type == kTcp && decode_tcp(payload)) || (type == kTcpListen && decode_listen(payload)) ||
                            (type == kUdp && decode_udp(payload)) || (type == kInterface && decode_interface(payload)) ||
                            (type == kAddress && decode_address(payload)) || (type == kRoute && decode_route(payload)) ||
                            (type == kVnl && decode_vnl(payload)) || (type == kNeighbour && decode_neighbour(payload));
            if (!ok) return bad("a malformed or unknown record in the stack image");
            at += kRecordHeader + len;
            n++;
        }
        if (n != count) return bad("a stack image whose record count does not match");
        return ImageView(m, count);
    }

    [[nodiscard]] std::uint32_t count() const noexcept { return count_; }
    // f(type, payload) for every record, in order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t at = kHeader; at < m_.size();) {
            const std::size_t len = be32(m_.data() + at + 4);
            f(static_cast<RecordType>(be16(m_.data() + at)), m_.subspan(at + kRecordHeader, len));
            at += kRecordHeader + len;
        }
    }

private:
    ImageView(std::span<const std::byte> m, std::uint32_t count) noexcept : m_(m), count_(count) {}
    std::span<const std::byte> m_;
    std::uint32_t count_ = 0;
};

// Builds an image, record by record.
class ImageWriter {
public:
    ImageWriter() : b_(kHeader) {
        std::memcpy(b_.data(), kMagic.data(), kMagic.size());
        put_be16(b_.data() + 8, kVersion);
    }
    void add(const TcpRecord& t) {
        std::byte* p = record(kTcp, kTcpFixed + t.sndq.size() + t.rcvq.size());
        detail::put_endpoint(p, t.local);
        detail::put_endpoint(p + kEndpoint, t.peer);
        put_be32(p + 48, t.snd_seq);
        put_be32(p + 52, t.rcv_seq);
        put_be16(p + 56, t.mss);
        p[58] = std::byte{t.snd_wscale};
        p[59] = std::byte{t.rcv_wscale};
        p[60] = std::byte{t.options};
        p[61] = std::byte{t.locks};
        put_be32(p + 64, t.timestamp);
        put_be32(p + 68, t.snd_wl1);
        put_be32(p + 72, t.snd_wnd);
        put_be32(p + 76, t.max_window);
        put_be32(p + 80, t.rcv_wnd);
        put_be32(p + 84, t.rcv_wup);
        put_be32(p + 88, t.unsent);
        put_be32(p + 92, static_cast<std::uint32_t>(t.sndq.size()));
        put_be32(p + 96, static_cast<std::uint32_t>(t.rcvq.size()));
        put_be32(p + 100, t.sndbuf);
        put_be32(p + 104, t.rcvbuf);
        if (!t.sndq.empty()) std::memcpy(p + kTcpFixed, t.sndq.data(), t.sndq.size());
        if (!t.rcvq.empty()) std::memcpy(p + kTcpFixed + t.sndq.size(), t.rcvq.data(), t.rcvq.size());
    }
    void add(const ListenRecord& l) {
        std::byte* p = record(kTcpListen, kEndpoint + 4);
        detail::put_endpoint(p, l.local);
        put_be32(p + kEndpoint, l.backlog);
    }
    void add(const UdpRecord& u) {
        std::byte* p = record(kUdp, 2 * kEndpoint);
        detail::put_endpoint(p, u.local);
        detail::put_endpoint(p + kEndpoint, u.peer);
    }
    void add(const InterfaceRecord& r) {
        std::byte* p = record(kInterface, 14 + 1 + name_len(r.name));
        std::memcpy(p, r.mac.data(), 6);
        put_be32(p + 6, r.mtu);
        put_be32(p + 10, r.flags);
        put_name(p + 14, r.name);
    }
    void add(const AddressRecord& r) {
        std::byte* p = record(kAddress, 18 + 1 + name_len(r.name));
        p[0] = std::byte{r.family};
        p[1] = std::byte{r.prefix};
        std::memcpy(p + 2, r.addr.data(), 16);
        put_name(p + 18, r.name);
    }
    void add(const RouteRecord& r) {
        std::byte* p = record(kRoute, 34 + 1 + name_len(r.name));
        p[0] = std::byte{r.family};
        p[1] = std::byte{r.dst_len};
        std::memcpy(p + 2, r.dst.data(), 16);
        std::memcpy(p + 18, r.gw.data(), 16);
        put_name(p + 34, r.name);
    }
    void add(const VnlRecord& r) {
        const std::size_t len = std::min(r.vnl.size(), kMaxVnl);
        std::byte* p = record(kVnl, 2 + len + 1 + name_len(r.name));
        put_be16(p, static_cast<std::uint16_t>(len));
        if (len != 0) std::memcpy(p + 2, r.vnl.data(), len);
        put_name(p + 2 + len, r.name);
    }
    void add(const NeighbourRecord& r) {
        std::byte* p = record(kNeighbour, 24 + 1 + name_len(r.name));
        p[0] = std::byte{r.family};
        p[1] = std::byte{r.flags};
        std::memcpy(p + 2, r.addr.data(), 16);
        std::memcpy(p + 18, r.mac.data(), 6);
        put_name(p + 24, r.name);
    }
    // The image (the writer is empty afterwards).
    [[nodiscard]] std::vector<std::byte> finish() {
        put_be32(b_.data() + 12, count_);
        put_be32(b_.data() + 16, static_cast<std::uint32_t>(b_.size() - kHeader));
        std::vector<std::byte> out = std::move(b_);
        *this = ImageWriter();
        return out;
    }

private:
    // Callers pass names of 1..15 bytes (longer ones are cut: the reader
    // refuses an empty one).
    static std::size_t name_len(const std::string& n) noexcept { return std::min(n.size(), kMaxIfname); }
    static void put_name(std::byte* p, const std::string& n) noexcept {
        p[0] = static_cast<std::byte>(name_len(n));
        std::memcpy(p + 1, n.data(), name_len(n));
    }
    std::byte* record(RecordType type, std::size_t len) {
        const std::size_t at = b_.size();
        b_.resize(at + kRecordHeader + len);
        put_be16(b_.data() + at, type);
        put_be32(b_.data() + at + 4, static_cast<std::uint32_t>(len));
        count_++;
        return b_.data() + at + kRecordHeader;
    }
    std::vector<std::byte> b_;
    std::uint32_t count_ = 0;
};

}  // namespace vdestack::wire::image
