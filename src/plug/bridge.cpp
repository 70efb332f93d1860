// bridge.cpp - forwarding between two transports (see bridge.hpp).
#include "plug/bridge.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <vector>

#include "frame/spin.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"

namespace vdestack::plug {

namespace {
constexpr std::size_t kBatch = 64;
}

BridgeStats bridge(Transport& a, Transport& b, long spin_us, int stop_fd) {
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) fail_errno("epoll_create1");
    auto watch = [&](int fd, std::uint64_t tag) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag;
        if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno("epoll_ctl");
    };
    for (int fd : a.poll_fds()) watch(fd, 0);
    for (int fd : b.poll_fds()) watch(fd, 1);
    if (stop_fd >= 0) watch(stop_fd, 2);

    std::vector<std::byte> pool(kBatch * kMaxFrame);
    std::vector<FrameBuf> bufs(kBatch);
    std::vector<FrameRef> refs(kBatch);
    BridgeStats st;
    Transport* side[2] = {&a, &b};
    // Moves up to a few batches from side `from` to the other; false = link dead.
    auto pump = [&](int from) {
        for (int round = 0; round < 4; round++) {
            for (std::size_t i = 0; i < kBatch; i++) bufs[i] = FrameBuf{pool.data() + i * kMaxFrame, kMaxFrame, 0};
            ssize_t n = side[from]->recv(bufs);
            if (n < 0) {
                st.dead_side = from;
                st.error = static_cast<int>(-n);
                return false;
            }
            if (n == 0) return true;
            for (ssize_t i = 0; i < n; i++) refs[i] = FrameRef{bufs[i].data, bufs[i].len};
            ssize_t s = side[1 - from]->send(std::span<const FrameRef>(refs.data(), static_cast<std::size_t>(n)));
            if (s < 0) {
                st.dead_side = 1 - from;
                st.error = static_cast<int>(-s);
                return false;
            }
            (from == 0 ? st.a_to_b : st.b_to_a) += static_cast<std::uint64_t>(n);
            if (static_cast<std::size_t>(n) < kBatch) return true;
        }
        return true;
    };
    epoll_event events[16];
    // Adaptive busy polling as in the engine (frame/spin.hpp): after a
    // round with work, poll without sleeping for up to spin_us.
    frame::SpinPolicy spin;
    bool worked = false;
    for (;;) {
        // Frames a side holds in user space are not announced by its fds.
        const bool held = a.pending() || b.pending();
        int n = 0;
        if (worked && !held && spin_us > 0 && spin.should_spin()) n = frame::spin_wait(spin, ep.get(), events, 16, spin_us);
        if (n == 0) n = ::epoll_wait(ep.get(), events, 16, held ? 0 : -1);
        worked = n > 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            st.error = errno;
            return st;
        }
        for (int i = 0; i < n; i++) {
            auto tag = events[i].data.u64;
            if (tag == 2) return st;
            if (!pump(static_cast<int>(tag))) return st;
        }
        for (int k = 0; k < 2; k++)
            if (side[k]->pending() && !pump(k)) return st;
    }
}

}  // namespace vdestack::plug
