// vde_plug.cpp - joins two VDE networks, or one network and a byte stream,
// compatible with vdeplug4's vde_plug:
//   vde_plug [options] VNL1 VNL2       a cable between two networks
//   vde_plug [options] [VNL]           the network on stdin/stdout, stream framing
//   vde_plug [options] [VNL] = CMD...  the network on CMD's stdin/stdout
// Stream framing is the 2-byte big-endian length before each frame; a length
// split across reads is handled (the reference loses sync there).
//
// Exit status: 0 when a side closes (EOF, hang-up) or on SIGTERM/SIGINT, the
// command's status with "= CMD", 1 on a runtime error, 2 on a usage error.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "plug/bridge.hpp"
#include "plug/stream/stream.hpp"
#include "plug/transport.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"

extern char** environ;

namespace {

using vdestack::UniqueFd;
namespace plug = vdestack::plug;

int run(int argc, char** argv) {
    // Everything after a lone "=" is the command.
    std::vector<std::string> command;
    int split = argc;
    for (int i = 1; i < argc; i++)
        if (std::string_view(argv[i]) == "=") {
            split = i;
            break;
        }
    for (int i = split + 1; i < argc; i++) command.emplace_back(argv[i]);

    CLI::App app{"vde_plug: join two VDE networks (a cable), or a network and stdin/stdout or a command.\n"
                 "  vde_plug [options] VNL1 VNL2\n  vde_plug [options] [VNL]\n  vde_plug [options] [VNL] = command [args]",
                 "vde_plug"};
    std::vector<std::string> vnls;
    bool daemon = false;
    std::string pidfile, descr = "vdeplug:";
    app.add_option("vnl", vnls, "VDE network locators (vxvde://, vde://, null://, ...)")->expected(0, 2);
    app.add_flag("-d,--daemon", daemon, "run in the background (two VNLs or a command only)");
    app.add_option("-p,--pidfile", pidfile, "write the process id to this file");
    app.add_option("-D,--descr", descr, "description shown by switches");
    try {
        app.parse(split, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (split < argc && command.empty()) {
        std::fprintf(stderr, "vde_plug: '=' needs a command\n");
        return 2;
    }
    if (!command.empty() && vnls.size() > 1) {
        std::fprintf(stderr, "vde_plug: with '= command' give at most one VNL\n");
        return 2;
    }
    bool streaming = vnls.size() < 2 && command.empty();
    if (daemon && streaming) {
        std::fprintf(stderr, "vde_plug: --daemon needs two VNLs or a command (stdin/stdout would be lost)\n");
        return 2;
    }

    ::signal(SIGPIPE, SIG_IGN);
    plug::OpenOptions opts;
    opts.descr = descr;
    opts.tuning = vdestack::Tuning::from_env();
    std::unique_ptr<plug::Transport> a, b;
    pid_t child = -1;
    try {
        a = plug::open_transport(vnls.empty() ? "" : vnls[0], opts);
        if (vnls.size() == 2) {
            b = plug::open_transport(vnls[1], opts);
        } else if (command.empty()) {
            b = plug::open_stream("stdio", 0, 1, false);
        } else {
            int to_child[2], from_child[2];
            if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
                vdestack::fail_errno("pipe2");
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
            posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
            std::vector<char*> av;
            for (auto& c : command) av.push_back(c.data());
            av.push_back(nullptr);
            int rc = ::posix_spawnp(&child, av[0], &fa, nullptr, av.data(), environ);
            posix_spawn_file_actions_destroy(&fa);
            ::close(to_child[0]);
            ::close(from_child[1]);
            if (rc != 0) {
                ::close(to_child[1]);
                ::close(from_child[0]);
                vdestack::fail(rc, "cannot run " + command[0]);
            }
            b = plug::open_stream(command[0], from_child[0], to_child[1], true);
        }
    } catch (const vdestack::Error& e) {
        std::fprintf(stderr, "vde_plug: %s\n", e.what());
        if (child > 0) ::waitpid(child, nullptr, 0);
        return 1;
    }

    if (daemon && ::daemon(0, 0) != 0) {
        std::perror("vde_plug: daemon");
        return 1;
    }
    if (!pidfile.empty()) {
        std::ofstream pf(pidfile);
        pf << ::getpid() << "\n";
        if (!pf) {
            std::fprintf(stderr, "vde_plug: cannot write %s\n", pidfile.c_str());
            return 1;
        }
    }
    // SIGTERM/SIGINT/SIGHUP end the cable cleanly (transports say goodbye).
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    ::sigprocmask(SIG_BLOCK, &stop, nullptr);
    UniqueFd sfd(::signalfd(-1, &stop, SFD_CLOEXEC));
    plug::BridgeStats st = plug::bridge(*a, *b, opts.tuning.spin_us, sfd.get());
    int status = 0;
    if (st.dead_side >= 0 && st.error != EPIPE && st.error != ECONNRESET) {
        const auto& dead = st.dead_side == 0 ? *a : *b;
        std::fprintf(stderr, "vde_plug: %s: %s\n", dead.vnl().c_str(), std::strerror(st.error));
        status = 1;
    }
    b.reset();  // closes the command's pipes: it sees EOF
    a.reset();
    if (child > 0) {
        int ws = 0;
        while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
        }
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    if (!pidfile.empty()) ::unlink(pidfile.c_str());
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vde_plug: %s\n", e.what());
        return 1;
    }
}
