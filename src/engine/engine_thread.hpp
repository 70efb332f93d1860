// engine_thread.hpp - an Engine running on a thread of its own, driven by
// jobs that other threads post to it.
//
// The helper shards its stacks over a fixed number of these (one per core,
// at most kMaxEngines): the forwarding of all stacks of a process costs a
// constant number of threads, and two busy stacks forward in parallel. A
// stack belongs to one engine for its whole life; only that engine's thread
// touches it. Other threads add and remove stacks through call(), which runs
// a job on the engine's thread between two epoll rounds and waits for it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "engine/engine.hpp"
#include "base/error.hpp"

namespace vdestack::engine {

class EngineThread {
public:
    // An Engine(tuning, fabric) on a new thread. Throws Error.
    EngineThread(const Tuning& tuning, Fabric* fabric)
        : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), engine_(tuning, fabric) {
        if (!wake_) fail_errno("eventfd");
        engine_.set_control(wake_.get(), [this] { return run_jobs(); });
        thread_ = std::thread([this] { engine_.run(); });
    }
    EngineThread(const EngineThread&) = delete;
    EngineThread& operator=(const EngineThread&) = delete;
    ~EngineThread() {
        post([this](Engine&) { stop_ = true; });
        thread_.join();
    }

    // Runs f(engine) on the engine's thread and returns its result (or rethrows).
    template <class F>
    auto call(F&& f) -> decltype(f(std::declval<Engine&>())) {
        using R = decltype(f(std::declval<Engine&>()));
        std::packaged_task<R(Engine&)> task(std::forward<F>(f));
        auto fut = task.get_future();
        post([&task](Engine& e) { task(e); });
        return fut.get();
    }

private:
    void post(std::function<void(Engine&)> job) {
        {
            std::lock_guard lk(mu_);
            jobs_.push_back(std::move(job));
        }
        std::uint64_t one = 1;
        (void)!::write(wake_.get(), &one, sizeof one);
    }

    bool run_jobs() {
        std::uint64_t n;
        (void)!::read(wake_.get(), &n, sizeof n);
        std::deque<std::function<void(Engine&)>> jobs;
        {
            std::lock_guard lk(mu_);
            jobs.swap(jobs_);
        }
        for (auto& j : jobs) j(engine_);
        return !stop_;
    }

    UniqueFd wake_;
    Engine engine_;
    std::mutex mu_;
    std::deque<std::function<void(Engine&)>> jobs_;
    bool stop_ = false;  // only touched on the engine's thread
    std::thread thread_;
};

}  // namespace vdestack::engine
