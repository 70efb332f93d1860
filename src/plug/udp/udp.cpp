// udp.cpp - the udp:// transport: a point-to-point cable over one UDP socket,
// wire-compatible with vdeplug4 4.0.1's libvdeplug_udp.
//
// Theory of operation
// -------------------
// VNL: udp://[src_addr:]src_port->dst_addr:dst_port. As vdeplug4: split at
// the first "->"; each side at its last ':' (so "fc00::1:5000" is fc00::1
// port 5000; we also accept "[fc00::1]:5000"); a source without ':' is only a
// port. The destination is resolved first (getaddrinfo, first result); the
// source is resolved with AI_PASSIVE in the DESTINATION's family (no source
// address: the wildcard), and the socket is bound to the first source result
// (vdeplug4 tries every result until one binds; a numeric or wildcard source
// has only one).
//
// Wire: one UDP datagram = one raw Ethernet frame, no header, both ways.
//
// Lazy connect (vdeplug4's CONNECTED_P2P): the socket starts unconnected, so
// until our first send a frame from ANY sender is accepted. The first send()
// connect()s it to the destination, after which the kernel delivers only the
// destination's datagrams. A received EMPTY datagram un-connects it again
// (connect(AF_UNSPEC); the next send reconnects): vdeplug4's way to let a
// restarted peer on another address in. We never send empty datagrams.
//
// Errors: an ICMP port unreachable (the peer is not running) surfaces as one
// ECONNREFUSED on the next recv/send of the connected socket; it is consumed
// and ignored (the peer may start later: a cable is never "dead").
// recv() drains the socket with recvmmsg (dgram_batch.hpp: 64 per call, 16 calls),
// dropping runts (< 14 bytes) and truncated datagrams (larger than the slot).
// send() batches through UdpFrameSender (udp_send.hpp): one sendmmsg per 64
// frames, a run of equal frames (what TSO cut) in one UDP_SEGMENT message
// (the datagrams on the wire are the same; VDESTACK_UDP_GSO=0 turns it off);
// EAGAIN/ENOBUFS drop the rest of the call's frames, ECONNREFUSED is retried
// (it was the previous datagram's error), other per-message errors skip that
// frame; EBADF/ENOTSOCK are fatal.
// In, "GRO mode" (udp_gro.hpp, as vxvde): after a full batch (a bulk flow)
// the socket asks for UDP_GRO, coalesced datagrams are read into the
// receiver's own area and cut back into frames, handed out by pointer, those
// beyond the caller's slots held for the next call (pending()).
// Buffers: 4 MiB each way, best effort. No allocation per frame (the GRO
// area, 1 MiB, once); the socket is nonblocking, CLOEXEC, owned by the object.
#include "plug/udp/udp.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "plug/dgram_batch.hpp"
#include "plug/udp/udp_gro.hpp"
#include "plug/udp/udp_send.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/sockbuf.hpp"

namespace vdestack::plug {

namespace {

constexpr int kSockBuf = 4 << 20;

[[noreturn]] void bad(std::string_view vnl, const std::string& what) {
    fail(EINVAL, std::string(vnl) + ": " + what + " (expected udp://[src_addr:]src_port->dst_addr:dst_port)");
}

// "[x]" -> "x"; a lone bracket is an error.
std::string unbracket(std::string_view vnl, std::string_view host, const char* side) {
    if (!host.empty() && host.front() == '[') {
        const std::string_view inner = host.size() >= 2 ? host.substr(1, host.size() - 2) : std::string_view{};
        if (host.size() < 2 || host.back() != ']' || inner.find_first_of("[]") != std::string_view::npos)
            bad(vnl, std::string("unbalanced '[' in the ") + side + " address '" + std::string(host) + "'");
        return std::string(inner);
    }
    if (host.find_first_of("[]") != std::string_view::npos)
        bad(vnl, std::string("unbalanced ']' in the ") + side + " address '" + std::string(host) + "'");
    return std::string(host);
}

struct AddrInfoList {
    addrinfo* head = nullptr;
    AddrInfoList() = default;
    AddrInfoList(const AddrInfoList&) = delete;
    AddrInfoList& operator=(const AddrInfoList&) = delete;
    ~AddrInfoList() {
        if (head != nullptr) ::freeaddrinfo(head);
    }
};

void check_port(std::string_view vnl, const std::string& port, const char* side, bool allow_zero) {
    if (port.empty()) bad(vnl, std::string("missing ") + side + " port");
    if (std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (port.size() > 5 || std::stoul(port) > 65535 || (!allow_zero && std::stoul(port) == 0))
            bad(vnl, std::string("bad ") + side + " port '" + port + "'");
    }
}

void resolve(std::string_view vnl, const char* side, const std::string& host, const std::string& port,
             const addrinfo& hints, AddrInfoList& out) {
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &out.head);
    if (rc != 0 || out.head == nullptr) {
        const std::string why = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        bad(vnl, std::string("bad ") + side + " '" + (host.empty() ? "*" : host) + ":" + port + "': " + why);
    }
}

void copy_addr(const addrinfo* ai, sockaddr_storage& ss, socklen_t& len) {
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    len = ai->ai_addrlen;
}

class UdpTransport final : public Transport {
public:
    UdpTransport(std::string vnl_text, UniqueFd sock, const UdpEndpoints& ep, bool offloads)
        : vnl_(std::move(vnl_text)), sock_(std::move(sock)), dst_(ep.dst), dst_len_(ep.dst_len) {
        fds_[0] = sock_.get();
        sender_.set_gso(offloads);
        gro_.allow(offloads);
        caps_.drained_when_short = true;  // GRO mode holds split frames (pending()); a short recv() handed them all out
    }

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    [[nodiscard]] bool pending() const noexcept override { return gro_.holding(); }
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    // recv() in GRO mode (udp_gro.hpp).
    ssize_t recv_gro(std::span<FrameBuf> bufs) noexcept;

