// dhcp4.hpp - DHCPv4 messages (RFC 2131, options RFC 2132): a checked view
// of a received message and a builder of the client's.
//
// Dhcp4View::parse() validates once: the fixed BOOTP header (236 bytes) and
// the magic cookie fit; htype is Ethernet with hlen 6; every option of the
// options field -- and of `file`/`sname` when option 52 overloads them --
// has its length within the field, up to END (a field without END ends at
// its last byte). After that, option() and the accessors read only bytes
// inside the message. The first occurrence of a code wins (no RFC 3396
// concatenation). Views do not own the bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire::dhcp4 {

inline constexpr std::uint16_t kServerPort = 67, kClientPort = 68;
inline constexpr std::size_t kFixed = 236;          // op .. file
inline constexpr std::size_t kOptionsAt = kFixed + 4;  // after the magic cookie
inline constexpr std::uint32_t kCookie = 0x63825363;
inline constexpr std::uint8_t kBootRequest = 1, kBootReply = 2;
inline constexpr std::uint16_t kFlagBroadcast = 0x8000;

enum MsgType : std::uint8_t {
    kDiscover = 1, kOffer = 2, kRequest = 3, kDecline = 4, kAck = 5, kNak = 6, kRelease = 7, kInform = 8,
};

enum Option : std::uint8_t {
    kPad = 0, kSubnetMask = 1, kRouter = 3, kDnsServer = 6, kHostName = 12, kDomainName = 15, kBroadcast = 28,
    kRequestedIp = 50, kLeaseTime = 51, kOverload = 52, kMessageType = 53, kServerId = 54, kParamList = 55,
    kMessage = 56, kMaxSize = 57, kRenewalT1 = 58, kRebindT2 = 59, kClientId = 61, kClientFqdn = 81,
    kDomainSearch = 119, kEnd = 255,
};

class Dhcp4View {
public:
    [[nodiscard]] static std::optional<Dhcp4View> parse(std::span<const std::byte> m) noexcept {
        if (m.size() < kOptionsAt || be32(m.data() + kFixed) != kCookie) return std::nullopt;
        if (u8(m.data() + 1) != 1 || u8(m.data() + 2) != 6) return std::nullopt;  // Ethernet, 6-byte MACs
        Dhcp4View v(m);
        if (!walk(v.options_field(), nullptr, nullptr)) return std::nullopt;
        if (auto o = v.find(v.options_field(), kOverload); o && o->size() == 1) v.overload_ = u8(o->data());
        if ((v.overload_ & 1) && !walk(v.file_field(), nullptr, nullptr)) return std::nullopt;
        if ((v.overload_ & 2) && !walk(v.sname_field(), nullptr, nullptr)) return std::nullopt;
        return v;
    }

    [[nodiscard]] std::uint8_t op() const noexcept { return u8(m_.data()); }
    [[nodiscard]] std::uint32_t xid() const noexcept { return be32(m_.data() + 4); }
    [[nodiscard]] std::uint16_t flags() const noexcept { return be16(m_.data() + 10); }
    [[nodiscard]] std::span<const std::byte, 4> ciaddr() const noexcept { return m_.subspan<12, 4>(); }
    [[nodiscard]] std::span<const std::byte, 4> yiaddr() const noexcept { return m_.subspan<16, 4>(); }
    [[nodiscard]] std::span<const std::byte, 4> siaddr() const noexcept { return m_.subspan<20, 4>(); }
    [[nodiscard]] std::span<const std::byte, 6> chaddr() const noexcept { return m_.subspan<28, 6>(); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return m_; }

    // The value of option `code` (in the options field, then in file and
    // sname when overloaded), or nullopt.
    [[nodiscard]] std::optional<std::span<const std::byte>> option(std::uint8_t code) const noexcept {
        if (auto o = find(options_field(), code)) return o;
        if (overload_ & 1)
            if (auto o = find(file_field(), code)) return o;
        if (overload_ & 2)
            if (auto o = find(sname_field(), code)) return o;
        return std::nullopt;
    }
    // Option 53, or 0 when absent or malformed.
    [[nodiscard]] std::uint8_t message_type() const noexcept {
        auto o = option(kMessageType);
        return o && o->size() == 1 ? u8(o->data()) : 0;
    }
    // A 4-byte option as a number (lease time, T1, T2), or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> u32_option(std::uint8_t code) const noexcept {
        auto o = option(code);
        if (!o || o->size() != 4) return std::nullopt;
        return be32(o->data());
    }

