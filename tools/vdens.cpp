// vdens.cpp - a shell (or a command) in a new user + network namespace whose
// interface vde0 is joined to a VDE network; compatible with Debian's vdens 0.2:
//   vdens [options] [VNL [command [args]]]
//   vdens -m [options] VNL... [-- command [args]]
//
// Theory of operation
// -------------------
// 1. The transports are opened first, in the caller's network namespace (as
//    the reference does: vxvde's sockets must reach the real network).
// 2. unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWUTS[|CLONE_NEWNS]), mapping
//    the caller's uid/gid to themselves: works unprivileged.
// 3. Taps vde0, vde1, ... (prefix -i) are created in the new namespace and,
//    beyond the reference, configured from the command line (--addr,
//    --route, --mtu) through netlink: no `ip` needed.
// 4. The command ($SHELL by default) is forked with the network capabilities
//    ambient, so `ip` and `ping` work inside also for a non-root user.
// 5. This process forwards frames tap <-> network with the same engine as
//    the library (one epoll loop) and waits for the command on a pidfd, so
//    a command that ends is never missed (Debian's vdens may hang there).
// 6. When the command ends, every process it left behind (we are their
//    subreaper) gets SIGTERM, then SIGKILL. While a TCP socket of the
//    namespace still has data to send or a close to finish (the kernel
//    sends them after the program is gone), vdens keeps forwarding, at most
//    3 s; then the transports say goodbye and vdens exits with the
//    command's status (128+N for a signal N).
//
// Exit status: the command's; 1 when set-up fails; 2 on a usage error.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "client/netconf.hpp"
#include "plug/host/tap_device.hpp"
#include "helper/userns.hpp"
#include "base/error.hpp"

