// stack_capi.cpp - the libvdestack-compatible C API, end to end, inside the
// private network namespace made by netns_main.cpp: stacks on vxvde talking
// TCP to each other (IPv4, IPv6), vde_stackcmd semantics, vde_msocket after
// fork, vde_default_stack, errors, and leaks over 200 add/del cycles.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack.h"

#if defined(__SANITIZE_THREAD__)
#define VDETEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VDETEST_TSAN 1
#endif
#endif
#ifndef VDETEST_TSAN
#define VDETEST_TSAN 0
#endif

using namespace vdetest;

namespace {

constexpr const char* kVnl = "vxvde://234.0.0.1";

// A stack with addr4/addr6 configured through vde_stackcmd and /bin/ip.
struct vdestack* make_stack(const char* vnl, const std::string& a4, const std::string& a6) {
    struct vdestack* s = vde_addstack(const_cast<char*>(vnl), nullptr);
    if (s == nullptr) return nullptr;
    std::string c = "/bin/ip addr add " + a4 + " dev vde0; /bin/ip addr add " + a6 +
                    " dev vde0 nodad; /bin/ip link set vde0 up; /bin/ip link set lo up";
    if (vde_stackcmd(s, c.data()) != 0) {
        vde_delstack(s);
        return nullptr;
    }
    return s;
}

int listen_on(struct vdestack* s, int family, int port) {
    int fd = vde_msocket(s, family, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len;
    sockaddr_storage a = make_addr(family == AF_INET6 ? "::" : "0.0.0.0", port, len);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Connects from stack s to ip:port, retrying while neighbours resolve.
int connect_from(struct vdestack* s, const char* ip, int port) {
    int family = std::strchr(ip, ':') ? AF_INET6 : AF_INET;
    int result = -1;
    eventually([&] {
        int fd = vde_msocket(s, family, SOCK_STREAM, 0);
        if (fd < 0) return false;
        socklen_t len;
        sockaddr_storage a = make_addr(ip, port, len);
        if (connect(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) {
            result = fd;
            return true;
        }
        close(fd);
        return false;
    });
    return result;
}

void expect_tcp_exchange(struct vdestack* client, struct vdestack* server, const char* server_ip) {
    int family = std::strchr(server_ip, ':') ? AF_INET6 : AF_INET;
    int lfd = listen_on(server, family, 7000);
    ASSERT_GE(lfd, 0) << strerror(errno);
    int c = connect_from(client, server_ip, 7000);
    ASSERT_GE(c, 0) << "cannot connect to " << server_ip << ": " << strerror(errno);
    int a = accept(lfd, nullptr, nullptr);
    ASSERT_GE(a, 0);
    // 1 MiB each way, patterned, so loss or corruption would show.
    std::string data(1 << 20, '\0');
    for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
    std::thread writer([&] { write_all(c, data); });
    std::string got = read_n(a, data.size(), 10000);
    writer.join();
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    ASSERT_TRUE(write_all(a, "pong"));
    EXPECT_EQ(read_n(c, 4), "pong");
    close(a);
    close(c);
    close(lfd);
}

}  // namespace

TEST(CApi, TwoStacksTcpOverVxvdeIPv4AndIPv6) {
    struct vdestack* s1 = make_stack(kVnl, "10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = make_stack(kVnl, "10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr) << strerror(errno);
    expect_tcp_exchange(s1, s2, "10.0.0.2");
    expect_tcp_exchange(s2, s1, "fc00::1:1");
    vde_delstack(s1);
    vde_delstack(s2);
}

TEST(CApi, StackCmdReturnsFirstFailingStatusAndStops) {
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    char dir[] = "/tmp/vdestack-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string marker = std::string(dir) + "/ran";
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("")), 0);
    std::string c = "/bin/true; /bin/sh -c 'exit 3'; /bin/touch " + marker;
    EXPECT_EQ(vde_stackcmd(s, c.data()), 3);
    struct stat st;
    EXPECT_NE(stat(marker.c_str(), &st), 0) << "commands after a failing one must not run";
    c = "/bin/touch " + marker;
    EXPECT_EQ(vde_stackcmd(s, c.data()), 0);
    EXPECT_EQ(stat(marker.c_str(), &st), 0);
    // no PATH search, no shell
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("true")), 2);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/nonexistent/cmd")), 2);
    // the command runs in the stack's namespace: it sees vde0
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/ip link show vde0")), 0);
    EXPECT_NE(system("/bin/ip link show vde0 >/dev/null 2>&1"), 0) << "vde0 must not be in our namespace";
    // The helper lifts its own fd limits for thousands of stacks; its
    // commands get the program's back.
    rlimit nofile{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    if (nofile.rlim_max != RLIM_INFINITY) {
        c = "/bin/sh -c 'test $(ulimit -Hn) = " + std::to_string(nofile.rlim_max) + " && test $(ulimit -Sn) = " +
            std::to_string(nofile.rlim_cur) + "'";
        EXPECT_EQ(vde_stackcmd(s, c.data()), 0) << c;
    }
    unlink(marker.c_str());
    rmdir(dir);
    vde_delstack(s);
}

