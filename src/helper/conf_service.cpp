// conf_service.cpp - the helper's configuration thread (see conf_service.hpp).
#include "helper/conf_service.hpp"

#include <fcntl.h>
#include <sched.h>

#include <chrono>

#include "base/error.hpp"
#include "base/thread_name.hpp"
#include "conf/config.hpp"
#include "conf/configurator.hpp"
#include "conf/netops.hpp"
#include "helper/reply.hpp"

namespace vdestack::helper {

namespace proto = wire::proto;

namespace {

// The configuration thread's own socket calls, with closes handed to the
// closer thread.
class ReapingOps final : public conf::LibcOps {
public:
    explicit ReapingOps(Reaper<UniqueFd>& closer) noexcept : closer_(&closer) {}
    int close(int fd) override {
        try {
            closer_->destroy(std::make_unique<UniqueFd>(fd));
            return 0;
        } catch (...) {
            return ::close(fd);  // no memory for the hand-over: close here
        }
    }

private:
    Reaper<UniqueFd>* closer_;
};

}  // namespace

struct ConfService::StackConf {
    explicit StackConf(Reaper<UniqueFd>& closer) : ops(closer) {}
    UniqueFd netns;
    ReapingOps ops;  // this thread, inside netns
    conf::Configurator conf{ops};
};

ConfService::ConfService() = default;

ConfService::~ConfService() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ConfService::submit(std::uint64_t id, int netns, const proto::Request& req, std::string text, UniqueFd reply) {
    Job job;
    job.id = id;
    job.netns = UniqueFd(::fcntl(netns, F_DUPFD_CLOEXEC, 0));
    if (!job.netns) fail_errno("ioth_config: dup(netns)");
    job.req = req;
    job.text = std::move(text);
    job.reply = std::move(reply);
    std::lock_guard lk(mu_);
    if (!thread_.joinable()) {
        closer_ = std::make_unique<Reaper<UniqueFd>>();
        thread_ = std::thread([this] {
            name_this_thread("vds-conf");
            loop();
        });
    }
    jobs_.push_back(std::move(job));
    cv_.notify_all();
}

std::future<void> ConfService::forget(std::uint64_t id) {
    std::lock_guard lk(mu_);
    if (!thread_.joinable()) return {};  // never configured anything
    Job job;
    job.kind = Job::kForget;
    job.id = id;
    job.released = std::make_shared<std::promise<void>>();
    std::future<void> done = job.released->get_future();
    jobs_.push_back(std::move(job));
    cv_.notify_all();
    return done;
}

void ConfService::loop() {
    for (;;) {
        Job job;
        {
            std::unique_lock lk(mu_);
            for (;;) {
                auto wake = std::chrono::steady_clock::time_point::max();
                for (const auto& [id, sc] : stacks_) wake = std::min(wake, sc->conf.next_lease_work());
                auto ready = [this] { return stop_ || !jobs_.empty(); };
                if (wake == std::chrono::steady_clock::time_point::max())
                    cv_.wait(lk, ready);
                else
                    cv_.wait_until(lk, wake, ready);
                if (stop_) return;
                if (!jobs_.empty()) break;
                lk.unlock();  // a lease is due
                lease_work();
                lk.lock();
            }
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        serve(job);
    }
}

void ConfService::lease_work() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, sc] : stacks_) {
        if (sc->conf.next_lease_work() > now) continue;
        if (::setns(sc->netns.get(), CLONE_NEWNET) != 0) continue;
        sc->conf.lease_work(now);
    }
}

void ConfService::serve(Job& job) {
    if (job.kind == Job::kForget) {
        auto it = stacks_.find(job.id);
        if (it != stacks_.end() && ::setns(it->second->netns.get(), CLONE_NEWNET) == 0) it->second->conf.release_all();
        job.released->set_value();  // the control thread may stop the forwarding now
        if (it != stacks_.end()) stacks_.erase(it);
        return;
    }
    const int reply = job.reply.get();
    try {
        auto& sc = stacks_[job.id];
        if (!sc) {
            sc = std::make_unique<StackConf>(*closer_);
            sc->netns = std::move(job.netns);
        }
        if (::setns(sc->netns.get(), CLONE_NEWNET) != 0) fail_errno("ioth_config: setns");
        if (job.req.op == proto::Op::Config) {
            const conf::ConfigRequest r = conf::parse_config(job.text, (job.req.flags & 1) != 0);
            const conf::Configurator::Result res = sc->conf.configure(r);
            // The text: the first failure's message, then (debug) the state.
            std::string text = res.message;
            if (r.debug) text += "\n" + res.debug;
            send_reply(reply, static_cast<int>(res.mask), res.err, job.id, text);
            return;
        }
        // ConfQuery: flags 0 = resolv.conf, 1 = the DHCPv4 lease, 2 = the DHCPv6 one.
        const unsigned ifindex = static_cast<unsigned>(job.req.domain);
        if (job.req.flags == 0) {
            auto text = sc->conf.resolvconf(job.text, ifindex);
            send_reply(reply, text ? 1 : 0, 0, job.id, text.value_or(""));
        } else {
            send_reply(reply, 0, 0, job.id, sc->conf.lease_text(job.text, ifindex, job.req.flags == 2));
        }
    } catch (const Error& e) {
        send_reply(reply, -1, e.errno_value(), job.id, e.what());
    } catch (const std::exception& e) {
        send_reply(reply, -1, EIO, job.id, e.what());
    }
}

}  // namespace vdestack::helper
