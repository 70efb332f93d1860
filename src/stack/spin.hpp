// spin.hpp - the back-off of the engine's adaptive busy polling (engine.hpp).
//
// After a round with work the engine may spin (poll without sleeping) for a
// while. A spin that finds work resets the back-off; one that finds nothing
// doubles it: the next 2, 4, ... 64 rounds with work do not spin. So a
// trickle of frames whose gaps exceed the spin window costs at most one
// window per 64 wake-ups, while a conversation with shorter gaps keeps the
// engine spinning. Not thread-safe: one per engine thread.
#pragma once

#include <algorithm>

namespace vdestack::stack {

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

}  // namespace vdestack::stack
