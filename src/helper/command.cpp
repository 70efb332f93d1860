// command.cpp - a vde_stackcmd command's child (see command.hpp).
#include "helper/command.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "base/error.hpp"
#include "helper/userns.hpp"

extern char** environ;

namespace vdestack::helper {

namespace {

// What the child reads, and writes back before it exits (shared memory).
struct Shared {
    const CommandPlan* plan;
    int err;
};

// The kernel's struct sigaction (rt_sigaction), for SIG_DFL.
struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
};

#define VDS_RAW __attribute__((no_sanitize("address", "thread", "undefined")))

VDS_RAW long sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) noexcept {
    return ::syscall(nr, a, b, c, d, e);
}

// The child, until its execve: system calls only (see command.hpp). errno
// is the waiting helper thread's (same TLS), read here only.
VDS_RAW int child_main(void* arg) {
    auto* shared = static_cast<Shared*>(arg);
    const CommandPlan& p = *shared->plan;
    if (sys(SYS_setns, p.netns, CLONE_NEWNET) != 0) {
        shared->err = errno != 0 ? errno : EINVAL;
        sys(SYS_exit, 127);
    }
    KernelSigaction dfl{};
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) (void)sys(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
    const std::uint64_t none = 0;
    (void)sys(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, 8);
    (void)sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    // The caller's stdio onto 0-2; any of them that is itself 0-2 (a program
    // that closed its own) is moved up first, so none is overwritten early.
    int from[3];
    for (int i = 0; i < 3; i++) {
        from[i] = p.stdio[i];
        if (from[i] >= 0 && from[i] < 3) from[i] = static_cast<int>(sys(SYS_fcntl, from[i], F_DUPFD, 3));
        if (from[i] < 0)
            from[i] = static_cast<int>(sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/null"),
                                           i == 0 ? O_RDONLY : O_WRONLY));
    }
    for (int i = 0; i < 3; i++)
        if (from[i] >= 0) (void)sys(SYS_dup3, from[i], i, 0);
    (void)sys(SYS_close_range, 3, ~0U, 0);
    if (p.nofile.rlim_max != RLIM_INFINITY)
        (void)sys(SYS_prlimit64, 0, RLIMIT_NOFILE, reinterpret_cast<long>(&p.nofile), 0);
    (void)raise_net_ambient_caps();
    (void)sys(SYS_execve, reinterpret_cast<long>(p.argv[0]), reinterpret_cast<long>(p.argv),
              reinterpret_cast<long>(environ));
    sys(SYS_exit, 2);  // as libvdestack: a command that cannot be executed exits with 2
    return 2;
}

using CloneFn = int (*)(int (*)(void*), void*, int, void*, ...);

// libc's clone() itself: a sanitizer runtime interposes one that takes every
// clone for a fork (ThreadSanitizer then refuses to start threads in the
// helper: "starting new threads after multi-threaded fork").
CloneFn libc_clone() noexcept {
    static const CloneFn fn = [] {
        CloneFn f = &::clone;
        if (void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD)) {
            if (void* sym = ::dlsym(libc, "clone")) std::memcpy(&f, &sym, sizeof f);
            ::dlclose(libc);
        }
        return f;
    }();
    return fn;
}

}  // namespace

StartedCommand start_command(const CommandPlan& plan, CommandStack& stack) {
    void* top = nullptr;
    try {
        top = stack.top();
    } catch (const std::bad_alloc&) {
        fail(ENOMEM, "the stack of a stackcmd command");
    }
    Shared shared{&plan, 0};
    int pidfd = -1;
    // Every signal blocked across the clone: a handler of the program must
    // not run in the child before it has reset the dispositions.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const int pid = libc_clone()(child_main, top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, &shared, &pidfd);
    const int clone_err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) fail(clone_err, "clone(a stackcmd command)");
    StartedCommand started;
    started.pidfd.reset(pidfd);
    if (shared.err != 0) {
        (void)reap_command(pidfd);
        started.pidfd.reset();
        started.err = shared.err < 0 ? EIO : shared.err;
    }
    return started;
}

int reap_command(int pidfd) noexcept {
    siginfo_t si{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &si, WEXITED | __WALL) < 0 && errno == EINTR) {
    }
    return si.si_code == CLD_EXITED ? si.si_status : 0;
}

void kill_command(int pidfd) noexcept {
    (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0U);
    (void)reap_command(pidfd);
}

}  // namespace vdestack::helper
