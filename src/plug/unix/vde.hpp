// vde.hpp - the vde:// transport: a client of a classic vde_switch (vde2) or
// of a vdeplug4 / vdestack++ switch:// or hub:// node, wire-compatible with
// vdeplug4's libvdeplug_vde.
//
//   vde://[ctl_dir][[port#|portgroup][/port=N][/portgroup=NAME][/group=G][/mode=OCT]]
//
// See vde.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens a vde transport. `vnl` is the whole locator (for messages), `rest`
// what follows "vde://" (or the whole bare path). Performs the whole
// handshake with the switch (bounded wait, 5 s). poll_fds() returns {data
// socket, control stream}, in that order. Throws vdestack::Error: EINVAL bad
// option, ENOENT / ECONNREFUSED no switch at that path, ETIMEDOUT the switch
// did not answer, ECONNREFUSED the switch closed the connection instead of
// answering, errno of the failing call otherwise.
std::unique_ptr<Transport> open_vde(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
