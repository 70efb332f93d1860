// reconnect.cpp - the reconnecting wrapper transport (see reconnect.hpp).
//
// Theory of operation
// -------------------
// The engine registers a transport's poll fds once, but a reconnected link
// has new fds. So this wrapper publishes one fd of its own: an epoll fd
// holding the wrapped transport's fds and a timerfd. recv() serves the
// wrapped link; when it reports death (-errno), the link is closed, the
// timer armed, and recv() returns 0. When the timer fires, recv() tries
// open_transport() again (in the caller's thread, hence the caller's
// namespace: the helper's engines stay in the program's one) and, on
// success, adds the new fds to the epoll set. send() while down drops.
// Counts of reconnections are kept for diagnostics.
#include "plug/wrap/reconnect.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"
#include "vnl/vnl.hpp"

namespace vdestack::plug {

namespace {

class ReconnectTransport final : public Transport {
public:
    ReconnectTransport(std::string vnl, std::string inner_vnl, OpenOptions opts, unsigned interval,
                       std::unique_ptr<Transport> inner)
        : vnl_(std::move(vnl)), inner_vnl_(std::move(inner_vnl)), opts_(std::move(opts)), interval_(interval),
          ep_(::epoll_create1(EPOLL_CLOEXEC)), timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
        if (!ep_ || !timer_) fail_errno(vnl_ + ": epoll/timerfd");
        watch(timer_.get());
        attach(std::move(inner));
        fd_ = ep_.get();
    }

    std::span<const int> poll_fds() const noexcept override { return {&fd_, 1}; }
    const std::string& vnl() const noexcept override { return vnl_; }
    bool pending() const noexcept override { return inner_ && inner_->pending(); }

    ssize_t recv(std::span<FrameBuf> bufs) noexcept override {
        if (!inner_) {
            std::uint64_t n;
            if (::read(timer_.get(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return 0;  // not yet
            try {
                attach(open_transport(inner_vnl_, opts_));
                reconnects_++;
            } catch (...) {
                arm();  // still down: try again later
                return 0;
            }
        }
        ssize_t r = inner_->recv(bufs);
        if (r < 0) {
            detach();
            return 0;
        }
        return r;
    }

    ssize_t send(std::span<const FrameRef> frames) noexcept override {
        if (!inner_) return static_cast<ssize_t>(frames.size());  // down: dropped, as on a cut cable
        ssize_t r = inner_->send(frames);
        if (r < 0) {
            detach();
            return static_cast<ssize_t>(frames.size());
        }
        return r;
    }

private:
    void watch(int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fail_errno(vnl_ + ": epoll_ctl");
    }
    void attach(std::unique_ptr<Transport> t) {
        for (int fd : t->poll_fds()) watch(fd);
        inner_ = std::move(t);
    }
    void detach() noexcept {
        if (inner_)
            for (int fd : inner_->poll_fds()) ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
        inner_.reset();
        arm();
    }
    void arm() noexcept {
        itimerspec its{};
        its.it_value.tv_sec = static_cast<time_t>(interval_);
        ::timerfd_settime(timer_.get(), 0, &its, nullptr);
    }

    std::string vnl_, inner_vnl_;
    OpenOptions opts_;
    unsigned interval_;
    UniqueFd ep_, timer_;
    int fd_ = -1;
    std::unique_ptr<Transport> inner_;
    unsigned long reconnects_ = 0;
};

}  // namespace

std::unique_ptr<Transport> open_reconnect(std::string_view vnl, std::string_view rest, const OpenOptions& opts) {
    std::string ctx(vnl);
    auto open = rest.find('{');
    if (open == std::string_view::npos || rest.back() != '}')
        fail(EINVAL, ctx + ": the wrapped VNL must follow in braces, e.g. reconnect://{vde:///tmp/sw}");
    std::string inner_vnl(rest.substr(open + 1, rest.size() - open - 2));
    static constexpr std::string_view kKeys[] = {"interval"};
    vnl::Parsed p = vnl::parse_path_style(rest.substr(0, open), kKeys, vnl);
    if (!p.address.empty()) fail(EINVAL, ctx + ": unexpected text '" + p.address + "' before the options");
    unsigned interval = 1;
    if (auto v = p.get("interval")) interval = static_cast<unsigned>(vnl::parse_number(*v, "interval", vnl, 3600));
    if (interval == 0) fail(EINVAL, ctx + ": bad value '0' for option 'interval'");
    auto inner = open_transport(inner_vnl, opts.for_wrapped());
    return std::make_unique<ReconnectTransport>(ctx, std::move(inner_vnl), opts.for_wrapped(), interval, std::move(inner));
}

}  // namespace vdestack::plug
