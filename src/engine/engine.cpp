// engine.cpp - the forwarding event loop (see engine.hpp for the design).
#include "engine/engine.hpp"

#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <ctime>

#include "engine/fabric.hpp"
#include "base/error.hpp"
#include "wire/ethernet.hpp"
#include "wire/vnet.hpp"

namespace vdestack::engine {

Engine::Engine(const Tuning& tuning, Fabric* fabric)
    : epfd_(::epoll_create1(EPOLL_CLOEXEC)),
      pool_(kBatch * kSlot),
      bufs_(kBatch),
      refs_(kBatch),
      offload_(tuning.offload),
      big_(),
      spin_us_(tuning.spin_us),
      fabric_(fabric) {
    if (!epfd_) fail_errno("epoll_create1");
}

void Engine::watch(int fd, std::uint64_t id, Kind kind) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (id << 2) | kind;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno("epoll_ctl(ADD)");
}

void Engine::set_control(int fd, std::function<bool()> on_control) {
    on_control_ = [f = std::move(on_control)](std::uint64_t) { return f(); };
    watch(fd, 0, kControl);
}

void Engine::unwatch_control(int fd) noexcept { (void)::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

void Engine::add(std::unique_ptr<StackEntry> entry) {
    StackEntry& s = *entry;
    if (s.tap) {
        // The tap says whether it carries virtio_net_hdrs (open_tap decides).
        ifreq ifr{};
        s.vnet = ::ioctl(s.tap.get(), TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_VNET_HDR) != 0;
        if (s.vnet && big_.empty()) big_ = RawBuf(kBig);
        if (s.vnet && s.link && fabric_ != nullptr && !s.link->caps().local_segment.empty())
            s.segment = fabric_->segment(s.link->caps().local_segment);
        watch(s.tap.get(), s.id, kTap);
    }
    if (s.link) {
        for (int fd : s.link->poll_fds()) watch(fd, s.id, kLink);
        // Whole super-segments from the link can be written to a vnet tap.
        if (s.vnet && offload_.whole && s.link->caps().whole) s.link->accept_whole(true);
        attach_shared(s);
    }
    ready_.reserve(stacks_.size() + 1);  // the ready list never allocates in run()
    ready_now_.reserve(stacks_.size() + 1);
    stacks_.emplace(s.id, std::move(entry));
    if (s.link && s.tap && !s.frozen) s.link->set_inbox({s.tap.get(), s.vnet, this});
}

void Engine::attach_shared(StackEntry& s) {
    plug::SharedSource* src = s.link->shared_source();
    if (src == nullptr) return;
    for (SharedWatch& w : shared_)
        if (w.src == src) {
            w.users++;
            return;
        }
    shared_.reserve(shared_.size() + 1);
    SharedWatch w{src, next_shared_++, 1, {}, 0};
    const auto fds = src->attach(this);
    if (fds.size() > kMaxSharedFds) {
        src->detach(this);
        fail(EINVAL, "a shared source with too many fds");
    }
    for (std::size_t i = 0; i < fds.size(); i++) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one engine wakes for a datagram on a socket all poll
        ev.data.u64 = ((w.id * kMaxSharedFds + i) << 2) | kShared;
        if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fds[i], &ev) != 0) {
            const int err = errno;
            for (std::size_t k = 0; k < i; k++) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fds[k], nullptr);
            src->detach(this);
            errno = err;
            fail_errno("epoll_ctl(ADD)");
        }
        w.fds[i] = fds[i];
    }
    w.nfds = fds.size();
    shared_.push_back(w);
}

