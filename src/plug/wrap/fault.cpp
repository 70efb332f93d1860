// fault.cpp - the fault-injecting wrapper transport (see fault.hpp).
//
// Theory of operation
// -------------------
// Frames sent through the wrapper (and, with dir=both, frames received from
// the inner transport) pass a pipeline: loss -> corruption -> duplication ->
// reordering -> delay/bandwidth. Frames that must wait (delay, rate limit, a
// reordered frame held back) are copied into a fixed ring of kSlots buffers
// allocated once, ordered by release time; a timerfd, included in poll_fds(),
// wakes the engine, whose next recv() call releases the frames that are due
// (to the inner send, or into the caller's receive slots). When the ring is
// full, frames are dropped, as a congested link would. A reordered frame is
// held 20 ms: every frame sent meanwhile overtakes it.
// Randomness is a xorshift64* generator seeded by `seed`, so a test run is
// repeatable. Everything runs on the calling thread; no locks.
#include "plug/wrap/fault.hpp"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "vnl/vnl.hpp"

namespace vdestack::plug {

namespace {

constexpr std::size_t kSlots = 256;
constexpr std::uint64_t kReorderFlushNs = 20'000'000;

struct Params {
    unsigned loss = 0, dup = 0, reorder = 0, corrupt = 0;
    std::uint64_t delay_ns = 0, jitter_ns = 0, bw = 0, seed = 0x9e3779b97f4a7c15ULL;
    bool both = false;
};

class FaultTransport final : public Transport {
public:
    FaultTransport(std::string vnl, Params p, std::unique_ptr<Transport> inner)
        : vnl_(std::move(vnl)), p_(p), inner_(std::move(inner)), timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
          pool_(kSlots * kMaxFrame), rng_(p.seed ? p.seed : 1) {
        if (!timer_) fail_errno(vnl_ + ": timerfd_create");
        for (int fd : inner_->poll_fds()) fds_.push_back(fd);
        fds_.push_back(timer_.get());
        for (std::size_t i = 0; i < kSlots; i++) free_.push_back(i);
        last_refill_ = static_cast<std::uint64_t>(mono_ns());
    }

    std::span<const int> poll_fds() const noexcept override { return fds_; }
    const std::string& vnl() const noexcept override { return vnl_; }
    bool pending() const noexcept override { return inner_->pending(); }

    ssize_t send(std::span<const FrameRef> frames) noexcept override {
        std::uint64_t t = static_cast<std::uint64_t>(mono_ns());
        for (const FrameRef& f : frames) admit(f, t, /*out=*/true);
        return flush_out(t) < 0 ? dead_ : static_cast<ssize_t>(frames.size());
    }

    ssize_t recv(std::span<FrameBuf> bufs) noexcept override {
        std::uint64_t expirations;
        (void)!::read(timer_.get(), &expirations, sizeof expirations);
        std::uint64_t t = static_cast<std::uint64_t>(mono_ns());
        if (flush_out(t) < 0) return dead_;
        // Frames held on the way in come first.
        std::size_t n = release_in(bufs, t);
        if (n < bufs.size()) {
            ssize_t r = inner_->recv(bufs.subspan(n));
            if (r < 0) return n > 0 ? static_cast<ssize_t>(n) : r;
            if (!p_.both) return static_cast<ssize_t>(n) + r;
            // dir=both: pass what arrived through the pipeline too.
            std::size_t got = n + static_cast<std::size_t>(r);
            for (std::size_t i = n; i < got; i++) admit(FrameRef{bufs[i].data, bufs[i].len}, t, /*out=*/false);
            n += release_in(bufs.subspan(n), t);
        }
        arm(t);
        return static_cast<ssize_t>(n);
    }

private:
    struct Held {
        std::uint64_t due;
        std::size_t slot;
        std::size_t len;
        bool out;
    };

    std::uint64_t rand64() {
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        return rng_ * 0x2545F4914F6CDD1DULL;
    }
    bool chance(unsigned percent) { return percent > 0 && rand64() % 100 < percent; }

    // Puts one frame through the pipeline: into the held queue (copied).
    void admit(const FrameRef& f, std::uint64_t t, bool out) {
        if (f.len < kMinFrame || f.len > kMaxFrame) return;
        if (chance(p_.loss)) {
            dropped_++;
            return;
        }
        int copies = chance(p_.dup) ? 2 : 1;
        for (int c = 0; c < copies; c++) {
            if (free_.empty()) {
                dropped_++;
                return;
            }
            std::size_t slot = free_.back();
            free_.pop_back();
            std::byte* dst = pool_.data() + slot * kMaxFrame;
            std::memcpy(dst, f.data, f.len);
            if (chance(p_.corrupt)) {  // one byte past the Ethernet header (the header itself if that is all)
                std::size_t at = f.len > kMinFrame ? kMinFrame + rand64() % (f.len - kMinFrame) : rand64() % f.len;
                dst[at] ^= std::byte{0x5a};
            }
            std::uint64_t due = t + p_.delay_ns + (p_.jitter_ns ? rand64() % p_.jitter_ns : 0);
            if (p_.bw > 0) {  // token bucket in bytes, refilled at bw bytes/s
                tokens_ = std::min<double>(static_cast<double>(p_.bw) / 10,
                                           tokens_ + static_cast<double>(t - last_refill_) * 1e-9 * static_cast<double>(p_.bw));
                last_refill_ = t;
                tokens_ -= static_cast<double>(f.len);
                if (tokens_ < 0) due = std::max(due, t + static_cast<std::uint64_t>(-tokens_ / static_cast<double>(p_.bw) * 1e9));
            }
            if (chance(p_.reorder)) due = t + kReorderFlushNs;  // overtaken by the next frames
            // keep the queue ordered by due time (stable for equal times)
            Held h{due, slot, f.len, out};
            auto pos = std::upper_bound(held_.begin(), held_.end(), due,
                                        [](std::uint64_t d, const Held& x) { return d < x.due; });
            held_.insert(pos, h);
        }
    }