TEST(CApi, StackCmdSeesCallerStdout) {
    struct vdestack* s = vde_addstack(const_cast<char*>("null://"), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    int saved = dup(1);
    dup2(p[1], 1);
    close(p[1]);
    int rv = vde_stackcmd(s, const_cast<char*>("/bin/echo \"hello  world\" [$HOME] 'a;b'"));
    dup2(saved, 1);
    close(saved);
    EXPECT_EQ(rv, 0);
    EXPECT_EQ(read_n(p[0], 24, 2000), "hello  world [HOME] a;b\n");
    close(p[0]);
    vde_delstack(s);
}

TEST(CApi, MsocketInForkedChildIsValidInChild) {
    struct vdestack* s = make_stack(kVnl, "10.0.0.50/24", "fc00::1:50/64");
    ASSERT_NE(s, nullptr) << strerror(errno);
    pid_t pid = fork_quietly();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // In the child: a new socket from the inherited stack, bound to the
        // stack's address (possible only inside the stack's namespace).
        int fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
        if (fd < 0) _exit(10);
        socklen_t len;
        sockaddr_storage a = make_addr("10.0.0.50", 7100, len);
        if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) _exit(11);
        if (listen(fd, 1) != 0) _exit(12);
        int rv = vde_stackcmd(s, const_cast<char*>("/bin/true"));
        _exit(rv == 0 ? 0 : 13);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    // and the parent still works
    int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
    EXPECT_GE(fd, 0);
    close(fd);
    vde_delstack(s);
}

TEST(CApi, ForkedChildSocketsWorkWhileParentServes) {
    // The tutorial's pattern: a forked child serves a connection accepted by the parent.
    struct vdestack* srv = make_stack(kVnl, "10.0.0.50/24", "fc00::1:50/64");
    struct vdestack* cli = make_stack(kVnl, "10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(srv, nullptr);
    ASSERT_NE(cli, nullptr);
    int lfd = listen_on(srv, AF_INET6, 5000);
    ASSERT_GE(lfd, 0);
    int c = connect_from(cli, "10.0.0.50", 5000);
    ASSERT_GE(c, 0);
    int a = accept(lfd, nullptr, nullptr);
    ASSERT_GE(a, 0);
    pid_t pid = fork_quietly();
    if (pid == 0) {
        char buf[64];
        ssize_t n = read(a, buf, sizeof buf);
        if (n > 0) (void)!write(a, buf, static_cast<size_t>(n));
        _exit(0);
    }
    close(a);
    ASSERT_TRUE(write_all(c, "hello ipv4\n"));
    EXPECT_EQ(read_n(c, 11), "hello ipv4\n");
    waitpid(pid, nullptr, 0);
    close(c);
    close(lfd);
    vde_delstack(cli);
    vde_delstack(srv);
}

TEST(CApi, LoopbackOnlyStack) {
    for (const char* vnl : {static_cast<const char*>(nullptr), ""}) {
        struct vdestack* s = vde_addstack(const_cast<char*>(vnl), nullptr);
        ASSERT_NE(s, nullptr) << strerror(errno);
        // The reference hangs here forever; we answer.
        EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/ip link set lo up")), 0);
        EXPECT_NE(vde_stackcmd(s, const_cast<char*>("/bin/ip link show vde0")), 0);
        int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
        EXPECT_GE(fd, 0);
        close(fd);
        vde_delstack(s);
    }
}

TEST(CApi, DefaultStackRedirectsSocket) {
    struct vdestack* s = make_stack(kVnl, "10.0.0.77/24", "fc00::1:77/64");
    ASSERT_NE(s, nullptr);
    vde_default_stack(s);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    vde_default_stack(nullptr);
    ASSERT_GE(fd, 0);
    socklen_t len;
    sockaddr_storage a = make_addr("10.0.0.77", 7200, len);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0) << "socket() must live in the default stack";
    close(fd);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    EXPECT_NE(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0) << "after NULL, socket() is ours again";
    close(fd);
    vde_delstack(s);
}

