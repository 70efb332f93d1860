// unit_spin.cpp - the back-off of the engine's adaptive busy polling
// (src/frame/spin.hpp).
#include <gtest/gtest.h>

#include "frame/spin.hpp"

namespace {

using vdestack::frame::SpinPolicy;

// Rounds with work until the policy allows the next spin.
unsigned rounds_until_spin(SpinPolicy& p) {
    unsigned skipped = 0;
    while (!p.should_spin()) skipped++;
    return skipped;
}

TEST(SpinPolicy, SpinsWhileSpinsFindWork) {
    SpinPolicy p;
    for (int i = 0; i < 1000; i++) {
        ASSERT_TRUE(p.should_spin()) << i;
        p.result(true);
    }
}

TEST(SpinPolicy, FailedSpinsBackOffExponentiallyUpTo64Rounds) {
    SpinPolicy p;
    ASSERT_TRUE(p.should_spin());
    p.result(false);
    const unsigned expected[] = {2, 4, 8, 16, 32, 64, 64, 64};
    for (unsigned want : expected) {
        EXPECT_EQ(rounds_until_spin(p), want);
        p.result(false);
    }
}

TEST(SpinPolicy, OneSuccessfulSpinEndsTheBackOff) {
    SpinPolicy p;
    for (int i = 0; i < 5; i++) {
        (void)rounds_until_spin(p);
        p.result(false);
    }
    EXPECT_EQ(p.skipping(), 32u);
    (void)rounds_until_spin(p);
    p.result(true);
    EXPECT_EQ(p.skipping(), 0u);
    EXPECT_TRUE(p.should_spin());
    p.result(false);
    EXPECT_EQ(rounds_until_spin(p), 2u);  // starts again from the shortest back-off
}

TEST(SpinPolicy, CpuSpentOnATrickleIsBounded) {
    // A trickle whose every gap exceeds the window: over 10000 wake-ups the
    // engine spins (and fails) only a few hundred times at most.
    SpinPolicy p;
    unsigned spins = 0;
    for (int i = 0; i < 10000; i++) {
        if (p.should_spin()) {
            spins++;
            p.result(false);
        }
    }
    EXPECT_LE(spins, 10000u / 64 + 8);
    EXPECT_GE(spins, 10000u / 65);
}

}  // namespace
