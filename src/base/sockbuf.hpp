// sockbuf.hpp - socket buffer sizes, best effort: SO_SNDBUFFORCE /
// SO_RCVBUFFORCE first (a privileged caller may exceed net.core.wmem_max /
// rmem_max), then the plain option (which the kernel caps at those). Never
// fails: a small buffer costs throughput, not correctness. Thread-safe (one
// setsockopt or two on the caller's fd).
#pragma once

#include <sys/socket.h>

namespace vdestack {

inline void raise_sndbuf(int fd, int bytes) noexcept {
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

inline void raise_rcvbuf(int fd, int bytes) noexcept {
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

}  // namespace vdestack
