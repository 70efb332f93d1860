// seqpacket.hpp - the seqpacket:// transport: frames over an inherited
// SOCK_SEQPACKET socket, compatible with vdeplug4 4.0.1's
// libvdeplug_seqpacket (what libvdeplug4_static hands to vde_plug).
//
//   seqpacket://FD      FD: the socket's number (decimal, 0x hex or 0 octal)
//
// See seqpacket.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens a seqpacket transport on the open fd named by `rest`. On success the
// transport OWNS the fd (closes it on destruction, marks it close-on-exec); on
// failure the fd is left alone. poll_fds() returns {FD}. Throws
// vdestack::Error: EINVAL not a number, or not a SOCK_SEQPACKET socket
// (ENOTSOCK: not a socket), EBADF not an open fd.
std::unique_ptr<Transport> open_seqpacket(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
