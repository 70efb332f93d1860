// client.cpp - the library side of stacks (see client.hpp).
#include "client/client.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <vector>

#include "wire/helper_proto.hpp"
#include "base/error.hpp"
#include "base/tuning.hpp"
#include "base/scm.hpp"
#include "base/thread_name.hpp"
#include "device/tap_device.hpp"
#include "helper/helper.hpp"

extern char** environ;

namespace vde::detail {

using vdestack::UniqueFd;
using vdestack::fail;
using vdestack::fail_errno;
using vdestack::send_with_fds;
using vdestack::recv_with_fds;
namespace proto = vdestack::wire::proto;

namespace {

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

std::string find_helper(const vdestack::Tuning& t) {
    if (!t.helper.empty()) return executable(t.helper) ? t.helper : std::string();
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&dir_of), &info) != 0 && info.dli_fname != nullptr) {
        std::string dir = dir_of(info.dli_fname);
        // <libdir>/ioth/ioth_vdestack.so looks one level further up.
        for (const std::string& p : {dir + "/vdestack-helper", dir + "/../libexec/vdestack/vdestack-helper",
                                     dir + "/../../libexec/vdestack/vdestack-helper"})
            if (executable(p)) return p;
    }
    std::string installed = std::string(VDESTACK_HELPER_INSTALL_DIR) + "/vdestack-helper";
    return executable(installed) ? installed : std::string();
}

// Every signal blocked on the calling thread for its scope: a thread started
// meanwhile inherits the full mask (the program's signals are not for the
// library's threads).
class SignalsBlocked {
public:
    SignalsBlocked() noexcept {
        sigset_t all;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &old_);
    }
    ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    SignalsBlocked(const SignalsBlocked&) = delete;
    SignalsBlocked& operator=(const SignalsBlocked&) = delete;

private:
    sigset_t old_;
};

class HelperConn;
void register_conn(HelperConn* c);
void unregister_conn(HelperConn* c) noexcept;

// One helper process and the channel to it.
class HelperConn {
public:
    // Starts the helper (a process, or a thread: Tuning::helper_in_thread)
    // and waits for its Hello. Meanwhile it runs
    // `while_it_starts` (noexcept: see StackCore) with this connection --
    // requests may be sent already: the helper reads them after its Hello --
    // and the settings the helper will read too. Throws Error.
    HelperConn(vdestack::Tuning settings,
               const std::function<void(HelperConn&, const vdestack::Tuning&)>& while_it_starts)
        : owner_(::getpid()), tuning_(std::move(settings)) {
        const vdestack::Tuning& tuning = tuning_;
        // Only a privileged program may enter its stacks' namespaces
        // (setns needs CAP_SYS_ADMIN in its own user namespace too).
        direct_sockets_ = tuning.direct_sockets && ::geteuid() == 0;
        linger_ = std::chrono::milliseconds(tuning.linger_ms);
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail_errno("socketpair");
        chan_.reset(sv[0]);
        UniqueFd theirs(sv[1]);
        std::string path;
        if (tuning.helper_in_thread()) {
            path = "the helper thread";
            start_thread(std::move(theirs));
        } else {
            path = find_helper(tuning);
            if (path.empty()) fail(ENOENT, "cannot find vdestack-helper (set VDESTACK_HELPER or reinstall)");
            spawn(path, theirs);
        }
        while_it_starts(*this, tuning);  // a new process's exec takes ~1-2 ms

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
        register_conn(this);
    }

    HelperConn(const HelperConn&) = delete;
    HelperConn& operator=(const HelperConn&) = delete;

    ~HelperConn() {
        unregister_conn(this);
        // A forked child: closing its own connection releases what it held.
        if (::getpid() != owner_) return;
        bool exiting = true;
        if (!dead_) {
            proto::Request req;
            req.op = proto::Op::Shutdown;
            UniqueFd none;
            proto::Reply r = call(req, {}, {}, none);
            // 0: a forked child still holds stacks here; the helper lives on
            // for it (and the kernel tells us when it exits).
            exiting = r.rval != 0;
        }
        chan_.reset();
        if (exiting)
            reap(false);
        else if (threaded_)
            ::pthread_detach(thread_);  // it serves the forked child until the program exits
    }

