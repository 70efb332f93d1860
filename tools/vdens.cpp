// vdens.cpp - a shell (or a command) in a new user + network namespace whose
// interface vde0 is joined to a VDE network; compatible with Debian's vdens 0.2:
//   vdens [options] [VNL [command [args]]]
//   vdens -m [options] VNL... [-- command [args]]
//
// Theory of operation
// -------------------
// 1. The transports are opened first, in the caller's namespaces (as the
//    reference does: vxvde's sockets must reach the real network). A
//    vdeplug4 plugin may start threads there (slirp does).
// 2. unshare(CLONE_NEWUSER) refuses a multithreaded process, so the new
//    namespaces belong to a child, the *namespace side*: it enters a new user
//    + network + UTS (+ mount) namespace mapping the caller's uid/gid to
//    themselves (works unprivileged), creates the taps vde0, vde1, ...
//    (prefix -i) and sends them over a SEQPACKET socketpair (SCM_RIGHTS) to
//    this process, the *network side*, or a message saying why it could not.
// 3. The network side forwards frames tap <-> network with the same engine
//    as the library (one epoll loop) until the namespace side ends (pidfd).
// 4. Meanwhile the namespace side configures the interfaces: --addr,
//    --route, --mtu through netlink (no `ip` needed), then each --config
//    string (--dhcp: "eth,dhcp") as ioth_config() does (src/conf). The
//    resolv.conf text that configuration gives is bind-mounted on
//    /etc/resolv.conf (unless -r/-R name one) and rewritten when a renewed
//    lease changes it.
// 5. It forks the command ($SHELL by default) with the network capabilities
//    ambient, so `ip` and `ping` work inside also for a non-root user, and
//    waits for it on a pidfd (a command that ends is never missed: Debian's
//    vdens may hang there), renewing the DHCP leases meanwhile.
// 6. When the command ends, every process it left behind (the namespace
//    side is their subreaper) gets SIGTERM, then SIGKILL. While a TCP socket
//    of the namespace still has data to send or a close to finish (the
//    kernel sends them after the program is gone), the namespace side waits,
//    at most 3 s, the network side forwarding; then it exits with the
//    command's status, the transports say goodbye, and vdens exits with it
//    (128+N for a signal N).
// Signals: SIGINT and SIGQUIT (the terminal's) are the command's; SIGTERM
// and SIGHUP go down, network side -> namespace side -> command. When the
// network side dies, the namespace side gets SIGHUP.
//
// Exit status: the command's; 1 when set-up fails; 2 on a usage error.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/scm.hpp"
#include "client/netconf.hpp"
#include "conf/config.hpp"
#include "conf/configurator.hpp"
#include "conf/netops.hpp"
#include "engine/engine.hpp"
#include "helper/userns.hpp"
#include "device/tap_device.hpp"

