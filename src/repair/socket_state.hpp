// socket_state.hpp - a socket's whole state read out and rebuilt elsewhere:
// the socket half of moving a live stack (vde_stack_save/restore). TCP
// connections through the kernel's TCP_REPAIR, listeners and UDP sockets
// through their addresses; the records are the image's
// (wire/stack_image.hpp).
//
// Theory of operation
// -------------------
// capture(fd) puts an established TCP socket in repair mode and reads,
// without disturbing it: the send queue's and receive queue's sequence
// numbers (TCP_QUEUE_SEQ), their bytes (MSG_PEEK on each queue; SIOCOUTQ,
// SIOCOUTQNSD and SIOCINQ say how many, and how many were never sent), the
// options the handshake agreed (TCP_INFO: timestamps, SACK, window
// scales; TCP_MAXSEG), the timestamp clock (TCP_TIMESTAMP), the windows
// (TCP_REPAIR_WINDOW) and TCP_NODELAY. The socket stays in repair mode:
// closing it then sends neither FIN nor RST, so the stack can go silently;
// release(fd) takes it out again when the move is abandoned.
//
// rebuild() makes a new socket through the caller's socket function (in the
// target stack), in repair mode: bound to the old local address (repair
// mode lets it share the port with a listener: rebuild listeners first), its queues'
// sequence numbers set to where the saved queues *begin* (the saved ones
// less the queues' lengths: writing the bytes back advances them),
// connect()ed (no handshake in repair mode), the options, timestamp and
// windows set, the receive queue and the sent part of the send queue
// written back in repair mode, then repair off (the kernel probes the
// peer's window) and the never-sent part written normally.
//
// Permissions: TCP_REPAIR needs CAP_NET_ADMIN in the user namespace that
// owns the socket's network namespace, which the creator of a stack of ours
// has (its helper's user namespace is the caller's uid's): unprivileged
// programs can move their stacks' connections.
//
// Errors: vdestack::Error, EOPNOTSUPP for a socket that cannot be carried
// (not TCP or UDP, a TCP socket neither established nor listening), the
// errno of the failing call otherwise, with the call named. A capture that
// fails leaves the socket as it was (out of repair mode). Thread-safety:
// none needed beyond the fd's own.
#pragma once

#include <cstddef>
#include <functional>
#include <variant>
#include <vector>

#include "base/fd.hpp"
#include "wire/stack_image.hpp"

namespace vdestack::repair {

// A captured socket: its record; a TCP record's queues point into `sndq`
// and `rcvq` (owned here).
struct Captured {
    std::variant<wire::image::TcpRecord, wire::image::ListenRecord, wire::image::UdpRecord> record;
    std::vector<std::byte> sndq, rcvq;
    Captured() = default;
    Captured(Captured&& o) noexcept;
    Captured& operator=(Captured&& o) noexcept;
    Captured(const Captured&) = delete;
    Captured& operator=(const Captured&) = delete;
};

// Throws Error(EOPNOTSUPP) for a socket capture() cannot carry (not IPv4
// or IPv6, not TCP or UDP, a TCP socket neither established nor listening),
// the errno of a failed getsockopt (ENOTSOCK: not a socket); changes
// nothing. capture() checks the same first.
void check(int fd);
Captured capture(int fd);
// Takes a captured TCP socket out of repair mode (nothing else to undo).
void release(int fd) noexcept;

// How the target stack makes a socket: fd or -1 with errno.
using SocketFn = std::function<int(int domain, int type, int protocol)>;

UniqueFd rebuild(const wire::image::TcpRecord& t, const SocketFn& make);
UniqueFd rebuild(const wire::image::ListenRecord& l, const SocketFn& make);
UniqueFd rebuild(const wire::image::UdpRecord& u, const SocketFn& make);

}  // namespace vdestack::repair
