// switch.cpp - the switch:// and hub:// transports: an in-process Ethernet
// switch or hub serving vde:// clients, wire-compatible with vdeplug4 4.0.1's
// libvdeplug_netnode (and so reachable by vde2/vdeplug4 clients, e.g. Debian's
// vde_plug vde://DIR, and by our vde:// transport).
//
// Theory of operation
// -------------------
// VNL: switch://[path][mode=OCT/dirmode=OCT/grp=G/hashsize=N/hashseed=N/expiretime=S]
// (hub:// takes the same keys and ignores the table ones). path defaults to
// /tmp/vdenode_<user name> (/tmp/vdenode_u<euid> without a passwd entry);
// otherwise its parent directory is realpath()ed. mode (octal, x bits
// removed, default 0600) is given to the ctl socket and every data socket;
// dirmode (octal, default 02700; when only mode is given: 02000 | mode plus
// an x bit wherever mode has r or w) to the directory; grp (name or number)
// becomes the group of the directory and the sockets. hashsize (default
// 256), hashseed (default 0) and expiretime (seconds, default 120) configure
// the MAC table (switch_core.hpp).
//
// Files: open() creates the directory (an existing directory is reused when no
// live switch answers on its ctl socket; vdeplug4 refuses it), binds
// "<dir>/ctl" (SOCK_STREAM, backlog 15) and, per client, "<dir>/fd<N>" (N: the
// client's control connection fd, unique while it lives). The destructor
// closes every socket, unlinks the fd<N> sockets and ctl (when it is still
// ours: same inode) and removes the directory when we created it (rmdir: only
// if empty).
//
// Ports: index 0 is the host port (this process: send() injects, recv()
// returns); client slots 1..kMaxPorts. A slot is Free, Pending (control
// connection accepted, request not complete yet) or Active. The protocol
// (wire/vde_ctl.hpp): a Pending slot reads its request without blocking into a
// 256-byte buffer, across as many reads as it takes; a bad magic, a v1 or
// unknown version, a type whose low byte is not 0 (REQ_NEW_PORT0 included: no
// management port here) closes the connection, and so does a client path we
// may not use (a user other than root and ours must name a socket they own,
// checked with SO_PEERCRED and lstat: vde2 checks access() instead, which
// says nothing about the client). A good request makes a
// nonblocking SOCK_DGRAM socket connected to the client's data socket and
// bound to <dir>/fd<N> (chmod mode), whose sockaddr_un is the 110-byte reply,
// and the slot becomes Active. The control stream of an Active port is
// silent: EOF, an error or hang-up removes the port (its socket path, its
// learned MACs); stray bytes are read and dropped. A Pending slot that has not
// completed its request within kPendingMs (5 s) is closed. When all slots are
// taken a new connection is closed at once.
//
// Event loop: everything runs inside recv(). poll_fds() = {epfd_}: an epoll
// set (level-triggered) holding the listening socket, a timerfd, every
// control stream and every data socket; the engine sees the epoll fd readable
// while any of them is. (A single fd, because the set changes as clients come
// and go and the Transport interface publishes its fds once.) recv() takes
// one epoll_wait(0) batch and serves it: accepts (bounded per call), reads
// requests, notices hang-ups, and drains client data sockets with recvmmsg
// straight into the caller's slots. Every client frame is routed
// (switch_core.hpp): to another client it is sent at once with send(); when
// it is for the host port (unicast to it, or flooded) it stays in the
// caller's slot and is counted. A data socket is only read while the caller
// has free slots left, so nothing is ever dropped for lack of room; what is
// left stays readable (level-triggered) for the next call. The timerfd (1 s
// period, armed only while some slot is Pending or accepting is paused)
// drives the pending timeout and resumes accepting after EMFILE/ENFILE (the
// listening socket is taken out of the set meanwhile, so a full fd table
// cannot busy-loop us).
//
// Whole frames (wire/whole.hpp): activate() records the files behind the
// port's socket and the client's (lstat, before our reply makes the client
// unlink its path). A client's hello that names its own file makes the port
// whole: we answer with a hello naming the port's file, and from then on
// drain_whole() reads that port one datagram at a time into big_ (kBig, an
// envelope fits), only while the caller has kHostRoom slots free (the rest
// waits, level-triggered). An envelope is routed by its inner frame (which
// teaches the MAC table as any frame): to a whole port it goes as it came;
// for a plain client it is cut into MSS-sized frames (TsoSegmenter) sent one
// by one; for the host port it is cut into the caller's slots (segments
// beyond them are dropped, as a full queue drops); a flood does all three.
// Hellos are never forwarded.
//
// send() (host frames): routed the same way with source port 0; sent to
// clients with one send(MSG_DONTWAIT) per destination. Any send error to a
// client (full queue: EAGAIN/ENOBUFS; the client gone) drops that copy only;
// departures are detected on the control stream.
//
// In-process clients: a vde:// client opened on the very thread that
// services this node (the helper's single engine thread, when one stack is
// switch://X and another vde://X) would wait for a reply that only this
// thread's next recv() can give. So every node registers itself (g_nodes, by
// the dev/inode of its ctl socket) and vde:// open() calls
// serve_local_handshakes() while it waits: that accepts and answers pending
// requests directly (accept4 and nonblocking reads only; no frame work). A
// mutex per node (mu_, uncontended in the engine: one lock per recv/send
// call) makes that safe when the node is serviced by another thread; the
// global list's mutex orders it with the node's destruction.
//
// The queue towards a connected client is bounded by the port socket's send
// buffer: a whole port's is raised to 4 MiB (best effort), so that a few
// super-segments fit (with the default ~200 KiB TCP bulk through the switch
// ran ~25% slower; vde.cpp raises its data socket's the same way). That is
// also what a whole client that stops reading can pin in kernel memory;
// plain ports keep the default.
//
// No allocation per frame (scratch arrays in the object; a std::string per
// client connection). Otherwise used by one thread at a time, like every
// transport.
#include "plug/unix/switch.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "plug/unix/switch_core.hpp"
#include "frame/offload.hpp"
#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/nss.hpp"
#include "base/sockbuf.hpp"
#include "plug/dgram_batch.hpp"
#include "vnl/vnl.hpp"
#include "wire/vde_ctl.hpp"
#include "wire/whole.hpp"

