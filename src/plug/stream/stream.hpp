// stream.hpp - a transport over a pair of byte-stream fds (pipes, a tty, a
// stream socket) speaking the VDE stream framing (wire/stream.hpp): what
// vde_plug uses on stdin/stdout and what cmd:// uses with its command.
//
// The fds are owned (closed on destruction) unless `own` is false (stdin and
// stdout). Reading never blocks: the transport reads only what FIONREAD says
// is there, so the fd's file status flags (shared with other processes for
// stdin) are left alone. Writing blocks until the whole record is out: the
// framing must never be torn, and the peer is a pipe or a tty.
// EOF on input is a dead link (-EPIPE) once buffered frames are delivered.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plug/transport.hpp"
#include "base/fd.hpp"

namespace vdestack::plug {

std::unique_ptr<Transport> open_stream(std::string_view name, int in_fd, int out_fd, bool own);

}  // namespace vdestack::plug
