// helper.cpp - the namespace helper process (see helper.hpp).
#include "helper/helper.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <unordered_map>
#include <unordered_set>
#include <cstring>
#include <string>
#include <vector>

#include "device/tap_device.hpp"
#include "plug/transport.hpp"
#include "base/cmdline.hpp"
#include "engine/engine.hpp"
#include "engine/engine_thread.hpp"
#include "helper/command.hpp"
#include "helper/conf_service.hpp"
#include "helper/nsworker.hpp"
#include "helper/reply.hpp"
#include "wire/helper_proto.hpp"
#include "helper/userns.hpp"
#include "base/error.hpp"
#include "base/ifname.hpp"
#include "base/tuning.hpp"
#include "base/scm.hpp"

namespace vdestack::helper {

namespace {

namespace proto = wire::proto;
using engine::Engine;
using engine::EngineThread;
using engine::Fabric;
using engine::StackEntry;
using proto::Op;
using proto::Reply;
using proto::Request;

// One engine thread per core, at most kMaxEngines (Tuning::engines overrides).
// How many engine threads a helper may run: Tuning::engines, else one per
// CPU; at most 4.
std::size_t max_engines(const Tuning& t) {
    constexpr long kMaxEngines = 4;
    const long n = t.engines != 0 ? t.engines : ::sysconf(_SC_NPROCESSORS_ONLN);
    return static_cast<std::size_t>(std::clamp(n, 1L, kMaxEngines));
}

class Helper {
public:
    // `nofile`: the fd limits the helper was started with (its commands get them back).
    // `host`: a process of its own, or a thread of the program (see helper.hpp).
    // Makes what serving takes (the first engine: its fds). Throws Error
    // (EMFILE, ...), which the Hello then carries.
    Helper(const Tuning& tuning, const rlimit& nofile, Host host)
        : tuning_(tuning), nofile_(nofile), host_(host) {
        engines_.push_back(std::make_unique<EngineThread>(tuning_, fabric_.get(), EngineThread::Runs::kHere));
        load_.push_back(0);
    }

    // Serves the creator's `channel` (and the connections attached to it).
    int run(UniqueFd channel) {
        conns_.push_back(std::make_unique<Conn>());
        conns_[0]->fd = std::move(channel);
        conns_[0]->id = next_conn_++;
        conns_[0]->main = true;
        // The control loop is the first engine's: its thread -- this one,
        // which stays in the caller's namespace -- serves one request at a
        // time between two epoll rounds, from every connection (the
        // creator's channel and one per forked child), until none holds a
        // stack and the creator is done. It also forwards the first stack
        // (further stacks start engine threads, see place()).
        Engine& home = engines_[0]->engine();
        home.set_control([this](std::uint64_t id) { return on_control(id); });
        home.watch_control(conns_[0]->fd.get(), conns_[0]->id);
        home.run();
        // Commands still running: they would die with this thread (their
        // PDEATHSIG) only after it waited for them.
        for (auto& [id, job] : commands_) kill_command(job->pidfd.get());
        commands_.clear();
        for (auto& e : engines_)
            for (auto& s : e->call([](Engine& en) { return en.remove_all(); })) reaper_.destroy(std::move(s));
        return 0;  // ~Reaper waits for the last close
    }

private:
    // A client connection: the creator's channel, or one per forked child
    // (made by the library's fork handler, see client.cpp). `refs` are the
    // stacks this connection holds; a stack lives while any connection holds it.
    struct Conn {
        UniqueFd fd;
        std::uint64_t id = 0;  // its control id in the first engine
        std::unordered_set<std::uint64_t> refs;
        bool main = false;
        bool closed = false;
    };