    // ---- fork support (see the fork handlers below) ----
    // Before fork: a new connection for the child, attached to the helper
    // with the stacks this process holds. Returns false if it could not be made.
    bool prepare_fork() noexcept {
        fork_fd_ = -1;
        if (dead_ || stacks_.load() == 0) return false;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return false;
        proto::Request req;
        req.op = proto::Op::Attach;
        UniqueFd none;
        std::array<int, 1> extra{sv[1]};
        proto::Reply r = call(req, {}, {}, none, nullptr, extra);
        ::close(sv[1]);
        if (r.rval < 0) {
            ::close(sv[0]);
            return false;
        }
        fork_fd_ = sv[0];
        return true;
    }
    // In the parent after fork: the child's end is not ours.
    void parent_after_fork() noexcept {
        if (fork_fd_ >= 0) ::close(fork_fd_);
        fork_fd_ = -1;
    }
    // In the child: its own connection replaces the inherited channel (same fd number).
    void child_after_fork() noexcept {
        if (fork_fd_ >= 0) {
            ::dup3(fork_fd_, chan_.get(), O_CLOEXEC);
            ::close(fork_fd_);
        }
        fork_fd_ = -1;
    }
    void stack_added() noexcept { stacks_++; }
    // Returns how many stacks of this process are left on the helper.
    int stack_removed() noexcept { return --stacks_; }
    // How long the helper outlives its last stack (Tuning::linger_ms).
    [[nodiscard]] std::chrono::milliseconds linger() const noexcept { return linger_; }
    // The settings it was started with (the environment's at the time).
    [[nodiscard]] const vdestack::Tuning& tuning() const noexcept { return tuning_; }