namespace vdestack::plug {

namespace {

constexpr std::size_t kMaxPorts = 256;     // client ports (plus the host port)
constexpr std::size_t kEvents = 64;        // epoll events per recv()
constexpr std::size_t kBatch = 64;         // datagrams per recvmmsg
constexpr int kDataRounds = 4;             // recvmmsg calls per data socket per recv()
// Whole frames: the largest datagram (an envelope), and the caller's slots
// a whole port needs free before one is read (a super-segment cut for the
// host: 64 KiB at an MSS of 1024 or more).
constexpr std::size_t kBig = wire::whole::kEnvelopeHead + wire::whole::kMaxFrame + 1;
constexpr std::size_t kHostRoom = 64;
constexpr int kAcceptPerCall = 16;
constexpr int kWholeSockBuf = 4 << 20;     // best-effort send buffer of a whole port's data socket
constexpr std::int64_t kPendingMs = 5000;  // a client must complete its request within this
constexpr int kBacklog = 15;               // as vde2 and vdeplug4
constexpr mode_t kDefaultMode = 0600;
constexpr mode_t kDefaultDirMode = 02700;
constexpr std::int64_t kDefaultExpire = 120;
constexpr std::size_t kDefaultHashSize = 256;
constexpr const char* kDefaultPrefix = "/tmp/vdenode_";

constexpr std::string_view kKeys[] = {"mode", "dirmode", "grp", "hashsize", "hashseed", "expiretime"};

enum Tag : std::uint64_t { kTagListen = 0, kTagTimer = 1, kTagCtl = 2, kTagData = 3 };

constexpr std::uint64_t make_tag(Tag kind, std::size_t slot, std::uint32_t gen) noexcept {
    return (std::uint64_t{gen} << 32) | (std::uint64_t{slot} << 4) | kind;
}

std::string default_path() {
    const uid_t euid = ::geteuid();
    const std::optional<std::string> name = user_name_of(euid);
    if (name && name->find('/') == std::string::npos) return std::string(kDefaultPrefix) + *name;
    return std::string(kDefaultPrefix) + "u" + std::to_string(euid);
}

struct Config {
    std::string path;
    mode_t mode = kDefaultMode;
    mode_t dirmode = kDefaultDirMode;
    std::optional<gid_t> gid;
    std::size_t hashsize = kDefaultHashSize;
    std::uint64_t hashseed = 0;
    std::int64_t expire = kDefaultExpire;
};

Config parse_config(std::string_view vnl_text, std::string_view rest) {
    const vnl::Parsed p = vnl::parse_path_style(rest, kKeys, vnl_text);
    Config c;
    const auto modestr = p.get("mode");
    const auto dirmodestr = p.get("dirmode");
    if (modestr) c.mode = vnl::parse_mode(*modestr, "mode", vnl_text) & ~mode_t{0111};
    if (dirmodestr)
        c.dirmode = vnl::parse_mode(*dirmodestr, "dirmode", vnl_text);
    else if (modestr)
        c.dirmode = 02000 | c.mode | (c.mode & 0444) >> 2 | (c.mode & 0222) >> 1;
    if (auto v = p.get("grp")) c.gid = vnl::parse_group(*v, "grp", vnl_text);
    if (auto v = p.get("hashsize")) {
        c.hashsize = static_cast<std::size_t>(vnl::parse_number(*v, "hashsize", vnl_text, std::uint64_t{1} << 24));
        if (c.hashsize == 0) vnl::bad_value(*v, "hashsize", vnl_text);
    }
    if (auto v = p.get("hashseed")) c.hashseed = vnl::parse_number(*v, "hashseed", vnl_text);
    if (auto v = p.get("expiretime")) {
        c.expire = static_cast<std::int64_t>(vnl::parse_number(*v, "expiretime", vnl_text, std::uint64_t{1} << 40));
        if (c.expire == 0) c.expire = kDefaultExpire;
    }

    // The directory: default, or the given one with its parent canonicalized.
    std::string path = p.address;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path.empty()) {
        path = default_path();
    } else {
        const std::size_t slash = path.rfind('/');
        std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
        if (base.empty() || base == "." || base == "..") vnl::bad_value(p.address, "path", vnl_text);
        char real[PATH_MAX];
        if (::realpath(parent.c_str(), real) == nullptr)
            fail_errno(std::string(vnl_text) + ": realpath(" + parent + ")");
        parent = real;
        path = (parent == "/" ? "" : parent) + "/" + base;
    }
    // "<dir>/fd<int>" must fit a sockaddr_un.
    if (path.size() + 3 + 10 >= wire::kSunPathMax)
        fail(ENAMETOOLONG, std::string(vnl_text) + ": '" + path + "' is too long for a socket directory");
    c.path = std::move(path);
    return c;
}

// The node's files: removed when the node goes, also when open() fails halfway.
struct NodeFiles {
    std::string dir;
    std::string ctl;
    bool created_dir = false;
    bool bound_ctl = false;
    dev_t ctl_dev = 0;
    ino_t ctl_ino = 0;

