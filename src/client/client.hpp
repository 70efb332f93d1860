// client.hpp - the library side of a stack: a handle on a stack held by the
// process's namespace helper (helper.hpp), reached through the channel.
//
// Theory of operation
// -------------------
// A process has at most one live helper ("HelperConn"), spawned by the first
// stack it creates. When its last stack is deleted it lingers for
// Tuning::linger_ms (VDESTACK_HELPER_LINGER_MS, 50 ms): a stack made
// meanwhile reuses it (a lone stack's add+delete cycle then costs no spawn:
// ~0.7 ms instead of ~2.3 ms here), and then a short-lived thread of ours
// shuts it down and reaps it (client.cpp, linger()). So the last vde_delstack
// returns without waiting for the helper's exit, and linger_ms later no fd,
// thread or process of ours is left (linger_ms 0: the last vde_delstack does
// it all before it returns, as before). A program's own wait() may meet the
// helper meanwhile. Each StackCore holds a shared_ptr to its HelperConn.
// A stack's deletion is a DelStack posted with no reply socket: nothing is
// awaited (the helper releases a stack after answering anyway, so the
// answer only said that the request was read; the channel keeps requests
// in order, so the next one finds the stack gone). ~30 us, not ~70.
//
// A new helper's exec takes 1-2 ms here. When it will share our user
// namespace (Tuning::helper_userns: a root program), the calling thread makes
// the first stack's network namespace and tap meanwhile (unshare, tap, setns
// back: ~0.7 ms) and sends them with AddStack before the helper's Hello
// comes (the helper finds the request waiting): the helper only opens the
// transport. So a fresh program's first stack costs about the exec, not
// exec + namespace + tap + a round trip. (Unprivileged, the AddStack alone
// goes ahead of the Hello.)
// Later stacks find the helper up, which makes their namespaces itself while
// it opens their transports.
//
// With Tuning::helper_in_thread (the default for a root program needing no
// user namespace; VDESTACK_HELPER_THREAD=0 turns it off) the helper is not
// spawned but run as a thread of this process (helper::helper_main(fd,
// Host::kThread), every signal blocked) on the same kind of channel: no
// exec, no second process. A fresh program's lone stack then costs ~1.1 ms
// instead of ~2.4 (the namespace and tap, on the caller as above, and the
// transport), and 7 fds. What it gives up against a helper process: the
// stacks live while the program does, not while a forked child still holds
// them (the reference library's semantics); a program killed by SIGKILL
// leaves a switch:// stack's socket files behind (nobody is left to remove
// them); and its stacks' fds count against the program's fd limit (a
// request whose reply socket the helper had no room for fails with EMFILE).
// A lingering helper is taken back only if the environment still gives
// the settings it started with (Tuning ==); else it goes, and a new one
// starts.
//
// fork(): a fork handler gives the child a helper connection of its own,
// attached before fork() returns and holding the same stacks: a stack lives
// until every process holding it has deleted it or died. So the parent's
// vde_delstack does not take the network away from the child's sockets, and
// the child's vde_delstack releases only the child's reference (as with
// libvdestack 0.1.2, the creator's stack lives on). Requests carry their own
// reply socket, so vde_msocket/vde_stackcmd in the child return fds of the
// child's table. A stack created in the child spawns the child's own helper.
//
// Sockets: msocket() asks the helper (one request, ~100 us on a VM: three
// wake-ups), unless the program is privileged (euid 0 and
// Tuning::direct_sockets, VDESTACK_DIRECT_SOCKETS): then the calling thread
// makes the socket itself, setns into the stack's namespace and back to the
// one it was in (/proc/thread-self/ns/net, opened each time: a thread may
// have moved; ~15 us). The stack's namespace fd -- the one made here, or
// from the helper at the first socket -- is kept with the StackCore (for at most 256 stacks of a
// process; the others ask the helper). Unprivileged programs cannot: setns
// needs CAP_SYS_ADMIN in the caller's own user namespace too. A helper that
// is gone is still EPIPE (a poll of the channel first).
//
// Thread-safety: all members are safe to call concurrently; the channel is a
// SEQPACKET socket (each request one atomic message) and every request has a
// private reply socket.
#pragma once