    // Sends every due outgoing frame to the inner transport.
    int flush_out(std::uint64_t t) {
        std::array<FrameRef, 64> batch;
        std::array<std::size_t, 64> slots;
        for (;;) {
            std::size_t n = 0;
            for (auto it = held_.begin(); it != held_.end() && n < batch.size();) {
                if (it->due > t) break;
                if (!it->out) {
                    ++it;
                    continue;
                }
                batch[n] = FrameRef{pool_.data() + it->slot * kMaxFrame, it->len};
                slots[n++] = it->slot;
                it = held_.erase(it);
            }
            if (n == 0) break;
            ssize_t r = inner_->send(std::span<const FrameRef>(batch.data(), n));
            for (std::size_t i = 0; i < n; i++) free_.push_back(slots[i]);
            if (r < 0) {
                dead_ = r;
                return -1;
            }
        }
        arm(t);
        return 0;
    }

    // Moves due incoming frames into the caller's slots.
    std::size_t release_in(std::span<FrameBuf> bufs, std::uint64_t t) {
        std::size_t n = 0;
        for (auto it = held_.begin(); it != held_.end() && n < bufs.size();) {
            if (it->due > t) break;
            if (it->out || it->len > bufs[n].cap) {
                ++it;
                continue;
            }
            std::memcpy(bufs[n].data, pool_.data() + it->slot * kMaxFrame, it->len);
            bufs[n++].len = it->len;
            free_.push_back(it->slot);
            it = held_.erase(it);
        }
        return n;
    }

    // The timer fires when the earliest held frame is due.
    void arm(std::uint64_t t) {
        itimerspec its{};
        if (!held_.empty()) {
            std::uint64_t wait = held_.front().due > t ? held_.front().due - t : 1;
            its.it_value.tv_sec = static_cast<time_t>(wait / 1'000'000'000ULL);
            its.it_value.tv_nsec = static_cast<long>(wait % 1'000'000'000ULL);
        }
        ::timerfd_settime(timer_.get(), 0, &its, nullptr);
    }

    std::string vnl_;
    Params p_;
    std::unique_ptr<Transport> inner_;
    UniqueFd timer_;
    std::vector<int> fds_;
    std::vector<std::byte> pool_;
    std::vector<std::size_t> free_;
    std::vector<Held> held_;
    std::uint64_t rng_;
    double tokens_ = 0;
    std::uint64_t last_refill_ = 0;
    std::uint64_t dropped_ = 0;
    ssize_t dead_ = 0;
};

}  // namespace

std::unique_ptr<Transport> open_fault(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    std::string ctx(vnl);
    // The first '{' starts the wrapped VNL (options contain no braces); the last character closes it.
    auto open = rest.find('{');
    if (open == std::string_view::npos || rest.back() != '}')
        fail(EINVAL, ctx + ": the wrapped VNL must follow in braces, e.g. fault://[loss=10]{vxvde://}");
    std::string_view inner_vnl = rest.substr(open + 1, rest.size() - open - 2);
    static constexpr std::string_view kKeys[] = {"loss", "dup", "reorder", "corrupt", "delay", "jitter", "bw", "seed", "dir"};
    vnl::Parsed p = vnl::parse_path_style(rest.substr(0, open), kKeys, vnl);
    if (!p.address.empty()) fail(EINVAL, ctx + ": unexpected text '" + p.address + "' before the options");
    Params params;
    auto pct = [&](std::string_view key, unsigned& out) {
        if (auto v = p.get(key)) out = static_cast<unsigned>(vnl::parse_number(*v, key, vnl, 100));
    };
    pct("loss", params.loss);
    pct("dup", params.dup);
    pct("reorder", params.reorder);
    pct("corrupt", params.corrupt);
    if (auto v = p.get("delay")) params.delay_ns = vnl::parse_number(*v, "delay", vnl, 60'000) * 1'000'000ULL;
    if (auto v = p.get("jitter")) params.jitter_ns = vnl::parse_number(*v, "jitter", vnl, 60'000) * 1'000'000ULL;
    if (auto v = p.get("bw")) params.bw = vnl::parse_number(*v, "bw", vnl);
    if (auto v = p.get("seed")) params.seed = vnl::parse_number(*v, "seed", vnl);
    if (auto v = p.get("dir")) {
        if (*v == "both") params.both = true;
        else if (*v != "out") fail(EINVAL, ctx + ": bad value '" + *v + "' for option 'dir' (out or both)");
    }
    auto inner = open_transport(inner_vnl, opts.for_wrapped());
    return std::make_unique<FaultTransport>(ctx, params, std::move(inner));
}

}  // namespace vdestack::plug
