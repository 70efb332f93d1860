// nsworker.hpp - the helper's two auxiliary workers: NsWorker, which runs
// jobs inside other network namespaces, and Reaper, which destroys stacks
// (and the configuration thread's sockets) aside, in batches once deletions
// pause. Both run on a LazyWorker: a thread that exists only while there is
// work.
//
// The helper's main thread must stay in the caller's original network
// namespace (transports open their sockets there), and a thread that entered
// a stack's namespace cannot always come back (without root it lacks
// CAP_SYS_ADMIN over the original one). So every namespace-entering job --
// creating a stack's namespace and tap, creating a socket in it -- runs on
// the NsWorker's thread, which wanders from namespace to namespace. start()
// hands a job over and returns at once (the caller may open a transport
// meanwhile); run() waits for it, rethrowing what the job threw.
//
// Threads: a LazyWorker starts its thread with the first job and ends it
// after kIdle without one, so that a helper whose stacks are all made (the
// common case: one stack, made at start) is its main thread alone. A burst
// of requests (a thousand stacks, a restore's sockets) keeps it; the next
// job after a pause pays one thread start (~20-40 us here) again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/thread_name.hpp"

namespace vdestack::helper {

// Runs posted jobs in order on a thread started by the first job and ended
// after `idle` without one. The destructor runs what is still queued, then
// joins. post() may be called from any thread.
class LazyWorker {
public:
    static constexpr std::chrono::milliseconds kIdle{100};

    // name: the thread's (name_this_thread).
    explicit LazyWorker(const char* name, std::chrono::milliseconds idle = kIdle) : name_(name), idle_(idle) {}
    LazyWorker(const LazyWorker&) = delete;
    LazyWorker& operator=(const LazyWorker&) = delete;
    ~LazyWorker() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    // Queues job (it must not throw). Throws std::system_error if no thread
    // can be started.
    void post(std::function<void()> job) {
        std::lock_guard lk(mu_);
        jobs_.push_back(std::move(job));
        if (running_) {
            cv_.notify_all();
            return;
        }
        // A thread that timed out has set running_ and let go of mu_: it
        // needs nothing more, so joining it here cannot deadlock.
        if (thread_.joinable()) thread_.join();
        try {
            thread_ = std::thread([this] { loop(); });
        } catch (...) {
            jobs_.pop_back();
            throw;
        }
        running_ = true;
    }

private:
    void loop() {
        name_this_thread(name_);
        std::unique_lock lk(mu_);
        for (;;) {
            if (!cv_.wait_for(lk, idle_, [this] { return stop_ || !jobs_.empty(); })) {
                running_ = false;  // idle: the next post() starts another
                return;
            }
            if (jobs_.empty()) return;  // stop_, and nothing left
            std::function<void()> job = std::move(jobs_.front());
            jobs_.pop_front();
            lk.unlock();
            job();
            job = nullptr;  // what it captured goes here, on this thread
            lk.lock();
        }
    }

    const char* name_;
    std::chrono::milliseconds idle_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool running_ = false;
    bool stop_ = false;
    std::thread thread_;  // touched by posting threads only, under mu_
};

class NsWorker {
public:
    // A job started by start(); wait() (or the destructor) waits for its end.
    class Pending {
    public:
        Pending() = default;
        explicit Pending(std::future<void> f) : f_(std::move(f)) {}
        Pending(Pending&&) noexcept = default;
        Pending& operator=(Pending&&) noexcept = default;
        ~Pending() {
            if (f_.valid()) f_.wait();  // the job holds references into the caller's frame
        }
        // Waits; rethrows what the job threw.
        void wait() {
            if (f_.valid()) f_.get();
        }

    private:
        std::future<void> f_;
    };

    // Starts job on the worker thread; the job and what it refers to must
    // live until the Pending is waited for. Throws std::system_error.
    Pending start(std::function<void()> job) {
        auto done = std::make_shared<std::promise<void>>();
        Pending p(done->get_future());
        worker_.post([done, job = std::move(job)] {
            try {
                job();
                done->set_value();
            } catch (...) {
                done->set_exception(std::current_exception());
            }
        });
        return p;
    }
    // Runs job on the worker thread and waits for it; rethrows its exception.
    void run(std::function<void()> job) { start(std::move(job)).wait(); }

private:
    LazyWorker worker_{"vds-netns"};
};

// Destroys objects on a worker of its own, in batches. A stack's teardown
// (its transport's goodbye, its tap's close) must stall neither the
// forwarding loop nor the next request; and the kernel tears a network
// namespace down in a work item that holds RTNL while it unregisters its
// devices -- one pass per namespace if they come one by one, stalling every
// stack being made or configured meanwhile (TUNSETIFF, RTM_NEWADDR wait for
// RTNL): 5-6 ms at the p99 of a create/configure/delete loop here. So
// victims are held until `quiet` passes without another, kMaxHeld are
// held (a program that deletes without pause: memory stays bounded), or the
// Reaper goes, and then destroyed together: their namespaces reach the
// kernel's cleanup together, torn down in one pass (one RCU wait, one RTNL
// hold) while the program is not making stacks. The destructor destroys
// what is held at once and waits until everything handed over is destroyed.
template <class T>
class Reaper {
public:
    static constexpr std::chrono::milliseconds kQuiet{20};
    static constexpr std::size_t kMaxHeld = 64;

    explicit Reaper(std::chrono::milliseconds quiet = kQuiet) : quiet_(quiet) {}
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;
    ~Reaper() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_all();  // a flush waiting for quiet goes now; worker_ then joins
    }

    // Never throws: without memory or a thread, victim is destroyed here.
    void destroy(std::unique_ptr<T> victim) noexcept {
        if (!victim) return;
        std::vector<std::unique_ptr<T>> now;  // destroyed here, unlocked, if all else fails
        {
            std::lock_guard lk(mu_);
            try {
                held_.push_back(std::move(victim));  // strong guarantee: victim stays ours if it throws
                last_ = std::chrono::steady_clock::now();
                if (flushing_) {  // the pending flush takes it
                    if (held_.size() >= kMaxHeld) cv_.notify_all();
                    return;
                }
                worker_.post([this] { flush_when_quiet(); });
                flushing_ = true;
                return;
            } catch (...) {
                now.swap(held_);
            }
        }
        victim.reset();
    }

private:
    // On worker_: waits until quiet_ passed since the last victim (or
    // kMaxHeld are held, or the Reaper goes), then destroys every held one,
    // unlocked.
    void flush_when_quiet() {
        std::unique_lock lk(mu_);
        while (!stopping_ && held_.size() < kMaxHeld && std::chrono::steady_clock::now() < last_ + quiet_)
            cv_.wait_until(lk, last_ + quiet_);
        std::vector<std::unique_ptr<T>> batch;
        batch.swap(held_);
        flushing_ = false;
        lk.unlock();
        batch.clear();
    }

    const std::chrono::milliseconds quiet_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<T>> held_;
    std::chrono::steady_clock::time_point last_;
    bool flushing_ = false;  // a flush_when_quiet is posted and has not taken held_ yet
    bool stopping_ = false;
    LazyWorker worker_{"vds-reaper"};  // declared last: joined first, while what it touches lives
};

}  // namespace vdestack::helper