TEST(CApi, BadInputGivesNullAndErrno) {
    errno = 0;
    EXPECT_EQ(vde_addstack(const_cast<char*>("nosuchscheme://x"), nullptr), nullptr);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
    EXPECT_EQ(vde_addstack(const_cast<char*>("vxvde://234.0.0.1/nosuchoption=1"), nullptr), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(vde_addstack(const_cast<char*>("vxvde://234.0.0.1/port=99999999"), nullptr), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(vde_addstack(const_cast<char*>(kVnl), const_cast<char*>("bad name")), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(vde_addstack(const_cast<char*>(kVnl), const_cast<char*>("waytoolonginterfacename")), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(vde_stackcmd(nullptr, const_cast<char*>("/bin/true")), -1);
    EXPECT_EQ(errno, EINVAL);
    vde_delstack(nullptr);  // no crash
    // socket errors come back as socket(2)'s
    struct vdestack* s = vde_addstack(const_cast<char*>("null://"), nullptr);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(vde_msocket(s, 12345, SOCK_STREAM, 0), -1);
    EXPECT_EQ(errno, EAFNOSUPPORT);
    vde_delstack(s);
    // no helper left behind by the failures
    EXPECT_EQ(settled(count_children, 0), 0);
}

TEST(CApi, NoMulticastRouteIsENODEV) {
    ASSERT_EQ(system("ip route del 224.0.0.0/4 dev lo"), 0);
    errno = 0;
    EXPECT_EQ(vde_addstack(const_cast<char*>(kVnl), nullptr), nullptr);
    EXPECT_EQ(errno, ENODEV);
    EXPECT_EQ(settled(count_children, 0), 0);
    ASSERT_EQ(system("ip route add 224.0.0.0/4 dev lo"), 0);
}

TEST(CApi, AddDelCyclesLeakNothing) {
  for (const char* thread : {"1", "0"}) {  // the helper a thread (root's default), a process
    if (thread[0] == '1' && ::geteuid() != 0) continue;  // a helper thread needs root
    SCOPED_TRACE(std::string("VDESTACK_HELPER_THREAD=") + thread);
    ScopedEnv mode("VDESTACK_HELPER_THREAD", thread);
    // Warm up once (libraries load lazily), then measure.
    vde_delstack(vde_addstack(const_cast<char*>(kVnl), nullptr));
    ASSERT_TRUE(helper_gone()) << "the helper outlives its last stack briefly only";
    int fds = count_fds(), threads = count_threads(), children = count_children();
    for (int i = 0; i < 200; i++) {
        struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
        ASSERT_NE(s, nullptr) << "cycle " << i << ": " << strerror(errno);
        if (i % 20 == 0) {
            ASSERT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/ip link set vde0 up")), 0);
            int fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
            ASSERT_GE(fd, 0);
            close(fd);
        }
        vde_delstack(s);
    }
    EXPECT_EQ(settled(count_fds, fds), fds);
    EXPECT_EQ(settled(count_threads, threads), threads);
    EXPECT_EQ(settled(count_children, children), children);
    EXPECT_EQ(children, 0);
  }
}

pid_t only_child() {
    std::ifstream f("/proc/self/task/" + std::to_string(getpid()) + "/children");
    pid_t p = 0;
    f >> p;
    return p;
}

TEST(CApi, TheHelperLingersForTheNextStackThenGoes) {
    ProcessHelper process;
    ASSERT_TRUE(helper_gone());
    // A sanitizer starts its own background thread with the program's first
    // one: let that happen before counting.
    std::thread([] {}).join();
    const int fds = count_fds(), threads = count_threads();
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    const pid_t helper = only_child();
    ASSERT_GT(helper, 0);
    vde_delstack(s);
    // A stack made right after the last one went: the same helper, no spawn.
    s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    EXPECT_EQ(only_child(), helper);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/ip link set vde0 up")), 0);
    vde_delstack(s);
    {
        // Unless the environment changed meanwhile: a lingering helper keeps
        // the settings it started with, so a new one is started for the next
        // stack and the lingering one goes at once.
        ScopedEnv other("VDESTACK_SPIN_US", "0");
        struct vdestack* t = vde_addstack(const_cast<char*>(kVnl), nullptr);
        ASSERT_NE(t, nullptr) << strerror(errno);
        EXPECT_EQ(settled(count_children, 1), 1);
        const pid_t fresh = only_child();
        EXPECT_NE(fresh, helper) << "a helper of other settings was taken back";
        EXPECT_NE(kill(helper, 0), 0) << "the stale helper is gone, reaped";
        vde_delstack(t);
        ASSERT_EQ(settled(count_children, 0), 0);
        EXPECT_TRUE(eventually([&] { return kill(fresh, 0) != 0; })) << "lingered, then reaped";
    }
    // Then it goes by itself, reaped, with the program's end of its channel
    // and the thread that waited (Tuning::linger_ms, 50 ms).
    EXPECT_EQ(settled(count_children, 0), 0);
    EXPECT_EQ(settled(count_fds, fds), fds);
    EXPECT_EQ(settled(count_threads, threads), threads);

    // VDESTACK_HELPER_LINGER_MS=0: the last vde_delstack shuts it down itself.
    setenv("VDESTACK_HELPER_LINGER_MS", "0", 1);
    s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    unsetenv("VDESTACK_HELPER_LINGER_MS");
    ASSERT_NE(s, nullptr) << strerror(errno);
    EXPECT_NE(only_child(), helper);
    vde_delstack(s);
    EXPECT_EQ(count_children(), 0);
    EXPECT_EQ(count_fds(), fds);
    EXPECT_EQ(count_threads(), threads);
}

// The one byte a forked child writes on `fd` (which is closed) within 30 s,
// then the child reaped; 0 when none came (a stuck child is killed: a
// failure, not a hang).
char child_verdict(pid_t pid, int fd) {
    char verdict = 0;
    pollfd pf{fd, POLLIN, 0};
    const bool answered = ::poll(&pf, 1, 30000) == 1;
    if (!answered) ::kill(pid, SIGKILL);
    EXPECT_TRUE(answered) << "the child answers within 30 s";
    if (answered && ::read(fd, &verdict, 1) != 1) verdict = 0;
    ::close(fd);
    int st = 0;
    EXPECT_EQ(::waitpid(pid, &st, 0), pid);
    return verdict;
}


TEST(CApi, AChildForkedWhileTheHelperLingersHoldsNothingOfIt) {
    // The parent's helper lingers long enough to be surely there at the
    // fork, however loaded the machine; the child's lingers as by default.
    ProcessHelper process;
    ASSERT_TRUE(helper_gone()) << "no helper of an earlier test lingers";
    {
        ScopedEnv linger("VDESTACK_HELPER_LINGER_MS", "1000");
        struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
        ASSERT_NE(s, nullptr) << strerror(errno);
        vde_delstack(s);  // lingers now
    }
#if VDETEST_ASAN
    // GCC 12's AddressSanitizer does not hold its allocator's lock across
    // fork(): a fork while the just-started linger thread is inside it
    // (its thread start-up frees memory) leaves the lock held in the child,
    // whose first malloc then waits forever. glibc's malloc is fork-safe;
    // so fork once that thread sleeps.
    EXPECT_TRUE(eventually(others_asleep, 5.0)) << "the linger thread sleeps";
#endif
    ASSERT_EQ(count_children(), 1) << "the helper lingers at the fork";
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);  // the helpers do not hold it: a dead child is EOF
    pid_t pid = fork_quietly();
    if (pid == 0) {
        close(p[0]);
#if VDETEST_TSAN
        // ThreadSanitizer cannot start a thread in the child of a threaded
        // parent (the parent's linger thread is alive): the child's helper
        // goes at its vde_delstack instead of lingering.
        setenv("VDESTACK_HELPER_LINGER_MS", "0", 1);
#endif
        // The child's own stack gets the child's own helper, and nothing of
        // the parent's lingering one stays open here.
        struct vdestack* c = vde_addstack(const_cast<char*>(kVnl), nullptr);
        const bool ok = c != nullptr && vde_stackcmd(c, const_cast<char*>("/bin/true")) == 0;
        vde_delstack(c);
        const int left = settled(count_children, 0);
        const char verdict = ok && left == 0 ? 'y' : 'n';
        (void)!write(p[1], &verdict, 1);
        _exit(0);
    }
    close(p[1]);
    EXPECT_EQ(child_verdict(pid, p[0]), 'y');
    EXPECT_EQ(settled(count_children, 0, 5.0), 0) << "the parent's helper went at its deadline";
}

// ---- the helper as a thread of the program (VDESTACK_HELPER_THREAD=1) ----

// ThreadSanitizer's runtime cannot start a thread in the forked child of a
// threaded program ("starting new threads after multi-threaded fork"),
// which a child's own helper thread is.
constexpr const char* kNoTsanForkThreads = "ThreadSanitizer cannot start threads in a forked child";

struct Disposition {
    void (*handler)(int);
    bool operator==(const Disposition&) const = default;
};
Disposition disposition(int sig) {
    struct sigaction sa {};
    EXPECT_EQ(::sigaction(sig, nullptr, &sa), 0);
    return {sa.sa_handler};
}

// A root program's helper thread: no helper process, one more thread, the
// stacks work (TCP between two, exit statuses of commands), the commands'
// runners are invisible to the program's wait() and reaped, and the
// program's signal dispositions and fd limit stay its own; afterwards
// nothing is left.
TEST(CApi, AHelperThreadIsAThreadOfTheProgram) {
    if (::geteuid() != 0) GTEST_SKIP() << "a helper thread needs root (no user namespace)";
    ASSERT_TRUE(helper_gone()) << "no helper of an earlier test lingers";
    const int threads = settled(count_threads, 1), fds = count_fds();
    rlimit nofile{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
    const Disposition pipe_was = disposition(SIGPIPE), chld_was = disposition(SIGCHLD), int_was = disposition(SIGINT);
    {
        ScopedEnv thread("VDESTACK_HELPER_THREAD", "1");
        struct vdestack* srv = make_stack(kVnl, "10.0.0.50/24", "fc00::1:50/64");
        ASSERT_NE(srv, nullptr) << strerror(errno);
        EXPECT_EQ(settled(count_children, 0), 0) << "no helper process; the runners reaped";
        EXPECT_EQ(settled(count_threads, threads + 1), threads + 1) << "the helper is one thread";
        EXPECT_EQ(vde_stackcmd(srv, const_cast<char*>("/bin/false")), 1);
        errno = 0;
        EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a runner is no child the program can wait for";
        EXPECT_EQ(errno, ECHILD);
        struct vdestack* cli = make_stack(kVnl, "10.0.0.1/24", "fc00::1:1/64");
        ASSERT_NE(cli, nullptr) << strerror(errno);
        expect_tcp_exchange(cli, srv, "10.0.0.50");
        rlimit now{};
        ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
        EXPECT_EQ(now.rlim_cur, nofile.rlim_cur) << "the program's fd limit is its own";
        EXPECT_TRUE(disposition(SIGPIPE) == pipe_was && disposition(SIGCHLD) == chld_was &&
                    disposition(SIGINT) == int_was)
            << "the program's signal dispositions are its own";
        EXPECT_EQ(count_children(), 0);
        vde_delstack(cli);
        vde_delstack(srv);
    }
    EXPECT_EQ(settled(count_threads, threads), threads);
    EXPECT_EQ(settled(count_fds, fds), fds);
    EXPECT_EQ(settled(count_children, 0), 0);
}

// A child forked by a program whose helper is a thread: its inherited stack
// answers it (sockets, commands, through its own connection to the
// parent's helper thread), and its own new stack gets a helper thread of
// the child's.
TEST(CApi, AHelperThreadServesAForkedChild) {
    if (::geteuid() != 0) GTEST_SKIP() << "a helper thread needs root (no user namespace)";
    if (VDETEST_TSAN) GTEST_SKIP() << kNoTsanForkThreads;
    ASSERT_TRUE(helper_gone()) << "no helper of an earlier test lingers";
    const int threads = settled(count_threads, 1);
    ScopedEnv thread("VDESTACK_HELPER_THREAD", "1");
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
#if VDETEST_ASAN
    // As in AChildForkedWhileTheHelperLingersHoldsNothingOfIt: fork once the
    // helper thread is done with the allocator.
    EXPECT_TRUE(eventually(others_asleep, 5.0)) << "the helper thread waits for requests";
#endif
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const pid_t pid = fork_quietly();
    if (pid == 0) {
        close(p[0]);
        bool ok = vde_stackcmd(s, const_cast<char*>("/bin/ip link set vde0 up")) == 0;
        const int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
        ok = ok && fd >= 0;
        if (fd >= 0) close(fd);
        struct vdestack* mine = vde_addstack(const_cast<char*>(kVnl), nullptr);
        ok = ok && mine != nullptr && vde_stackcmd(mine, const_cast<char*>("/bin/true")) == 0;
        ok = ok && settled(count_children, 0) == 0;  // its helper is a thread too
        vde_delstack(mine);
        const char verdict = ok ? 'y' : 'n';
        (void)!write(p[1], &verdict, 1);
        _exit(0);
    }
    close(p[1]);
    EXPECT_EQ(child_verdict(pid, p[0]), 'y');
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/sh -c '/bin/ip link show vde0 | /bin/grep -q UP'")), 0)
        << "the child's command acted on the parent's stack";
    vde_delstack(s);
    EXPECT_EQ(settled(count_threads, threads), threads);
}

// A helper thread cannot have a user namespace of its own: where the helper
// needs one (VDESTACK_USERNS=1 here; any unprivileged program), it is a
// process as before.
TEST(CApi, AHelperThreadFallsBackToAProcessForAUserNamespace) {
    ASSERT_TRUE(helper_gone()) << "no helper of an earlier test lingers";
    ScopedEnv thread("VDESTACK_HELPER_THREAD", "1");
    ScopedEnv userns("VDESTACK_USERNS", "1");
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    EXPECT_EQ(count_children(), 1) << "a helper process";
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0);
    vde_delstack(s);
    EXPECT_EQ(settled(count_children, 0), 0);
}

TEST(CApi, ManyStacksAliveShareOneHelper) {
    ASSERT_TRUE(helper_gone());
    const int threads = count_threads();
    for (const bool as_thread : {false, true}) {
        SCOPED_TRACE(as_thread ? "a helper thread" : "a helper process");
        if (as_thread && ::geteuid() != 0) continue;
        ScopedEnv mode("VDESTACK_HELPER_THREAD", as_thread ? "1" : "0");
        std::vector<struct vdestack*> v;
        for (int i = 0; i < 50; i++) {
            v.push_back(vde_addstack(const_cast<char*>(kVnl), nullptr));
            ASSERT_NE(v.back(), nullptr) << i << ": " << strerror(errno);
        }
        if (as_thread) {
            EXPECT_EQ(count_children(), 0);
            // The helper thread, its engines (one per CPU, at most 4) and a
            // worker or two, whatever the number of stacks.
            EXPECT_LE(count_library_threads(), 8) << "no thread per stack";
        } else {
            EXPECT_EQ(settled(count_children, 1), 1) << "one helper process for all stacks";
            EXPECT_LE(count_threads(), threads + 1) << "no thread per stack in the program";
        }
        for (auto* s : v) vde_delstack(s);
        EXPECT_TRUE(helper_gone());
    }
}

std::uint64_t netns_cookie(int fd) {
    std::uint64_t c = 0;
    socklen_t l = sizeof c;
    EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &c, &l), 0);
    return c;
}

ino_t thread_netns() {
    struct stat st {};
    EXPECT_EQ(::stat("/proc/thread-self/ns/net", &st), 0);
    return st.st_ino;
}

// vde_msocket from a thread in a network namespace of its own (a
// privileged program makes its sockets itself, setns there and back): the
// socket is the stack's, and the thread is back in its own namespace, not
// the process's.
TEST(CApi, MsocketLeavesTheCallingThreadInItsNamespace) {
    if (::geteuid() != 0) GTEST_SKIP() << "a thread's own network namespace needs root";
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr);
    const int first = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(first, 0);
    const std::uint64_t stack_cookie = netns_cookie(first);
    close(first);
    const ino_t process_ns = thread_netns();
    std::thread t([&] {
        ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
        const ino_t mine = thread_netns();
        EXPECT_NE(mine, process_ns);
        for (int i = 0; i < 3; i++) {
            const int fd = vde_msocket(s, AF_INET6, SOCK_STREAM, 0);
            ASSERT_GE(fd, 0) << strerror(errno);
            EXPECT_EQ(netns_cookie(fd), stack_cookie);
            EXPECT_EQ(thread_netns(), mine);
            close(fd);
        }
        const int plain = ::socket(AF_INET, SOCK_DGRAM, 0);  // the thread's own namespace
        EXPECT_NE(netns_cookie(plain), stack_cookie);
        close(plain);
    });
    t.join();
    EXPECT_EQ(thread_netns(), process_ns);
    vde_delstack(s);
}

