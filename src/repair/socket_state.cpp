// socket_state.cpp - capturing and rebuilding sockets (see socket_state.hpp).
#include "repair/socket_state.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.hpp"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72  // Linux 5.14
#endif

namespace vdestack::repair {

namespace image = wire::image;

namespace {

constexpr int kQueueSend = TCP_SEND_QUEUE, kQueueRecv = TCP_RECV_QUEUE;

int get_int(int fd, int level, int name, const char* what) {
    int v = 0;
    socklen_t l = sizeof v;
    if (::getsockopt(fd, level, name, &v, &l) != 0) fail_errno(std::string("capture: getsockopt(") + what + ")");
    return v;
}

void set_int(int fd, int level, int name, int v, const char* what) {
    if (::setsockopt(fd, level, name, &v, sizeof v) != 0) fail_errno(std::string("rebuild: setsockopt(") + what + ")");
}

int ioctl_int(int fd, unsigned long req, const char* what) {
    int v = 0;
    if (::ioctl(fd, req, &v) != 0) fail_errno(std::string("capture: ioctl(") + what + ")");
    return v;
}

image::Endpoint endpoint_of(const sockaddr_storage& ss) {
    image::Endpoint e;
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        e.family = AF_INET;
        e.port = ntohs(a.sin_port);
        std::memcpy(e.addr.data(), &a.sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
        e.family = AF_INET6;
        e.port = ntohs(a.sin6_port);
        e.scope = a.sin6_scope_id;
        std::memcpy(e.addr.data(), &a.sin6_addr, 16);
    }
    return e;
}

socklen_t sockaddr_of(const image::Endpoint& e, sockaddr_storage& ss) {
    ss = {};
    if (e.family == AF_INET) {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        a.sin_port = htons(e.port);
        std::memcpy(&a.sin_addr, e.addr.data(), 4);
        return sizeof a;
    }
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(e.port);
    a.sin6_scope_id = e.scope;
    std::memcpy(&a.sin6_addr, e.addr.data(), 16);
    return sizeof a;
}

image::Endpoint name_of(int fd, bool peer) {
    sockaddr_storage ss{};
    socklen_t l = sizeof ss;
    const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &l)
                       : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &l);
    if (r != 0) {
        if (peer && errno == ENOTCONN) return {};
        fail_errno(peer ? "capture: getpeername" : "capture: getsockname");
    }
    return endpoint_of(ss);
}

// The bytes of one queue of a socket in repair mode (MSG_PEEK leaves them).
std::vector<std::byte> peek_queue(int fd, int queue, std::size_t len) {
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
    std::vector<std::byte> out(len);
    if (len == 0) return out;
    // One peek gives the whole queue (a second one would start over).
    const ssize_t n = ::recv(fd, out.data(), len, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) fail_errno("capture: recv(MSG_PEEK) of a TCP queue");
    if (static_cast<std::size_t>(n) != len) fail(EIO, "capture: a TCP queue shorter than its length");
    return out;
}