    // Connection `id` is readable or hung up: serves one request, then lets
    // go of the connections that are finished. False: nobody can ask for
    // anything more (the loop ends).
    bool on_control(std::uint64_t id) {
        if (auto r = commands_.find(id); r != commands_.end()) {  // a command ended
            std::unique_ptr<CommandJob> job = std::move(r->second);
            commands_.erase(r);
            engines_[0]->engine().unwatch_control(job->pidfd.get());
            const int status = reap_command(job->pidfd.get());
            job->pidfd.reset();
            next_command(std::move(job), status);
            return more();
        }
        // By index: an Attach grows conns_ while it is served (an iterator
        // would not survive that; the Conn itself, on the heap, does).
        for (std::size_t i = 0; i < conns_.size(); i++) {
            Conn& c = *conns_[i];
            if (c.id != id) continue;
            if (!c.closed && !on_request(c)) c.closed = true;
            break;
        }
        for (std::size_t i = 0; i < conns_.size();) {
            if (!conns_[i]->closed) {
                i++;
                continue;
            }
            release_all(*conns_[i]);
            if (conns_[i]->main) main_done_ = true;
            engines_[0]->engine().unwatch_control(conns_[i]->fd.get());
            conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return more();
    }

    // Whether anybody can still ask for something (else the loop ends).
    [[nodiscard]] bool more() const noexcept { return !conns_.empty() && !(main_done_ && count_.empty()); }

    // Freezes or thaws the forwarding of one interface (a stack's entry).
    void freeze(std::uint64_t id, bool on) {
        auto it = where_.find(id);
        if (it == where_.end()) return;
        engines_[it->second.engine]->call([id, on](Engine& en) { return en.freeze(id, on); });
    }

    // Drops one reference; the last one destroys the stack.
    void release(std::uint64_t id) {
        auto it = count_.find(id);
        if (it == count_.end() || --it->second > 0) return;
        count_.erase(it);
        // Its leases are given back while the stack still forwards: a short
        // wait (a DHCPRELEASE is one datagram), bounded in case the
        // configuration thread is busy with another stack's exchange.
        if (std::future<void> released = conf_.forget(id); released.valid())
            released.wait_for(std::chrono::milliseconds(500));
        reaper_.destroy(remove(id));  // closing a tap is slow (see Reaper): done aside
        if (auto extra = ifaces_.find(id); extra != ifaces_.end()) {
            for (std::uint64_t e : extra->second) reaper_.destroy(remove(e));
            ifaces_.erase(extra);
        }
    }
    void release_all(Conn& c) {
        for (auto id : c.refs) release(id);
        c.refs.clear();
    }

    // Reads one request from c; returns false when c is finished.
    bool on_request(Conn& c) {
        std::vector<UniqueFd> fds;
        ssize_t n = recv_with_fds(c.fd.get(), buf_, fds, 4);
        if (n == 0) return false;  // that client is gone
        if (n < 0) return n == -EMSGSIZE || n == -EAGAIN || n == -EINTR;  // malformed: ignore it
        Request req;
        const bool whole = static_cast<std::size_t>(n) >= sizeof req;
        if (whole) std::memcpy(&req, buf_.data(), sizeof req);
        if (fds.empty()) {
            // Nowhere to answer: only a DelStack needs no answer (the
            // library's vde_delstack does not wait for one); others are dropped.
            if (!whole || req.op != Op::DelStack) return true;
            fds.emplace_back();  // its answers go nowhere
        }
        if (!whole) {
            send_reply(fds[0].get(), -1, EPROTO, 0, "malformed request");
            return true;
        }
        std::size_t strings = static_cast<std::size_t>(n) - sizeof req;
        if (req.magic != proto::kMagic || req.version != proto::kVersion ||
            std::size_t{req.len1} + req.len2 != strings) {
            send_reply(fds[0].get(), -1, EPROTO, 0, "protocol mismatch between library and helper");
            return true;
        }
        const char* base = reinterpret_cast<const char*>(buf_.data()) + sizeof req;
        std::string s1(base, req.len1), s2(base + req.len1, req.len2);
        int reply = fds[0].get();
        try {
            switch (req.op) {
            case Op::AddStack: {
                // What the program made for it (client.cpp): its namespace, its tap.
                UniqueFd made_ns, made_tap;
                if ((req.flags & proto::kAddStackGivenNetns) != 0 && fds.size() >= 2) made_ns = std::move(fds[1]);
                if ((req.flags & proto::kAddStackGivenTap) != 0 && fds.size() >= 3) made_tap = std::move(fds[2]);
                std::uint64_t id = add_stack(s1, s2, made_ns, std::move(made_tap));
                c.refs.insert(id);
                count_[id] = 1;
                send_reply(reply, 0, 0, id, "");
                break;
            }
            case Op::DelStack:
                if (c.refs.erase(req.stack) == 0) {
                    send_reply(reply, -1, EBADF, req.stack, "no such stack");
                    break;
                }
                send_reply(reply, 0, 0, req.stack, "");
                release(req.stack);
                break;
            case Op::MSocket: msocket(reply, req); break;
            case Op::Netns:
                if (c.refs.count(req.stack) == 0) fail(EBADF, "no such stack");
                send_reply(reply, 0, 0, req.stack, "", netns_of(req.stack).get());
                break;
            case Op::AddIface:
                if (c.refs.count(req.stack) == 0) fail(EBADF, "no such stack");
                add_iface(req.stack, s1, s2);
                send_reply(reply, 0, 0, req.stack, "");
                break;
            case Op::StackCmd: stackcmd(req, s1, fds); break;
            case Op::Config:
            case Op::ConfQuery: {
                // Answered by the configuration thread when done (DHCP takes a while).
                if (c.refs.count(req.stack) == 0) fail(EBADF, "no such stack");
                UniqueFd answer(::fcntl(reply, F_DUPFD_CLOEXEC, 0));
                if (!answer) fail_errno("dup");
                conf_.submit(req.stack, netns_of(req.stack).get(), req, s1, std::move(answer));
                break;
            }
            case Op::Attach: {
                // fds[1]: a new connection for a forked child, holding what c holds.
                if (fds.size() < 2) fail(EINVAL, "attach without a connection");
                auto child = std::make_unique<Conn>();
                child->fd = std::move(fds[1]);
                child->id = next_conn_++;
                child->refs = c.refs;
                conns_.reserve(conns_.size() + 1);
                engines_[0]->engine().watch_control(child->fd.get(), child->id);
                for (auto id : child->refs) count_[id]++;
                conns_.push_back(std::move(child));
                send_reply(reply, 0, 0, 0, "");
                break;
            }
            case Op::Status: {
                auto it = where_.find(req.stack);
                if (it == where_.end()) fail(EBADF, "no such stack");
                std::uint64_t id = req.stack;
                int err = engines_[it->second.engine]->call([id](Engine& en) {
                    StackEntry* e = en.find(id);
                    return e != nullptr ? e->link_error : EBADF;
                });
                send_reply(reply, 0, err, req.stack, err != 0 ? std::strerror(err) : "");
                break;
            }
            case Op::Freeze: {
                if (where_.find(req.stack) == where_.end()) fail(EBADF, "no such stack");
                freeze(req.stack, req.flags == 1);
                if (auto extra = ifaces_.find(req.stack); extra != ifaces_.end())
                    for (std::uint64_t e : extra->second) freeze(e, req.flags == 1);
                send_reply(reply, 0, 0, req.stack, "");
                break;
            }
            case Op::Shutdown:
                // This connection is done; rval 1 tells the caller we exit now.
                // Connections whose process already died count as gone first,
                // so that the answer does not depend on who was served first.
                for (auto& other : conns_) {
                    if (other.get() == &c || other->closed) continue;
                    pollfd pf{other->fd.get(), POLLIN, 0};
                    if (::poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR)) && !(pf.revents & POLLIN)) {
                        release_all(*other);
                        other->closed = true;
                    }
                }
                release_all(c);
                send_reply(reply, count_.empty() ? 1 : 0, 0, 0, "");
                return false;
            default: send_reply(reply, -1, EOPNOTSUPP, 0, "unknown request"); break;
            }
        } catch (const Error& e) {
            send_reply(reply, -1, e.errno_value(), req.stack, e.what());
        } catch (const std::bad_alloc&) {
            send_reply(reply, -1, ENOMEM, req.stack, "out of memory");
        } catch (const std::exception& e) {
            send_reply(reply, -1, EIO, req.stack, e.what());
        }
        return true;
    }

