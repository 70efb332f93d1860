// libvdeplug.cpp - the libvdeplug (vdeplug4) C API over our transports:
// libvdeplug.so.2, a drop-in for Debian's libvdeplug2 (include/libvdeplug.h
// states the conventions). Built as its own library (target vdeplugxx) from
// this file and the core objects; only the vde_* and vdestream_* functions are
// exported (libvdeplug.map).
//
// A VDECONN owns one Transport (open_transport(): our schemes, else the
// installed vdeplug4 plugins through plug/extplugin.cpp, which never loads
// this very library). vde_datafd must be ONE pollable fd: a transport with one
// poll fd gives it; vde:// gives its data socket (and its control stream as
// vde_ctlfd, as vdeplug4); any other multi-fd transport (vxvde: two sockets)
// gets an epoll fd over its poll fds, owned by the VDECONN.
//
// vde_recv returns one frame per call: it waits (poll, unless MSG_DONTWAIT)
// until the data fd (or ctl fd) is readable, then asks the transport for one
// frame. Frames go straight into the caller's buffer when it can hold any
// frame (VDE_ETHBUFSIZE), else through a per-connection scratch buffer and are
// truncated to the caller's length, as recv(2) truncates. Something consumed
// that is not a frame for us (a self-sent multicast, a control datagram)
// returns 1, vdeplug4's "drop" (so a poll-driven caller never blocks on it). A
// dead link returns 0 (EOF) when the peer hung up (EPIPE), else -1 + errno,
// from then on. No allocation per frame. Not thread-safe per VDECONN (as
// vdeplug4); different VDECONNs are independent.
#include "libvdeplug.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "plug/transport.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "vnl/vnl.hpp"
#include "wire/stream.hpp"

namespace {
using vdestack::UniqueFd;
using vdestack::plug::FrameBuf;
using vdestack::plug::FrameRef;
using vdestack::plug::kMaxFrame;
using vdestack::plug::Transport;
static_assert(kMaxFrame == VDE_ETHBUFSIZE);
}  // namespace

struct vdeconn {
    std::unique_ptr<Transport> transport;
    UniqueFd epoll;          // the data fd of multi-fd transports
    int datafd = -1;
    int ctlfd = -1;
    int dead = 0;            // errno that killed the link
    std::array<std::byte, kMaxFrame> scratch{};  // for callers' buffers < VDE_ETHBUFSIZE
};

struct vdestream {
    vdestream(void* o, int fd, ssize_t (*r)(void*, void*, std::size_t), void (*e)(void*, int, char*, ...))
        : opaque(o), fdout(fd), frecv(r), ferr(e), decoder(kMaxFrame) {}
    void* opaque;
    int fdout;
    ssize_t (*frecv)(void*, void*, std::size_t);
    void (*ferr)(void*, int, char*, ...);
    vdestack::wire::StreamDecoder decoder;
    std::array<std::byte, kMaxFrame> frame{};
};