void Engine::detach_shared(StackEntry& s) {
    s.link->set_inbox({});
    plug::SharedSource* src = s.link->shared_source();
    if (src == nullptr) return;
    for (std::size_t i = 0; i < shared_.size(); i++) {
        SharedWatch& w = shared_[i];
        if (w.src != src) continue;
        if (--w.users == 0) {
            for (std::size_t k = 0; k < w.nfds; k++) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, w.fds[k], nullptr);
            src->detach(this);
            shared_.erase(shared_.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return;
    }
}

void Engine::drop_link(StackEntry& s, int err) {
    if (!s.link) return;
    if (s.segment != 0) {
        fabric_->forget(s.id);
        s.segment = 0;
    }
    for (int fd : s.link->poll_fds()) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    detach_shared(s);
    s.link_error = err;
    s.link.reset();
}

std::unique_ptr<StackEntry> Engine::remove(std::uint64_t id) {
    auto it = stacks_.find(id);
    if (it == stacks_.end()) return nullptr;
    // What the stack sent before it went (a DHCPRELEASE, a last FIN) is in
    // the tap already: forward it first (one budget's worth).
    if (it->second->tap && !it->second->frozen) on_tap(*it->second);
    std::unique_ptr<StackEntry> s = std::move(it->second);
    stacks_.erase(it);
    if (s->segment != 0) fabric_->forget(s->id);  // before the caller closes the tap
    if (s->link) detach_shared(*s);                // likewise
    if (!s->frozen) {  // a frozen stack's fds are out of the epoll set already
        if (s->tap) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, s->tap.get(), nullptr);
        if (s->link)
            for (int fd : s->link->poll_fds()) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    }
    return s;
}

bool Engine::freeze(std::uint64_t id, bool on) {
    StackEntry* s = find(id);
    if (s == nullptr) return false;
    if (s->frozen == on) return true;
    if (on) {
        if (s->segment != 0) fabric_->forget(s->id);  // no other stack's frame enters its tap
        if (s->link) s->link->set_inbox({});          // nor a shared source's
        s->src_mac = {};                               // taught again after the thaw
        if (s->tap) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, s->tap.get(), nullptr);
        if (s->link)
            for (int fd : s->link->poll_fds()) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
        s->frozen = true;
        return true;
    }
    s->frozen = false;
    if (s->tap) watch(s->tap.get(), s->id, kTap);
    if (s->link)
        for (int fd : s->link->poll_fds()) watch(fd, s->id, kLink);
    if (s->link && s->tap) s->link->set_inbox({s->tap.get(), s->vnet, this});
    return true;
}

StackEntry* Engine::find(std::uint64_t id) {
    auto it = stacks_.find(id);
    return it == stacks_.end() ? nullptr : it->second.get();
}

std::vector<std::unique_ptr<StackEntry>> Engine::remove_all() {
    std::vector<std::unique_ptr<StackEntry>> all;
    while (!stacks_.empty()) all.push_back(remove(stacks_.begin()->first));
    return all;
}

bool Engine::send_batch(StackEntry& s, std::size_t n) {
    if (!s.link || n == 0) return true;
    ssize_t r = s.link->send(std::span<const plug::FrameRef>(refs_.data(), n));
    if (r < 0) {
        drop_link(s, static_cast<int>(-r));
        return false;
    }
    s.frames_out += n;
    return true;
}