    [[nodiscard]] pid_t owner() const noexcept { return owner_; }
    // True once the helper was seen gone (killed, crashed): new stacks then
    // get a new helper; requests on this one fail with EPIPE.
    [[nodiscard]] bool dead() const noexcept { return dead_.load(); }
    // Whether stacks may make their sockets themselves (StackCore::msocket).
    [[nodiscard]] bool direct_sockets() const noexcept { return direct_sockets_; }
    // False once the helper is gone (its end of the channel hung up): a
    // poll, no request.
    [[nodiscard]] bool alive() noexcept {
        if (dead_.load()) return false;
        pollfd p{chan_.get(), 0, 0};
        if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0) dead_ = true;
        return !dead_.load();
    }

    // Sends one request that wants no answer (DelStack), with no reply
    // socket; a helper found gone is marked dead, as in call().
    void post(const proto::Request& req) noexcept {
        const auto* bytes = reinterpret_cast<const std::byte*>(&req);
        const ssize_t sent = send_with_fds(chan_.get(), std::span<const std::byte>(bytes, sizeof req), {});
        if (sent < 0 && gone(static_cast<int>(-sent))) dead_ = true;
    }

    // A request on its way: its answer comes on `reply`; without one it
    // could not be sent, and `failed` says why.
    struct Sent {
        UniqueFd reply;
        proto::Op op{};
        proto::Reply failed;
        bool send_failed = false;  // the channel refused it ("the helper is gone")
    };

    // Sends one request (with extra_fds after its reply socket); never throws.
    Sent send_request(proto::Request req, std::string_view s1, std::string_view s2,
                      std::span<const int> extra_fds = {}) noexcept {
        Sent out;
        out.op = req.op;
        out.failed.rval = -1;
        try {
            req.len1 = static_cast<std::uint32_t>(s1.size());
            req.len2 = static_cast<std::uint32_t>(s2.size());
            if (sizeof req + s1.size() + s2.size() > proto::kMaxRequest) {
                out.failed.err = E2BIG;
                return out;
            }
            std::vector<std::byte> bytes(sizeof req + s1.size() + s2.size());
            std::memcpy(bytes.data(), &req, sizeof req);
            // (std::copy: an empty string_view may have a null data(), which memcpy must not get)
            std::copy(s1.begin(), s1.end(), reinterpret_cast<char*>(bytes.data() + sizeof req));
            std::copy(s2.begin(), s2.end(), reinterpret_cast<char*>(bytes.data() + sizeof req + s1.size()));
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
                out.failed.err = errno;
                return out;
            }
            UniqueFd mine(sv[0]), theirs(sv[1]);
            std::array<int, 4> fds{theirs.get(), -1, -1, -1};
            std::size_t nfds = 1;
            for (int fd : extra_fds) fds[nfds++] = fd;
            ssize_t sent = send_with_fds(chan_.get(), bytes, std::span<const int>(fds.data(), nfds));
            if (sent < 0) {
                out.failed.err = static_cast<int>(-sent);
                if (gone(out.failed.err)) {
                    out.failed.err = EPIPE;
                    dead_ = true;
                }
                out.send_failed = true;
                return out;
            }
            out.reply = std::move(mine);
        } catch (...) {
            out.failed.err = ENOMEM;
        }
        return out;
    }

    // Waits for the answer to `sent`. Returns the Reply (rval -1 and err set
    // on any failure, message in `msg`); a passed fd goes to out_fd, or every
    // fd it carries (a batch of sockets) to all_fds when given.
    proto::Reply await(Sent& sent, UniqueFd& out_fd, std::string* msg = nullptr, bool cloexec = true,
                       std::vector<UniqueFd>* all_fds = nullptr) noexcept {
        proto::Reply bad = sent.failed;
        if (!sent.reply) {
            if (msg && sent.send_failed) *msg = "the stack's helper process is gone";
            return bad;
        }
        try {
            std::vector<std::byte> rbuf(sizeof(proto::Reply) + proto::kMaxMessage);
            std::vector<UniqueFd> got;
            ssize_t n = recv_with_fds(sent.reply.get(), rbuf, got, all_fds != nullptr ? proto::kMaxSocketBatch : 1, cloexec);
            if (n < static_cast<ssize_t>(sizeof(proto::Reply))) {
                bad.err = n < 0 ? static_cast<int>(-n) : EPIPE;
                // alive() marks a helper whose end of the channel hung up dead.
                if (n == 0 && sent.op != proto::Op::Shutdown && alive()) {
                    // The helper lives but could not take the request's
                    // reply socket (the kernel drops passed fds the receiver
                    // has no room for: a helper thread shares the program's
                    // fd limit) and dropped the request.
                    bad.err = EMFILE;
                    if (msg) *msg = "the stack's helper had no fd left for the request";
                    return bad;
                }
                if (msg) *msg = "the stack's helper process is gone";
                return bad;
            }
            proto::Reply r;
            std::memcpy(&r, rbuf.data(), sizeof r);
            std::size_t len = std::min<std::size_t>(r.msglen, static_cast<std::size_t>(n) - sizeof r);
            if (msg) msg->assign(reinterpret_cast<const char*>(rbuf.data()) + sizeof r, len);
            if (all_fds != nullptr)
                *all_fds = std::move(got);
            else if (!got.empty())
                out_fd = std::move(got[0]);
            return r;
        } catch (...) {
            bad.err = ENOMEM;
            return bad;
        }
    }

    // Sends one request and waits for its reply (send_request, then await).
    proto::Reply call(const proto::Request& req, std::string_view s1, std::string_view s2, UniqueFd& out_fd,
                      std::string* msg = nullptr, std::span<const int> extra_fds = {}, bool cloexec = true,
                      std::vector<UniqueFd>* all_fds = nullptr) noexcept {
        Sent sent = send_request(req, s1, s2, extra_fds);
        return await(sent, out_fd, msg, cloexec, all_fds);
    }