private:
    explicit Dhcp4View(std::span<const std::byte> m) noexcept : m_(m) {}
    [[nodiscard]] std::span<const std::byte> options_field() const noexcept { return m_.subspan(kOptionsAt); }
    [[nodiscard]] std::span<const std::byte> file_field() const noexcept { return m_.subspan(108, 128); }
    [[nodiscard]] std::span<const std::byte> sname_field() const noexcept { return m_.subspan(44, 64); }

    // Walks the options of a field; false if one overruns it. With `code`
    // set, stops at it and stores its value in *out.
    static bool walk(std::span<const std::byte> f, const std::uint8_t* code, std::span<const std::byte>* out) noexcept {
        std::size_t i = 0;
        while (i < f.size()) {
            const std::uint8_t c = u8(f.data() + i);
            if (c == kEnd) return true;
            if (c == kPad) {
                i++;
                continue;
            }
            if (i + 2 > f.size()) return false;
            const std::size_t len = u8(f.data() + i + 1);
            if (i + 2 + len > f.size()) return false;
            if (code != nullptr && c == *code) {
                *out = f.subspan(i + 2, len);
                return true;
            }
            i += 2 + len;
        }
        return true;
    }
    static std::optional<std::span<const std::byte>> find(std::span<const std::byte> f, std::uint8_t code) noexcept {
        std::span<const std::byte> out;
        if (!walk(f, &code, &out) || out.data() == nullptr) return std::nullopt;
        return out;
    }

    std::span<const std::byte> m_;
    std::uint8_t overload_ = 0;
};

// A client message in a fixed buffer: the BOOTP header, the cookie, options
// appended by add(), END by finish(). add() drops an option that would not
// fit (with its END, a message is at most kMax bytes: the 576-byte minimum
// every server takes, less the IPv4 and UDP headers).
class Dhcp4Builder {
public:
    static constexpr std::size_t kMax = 576 - 20 - 8;

    Dhcp4Builder(std::uint8_t type, std::uint32_t xid, const std::array<std::uint8_t, 6>& mac, std::uint16_t secs,
                 bool broadcast) noexcept {
        b_[0] = std::byte{kBootRequest};
        b_[1] = std::byte{1};
        b_[2] = std::byte{6};
        put_be32(b_.data() + 4, xid);
        put_be16(b_.data() + 8, secs);
        put_be16(b_.data() + 10, broadcast ? kFlagBroadcast : 0);
        std::memcpy(b_.data() + 28, mac.data(), 6);
        put_be32(b_.data() + kFixed, kCookie);
        len_ = kOptionsAt;
        const std::uint8_t t = type;
        add(kMessageType, std::as_bytes(std::span(&t, 1)));
    }
    void set_ciaddr(std::span<const std::uint8_t, 4> a) noexcept { std::memcpy(b_.data() + 12, a.data(), 4); }

    void add(std::uint8_t code, std::span<const std::byte> value) noexcept {
        if (value.size() > 255 || len_ + 2 + value.size() + 1 > kMax) return;
        b_[len_] = std::byte{code};
        b_[len_ + 1] = static_cast<std::byte>(value.size());
        if (!value.empty()) std::memcpy(b_.data() + len_ + 2, value.data(), value.size());
        len_ += 2 + value.size();
    }
    void add_u32(std::uint8_t code, std::uint32_t v) noexcept {
        std::array<std::byte, 4> b{};
        put_be32(b.data(), v);
        add(code, b);
    }
    void add_ip(std::uint8_t code, std::span<const std::uint8_t, 4> a) noexcept { add(code, std::as_bytes(a)); }

    // The message, END appended.
    [[nodiscard]] std::span<const std::byte> finish() noexcept {
        if (!done_) {
            b_[len_++] = std::byte{kEnd};
            done_ = true;
        }
        return std::span<const std::byte>(b_.data(), len_);
    }

private:
    std::array<std::byte, kMax> b_{};
    std::size_t len_ = 0;
    bool done_ = false;
};

}  // namespace vdestack::wire::dhcp4