// A new helper's first stack: its namespace and tap are made by the calling
// thread while the helper starts (client.cpp), and the thread comes back to
// its own namespace, with no vde0 there; a bad name fails as ever. (The
// helper itself starts in the caller's namespace: its transports' one.)
TEST(CApi, TheFirstStackIsMadeByTheCallerWhoStaysInItsNamespace) {
    if (::geteuid() != 0) GTEST_SKIP() << "the program makes namespaces only as root";
    ASSERT_TRUE(helper_gone()) << "the next stack starts a helper";
    const int fds = count_fds();
    const ino_t mine = thread_netns();
    ASSERT_EQ(if_nametoindex("vde0"), 0u);
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    EXPECT_EQ(thread_netns(), mine);
    EXPECT_EQ(if_nametoindex("vde0"), 0u) << "the tap is in the stack's namespace, not here";
    const int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0) << strerror(errno);
    const int plain = ::socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_NE(netns_cookie(fd), netns_cookie(plain));
    ::close(plain);
    ::close(fd);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/ip link set vde0 up")), 0);
    vde_delstack(s);
    ASSERT_EQ(settled(count_children, 0), 0);
    errno = 0;
    EXPECT_EQ(vde_addstack(const_cast<char*>(kVnl), const_cast<char*>("a-name-too-long-for-linux")), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(thread_netns(), mine);
    EXPECT_EQ(settled(count_children, 0), 0);
    EXPECT_EQ(settled(count_fds, fds), fds);
}