    NodeFiles() = default;
    NodeFiles(const NodeFiles&) = delete;
    NodeFiles& operator=(const NodeFiles&) = delete;
    ~NodeFiles() {
        if (bound_ctl) {
            struct stat st{};
            if (::lstat(ctl.c_str(), &st) == 0 && st.st_dev == ctl_dev && st.st_ino == ctl_ino) ::unlink(ctl.c_str());
        }
        if (created_dir) ::rmdir(dir.c_str());  // fails (harmlessly) when not empty
    }
};

class SwitchTransport final : public Transport {
public:
    SwitchTransport(std::string vnl_text, const Config& c, NodeKind kind);
    ~SwitchTransport() override;

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return {&epfd_raw_, 1}; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

    // Accepts and answers waiting clients now (see serve_local_handshakes).
    void serve_handshakes() noexcept;
    // True when this node's ctl socket has this device/inode.
    [[nodiscard]] bool serves(dev_t dev, ino_t ino) const noexcept {
        return files_.bound_ctl && files_.ctl_dev == dev && files_.ctl_ino == ino;
    }

private:
    enum class State : std::uint8_t { kFree, kPending, kActive };
    struct Port {
        State state = State::kFree;
        std::uint32_t gen = 0;
        UniqueFd ctl;
        UniqueFd data;
        std::int64_t since_ms = 0;
        uid_t peer_uid = 0;  // SO_PEERCRED of the control connection
        std::size_t req_len = 0;
        std::array<std::byte, wire::kRequestReadMax> req{};
        std::string path;  // <dir>/fd<N>, bound by data
        // Whole frames (wire/whole.hpp): the files behind the two sockets,
        // and whether the client said hello (we answered: it may send
        // envelopes, and takes them).
        wire::whole::HelloId self{}, client{};
        bool client_known = false;
        bool whole = false;
    };

