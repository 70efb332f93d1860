// dhcp6.hpp - DHCPv6 messages (RFC 8415) between a client and a server: a
// checked view of a received message, of an option list (the message's, an
// IA_NA's), and a builder of the client's messages.
//
// Dhcp6View::parse() validates once: the 4-byte header (type, transaction
// id) fits and every option of the message has its 4-byte header and its
// value within the message. Options::parse() does the same for the options
// inside an option (IA_NA after its 12 fixed bytes, IAADDR after its 24).
// After that the accessors read only bytes inside the message. The first
// occurrence of a code wins where one is asked for; every IA address is
// walked. Views do not own the bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "wire/bytes.hpp"

namespace vdestack::wire::dhcp6 {

inline constexpr std::uint16_t kClientPort = 546, kServerPort = 547;

enum MsgType : std::uint8_t {
    kSolicit = 1, kAdvertise = 2, kRequest = 3, kConfirm = 4, kRenew = 5, kRebind = 6, kReply = 7, kRelease = 8,
    kDecline = 9,
};

enum Option : std::uint16_t {
    kClientId = 1, kServerId = 2, kIaNa = 3, kIaAddr = 5, kOro = 6, kPreference = 7, kElapsedTime = 8,
    kStatusCode = 13, kDnsServers = 23, kDomainList = 24, kClientFqdn = 39,
};

inline constexpr std::uint16_t kStatusSuccess = 0, kStatusNoAddrsAvail = 2;

// A walked list of options (code, length, value).
class Options {
public:
    // nullopt if an option overruns the list.
    [[nodiscard]] static std::optional<Options> parse(std::span<const std::byte> list) noexcept {
        std::size_t i = 0;
        while (i < list.size()) {
            if (i + 4 > list.size()) return std::nullopt;
            const std::size_t len = be16(list.data() + i + 2);
            if (i + 4 + len > list.size()) return std::nullopt;
            i += 4 + len;
        }
        return Options(list);
    }
    // The value of the first option `code`.
    [[nodiscard]] std::optional<std::span<const std::byte>> find(std::uint16_t code) const noexcept {
        std::optional<std::span<const std::byte>> out;
        for_each([&](std::uint16_t c, std::span<const std::byte> v) {
            if (c == code && !out) out = v;
        });
        return out;
    }
    // f(code, value) for every option, in order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i < l_.size();) {
            const std::size_t len = be16(l_.data() + i + 2);
            f(be16(l_.data() + i), l_.subspan(i + 4, len));
            i += 4 + len;
        }
    }
    // Option 13's status, kStatusSuccess when absent (RFC 8415 21.13).
    [[nodiscard]] std::uint16_t status() const noexcept {
        auto s = find(kStatusCode);
        return s && s->size() >= 2 ? be16(s->data()) : kStatusSuccess;
    }

private:
    explicit Options(std::span<const std::byte> l) noexcept : l_(l) {}
    std::span<const std::byte> l_;
};

class Dhcp6View {
public:
    [[nodiscard]] static std::optional<Dhcp6View> parse(std::span<const std::byte> m) noexcept {
        if (m.size() < 4) return std::nullopt;
        auto o = Options::parse(m.subspan(4));
        if (!o) return std::nullopt;
        return Dhcp6View(m, *o);
    }
    [[nodiscard]] std::uint8_t type() const noexcept { return u8(m_.data()); }
    [[nodiscard]] std::uint32_t xid() const noexcept {
        return (std::uint32_t{u8(m_.data() + 1)} << 16) | (std::uint32_t{u8(m_.data() + 2)} << 8) | u8(m_.data() + 3);
    }
    [[nodiscard]] const Options& options() const noexcept { return o_; }

private:
    Dhcp6View(std::span<const std::byte> m, Options o) noexcept : m_(m), o_(o) {}
    std::span<const std::byte> m_;
    Options o_;
};

// An IA_NA option's value: IAID, T1, T2, then its options (IAADDRs).
struct IaNa {
    std::uint32_t iaid = 0, t1 = 0, t2 = 0;
    Options options;
    [[nodiscard]] static std::optional<IaNa> parse(std::span<const std::byte> v) noexcept {
        if (v.size() < 12) return std::nullopt;
        auto o = Options::parse(v.subspan(12));
        if (!o) return std::nullopt;
        return IaNa{be32(v.data()), be32(v.data() + 4), be32(v.data() + 8), *o};
    }
};

// An IAADDR option's value: the address, its lifetimes, its options.
struct IaAddr {
    std::array<std::uint8_t, 16> addr{};
    std::uint32_t preferred = 0, valid = 0;
    Options options;
    [[nodiscard]] static std::optional<IaAddr> parse(std::span<const std::byte> v) noexcept {
        if (v.size() < 24) return std::nullopt;
        auto o = Options::parse(v.subspan(24));
        if (!o) return std::nullopt;
        IaAddr a{{}, be32(v.data() + 16), be32(v.data() + 20), *o};
        std::memcpy(a.addr.data(), v.data(), 16);
        return a;
    }
};

// A client message in a fixed buffer; add() drops an option that would not
// fit. begin()/end() nest one option inside another (IA_NA's IAADDRs).
class Dhcp6Builder {
public:
    static constexpr std::size_t kMax = 1024;

    Dhcp6Builder(std::uint8_t type, std::uint32_t xid) noexcept {
        b_[0] = std::byte{type};
        b_[1] = static_cast<std::byte>((xid >> 16) & 0xff);
        b_[2] = static_cast<std::byte>((xid >> 8) & 0xff);
        b_[3] = static_cast<std::byte>(xid & 0xff);
        len_ = 4;
    }
    void add(std::uint16_t code, std::span<const std::byte> value) noexcept {
        if (len_ + 4 + value.size() > kMax) return;
        put_be16(b_.data() + len_, code);
        put_be16(b_.data() + len_ + 2, value.size());
        if (!value.empty()) std::memcpy(b_.data() + len_ + 4, value.data(), value.size());
        len_ += 4 + value.size();
    }
    void add_u16(std::uint16_t code, std::uint16_t v) noexcept {
        std::array<std::byte, 2> b{};
        put_be16(b.data(), v);
        add(code, b);
    }
    // Opens option `code` (its value: `fixed` then whatever is added until
    // end()); one level deep.
    void begin(std::uint16_t code, std::span<const std::byte> fixed) noexcept {
        open_ = len_;
        add(code, fixed);
    }
    void end() noexcept {
        if (open_ != 0) put_be16(b_.data() + open_ + 2, len_ - open_ - 4);
        open_ = 0;
    }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {b_.data(), len_}; }

private:
    std::array<std::byte, kMax> b_{};
    std::size_t len_ = 0, open_ = 0;
};

}  // namespace vdestack::wire::dhcp6