    // The netns of a stack, for one request: a new fd. A stack with a tap
    // keeps no netns fd (its tap holds the namespace alive): the tap gives
    // one (TUNGETDEVNETNS), so a stack costs one fd fewer here. A
    // loopback-only stack keeps its own, duplicated here. Both live until
    // the control thread -- this one -- removes the entry.
    UniqueFd netns_of(std::uint64_t id) {
        auto it = where_.find(id);
        if (it == where_.end()) fail(EBADF, "no such stack");
        UniqueFd fd(it->second.netns >= 0 ? ::fcntl(it->second.netns, F_DUPFD_CLOEXEC, 0)
                                          : ::ioctl(it->second.tap, TUNGETDEVNETNS));
        if (!fd) fail_errno(it->second.netns >= 0 ? "dup(netns)" : "ioctl(TUNGETDEVNETNS)");
        return fd;
    }

    std::unique_ptr<StackEntry> remove(std::uint64_t id) {
        auto it = where_.find(id);
        if (it == where_.end()) return nullptr;
        std::size_t e = it->second.engine;
        where_.erase(it);
        load_[e]--;
        return engines_[e]->call([id](Engine& en) { return en.remove(id); });
    }

    // An entry for interface `ifname` on `vnl` ("" = none). Its namespace
    // side, in_ns(entry) -- the namespace and the tap -- runs on the
    // NsWorker while its transport is opened here, in the caller's
    // namespace: the two take about as long (a namespace ~0.5 ms, a
    // transport ~0.1-0.3 ms), so a stack costs the longer one only. A tap
    // made already (`made_tap`, by the program) needs no namespace side.
    std::unique_ptr<StackEntry> new_entry(const std::string& vnl, const std::string& ifname,
                                          std::function<void(StackEntry&)> in_ns, UniqueFd made_tap = {}) {
        if (!vnl.empty()) check_ifname(ifname);
        auto entry = std::make_unique<StackEntry>();
        entry->id = next_id_++;
        entry->vnl = vnl;
        entry->ifname = ifname;
        entry->tap = std::move(made_tap);
        StackEntry& e = *entry;
        // Declared after entry: on a throw it waits for the job before entry goes.
        NsWorker::Pending ns = entry->tap ? NsWorker::Pending() : ns_.start([&e, job = std::move(in_ns)] { job(e); });
        std::exception_ptr bad_vnl;  // reported first, as when nothing was made yet
        try {
            if (!vnl.empty()) entry->link = plug::open_transport(vnl, {"vdestack", tuning_, &shared_});
        } catch (...) {
            bad_vnl = std::current_exception();
        }
        try {
            ns.wait();
        } catch (...) {
            if (!bad_vnl) throw;
        }
        if (bad_vnl) {
            // A persistent tap outlives its fd: not one left in a namespace
            // that other interfaces share (AddIface).
            if (entry->tap) (void)::ioctl(entry->tap.get(), TUNSETPERSIST, 0);
            std::rethrow_exception(bad_vnl);
        }
        return entry;
    }