    void disconnect() noexcept {
        sockaddr unspec{};
        unspec.sa_family = AF_UNSPEC;
        (void)::connect(sock_.get(), &unspec, sizeof unspec);
        connected_ = false;
    }

    std::string vnl_;
    UniqueFd sock_;
    std::array<int, 1> fds_{-1};
    sockaddr_storage dst_;
    socklen_t dst_len_;
    bool connected_ = false;

    DgramBatch batch_{ECONNREFUSED};  // an ICMP error is consumed by the call that reports it: read on
    UdpFrameSender sender_{{}};  // no header: batches and GSO runs (udp_send.hpp)
    UdpGroReceiver gro_;         // entered once, after a full batch
};

ssize_t UdpTransport::recv_gro(std::span<FrameBuf> bufs) noexcept {
    return gro_.recv(sock_.get(), bufs, [&](const msghdr&, std::span<std::byte> d, std::size_t) {
        if (d.empty()) {  // vdeplug4: an empty datagram un-connects
            if (connected_) disconnect();
            return d;
        }
        return d.size() < kMinFrame || d.size() > kMaxFrame ? std::span<std::byte>() : d;
    });
}

ssize_t UdpTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (gro_.on()) return recv_gro(bufs);
    using Take = DgramBatch::Take;
    const auto got = batch_.recv(
        sock_.get(), bufs,
        [&](std::span<const std::byte> d) {
            if (!d.empty()) return Take::frame;
            if (connected_) disconnect();  // vdeplug4: an empty datagram un-connects
            return Take::consumed;
        },
        // A full batch: a bulk flow, worth GRO mode from now on.
        [&](std::size_t r, std::size_t chunk) {
            return r == chunk && chunk == DgramBatch::kBatch && gro_.enter_once(sock_.get());
        });
    if (got.n == 0 && (got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT)) return -got.err;
    return static_cast<ssize_t>(got.n);  // another error: transient
}

ssize_t UdpTransport::send(std::span<const FrameRef> frames) noexcept {
    if (!connected_) {
        if (::connect(sock_.get(), reinterpret_cast<const sockaddr*>(&dst_), dst_len_) != 0)
            return static_cast<ssize_t>(frames.size());  // no route now: dropped
        connected_ = true;
    }
    auto flush = [&]() -> int {
        const int err = sender_.flush(sock_.get(), 0);
        if (err == ENOTCONN || err == EDESTADDRREQ) disconnect();
        return err;
    };
    for (const FrameRef& f : frames) {
        if (f.data == nullptr || f.len < kMinFrame) continue;
        if (!sender_.add(f, nullptr, true)) {
            const int err = flush();
            if (err == EBADF || err == ENOTSOCK) return -err;
            if (err != 0) return static_cast<ssize_t>(frames.size());  // queue full or no peer: dropped
            (void)sender_.add(f, nullptr, true);
        }
    }
    const int err = flush();
    if (err == EBADF || err == ENOTSOCK) return -err;
    return static_cast<ssize_t>(frames.size());
}

}  // namespace

UdpVnlParts split_udp_vnl(std::string_view vnl, std::string_view rest) {
    const std::size_t arrow = rest.find("->");
    if (arrow == std::string_view::npos) bad(vnl, "missing '->'");
    const std::string_view src = rest.substr(0, arrow);
    const std::string_view dst = rest.substr(arrow + 2);
    UdpVnlParts p;

    const std::size_t dcolon = dst.rfind(':');
    if (dcolon == std::string_view::npos) bad(vnl, "missing destination port");
    p.dst_host = unbracket(vnl, dst.substr(0, dcolon), "destination");
    p.dst_port = std::string(dst.substr(dcolon + 1));
    if (p.dst_host.empty()) bad(vnl, "missing destination address");
    if (p.dst_port.empty()) bad(vnl, "missing destination port");

    const std::size_t scolon = src.rfind(':');
    if (scolon == std::string_view::npos) {
        p.src_port = std::string(src);
    } else {
        p.src_host = unbracket(vnl, src.substr(0, scolon), "source");
        p.src_port = std::string(src.substr(scolon + 1));
    }
    if (p.src_port.empty()) bad(vnl, "missing source port");
    return p;
}

UdpEndpoints resolve_udp_vnl(std::string_view vnl, std::string_view rest) {
    const UdpVnlParts p = split_udp_vnl(vnl, rest);
    check_port(vnl, p.dst_port, "destination", false);
    check_port(vnl, p.src_port, "source", true);
    UdpEndpoints ep;

    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    AddrInfoList dst;
    resolve(vnl, "destination", p.dst_host, p.dst_port, hints, dst);
    copy_addr(dst.head, ep.dst, ep.dst_len);

    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = dst.head->ai_family;
    AddrInfoList src;
    resolve(vnl, "source", p.src_host, p.src_port, hints, src);
    copy_addr(src.head, ep.src, ep.src_len);
    return ep;
}

std::unique_ptr<Transport> open_udp(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    const std::string v(vnl);
    const UdpEndpoints ep = resolve_udp_vnl(vnl, rest);
    UniqueFd sock(::socket(ep.dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!sock) fail_errno(v + ": socket");
    if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&ep.src), ep.src_len) != 0) fail_errno(v + ": bind");
    raise_rcvbuf(sock.get(), kSockBuf);
    raise_sndbuf(sock.get(), kSockBuf);
    return std::make_unique<UdpTransport>(v, std::move(sock), ep, opts.tuning.udp_gso);
}

}  // namespace vdestack::plug
