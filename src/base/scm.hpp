// scm.hpp - sending and receiving one message with attached fds (SCM_RIGHTS)
// over an AF_UNIX SOCK_SEQPACKET socket. Used by the client<->helper protocol.
//
// Both calls retry on EINTR, never raise SIGPIPE, and return -errno on failure.
// Received fds are owned by the caller through UniqueFd; fds beyond `maxfds`
// (or a truncated message) are closed and reported as -EMSGSIZE.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <vector>

#include "base/fd.hpp"

namespace vdestack {

// The most fds one message carries (a batch of sockets, wire/helper_proto.hpp).
inline constexpr std::size_t kMaxPassedFds = 64;

// Sends `data` (one message) with `fds` attached. Returns bytes sent or -errno.
ssize_t send_with_fds(int sock, std::span<const std::byte> data, std::span<const int> fds) noexcept;

// Receives one message into `buf`; attached fds are appended to `fds` (with
// FD_CLOEXEC when cloexec). Returns the message length (0 = peer closed) or -errno.
ssize_t recv_with_fds(int sock, std::span<std::byte> buf, std::vector<UniqueFd>& fds, std::size_t maxfds,
                      bool cloexec = true);

}  // namespace vdestack