    void accept_clients(std::int64_t now) noexcept;
    void read_request(std::size_t slot) noexcept;
    bool activate(std::size_t slot, const sockaddr_un& client) noexcept;
    void ctl_event(std::size_t slot, std::uint32_t events) noexcept;
    void drain_data(std::size_t slot, std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept;
    // A whole port's datagrams, one at a time into big_ (see the header).
    void drain_whole(std::size_t slot, std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept;
    // A hello from a client: believed when it names the client's file.
    void client_hello(std::size_t slot, std::span<const std::byte> d) noexcept;
    void forward_envelope(std::size_t from, const wire::whole::Envelope& e, std::span<const std::byte> d,
                          std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept;
    void deliver_envelope(PortId to, const wire::whole::Envelope& e, std::span<const std::byte> d,
                          std::span<FrameBuf> bufs, std::size_t& n) noexcept;
    // A frame from a client that goes to the host port: copied to the caller.
    static void to_host(const std::byte* data, std::size_t len, std::span<FrameBuf> bufs, std::size_t& n) noexcept;
    void remove_port(std::size_t slot) noexcept;
    void sweep(std::int64_t now) noexcept;
    void update_timer() noexcept;
    void pause_listen(std::int64_t now) noexcept;
    void send_to(std::size_t slot, const std::byte* data, std::size_t len) noexcept;
    void flood(std::size_t except, const std::byte* data, std::size_t len) noexcept;

    NodeFiles files_;  // first member: destroyed last, after every socket is closed
    std::string vnl_;
    mode_t mode_;
    std::optional<gid_t> gid_;
    Forwarder fwd_;
    UniqueFd epfd_;
    int epfd_raw_ = -1;
    UniqueFd listen_;
    UniqueFd timer_;
    bool timer_armed_ = false;
    bool listen_paused_ = false;
    std::int64_t paused_at_ = 0;
    std::size_t pending_ = 0;
    std::vector<Port> ports_;          // index 0 unused (the host port)
    std::vector<PortId> active_;       // Active client slots, for flooding

    std::array<epoll_event, kEvents> events_{};
    DgramBatch batch_;  // the data ports' receive loop
    std::unique_ptr<std::byte[]> big_;  // a whole port's datagram (kBig), from the first hello
    std::array<std::byte, kMaxFrame + 1> seg_{};  // one segment of a super-segment for a plain port
    frame::TsoSegmenter tso_;
    std::mutex mu_;  // recv/send (the servicing thread) vs serve_handshakes (an opening client)
};

// Every live node of this process, for serve_local_handshakes(). Never
// destroyed: a helper running as a thread of the program may still use them
// while the program's exit runs the static destructors.
std::mutex& g_nodes_mu = *new std::mutex;
std::vector<SwitchTransport*>& g_nodes = *new std::vector<SwitchTransport*>;

SwitchTransport::SwitchTransport(std::string vnl_text, const Config& c, NodeKind kind)
    : vnl_(std::move(vnl_text)), mode_(c.mode), gid_(c.gid), fwd_(kind, c.hashsize, c.hashseed, c.expire),
      ports_(kMaxPorts + 1) {
    const std::string& v = vnl_;
    files_.dir = c.path;
    files_.ctl = c.path + "/ctl";
    const auto ctl_sa = wire::make_sockaddr_un(files_.ctl);
    if (!ctl_sa) fail(ENAMETOOLONG, v + ": '" + files_.ctl + "' is too long for a socket address");

    // ---- the directory
    if (::mkdir(c.path.c_str(), 0700) == 0) {
        files_.created_dir = true;
        if (c.gid && ::chown(c.path.c_str(), static_cast<uid_t>(-1), *c.gid) != 0)
            fail_errno(v + ": chown(" + c.path + ", group " + std::to_string(*c.gid) + ")");
        if (::chmod(c.path.c_str(), c.dirmode) != 0) fail_errno(v + ": chmod(" + c.path + ")");
    } else if (errno == EEXIST) {
        struct stat st{};
        if (::stat(c.path.c_str(), &st) != 0) fail_errno(v + ": stat(" + c.path + ")");
        if (!S_ISDIR(st.st_mode)) fail(ENOTDIR, v + ": mkdir(" + c.path + "): exists and is not a directory");
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&*ctl_sa), sizeof *ctl_sa) == 0)
            fail(EADDRINUSE, v + ": a switch is already running on " + files_.ctl);
    } else {
        fail_errno(v + ": mkdir(" + c.path + ")");
    }