namespace {

using vdestack::Error;
using vdestack::UniqueFd;
namespace device = vdestack::device;
namespace plug = vdestack::plug;
namespace engine = vdestack::engine;
namespace helper = vdestack::helper;
namespace client = vdestack::client;
namespace conf = vdestack::conf;

struct Options {
    std::vector<std::string> vnls;
    std::vector<std::string> command;
    std::string prefix = "vde";
    std::string resolvconf, resolvaddr, hostname;
    bool sysadm = false;
    std::vector<std::string> addrs, routes;
    unsigned mtu = 0;
    bool up = false;
    std::vector<std::string> configs;  // --config strings (--dhcp: "eth,dhcp"), in order
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

pid_t g_child = -1;  // where SIGTERM and SIGHUP go: the namespace side, or the command
void forward_signal(int sig) {
    if (g_child > 0) ::kill(g_child, sig);
}
void forward_signals_to(pid_t pid) {
    g_child = pid;
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
}

// /etc/resolv.conf of the namespace: a file bind-mounted on it (the mount
// namespace is ours), or a text of ours, written to a file mounted once and
// rewritten in place afterwards.
class ResolvConf {
public:
    void mount_file(const std::string& path) {
        if (!private_) {
            if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
                vdestack::fail_errno("mount(private /)");
            private_ = true;
        }
        if (::mount(path.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
            vdestack::fail_errno("bind mount " + path + " on /etc/resolv.conf");
        mounted_ = true;
    }
    void publish(const std::string& text) {
        if (mounted_) {
            UniqueFd f(::open("/etc/resolv.conf", O_WRONLY | O_TRUNC | O_CLOEXEC));
            if (!f || ::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
                vdestack::fail_errno("rewriting /etc/resolv.conf");
            return;
        }
        char tmpl[] = "/tmp/vdens-resolv.XXXXXX";
        UniqueFd f(::mkstemp(tmpl));
        if (!f) vdestack::fail_errno("mkstemp");
        const bool written = ::write(f.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
        f.reset();
        try {
            if (!written) vdestack::fail_errno(std::string("writing ") + tmpl);
            mount_file(tmpl);
        } catch (...) {
            ::unlink(tmpl);
            throw;
        }
        ::unlink(tmpl);  // the mount keeps it
    }

private:
    bool private_ = false, mounted_ = false;
};

// -R's list as resolv.conf text.
std::string nameservers(const std::string& list) {
    std::string text;
    for (std::size_t pos = 0; pos <= list.size();) {
        std::size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        if (comma > pos) text += "nameserver " + list.substr(pos, comma - pos) + "\n";
        pos = comma + 1;
    }
    return text;
}

// The --config strings, parsed (each already checked by main()); those
// without iface= or ifindex= are for the first interface.
std::vector<conf::ConfigRequest> config_requests(const Options& o, const std::string& first_if) {
    std::vector<conf::ConfigRequest> out;
    for (const auto& c : o.configs) {
        conf::ConfigRequest r = conf::parse_config(c);
        if (r.iface.empty() && r.ifindex == 0) r.iface = first_if;
        out.push_back(std::move(r));
    }
    return out;
}

// How the namespace side tells the network side about its taps: 'T' with
// the taps attached, or 'E' and why there are none.
constexpr char kTaps = 'T', kFailed = 'E';

// Steps 2 and 4-6 in the child: returns its exit status; throws Error.
int namespace_side(const Options& o, std::size_t ntaps, int chan, bool& taps_sent) {
    const vdestack::Tuning tuning = vdestack::Tuning::from_env();
    ::prctl(PR_SET_PDEATHSIG, SIGHUP);
    int flags = CLONE_NEWNET | CLONE_NEWUTS;
    if (!o.resolvconf.empty() || !o.resolvaddr.empty() || !o.configs.empty()) flags |= CLONE_NEWNS;
    helper::enter_user_namespace();
    if (::unshare(flags) != 0) vdestack::fail_errno("unshare");
    if (!o.hostname.empty() && ::sethostname(o.hostname.data(), o.hostname.size()) != 0)
        vdestack::fail_errno("sethostname");
    ResolvConf resolv;
    if (!o.resolvconf.empty()) resolv.mount_file(o.resolvconf);
    if (!o.resolvaddr.empty()) resolv.publish(nameservers(o.resolvaddr));
    const bool publish_dns = o.resolvconf.empty() && o.resolvaddr.empty();

    std::vector<std::string> ifnames;
    {
        std::vector<UniqueFd> taps;
        std::vector<int> fds;
        for (std::size_t i = 0; i < ntaps; i++) {
            ifnames.push_back(o.prefix + std::to_string(i));
            taps.push_back(device::open_tap_device(ifnames.back(), tuning.offload));
            fds.push_back(taps.back().get());
        }
        const std::byte tag{static_cast<unsigned char>(kTaps)};
        if (vdestack::send_with_fds(chan, {&tag, 1}, fds) < 0) vdestack::fail_errno("sending the taps");
        taps_sent = true;
    }  // the network side holds them now

    // 4. configuration, forwarded by the network side
    if (!ifnames.empty()) client::configure_interface(ifnames[0], o.addrs, o.routes, o.mtu, o.up);
    conf::LibcOps ops;
    conf::Configurator configurator(ops);
    const std::vector<conf::ConfigRequest> requests = config_requests(o, ifnames.empty() ? "" : ifnames[0]);
    for (const auto& r : requests) {
        const conf::Configurator::Result res = configurator.configure(r);
        if (res.err != 0) std::fprintf(stderr, "vdens: %s\n", res.message.c_str());
        if (r.debug) std::fprintf(stderr, "%s\n", res.debug.c_str());
    }
    auto update_dns = [&] {
        if (!publish_dns || requests.empty()) return;
        if (auto text = configurator.resolvconf(requests[0].iface, requests[0].ifindex)) resolv.publish(*text);
    };
    update_dns();

    // 5. the command
    std::vector<std::string> cmd = o.command;
    if (cmd.empty()) {
        const char* sh = ::getenv("SHELL");
        cmd.emplace_back(sh != nullptr && *sh != '\0' ? sh : "/bin/sh");
    }
    std::vector<char*> argv;
    for (auto& a : cmd) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const pid_t child = ::fork();
    if (child < 0) vdestack::fail_errno("fork");
    if (child == 0) {
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGQUIT, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        ::prctl(PR_SET_PDEATHSIG, 0);
        (void)helper::raise_net_ambient_caps(o.sysadm);
        ::execvp(argv[0], argv.data());
        std::fprintf(stderr, "vdens: %s: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    forward_signals_to(child);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    if (!pidfd) vdestack::fail_errno("pidfd_open");
    for (;;) {
        const auto next = configurator.next_lease_work();
        int timeout = -1;
        if (next != conf::SteadyTime::max()) {
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
            timeout = static_cast<int>(std::clamp<long long>(ms.count(), 0, 3600000));
        }
        pollfd p{pidfd.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, timeout);
        if (r > 0) break;
        if (r < 0 && errno != EINTR) vdestack::fail_errno("poll");
        if (r == 0) {
            configurator.lease_work(std::chrono::steady_clock::now());
            try {
                update_dns();
            } catch (const Error& e) {
                std::fprintf(stderr, "vdens: %s\n", e.what());
            }
        }
    }
    int ws = 0;
    while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
    }
    // 6. nothing left behind; the command's last data and closing handshakes
    // get out (checked every 20 ms, at most 3 s) while the network side
    // forwards.
    end_leftovers();
    for (int i = 0; i < 150 && tcp_still_talking(); i++) ::usleep(20000);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

int run(const Options& o) {
    const vdestack::Tuning tuning = vdestack::Tuning::from_env();
    // 1. transports, in the caller's namespaces
    std::vector<std::unique_ptr<plug::Transport>> links;
    for (const auto& vnl : o.vnls)
        if (!no_network(vnl)) links.push_back(plug::open_transport(vnl, {"vdens", tuning}));

    // 2. the namespace side
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) vdestack::fail_errno("socketpair");
    UniqueFd chan(sv[0]), theirs(sv[1]);
    ::signal(SIGINT, SIG_IGN);  // the terminal's signals are for the command
    ::signal(SIGQUIT, SIG_IGN);
    const pid_t ns = ::fork();
    if (ns < 0) vdestack::fail_errno("fork");
    if (ns == 0) {
        chan.reset();
        bool taps_sent = false;
        int status = 1;
        try {
            status = namespace_side(o, links.size(), theirs.get(), taps_sent);
        } catch (const std::exception& e) {
            if (taps_sent) {
                std::fprintf(stderr, "vdens: %s\n", e.what());
            } else {
                std::string msg = std::string(1, kFailed) + e.what();
                (void)vdestack::send_with_fds(theirs.get(), std::as_bytes(std::span(msg.data(), msg.size())), {});
            }
        }
        std::fflush(nullptr);
        ::_exit(status);
    }
    theirs.reset();
    forward_signals_to(ns);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ns, 0)));
    auto status_of_ns = [ns] {
        int ws = 0;
        while (::waitpid(ns, &ws, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    };

    // 3. its taps, forwarded until it ends
    std::array<std::byte, 1024> buf{};
    std::vector<UniqueFd> taps;
    const ssize_t n = vdestack::recv_with_fds(chan.get(), buf, taps, links.size() + 1);
    if (n <= 0 || static_cast<char>(buf[0]) != kTaps || taps.size() != links.size()) {
        const int status = status_of_ns();
        if (n > 1 && static_cast<char>(buf[0]) == kFailed)  // its error, whole
            std::fprintf(stderr, "vdens: %.*s\n", static_cast<int>(n - 1), reinterpret_cast<const char*>(buf.data()) + 1);
        else if (n < 0)
            std::fprintf(stderr, "vdens: receiving the taps: %s\n", std::strerror(static_cast<int>(-n)));
        return status != 0 ? status : 1;
    }
    if (!pidfd) vdestack::fail_errno("pidfd_open");
    std::unique_ptr<engine::Fabric> fabric = tuning.fabric ? std::make_unique<engine::Fabric>() : nullptr;
    engine::Engine engine(tuning, fabric.get());
    for (std::size_t i = 0; i < links.size(); i++) {
        auto e = std::make_unique<engine::StackEntry>();
        e->id = i + 1;
        e->ifname = o.prefix + std::to_string(i);
        e->vnl = links[i]->vnl();
        e->tap = std::move(taps[i]);
        e->link = std::move(links[i]);
        engine.add(std::move(e));
    }
    engine.set_control(pidfd.get(), [] { return false; });
    engine.run();
    const int status = status_of_ns();
    engine.remove_all();
    return status;
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
    bool dhcp = false;
    app.add_option("--config", o.configs,
                   "configure as ioth_config does, e.g. \"eth,dhcp\" or \"eth,ip=10.0.0.1/24,gw=10.0.0.254\" "
                   "(iothconf(3); repeatable; the interface defaults to the first)")
        ->allow_extra_args(false);
    app.add_flag("--dhcp", dhcp, "the same as --config eth,dhcp: a DHCP lease, renewed while the command runs");
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
    if (dhcp) o.configs.insert(o.configs.begin(), "eth,dhcp");
    if ((!o.addrs.empty() || !o.routes.empty() || o.mtu != 0 || o.up || !o.configs.empty()) && !has_net) {
        std::fprintf(stderr, "vdens: --addr, --route, --mtu, --up, --config and --dhcp need a VNL\n");
        return 2;
    }
    for (const auto& c : o.configs) {
        try {
            (void)conf::parse_config(c);
        } catch (const Error& e) {
            std::fprintf(stderr, "vdens: --config %s: %s\n", c.c_str(), e.what());
            return 2;
        }
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