    // A stack's entry, in a new namespace: `made` by the program (which
    // could while it started us: client.cpp), with `made_tap` in it when it
    // could make that too; else one made here.
    std::uint64_t add_stack(const std::string& vnl, const std::string& ifname, const UniqueFd& made,
                            UniqueFd made_tap) {
        const OffloadConfig& offload = tuning_.offload;
        if (vnl.empty() || !made) made_tap.reset();
        return place(new_entry(vnl, ifname, [&vnl, &ifname, &offload, &made](StackEntry& e) {
            if (made) {
                if (::setns(made.get(), CLONE_NEWNET) != 0) fail_errno("setns(the stack's namespace)");
            } else if (::unshare(CLONE_NEWNET) != 0) {
                fail_errno("unshare(CLONE_NEWNET)");
            }
            if (!vnl.empty()) {
                e.tap = device::open_tap_device(ifname, offload);  // holds the netns (netns_of)
            } else {
                e.netns = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
                if (!e.netns) fail_errno("open(/proc/thread-self/ns/net)");
            }
        }, std::move(made_tap)));
    }

    // One more interface of stack `stack`: an entry of its own (forwarded
    // like any other, its own transport and tap) in the stack's namespace,
    // destroyed with the stack.
    void add_iface(std::uint64_t stack, const std::string& vnl, const std::string& ifname) {
        if (vnl.empty()) fail(EINVAL, "an interface needs a VNL");
        const UniqueFd ns = netns_of(stack);
        const int netns = ns.get();
        const OffloadConfig& offload = tuning_.offload;
        auto entry = new_entry(vnl, ifname, [netns, &ifname, &offload](StackEntry& e) {
            if (::setns(netns, CLONE_NEWNET) != 0) fail_errno("setns");
            // TUNSETIFF would attach to a persistent tap of that name: refuse any name in use.
            if (::if_nametoindex(ifname.c_str()) != 0) fail(EEXIST, "interface " + ifname + " exists");
            e.tap = device::open_tap_device(ifname, offload);
        });
        auto& list = ifaces_[stack];
        list.reserve(list.size() + 1);  // nothing throws after the entry is placed
        list.push_back(place(std::move(entry)));
    }