private:
    // Whether a send's errno says the helper's end of the channel is gone.
    static bool gone(int err) noexcept {
        return err == EPIPE || err == ECONNRESET || err == ECONNREFUSED || err == ENOTCONN;
    }

    // Starts the helper process on `theirs` (its fd 0, stdout and stderr /dev/null).
    void spawn(const std::string& path, UniqueFd& theirs) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&fa, theirs.get(), proto::kChannelFd);  // first: theirs may be 1 or 2
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
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
    }

    // Starts the helper as a thread of this process (Tuning::helper_in_thread),
    // every signal blocked: the program's signals are not for it.
    // It takes this connection's settings (copied before its Hello, while
    // the constructor waits for it) and its end of the channel.
    void start_thread(UniqueFd theirs) {
        thread_channel_ = theirs.release();
        int rc;
        {
            SignalsBlocked blocked;
            rc = ::pthread_create(
                &thread_, nullptr,
                [](void* arg) -> void* {
                    vdestack::name_this_thread("vds-helper");
                    const auto* self = static_cast<const HelperConn*>(arg);
                    (void)vdestack::helper::helper_main(self->thread_channel_, self->tuning_,
                                                        vdestack::helper::Host::kThread);
                    return nullptr;
                },
                this);
        }
        if (rc != 0) {
            ::close(thread_channel_);
            fail(rc, "pthread_create(the helper thread)");
        }
        threaded_ = true;
    }

    void reap(bool kill_it) {
        if (threaded_) {
            // It ends on EOF on the channel (or after its Shutdown).
            chan_.reset();
            ::pthread_join(thread_, nullptr);
            threaded_ = false;
            return;
        }
        if (pid_ <= 0) return;
        if (kill_it) ::kill(pid_, SIGKILL);
        // The helper exits on Shutdown/EOF at once; ECHILD if the program reaped it itself.
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    pid_t owner_;
    pid_t pid_ = -1;        // the helper process, or
    pthread_t thread_{};    // the helper thread (threaded_)
    int thread_channel_ = -1;  // its end of the channel, which it owns from its start
    bool threaded_ = false;
    std::atomic<bool> dead_{false};
    bool direct_sockets_ = false;
    std::chrono::milliseconds linger_{0};
    vdestack::Tuning tuning_;
    std::atomic<int> stacks_{0};  // live StackCores of this process on this helper
    int fork_fd_ = -1;            // between prepare_fork and the after-fork handlers
    UniqueFd chan_;
};

// ---- the process's helper -----------------------------------------------
// slot().conn is the process's helper while anything holds it (its stacks).
// When the last stack goes, the helper lingers for Tuning::linger_ms
// (slot().lingering, a strong reference, until slot().deadline): a stack
// made meanwhile takes it back (no spawn: ~0.6 ms saved on a machine like
// this one, most of a lone stack's cost). One "linger" thread at a time, with
// every signal blocked, sleeps until the latest deadline and then drops the
// reference -- the HelperConn's destructor (Shutdown, reap) runs there, so
// the last vde_delstack does not wait for the helper's exit either. No
// condition variable: the thread is never woken early (a taken helper just
// makes it end at its deadline), and a forked child, which has no such
// thread, finds no waiter state to trip over.
namespace {
struct HelperSlot {
    std::mutex mu;
    std::weak_ptr<HelperConn> conn;
    std::shared_ptr<HelperConn> lingering;
    std::chrono::steady_clock::time_point deadline;
    bool sleeper = false;  // a linger thread runs
};
// Never destroyed: a linger thread may still run while the program exits.
HelperSlot& slot() {
    static auto* s = new HelperSlot;
    return *s;
}

void linger_thread() noexcept {
    vdestack::name_this_thread("vds-linger");
    HelperSlot& s = slot();
    std::unique_lock lk(s.mu);
    for (;;) {
        if (!s.lingering) break;  // taken back by a new stack
        if (std::chrono::steady_clock::now() >= s.deadline) {
            std::shared_ptr<HelperConn> last = std::move(s.lingering);
            s.sleeper = false;
            lk.unlock();
            return;  // `last` goes here: Shutdown and reap, unless a stack holds it again
        }
        const auto until = s.deadline;
        lk.unlock();
        std::this_thread::sleep_until(until);
        lk.lock();
    }
    s.sleeper = false;
}

// c has lost its last stack: it lingers, or (no linger, a forked child's
// connection, a dead helper, no thread to be had) goes with the caller's reference.
void linger(std::shared_ptr<HelperConn> c) noexcept {
    if (c->linger().count() <= 0 || c->owner() != ::getpid() || c->dead()) return;
    HelperSlot& s = slot();
    std::lock_guard lk(s.mu);
    if (s.conn.lock() != c) return;  // no longer the process's helper
    s.lingering = c;
    s.deadline = std::chrono::steady_clock::now() + c->linger();
    if (s.sleeper) return;  // it will see the new deadline
    SignalsBlocked blocked;
    try {
        std::thread(linger_thread).detach();
        s.sleeper = true;
    } catch (...) {
        s.lingering.reset();  // c, still ours, goes with the caller
    }
}
}  // namespace

