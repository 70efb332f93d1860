// netlink.hpp - checked views of netlink messages (rtnetlink and the like):
// a buffer of messages, each message's header, the ifinfomsg / ifaddrmsg /
// nlmsgerr payloads, and the attributes (struct rtattr / struct nlattr)
// that follow them.
//
// Netlink is in host byte order and a buffer need not be aligned: every
// field is read with memcpy. NlMessages walks a buffer of messages (one
// datagram, or several appended): each is validated once when the walk
// reaches it (the 16-byte header fits, nlmsg_len covers it and fits in what
// remains) and the walk steps NLMSG_ALIGN(nlmsg_len) on, or to the end when
// the last message's padding is missing. The walk stops at the first bytes
// that are not a message; rest() gives them (empty: the buffer is whole
// messages). NlAttrs walks attributes the same way (the 4-byte header fits,
// rta_len covers it and fits, RTA_ALIGN steps); an attribute's type is
// masked with NLA_TYPE_MASK, its nested / net-byte-order flags read apart.
// The payload views check that their struct fits and give the attributes
// after it. Views do not own the bytes; no accessor reads outside the span
// a view was made from, whatever the input.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "wire/bytes.hpp"

namespace vdestack::wire {

// NLMSG_ALIGN and RTA_ALIGN: messages and attributes start at multiples of 4.
inline constexpr std::size_t kNlAlign = 4;
[[nodiscard]] constexpr std::size_t nl_align(std::size_t n) noexcept { return (n + kNlAlign - 1) & ~(kNlAlign - 1); }

namespace nl_detail {
// A host-order field of type T at p (callers check that it fits).
template <class T>
[[nodiscard]] inline T load(const std::byte* p) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
}  // namespace nl_detail

// A walk over records that start with their own length (messages,
// attributes). Record: a view with a static parse(span) -> optional<Record>
// over exactly the record's bytes, and size().
template <class Record>
class NlWalk {
public:
    class iterator {
    public:
        using value_type = Record;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(std::span<const std::byte> rest) noexcept : rest_(rest), cur_(Record::parse(rest)) {}
        [[nodiscard]] const Record& operator*() const noexcept { return *cur_; }
        [[nodiscard]] const Record* operator->() const noexcept { return &*cur_; }
        iterator& operator++() noexcept {
            const std::size_t step = nl_align(cur_->size());
            rest_ = rest_.subspan(step < rest_.size() ? step : rest_.size());
            cur_ = Record::parse(rest_);
            return *this;
        }
        void operator++(int) noexcept { ++*this; }
        [[nodiscard]] bool operator==(std::default_sentinel_t) const noexcept { return !cur_; }
        // From the current record on: past the end, what the walk could not parse.
        [[nodiscard]] std::span<const std::byte> rest() const noexcept { return rest_; }

    private:
        std::span<const std::byte> rest_;
        std::optional<Record> cur_;
    };

    NlWalk() = default;
    explicit NlWalk(std::span<const std::byte> b) noexcept : b_(b) {}
    [[nodiscard]] iterator begin() const noexcept { return iterator(b_); }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return b_; }
    // The bytes after the last whole record: empty when b is only records.
    [[nodiscard]] std::span<const std::byte> rest() const noexcept {
        iterator it = begin();
        while (it != end()) ++it;
        return it.rest();
    }

private:
    std::span<const std::byte> b_;
};

// One netlink message: struct nlmsghdr and its payload.
class NlMsgView {
public:
    static constexpr std::size_t kHeader = sizeof(nlmsghdr);
    static_assert(kHeader == static_cast<std::size_t>(NLMSG_HDRLEN));

    [[nodiscard]] static std::optional<NlMsgView> parse(std::span<const std::byte> b) noexcept {
        if (b.size() < kHeader) return std::nullopt;
        const std::size_t len = nl_detail::load<std::uint32_t>(b.data() + offsetof(nlmsghdr, nlmsg_len));
        if (len < kHeader || len > b.size()) return std::nullopt;
        return NlMsgView(b.first(len));
    }

    [[nodiscard]] std::size_t size() const noexcept { return b_.size(); }
    [[nodiscard]] std::uint16_t type() const noexcept { return field<std::uint16_t>(offsetof(nlmsghdr, nlmsg_type)); }
    [[nodiscard]] std::uint16_t flags() const noexcept { return field<std::uint16_t>(offsetof(nlmsghdr, nlmsg_flags)); }
    [[nodiscard]] std::uint32_t seq() const noexcept { return field<std::uint32_t>(offsetof(nlmsghdr, nlmsg_seq)); }
    [[nodiscard]] std::uint32_t pid() const noexcept { return field<std::uint32_t>(offsetof(nlmsghdr, nlmsg_pid)); }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return b_.subspan(kHeader); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return b_; }