TEST(CApi, KilledHelperGivesErrorsThenANewHelper) {
    ProcessHelper process;
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr);
    // find our helper (our only child) and kill it
    pid_t helper = -1;
    for (int pid = 2; pid < 4194304 && helper < 0; pid++) {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
        std::ifstream f(path);
        std::string line;
        if (!std::getline(f, line)) continue;
        auto rp = line.rfind(')');
        int ppid = std::atoi(line.c_str() + rp + 4);
        if (ppid == getpid() && line.find("vdestack-helpe") != std::string::npos) helper = pid;
    }
    ASSERT_GT(helper, 0);
    // A socket before: a privileged program makes its own from then on (the
    // namespace's fd in hand), and must still see the helper's death.
    const int before = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(before, 0);
    close(before);
    ASSERT_EQ(kill(helper, SIGKILL), 0);
    ::usleep(20000);  // the channel hangs up once the kernel has reaped its end
    errno = 0;
    EXPECT_EQ(vde_msocket(s, AF_INET, SOCK_STREAM, 0), -1);
    EXPECT_EQ(errno, EPIPE);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), -1);
    EXPECT_EQ(errno, EPIPE);
    struct vdestack* s2 = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s2, nullptr) << "a new helper replaces the dead one: " << strerror(errno);
    EXPECT_EQ(vde_stackcmd(s2, const_cast<char*>("/bin/true")), 0);
    vde_delstack(s);  // no crash, the dead helper is reaped
    vde_delstack(s2);
    EXPECT_EQ(settled(count_children, 0), 0);
}