// ---- fork handlers ----------------------------------------------------------
// Every live HelperConn of the process is in g_conns. Before fork() the
// prepare handler attaches a new helper connection per HelperConn that holds
// stacks, and keeps g_conns_mu (and the helper slot) locked across the fork,
// so that the child sees a consistent list; the child handler swaps each
// inherited channel for its own connection, and drops a lingering helper
// (the parent's, which holds no stack). Thus a forked child holds its own
// references: the parent's vde_delstack no longer takes the network away
// from the child's sockets, and the child's exit (or its own vde_delstack)
// releases them.
namespace {
// Never destroyed, as slot(): a linger thread may unregister while the program exits.
std::mutex& g_conns_mu = *new std::mutex;
std::vector<HelperConn*>& g_conns = *new std::vector<HelperConn*>;

void fork_prepare() {
    slot().mu.lock();  // the order of current_helper(): slot, then g_conns_mu
    g_conns_mu.lock();
    for (HelperConn* c : g_conns) c->prepare_fork();
}
void fork_parent() {
    for (HelperConn* c : g_conns) c->parent_after_fork();
    g_conns_mu.unlock();
    slot().mu.unlock();
}
void fork_child() {
    for (HelperConn* c : g_conns) c->child_after_fork();
    g_conns_mu.unlock();
    HelperSlot& s = slot();
    std::shared_ptr<HelperConn> parents = std::move(s.lingering);
    s.sleeper = false;  // that thread stayed in the parent
    s.mu.unlock();
    // `parents` goes here: in a child its destructor only closes our copy of the channel.
}
}  // namespace

void register_conn(HelperConn* c) {
    static std::once_flag once;
    std::call_once(once, [] { ::pthread_atfork(fork_prepare, fork_parent, fork_child); });
    std::lock_guard lk(g_conns_mu);
    g_conns.push_back(c);
}

void unregister_conn(HelperConn* c) noexcept {
    std::lock_guard lk(g_conns_mu);
    std::erase(g_conns, c);
}

namespace {
// The process's helper; a new one when there is none (then
// `while_it_starts` runs as in HelperConn's constructor).
std::shared_ptr<HelperConn> current_helper(
    const std::function<void(HelperConn&, const vdestack::Tuning&)>& while_it_starts) {
    vdestack::Tuning tuning = vdestack::Tuning::from_env();
    HelperSlot& s = slot();
    std::shared_ptr<HelperConn> stale;  // goes after the lock: its Shutdown waits for the helper
    std::lock_guard lk(s.mu);
    auto c = s.conn.lock();
    // A lingering helper (it holds no stack) is taken back only if the
    // environment still says what it was started with; else it goes now.
    if (s.lingering && !(s.lingering->tuning() == tuning)) stale = std::move(c);
    s.lingering.reset();  // taken back (c holds it), dead or stale: see below
    if (!c || c->owner() != ::getpid() || c->dead()) {
        c = std::make_shared<HelperConn>(std::move(tuning), while_it_starts);
        s.conn = c;
    }
    return c;
}
}  // namespace

namespace {
// Stacks of this process holding their namespace's fd for direct sockets:
// past kMaxDirect, the others ask the helper (a program of 10,000 stacks
// needs no 10,000 more fds).
constexpr int kMaxDirect = 256;
std::atomic<int> g_direct{0};

// The calling thread leaves its network namespace by `leave` (a setns or an
// unshare: true when it left), runs `work` there, and comes back. False
// (errno set) when it could not leave. Coming back cannot fail -- the rights
// that took the thread out bring it back -- and if the kernel refused anyway
// the process would abort rather than go on in the wrong namespace.
template <class Leave, class Work>
bool visit_netns(Leave leave, Work work) noexcept {
    UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home || !leave()) return false;
    work();
    if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
    return true;
}

// A stack's namespace and tap made by the program (StackCore's constructor).
struct MadeHere {
    UniqueFd netns;  // none when the kernel refused
    UniqueFd tap;    // none without a VNL, or when it could not be made: the helper then tries
};

// A new network namespace (~0.5 ms) with tap `ifname` in it when `tap`
// (~0.2 ms): what the helper would do for a stack (helper.cpp, add_stack).
MadeHere new_netns(bool tap, const std::string& ifname, const vdestack::OffloadConfig& offload) noexcept {
    MadeHere m;
    (void)visit_netns([] { return ::unshare(CLONE_NEWNET) == 0; }, [&] {
        m.netns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!m.netns || !tap) return;
        try {
            m.tap = vdestack::device::open_tap_device(ifname, offload);
        } catch (...) {
            // The helper makes it, or says why it cannot.
        }
    });
    return m;
}
}  // namespace

