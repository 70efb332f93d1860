// vde_ctl.hpp - the vde_switch control protocol spoken on "<ctl_dir>/ctl"
// (vde2 datasock.c, vdeplug4 libvdeplug_vde.c and libvdeplug_netnode.c).
//
// A client connects a SOCK_STREAM AF_UNIX socket to the switch's control
// socket and sends ONE request (one send()), in the host's native byte order
// (it is local IPC), packed, no padding:
//
//   offset  size  field
//   0       4     magic        0xfeedface
//   4       4     version      3
//   8       4     type         0 = a new port, any number ("REQ_NEW_CONTROL")
//                              port << 8 = that port number
//                              1 = the management port 0 ("REQ_NEW_PORT0")
//   12      110   sock         struct sockaddr_un of the client's data socket
//   122     0-128 description  NOT NUL-terminated: the request is exactly
//                              122 + strlen(description) bytes
//
// The switch answers with exactly one struct sockaddr_un (110 bytes): the
// path of the datagram socket it created for this port. From then on every
// datagram between the two data sockets is one raw Ethernet frame, and the
// control stream stays open and silent; EOF on it ends the port.
//
// Old clients send a "v1" request instead: {u32 magic; u32 type; u8 mac[6];
// sockaddr_un; descr}. vde2 treats a version field of 0 or 1 as v1 and refuses
// version 2 and anything above 3. parse_request() recognises v1 only to refuse
// it cleanly (RequestStatus::kVersion1); we never speak it.
//
// Switches read at most kRequestReadMax (256) bytes of request; a description
// is at most kMaxDescr (128) bytes.
//
// Everything here is a checked view or a builder over caller-provided bytes:
// header-only, no allocation, every accessor in bounds after parse().
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace vdestack::wire {

inline constexpr std::uint32_t kSwitchMagic = 0xfeedface;
inline constexpr std::uint32_t kRequestVersion = 3;
inline constexpr std::uint32_t kReqNewControl = 0;  // a new port (number in bits 8..31)
inline constexpr std::uint32_t kReqNewPort0 = 1;    // the management port 0
inline constexpr std::size_t kSockaddrUnSize = 110;
static_assert(sizeof(sockaddr_un) == kSockaddrUnSize, "Linux sockaddr_un is 110 bytes");
inline constexpr std::size_t kSunPathMax = sizeof(sockaddr_un::sun_path);  // 108, NUL included
inline constexpr std::size_t kMaxDescr = 128;
inline constexpr std::size_t kRequestHeaderSize = 12;                                     // magic, version, type
inline constexpr std::size_t kRequestMinSize = kRequestHeaderSize + kSockaddrUnSize;       // 122
inline constexpr std::size_t kRequestMaxSize = kRequestMinSize + kMaxDescr;                // 250
inline constexpr std::size_t kRequestReadMax = 256;  // what switches read of a request
inline constexpr std::size_t kReplySize = kSockaddrUnSize;

// The request type for a port number as vdeplug4 computes it: 0 any port,
// N > 0 that port (N << 8), negative the management port (REQ_NEW_PORT0).
[[nodiscard]] constexpr std::uint32_t request_type_for_port(int port) noexcept {
    if (port < 0) return kReqNewPort0;
    return static_cast<std::uint32_t>(port) << 8;
}

// A sockaddr_un for `path`, or nullopt when the path (plus its NUL) does not
// fit sun_path or is empty.
[[nodiscard]] inline std::optional<sockaddr_un> make_sockaddr_un(std::string_view path) noexcept {
    if (path.empty() || path.size() >= kSunPathMax || path.find('\0') != std::string_view::npos) return std::nullopt;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    return sa;
}

// The path of a sockaddr_un (up to the first NUL, at most 108 bytes).
[[nodiscard]] inline std::string_view sun_path_of(const sockaddr_un& sa) noexcept {
    const std::size_t n = ::strnlen(sa.sun_path, kSunPathMax);
    return {sa.sun_path, n};
}

// Writes a v3 request into `out` and returns its length: 122 + the length of
// `descr` cut at its first NUL and at kMaxDescr bytes. Native byte order.
inline std::size_t write_request_v3(std::span<std::byte, kRequestMaxSize> out, std::uint32_t type,
                                    const sockaddr_un& sock, std::string_view descr) noexcept {
    const std::uint32_t head[3] = {kSwitchMagic, kRequestVersion, type};
    std::memcpy(out.data(), head, sizeof head);
    std::memcpy(out.data() + kRequestHeaderSize, &sock, kSockaddrUnSize);
    descr = descr.substr(0, std::min(descr.find('\0'), kMaxDescr));
    std::memcpy(out.data() + kRequestMinSize, descr.data(), descr.size());
    return kRequestMinSize + descr.size();
}

enum class RequestStatus {
    kOk,          // a complete v3 request (description: whatever followed the address)
    kIncomplete,  // a valid prefix: wait for more bytes
    kBadMagic,    // not the switch magic
    kVersion1,    // magic ok, version field 0 or 1: an old v1 request (unsupported)
    kBadVersion,  // magic ok, version 2 or > 3
};

class RequestV3View;
inline RequestStatus parse_request(std::span<const std::byte> bytes, std::optional<RequestV3View>& view) noexcept;

// A checked view of a v3 request. Construct with parse_request().
class RequestV3View {
public:
    [[nodiscard]] std::uint32_t magic() const noexcept { return u32(0); }
    [[nodiscard]] std::uint32_t version() const noexcept { return u32(4); }
    // The whole type field: low byte the request kind, bits 8..31 a port number.
    [[nodiscard]] std::uint32_t type() const noexcept { return u32(8); }
    [[nodiscard]] std::uint32_t kind() const noexcept { return type() & 0xffu; }
    [[nodiscard]] std::uint32_t port() const noexcept { return type() >> 8; }
    [[nodiscard]] sockaddr_un sock() const noexcept {
        sockaddr_un sa{};
        std::memcpy(&sa, bytes_.data() + kRequestHeaderSize, kSockaddrUnSize);
        return sa;
    }
    // The description: the bytes after the address, up to a NUL, at most kMaxDescr.
    [[nodiscard]] std::string_view description() const noexcept {
        const std::size_t avail = std::min(bytes_.size() - kRequestMinSize, kMaxDescr);
        const char* p = reinterpret_cast<const char*>(bytes_.data() + kRequestMinSize);
        return {p, ::strnlen(p, avail)};
    }

private:
    friend RequestStatus parse_request(std::span<const std::byte>, std::optional<RequestV3View>&) noexcept;
    explicit RequestV3View(std::span<const std::byte> b) noexcept : bytes_(b) {}
    [[nodiscard]] std::uint32_t u32(std::size_t off) const noexcept {
        std::uint32_t v = 0;
        std::memcpy(&v, bytes_.data() + off, sizeof v);
        return v;
    }

    std::span<const std::byte> bytes_;  // at least kRequestMinSize bytes
};

// Classifies the bytes received so far on a control connection; on kOk sets
// `view` (valid while `bytes` is). A status other than kOk/kIncomplete is final.
inline RequestStatus parse_request(std::span<const std::byte> bytes, std::optional<RequestV3View>& view) noexcept {
    view.reset();
    // Check the magic on whatever prefix we have, so garbage is refused early.
    std::array<std::byte, 4> want{};
    const std::uint32_t magic = kSwitchMagic;
    std::memcpy(want.data(), &magic, sizeof magic);
    const std::size_t have = std::min(bytes.size(), want.size());
    if (std::memcmp(bytes.data(), want.data(), have) != 0) return RequestStatus::kBadMagic;
    if (bytes.size() < 8) return RequestStatus::kIncomplete;
    std::uint32_t version = 0;
    std::memcpy(&version, bytes.data() + 4, sizeof version);
    if (version == 0 || version == 1) return RequestStatus::kVersion1;
    if (version != kRequestVersion) return RequestStatus::kBadVersion;
    if (bytes.size() < kRequestMinSize) return RequestStatus::kIncomplete;
    view = RequestV3View(bytes);
    return RequestStatus::kOk;
}

[[nodiscard]] constexpr std::string_view to_string(RequestStatus s) noexcept {
    switch (s) {
    case RequestStatus::kOk: return "ok";
    case RequestStatus::kIncomplete: return "incomplete request";
    case RequestStatus::kBadMagic: return "bad magic";
    case RequestStatus::kVersion1: return "version 1 request (unsupported)";
    case RequestStatus::kBadVersion: return "unsupported request version";
    }
    return "?";
}

// The switch's reply: the data socket address, exactly 110 bytes.
inline void write_reply(std::span<std::byte, kReplySize> out, const sockaddr_un& sa) noexcept {
    std::memcpy(out.data(), &sa, kReplySize);
}

// Parses a reply: exactly kReplySize bytes, AF_UNIX, a non-empty path.
[[nodiscard]] inline std::optional<sockaddr_un> parse_reply(std::span<const std::byte> bytes) noexcept {
    if (bytes.size() != kReplySize) return std::nullopt;
    sockaddr_un sa{};
    std::memcpy(&sa, bytes.data(), kReplySize);
    if (sa.sun_family != AF_UNIX || sa.sun_path[0] == '\0') return std::nullopt;
    return sa;
}

}  // namespace vdestack::wire
