// vdestack/fd.hpp - vde::UniqueFd: the one owner of a file descriptor, for
// the C++ API (vde::Socket) and the library alike (move-only, closes on
// destruction).
//
// Moving transfers ownership; release() hands the raw fd to a caller that
// takes ownership (for example the C API returning a socket). close errors
// are ignored: by then the fd is gone anyway (Linux always releases it).
// Not thread-safe: one owner, one thread at a time; the fd itself may be
// used from any thread.
#pragma once

#include <unistd.h>

#include <utility>

namespace vde {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace vde
