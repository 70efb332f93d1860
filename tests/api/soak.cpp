// stack_soak.cpp - soak: 1000 create/delete cycles, and 100 concurrent TCP
// connections through one stack for a bounded time. No fd or thread leak in
// the program or in its helper, the helper's memory stays bounded, no error.
// (With the helper as a thread of the program, the default for root, the
// helper's figures are the whole program's.)
#include <gtest/gtest.h>

#include <atomic>
#include <dirent.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack.h"

using namespace vdetest;

namespace {
constexpr const char* kVnl = "vxvde://234.0.0.1";

// The helper process, or this process when the helper is a thread of it (a
// root program's default): what is measured as the helper's.
pid_t helper_pid() {
    std::ifstream f("/proc/self/task/" + std::to_string(getpid()) + "/children");
    pid_t p = 0;
    f >> p;
    return p > 0 ? p : count_library_threads() > 0 ? getpid() : 0;
}
long rss_kb(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}
// CPU seconds (user + system) the process has used so far.
double cpu_s(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t rp = stat.rfind(')');
    if (rp == std::string::npos) return -1;
    unsigned long ut = 0, st = 0;
    if (std::sscanf(stat.c_str() + rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}
int dir_count(const std::string& path) {
    int n = 0;
    if (DIR* d = opendir(path.c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') n++;
        closedir(d);
    }
    return n;
}
}  // namespace

TEST(Soak, ThousandCreateDeleteCycles) {
    struct vdestack* keep = vde_addstack(const_cast<char*>(kVnl), nullptr);  // keeps one helper: its leaks show
    ASSERT_NE(keep, nullptr);
    pid_t helper = helper_pid();
    ASSERT_GT(helper, 0);
    // warm up, then measure
    for (int i = 0; i < 50; i++) vde_delstack(vde_addstack(const_cast<char*>(kVnl), nullptr));
    // Once the dead stacks are closed and the workers that closed them have
    // gone idle (counted too when the helper is a thread of this process).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    int fds = count_fds(), threads = count_threads();
    int hfds = dir_count("/proc/" + std::to_string(helper) + "/fd");
    int htasks = dir_count("/proc/" + std::to_string(helper) + "/task");
    long hrss = rss_kb(helper);
    for (int i = 0; i < 1000; i++) {
        struct vdestack* s = vde_addstack(const_cast<char*>(kVnl), nullptr);
        ASSERT_NE(s, nullptr) << "cycle " << i << ": " << strerror(errno);
        int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
        ASSERT_GE(fd, 0);
        close(fd);
        vde_delstack(s);
    }
    EXPECT_EQ(settled(count_fds, fds), fds);
    EXPECT_EQ(settled(count_threads, threads), threads);
    // (the baseline may still count stacks the helper is closing aside: no growth is the test)
    EXPECT_TRUE(eventually([&] { return dir_count("/proc/" + std::to_string(helper) + "/fd") <= hfds; }))
        << "helper fds: " << hfds << " -> " << dir_count("/proc/" + std::to_string(helper) + "/fd");
    EXPECT_TRUE(eventually([&] { return dir_count("/proc/" + std::to_string(helper) + "/task") == htasks; }));
    long grown = rss_kb(helper) - hrss;
    std::printf("helper RSS %ld kB -> %ld kB after 1000 cycles\n", hrss, hrss + grown);
#if !defined(__SANITIZE_ADDRESS__)  // ASan's quarantine keeps freed memory on purpose
    EXPECT_LT(grown, 4096) << "helper memory grows with cycles";
#endif
    vde_delstack(keep);
    EXPECT_EQ(settled(count_children, 0), 0);
}

TEST(Soak, HundredConcurrentConnectionsThroughOneStack) {
    struct vdestack* srv = vde_addstack(const_cast<char*>(kVnl), nullptr);
    struct vdestack* cli = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(srv, nullptr);
    ASSERT_NE(cli, nullptr);
    ASSERT_EQ(vde_stackcmd(srv, const_cast<char*>("/bin/ip addr add 10.0.0.50/24 dev vde0; /bin/ip link set vde0 up")), 0);
    ASSERT_EQ(vde_stackcmd(cli, const_cast<char*>("/bin/ip addr add 10.0.0.1/24 dev vde0; /bin/ip link set vde0 up")), 0);
    int l = vde_msocket(srv, AF_INET, SOCK_STREAM, 0);
    socklen_t len;
    sockaddr_storage a = make_addr("10.0.0.50", 5000, len);
    ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), len), 0);
    ASSERT_EQ(listen(l, 128), 0);
    // A first socket of the client stack too: a privileged program keeps a
    // stack's namespace fd from its first socket on (client/client.hpp).
    close(vde_msocket(cli, AF_INET, SOCK_STREAM, 0));
    int fds = quiet_fds();
    std::atomic<bool> stop{false};
    std::atomic<long> errors{0}, bytes{0};
    std::thread acceptor([&] {  // one echo thread per accepted connection
        std::vector<std::thread> echoers;
        for (int i = 0; i < 100; i++) {
            int c = accept(l, nullptr, nullptr);
            if (c < 0) {
                errors++;
                break;
            }
            echoers.emplace_back([c] {
                char buf[4096];
                ssize_t n;
                while ((n = read(c, buf, sizeof buf)) > 0)
                    if (!write_all(c, std::string(buf, static_cast<size_t>(n)))) break;
                close(c);
            });
        }
        for (auto& t : echoers) t.join();
    });
    std::vector<std::thread> clients;
    for (int i = 0; i < 100; i++)
        clients.emplace_back([&, i] {
            int c = -1;
            if (!eventually([&] {
                    c = vde_msocket(cli, AF_INET, SOCK_STREAM, 0);
                    if (connect(c, reinterpret_cast<const sockaddr*>(&a), len) == 0) return true;
                    close(c);
                    return false;
                }, 20)) {
                errors++;
                return;
            }
            std::string msg = "connection " + std::to_string(i) + " says hello\n";
            while (!stop) {
                if (!write_all(c, msg) || read_n(c, msg.size(), 5000) != msg) {
                    errors++;
                    break;
                }
                bytes += static_cast<long>(msg.size());
            }
            close(c);
        });
    std::this_thread::sleep_for(std::chrono::seconds(5));
    stop = true;
    for (auto& t : clients) t.join();
    acceptor.join();
    close(l);
    std::printf("100 connections, 5 s: %ld bytes echoed\n", bytes.load());
    EXPECT_EQ(errors.load(), 0);
    EXPECT_GT(bytes.load(), 100 * 1000);
    EXPECT_EQ(settled(count_fds, fds - 1), fds - 1) << "only the closed listener is gone";
    vde_delstack(cli);
    vde_delstack(srv);
}