namespace {

// Calls f; exceptions become errno and `on_error`.
template <class F>
auto guarded(F&& f, decltype(f()) on_error) noexcept -> decltype(f()) {
    try {
        return f();
    } catch (const vdestack::Error& e) {
        errno = e.code().value();
        // vdeplug4 prints option errors ("unknown key"); so do we, with the VNL.
        if (errno == EINVAL) std::fprintf(stderr, "libvdeplug: %s\n", e.what());
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return on_error;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// vdeplug4's default network: ~/.vdeplug/default, else ~/.vde2/default.switch
// (each a switch directory or a file holding the VNL), else the default switch.
std::string default_vnl(const std::string& home) {
    if (!home.empty()) {
        for (const char* rel : {"/.vdeplug/default", "/.vde2/default.switch"}) {
            std::string p = home + rel;
            if (exists(p)) return p;
        }
    }
    return {};
}

// %XX-encodes what is not a plain character, so a value cannot break the
// path-style option syntax.
std::string encode_value(const char* s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (; *s != '\0'; s++) {
        const auto c = static_cast<unsigned char>(*s);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
            c == '.') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

// The deprecated open_args as vde:// options, placed BEFORE the VNL's own
// options so that those win (a repeated key: the last one wins).
std::string apply_open_args(const std::string& vnl, const vde_open_args& a) {
    if (vdestack::vnl::split(vnl).scheme != "vde") return vnl;
    std::string opts;
    auto add = [&opts](const std::string& kv) { opts += (opts.empty() ? "" : "/") + kv; };
    if (a.port > 0) add("port=" + std::to_string(a.port));
    if (a.group != nullptr && *a.group != '\0') add("group=" + encode_value(a.group));
    if (a.mode != 0) {
        char m[16];
        std::snprintf(m, sizeof m, "0%o", static_cast<unsigned>(a.mode & 07777));
        add(std::string("mode=") + m);
    }
    if (opts.empty()) return vnl;
    const std::size_t sep = vnl.find("://");
    const std::size_t bracket = vnl.find('[', sep == std::string::npos ? 0 : sep + 3);
    if (bracket == std::string::npos) return vnl + "[" + opts + "]";
    const bool empty_block = bracket + 1 < vnl.size() && vnl[bracket + 1] == ']';
    return vnl.substr(0, bracket + 1) + opts + (empty_block ? "" : "/") + vnl.substr(bracket + 1);
}

bool is_unix_stream(int fd) noexcept {
    int type = 0, domain = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return false;
    len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return false;
    return type == SOCK_STREAM && domain == AF_UNIX;
}

void setup_fds(vdeconn& c, const std::string& vnl) {
    const std::span<const int> fds = c.transport->poll_fds();
    if (fds.size() == 1) {
        c.datafd = fds[0];
        return;
    }
    if (fds.size() == 2 && vdestack::vnl::split(vnl).scheme == "vde" && is_unix_stream(fds[1])) {
        c.datafd = fds[0];  // vde://: the data socket, and the control stream as ctlfd
        c.ctlfd = fds[1];
        return;
    }
    c.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!c.epoll) vdestack::fail_errno(vnl + ": epoll_create1");
    for (int fd : fds) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (::epoll_ctl(c.epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) vdestack::fail_errno(vnl + ": epoll_ctl");
    }
    c.datafd = c.epoll.get();
}

// The result of vde_recv on a dead link: EOF when the peer hung up.
ssize_t dead_result(const vdeconn& c) noexcept {
    if (c.dead == EPIPE) return 0;
    errno = c.dead;
    return -1;
}

// Waits until the data (or ctl) fd is readable: true when it is; false with
// errno (EAGAIN after a zero timeout, EINTR, ...) otherwise.
bool wait_readable(const vdeconn& c, int timeout_ms) noexcept {
    pollfd p[2] = {{c.datafd, POLLIN, 0}, {c.ctlfd, POLLIN, 0}};
    const nfds_t n = c.ctlfd >= 0 ? 2 : 1;
    const int r = ::poll(p, n, timeout_ms);
    if (r > 0) return true;
    if (r == 0) errno = EAGAIN;
    return false;
}

bool write_all(int fd, iovec* iov, int cnt) noexcept {
    while (cnt > 0) {
        const ssize_t w = ::writev(fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a nonblocking fd: a record must not be torn
                pollfd p{fd, POLLOUT, 0};
                if (::poll(&p, 1, -1) < 0 && errno != EINTR) return false;
                continue;
            }
            return false;
        }
        auto done = static_cast<std::size_t>(w);
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
    return true;
}

}  // namespace

#define VDEPLUG_API extern "C" __attribute__((visibility("default")))

VDEPLUG_API VDECONN* vde_open_real(char* vde_url, char* descr, int interface_version,
                                   struct vde_open_args* open_args) {
    if (interface_version != LIBVDEPLUG_INTERFACE_VERSION && open_args != nullptr) {
        errno = EINVAL;
        return nullptr;
    }
    return guarded(
        [&]() -> VDECONN* {
            vdestack::plug::OpenOptions opts;
            opts.descr = descr != nullptr ? descr : "";
            opts.tuning = vdestack::Tuning::from_env();
            std::string vnl = (vde_url != nullptr && *vde_url != '\0') ? std::string(vde_url) : default_vnl(opts.tuning.home);
            if (open_args != nullptr) vnl = apply_open_args(vnl, *open_args);
            auto c = std::make_unique<vdeconn>();
            c->transport = vdestack::plug::open_transport(vnl, opts);
            setup_fds(*c, vnl);
            return c.release();
        },
        nullptr);
}

namespace {
// vde_recv's and vde_send's argument checks: 0, or -1 with errno (EBADF, EFAULT).
int check_io_args(const VDECONN* conn, const void* buf, size_t len) noexcept {
    const int err = conn == nullptr ? EBADF : buf == nullptr && len > 0 ? EFAULT : 0;
    if (err != 0) errno = err;
    return err != 0 ? -1 : 0;
}
}  // namespace

VDEPLUG_API ssize_t vde_recv(VDECONN* conn, void* buf, size_t len, int flags) {
    if (check_io_args(conn, buf, len) != 0) return -1;
    if (conn->dead != 0) return dead_result(*conn);
    if (!wait_readable(*conn, (flags & MSG_DONTWAIT) != 0 ? 0 : -1)) return -1;
    const bool direct = len >= kMaxFrame;
    FrameBuf fb{direct ? static_cast<std::byte*>(buf) : conn->scratch.data(), direct ? len : kMaxFrame, 0};
    const ssize_t r = conn->transport->recv({&fb, 1});
    if (r < 0) {
        conn->dead = static_cast<int>(-r);
        return dead_result(*conn);
    }
    if (r == 0) return 1;  // consumed, not a frame for us: vdeplug4's "drop"
    const std::size_t n = std::min(fb.len, len);
    // The frame is where the transport put it: our buffer, or its own memory.
    if (n > 0 && fb.data != static_cast<std::byte*>(buf)) std::memmove(buf, fb.data, n);
    return static_cast<ssize_t>(n);
}

VDEPLUG_API ssize_t vde_send(VDECONN* conn, const void* buf, size_t len, int /*flags*/) {
    if (check_io_args(conn, buf, len) != 0) return -1;
    if (conn->dead != 0) {
        errno = conn->dead;
        return -1;
    }
    const FrameRef f{static_cast<const std::byte*>(buf), len};
    const ssize_t r = conn->transport->send({&f, 1});
    if (r < 0) {
        conn->dead = static_cast<int>(-r);
        errno = conn->dead;
        return -1;
    }
    return static_cast<ssize_t>(len);
}

VDEPLUG_API int vde_datafd(VDECONN* conn) {
    if (conn == nullptr) {
        errno = EBADF;
        return -1;
    }
    return conn->datafd;
}

VDEPLUG_API int vde_ctlfd(VDECONN* conn) {
    if (conn == nullptr) {
        errno = EBADF;
        return -1;
    }
    return conn->ctlfd;
}

VDEPLUG_API int vde_close(VDECONN* conn) {
    if (conn == nullptr) {
        errno = EBADF;
        return -1;
    }
    const int saved = errno;
    delete conn;
    errno = saved;
    return 0;
}

VDEPLUG_API VDESTREAM* vdestream_open(void* opaque, int fdout, ssize_t (*frecv)(void* opaque, void* buf, size_t count),
                                      void (*ferr)(void* opaque, int type, char* format, ...)) {
    return guarded([&]() -> VDESTREAM* { return new vdestream(opaque, fdout, frecv, ferr); }, nullptr);
}

VDEPLUG_API ssize_t vdestream_send(VDESTREAM* vdestream, const void* buf, size_t len) {
    if (vdestream == nullptr) {
        errno = EBADF;
        return -1;
    }
    if (len > kMaxFrame) return 0;  // as vdeplug4: too long, not sent
    std::byte hdr[vdestack::wire::kStreamHeader];
    vdestack::wire::write_stream_header(hdr, len);
    iovec iov[2] = {{hdr, sizeof hdr}, {const_cast<void*>(buf), len}};
    if (!write_all(vdestream->fdout, iov, len > 0 ? 2 : 1)) return -1;
    return static_cast<ssize_t>(len + sizeof hdr);
}

VDEPLUG_API void vdestream_recv(VDESTREAM* vdestream, unsigned char* buf, size_t len) {
    if (vdestream == nullptr || (buf == nullptr && len > 0)) return;
    vdestack::wire::StreamDecoder& dec = vdestream->decoder;
    while (len > 0) {
        const std::span<std::byte> space = dec.space();
        const std::size_t k = std::min(space.size(), len);
        if (k == 0) break;  // cannot happen: next() always leaves room
        std::memcpy(space.data(), buf, k);
        dec.commit(k);
        buf += k;
        len -= k;
        for (;;) {
            const std::uint64_t skipped = dec.oversized();
            const std::size_t n = dec.next(vdestream->frame);
            if (dec.oversized() != skipped && vdestream->ferr != nullptr)
                vdestream->ferr(vdestream->opaque, PACKET_LENGTH_ERROR,
                                const_cast<char*>("vdestream: record longer than %d bytes skipped\n"),
                                static_cast<int>(kMaxFrame));
            if (n == 0) break;
            if (vdestream->frecv != nullptr) vdestream->frecv(vdestream->opaque, vdestream->frame.data(), n);
        }
    }
}

VDEPLUG_API void vdestream_close(VDESTREAM* vdestream) { delete vdestream; }