void Engine::on_tap_vnet(StackEntry& s) {
    std::byte hdr[wire::VnetHdr::kSize];
    std::size_t n = 0;
    for (std::size_t done = 0; done < kBudget;) {
        std::byte* slot = pool_.data() + n * kSlot;
        iovec iov[3] = {{hdr, sizeof hdr}, {slot, kSlot}, {big_.data() + kSlot, kBig - kSlot}};
        ssize_t len = ::readv(s.tap.get(), iov, 3);
        if (len <= 0) break;  // EAGAIN: drained
        done++;
        if (static_cast<std::size_t>(len) < sizeof hdr) continue;
        const std::size_t flen = static_cast<std::size_t>(len) - sizeof hdr;
        const wire::VnetHdr h = *wire::VnetHdr::parse(hdr);
        if (s.segment != 0 && flen >= wire::kEthHeader && flen < kBig && to_fabric(s, hdr, slot, flen)) continue;
        if (h.gso_type == wire::VnetHdr::kGsoNone) {
            // Longer than any VDE frame: it would arrive truncated, so it is not sent at all.
            if (flen > plug::kMaxFrame || !frame::complete_csum(std::span<std::byte>(slot, flen), h)) continue;
            refs_[n++] = plug::FrameRef{slot, flen};
        } else {
            if (flen >= kBig) continue;  // may have been truncated
            const bool tcp = h.gso_kind() == wire::VnetHdr::kGsoTcpV4 || h.gso_kind() == wire::VnetHdr::kGsoTcpV6;
            if (tcp && s.link && s.link->sends_whole()) {
                // The peer takes it whole (wire/whole.hpp): after the frames
                // read before it, as it came from the tap.
                send_batch(s, n);
                n = 0;
                const iovec whole[3] = {{hdr, sizeof hdr},
                                        {slot, std::min(flen, kSlot)},
                                        {big_.data() + kSlot, flen > kSlot ? flen - kSlot : 0}};
                const ssize_t r = s.link->send_whole(std::span<const iovec>(whole, flen > kSlot ? 3 : 2));
                if (r < 0)
                    drop_link(s, static_cast<int>(-r));
                else
                    s.frames_out++;
                continue;
            }
            // A TSO super-segment: made contiguous in big_ (its head went to
            // the slot), then cut into the free slots, sent as they fill up.
            std::memcpy(big_.data(), slot, std::min(flen, kSlot));
            if (!tso_.start(std::span<const std::byte>(big_.data(), flen), h) || tso_.max_segment() > plug::kMaxFrame)
                continue;  // malformed, or segments no VDE network carries
            done += tso_.segments() - 1;
            while (!tso_.done()) {
                if (n == kBatch) {
                    send_batch(s, n);
                    n = 0;
                }
                std::byte* out = pool_.data() + n * kSlot;
                refs_[n++] = plug::FrameRef{out, tso_.next(std::span<std::byte>(out, kSlot))};
            }
        }
        if (n == kBatch) {
            send_batch(s, n);
            n = 0;
        }
    }
    send_batch(s, n);
}

bool Engine::to_fabric(StackEntry& s, std::byte* hdr, std::byte* slot, std::size_t flen) {
    Fabric& fabric = *fabric_;
    const wire::MacSpan src = wire::src_mac(slot);
    if (std::memcmp(s.src_mac.data(), src.data(), src.size()) != 0) {
        std::memcpy(s.src_mac.data(), src.data(), src.size());
        fabric.learn(s.segment, src, s.id, s.tap.get());
    }
    // The frame as on_tap_vnet() read it: its head in the slot, the rest of a
    // super-segment in big_ past kSlot.
    const iovec iov[3] = {{hdr, wire::VnetHdr::kSize},
                          {slot, std::min(flen, kSlot)},
                          {big_.data() + kSlot, flen > kSlot ? flen - kSlot : 0}};
    if (!fabric.deliver(s.segment, wire::dst_mac(slot), s.id,
                        std::span<const iovec>(iov, flen > kSlot ? 3 : 2)))
        return false;
    s.frames_out++;
    return true;
}

void Engine::on_tap(StackEntry& s) {
    if (s.vnet) {
        on_tap_vnet(s);
        return;
    }
    for (std::size_t done = 0; done < kBudget;) {
        std::size_t n = 0, reads = 0;
        for (; n < kBatch && reads < kBudget; reads++) {
            std::byte* buf = pool_.data() + n * kSlot;
            ssize_t len = ::read(s.tap.get(), buf, kSlot);
            if (len <= 0) break;  // EAGAIN: drained (a tap never returns 0)
            // Longer than any VDE frame (the interface's MTU was raised past
            // 9216): it would arrive truncated, so it is not sent at all.
            if (static_cast<std::size_t>(len) > plug::kMaxFrame) continue;
            refs_[n++] = plug::FrameRef{buf, static_cast<std::size_t>(len)};
        }
        if (reads == 0) return;
        done += reads;
        if (s.link && n > 0) {
            ssize_t r = s.link->send(std::span<const plug::FrameRef>(refs_.data(), n));
            if (r < 0) {
                drop_link(s, static_cast<int>(-r));
            } else {
                s.frames_out += n;
            }
        }
        if (n < kBatch) return;
    }
}

