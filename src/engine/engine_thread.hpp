// engine_thread.hpp - an Engine and the thread that runs it: a thread of its
// own, driven by jobs that other threads post to it, or the thread that
// created it (Runs::kHere).
//
// The helper shards its stacks over a fixed number of these (one per core,
// at most kMaxEngines): the forwarding of all stacks of a process costs a
// constant number of threads, and two busy stacks forward in parallel. A
// stack belongs to one engine for its whole life; only that engine's thread
// touches it. Other threads add and remove stacks through call(), which runs
// a job on the engine's thread between two epoll rounds and waits for it.
// The helper's first engine runs on its main thread (kHere), between the
// requests it serves: there call() runs the job at once, and the one who
// made it drives engine().run() -- a helper of one stack is one thread.
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
#include "base/thread_name.hpp"

namespace vdestack::engine {

class EngineThread {
public:
    enum class Runs {
        kOwnThread,  // a new thread runs the engine; other threads call()
        kHere,       // the creating thread runs engine().run() itself and alone calls call()
    };
    // An Engine(tuning, fabric), on a new thread unless `runs` is kHere. Throws Error.
    EngineThread(const Tuning& tuning, Fabric* fabric, Runs runs = Runs::kOwnThread) : engine_(tuning, fabric) {
        if (runs == Runs::kHere) return;
        wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!wake_) fail_errno("eventfd");
        engine_.set_control(wake_.get(), [this] { return run_jobs(); });
        thread_ = std::thread([this] {
            name_this_thread("vds-engine");
            engine_.run();
        });
    }
    EngineThread(const EngineThread&) = delete;
    EngineThread& operator=(const EngineThread&) = delete;
    ~EngineThread() {
        if (!thread_.joinable()) return;
        post([this](Engine&) { stop_ = true; });
        thread_.join();
    }

    // The engine, for the thread that runs it (kHere): its controls and run().
    [[nodiscard]] Engine& engine() noexcept { return engine_; }

    // Runs f(engine) on the engine's thread and returns its result (or rethrows).
    template <class F>
    auto call(F&& f) -> decltype(f(std::declval<Engine&>())) {
        if (!thread_.joinable()) return f(engine_);  // kHere: this is the engine's thread
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
