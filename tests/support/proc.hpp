// proc.hpp - process accounting for leak checks (our fds, threads, live
// child processes), eventually(), a bounded wait for a condition, and
// ScopedEnv, an environment variable set for a scope.
// Part of the tests' support library: no dependency on the library's code.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vdetest {

#if defined(__SANITIZE_ADDRESS__)
#define VDETEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VDETEST_ASAN 1
#endif
#endif
#ifndef VDETEST_ASAN
#define VDETEST_ASAN 0
#endif

// Sets `name` to `value` until the end of the scope, then restores what it was.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* v = std::getenv(name)) was_ = v;
        ::setenv(name, value, 1);
    }
    ~ScopedEnv() {
        if (was_)
            ::setenv(name_.c_str(), was_->c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> was_;
};

inline int count_dir(const char* path) {
    int n = 0;
    if (DIR* d = ::opendir(path)) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') n++;
        ::closedir(d);
    }
    return n;
}
inline int count_fds() { return count_dir("/proc/self/fd") - 1; /* opendir's own fd */ }
inline int count_threads() { return count_dir("/proc/self/task"); }

// Live (non-zombie) processes whose parent is us.
inline int count_children() {
    int n = 0;
    pid_t me = ::getpid();
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
            std::string line;
            std::getline(f, line);
            auto rp = line.rfind(')');
            if (rp == std::string::npos) continue;
            std::istringstream rest(line.substr(rp + 2));
            char state;
            int ppid;
            rest >> state >> ppid;
            if (ppid == me) n++;
        }
        ::closedir(d);
    }
    return n;
}

// The first line of /proc/self/task/TID/<file> of each thread of this
// process (but the calling one with others_only): "comm" gives their names,
// "wchan" where they sleep.
inline std::vector<std::string> task_lines(const char* file, bool others_only = false) {
    std::vector<std::string> lines;
    const std::string me = std::to_string(::gettid());
    if (DIR* d = ::opendir("/proc/self/task")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.' || (others_only && me == e->d_name)) continue;
            std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/" + file);
            std::string line;
            std::getline(f, line);
            lines.push_back(std::move(line));
        }
        ::closedir(d);
    }
    return lines;
}

// Threads of this process that the library made (named "vds-...": see
// base/thread_name.hpp): a helper thread and its workers, a linger thread.
inline int count_library_threads() {
    int n = 0;
    for (const std::string& comm : task_lines("comm")) n += comm.rfind("vds-", 0) == 0 ? 1 : 0;
    return n;
}

// Helpers of this process: helper processes (its children) and helper threads.
inline int count_helpers() {
    int n = count_children();
    for (const std::string& comm : task_lines("comm")) n += comm == "vds-helper" ? 1 : 0;
    return n;
}

// This process's fds once the library's deferred work is done (no thread of
// it that closes dead stacks or makes namespaces is left, within 3 s): a
// baseline that a helper thread's passing fds do not blur.
inline int quiet_fds();

// Whether every thread of the process but the caller sleeps in a wait of
// its own, by /proc/self/task/*/wchan: a helper thread or an engine waiting
// for work (epoll), a linger thread for its deadline (nanosleep), a worker
// for a job (futex).
inline bool others_asleep() {
    for (const std::string& wchan : task_lines("wchan", true)) {
        bool waits = false;
        for (const char* w : {"nanosleep", "ep_poll", "epoll_wait", "futex", "do_sys_poll", "do_poll"})
            if (wchan.find(w) != std::string::npos) waits = true;
        if (!waits) return false;
    }
    return true;
}

// Whether no helper of this process is left, within `seconds` (a helper
// lingers briefly after its last stack): no child process, no library thread.
inline bool helper_gone(double seconds = 2.0);

// count() once it equals `expected`, or whatever it is after `seconds`: for
// what a helper lingering after its last stack (Tuning::linger_ms, 50 ms by
// default) still holds -- a child process and the program's end of its channel.
inline int settled(int (*count)(), int expected, double seconds = 2.0);

// Retries f() every 50 ms until it returns true or `seconds` pass.
inline bool eventually(const std::function<bool()>& f, double seconds = 5.0) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
}

inline int settled(int (*count)(), int expected, double seconds) {
    (void)eventually([&] { return count() == expected; }, seconds);
    return count();
}

inline int quiet_fds() {
    int last = -1;
    (void)eventually([&] {
        for (const std::string& comm : task_lines("comm"))
            if (comm == "vds-reaper" || comm == "vds-netns" || comm == "vds-linger") return false;
        // And the same count twice, 50 ms apart: a job that just answered may
        // not have handed its fds to the reaper yet.
        const int now = count_fds();
        const bool steady = now == last;
        last = now;
        return steady;
    }, 3.0);
    return count_fds();
}

inline bool helper_gone(double seconds) {
    return eventually([] { return count_children() == 0 && count_library_threads() == 0; }, seconds);
}

// The helper of the stacks made in its scope is a process (as for a program
// that is not root), not a thread of this one (a root program's default).
struct ProcessHelper : ScopedEnv {
    ProcessHelper() : ScopedEnv("VDESTACK_HELPER_THREAD", "0") {}
};

// fork() for a test whose process has library threads (a helper thread, a
// linger thread, workers). GCC 12's AddressSanitizer does not hold its
// allocator's lock across fork(): a fork while another thread is inside the
// allocator (a helper thread freeing what served a request that just
// returned) leaves the lock held in the child, whose first malloc then waits
// forever. glibc's malloc is fork-safe, so only under ASan this first waits
// (at most 5 s) until every other thread sleeps.
inline pid_t fork_quietly() {
    if (VDETEST_ASAN) (void)eventually(others_asleep, 5.0);
    return ::fork();
}

}  // namespace vdetest
