// nsworker.hpp - the helper's two auxiliary threads: NsWorker, which runs
// jobs inside other network namespaces, and Reaper, which destroys stacks
// (and the configuration thread's sockets) aside.
//
// The helper's main thread must stay in the caller's original network
// namespace (transports open their sockets there), and a thread that entered
// a stack's namespace cannot always come back (without root it lacks
// CAP_SYS_ADMIN over the original one). So every namespace-entering job --
// creating a stack's namespace and tap, creating a socket in it -- runs on
// this one worker thread, which wanders from namespace to namespace. run()
// hands a job over and waits for it (synchronous; the caller is the only
// client), rethrowing what the job threw.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace vdestack::helper {

class NsWorker {
public:
    NsWorker() : thread_([this] { loop(); }) {}
    NsWorker(const NsWorker&) = delete;
    NsWorker& operator=(const NsWorker&) = delete;
    ~NsWorker() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    // Runs job on the worker thread and waits for it; rethrows its exception.
    void run(const std::function<void()>& job) {
        std::unique_lock lk(mu_);
        job_ = &job;
        error_ = nullptr;
        done_ = false;
        cv_.notify_all();
        cv_.wait(lk, [this] { return done_; });
        if (error_) std::rethrow_exception(error_);
    }

private:
    void loop() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [this] { return stop_ || job_ != nullptr; });
            if (stop_) return;
            const std::function<void()>* job = job_;
            job_ = nullptr;
            try {
                (*job)();
            } catch (...) {
                error_ = std::current_exception();
            }
            done_ = true;
            cv_.notify_all();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    const std::function<void()>* job_ = nullptr;
    std::exception_ptr error_;
    bool done_ = false;
    bool stop_ = false;
    std::thread thread_;  // last: starts after the members it uses exist
};

// Destroys objects on a thread of its own. Closing a tap unregisters its
// interface, and the kernel then waits for RCU grace periods: 20-30 ms per
// tap, which must stall neither the forwarding loop nor the next request.
// The destructor waits until everything handed over is destroyed.
template <class T>
class Reaper {
public:
    Reaper() : thread_([this] { loop(); }) {}
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;
    ~Reaper() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void destroy(std::unique_ptr<T> victim) {
        if (!victim) return;
        std::lock_guard lk(mu_);
        queue_.push_back(std::move(victim));
        cv_.notify_all();
    }

private:
    void loop() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stop_ and nothing left
            std::unique_ptr<T> victim = std::move(queue_.front());
            queue_.pop_front();
            lk.unlock();
            victim.reset();
            lk.lock();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<T>> queue_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace vdestack::helper