    // Hands the entry to the engine with the fewest stacks; returns its id.
    std::uint64_t place(std::unique_ptr<StackEntry> entry) {
        std::uint64_t id = entry->id;
        // Shard: the engine with the fewest stacks takes it; while every
        // engine has one and more may run, a new engine (started here: a
        // helper of one stack runs one engine thread).
        std::size_t best = 0;
        for (std::size_t i = 1; i < engines_.size(); i++)
            if (load_[i] < load_[best]) best = i;
        if (engines_.size() < max_engines_ && (engines_.empty() || load_[best] > 0)) {
            load_.reserve(engines_.size() + 1);
            engines_.push_back(std::make_unique<EngineThread>(tuning_, fabric_.get()));
            load_.push_back(0);
            best = engines_.size() - 1;
        }
        const int netns = entry->netns.get(), tap = entry->tap.get();
        engines_[best]->call([&entry](Engine& en) { en.add(std::move(entry)); });
        load_[best]++;
        where_[id] = Where{best, netns, tap};
        return id;
    }

    // One socket, or a batch of req.flags (for a restore): all or none.
    void msocket(int reply, const Request& req) {
        const UniqueFd ns = netns_of(req.stack);
        const int netns = ns.get();
        const std::uint32_t n = std::clamp<std::uint32_t>(req.flags, 1, proto::kMaxSocketBatch);
        std::vector<UniqueFd> socks;
        ns_.run([&] {
            if (::setns(netns, CLONE_NEWNET) != 0) fail_errno("setns");
            for (std::uint32_t i = 0; i < n; i++) {
                socks.emplace_back(static_cast<int>(::syscall(SYS_socket, req.domain, req.type, req.protocol)));
                if (!socks.back()) fail_errno("socket");
            }
        });
        std::vector<int> fds;
        for (const auto& s : socks) fds.push_back(s.get());
        send_reply(reply, fds[0], 0, req.stack, "", fds);
    }

    // A vde_stackcmd in progress: its commands, run one after the other
    // (command.hpp) while the loop goes on; the first failing status ends it.
    struct CommandJob {
        std::uint64_t stack = 0;
        UniqueFd reply;
        UniqueFd netns;  // the stack's namespace, held while the job runs
        std::array<UniqueFd, 3> stdio;
        std::vector<Argv> cmds;
        std::vector<std::vector<char*>> argvs;
        std::size_t next = 0;  // the next command to start
        UniqueFd pidfd;        // the running one
    };

    // fds: [reply, stdin?, stdout?, stderr?] as flagged in req.flags bits 0..2.
    void stackcmd(const Request& req, const std::string& line, std::vector<UniqueFd>& fds) {
        auto job = std::make_unique<CommandJob>();
        job->stack = req.stack;
        job->netns = netns_of(req.stack);
        job->cmds = split_commands(line);
        for (auto& argv : job->cmds) {
            std::vector<char*> v;
            for (auto& a : argv) v.push_back(a.data());
            v.push_back(nullptr);
            job->argvs.push_back(std::move(v));
        }
        std::size_t k = 1;
        for (std::size_t i = 0; i < 3; i++)
            if ((req.flags & (1U << i)) && k < fds.size()) job->stdio[i] = std::move(fds[k++]);
        job->reply = std::move(fds[0]);
        next_command(std::move(job), 0);
    }

    // The job's previous command ended with `status`: starts the next one
    // (watched by the first engine, see on_control), or answers.
    void next_command(std::unique_ptr<CommandJob> job, int status) {
        while (status == 0 && job->next < job->argvs.size()) {
            CommandPlan plan;
            plan.argv = job->argvs[job->next++].data();
            plan.netns = job->netns.get();
            for (int i = 0; i < 3; i++) plan.stdio[i] = job->stdio[static_cast<std::size_t>(i)].get();
            plan.nofile = nofile_;
            StartedCommand started;
            try {
                started = start_command(plan, command_stack_);
            } catch (const Error&) {
                status = -1;
                break;
            }
            if (started.err != 0) {
                status = -1;
                break;
            }
            const std::uint64_t id = next_conn_++;
            job->pidfd = std::move(started.pidfd);
            const int pidfd = job->pidfd.get();
            commands_.emplace(id, std::move(job));
            engines_[0]->engine().watch_control(pidfd, id);
            return;
        }
        send_reply(job->reply.get(), status, status < 0 ? EIO : 0, job->stack, "");
    }

