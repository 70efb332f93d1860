// vde.cpp - the vde:// transport: a client port of a vde_switch, wire-compatible
// with vdeplug4 4.0.1's libvdeplug_vde (and so with Debian's vde_switch from
// vde2 2.3.2, vdeplug4's switch:// / hub:// nodes and our own, switch.cpp).
//
// Theory of operation
// -------------------
// VNL: vde://[ctl_dir][[port#|portgroup][/port=N][/portgroup=NAME][/group=G][/mode=OCT]]
// (path style; the keys "", port and portgroup all set one value, the last
// one wins, as in vdeplug4: a value made only of digits is a port number, 0
// meaning the management port; anything else is a port group name). mode is
// OCTAL (default 0700), group a group name or number. An empty ctl_dir means
// /var/run/vde.ctl, then /tmp/vde.ctl. A ctl_dir that is a regular file holds
// the real VNL on its first line (vdeplug4's indirection; nesting is bounded).
// The ctl_dir is realpath()ed: the switch needs absolute paths.
//
// Handshake (open(), all AF_UNIX, wire/vde_ctl.hpp):
//   1. ctl_: SOCK_STREAM connect to <dir>/<portgroup> when a group name is
//      given (newer switches), else or on failure to <dir>/ctl. Nonblocking,
//      so a switch with a full backlog gives EAGAIN instead of a hang.
//   2. data_: SOCK_DGRAM bound to <dir>/.PPPPP-NNNNN (pid, process-wide
//      counter; retried on EADDRINUSE), falling back to /var/run, /var/tmp and
//      /tmp (vde.PPPPP-NNNNN) when the directory is not writable.
//   3. Permissions of that path as vdeplug4: with group=, chown to it; else if
//      mode grants nothing to group/other and the ctl socket belongs to
//      another non-root user, chown to the ctl socket's group and add 070 (077
//      when that chown fails). Then chmod to mode. (The switch may check
//      access() to it.)
//   4. One send() of the v3 request (type: 0, port << 8 or REQ_NEW_PORT0 when
//      connected to "ctl" with a port; 0 through a port group socket), with
//      the description "<descr> user=<name> pid=<pid>" (at most 127 bytes;
//      Debian's libvdeplug 4.0.1 shows the user name, the euid without one).
//   5. Read the 110-byte sockaddr_un reply (poll, 5 s in all; meanwhile, when
//      the switch is a switch:// node of this very process, it is asked to
//      answer at once: serve_local_handshakes(), see switch.cpp), connect data_
//      to it, chmod it to mode (best effort, as vdeplug4), unlink our own path
//      (the connected socket keeps working; nobody else can reach it anyway).
//   Any failure closes both sockets and unlinks our path (PathGuard).
//
// Data: one datagram = one raw Ethernet frame, both ways; data_ is connected
// to the switch's socket, so only the switch can send to it. recv() drains
// data_ with recvmmsg(MSG_DONTWAIT) into the caller's slots (dgram_batch.hpp: 64 per call,
// 16 calls), compacting accepted frames; runts (< 14 bytes) and
// truncated datagrams are dropped. vde2 switches cap frames at 1518 bytes:
// larger frames are sent anyway (the switch truncates or drops them).
// send() uses sendmmsg(MSG_DONTWAIT): EAGAIN/ENOBUFS drop the rest of the
// call's frames (full queue), EMSGSIZE skips one frame, and ECONNREFUSED /
// ENOTCONN / ECONNRESET / EPIPE / EDESTADDRREQ (the switch's socket is gone)
// mark the link dead. Between connected AF_UNIX datagram sockets the queue
// is bounded by the sender's SO_SNDBUF (not net.unix.max_dgram_qlen): data_'s
// is raised to 4 MiB (best effort), as the switch raises its port sockets',
// so a few super-segments can be in flight (the default ~200 KiB held three;
// through our switch that raised TCP bulk from 4.4-4.9 to 5.7-6.2 Gbit/s).
//
// Whole frames (wire/whole.hpp, whole_end.hpp): when our caller takes TCP
// super-segments (accept_whole: a stack's or vdens' engine), we say hello to
// the switch port, naming our data socket file (as lstat()ed before we
// unlinked it). Our switch (switch.cpp) answers with a hello naming its port
// socket file, which is the file at the path of the handshake reply: then
// sends_whole() is true and super-segments go to it whole, and from our
// hello on recv() reads into the WholeEnd area, where an envelope fits.
// Debian's vde_switch never answers; it floods our hello to its other ports
// as an ordinary frame, and a client of ours there ignores it (it names a
// file other than its switch port).
//
// Liveness: poll_fds() = {data_, ctl_}. The switch never writes on the control
// stream after its reply, so ctl_ readable means EOF (or junk, read and
// dropped). recv() checks ctl_ with one nonblocking read whenever it has no
// frame to return (so a dead switch is noticed on the very wake-up its EOF
// causes); EOF or an error makes the link dead: recv and send return -EPIPE
// from then on, never 0 (the engine drops the link, no busy loop).
//
// All per-call storage (mmsghdr, iovec) lives in the object: no allocation per
// frame. Not thread-safe (one engine thread).
#include "plug/unix/vde.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "plug/dgram_batch.hpp"
#include "plug/unix/switch.hpp"
#include "plug/unix/whole_end.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/nss.hpp"
#include "base/sockbuf.hpp"
#include "vnl/vnl.hpp"
#include "wire/vde_ctl.hpp"
#include "wire/whole.hpp"