    // ---- the control socket
    listen_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listen_) fail_errno(v + ": socket(AF_UNIX, SOCK_STREAM)");
    struct stat old{};
    if (::lstat(files_.ctl.c_str(), &old) == 0 && S_ISSOCK(old.st_mode)) ::unlink(files_.ctl.c_str());  // stale
    if (::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&*ctl_sa), sizeof *ctl_sa) != 0)
        fail_errno(v + ": bind(" + files_.ctl + ")");
    struct stat st{};
    if (::lstat(files_.ctl.c_str(), &st) == 0) {
        files_.bound_ctl = true;
        files_.ctl_dev = st.st_dev;
        files_.ctl_ino = st.st_ino;
    }
    if (c.gid && ::chown(files_.ctl.c_str(), static_cast<uid_t>(-1), *c.gid) != 0)
        fail_errno(v + ": chown(" + files_.ctl + ", group " + std::to_string(*c.gid) + ")");
    if (::chmod(files_.ctl.c_str(), mode_) != 0) fail_errno(v + ": chmod(" + files_.ctl + ")");
    if (::listen(listen_.get(), kBacklog) != 0) fail_errno(v + ": listen(" + files_.ctl + ")");

    // ---- the event set
    epfd_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epfd_) fail_errno(v + ": epoll_create1");
    epfd_raw_ = epfd_.get();
    timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_) fail_errno(v + ": timerfd_create");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = make_tag(kTagListen, 0, 0);
    if (::epoll_ctl(epfd_raw_, EPOLL_CTL_ADD, listen_.get(), &ev) != 0) fail_errno(v + ": epoll_ctl(ADD ctl)");
    ev.data.u64 = make_tag(kTagTimer, 0, 0);
    if (::epoll_ctl(epfd_raw_, EPOLL_CTL_ADD, timer_.get(), &ev) != 0) fail_errno(v + ": epoll_ctl(ADD timerfd)");
    active_.reserve(kMaxPorts);
    std::lock_guard<std::mutex> lk(g_nodes_mu);
    g_nodes.push_back(this);
}

SwitchTransport::~SwitchTransport() {
    {
        std::lock_guard<std::mutex> lk(g_nodes_mu);  // after this nobody else can reach us
        g_nodes.erase(std::find(g_nodes.begin(), g_nodes.end(), this));
    }
    for (std::size_t i = 1; i < ports_.size(); i++)
        if (ports_[i].state != State::kFree) remove_port(i);
    listen_.reset();
}

void SwitchTransport::update_timer() noexcept {
    const bool want = pending_ > 0 || listen_paused_;
    if (want == timer_armed_) return;
    itimerspec its{};
    if (want) {
        its.it_value.tv_sec = 1;
        its.it_interval.tv_sec = 1;
    }
    if (::timerfd_settime(timer_.get(), 0, &its, nullptr) == 0) timer_armed_ = want;
}

void SwitchTransport::pause_listen(std::int64_t now) noexcept {
    if (listen_paused_) return;
    if (::epoll_ctl(epfd_raw_, EPOLL_CTL_DEL, listen_.get(), nullptr) == 0) {
        listen_paused_ = true;
        paused_at_ = now;
        update_timer();
    }
}

void SwitchTransport::sweep(std::int64_t now) noexcept {
    for (std::size_t i = 1; i < ports_.size() && pending_ > 0; i++)
        if (ports_[i].state == State::kPending && now - ports_[i].since_ms >= kPendingMs) remove_port(i);
    if (listen_paused_ && now - paused_at_ >= 1000) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = make_tag(kTagListen, 0, 0);
        if (::epoll_ctl(epfd_raw_, EPOLL_CTL_ADD, listen_.get(), &ev) == 0) listen_paused_ = false;
    }
    update_timer();
}

void SwitchTransport::accept_clients(std::int64_t now) noexcept {
    for (int k = 0; k < kAcceptPerCall; k++) {
        UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!conn) {
            const int err = errno;
            if (err == EINTR || err == ECONNABORTED) continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) pause_listen(now);
            return;  // EAGAIN: no more
        }
        auto free_slot = [&]() -> std::size_t {
            for (std::size_t i = 1; i < ports_.size(); i++)
                if (ports_[i].state == State::kFree) return i;
            return 0;
        };
        std::size_t slot = free_slot();
        if (slot == 0) {
            sweep(now);
            slot = free_slot();
        }
        if (slot == 0) continue;  // full: conn is closed, the client sees EOF
        Port& p = ports_[slot];
        ucred cred{};
        socklen_t credlen = sizeof cred;
        if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0) continue;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = make_tag(kTagCtl, slot, p.gen);
        if (::epoll_ctl(epfd_raw_, EPOLL_CTL_ADD, conn.get(), &ev) != 0) continue;
        p.ctl = std::move(conn);
        p.peer_uid = cred.uid;
        p.state = State::kPending;
        p.since_ms = now;
        p.req_len = 0;
        pending_++;
        update_timer();
    }
}

void SwitchTransport::read_request(std::size_t slot) noexcept {
    Port& p = ports_[slot];
    for (;;) {
        const ssize_t r = ::recv(p.ctl.get(), p.req.data() + p.req_len, p.req.size() - p.req_len, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            remove_port(slot);
            return;
        }
        if (r == 0) {  // hung up before asking
            remove_port(slot);
            return;
        }
        p.req_len += static_cast<std::size_t>(r);
        break;
    }
    std::optional<wire::RequestV3View> view;
    const wire::RequestStatus st = wire::parse_request({p.req.data(), p.req_len}, view);
    if (st == wire::RequestStatus::kIncomplete && p.req_len < p.req.size()) return;  // wait for the rest
    if (st != wire::RequestStatus::kOk || view->kind() != wire::kReqNewControl) {
        remove_port(slot);  // garbage, v1, other versions, REQ_NEW_PORT0: refused
        return;
    }
    if (!activate(slot, view->sock())) remove_port(slot);
}

