// conf_service.hpp - the helper's configuration thread: ioth_config()
// requests (eth, static data, DHCP) carried out inside the stacks'
// namespaces, and the DHCP leases they got renewed for as long as the
// stacks live.
//
// Theory of operation
// -------------------
// One thread, started by the first request and joined by the destructor,
// wanders from namespace to namespace as the NsWorker does (a thread that
// entered a stack's namespace stays there until the next setns). It owns a
// Configurator (conf/configurator.hpp) per stack that asked for one, with a
// dup of the stack's namespace fd, so a stack deleted meanwhile cannot pull
// the namespace from under a running exchange. Jobs come from the control
// thread through a queue; each carries the caller's reply socket and is
// answered on it when done (DHCP may take seconds: the control thread does
// not wait, other stacks are served meanwhile). Between jobs the thread
// sleeps until the earliest lease needs renewing (Configurator's
// next_lease_work) and then does that work. forget() drops a stack's
// configuration after the jobs queued before it: its leases are released
// (DHCPRELEASE) and then the returned future is ready, so that the control
// thread can wait (bounded) for the release to be out before the stack's
// forwarding stops; the stack's sockets are closed after that.
// Sockets are closed on a thread of their own (a Reaper, made with the
// configuration thread; its thread runs while it closes): closing a packet socket waits for an RCU grace
// period (10-15 ms), which must not delay the answer.
// Limits: the exchanges of all stacks of a helper run one after another.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.hpp"
#include "helper/nsworker.hpp"
#include "wire/helper_proto.hpp"

namespace vdestack::helper {

class ConfService {
public:
    ConfService();
    ConfService(const ConfService&) = delete;
    ConfService& operator=(const ConfService&) = delete;
    ~ConfService();

    // Queues a Config or ConfQuery request of stack `id` (whose namespace is
    // `netns`, duplicated here); the answer goes to `reply`. Throws Error
    // when the request cannot be queued (its reply is then the caller's).
    void submit(std::uint64_t id, int netns, const wire::proto::Request& req, std::string text, UniqueFd reply);
    // Drops stack `id`'s configuration, releasing its leases; the future is
    // ready once the releases are sent (invalid when nothing was ever
    // configured in this helper).
    std::future<void> forget(std::uint64_t id);

private:
    struct Job {
        enum Kind { kRequest, kForget } kind = kRequest;
        std::uint64_t id = 0;
        UniqueFd netns;
        wire::proto::Request req{};
        std::string text;
        UniqueFd reply;
        std::shared_ptr<std::promise<void>> released;  // kForget
    };
    struct StackConf;

    void loop();
    void serve(Job& job);
    void lease_work();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> jobs_;
    bool stop_ = false;
    std::unique_ptr<Reaper<UniqueFd>> closer_;  // before stacks_: outlives their sockets
    std::map<std::uint64_t, std::unique_ptr<StackConf>> stacks_;  // the thread's own
    std::thread thread_;  // started by the first submit
};

}  // namespace vdestack::helper
