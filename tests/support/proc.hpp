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

}  // namespace vdetest
