// clock.hpp - the monotonic clock in the units the transports keep time in
// (timers, learning-table expiry, peer checks). Never goes back; thread-safe.
#pragma once

#include <time.h>

#include <cstdint>

namespace vdestack {

[[nodiscard]] inline std::int64_t mono_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
[[nodiscard]] inline std::int64_t mono_ms() noexcept { return mono_ns() / 1'000'000; }
[[nodiscard]] inline std::int64_t mono_seconds() noexcept { return mono_ns() / 1'000'000'000; }

}  // namespace vdestack
