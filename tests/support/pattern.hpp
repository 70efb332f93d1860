// pattern.hpp - a test byte stream whose every byte says where it belongs:
// sending part of it, reading part of it back and checking each byte (a
// lost, repeated or reordered byte fails). Used by the tests that move
// connections (tests/api/repair.cpp, tests/api/migrate.cpp). Every wait is
// bounded.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace vdetest {

// The byte at offset i of the test stream: no two nearby runs alike.
inline std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 2654435761u) >> 13); }

// Sends bytes [from, from + max) of the stream without waiting; returns how
// many the socket took.
inline std::size_t send_some(int fd, std::size_t from, std::size_t max) {
    std::vector<std::byte> b(max);
    for (std::size_t i = 0; i < max; i++) b[i] = pattern(from + i);
    std::size_t done = 0;
    while (done < max) {
        const ssize_t n = ::send(fd, b.data() + done, max - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

// Reads exactly n bytes (timeout_ms at most between two arrivals) and checks
// them against the stream from offset `from`.
inline bool read_pattern(int fd, std::size_t from, std::size_t n, int timeout_ms = 5000) {
    std::vector<std::byte> b(65536);
    std::size_t got = 0;
    while (got < n) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        const ssize_t r = ::recv(fd, b.data(), std::min(b.size(), n - got), 0);
        if (r <= 0) return false;
        for (ssize_t i = 0; i < r; i++)
            if (b[static_cast<std::size_t>(i)] != pattern(from + got + static_cast<std::size_t>(i))) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}

}  // namespace vdetest
