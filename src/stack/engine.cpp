// engine.cpp - the forwarding event loop (see engine.hpp for the design).
#include "stack/engine.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"

namespace vdestack::stack {

Engine::Engine()
    : epfd_(::epoll_create1(EPOLL_CLOEXEC)), pool_(kBatch * kSlot), bufs_(kBatch), refs_(kBatch) {
    if (!epfd_) fail_errno("epoll_create1");
}

void Engine::watch(int fd, std::uint64_t id, Kind kind) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (id << 2) | kind;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno("epoll_ctl(ADD)");
}

void Engine::set_control(int fd, std::function<bool()> on_control) {
    control_fd_ = fd;
    on_control_ = std::move(on_control);
    watch(fd, 0, kControl);
}

void Engine::add(std::unique_ptr<StackEntry> entry) {
    StackEntry& s = *entry;
    if (s.tap) watch(s.tap.get(), s.id, kTap);
    if (s.link)
        for (int fd : s.link->poll_fds()) watch(fd, s.id, kLink);
    stacks_.emplace(s.id, std::move(entry));
}

void Engine::drop_link(StackEntry& s, int err) {
    if (!s.link) return;
    for (int fd : s.link->poll_fds()) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    s.link_error = err;
    s.link.reset();
}

std::unique_ptr<StackEntry> Engine::remove(std::uint64_t id) {
    auto it = stacks_.find(id);
    if (it == stacks_.end()) return nullptr;
    std::unique_ptr<StackEntry> s = std::move(it->second);
    stacks_.erase(it);
    if (s->tap) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, s->tap.get(), nullptr);
    if (s->link)
        for (int fd : s->link->poll_fds()) ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    return s;
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

void Engine::on_tap(StackEntry& s) {
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
        for (ssize_t i = 0; i < n; i++) {
            // EAGAIN (tap queue full) or EIO (interface down): the frame is dropped, as a NIC would.
            if (s.tap) (void)!::write(s.tap.get(), bufs_[i].data, bufs_[i].len);
        }
        s.frames_in += static_cast<std::uint64_t>(n);
        done += static_cast<std::size_t>(n);
    }
}

void Engine::run() {
    epoll_event events[64];
    for (;;) {
        int n = ::epoll_wait(epfd_.get(), events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // cannot happen with a valid epoll fd
        }
        for (int i = 0; i < n; i++) {
            std::uint64_t tag = events[i].data.u64;
            auto kind = static_cast<Kind>(tag & 3);
            if (kind == kControl) {
                if (!on_control_()) return;
                continue;
            }
            StackEntry* s = find(tag >> 2);
            if (s == nullptr) continue;  // removed earlier in this batch
            if (kind == kTap)
                on_tap(*s);
            else
                on_link(*s);
        }
    }
}

}  // namespace vdestack::stack