StackCore::StackCore(std::string_view vnl, std::string_view ifname)
    : vnl_(vnl), ifname_(ifname) {
    std::string ctx = "vde_addstack(" + vnl_ + ")";
    // A new helper takes ~1 ms to start: the first stack's namespace is made
    // here meanwhile (where the kernel lets us), not after it by the helper.
    MadeHere made;
    // The AddStack, with what was made here; sent to a new helper before its
    // Hello (it finds the request waiting: no round trip more).
    std::optional<HelperConn::Sent> add;
    auto send_add = [&](HelperConn& c) {
        proto::Request req;
        req.op = proto::Op::AddStack;
        std::array<int, 2> given{made.netns.get(), made.tap.get()};
        std::size_t ngiven = 0;
        if (made.netns) {
            req.flags = proto::kAddStackGivenNetns;
            ngiven = 1;
            if (made.tap) {
                req.flags |= proto::kAddStackGivenTap;
                ngiven = 2;
            }
        }
        add = c.send_request(req, vnl_, ifname_, std::span<const int>(given.data(), ngiven));
    };
    try {
        conn_ = current_helper([&](HelperConn& c, const vdestack::Tuning& t) {
            if (!t.helper_userns()) made = new_netns(!vnl_.empty(), ifname_, t.offload);
            send_add(c);
        });
    } catch (const Error& e) {
        throw Error(e.errno_value(), ctx + ": " + e.what());
    }
    if (!add) send_add(*conn_);  // the helper was up
    UniqueFd none;
    std::string msg;
    proto::Reply r = conn_->await(*add, none, &msg);
    if (r.rval < 0) throw Error(r.err, ctx + (msg.empty() ? "" : ": " + msg));
    id_ = r.stack;
    conn_->stack_added();
    // Kept: no Netns request for the first direct socket.
    if (made.netns && conn_->direct_sockets() && reserve_direct()) keep_netns(std::move(made.netns));
}

bool StackCore::reserve_direct() noexcept {
    if (g_direct.fetch_add(1) < kMaxDirect) return true;
    g_direct.fetch_sub(1);
    direct_.store(-1);
    return false;
}

void StackCore::keep_netns(UniqueFd ns) noexcept {
    netns_ = std::move(ns);
    direct_.store(1, std::memory_order_release);
}

StackCore::~StackCore() {
    if (netns_) g_direct.fetch_sub(1);
    // In a forked child this releases the child's reference only: the stack
    // lives on for the processes that still hold it.
    proto::Request req;
    req.op = proto::Op::DelStack;
    req.stack = id_;
    conn_->post(req);  // no answer awaited: the helper releases it after this anyway
    // The last stack's helper lingers (see linger()), or goes with conn_.
    if (conn_->stack_removed() == 0) linger(std::move(conn_));
}

int StackCore::direct_socket(int domain, int type, int protocol) noexcept {
    if (!conn_->direct_sockets() || direct_.load(std::memory_order_relaxed) < 0) return kNotDirect;
    if (direct_.load(std::memory_order_acquire) == 0) {
        std::lock_guard lk(mu_);
        if (direct_.load() == 0) {  // the first socket: the namespace from the helper
            if (!reserve_direct()) return kNotDirect;  // before asking: no request past kMaxDirect
            proto::Request req;
            req.op = proto::Op::Netns;
            req.stack = id_;
            UniqueFd ns;
            proto::Reply r = conn_->call(req, {}, {}, ns);  // noexcept
            if (r.rval < 0 || !ns) {
                g_direct.fetch_sub(1);
                return kNotDirect;  // the helper says why, on its path
            }
            keep_netns(std::move(ns));
        }
    }
    // Through the helper's path when it is gone (EPIPE, as ever) or when the
    // kernel refuses (then never again for this stack).
    if (!conn_->alive()) return kNotDirect;
    int fd = -1, err = 0;
    if (!visit_netns([this] { return ::setns(netns_.get(), CLONE_NEWNET) == 0; }, [&] {
            fd = static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
            err = errno;
        })) {
        if (errno == EPERM) direct_.store(-1);
        return kNotDirect;
    }
    return fd >= 0 ? fd : -err;
}

namespace {
// An MSocket request for n sockets of stack `id`.
proto::Request socket_request(std::uint64_t id, int domain, int type, int protocol, std::uint32_t n) noexcept {
    proto::Request req;
    req.op = proto::Op::MSocket;
    req.stack = id;
    req.domain = domain;
    req.type = type;
    req.protocol = protocol;
    req.flags = n;
    return req;
}
}  // namespace

