// reaper.cpp - the helper's Reaper (helper/nsworker.hpp): what it is given is
// destroyed on its own thread, held until deletions pause for `quiet`, then
// together; kMaxHeld held go at once; its destructor destroys what is held.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "helper/nsworker.hpp"
#include "support/proc.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vdestack::helper::Reaper;

// Where and when victims were destroyed.
struct Log {
    std::mutex mu;
    std::vector<Clock::time_point> when;
    std::set<std::thread::id> threads;
    int count() {
        std::lock_guard lk(mu);
        return static_cast<int>(when.size());
    }
};

struct Victim {
    explicit Victim(Log* l) : log(l) {}
    Victim(const Victim&) = delete;
    Victim& operator=(const Victim&) = delete;
    Log* log;
    ~Victim() {
        std::lock_guard lk(log->mu);
        log->when.push_back(Clock::now());
        log->threads.insert(std::this_thread::get_id());
    }
};

TEST(Reaper, VictimsWaitForAPauseThenGoTogetherOnItsThread) {
    Log log;
    constexpr auto kQuiet = 100ms;
    Reaper<Victim> reaper(kQuiet);
    Clock::time_point last;
    for (int i = 0; i < 3; i++) {
        last = Clock::now();
        reaper.destroy(std::make_unique<Victim>(&log));
        EXPECT_EQ(log.count(), 0) << "held while deletions go on";
        std::this_thread::sleep_for(kQuiet / 4);
    }
    ASSERT_TRUE(vdetest::eventually([&] { return log.count() == 3; }));
    std::lock_guard lk(log.mu);
    for (auto t : log.when) EXPECT_GE(t - last, kQuiet) << "not before the pause";
    EXPECT_EQ(log.threads.size(), 1u);
    EXPECT_EQ(log.threads.count(std::this_thread::get_id()), 0u);
}

TEST(Reaper, AFullHoldGoesWithoutAPause) {
    Log log;
    Reaper<Victim> reaper(1h);
    for (std::size_t i = 0; i < Reaper<Victim>::kMaxHeld; i++)
        reaper.destroy(std::make_unique<Victim>(&log));
    EXPECT_TRUE(vdetest::eventually([&] { return log.count() == static_cast<int>(Reaper<Victim>::kMaxHeld); }));
}

TEST(Reaper, ItsEndDestroysWhatItHolds) {
    Log log;
    const auto start = Clock::now();
    {
        Reaper<Victim> reaper(1h);
        reaper.destroy(std::make_unique<Victim>(&log));
        reaper.destroy(nullptr);  // nothing: ignored
        EXPECT_EQ(log.count(), 0);
    }
    EXPECT_EQ(log.count(), 1);
    EXPECT_LT(Clock::now() - start, 1min) << "not after its hour of quiet";
}

// A Reaper reused after a flush: a new victim starts a new hold.
TEST(Reaper, DeletionsAfterAFlushAreHeldAgain) {
    Log log;
    Reaper<Victim> reaper(50ms);
    reaper.destroy(std::make_unique<Victim>(&log));
    ASSERT_TRUE(vdetest::eventually([&] { return log.count() == 1; }));
    reaper.destroy(std::make_unique<Victim>(&log));
    ASSERT_TRUE(vdetest::eventually([&] { return log.count() == 2; }));
}

}  // namespace