// May a client whose control connection belongs to `peer` have us send frames
// to `client`? Root and our own user: yes. Anybody else: only to a named
// socket that they own (they just bound it), so that nobody can point the
// node at somebody else's socket.
bool client_path_allowed(const sockaddr_un& client, uid_t peer) noexcept {
    if (peer == 0 || peer == ::geteuid()) return true;
    if (client.sun_path[0] == '\0') return false;  // abstract: no owner to check
    char path[wire::kSunPathMax + 1] = {};
    std::memcpy(path, client.sun_path, wire::kSunPathMax);
    struct stat st{};
    return ::lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == peer;
}

bool SwitchTransport::activate(std::size_t slot, const sockaddr_un& client) noexcept {
    Port& p = ports_[slot];
    if (client.sun_family != AF_UNIX || !client_path_allowed(client, p.peer_uid)) return false;
    UniqueFd data(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!data) return false;
    if (::connect(data.get(), reinterpret_cast<const sockaddr*>(&client), sizeof client) != 0) return false;
    std::string path;
    try {
        path = files_.dir + "/fd" + std::to_string(p.ctl.get());
    } catch (...) {
        return false;
    }
    const auto sa = wire::make_sockaddr_un(path);
    if (!sa) return false;
    ::unlink(path.c_str());  // a stale socket of an earlier node
    if (::bind(data.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) return false;
    if (gid_) (void)::chown(path.c_str(), static_cast<uid_t>(-1), *gid_);
    if (mode_ != 0) (void)::chmod(path.c_str(), mode_);
    // The files behind both sockets, for whole frames; the client's before
    // our reply (it unlinks its path once it has the reply).
    p.whole = false;
    p.client_known = false;
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) p.self = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    if (::lstat(client.sun_path, &st) == 0) {
        p.client = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
        p.client_known = true;
    }
    std::array<std::byte, wire::kReplySize> reply{};
    wire::write_reply(reply, *sa);
    const ssize_t w = ::send(p.ctl.get(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = make_tag(kTagData, slot, p.gen);
    if (w != static_cast<ssize_t>(reply.size()) ||
        ::epoll_ctl(epfd_raw_, EPOLL_CTL_ADD, data.get(), &ev) != 0) {
        ::unlink(path.c_str());
        return false;
    }
    p.data = std::move(data);
    p.path = std::move(path);
    p.state = State::kActive;
    pending_--;
    active_.push_back(static_cast<PortId>(slot));
    update_timer();
    return true;
}

void SwitchTransport::ctl_event(std::size_t slot, std::uint32_t events) noexcept {
    std::array<char, 256> junk{};
    for (int i = 0; i < 16; i++) {
        const ssize_t r = ::recv(ports_[slot].ctl.get(), junk.data(), junk.size(), MSG_DONTWAIT);
        if (r > 0) continue;  // a silent channel: drop stray bytes
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) == 0)
            return;
        remove_port(slot);  // EOF, error or hang-up: the client is gone
        return;
    }
}

void SwitchTransport::remove_port(std::size_t slot) noexcept {
    Port& p = ports_[slot];
    if (p.ctl) ::epoll_ctl(epfd_raw_, EPOLL_CTL_DEL, p.ctl.get(), nullptr);
    if (p.data) ::epoll_ctl(epfd_raw_, EPOLL_CTL_DEL, p.data.get(), nullptr);
    if (p.state == State::kActive) {
        fwd_.port_removed(static_cast<PortId>(slot));
        auto it = std::find(active_.begin(), active_.end(), static_cast<PortId>(slot));
        if (it != active_.end()) {
            *it = active_.back();
            active_.pop_back();
        }
    } else if (p.state == State::kPending) {
        pending_--;
    }
    if (!p.path.empty()) ::unlink(p.path.c_str());
    p.path.clear();
    p.data.reset();
    p.ctl.reset();
    p.req_len = 0;
    p.state = State::kFree;
    p.gen++;
    update_timer();
}

