// fault.cpp - fault:// does what it was told: over a udp:// cable on
// loopback, numbered frames go through fault://[loss=,dup=,reorder=,seed=]
// and the far end counts what it got. The measured loss, duplication and
// reordering rates must match the configured ones (2000 frames: a rate off
// by more than 4 points is far outside the binomial spread), a wrapper that
// did nothing would fail every check, and the same seed must drop exactly
// the same frames twice (the generator is seeded, the decisions repeatable).
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "support/transport.hpp"

namespace {

using namespace std::chrono_literals;
using vdestack::plug::open_transport;
using vdestack::plug::Transport;
using vdetest::Frame;

constexpr std::uint32_t kFrames = 2000;
constexpr std::uint8_t kFamily = 0x36;

Frame numbered(std::uint32_t seq) {
    Frame f = vdetest::make_frame(kFamily, 64, 0);
    std::memcpy(f.data() + 14, &seq, sizeof seq);
    return f;
}
std::uint32_t number_of(const Frame& f) {
    std::uint32_t seq = 0;
    std::memcpy(&seq, f.data() + 14, sizeof seq);
    return seq;
}

// Lets `t` release what it holds (its timer is among its poll fds) and
// appends what `rx` receives, for `window`.
void pump(Transport& t, Transport& rx, std::vector<std::uint32_t>& got, std::chrono::milliseconds window) {
    const auto end = std::chrono::steady_clock::now() + window;
    std::vector<vdestack::plug::FrameBuf> none;
    while (std::chrono::steady_clock::now() < end) {
        (void)t.recv(none);  // due frames of the fault ring go out
        for (const Frame& f : vdetest::recv_frames(rx, 2ms)) got.push_back(number_of(f));
    }
}

struct Counts {
    std::set<std::uint32_t> distinct;
    std::size_t total = 0, late = 0;
};

Counts run(const std::string& params, std::uint16_t port) {
    const std::string p = std::to_string(port), q = std::to_string(port + 1);
    auto tx = open_transport("fault://[" + params + "]{udp://127.0.0.1:" + p + "->127.0.0.1:" + q + "}");
    auto rx = open_transport("udp://127.0.0.1:" + q + "->127.0.0.1:" + p);
    std::vector<std::uint32_t> got;
    for (std::uint32_t seq = 0; seq < kFrames; seq += 20) {
        std::vector<Frame> batch;
        for (std::uint32_t k = seq; k < seq + 20; k++) batch.push_back(numbered(k));
        vdetest::send_ok(*tx, batch);
        pump(*tx, *rx, got, 1ms);
    }
    pump(*tx, *rx, got, 200ms);  // reordered frames are held 20 ms
    Counts c;
    std::uint32_t highest = 0;
    for (std::uint32_t seq : got) {
        c.total++;
        if (!c.distinct.insert(seq).second) continue;  // a duplicate
        if (seq < highest) c.late++;                   // overtaken: it came after a later frame
        highest = std::max(highest, seq);
    }
    return c;
}

double pct(std::size_t part, std::size_t whole) { return whole == 0 ? 0 : 100.0 * double(part) / double(whole); }

TEST(FaultRates, NothingConfiguredChangesNothing) {
    const Counts c = run("seed=1", 15400);
    EXPECT_EQ(c.distinct.size(), kFrames);
    EXPECT_EQ(c.total, kFrames);
    EXPECT_EQ(c.late, 0u);
}

TEST(FaultRates, LossRateIsTheConfiguredOne) {
    const Counts c = run("loss=25/seed=7", 15410);
    const double lost = 100.0 - pct(c.distinct.size(), kFrames);
    EXPECT_NEAR(lost, 25.0, 4.0) << c.distinct.size() << " of " << kFrames << " arrived";
    EXPECT_EQ(c.total, c.distinct.size());  // no duplicates asked for
}

TEST(FaultRates, DuplicationRateIsTheConfiguredOne) {
    const Counts c = run("dup=20/seed=11", 15420);
    EXPECT_EQ(c.distinct.size(), kFrames);
    EXPECT_NEAR(pct(c.total - c.distinct.size(), kFrames), 20.0, 4.0) << c.total << " frames for " << kFrames;
}

TEST(FaultRates, ReorderingRateIsTheConfiguredOne) {
    const Counts c = run("reorder=15/seed=13", 15430);
    EXPECT_EQ(c.distinct.size(), kFrames);
    // A held frame is overtaken by every frame sent in the next 20 ms: it
    // arrives after a higher number (unless it was the last one sent).
    EXPECT_NEAR(pct(c.late, kFrames), 15.0, 4.0) << c.late << " late";
}

TEST(FaultRates, TheSeedDecidesWhichFramesGo) {
    const Counts a = run("loss=30/seed=99", 15440);
    const Counts b = run("loss=30/seed=99", 15450);
    const Counts other = run("loss=30/seed=100", 15460);
    EXPECT_EQ(a.distinct, b.distinct);
    EXPECT_NE(a.distinct, other.distinct);
}

}  // namespace