namespace {

using vdestack::Error;
using vdestack::UniqueFd;
namespace plug = vdestack::plug;
namespace engine = vdestack::engine;
namespace helper = vdestack::helper;
namespace client = vdestack::client;

struct Options {
    std::vector<std::string> vnls;
    std::vector<std::string> command;
    std::string prefix = "vde";
    std::string resolvconf, resolvaddr, hostname;
    bool sysadm = false;
    std::vector<std::string> addrs, routes;
    unsigned mtu = 0;
    bool up = false;
};

bool no_network(const std::string& vnl) { return vnl.empty() || vnl == "-" || vnl == "no"; }

// Children of ours still alive (we are the subreaper of the command's tree).
std::vector<pid_t> children() {
    std::vector<pid_t> out;
    std::ifstream f("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    pid_t p;
    while (f >> p) out.push_back(p);
    return out;
}

void end_leftovers() {
    auto left = children();
    if (left.empty()) return;
    for (pid_t p : left) ::kill(p, SIGTERM);
    for (int i = 0; i < 20 && !children().empty(); i++) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        ::usleep(25000);
    }
    for (pid_t p : children()) ::kill(p, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0) {
    }
}

// True while a TCP socket of this namespace still needs the network after
// its program is gone: unsent data, or a close not yet acknowledged
// (FIN_WAIT1/2, CLOSING, LAST_ACK, CLOSE_WAIT; /proc/self/net/tcp{,6}, st
// and tx_queue columns). TIME_WAIT and LISTEN do not.
bool tcp_still_talking() {
    for (const char* path : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
        std::ifstream f(path);
        std::string line;
        std::getline(f, line);  // header
        while (std::getline(f, line)) {
            unsigned st = 0, txq = 0;
            // sl local rem st tx_queue:rx_queue ...
            if (std::sscanf(line.c_str(), "%*s %*s %*s %x %x:", &st, &txq) != 2) continue;
            if (st == 0x04 || st == 0x05 || st == 0x08 || st == 0x09 || st == 0x0b) return true;
            if (st == 0x01 && txq != 0) return true;
        }
    }
    return false;
}

pid_t g_child = -1;
void forward_signal(int sig) {
    if (g_child > 0) ::kill(g_child, sig);
}

void bind_resolvconf(const Options& o) {
    std::string src = o.resolvconf;
    if (!o.resolvaddr.empty()) {
        char tmpl[] = "/tmp/vdens-resolv.XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) vdestack::fail_errno("mkstemp");
        std::string text;
        std::string list = o.resolvaddr;
        for (std::size_t pos = 0; pos <= list.size();) {
            std::size_t comma = list.find(',', pos);
            if (comma == std::string::npos) comma = list.size();
            if (comma > pos) text += "nameserver " + list.substr(pos, comma - pos) + "\n";
            pos = comma + 1;
        }
        (void)!::write(fd, text.data(), text.size());
        ::close(fd);
        src = tmpl;
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) vdestack::fail_errno("mount(private /)");
    if (::mount(src.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
        vdestack::fail_errno("bind mount " + src + " on /etc/resolv.conf");
    if (!o.resolvaddr.empty()) ::unlink(src.c_str());  // the mount keeps it
}

int run(const Options& o) {
    const vdestack::Tuning tuning = vdestack::Tuning::from_env();
    // 1. transports, in the caller's namespace
    std::vector<std::unique_ptr<plug::Transport>> links;
    for (const auto& vnl : o.vnls)
        if (!no_network(vnl)) links.push_back(plug::open_transport(vnl, {"vdens", tuning}));

    // 2. namespaces
    int flags = CLONE_NEWNET | CLONE_NEWUTS;
    if (!o.resolvconf.empty() || !o.resolvaddr.empty()) flags |= CLONE_NEWNS;
    helper::enter_user_namespace();
    if (::unshare(flags) != 0) vdestack::fail_errno("unshare");
    if (!o.hostname.empty() && ::sethostname(o.hostname.data(), o.hostname.size()) != 0)
        vdestack::fail_errno("sethostname");
    if (flags & CLONE_NEWNS) bind_resolvconf(o);

    // 3. taps and their configuration
    std::unique_ptr<engine::Fabric> fabric = tuning.fabric ? std::make_unique<engine::Fabric>() : nullptr;
    engine::Engine engine(tuning, fabric.get());
    std::vector<std::string> ifnames;
    for (std::size_t i = 0; i < links.size(); i++) {
        auto e = std::make_unique<engine::StackEntry>();
        e->id = i + 1;
        e->ifname = o.prefix + std::to_string(i);
        e->vnl = links[i]->vnl();
        e->tap = plug::open_tap_device(e->ifname, tuning.offload);
        e->link = std::move(links[i]);
        ifnames.push_back(e->ifname);
        engine.add(std::move(e));
    }
    if (!ifnames.empty()) client::configure_interface(ifnames[0], o.addrs, o.routes, o.mtu, o.up);

    // 4. the command
    std::vector<std::string> cmd = o.command;
    if (cmd.empty()) {
        const char* sh = ::getenv("SHELL");
        cmd.emplace_back(sh != nullptr && *sh != '\0' ? sh : "/bin/sh");
    }
    std::vector<char*> argv;
    for (auto& a : cmd) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    ::signal(SIGINT, SIG_IGN);  // the terminal's signals are for the command
    ::signal(SIGQUIT, SIG_IGN);
    g_child = ::fork();
    if (g_child < 0) vdestack::fail_errno("fork");
    if (g_child == 0) {
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGQUIT, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        (void)helper::raise_net_ambient_caps(o.sysadm);
        ::execvp(argv[0], argv.data());
        std::fprintf(stderr, "vdens: %s: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, g_child, 0)));
    if (!pidfd) vdestack::fail_errno("pidfd_open");

    // 5. forward until the command ends
    engine.set_control(pidfd.get(), [] { return false; });
    engine.run();
    int ws = 0;
    while (::waitpid(g_child, &ws, 0) < 0 && errno == EINTR) {
    }
    // 6. nothing left behind; then, as the command's last data and its
    // closing handshakes are still in the namespace's sockets (the kernel
    // sends them after the program is gone), keep forwarding until they are
    // through, checked every 20 ms, at most kLingerMs.
    end_leftovers();
    pidfd.reset();  // out of the epoll set: it stays readable
    UniqueFd tick(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (tick && tcp_still_talking()) {
        constexpr long kLingerMs = 3000, kTickMs = 20;
        itimerspec its{};
        its.it_value.tv_nsec = its.it_interval.tv_nsec = kTickMs * 1000000L;
        ::timerfd_settime(tick.get(), 0, &its, nullptr);
        long left = kLingerMs / kTickMs;
        engine.set_control(tick.get(), [&tick, &left] {
            std::uint64_t n = 0;
            (void)!::read(tick.get(), &n, sizeof n);
            return --left > 0 && tcp_still_talking();
        });
        engine.run();
    }
    engine.remove_all();
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool multi = false, clone_flag = false, unshare_flag = false;
    CLI::App app{"vdens: a shell or a command in a new user + network namespace whose vde0 is joined to a VDE "
                 "network.\n  vdens [options] [VNL [command [args]]]\n  vdens -m [options] VNL... [-- command [args]]\n"
                 "VNL '-', 'no' or empty: no interface. The command defaults to $SHELL.",
                 "vdens"};
    app.prefix_command();
    app.add_flag("-m,--multi", multi, "one interface per VNL (vde0, vde1, ...); the command follows --");
    app.add_option("-i,--iface", o.prefix, "interface name prefix (default vde)");
    app.add_option("-r,--resolvconf", o.resolvconf, "file bind-mounted on /etc/resolv.conf")->envname("VDE_RESOLVCONF");
    app.add_option("-R,--resolvaddr", o.resolvaddr, "name servers, comma separated, as /etc/resolv.conf")
        ->envname("VDE_RESOLVADDR");
    app.add_option("-H,--hostname", o.hostname, "host name in the namespace");
    app.add_flag("-s,--sysadm", o.sysadm, "also grant CAP_SYS_ADMIN to the command");
    app.add_flag("-c,--clone", clone_flag, "accepted for compatibility (no effect)");
    app.add_flag("-u,--unshare", unshare_flag, "accepted for compatibility (no effect)");
    app.add_option("--addr", o.addrs, "address of vde0, e.g. 10.0.0.1/24 or fc00::1:1/64 (repeatable; brings vde0 up)")
        ->allow_extra_args(false);
    app.add_option("--route", o.routes, "route DEST,GATEWAY via vde0, DEST 'default' or a prefix (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--mtu", o.mtu, "MTU of vde0");
    app.add_flag("--up", o.up, "bring vde0 up (implied by --addr and --route)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    std::vector<std::string> rest = app.remaining();
    if (multi) {
        auto dd = std::find(rest.begin(), rest.end(), "--");
        o.vnls.assign(rest.begin(), dd);
        if (dd != rest.end()) o.command.assign(dd + 1, rest.end());
    } else if (!rest.empty()) {
        o.vnls.push_back(rest[0]);
        o.command.assign(rest.begin() + 1, rest.end());
        if (!o.command.empty() && o.command[0] == "--") o.command.erase(o.command.begin());
    }
    for (const auto& v : o.vnls)
        if (v.size() > 1 && v[0] == '-') {
            std::fprintf(stderr, "vdens: unknown option %s (see --help)\n", v.c_str());
            return 2;
        }
    bool has_net = std::any_of(o.vnls.begin(), o.vnls.end(), [](const std::string& v) { return !no_network(v); });
    if ((!o.addrs.empty() || !o.routes.empty() || o.mtu != 0 || o.up) && !has_net) {
        std::fprintf(stderr, "vdens: --addr, --route, --mtu and --up need a VNL\n");
        return 2;
    }
    if (!o.addrs.empty() || !o.routes.empty()) o.up = true;
    ::signal(SIGPIPE, SIG_IGN);
    try {
        return run(o);
    } catch (const Error& e) {
        std::fprintf(stderr, "vdens: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vdens: %s\n", e.what());
        return 1;
    }
}
