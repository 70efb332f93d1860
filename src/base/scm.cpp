// scm.cpp - SCM_RIGHTS message passing (see scm.hpp).
#include "base/scm.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace vdestack {

namespace {
constexpr std::size_t kMaxFds = kMaxPassedFds;
}

ssize_t send_with_fds(int sock, std::span<const std::byte> data, std::span<const int> fds) noexcept {
    if (fds.size() > kMaxFds) return -EINVAL;
    iovec iov{const_cast<std::byte*>(data.data()), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
        std::memset(control, 0, sizeof(control));
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

ssize_t recv_with_fds(int sock, std::span<std::byte> buf, std::vector<UniqueFd>& fds, std::size_t maxfds,
                      bool cloexec) {
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    for (;;) {
        n = ::recvmsg(sock, &msg, cloexec ? MSG_CMSG_CLOEXEC : 0);
        if (n >= 0) break;
        if (errno != EINTR) return -errno;
    }
    bool too_many = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; i++) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            UniqueFd owned(fd);
            if (fds.size() < maxfds)
                fds.push_back(std::move(owned));
            else
                too_many = true;
        }
    }
    if (too_many || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return -EMSGSIZE;
    return n;
}

}  // namespace vdestack