void Engine::on_link(StackEntry& s) {
    for (std::size_t done = 0; done < kBudget && s.link;) {
        for (std::size_t i = 0; i < kBatch; i++)
            bufs_[i] = plug::FrameBuf{pool_.data() + i * kSlot, plug::kMaxFrame, 0};
        ssize_t n = s.link->recv(std::span<plug::FrameBuf>(bufs_.data(), kBatch));
        if (n < 0) {
            drop_link(s, static_cast<int>(-n));
            return;
        }
        if (n == 0) return;
        // EAGAIN (tap queue full) or EIO (interface down): a frame is dropped, as a NIC would.
        const int tap = s.tap.get();
        if (tap < 0) {
        } else if (!s.vnet) {
            for (ssize_t i = 0; i < n; i++) (void)!::write(tap, bufs_[i].data, bufs_[i].len);
        } else if (offload_.gro) {
            gro_.run(std::span<const plug::FrameBuf>(bufs_.data(), static_cast<std::size_t>(n)),
                     [tap](std::span<const iovec> iov) { (void)!::writev(tap, iov.data(), static_cast<int>(iov.size())); });
        } else {
            std::byte zero[wire::VnetHdr::kSize]{};
            for (ssize_t i = 0; i < n; i++) {
                const std::byte* h = bufs_[i].vnet != nullptr ? bufs_[i].vnet : zero;
                iovec iov[2] = {{const_cast<std::byte*>(h), wire::VnetHdr::kSize}, {bufs_[i].data, bufs_[i].len}};
                (void)!::writev(tap, iov, 2);
            }
        }
        s.frames_in += static_cast<std::uint64_t>(n);
        done += static_cast<std::size_t>(n);
        // A short batch from a transport that says so: nothing is left (epoll
        // is level-triggered and wakes us for what comes next).
        if (static_cast<std::size_t>(n) < kBatch && s.link && s.link->caps().drained_when_short) return;
    }
    // Out of budget with frames held in user space: no fd will announce them.
    if (s.link && !s.ready && s.link->pending()) {
        s.ready = true;
        ready_.push_back(s.id);
    }
}

void Engine::run() {
    epoll_event events[64];
    bool worked = false;  // the last round handled events
    for (;;) {
        int n = 0;
        // Adaptive busy polling (see engine.hpp): after a round with work,
        // look again without sleeping for up to spin_us_.
        if (worked && spin_us_ > 0 && ready_.empty() && spin_.should_spin())
            n = frame::spin_wait(spin_, epfd_.get(), events, 64, spin_us_);
        if (n == 0) n = ::epoll_wait(epfd_.get(), events, 64, ready_.empty() ? -1 : 0);
        worked = n > 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // cannot happen with a valid epoll fd
        }
        for (int i = 0; i < n; i++) {
            std::uint64_t tag = events[i].data.u64;
            auto kind = static_cast<Kind>(tag & 3);
            if (kind == kControl) {
                if (!on_control_(tag >> 2)) return;
                continue;
            }
            if (kind == kShared) {
                const std::uint64_t id = (tag >> 2) / kMaxSharedFds;
                for (const SharedWatch& w : shared_)
                    if (w.id == id) {
                        w.src->drain(w.fds[(tag >> 2) % kMaxSharedFds]);
                        break;
                    }
                continue;
            }
            StackEntry* s = find(tag >> 2);
            if (s == nullptr || s->frozen) continue;  // removed or frozen earlier in this batch
            if (kind == kTap)
                on_tap(*s);
            else
                on_link(*s);
        }
        // Links holding frames (see engine.hpp); on_link() lists them again
        // if they still do.
        ready_now_.swap(ready_);
        for (std::uint64_t id : ready_now_) {
            StackEntry* s = find(id);
            if (s == nullptr) continue;  // removed meanwhile
            s->ready = false;
            if (s->frozen) continue;  // its link's frames wait for the thaw
            on_link(*s);
        }
        ready_now_.clear();
    }
}

}  // namespace vdestack::engine