#include "base/tuning.hpp"
#include "client/netconf.hpp"
#include "vdestack/stack.hpp"

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace vde::detail {

class HelperConn;

class StackCore {
public:
    // Creates a stack (spawning the helper if needed). Throws Error whose
    // message starts with "vde_addstack(<vnl>)".
    StackCore(std::string_view vnl, std::string_view ifname);
    ~StackCore();
    StackCore(const StackCore&) = delete;
    StackCore& operator=(const StackCore&) = delete;

    // socket(2) in the stack. Returns the fd or -errno (never throws).
    int msocket(int domain, int type, int protocol) noexcept;
    // socket(2) made by the calling thread inside the stack (setns there and
    // back), when the program may: kNotDirect when not (then ask the helper).
    static constexpr int kNotDirect = -100000;
    int direct_socket(int domain, int type, int protocol) noexcept;
    // n sockets at once (kMaxSocketBatch a request), appended to out: 0 or
    // -errno (those made before a failure stay in out).
    int msockets(int domain, int type, int protocol, std::size_t n, std::vector<vde::UniqueFd>& out) noexcept;
    // vde_stackcmd semantics; -errno when the helper cannot be reached.
    int stackcmd(std::string_view commands) noexcept;
    // The errno that killed the stack's link to its network (0 while it
    // works); -errno when the helper cannot be reached.
    int link_error() noexcept;
    // Freezes (on) or thaws the stack's forwarding (Engine::freeze): 0, or
    // -errno when the helper cannot be reached.
    int freeze(bool on) noexcept;
    // One more interface `ifname` in the stack, joined to `vnl`. Throws Error
    // ("vde_addstack(<vnl>): ...": EINVAL for a bad name, the transport's
    // errors, EEXIST for a name in use).
    void add_interface(std::string_view vnl, std::string_view ifname);

    // What the helper answered to a configuration request: rval (a mask of
    // Source bits, 1/0 for a resolv.conf query, or -1), err and the text.
    struct ConfAnswer {
        int rval = -1;
        int err = 0;
        std::string text;
    };
    // ioth_config(config) carried out by the helper (helper/conf_service.hpp).
    // newstackc: stack= and vnl= are allowed (ioth_newstackc's string).
    ConfAnswer configure(std::string_view config, bool newstackc = false) noexcept;
    // what 0: the resolv.conf of the interface; 1: its DHCPv4 lease; 2: its DHCPv6 lease.
    ConfAnswer conf_query(int what, std::string_view iface, unsigned ifindex) noexcept;

    // The stack's interfaces with their VNLs: its own (ifname(), vnl())
    // first, then those add_interface() added.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> interfaces() const;

    [[nodiscard]] const std::string& vnl() const noexcept { return vnl_; }
    [[nodiscard]] const std::string& ifname() const noexcept { return ifname_; }

private:
    // Takes one of the kMaxDirect places for a stack's namespace fd; false
    // (and never again for this stack: direct_ -1) when all are taken.
    bool reserve_direct() noexcept;
    // Keeps `ns`, the stack's namespace, for direct sockets (a place reserved).
    void keep_netns(vde::UniqueFd ns) noexcept;

    std::shared_ptr<HelperConn> conn_;
    std::uint64_t id_ = 0;
    std::string vnl_;
    std::string ifname_;
    mutable std::mutex mu_;  // guards extra_, the fetch of netns_
    std::vector<std::pair<std::string, std::string>> extra_;  // (ifname, VNL) of add_interface
    std::atomic<int> direct_{0};  // direct_socket(): 0 not tried yet, 1 netns_ is set, -1 not permitted
    vde::UniqueFd netns_;          // the stack's network namespace (direct sockets only)
};

// Where the helper binary is looked for: Tuning::helper ($VDESTACK_HELPER)
// alone when set, else next to the library file,
// <libdir>/../libexec/vdestack/ (and ../../libexec/vdestack/ for the ioth
// plugin in <libdir>/ioth/), then the configured install directory.
// Returns "" if none is executable.
std::string find_helper(const vdestack::Tuning& t);

// socket(2) in the stack `core` (a StackCore*): the fd, or -1 with errno.
int stack_socket(void* core, int domain, int type, int protocol) noexcept;
// A NetConf whose netlink sockets are made inside the stack and whose errors
// name the VNL. Throws Error(EBADF) for a null core (a moved-from stack).
vdestack::client::NetConf netconf_of(StackCore* core, const std::string& vnl);

// What the library's C shims reach beyond the public vde::Stack API.
struct StackAccess {
    // Stack::configure(), or ioth_newstackc's string (stack= and vnl=
    // allowed) when newstackc. Throws as Stack::configure.
    static Stack::ConfigResult configure(Stack& s, std::string_view config, bool newstackc);
    // Freezes or thaws the stack's forwarding (for a move). Throws Error.
    static void freeze(Stack& s, bool on);
    // Stack::restore(); with `sockets`, ENOSPC (before anything is made)
    // when the image holds another number of sockets.
    static Restored restore(int fd, std::string_view vnl, std::optional<std::size_t> sockets);
    // Stack::resolvconf(), or, with ifname "", of interface ifindex.
    static std::optional<std::string> resolvconf(Stack& s, std::string_view ifname, unsigned ifindex);
};

}  // namespace vde::detail
