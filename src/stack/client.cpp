// client.cpp - the library side of stacks (see client.hpp).
#include "stack/client.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "stack/proto.hpp"
#include "util/error.hpp"
#include "util/scm.hpp"

extern char** environ;

namespace vde::detail {

using vdestack::UniqueFd;
using vdestack::fail;
using vdestack::fail_errno;
using vdestack::send_with_fds;
using vdestack::recv_with_fds;
namespace proto = vdestack::proto;

namespace {

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

std::string find_helper() {
    if (const char* env = ::getenv("VDESTACK_HELPER"); env != nullptr && *env != '\0')
        return executable(env) ? std::string(env) : std::string();
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&find_helper), &info) != 0 && info.dli_fname != nullptr) {
        std::string dir = dir_of(info.dli_fname);
        for (const std::string& p : {dir + "/vdestack-helper", dir + "/../libexec/vdestack/vdestack-helper"})
            if (executable(p)) return p;
    }
    std::string installed = std::string(VDESTACK_HELPER_INSTALL_DIR) + "/vdestack-helper";
    return executable(installed) ? installed : std::string();
}

// One helper process and the channel to it.
class HelperConn {
public:
    // Spawns the helper and waits for its Hello. Throws Error.
    HelperConn() : owner_(::getpid()) {
        std::string path = find_helper();
        if (path.empty()) fail(ENOENT, "cannot find vdestack-helper (set VDESTACK_HELPER or reinstall)");
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail_errno("socketpair");
        chan_.reset(sv[0]);
        UniqueFd theirs(sv[1]);

        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, theirs.get(), proto::kChannelFd);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setpgroup(&attr, 0);  // terminal signals are for the program, not for us
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        char* argv[] = {const_cast<char*>("vdestack-helper"), nullptr};
        int rc = ::posix_spawn(&pid_, path.c_str(), &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) fail(rc, "posix_spawn(" + path + ")");
        theirs.reset();

        proto::Hello hello;
        pollfd p{chan_.get(), POLLIN, 0};
        int pr;
        while ((pr = ::poll(&p, 1, 10000)) < 0 && errno == EINTR) {
        }
        ssize_t n = pr > 0 ? ::recv(chan_.get(), &hello, sizeof hello, 0) : -1;
        if (n != static_cast<ssize_t>(sizeof hello) || hello.magic != proto::kMagic ||
            hello.version != proto::kVersion) {
            reap(true);
            fail(EPROTO, "vdestack-helper (" + path + ") did not start");
        }
        if (hello.err != 0) {
            reap(false);
            hello.message[sizeof hello.message - 1] = '\0';
            fail(hello.err, std::string("vdestack-helper: ") + hello.message);
        }
    }

    HelperConn(const HelperConn&) = delete;
    HelperConn& operator=(const HelperConn&) = delete;

    ~HelperConn() {
        if (::getpid() != owner_) return;  // a forked child: its copy of the channel closes, that's all
        if (!dead_) {
            proto::Request req;
            req.op = proto::Op::Shutdown;
            UniqueFd none;
            (void)call(req, {}, {}, none);
        }
        chan_.reset();
        reap(false);
    }

    [[nodiscard]] pid_t owner() const noexcept { return owner_; }
    // True once the helper was seen gone (killed, crashed): new stacks then
    // get a new helper; requests on this one fail with EPIPE.
    [[nodiscard]] bool dead() const noexcept { return dead_.load(); }

    // Sends one request and waits for its reply. Returns the Reply (rval -1
    // and err set on any failure, message in `msg`); a passed fd goes to out_fd.
    proto::Reply call(proto::Request req, std::string_view s1, std::string_view s2, UniqueFd& out_fd,
                      std::string* msg = nullptr, std::span<const int> extra_fds = {},
                      bool cloexec = true) noexcept {
        proto::Reply bad;
        bad.rval = -1;
        try {
            req.len1 = static_cast<std::uint32_t>(s1.size());
            req.len2 = static_cast<std::uint32_t>(s2.size());
            if (sizeof req + s1.size() + s2.size() > proto::kMaxRequest) {
                bad.err = E2BIG;
                return bad;
            }
            std::vector<std::byte> bytes(sizeof req + s1.size() + s2.size());
            std::memcpy(bytes.data(), &req, sizeof req);
            std::memcpy(bytes.data() + sizeof req, s1.data(), s1.size());
            std::memcpy(bytes.data() + sizeof req + s1.size(), s2.data(), s2.size());
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
                bad.err = errno;
                return bad;
            }
            UniqueFd mine(sv[0]), theirs(sv[1]);
            std::array<int, 4> fds{theirs.get(), -1, -1, -1};
            std::size_t nfds = 1;
            for (int fd : extra_fds) fds[nfds++] = fd;
            ssize_t sent = send_with_fds(chan_.get(), bytes, std::span<const int>(fds.data(), nfds));
            if (sent < 0) {
                bad.err = static_cast<int>(-sent);
                if (bad.err == EPIPE || bad.err == ECONNRESET || bad.err == ECONNREFUSED || bad.err == ENOTCONN) {
                    bad.err = EPIPE;
                    dead_ = true;
                }
                if (msg) *msg = "the stack's helper process is gone";
                return bad;
            }
            theirs.reset();
            std::vector<std::byte> rbuf(sizeof(proto::Reply) + proto::kMaxMessage);
            std::vector<UniqueFd> got;
            ssize_t n = recv_with_fds(mine.get(), rbuf, got, 1, cloexec);
            if (n < static_cast<ssize_t>(sizeof(proto::Reply))) {
                bad.err = n < 0 ? static_cast<int>(-n) : EPIPE;
                if (n == 0 && req.op != proto::Op::Shutdown) dead_ = true;
                if (msg) *msg = "the stack's helper process is gone";
                return bad;
            }
            proto::Reply r;
            std::memcpy(&r, rbuf.data(), sizeof r);
            std::size_t len = std::min<std::size_t>(r.msglen, static_cast<std::size_t>(n) - sizeof r);
            if (msg) msg->assign(reinterpret_cast<const char*>(rbuf.data()) + sizeof r, len);
            if (!got.empty()) out_fd = std::move(got[0]);
            return r;
        } catch (...) {
            bad.err = ENOMEM;
            return bad;
        }
    }