private:
    explicit NlMsgView(std::span<const std::byte> b) noexcept : b_(b) {}
    template <class T>
    [[nodiscard]] T field(std::size_t off) const noexcept { return nl_detail::load<T>(b_.data() + off); }
    std::span<const std::byte> b_;
};

using NlMessages = NlWalk<NlMsgView>;

// One attribute: struct rtattr (the layout of struct nlattr) and its payload.
class NlAttrView {
public:
    static constexpr std::size_t kHeader = sizeof(rtattr);
    static_assert(kHeader == sizeof(nlattr) && kHeader == static_cast<std::size_t>(NLA_HDRLEN));

    [[nodiscard]] static std::optional<NlAttrView> parse(std::span<const std::byte> b) noexcept {
        if (b.size() < kHeader) return std::nullopt;
        const std::size_t len = nl_detail::load<std::uint16_t>(b.data() + offsetof(rtattr, rta_len));
        if (len < kHeader || len > b.size()) return std::nullopt;
        return NlAttrView(b.first(len));
    }

    [[nodiscard]] std::size_t size() const noexcept { return b_.size(); }
    [[nodiscard]] std::uint16_t type() const noexcept { return static_cast<std::uint16_t>(raw_type() & NLA_TYPE_MASK); }
    [[nodiscard]] bool nested() const noexcept { return (raw_type() & NLA_F_NESTED) != 0; }
    [[nodiscard]] bool net_byteorder() const noexcept { return (raw_type() & NLA_F_NET_BYTEORDER) != 0; }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return b_.subspan(kHeader); }
    // The payload as a string: up to its first NUL, or all of it.
    [[nodiscard]] std::string_view str() const noexcept {
        const auto p = payload();
        const char* s = reinterpret_cast<const char*>(p.data());
        const void* nul = std::memchr(s, 0, p.size());
        return {s, nul != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nul) - s) : p.size()};
    }
    // A host-order u32 payload (nullopt unless it is exactly 4 bytes).
    [[nodiscard]] std::optional<std::uint32_t> u32() const noexcept {
        if (payload().size() != sizeof(std::uint32_t)) return std::nullopt;
        return nl_detail::load<std::uint32_t>(payload().data());
    }

private:
    explicit NlAttrView(std::span<const std::byte> b) noexcept : b_(b) {}
    [[nodiscard]] std::uint16_t raw_type() const noexcept {
        return nl_detail::load<std::uint16_t>(b_.data() + offsetof(rtattr, rta_type));
    }
    std::span<const std::byte> b_;
};

// The attributes of a payload (or of a nested attribute: NlAttrs(a.payload())).
class NlAttrs : public NlWalk<NlAttrView> {
public:
    using NlWalk::NlWalk;

    // The last attribute of `type` (the last wins, as in the kernel's nla_parse).
    [[nodiscard]] std::optional<NlAttrView> find(std::uint16_t type) const noexcept {
        std::optional<NlAttrView> found;
        for (const NlAttrView& a : *this)
            if (a.type() == type) found = a;
        return found;
    }
    // Every attribute of a type below N, by type (the last of each type).
    template <std::size_t N>
    [[nodiscard]] std::array<std::optional<NlAttrView>, N> index() const noexcept {
        std::array<std::optional<NlAttrView>, N> table{};
        for (const NlAttrView& a : *this)
            if (a.type() < N) table[a.type()] = a;
        return table;
    }
};

namespace nl_detail {
// A payload that starts with the fixed struct Head, attributes after it:
// View::parse() checks that Head fits.
template <class View, class Head>
class HeadView {
public:
    static constexpr std::size_t kSize = sizeof(Head);
    [[nodiscard]] static std::optional<View> parse(std::span<const std::byte> payload) noexcept {
        if (payload.size() < kSize) return std::nullopt;
        return View(payload);
    }
    [[nodiscard]] NlAttrs attrs() const noexcept {
        const std::size_t off = nl_align(kSize);
        return NlAttrs(off < p_.size() ? p_.subspan(off) : std::span<const std::byte>{});
    }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return p_; }

protected:
    explicit HeadView(std::span<const std::byte> p) noexcept : p_(p) {}
    template <class T>
    [[nodiscard]] T field(std::size_t off) const noexcept { return load<T>(p_.data() + off); }
    std::span<const std::byte> p_;
};
}  // namespace nl_detail

