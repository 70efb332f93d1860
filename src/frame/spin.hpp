// spin.hpp - the back-off of the engine's adaptive busy polling (engine.hpp).
//
// After a round with work the engine may spin (poll without sleeping) for a
// while. A spin that finds work resets the back-off; one that finds nothing
// doubles it: the next 2, 4, ... 64 rounds with work do not spin. So a
// trickle of frames whose gaps exceed the spin window costs at most one
// window per 64 wake-ups, while a conversation with shorter gaps keeps the
// engine spinning. Not thread-safe: one per engine thread.
#pragma once

#include <sched.h>
#include <sys/epoll.h>
#include <time.h>

#include <algorithm>

namespace vdestack::frame {

class SpinPolicy {
public:
    static constexpr unsigned kMaxShift = 6;  // at most 64 rounds without spinning

    // Called after a round with work: true when the engine should spin now.
    [[nodiscard]] bool should_spin() noexcept {
        if (skip_ == 0) return true;
        skip_--;
        return false;
    }
    // The outcome of the spin should_spin() allowed.
    void result(bool found_work) noexcept {
        if (found_work) {
            fails_ = 0;
            return;
        }
        fails_ = std::min(fails_ + 1, kMaxShift);
        skip_ = 1u << fails_;
    }
    [[nodiscard]] unsigned skipping() const noexcept { return skip_; }

private:
    unsigned fails_ = 0;  // spins in a row that found nothing
    unsigned skip_ = 0;   // rounds left without spinning
};

// One spin: polls epfd without sleeping for up to us microseconds, calling
// sched_yield() between polls (a thread woken on this CPU, the reader of what
// was just delivered, must not wait for the spin to end). Returns what
// epoll_wait returned last (0: nothing came) and tells `policy` the outcome.
inline int spin_wait(SpinPolicy& policy, int epfd, epoll_event* events, int max, long us) noexcept {
    timespec t0{}, now{};
    ::clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = 0;
    for (;;) {
        n = ::epoll_wait(epfd, events, max, 0);
        if (n != 0) break;
        ::sched_yield();
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000000L + (now.tv_nsec - t0.tv_nsec) / 1000 > us) break;
    }
    policy.result(n > 0);
    return n;
}

}  // namespace vdestack::frame
