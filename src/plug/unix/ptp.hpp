// ptp.hpp - the ptp:// transport: a point-to-point cable between exactly two
// processes over two AF_UNIX datagram sockets, wire-compatible with DEBIAN's
// vdeplug4 4.0.1 libvdeplug_ptp (not with the 2025 upstream rewrite, which uses
// one SOCK_SEQPACKET socket; see ptp.cpp).
//
//   ptp://PATH        the first end binds PATH, the second end binds PATH+
//
// See ptp.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens one end of a ptp cable. `vnl` is the whole locator (for messages),
// `rest` what follows "ptp://": the socket path, used verbatim (no options, as
// in vdeplug4). The end is chosen at open: the first end if PATH is free (or a
// stale socket, which is removed), else the second end. poll_fds() returns
// {data socket, peer-check timer}. Throws vdestack::Error: EINVAL empty or too
// long path, EADDRINUSE both ends already taken or PATH is not a socket, errno
// of the failing call otherwise (ENOENT/EACCES for the directory, ...).
std::unique_ptr<Transport> open_ptp(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
