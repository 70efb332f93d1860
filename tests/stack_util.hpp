// stack_util.hpp - helpers of the stack tests: process accounting (fds,
// threads, child processes) and small TCP helpers with bounded waits.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

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

// Retries f() every 50 ms until it returns true or `seconds` pass.
inline bool eventually(const std::function<bool()>& f, double seconds = 5.0) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
}

inline sockaddr_storage make_addr(const char* ip, int port, socklen_t& len) {
    sockaddr_storage ss{};
    if (std::strchr(ip, ':') != nullptr) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET6, ip, &a->sin6_addr);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, ip, &a->sin_addr);
        len = sizeof *a;
    }
    return ss;
}

// Reads exactly n bytes with a timeout; returns what arrived.
inline std::string read_n(int fd, size_t n, int timeout_ms = 5000) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
    }
    return out;
}

inline bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t w = ::write(fd, s.data() + off, s.size() - off);
        if (w <= 0) return false;
        off += static_cast<size_t>(w);
    }
    return true;
}

}  // namespace testutil