std::uint32_t queue_seq(int fd, int queue) {
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE");
    return static_cast<std::uint32_t>(get_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ"));
}

Captured capture_tcp(int fd) {
    Captured c;
    image::TcpRecord t;
    t.local = name_of(fd, false);
    t.peer = name_of(fd, true);
    t.options = get_int(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY") != 0 ? image::kOptNodelay : 0;
    t.sndbuf = static_cast<std::uint32_t>(get_int(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"));
    t.rcvbuf = static_cast<std::uint32_t>(get_int(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"));
    // Which sizes the program set (kept), which the kernel tunes (tuned
    // again after the move); a kernel without SO_BUF_LOCK: both kept.
    int locks = 0;
    socklen_t ll = sizeof locks;
    if (::getsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &locks, &ll) != 0) locks = image::kLockSndbuf | image::kLockRcvbuf;
    t.locks = static_cast<std::uint8_t>(locks & (image::kLockSndbuf | image::kLockRcvbuf));
    // Repair mode first: from here nothing the socket does goes on the wire.
    set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
    try {
        tcp_info info{};
        socklen_t l = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &l) != 0) fail_errno("capture: getsockopt(TCP_INFO)");
        if (info.tcpi_state != TCP_ESTABLISHED)
            fail(EOPNOTSUPP, "capture: a TCP socket in state " + std::to_string(info.tcpi_state) +
                                 " (only established and listening ones move)");
        if (info.tcpi_options & TCPI_OPT_TIMESTAMPS) t.options |= image::kOptTimestamps;
        if (info.tcpi_options & TCPI_OPT_SACK) t.options |= image::kOptSack;
        if (info.tcpi_options & TCPI_OPT_WSCALE) {
            t.options |= image::kOptWscale;
            t.snd_wscale = info.tcpi_snd_wscale;
            t.rcv_wscale = info.tcpi_rcv_wscale;
        }
        t.mss = static_cast<std::uint16_t>(get_int(fd, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG"));
        t.timestamp = static_cast<std::uint32_t>(get_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP"));
        tcp_repair_window w{};
        l = sizeof w;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &l) != 0)
            fail_errno("capture: getsockopt(TCP_REPAIR_WINDOW)");
        t.snd_wl1 = w.snd_wl1;
        t.snd_wnd = w.snd_wnd;
        t.max_window = w.max_window;
        t.rcv_wnd = w.rcv_wnd;
        t.rcv_wup = w.rcv_wup;
        const auto outq = static_cast<std::size_t>(ioctl_int(fd, SIOCOUTQ, "SIOCOUTQ"));
        t.unsent = static_cast<std::uint32_t>(ioctl_int(fd, SIOCOUTQNSD, "SIOCOUTQNSD"));
        const auto inq = static_cast<std::size_t>(ioctl_int(fd, SIOCINQ, "SIOCINQ"));
        if (outq > image::kMaxQueue || inq > image::kMaxQueue) fail(EOPNOTSUPP, "capture: a TCP queue over 64 MiB");
        t.snd_seq = queue_seq(fd, kQueueSend);
        c.sndq = peek_queue(fd, kQueueSend, outq);
        t.rcv_seq = queue_seq(fd, kQueueRecv);
        c.rcvq = peek_queue(fd, kQueueRecv, inq);
    } catch (...) {
        release(fd);
        throw;
    }
    c.record = t;
    auto& r = std::get<image::TcpRecord>(c.record);
    r.sndq = c.sndq;
    r.rcvq = c.rcvq;
    return c;
}

UniqueFd make_socket(const SocketFn& make, int family, int type, const char* what) {
    UniqueFd s(make(family, type | SOCK_CLOEXEC, 0));
    if (!s) fail_errno(std::string("rebuild: socket for a ") + what);
    return s;
}

void bind_to(int fd, const image::Endpoint& e, const char* what) {
    sockaddr_storage ss{};
    const socklen_t l = sockaddr_of(e, ss);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), l) != 0) fail_errno(std::string("rebuild: bind of a ") + what);
}

void set_buffer(int fd, int name, int force, std::size_t bytes) {
    const int v = static_cast<int>(std::min<std::size_t>(bytes, 1u << 30));
    if (::setsockopt(fd, SOL_SOCKET, force, &v, sizeof v) != 0) ::setsockopt(fd, SOL_SOCKET, name, &v, sizeof v);
}

// Writes bytes into the queue a socket in repair mode has selected (or, out
// of repair mode, into its send buffer). Never waits: the buffers were
// sized for the queues; a buffer that is full anyway is an error.
void write_all(int fd, std::span<const std::byte> b, const char* what) {
    for (std::size_t done = 0; done < b.size();) {
        const ssize_t n = ::send(fd, b.data() + done, b.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) fail_errno(std::string("rebuild: writing ") + what);
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

Captured::Captured(Captured&& o) noexcept
    : record(std::move(o.record)), sndq(std::move(o.sndq)), rcvq(std::move(o.rcvq)) {
    if (auto* t = std::get_if<image::TcpRecord>(&record)) {
        t->sndq = sndq;
        t->rcvq = rcvq;
    }
}

Captured& Captured::operator=(Captured&& o) noexcept {
    record = std::move(o.record);
    sndq = std::move(o.sndq);
    rcvq = std::move(o.rcvq);
    if (auto* t = std::get_if<image::TcpRecord>(&record)) {
        t->sndq = sndq;
        t->rcvq = rcvq;
    }
    return *this;
}

void check(int fd) {
    const int type = get_int(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE");
    const int domain = get_int(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
    const int protocol = get_int(fd, SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL");
    if (domain != AF_INET && domain != AF_INET6)
        fail(EOPNOTSUPP, "capture: a socket of family " + std::to_string(domain) + " (only IPv4 and IPv6 move)");
    if (type == SOCK_STREAM && protocol == IPPROTO_TCP) {
        tcp_info info{};
        socklen_t l = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &l) != 0) fail_errno("capture: getsockopt(TCP_INFO)");
        if (info.tcpi_state != TCP_ESTABLISHED && info.tcpi_state != TCP_LISTEN)
            fail(EOPNOTSUPP, "capture: a TCP socket in state " + std::to_string(info.tcpi_state) +
                                 " (only established and listening ones move)");
        return;
    }
    if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) return;
    fail(EOPNOTSUPP, "capture: a socket of type " + std::to_string(type) + " protocol " + std::to_string(protocol) +
                         " (only TCP and UDP move)");
}

Captured capture(int fd) {
    check(fd);
    if (get_int(fd, SOL_SOCKET, SO_TYPE, "SO_TYPE") == SOCK_STREAM) {  // TCP
        if (get_int(fd, SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN") != 0) {
            Captured c;
            tcp_info info{};
            socklen_t l = sizeof info;
            // A listener's backlog: tcpi_sacked holds it (net/ipv4/tcp.c tcp_get_info).
            if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &l) != 0) fail_errno("capture: getsockopt(TCP_INFO)");
            c.record = image::ListenRecord{name_of(fd, false), info.tcpi_sacked};
            return c;
        }
        return capture_tcp(fd);
    }
    Captured c;  // UDP: check() let nothing else through
    c.record = image::UdpRecord{name_of(fd, false), name_of(fd, true)};
    return c;
}

void release(int fd) noexcept {
    const int off = TCP_REPAIR_OFF;
    ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
}

UniqueFd rebuild(const image::TcpRecord& t, const SocketFn& make) {
    UniqueFd s = make_socket(make, t.local.family, SOCK_STREAM, "TCP connection");
    const int fd = s.get();
    // Repair mode also forces the port's reuse (a listener of the same
    // port may be there already); SO_REUSEADDR would undo that.
    set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
    bind_to(fd, t.local, "TCP connection");
    // Buffers that hold the saved queues (the kernel counts about twice the
    // bytes), at least the old socket's: forced where we may (CAP_NET_ADMIN
    // in the stack's namespace, which TCP_REPAIR needs anyway).
    set_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, std::max<std::size_t>(t.sndbuf / 2, 2 * t.sndq.size() + 65536));
    set_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, std::max<std::size_t>(t.rcvbuf / 2, 2 * t.rcvq.size() + 65536));
    // Where the queues begin: writing their bytes back advances the numbers.
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, kQueueSend, "TCP_REPAIR_QUEUE");
    set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(t.snd_seq - static_cast<std::uint32_t>(t.sndq.size())),
            "TCP_QUEUE_SEQ");
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, kQueueRecv, "TCP_REPAIR_QUEUE");
    set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(t.rcv_seq - static_cast<std::uint32_t>(t.rcvq.size())),
            "TCP_QUEUE_SEQ");
    sockaddr_storage peer{};
    const socklen_t pl = sockaddr_of(t.peer, peer);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), pl) != 0) fail_errno("rebuild: connect (repair)");
    // The options the handshake had agreed.
    tcp_repair_opt opts[4];
    unsigned n = 0;
    opts[n++] = {TCPOPT_MAXSEG, t.mss};
    if (t.options & image::kOptWscale)
        opts[n++] = {TCPOPT_WINDOW, static_cast<std::uint32_t>(t.snd_wscale) | (std::uint32_t{t.rcv_wscale} << 16)};
    if (t.options & image::kOptSack) opts[n++] = {TCPOPT_SACK_PERMITTED, 0};
    if (t.options & image::kOptTimestamps) opts[n++] = {TCPOPT_TIMESTAMP, 0};
    if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, static_cast<socklen_t>(n * sizeof opts[0])) != 0)
        fail_errno("rebuild: setsockopt(TCP_REPAIR_OPTIONS)");
    if (t.options & image::kOptTimestamps)
        set_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, static_cast<int>(t.timestamp), "TCP_TIMESTAMP");
    // The queues: the receive queue, then the part of the send queue the
    // peer may have seen (in repair mode: queued, not sent).
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, kQueueRecv, "TCP_REPAIR_QUEUE");
    write_all(fd, t.rcvq, "the receive queue");
    set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, kQueueSend, "TCP_REPAIR_QUEUE");
    write_all(fd, t.sndq.first(t.sndq.size() - t.unsent), "the send queue");
    tcp_repair_window w{};
    w.snd_wl1 = t.snd_wl1;
    w.snd_wnd = t.snd_wnd;
    w.max_window = t.max_window;
    w.rcv_wnd = t.rcv_wnd;
    w.rcv_wup = t.rcv_wup;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0)
        fail_errno("rebuild: setsockopt(TCP_REPAIR_WINDOW)");
    if (t.options & image::kOptNodelay) set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
    set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR");  // live: a window probe goes out
    write_all(fd, t.sndq.last(t.unsent), "the unsent data");
    // The sizes set above lock them; the kernel tunes again those it tuned.
    const int locks = t.locks;
    (void)::setsockopt(fd, SOL_SOCKET, SO_BUF_LOCK, &locks, sizeof locks);
    return s;
}

UniqueFd rebuild(const image::ListenRecord& l, const SocketFn& make) {
    UniqueFd s = make_socket(make, l.local.family, SOCK_STREAM, "TCP listener");
    set_int(s.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    bind_to(s.get(), l.local, "TCP listener");
    if (::listen(s.get(), static_cast<int>(std::min<std::uint32_t>(l.backlog, 65535))) != 0)
        fail_errno("rebuild: listen");
    return s;
}

UniqueFd rebuild(const image::UdpRecord& u, const SocketFn& make) {
    UniqueFd s = make_socket(make, u.local.family, SOCK_DGRAM, "UDP socket");
    set_int(s.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    bind_to(s.get(), u.local, "UDP socket");
    if (u.peer.family != 0) {
        sockaddr_storage ss{};
        const socklen_t l = sockaddr_of(u.peer, ss);
        if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&ss), l) != 0) fail_errno("rebuild: connect (UDP)");
    }
    return s;
}

}  // namespace vdestack::repair