// The payload of RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK: struct ifinfomsg, IFLA_* attributes.
class IfInfoView : public nl_detail::HeadView<IfInfoView, ifinfomsg> {
public:
    [[nodiscard]] std::uint8_t family() const noexcept { return u8(p_.data() + offsetof(ifinfomsg, ifi_family)); }
    [[nodiscard]] std::uint16_t type() const noexcept { return field<std::uint16_t>(offsetof(ifinfomsg, ifi_type)); }
    [[nodiscard]] int index() const noexcept { return field<int>(offsetof(ifinfomsg, ifi_index)); }
    [[nodiscard]] std::uint32_t flags() const noexcept { return field<std::uint32_t>(offsetof(ifinfomsg, ifi_flags)); }
    [[nodiscard]] std::uint32_t change() const noexcept { return field<std::uint32_t>(offsetof(ifinfomsg, ifi_change)); }

private:
    friend HeadView;
    using HeadView::HeadView;
};

// The payload of RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR: struct ifaddrmsg, IFA_* attributes.
class IfAddrView : public nl_detail::HeadView<IfAddrView, ifaddrmsg> {
public:
    [[nodiscard]] std::uint8_t family() const noexcept { return u8(p_.data() + offsetof(ifaddrmsg, ifa_family)); }
    [[nodiscard]] std::uint8_t prefixlen() const noexcept { return u8(p_.data() + offsetof(ifaddrmsg, ifa_prefixlen)); }
    [[nodiscard]] std::uint8_t flags() const noexcept { return u8(p_.data() + offsetof(ifaddrmsg, ifa_flags)); }
    [[nodiscard]] std::uint8_t scope() const noexcept { return u8(p_.data() + offsetof(ifaddrmsg, ifa_scope)); }
    [[nodiscard]] std::uint32_t index() const noexcept { return field<std::uint32_t>(offsetof(ifaddrmsg, ifa_index)); }

private:
    friend HeadView;
    using HeadView::HeadView;
};

// The payload of RTM_NEWROUTE / RTM_GETROUTE: struct rtmsg, RTA_* attributes.
class RtMsgView : public nl_detail::HeadView<RtMsgView, rtmsg> {
public:
    [[nodiscard]] std::uint8_t family() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_family)); }
    [[nodiscard]] std::uint8_t dst_len() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_dst_len)); }
    [[nodiscard]] std::uint8_t table() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_table)); }
    [[nodiscard]] std::uint8_t protocol() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_protocol)); }
    [[nodiscard]] std::uint8_t scope() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_scope)); }
    [[nodiscard]] std::uint8_t type() const noexcept { return u8(p_.data() + offsetof(rtmsg, rtm_type)); }

private:
    friend HeadView;
    using HeadView::HeadView;
};

// The payload of RTM_NEWNEIGH / RTM_GETNEIGH: struct ndmsg, NDA_* attributes.
class NdMsgView : public nl_detail::HeadView<NdMsgView, ndmsg> {
public:
    [[nodiscard]] std::uint8_t family() const noexcept { return u8(p_.data() + offsetof(ndmsg, ndm_family)); }
    [[nodiscard]] int index() const noexcept { return field<int>(offsetof(ndmsg, ndm_ifindex)); }
    [[nodiscard]] std::uint16_t state() const noexcept { return field<std::uint16_t>(offsetof(ndmsg, ndm_state)); }
    [[nodiscard]] std::uint8_t flags() const noexcept { return u8(p_.data() + offsetof(ndmsg, ndm_flags)); }
    [[nodiscard]] std::uint8_t type() const noexcept { return u8(p_.data() + offsetof(ndmsg, ndm_type)); }

private:
    friend HeadView;
    using HeadView::HeadView;
};

// The payload of NLMSG_ERROR: struct nlmsgerr (the error, negative, or 0
// for an acknowledgement; the request's header), extended-ack attributes after it.
class NlErrorView : public nl_detail::HeadView<NlErrorView, nlmsgerr> {
public:
    [[nodiscard]] int error() const noexcept { return field<int>(offsetof(nlmsgerr, error)); }
    // The errno the error stands for: 0 for an acknowledgement, EIO for a
    // positive value or one outside the errno range.
    [[nodiscard]] int errno_value() const noexcept {
        const int e = error();
        if (e == 0) return 0;
        return e < 0 && e > -4096 ? -e : EIO;
    }
    // The header of the request it answers (its nlmsg_len is the
    // request's, not that of these 16 bytes), and two fields of it.
    [[nodiscard]] std::span<const std::byte> request() const noexcept {
        return p_.subspan(offsetof(nlmsgerr, msg), sizeof(nlmsghdr));
    }
    [[nodiscard]] std::uint16_t request_type() const noexcept {
        return field<std::uint16_t>(offsetof(nlmsgerr, msg) + offsetof(nlmsghdr, nlmsg_type));
    }
    [[nodiscard]] std::uint32_t request_seq() const noexcept {
        return field<std::uint32_t>(offsetof(nlmsgerr, msg) + offsetof(nlmsghdr, nlmsg_seq));
    }

private:
    friend HeadView;
    using HeadView::HeadView;
};

}  // namespace vdestack::wire