void SwitchTransport::send_to(std::size_t slot, const std::byte* data, std::size_t len) noexcept {
    // A full queue or a vanished client drops this copy; departures are seen on ctl.
    (void)::send(ports_[slot].data.get(), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void SwitchTransport::flood(std::size_t except, const std::byte* data, std::size_t len) noexcept {
    for (PortId p : active_)
        if (p != except) send_to(p, data, len);
}

void SwitchTransport::client_hello(std::size_t slot, std::span<const std::byte> d) noexcept {
    Port& p = ports_[slot];
    const auto id = wire::whole::parse_hello(d);
    if (!id || !p.client_known || !(*id == p.client)) return;  // not this client's own
    if (!big_) {
        try {
            big_ = std::make_unique_for_overwrite<std::byte[]>(kBig);
        } catch (...) {
            return;  // no memory: ordinary frames only
        }
    }
    const auto hello = wire::whole::hello(p.self);
    if (::send(p.data.get(), hello.data(), hello.size(), MSG_DONTWAIT | MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size()))
        return;
    p.whole = true;
    // Room for a few super-segments towards this client (see the header).
    raise_sndbuf(p.data.get(), kWholeSockBuf);
}

void SwitchTransport::to_host(const std::byte* data, std::size_t len, std::span<FrameBuf> bufs, std::size_t& n) noexcept {
    if (n >= bufs.size() || len > bufs[n].cap) return;
    std::memcpy(bufs[n].data, data, len);
    bufs[n].len = len;
    n++;
}

void SwitchTransport::deliver_envelope(PortId to, const wire::whole::Envelope& e, std::span<const std::byte> d,
                                       std::span<FrameBuf> bufs, std::size_t& n) noexcept {
    if (to != kHostPort && ports_[to].whole) {  // it takes it as it came
        (void)::send(ports_[to].data.get(), d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        return;
    }
    // A plain client, or the host: MSS-sized ordinary frames (a segment that
    // finds no room left in the caller's slots is dropped, as a full queue).
    if (!tso_.start(e.frame, e.hdr) || tso_.max_segment() > kMaxFrame) return;
    while (!tso_.done()) {
        if (to == kHostPort) {
            if (n >= bufs.size()) return;
            const std::size_t len = tso_.next(std::span<std::byte>(bufs[n].data, bufs[n].cap));
            if (len == 0) return;
            bufs[n].len = len;
            n++;
        } else {
            const std::size_t len = tso_.next(seg_);
            if (len == 0) return;
            send_to(to, seg_.data(), len);
        }
    }
}

void SwitchTransport::forward_envelope(std::size_t from, const wire::whole::Envelope& e, std::span<const std::byte> d,
                                       std::span<FrameBuf> bufs, std::size_t& n, std::int64_t now) noexcept {
    const Route route = fwd_.route({e.frame.data(), e.frame.size()}, static_cast<PortId>(from), now);
    if (route.kind == Route::kUnicast) {
        deliver_envelope(route.port, e, d, bufs, n);
    } else if (route.kind == Route::kFlood) {
        for (PortId p : active_)
            if (p != from) deliver_envelope(p, e, d, bufs, n);
        deliver_envelope(kHostPort, e, d, bufs, n);
    }
}

void SwitchTransport::drain_whole(std::size_t slot, std::span<FrameBuf> bufs, std::size_t& n,
                                  std::int64_t now) noexcept {
    const int fd = ports_[slot].data.get();
    for (std::size_t round = 0; round < kBatch * kDataRounds; round++) {
        // Room for a super-segment cut for the host; else the rest waits
        // (the socket stays readable).
        if (bufs.size() - n < std::min(kHostRoom, bufs.size())) return;
        const ssize_t len = ::recv(fd, big_.get(), kBig, MSG_DONTWAIT | MSG_TRUNC);
        if (len < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN: drained; an error is consumed by the call
        }
        const auto ulen = static_cast<std::size_t>(len);
        if (ulen < kMinFrame || ulen > kBig) continue;  // a runt, or truncated
        const std::span<const std::byte> d(big_.get(), ulen);
        if (wire::whole::is_hello(d)) {
            client_hello(slot, d);
            continue;
        }
        if (wire::whole::is_envelope(d)) {
            if (const auto e = wire::whole::parse_envelope(d)) forward_envelope(slot, *e, d, bufs, n, now);
            continue;
        }
        if (ulen > kMaxFrame) continue;
        const Route route = fwd_.route({d.data(), ulen}, static_cast<PortId>(slot), now);
        if (route.kind == Route::kUnicast) {
            if (route.port == kHostPort)
                to_host(d.data(), ulen, bufs, n);
            else
                send_to(route.port, d.data(), ulen);
        } else if (route.kind == Route::kFlood) {
            flood(slot, d.data(), ulen);
            to_host(d.data(), ulen, bufs, n);
        }
    }
}

void SwitchTransport::drain_data(std::size_t slot, std::span<FrameBuf> bufs, std::size_t& n,
                                 std::int64_t now) noexcept {
    if (ports_[slot].whole) {
        drain_whole(slot, bufs, n, now);
        return;
    }
    using Take = DgramBatch::Take;
    // An error ends the drain and is consumed by the call.
    n += batch_.recv(
                   ports_[slot].data.get(), bufs.subspan(n),
                   [&](std::span<const std::byte> d) {
                       if (d.size() < kMinFrame) return Take::consumed;
                       if (wire::whole::is_hello(d)) {
                           client_hello(slot, d);  // from the next call on, drain_whole() reads this port
                           return Take::consumed;
                       }
                       if (wire::whole::is_envelope(d)) return Take::consumed;  // not asked for yet
                       const Route route = fwd_.route(d, static_cast<PortId>(slot), now);
                       switch (route.kind) {
                       case Route::kDrop: return Take::consumed;
                       case Route::kUnicast:
                           if (route.port == kHostPort) return Take::frame;
                           send_to(route.port, d.data(), d.size());
                           return Take::consumed;
                       case Route::kFlood: flood(slot, d.data(), d.size()); return Take::frame;
                       }
                       return Take::consumed;
                   },
                   [](std::size_t, std::size_t) { return false; }, kDataRounds)
             .n;
}

void SwitchTransport::serve_handshakes() noexcept {
    std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
    if (!lk.owns_lock()) return;  // the servicing thread is in recv/send: it will answer
    const std::int64_t ms = mono_ms();
    if (!listen_paused_) accept_clients(ms);
    for (std::size_t i = 1; i < ports_.size() && pending_ > 0; i++)
        if (ports_[i].state == State::kPending) read_request(i);
}

ssize_t SwitchTransport::recv(std::span<FrameBuf> bufs) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    const int ne = ::epoll_wait(epfd_raw_, events_.data(), static_cast<int>(events_.size()), 0);
    if (ne <= 0) return 0;  // nothing (or EINTR): the set stays readable if something is left
    const std::int64_t ms = mono_ms();
    const std::int64_t now = ms / 1000;
    std::size_t n = 0;
    for (int e = 0; e < ne; e++) {
        const std::uint64_t tag = events_[static_cast<std::size_t>(e)].data.u64;
        const std::uint32_t flags = events_[static_cast<std::size_t>(e)].events;
        const auto kind = static_cast<Tag>(tag & 0xf);
        const std::size_t slot = static_cast<std::size_t>((tag >> 4) & 0xfffffff);
        const auto gen = static_cast<std::uint32_t>(tag >> 32);
        switch (kind) {
        case kTagListen: accept_clients(ms); break;
        case kTagTimer: {
            std::uint64_t ticks = 0;
            (void)!::read(timer_.get(), &ticks, sizeof ticks);
            sweep(ms);
            break;
        }
        case kTagCtl:
        case kTagData: {
            if (slot == 0 || slot >= ports_.size()) break;
            Port& p = ports_[slot];
            if (p.gen != gen || p.state == State::kFree) break;  // removed earlier in this batch
            if (kind == kTagCtl) {
                if (p.state == State::kPending)
                    read_request(slot);
                else
                    ctl_event(slot, flags);
            } else if (n < bufs.size()) {
                drain_data(slot, bufs, n, now);  // else: left readable for the next call
            }
            break;
        }
        }
    }
    return static_cast<ssize_t>(n);
}

ssize_t SwitchTransport::send(std::span<const FrameRef> frames) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    const std::int64_t now = mono_ms() / 1000;
    for (const FrameRef& f : frames) {
        if (f.data == nullptr || f.len < kMinFrame) continue;
        const Route route = fwd_.route({f.data, f.len}, kHostPort, now);
        if (route.kind == Route::kUnicast)
            send_to(route.port, f.data, f.len);
        else if (route.kind == Route::kFlood)
            flood(kHostPort, f.data, f.len);
    }
    return static_cast<ssize_t>(frames.size());
}

std::unique_ptr<Transport> open_node(std::string_view vnl, std::string_view rest, NodeKind kind) {
    const Config c = parse_config(vnl, rest);
    return std::make_unique<SwitchTransport>(std::string(vnl), c, kind);
}

}  // namespace

bool serve_local_handshakes(dev_t ctl_dev, ino_t ctl_ino) noexcept {
    std::lock_guard<std::mutex> lk(g_nodes_mu);
    for (SwitchTransport* node : g_nodes) {
        if (node->serves(ctl_dev, ctl_ino)) {
            node->serve_handshakes();
            return true;
        }
    }
    return false;
}

std::unique_ptr<Transport> open_switch(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    return open_node(vnl, rest, NodeKind::kSwitch);
}

std::unique_ptr<Transport> open_hub(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    return open_node(vnl, rest, NodeKind::kHub);
}

}  // namespace vdestack::plug