TEST(CApi, HelperFollowsTheProgramsDeath) {
    // A program that dies without vde_delstack: its helper sees EOF and exits.
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork_quietly();
    if (pid == 0) {
        setenv("VDESTACK_HELPER_THREAD", "0", 1);  // a helper process
        struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
        if (s == nullptr) _exit(1);
        (void)!write(p[1], "x", 1);
        pause();
        _exit(0);
    }
    close(p[1]);
    char c;
    ASSERT_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    // the helper is the child's child
    std::string children = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
    std::ifstream f(children);
    pid_t helper = 0;
    f >> helper;
    ASSERT_GT(helper, 0);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    EXPECT_TRUE(eventually([&] {
        std::ifstream st("/proc/" + std::to_string(helper) + "/stat");
        std::string line;
        if (!std::getline(st, line)) return true;  // gone
        return line.find(") Z") != std::string::npos;  // exited, waiting for init to reap it
    })) << "helper " << helper << " outlived its program";
}

TEST(CApi, MissingHelperBinaryIsACleanError) {
    ScopedEnv missing("VDESTACK_HELPER", "/nonexistent/vdestack-helper");
    {
        ProcessHelper process;
        errno = 0;
        EXPECT_EQ(vde_addstack(const_cast<char*>(kVnl), nullptr), nullptr);
        EXPECT_EQ(errno, ENOENT);
    }
    if (::geteuid() != 0) return;  // a helper thread needs root
    // A helper thread needs no binary.
    ScopedEnv thread("VDESTACK_HELPER_THREAD", "1");
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    EXPECT_NE(s, nullptr) << strerror(errno);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0);
    vde_delstack(s);
}

