// tap.cpp - the tap:// transport: a Linux tap interface, compatible with
// vdeplug4 4.0.1's libvdeplug_tap.
//
// Theory of operation
// -------------------
// VNL: tap://IFNAME, the interface name verbatim (checked as the kernel would
// by check_ifname: 1..15 bytes, no '/', ':' or blanks).
// Open: /dev/net/tun (O_RDWR, nonblocking, close-on-exec), ioctl TUNSETIFF
// with IFF_TAP|IFF_NO_PI and that name, in the calling thread's network
// namespace: a new interface (down; the user configures it), or an existing
// persistent tap we may attach to. Not made persistent: a tap we created goes
// away when the transport closes its fd (as vdeplug4).
// Wire: each read() is one raw Ethernet frame the kernel transmits on the
// interface; each write() one frame the interface receives. No header (no
// IFF_VNET_HDR, no packet info).
// recv(): reads until EAGAIN or until the caller's slots are full (so a busy
// interface cannot hold the caller forever). Each read is a readv of the slot
// plus a 64 KiB scratch tail, so a frame longer than the slot (an MTU raised
// beyond kMaxFrame) is consumed and dropped rather than failing the read.
// Runts (< 14 bytes) are dropped. send(): one write per frame (tun has no
// batch write); EAGAIN/ENOBUFS and EIO (interface down) drop the rest of the
// call's frames, other per-frame errors skip the frame. The link is dead
// (-EBADFD, sticky) when the interface is deleted under us (the kernel
// detaches the fd: reads and writes fail with EBADFD, poll reports POLLERR).
// No allocation per frame.
#include "plug/host/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "base/ifname.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"

namespace vdestack::plug {

namespace {

constexpr std::size_t kScratch = 65536;  // absorbs the tail of an oversized frame

bool is_detached(int err) noexcept { return err == EBADFD || err == EBADF || err == ENODEV; }

class TapTransport final : public Transport {
public:
    TapTransport(std::string vnl_text, UniqueFd fd) : vnl_(std::move(vnl_text)), fd_(std::move(fd)) {
        fds_[0] = fd_.get();
    }

    [[nodiscard]] std::span<const int> poll_fds() const noexcept override { return fds_; }
    ssize_t recv(std::span<FrameBuf> bufs) noexcept override;
    ssize_t send(std::span<const FrameRef> frames) noexcept override;
    [[nodiscard]] const std::string& vnl() const noexcept override { return vnl_; }

private:
    std::string vnl_;
    UniqueFd fd_;
    std::array<int, 1> fds_{-1};
    int dead_ = 0;  // errno of the detach, 0 while alive
    std::array<std::byte, kScratch> scratch_{};
};

ssize_t TapTransport::recv(std::span<FrameBuf> bufs) noexcept {
    if (dead_ != 0) return -dead_;
    std::size_t n = 0;
    std::size_t reads = 0;  // frames consumed, dropped ones included
    while (n < bufs.size() && reads < bufs.size()) {
        FrameBuf& b = bufs[n];
        std::array<iovec, 2> iov{{{b.data, b.cap}, {scratch_.data(), scratch_.size()}}};
        const ssize_t r = ::readv(fd_.get(), iov.data(), 2);
        if (r < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (is_detached(err)) {
                dead_ = err;
                return n > 0 ? static_cast<ssize_t>(n) : -err;
            }
            break;  // EAGAIN: drained
        }
        reads++;
        const std::size_t len = static_cast<std::size_t>(r);
        if (len < kMinFrame || len > b.cap) continue;  // runt or oversized: dropped
        b.len = len;
        n++;
    }
    return static_cast<ssize_t>(n);
}

ssize_t TapTransport::send(std::span<const FrameRef> frames) noexcept {
    if (dead_ != 0) return -dead_;
    for (const FrameRef& f : frames) {
        if (f.data == nullptr || f.len < kMinFrame) continue;
        ssize_t w;
        int eintr = 0;
        while ((w = ::write(fd_.get(), f.data, f.len)) < 0 && errno == EINTR && ++eintr < 8) {
        }
        if (w >= 0) continue;
        const int err = errno;
        if (is_detached(err)) {
            dead_ = err;
            return -err;
        }
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EIO) break;  // full or down: drop the rest
        // EINVAL, EFAULT, ...: this frame cannot go
    }
    return static_cast<ssize_t>(frames.size());
}

}  // namespace

std::unique_ptr<Transport> open_tap(std::string_view vnl, std::string_view rest, const OpenOptions& /*opts*/) {
    const std::string v(vnl);
    const std::string ifname(rest);
    try {
        check_ifname(ifname);
    } catch (const Error&) {
        fail(EINVAL, v + ": bad interface name '" + ifname + "' (1 to " + std::to_string(IFNAMSIZ - 1) +
                         " bytes, no '/', ':' or blanks)");
    }
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) fail_errno(v + ": open(/dev/net/tun)");
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) fail_errno(v + ": ioctl(TUNSETIFF, " + ifname + ")");
    return std::make_unique<TapTransport>(v, std::move(fd));
}

}  // namespace vdestack::plug
