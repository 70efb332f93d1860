// cmd.hpp - the cmd:// transport: the network is a command's stdin/stdout in
// the VDE stream framing, compatible with vdeplug4 4.0.1's libvdeplug_cmd.
//
//   cmd://COMMAND ARGS          e.g. cmd://"ssh host vde_plug vxvde://"
//
// See cmd.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Spawns the command (PATH search, no shell) with pipes on its stdin and
// stdout. poll_fds() returns {the command's stdout, a pidfd that becomes
// readable when it exits} (just the first when pidfds are unavailable). The
// command's exit, or EOF on its stdout, makes the link dead (-EPIPE). The
// destructor closes the pipes, sends SIGTERM, waits (bounded), SIGKILLs if
// needed, and reaps it. Throws vdestack::Error: EINVAL no command or several
// (';'), errno of pipe2()/posix_spawnp() otherwise (ENOENT: no such program).
std::unique_ptr<Transport> open_cmd(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