TEST(CApi, SwitchStackAndVdeStackInOneProcess) {
    // The switch lives in this process's helper; the vde:// client of the
    // second stack connects to it from the same helper (no deadlock).
    char dir[] = "/tmp/vdestack-sw-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string sw = std::string(dir) + "/sw";
    std::string swvnl = "switch://" + sw, vdevnl = "vde://" + sw;
    struct vdestack* s1 = make_stack(swvnl.c_str(), "10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(s1, nullptr) << strerror(errno);
    struct vdestack* s2 = make_stack(vdevnl.c_str(), "10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr) << strerror(errno);
    expect_tcp_exchange(s1, s2, "10.0.0.2");
    expect_tcp_exchange(s2, s1, "fc00::1:1");
    vde_delstack(s2);
    vde_delstack(s1);
    // (The stack's transport is closed aside, just after the reply.)
    EXPECT_TRUE(eventually([&] { return access((sw + "/ctl").c_str(), F_OK) != 0; }, 2))
        << "the switch removes its control socket";
    rmdir(sw.c_str());
    rmdir(dir);
}

TEST(CApi, StreamCoprocessVnl) {
    // libvdestack's "=COMMAND" VNL: the command runs as a coprocess speaking
    // the VDE stream framing on its stdio. Here the command is a vde_plug
    // (ours, then Debian's) joining the stack to vxvde, where a second stack
    // waits: TCP both ways proves frames cross the coprocess intact.
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT_GT(n, 0);
    exe[n] = '\0';
    std::string ours = std::string(exe);
    ours = ours.substr(0, ours.rfind('/')) + "/../tools/vde_plug";
    std::vector<std::string> plugs;  // (a build of the tests alone, as the TSan pass makes, has no tools)
    for (const std::string& p : {ours, std::string("/usr/bin/vde_plug")})
        if (access(p.c_str(), X_OK) == 0) plugs.push_back(p);
    if (plugs.empty()) GTEST_SKIP() << "no vde_plug, ours or Debian's";
    for (const std::string& plug : plugs) {
        SCOPED_TRACE(plug);
        int children = count_children();
        std::string vnl = "=" + plug + " " + kVnl;
        struct vdestack* s1 = make_stack(vnl.c_str(), "10.0.0.1/24", "fc00::1:1/64");
        ASSERT_NE(s1, nullptr) << strerror(errno);
        struct vdestack* s2 = make_stack(kVnl, "10.0.0.2/24", "fc00::1:2/64");
        ASSERT_NE(s2, nullptr) << strerror(errno);
        expect_tcp_exchange(s1, s2, "10.0.0.2");
        expect_tcp_exchange(s2, s1, "fc00::1:1");
        vde_delstack(s2);
        vde_delstack(s1);
        EXPECT_TRUE(eventually([&] {
            while (waitpid(-1, nullptr, WNOHANG) > 0) {
            }
            return count_children() == children;
        })) << "the helper and its coprocess are gone";
    }
    errno = 0;
    EXPECT_EQ(vde_addstack(const_cast<char*>("=/nonexistent/program"), nullptr), nullptr);
    EXPECT_EQ(errno, ENOENT);
    EXPECT_EQ(vde_addstack(const_cast<char*>("="), nullptr), nullptr);
    EXPECT_EQ(errno, EINVAL);
}

TEST(CApi, SwitchGoneLeavesTheStackAlive) {
    // A vde:// stack whose switch disappears keeps working locally: errors
    // on the link never kill the program, and the stack can still be used.
    char dir[] = "/tmp/vdestack-sw-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string sw = std::string(dir) + "/sw";
    std::string swvnl = "switch://" + sw, vdevnl = "vde://" + sw;
    struct vdestack* s1 = vde_addstack(const_cast<char*>(swvnl.c_str()), nullptr);
    ASSERT_NE(s1, nullptr);
    struct vdestack* s2 = make_stack(vdevnl.c_str(), "10.0.0.2/24", "fc00::1:2/64");
    ASSERT_NE(s2, nullptr);
    vde_delstack(s1);  // the switch goes away
    usleep(100000);
    EXPECT_EQ(vde_stackcmd(s2, const_cast<char*>("/bin/ip link show vde0")), 0);
    int fd = vde_msocket(s2, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    close(fd);
    vde_delstack(s2);
    rmdir(sw.c_str());
    rmdir(dir);
}

TEST(CApi, KilledProgramLeavesNothingBehind) {
    // SIGKILL and SIGTERM of a program with live stacks (one of them a switch
    // with its control directory): its helper notices, tears everything down
    // and removes the switch's socket files.
    for (int sig : {SIGKILL, SIGTERM}) {
        char dir[] = "/tmp/vdestack-kill-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        std::string sw = std::string(dir) + "/sw";
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        pid_t pid = fork_quietly();
        if (pid == 0) {
            setenv("VDESTACK_HELPER_THREAD", "0", 1);  // a helper process
            std::string vnl = "switch://" + sw;
            struct vdestack* a = vde_addstack(const_cast<char*>(vnl.c_str()), nullptr);
            struct vdestack* b = vde_addstack(const_cast<char*>(kVnl), nullptr);
            if (a == nullptr || b == nullptr) _exit(1);
            (void)!write(p[1], "x", 1);
            pause();
            _exit(0);
        }
        close(p[1]);
        char c;
        ASSERT_EQ(read(p[0], &c, 1), 1);
        close(p[0]);
        std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
        pid_t helper = 0;
        f >> helper;
        ASSERT_GT(helper, 0);
        EXPECT_EQ(access((sw + "/ctl").c_str(), F_OK), 0);
        kill(pid, sig);
        waitpid(pid, nullptr, 0);
        EXPECT_TRUE(eventually([&] {
            std::ifstream st("/proc/" + std::to_string(helper) + "/stat");
            std::string line;
            return !std::getline(st, line) || line.find(") Z") != std::string::npos;
        })) << "helper outlived its program (signal " << sig << ")";
        EXPECT_TRUE(eventually([&] { return access((sw + "/ctl").c_str(), F_OK) != 0; }))
            << "the switch's control socket was left behind";
        rmdir(sw.c_str());
        EXPECT_EQ(rmdir(dir), 0) << "files left in " << dir;
    }
}

TEST(CApi, ParentsDelstackDoesNotBreakTheChildsSockets) {
    struct vdestack* srv = make_stack(kVnl, "10.0.0.50/24", "fc00::1:50/64");
    struct vdestack* cli = make_stack(kVnl, "10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(srv, nullptr);
    ASSERT_NE(cli, nullptr);
    int lfd = listen_on(srv, AF_INET, 5000);
    ASSERT_GE(lfd, 0);
    pid_t pid = fork_quietly();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // the child serves, on the inherited listening socket
        for (;;) {
            int a = accept(lfd, nullptr, nullptr);
            if (a < 0) _exit(1);
            char buf[64];
            ssize_t n = read(a, buf, sizeof buf);
            if (n > 0) (void)!write(a, buf, static_cast<size_t>(n));
            close(a);
        }
    }
    close(lfd);
    vde_delstack(srv);  // the parent is done with the server stack; the child is not
    int c = connect_from(cli, "10.0.0.50", 5000);
    ASSERT_GE(c, 0) << "the child's stack lost its network when the parent deleted it";
    ASSERT_TRUE(write_all(c, "still here"));
    EXPECT_EQ(read_n(c, 10), "still here");
    close(c);
    // The child dies: its reference goes, and with it the stack.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    EXPECT_TRUE(eventually([&] {
        int fd = vde_msocket(cli, AF_INET, SOCK_STREAM, 0);
        socklen_t len;
        sockaddr_storage a = make_addr("10.0.0.50", 5000, len);
        timeval tv{0, 300000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        bool gone = connect(fd, reinterpret_cast<sockaddr*>(&a), len) != 0;
        close(fd);
        return gone;
    })) << "the server stack outlived every process holding it";
    vde_delstack(cli);
    EXPECT_EQ(settled(count_children, 0), 0);
}

// Children alive at once, each with its own connection to the helper
// (attached at its fork): the helper serves every one of them and its
// creator. (A helper that served an Attach while iterating over its
// connections read freed memory once the list grew: a crash after a few
// dozen forks of a fork-per-connection server.)
TEST(CApi, ManyChildrenAliveAtOnceAreEachServed) {
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr) << strerror(errno);
    int go[2], done[2];
    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
    std::vector<pid_t> kids;
    for (int i = 0; i < 20; i++) {
        const pid_t pid = fork_quietly();
        if (pid == 0) {
            close(go[1]);
            close(done[0]);
            char c;
            (void)!read(go[0], &c, 1);  // EOF: all are forked
            const int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
            const bool ok = fd >= 0 && vde_stackcmd(s, const_cast<char*>("/bin/true")) == 0;
            (void)!write(done[1], ok ? "y" : "n", 1);
            _exit(ok ? 0 : 1);
        }
        ASSERT_GT(pid, 0);
        kids.push_back(pid);
    }
    close(go[0]);
    close(done[1]);
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0) << "the helper serves its creator";
    close(go[1]);  // go
    int ok = 0;
    for (pid_t pid : kids) {
        int st = 0;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
    }
    close(done[0]);
    EXPECT_EQ(ok, 20) << "every child was served";
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0) << "the helper lives on";
    vde_delstack(s);
    EXPECT_EQ(settled(count_children, 0), 0);
}