TEST(Soak, AnIdleHelperDoesNotSpin) {
    // Busy polling follows traffic only: after a burst of 1-byte echoes (the
    // engines spin between them), an idle helper sleeps. A helper that kept
    // spinning would burn ~1 s of CPU per second here.
    struct vdestack* srv = vde_addstack(const_cast<char*>(kVnl), nullptr);
    struct vdestack* cli = vde_addstack(const_cast<char*>(kVnl), nullptr);
    ASSERT_NE(srv, nullptr);
    ASSERT_NE(cli, nullptr);
    const pid_t helper = helper_pid();
    ASSERT_GT(helper, 0);
    ASSERT_EQ(vde_stackcmd(srv, const_cast<char*>("/bin/ip addr add 10.0.0.50/24 dev vde0; /bin/ip link set vde0 up")), 0);
    ASSERT_EQ(vde_stackcmd(cli, const_cast<char*>("/bin/ip addr add 10.0.0.1/24 dev vde0; /bin/ip link set vde0 up")), 0);
    int l = vde_msocket(srv, AF_INET, SOCK_STREAM, 0);
    socklen_t len;
    sockaddr_storage a = make_addr("10.0.0.50", 5001, len);
    ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), len), 0);
    ASSERT_EQ(listen(l, 1), 0);
    int c = -1;
    ASSERT_TRUE(eventually([&] {
        c = vde_msocket(cli, AF_INET, SOCK_STREAM, 0);
        if (connect(c, reinterpret_cast<const sockaddr*>(&a), len) == 0) return true;
        close(c);
        return false;
    }, 20));
    int s = accept(l, nullptr, nullptr);
    ASSERT_GE(s, 0);
    std::thread echo([s] {
        char b;
        while (read(s, &b, 1) == 1)
            if (write(s, &b, 1) != 1) break;
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    int rounds = 0;
    char b = 'x';
    while (std::chrono::steady_clock::now() < until && write(c, &b, 1) == 1 && read_n(c, 1, 5000).size() == 1) rounds++;
    EXPECT_GT(rounds, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const double before = cpu_s(helper);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double idle = cpu_s(helper) - before;
    std::printf("%d echoes; idle helper: %.2f CPU s in 2 s\n", rounds, idle);
    EXPECT_GE(before, 0);
    EXPECT_LT(idle, 0.2);
    shutdown(c, SHUT_RDWR);
    echo.join();
    close(c);
    close(s);
    close(l);
    vde_delstack(cli);
    vde_delstack(srv);
}