int StackCore::msocket(int domain, int type, int protocol) noexcept {
    if (int fd = direct_socket(domain, type, protocol); fd != kNotDirect) return fd;
    const proto::Request req = socket_request(id_, domain, type, protocol, 1);
    UniqueFd fd;
    proto::Reply r = conn_->call(req, {}, {}, fd, nullptr, {}, (type & SOCK_CLOEXEC) != 0);
    if (r.rval < 0) return -(r.err != 0 ? r.err : EIO);
    if (!fd) return -EPROTO;
    return fd.release();
}

int StackCore::msockets(int domain, int type, int protocol, std::size_t n, std::vector<UniqueFd>& out) noexcept {
    try {
        while (n > 0) {
            const proto::Request req = socket_request(
                id_, domain, type, protocol, static_cast<std::uint32_t>(std::min<std::size_t>(n, proto::kMaxSocketBatch)));
            UniqueFd none;
            std::vector<UniqueFd> got;
            proto::Reply r = conn_->call(req, {}, {}, none, nullptr, {}, (type & SOCK_CLOEXEC) != 0, &got);
            if (r.rval < 0) return -(r.err != 0 ? r.err : EIO);
            if (got.empty()) return -EPROTO;
            n -= std::min(n, got.size());  // a helper of another build may give one
            for (auto& s : got) out.push_back(std::move(s));
        }
        return 0;
    } catch (...) {
        return -ENOMEM;
    }
}

void StackCore::add_interface(std::string_view vnl, std::string_view ifname) {
    proto::Request req;
    req.op = proto::Op::AddIface;
    req.stack = id_;
    UniqueFd none;
    std::string msg;
    proto::Reply r = conn_->call(req, vnl, ifname, none, &msg);
    if (r.rval < 0)
        throw Error(r.err != 0 ? r.err : EIO, "vde_addstack(" + std::string(vnl) + ")" + (msg.empty() ? "" : ": " + msg));
    std::lock_guard lk(mu_);
    extra_.emplace_back(std::string(ifname), std::string(vnl));
}

std::vector<std::pair<std::string, std::string>> StackCore::interfaces() const {
    std::vector<std::pair<std::string, std::string>> all{{ifname_, vnl_}};
    std::lock_guard lk(mu_);
    all.insert(all.end(), extra_.begin(), extra_.end());
    return all;
}

StackCore::ConfAnswer StackCore::configure(std::string_view config, bool newstackc) noexcept {
    proto::Request req;
    req.op = proto::Op::Config;
    req.flags = newstackc ? 1 : 0;
    req.stack = id_;
    UniqueFd none;
    ConfAnswer a;
    try {
        proto::Reply r = conn_->call(req, config, {}, none, &a.text);
        a.rval = r.rval;
        a.err = r.err;
    } catch (...) {
        a.err = ENOMEM;
    }
    return a;
}

StackCore::ConfAnswer StackCore::conf_query(int what, std::string_view iface, unsigned ifindex) noexcept {
    proto::Request req;
    req.op = proto::Op::ConfQuery;
    req.stack = id_;
    req.flags = static_cast<std::uint32_t>(what);
    req.domain = static_cast<std::int32_t>(ifindex);
    UniqueFd none;
    ConfAnswer a;
    try {
        proto::Reply r = conn_->call(req, iface, {}, none, &a.text);
        a.rval = r.rval;
        a.err = r.err;
    } catch (...) {
        a.err = ENOMEM;
    }
    return a;
}

int StackCore::freeze(bool on) noexcept {
    proto::Request req;
    req.op = proto::Op::Freeze;
    req.stack = id_;
    req.flags = on ? 1 : 0;
    UniqueFd none;
    try {
        proto::Reply r = conn_->call(req, {}, {}, none);
        return r.rval < 0 ? -(r.err != 0 ? r.err : EIO) : 0;
    } catch (...) {
        return -ENOMEM;
    }
}

int StackCore::link_error() noexcept {
    proto::Request req;
    req.op = proto::Op::Status;
    req.stack = id_;
    UniqueFd none;
    proto::Reply r = conn_->call(req, {}, {}, none);
    if (r.rval < 0) return -(r.err != 0 ? r.err : EIO);
    return r.err;
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