TEST(CApi, ForkPerConnectionServerKeepsWorking) {
    // The tutorial's server forks a child per connection; many forks, each
    // child exiting, must not leak references or connections in the helper.
    struct vdestack* s = make_stack(kVnl, "10.0.0.50/24", "fc00::1:50/64");
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 30; i++) {
        pid_t pid = fork_quietly();
        if (pid == 0) {
            int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
            _exit(fd >= 0 ? 0 : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "fork " << i;
    }
    EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0);
    vde_delstack(s);
    EXPECT_EQ(settled(count_children, 0), 0) << "the helper exits once the creator is done";
}

TEST(CApi, FdExhaustionIsACleanError) {
    // With no fd left, vde_addstack fails with EMFILE and builds nothing;
    // once fds are back, stacks work again.
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "the sanitizer runtimes need fds of their own (false reports when there are none)";
#endif
  for (const char* thread : {"1", "0"}) {  // the helper a thread (its fds are the program's), a process
    if (thread[0] == '1' && ::geteuid() != 0) continue;  // a helper thread needs root
    SCOPED_TRACE(std::string("VDESTACK_HELPER_THREAD=") + thread);
    ScopedEnv mode("VDESTACK_HELPER_THREAD", thread);
    ASSERT_TRUE(helper_gone()) << "no helper of an earlier test lingers";
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int used = count_fds();
    int fds_before = used;
    for (int spare = 0; spare <= 8; spare++) {
        rlimit low = saved;
        low.rlim_cur = static_cast<rlim_t>(used + spare);
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
        errno = 0;
        struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
        int err = errno;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
        if (s != nullptr) {  // enough fds after all: it must work fully
            EXPECT_EQ(vde_stackcmd(s, const_cast<char*>("/bin/true")), 0);
            vde_delstack(s);
        } else {
            EXPECT_TRUE(err == EMFILE || err == ENFILE) << "spare " << spare << ": " << strerror(err);
        }
        EXPECT_TRUE(helper_gone()) << "spare " << spare;
        EXPECT_EQ(count_fds(), fds_before) << "spare " << spare;
    }
    struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(s, nullptr);
    vde_delstack(s);
  }
}

namespace {
// A child process that owns a switch at `sw` (a stack on switch://, the
// switch being its interface's network); writes one byte on `ready`.
pid_t switch_process(const std::string& sw, int ready) {
    pid_t pid = fork_quietly();
    if (pid != 0) return pid;
    setenv("VDESTACK_HELPER_THREAD", "0", 1);  // the switch's files go with its program's death
    std::string vnl = "switch://" + sw;
    if (vde_addstack(const_cast<char*>(vnl.c_str()), nullptr) == nullptr) _exit(1);
    (void)!write(ready, "x", 1);
    for (;;) pause();
}
}  // namespace

TEST(CApi, ReconnectBringsTheLinkBackAfterTheSwitchRestarts) {
    char dir[] = "/tmp/vdestack-rc-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string sw = std::string(dir) + "/sw";
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    char c;
    pid_t first = switch_process(sw, p[1]);
    ASSERT_EQ(read(p[0], &c, 1), 1);
    std::string vnl = "reconnect://[interval=1]{vde://" + sw + "}";
    struct vdestack* srv = make_stack(vnl.c_str(), "10.0.0.50/24", "fc00::1:50/64");
    struct vdestack* cli = make_stack(vnl.c_str(), "10.0.0.1/24", "fc00::1:1/64");
    ASSERT_NE(srv, nullptr) << strerror(errno);
    ASSERT_NE(cli, nullptr) << strerror(errno);
    expect_tcp_exchange(cli, srv, "10.0.0.50");
    kill(first, SIGKILL);  // the switch dies with its program
    waitpid(first, nullptr, 0);
    ASSERT_TRUE(eventually([&] { return access((sw + "/ctl").c_str(), F_OK) != 0; }));
    pid_t second = switch_process(sw, p[1]);  // and comes back
    ASSERT_EQ(read(p[0], &c, 1), 1);
    // Both stacks come back by themselves within a few intervals.
    expect_tcp_exchange(cli, srv, "10.0.0.50");
    vde_delstack(cli);
    vde_delstack(srv);
    kill(second, SIGKILL);
    waitpid(second, nullptr, 0);
    // The switch process was forked while our stacks lived, so it held them
    // too and the helper outlived our last vde_delstack; it exits with that
    // child, and being our child, is ours to reap.
    EXPECT_TRUE(eventually([] {
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        return count_children() == 0;
    }));
    close(p[0]);
    close(p[1]);
    eventually([&] { return access((sw + "/ctl").c_str(), F_OK) != 0; });
    rmdir(sw.c_str());
    rmdir(dir);
}

TEST(CApi, ReconnectBadOptions) {
    for (const char* vnl : {"reconnect://{nosuch://}", "reconnect://[interval=0]{null://}", "reconnect://null://",
                            "reconnect://[bogus=1]{null://}"}) {
        errno = 0;
        EXPECT_EQ(vde_addstack(const_cast<char*>(vnl), nullptr), nullptr) << vnl;
        EXPECT_TRUE(errno == EINVAL || errno == EPROTONOSUPPORT) << vnl;
    }
}
