// command.hpp - starts one command of vde_stackcmd in a stack's network
// namespace, as a child of the helper that the program cannot see.
//
// Theory of operation
// -------------------
// The helper (a process, or a thread of the program: helper.hpp) must not
// block on a command, nor copy its address space to start one: a fork of a
// program with a few MB mapped costs its page tables (~0.1-0.2 ms here) and
// a multithreaded program's fork child may only make async-signal-safe
// calls anyway. So start_command() does what posix_spawn does inside glibc,
// with the steps posix_spawn has no attribute for: clone(CLONE_VM |
// CLONE_VFORK) on a small stack of the caller's -- the child shares the
// helper's memory until its exec, and the calling thread waits that long
// (tens of microseconds) while the others go on -- with no exit signal (the
// program's SIGCHLD handler and wait() never see it) and CLONE_PIDFD (the
// helper's first engine watches the pidfd and reaps the command through
// it). Before its execve the child, with raw system calls only (it runs on
// the helper thread's TLS: no errno, no allocator, no sanitizer hook), enters
// the stack's namespace (setns), resets every signal disposition and
// unblocks every signal, asks for SIGKILL when the helper's thread goes
// (PR_SET_PDEATHSIG), puts the caller's stdio (or /dev/null) on 0-2, closes
// every other fd, gives back the program's fd limit (a helper process raised
// its own), and raises NET_ADMIN, NET_RAW, NET_BIND_SERVICE and
// NET_BROADCAST as ambient capabilities (so that a command of a non-root
// uid keeps them, as libvdestack does). What failed before the exec comes
// back through the shared memory. The clone() called is libc's own, looked
// up in the loaded libc.so.6: a sanitizer runtime interposes one that takes
// every clone for a fork (ThreadSanitizer then refuses new threads).
// Thread-safety: start_command() may run on one thread at a time per
// CommandStack (the child borrows it).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>

#include "base/fd.hpp"

namespace vdestack::helper {

// The stack a command's child runs on until its exec: one per helper (its
// calling thread waits for the exec, so one child at a time uses it). Made
// at the first command, and not zeroed: a helper that runs none (a program
// configured through netlink) maps no page of it.
class CommandStack {
public:
    static constexpr std::size_t kSize = 64 * 1024;
    // Its top (stacks grow down). Throws std::bad_alloc.
    [[nodiscard]] void* top() {
        if (!mem_) mem_.reset(new std::byte[kSize]);  // default-initialized: untouched
        return mem_.get() + kSize;
    }

private:
    std::unique_ptr<std::byte[]> mem_;
};

// What one command's child gets.
struct CommandPlan {
    char* const* argv = nullptr;  // argv[0]: an absolute path; null-terminated
    int netns = -1;               // the stack's namespace
    int stdio[3] = {-1, -1, -1};  // the caller's stdin, stdout, stderr; -1: /dev/null
    rlimit nofile{RLIM_INFINITY, RLIM_INFINITY};  // given back when not infinite
};

// A started command: its pidfd (never a waitable child of the program).
struct StartedCommand {
    UniqueFd pidfd;
    int err = 0;  // nonzero: the child could not enter the namespace (it is reaped, pidfd empty)
};

// Starts plan.argv[0] as described above. Throws Error when no child could
// be made (clone: EAGAIN, ENOMEM; ENOMEM for its stack). A command that cannot be executed exits
// with status 2, as libvdestack's.
StartedCommand start_command(const CommandPlan& plan, CommandStack& stack);

// The command's exit status, once its pidfd is readable (it has ended): its
// exit code, 0 when a signal killed it (as libvdestack 0.1.2). Reaps it.
int reap_command(int pidfd) noexcept;

// Kills a running command and reaps it.
void kill_command(int pidfd) noexcept;

}  // namespace vdestack::helper
