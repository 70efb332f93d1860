// dnsmasq.hpp - a real DHCP server for the configuration tests: Debian's
// dnsmasq (dnsmasq-base) run in a network namespace of the test's own (a
// stack's, entered through a socket's SIOCGSKNS, or a NetnsHolder's), and a
// holder of a spare network namespace for a veth peer. Each is killed and
// reaped on destruction. Part of the tests' support library; StackDnsmasq
// needs libvdestack (the stack tests).
#pragma once

#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/proc.hpp"
#include "vdestack/stack.hpp"

namespace vdetest {

inline bool have_dnsmasq() { return ::access("/usr/sbin/dnsmasq", X_OK) == 0; }

// A child process that sits in a network namespace of its own until
// destroyed: the other end of a veth pair goes there ("ip link add a type
// veth peer name b netns <pid()>").
class NetnsHolder {
public:
    NetnsHolder() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
            (void)!::write(p[1], &ok, 1);
            for (;;) ::pause();
        }
        ::close(p[1]);
        char ok = 'n';
        (void)!::read(p[0], &ok, 1);
        ::close(p[0]);
        if (ok != 'y') throw std::runtime_error("NetnsHolder: unshare(CLONE_NEWNET) failed");
        fd_ = ::open(("/proc/" + std::to_string(pid_) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("NetnsHolder: open ns/net");
    }
    ~NetnsHolder() {
        if (fd_ >= 0) ::close(fd_);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    NetnsHolder(const NetnsHolder&) = delete;
    NetnsHolder& operator=(const NetnsHolder&) = delete;
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
};

// dnsmasq serving DHCP on `iface` (10.0.9.1/24: lease range .50-.59, 2 min,
// router 10.0.9.1, DNS 10.0.9.1 and .2, domain test.lan, search a.lan b.lan)
// in the namespace `netns` (an fd; the caller keeps it). `setup` runs there
// first, through sh (e.g. to give iface its address). Ready when built.
class Dnsmasq {
public:
    Dnsmasq(int netns, const std::string& iface, const std::vector<std::string>& extra, const std::string& dir,
            const std::string& setup = {})
        : log_(dir + "/log") {
        std::vector<std::string> args = {"/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                         "--port=0", "--interface=" + iface, "--bind-interfaces", "--user=root",
                                         "--log-dhcp", "--log-facility=" + log_, "--no-ping",
                                         "--dhcp-leasefile=" + dir + "/leases", "--pid-file=" + dir + "/pid",
                                         "--dhcp-range=10.0.9.50,10.0.9.59,255.255.255.0,2m",
                                         "--dhcp-option=option:router,10.0.9.1",
                                         "--dhcp-option=option:dns-server,10.0.9.1,10.0.9.2",
                                         "--domain=test.lan", "--dhcp-option=option:domain-search,a.lan,b.lan"};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::setns(netns, CLONE_NEWNET) != 0) ::_exit(126);
            if (!setup.empty() && std::system(setup.c_str()) != 0) ::_exit(125);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        // Ready once it logs that it serves the range.
        if (!eventually([&] { return log().find("DHCP, IP range") != std::string::npos; }, 10))
            std::cerr << "dnsmasq did not start: " << log() << "\n";
    }
    ~Dnsmasq() {
        if (::getenv("VDESTACK_TEST_DNSMASQ_LOG") != nullptr) std::cerr << log();
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Dnsmasq(const Dnsmasq&) = delete;
    Dnsmasq& operator=(const Dnsmasq&) = delete;
    [[nodiscard]] std::string log() const {
        std::ifstream f(log_);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    [[nodiscard]] int count(const std::string& what) const {
        const std::string l = log();
        int n = 0;
        for (std::size_t at = l.find(what); at != std::string::npos; at = l.find(what, at + 1)) n++;
        return n;
    }

private:
    std::string log_;
    pid_t pid_ = -1;
};

// The network namespace of a socket (an fd, the caller closes it; -1 on error).
inline int netns_of_fd(int sock) { return ::ioctl(sock, SIOCGSKNS); }

// The namespace of a stack whose vde0 got 10.0.9.1/24 and went up.
struct ServerNetns {
    explicit ServerNetns(vde::Stack& server) {
        server.add_address("10.0.9.1/24");
        server.link_up();
        vde::Socket s = server.socket(AF_INET, SOCK_DGRAM);
        fd = netns_of_fd(s.get());
        if (fd < 0) throw std::runtime_error("SIOCGSKNS");
    }
    ~ServerNetns() { ::close(fd); }
    ServerNetns(const ServerNetns&) = delete;
    ServerNetns& operator=(const ServerNetns&) = delete;
    int fd = -1;
};

// dnsmasq on the vde0 of `server`, a stack of ours (10.0.9.1/24).
class StackDnsmasq : private ServerNetns, public Dnsmasq {
public:
    StackDnsmasq(vde::Stack& server, const std::vector<std::string>& extra, const std::string& dir)
        : ServerNetns(server), Dnsmasq(ServerNetns::fd, "vde0", extra, dir) {}
};

}  // namespace vdetest