    std::vector<std::unique_ptr<Conn>> conns_;  // [0] = the creator's channel until it closes
    std::uint64_t next_conn_ = 1;
    std::unordered_map<std::uint64_t, int> count_;  // stack -> connections holding it
    bool main_done_ = false;
    struct Where {
        std::size_t engine;
        int netns;  // the entry's netns fd (a stack without a tap), else -1
        int tap;    // the entry's tap fd, -1 without one
    };
    Tuning tuning_;
    rlimit nofile_;              // the fd limits the helper was started with
    Host host_;
    std::unordered_map<std::uint64_t, std::unique_ptr<CommandJob>> commands_;  // by control id: running
    CommandStack command_stack_;  // what a command's child runs on until its exec
    Reaper<StackEntry> reaper_;  // destroyed last: waits for every close
    // The local fabric of this process's stacks, shared by the engines
    // (declared first, so that it outlives them); none when tuning_.fabric is off.
    std::unique_ptr<Fabric> fabric_ = tuning_.fabric ? std::make_unique<Fabric>() : nullptr;
    // The group sockets its stacks share, by network (plug/udp/vxvde_group.hpp);
    // holds no socket itself (the transports do), so it may go first.
    plug::SharedSources shared_;
    const std::size_t max_engines_ = max_engines(tuning_);
    std::vector<std::unique_ptr<EngineThread>> engines_;  // started as stacks come (place())
    std::vector<std::size_t> load_;                        // stacks per engine
    std::unordered_map<std::uint64_t, Where> where_;
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> ifaces_;  // stack -> its further interfaces' entries
    NsWorker ns_;
    std::uint64_t next_id_ = 1;
    std::vector<std::byte> buf_ = std::vector<std::byte>(proto::kMaxRequest);
    ConfService conf_;  // last: its thread stops first
};

}  // namespace

namespace {
// What only a helper process does to itself (a helper thread leaves the
// program's dispositions and limits alone): its signal dispositions, and
// its fd limits raised. Returns the limits it was started with, which its
// commands get back.
rlimit set_up_process() {
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);   // a terminal's ^C is for the program; we follow the channel
    // Every stack holds an fd or two here (its tap; the socket of a transport
    // that is not shared): lift
    // the soft limit to the hard one so that a process can hold thousands,
    // and, when we may (CAP_SYS_RESOURCE, before any user namespace), the
    // hard one to the kernel's ceiling (fs.nr_open) for tens of thousands.
    rlimit given{RLIM_INFINITY, RLIM_INFINITY};
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        given = nofile;
        if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "re")) {
            unsigned long ceiling = 0;
            if (std::fscanf(f, "%lu", &ceiling) == 1 && ceiling > nofile.rlim_max) {
                const rlimit wide{ceiling, ceiling};
                if (::setrlimit(RLIMIT_NOFILE, &wide) == 0) nofile = wide;
            }
            std::fclose(f);
        }
        if (nofile.rlim_cur < nofile.rlim_max) {
            nofile.rlim_cur = nofile.rlim_max;
            ::setrlimit(RLIMIT_NOFILE, &nofile);
        }
    }
    return given;
}
}  // namespace

int helper_main(int channel, Tuning tuning, Host host) {
    UniqueFd chan(channel);
    proto::Hello hello;
    const bool userns = tuning.helper_userns();
    rlimit given{RLIM_INFINITY, RLIM_INFINITY};  // what the commands of vde_stackcmd get back
    if (host == Host::kProcess) {
        given = set_up_process();
        try {
            if (userns) enter_user_namespace();
        } catch (const Error& e) {
            hello.err = e.errno_value();
            std::snprintf(hello.message, sizeof hello.message, "%s", e.what());
        }
    } else if (userns) {
        // A thread (started with every signal blocked: a SIGPIPE stays
        // pending on it, the write fails with EPIPE) shares the program's
        // user namespace, and the library asks for one only where that will do.
        hello.err = EPERM;
        std::snprintf(hello.message, sizeof hello.message, "a helper thread cannot have a user namespace");
    }
    hello.userns = userns ? 1 : 0;
    // Made before the Hello, so that what it lacks (an fd: a helper thread
    // shares the program's limit) is the answer to the first request.
    std::unique_ptr<Helper> h;
    if (hello.err == 0) {
        try {
            h = std::make_unique<Helper>(tuning, given, host);
        } catch (const Error& e) {
            hello.err = e.errno_value();
            std::snprintf(hello.message, sizeof hello.message, "%s", e.what());
        } catch (...) {
            hello.err = ENOMEM;
            std::snprintf(hello.message, sizeof hello.message, "out of memory");
        }
    }
    if (::send(chan.get(), &hello, sizeof hello, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof hello)) return 1;
    if (hello.err != 0) return 1;
    try {
        return h->run(std::move(chan));
    } catch (...) {
        return 1;
    }
}

}  // namespace vdestack::helper