namespace vdestack::plug {

namespace {

constexpr int kSockBuf = 4 << 20;    // best-effort send buffer of the data socket
constexpr int kHandshakeMs = 5000;   // whole wait for the switch's reply
constexpr int kMaxIndirection = 4;   // nested "regular file holds the VNL"
constexpr int kMaxBindTries = 100000;
constexpr mode_t kDefaultMode = 0700;
constexpr std::size_t kMaxDescrText = wire::kMaxDescr - 1;  // vdeplug4: 127 + NUL

constexpr const char* kDefaultDirs[] = {"/var/run/vde.ctl", "/tmp/vde.ctl"};
constexpr const char* kFallbackDataDirs[] = {"/var/run", "/var/tmp", "/tmp"};

// Option table in vdeplug4 order: "" takes a bare word (port# or portgroup).
constexpr std::string_view kKeys[] = {"", "port", "portgroup", "group", "mode"};

std::atomic<unsigned> g_sockno{0};  // data socket name counter (process-wide)
thread_local int t_indirection = 0;

struct Config {
    std::string path;                 // as given (decoded), may be empty
    int port = 0;                     // 0 any, > 0 that port, -1 management port 0
    std::string portgroup;            // a non-numeric port group name
    std::optional<gid_t> group;
    mode_t mode = kDefaultMode;
};

Config parse_config(std::string_view vnl_text, std::string_view rest) {
    const vnl::Parsed p = vnl::parse_path_style(rest, kKeys, vnl_text);
    Config c;
    c.path = p.address;
    // "", port and portgroup share one value in vdeplug4: the last one wins.
    std::optional<std::pair<std::string, std::string>> pg;
    for (const auto& [k, v] : p.options)
        if (k.empty() || k == "port" || k == "portgroup") pg.emplace(k.empty() ? "port" : k, v);
    if (pg && !pg->second.empty()) {
        const std::string& v = pg->second;
        if (v[0] >= '0' && v[0] <= '9' &&
            std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
            const auto n = vnl::parse_number(v, pg->first, vnl_text, 0xffffff);
            c.port = n == 0 ? -1 : static_cast<int>(n);
        } else {
            if (v.find('/') != std::string::npos) vnl::bad_value(v, pg->first, vnl_text);
            c.portgroup = v;
        }
    }
    if (auto v = p.get("group")) c.group = vnl::parse_group(*v, "group", vnl_text);
    if (auto v = p.get("mode")) c.mode = vnl::parse_mode(*v, "mode", vnl_text);
    return c;
}

std::optional<sockaddr_un> unix_addr(const std::string& path) { return wire::make_sockaddr_un(path); }

// Connects the nonblocking stream socket `fd` to `path`. Returns 0 or errno.
int connect_path(int fd, const std::string& path) {
    const auto sa = unix_addr(path);
    if (!sa) return ENAMETOOLONG;
    for (;;) {
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

// Removes our data socket path unless released (the handshake completed).
class PathGuard {
public:
    PathGuard() = default;
    PathGuard(const PathGuard&) = delete;
    PathGuard& operator=(const PathGuard&) = delete;
    ~PathGuard() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    void set(std::string p) { path_ = std::move(p); }
    void unlink_now() {
        if (!path_.empty()) ::unlink(path_.c_str());
        path_.clear();
    }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Binds `fd` to "<dir>/<prefix>PPPPP-NNNNN", retrying on EADDRINUSE. Returns
// the path, or "" with errno set.
std::string bind_data(int fd, const std::string& dir, const char* prefix) {
    const int pid = static_cast<int>(::getpid());
    for (int tries = 0; tries < kMaxBindTries; tries++) {
        char name[64];
        std::snprintf(name, sizeof name, "/%s%05d-%05u", prefix, pid, g_sockno.fetch_add(1) % 100000U);
        std::string path = dir + name;
        const auto sa = unix_addr(path);
        if (!sa) {
            errno = ENAMETOOLONG;
            return {};
        }
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) == 0) return path;
        if (errno != EADDRINUSE) return {};
    }
    errno = EADDRINUSE;
    return {};
}

// The effective user's name (as Debian's libvdeplug 4.0.1 shows it), else the euid.
std::string user_name() {
    const uid_t euid = ::geteuid();
    return user_name_of(euid).value_or(std::to_string(euid));
}

std::string make_description(const std::string& descr) {
    std::string d = descr.substr(0, descr.find('\0'));
    d += " user=" + user_name() + " pid=" + std::to_string(::getpid());
    if (d.size() > kMaxDescrText) d.resize(kMaxDescrText);
    return d;
}

class VdeTransport final : public Transport {
public:
    VdeTransport(std::string vnl_text, UniqueFd ctl, UniqueFd data, wire::whole::HelloId self,
                 std::optional<wire::whole::HelloId> switch_port)
        : vnl_(std::move(vnl_text)), ctl_(std::move(ctl)), data_(std::move(data)), fds_{data_.get(), ctl_.get()} {
        caps_.drained_when_short = true;  // sockets only
        caps_.whole = true;
        whole_.set_self(self);
        if (switch_port) whole_.set_peer(*switch_port);
    }

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }
    void accept_whole(bool yes) noexcept override {
        (void)whole_.accept(yes);
        if (!dead_) whole_.send_hello(data_.get());
    }
    [[nodiscard]] bool sends_whole() const noexcept override { return !dead_ && whole_.peer_whole(); }
    ssize_t send_whole(std::span<const iovec> vnet_and_frame) noexcept override;

private:
    // Reads whatever the control stream holds; false when the switch is gone.
    bool ctl_alive() noexcept;
    // The switch's data socket is gone: errors that say so.
    static bool gone(int err) noexcept {
        return err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET || err == EPIPE || err == EDESTADDRREQ;
    }

    WholeEnd whole_;  // whole frames with our switch (whole_end.hpp)

    std::string vnl_;
    UniqueFd ctl_;
    UniqueFd data_;
    std::array<int, 2> fds_;
    bool dead_ = false;

    DgramBatch batch_;
};

bool VdeTransport::ctl_alive() noexcept {
    std::array<char, 256> junk{};
    for (int i = 0; i < 16; i++) {
        const ssize_t r = ::recv(ctl_.get(), junk.data(), junk.size(), MSG_DONTWAIT);
        if (r > 0) continue;  // nothing is ever expected here: drop it
        if (r == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return true;
}

ssize_t VdeTransport::send_whole(std::span<const iovec> vnet_and_frame) noexcept {
    if (!sends_whole()) return 1;
    const int err = whole_.send_whole(data_.get(), vnet_and_frame);
    if (err == EBADF || err == ENOTSOCK) return -err;
    if (gone(err)) {
        dead_ = true;
        return -EPIPE;
    }
    return 1;  // sent, or dropped (a full queue)
}

ssize_t VdeTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (dead_) return -EPIPE;
    if (whole_.hello_sent()) {  // our switch may send envelopes: they need the area
        const ssize_t r = whole_.recv_area(data_.get(), bufs);
        if (r < 0) return r;
        if (r == 0 && !ctl_alive()) {
            dead_ = true;
            return -EPIPE;
        }
        return r;
    }
    using Take = DgramBatch::Take;
    const auto got = batch_.recv(
        data_.get(), bufs,
        [&](std::span<const std::byte> d) {
            if (wire::whole::is_hello(d)) {
                whole_.on_hello(data_.get(), d);
                return Take::consumed;
            }
            return wire::whole::is_envelope(d) ? Take::consumed : Take::frame;  // we did not ask for envelopes
        },
        // Our hello went out in this batch: envelopes may follow, and only
        // the area (recv_area) has room for them, from the next call on.
        [&](std::size_t, std::size_t) { return whole_.hello_sent(); });
    if (got.err == EBADF || got.err == ENOTSOCK || got.err == EFAULT) return -got.err;
    // Any other error (a pending socket error) is consumed: the control
    // connection tells whether the switch is still there.
    if (got.n == 0 && !ctl_alive()) {
        dead_ = true;
        return -EPIPE;
    }
    return static_cast<ssize_t>(got.n);
}

ssize_t VdeTransport::send(std::span<const FrameRef> frames) noexcept {
    if (dead_) return -EPIPE;
    using V = DgramBatch::SendVerdict;
    return batch_.send(data_.get(), frames, MSG_NOSIGNAL, [&](int err) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return V{V::drop_rest};  // queue full
        if (gone(err)) {
            dead_ = true;  // the switch's data socket is gone
            return V{V::fail, -EPIPE};
        }
        if (err == EBADF || err == ENOTSOCK) return V{V::fail, -err};
        return V{V::skip_frame};  // this frame cannot go (EMSGSIZE, ...)
    });
}

// Reads exactly out.size() bytes from the stream `fd` within the deadline.
// Returns 0, or an errno (ETIMEDOUT, ECONNREFUSED on EOF, read's errno).
// `ctl` identifies the switch's control socket: when a switch:// node of this
// process owns it, it is asked to answer (we may be the thread servicing it).
int read_reply(int fd, std::span<std::byte> out, std::chrono::steady_clock::time_point deadline,
               const struct stat* ctl) {
    std::size_t got = 0;
    while (got < out.size()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                std::chrono::steady_clock::now());
        if (left.count() <= 0) return ETIMEDOUT;
        int wait_ms = static_cast<int>(left.count());
        if (ctl != nullptr && serve_local_handshakes(ctl->st_dev, ctl->st_ino)) wait_ms = std::min(wait_ms, 10);
        pollfd p{fd, POLLIN, 0};
        const int pr = ::poll(&p, 1, wait_ms);
        if (pr < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (pr == 0) continue;  // the deadline is checked above
        const ssize_t r = ::recv(fd, out.data() + got, out.size() - got, MSG_DONTWAIT);
        if (r == 0) return ECONNREFUSED;  // the switch refused the request and hung up
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return errno;
        }
        got += static_cast<std::size_t>(r);
    }
    return 0;
}

std::unique_ptr<Transport> open_handshake(std::string_view vnl_text, const Config& c, const OpenOptions& opts) {
    const std::string v(vnl_text);

    // ---- 1. control stream
    UniqueFd ctl(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!ctl) fail_errno(v + ": socket(AF_UNIX, SOCK_STREAM)");
    std::vector<std::string> dirs;
    if (c.path.empty()) {
        dirs.assign(std::begin(kDefaultDirs), std::end(kDefaultDirs));
    } else {
        char real[PATH_MAX];
        if (::realpath(c.path.c_str(), real) == nullptr) fail_errno(v + ": realpath(" + c.path + ")");
        dirs.emplace_back(real);
    }
    std::string dir;
    std::string ctl_path;
    bool via_ctl = false;
    int err = ENOENT;
    std::string tried;
    for (const std::string& d : dirs) {
        if (!c.portgroup.empty()) {
            const std::string pg = d + "/" + c.portgroup;
            err = connect_path(ctl.get(), pg);
            tried += (tried.empty() ? "" : ", ") + pg;
            if (err == 0) {
                dir = d;
                ctl_path = pg;
                break;
            }
        }
        const std::string cp = d + "/ctl";
        err = connect_path(ctl.get(), cp);
        tried += (tried.empty() ? "" : ", ") + cp;
        if (err == 0) {
            dir = d;
            ctl_path = cp;
            via_ctl = true;
            break;
        }
    }
    if (err != 0) fail(err, v + ": connect(" + tried + ")");

    // ---- 2. data socket
    UniqueFd data(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!data) fail_errno(v + ": socket(AF_UNIX, SOCK_DGRAM)");
    PathGuard own;
    std::string own_path = bind_data(data.get(), dir, ".");
    if (own_path.empty()) {
        const int first_err = errno;
        for (const char* fb : kFallbackDataDirs) {
            own_path = bind_data(data.get(), fb, "vde.");
            if (!own_path.empty()) break;
        }
        if (own_path.empty()) fail(first_err, v + ": bind(" + dir + "/.<pid>-<n> and fallbacks)");
    }
    own.set(own_path);

    // ---- 3. permissions
    mode_t mode = c.mode;
    if (c.group) {
        if (::chown(own_path.c_str(), static_cast<uid_t>(-1), *c.group) != 0)
            fail_errno(v + ": chown(" + own_path + ", group " + std::to_string(*c.group) + ")");
    } else if ((mode & 077) == 0) {
        struct stat st{};
        if (::stat(ctl_path.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != ::geteuid()) {
            if (::chown(own_path.c_str(), static_cast<uid_t>(-1), st.st_gid) == 0)
                mode |= 070;
            else
                mode |= 077;
        }
    }
    (void)::chmod(own_path.c_str(), mode);  // best effort, as vdeplug4

    // ---- 4. request
    const std::uint32_t type = via_ctl ? wire::request_type_for_port(c.port) : wire::kReqNewControl;
    const auto own_sa = unix_addr(own_path);
    std::array<std::byte, wire::kRequestMaxSize> req{};
    const std::size_t req_len = wire::write_request_v3(req, type, *own_sa, make_description(opts.descr));
    for (;;) {
        const ssize_t r = ::send(ctl.get(), req.data(), req_len, MSG_NOSIGNAL);
        if (r == static_cast<ssize_t>(req_len)) break;
        if (r < 0 && errno == EINTR) continue;
        if (r >= 0) fail(EIO, v + ": send(request to " + ctl_path + "): short write");
        fail_errno(v + ": send(request to " + ctl_path + ")");
    }

    // ---- 5. reply
    std::array<std::byte, wire::kReplySize> reply{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHandshakeMs);
    struct stat ctl_st{};
    const bool have_st = ::stat(ctl_path.c_str(), &ctl_st) == 0 && S_ISSOCK(ctl_st.st_mode);
    err = read_reply(ctl.get(), reply, deadline, have_st ? &ctl_st : nullptr);
    if (err == ECONNREFUSED) fail(err, v + ": " + ctl_path + " closed the connection instead of answering the request");
    if (err == ETIMEDOUT) fail(err, v + ": no answer from " + ctl_path + " within 5 s");
    if (err != 0) fail(err, v + ": recv(reply from " + ctl_path + ")");
    const auto peer = wire::parse_reply(reply);
    if (!peer) fail(EPROTO, v + ": malformed reply from " + ctl_path);
    for (;;) {
        if (::connect(data.get(), reinterpret_cast<const sockaddr*>(&*peer), sizeof *peer) == 0) break;
        if (errno == EINTR) continue;
        fail_errno(v + ": connect(" + std::string(wire::sun_path_of(*peer)) + ")");
    }
    // Connected: the queue towards the switch is bounded by our send buffer
    // (not net.unix.max_dgram_qlen); room for a few super-segments in flight.
    raise_sndbuf(data.get(), kSockBuf);
    const std::string port_path(wire::sun_path_of(*peer));
    (void)::chmod(port_path.c_str(), mode);  // best effort, as vdeplug4
    // Who is who for whole frames (whole_end.hpp): our socket file before it
    // goes, the switch's port socket file.
    struct stat st{};
    wire::whole::HelloId self{};
    if (::lstat(own_path.c_str(), &st) == 0) self = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    std::optional<wire::whole::HelloId> port;
    if (::lstat(port_path.c_str(), &st) == 0)
        port = wire::whole::HelloId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    own.unlink_now();
    return std::make_unique<VdeTransport>(v, std::move(ctl), std::move(data), self, port);
}

// The first line of a regular file (vdeplug4's VNL indirection), up to 4 KiB.
// Plain read(2), not an ifstream: a C program's libvdestack.so carries the
// C++ runtime it uses, and streams would bring the locale machinery along.
std::string first_line(const std::string& path, std::string_view vnl) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string text(4096, '\0');
    std::size_t got = 0;
    while (fd && got < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        if (text.find('\n') < got) break;
    }
    text.resize(got);
    if (!fd || got == 0) fail(EINVAL, std::string(vnl) + ": cannot read a VNL from " + path);
    std::string line = text.substr(0, text.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

struct DepthGuard {
    DepthGuard() { t_indirection++; }
    ~DepthGuard() { t_indirection--; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
};

}  // namespace

std::unique_ptr<Transport> open_vde(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    const Config c = parse_config(vnl, rest);
    if (!c.path.empty()) {
        struct stat st{};
        if (::stat(c.path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            if (t_indirection >= kMaxIndirection)
                fail(ELOOP, std::string(vnl) + ": too many levels of VNL files");
            const std::string inner = first_line(c.path, vnl);
            DepthGuard guard;
            return open_transport(inner, opts);
        }
    }
    return open_handshake(vnl, c, opts);
}

}  // namespace vdestack::plug