private:
    void reap(bool kill_it) {
        if (pid_ <= 0) return;
        if (kill_it) ::kill(pid_, SIGKILL);
        // The helper exits on Shutdown/EOF at once; ECHILD if the program reaped it itself.
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    pid_t owner_;
    pid_t pid_ = -1;
    std::atomic<bool> dead_{false};
    UniqueFd chan_;
};

namespace {
std::mutex g_mu;
std::weak_ptr<HelperConn> g_conn;  // the helper of this process, while it has stacks

std::shared_ptr<HelperConn> current_helper() {
    std::lock_guard lk(g_mu);
    auto c = g_conn.lock();
    if (!c || c->owner() != ::getpid() || c->dead()) {
        c = std::make_shared<HelperConn>();
        g_conn = c;
    }
    return c;
}
}  // namespace

StackCore::StackCore(std::string_view vnl, std::string_view ifname)
    : creator_(::getpid()), vnl_(vnl), ifname_(ifname) {
    std::string ctx = "vde_addstack(" + vnl_ + ")";
    try {
        conn_ = current_helper();
    } catch (const Error& e) {
        throw Error(e.errno_value(), ctx + ": " + e.what());
    }
    proto::Request req;
    req.op = proto::Op::AddStack;
    UniqueFd none;
    std::string msg;
    proto::Reply r = conn_->call(req, vnl_, ifname_, none, &msg);
    if (r.rval < 0) throw Error(r.err, ctx + (msg.empty() ? "" : ": " + msg));
    id_ = r.stack;
}

StackCore::~StackCore() {
    if (::getpid() != creator_) return;  // inherited handle: the creator's stack lives on
    proto::Request req;
    req.op = proto::Op::DelStack;
    req.stack = id_;
    UniqueFd none;
    (void)conn_->call(req, {}, {}, none);
    // conn_ goes with us; the last stack's release shuts the helper down.
}

int StackCore::msocket(int domain, int type, int protocol) noexcept {
    proto::Request req;
    req.op = proto::Op::MSocket;
    req.stack = id_;
    req.domain = domain;
    req.type = type;
    req.protocol = protocol;
    UniqueFd fd;
    proto::Reply r = conn_->call(req, {}, {}, fd, nullptr, {}, (type & SOCK_CLOEXEC) != 0);
    if (r.rval < 0) return -(r.err != 0 ? r.err : EIO);
    if (!fd) return -EPROTO;
    return fd.release();
}

int StackCore::stackcmd(std::string_view commands) noexcept {
    proto::Request req;
    req.op = proto::Op::StackCmd;
    req.stack = id_;
    std::array<int, 3> stdio{};
    std::size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (::fcntl(i, F_GETFD) >= 0) {
            req.flags |= 1U << i;
            stdio[n++] = i;
        }
    }
    UniqueFd none;
    proto::Reply r = conn_->call(req, commands, {}, none, nullptr, std::span<const int>(stdio.data(), n));
    if (r.rval < 0) return -(r.err != 0 ? r.err : EIO);
    return r.rval;
}

}  // namespace vde::detail
