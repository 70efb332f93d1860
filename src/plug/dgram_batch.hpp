// dgram_batch.hpp - the one recvmmsg loop and the one sendmmsg loop of the
// transports: those whose datagrams are frames (ptp://, vde://, seqpacket://,
// udp://, switch://; DgramBatch) and those whose datagrams are a fixed-size
// header and a frame, from an address that matters (vxvde://, vxlan://;
// EncapBatch<header size>).
//
// Theory of operation
// -------------------
// Receive: recv() points one message at each free receive slot and reads up
// to kBatch datagrams per recvmmsg, for at most kMaxRounds calls, until the
// slots are full or the socket is drained (a short batch). An encapsulating
// batch reads each datagram's header into storage of its own, the frame
// into the slot, and the sender's address (and, when asked, the packet-info
// control messages) beside them. Each datagram that was not truncated and
// holds at least the header is shown to the transport's `classify` callback,
// which may consume it (a hello, an empty datagram that means something to
// the protocol) or stop the loop; datagrams it keeps that are shorter than
// kMinFrame are dropped. Kept frames are compacted towards the front of the
// slots (a memcpy only when an earlier datagram of the batch was dropped), so
// slots [0, n) hold the frames. `classify` may read the datagram where it
// lies (a switch forwards it to its other ports from there) but must not
// keep the span. `after_batch` may end the loop after a batch
// (a protocol state change that needs another receive path from now on).
// EINTR is retried, EAGAIN ends the loop as "drained"; the transport may name
// one more errno that only reports an earlier datagram (udp://'s ICMP
// ECONNREFUSED), retried like EINTR (each retry counts as a round); any other
// recvmmsg error ends the loop and is returned for the transport to judge.
// Users: ptp://, vde://, seqpacket://, udp:// and switch://'s data ports.
//
// Send: send() packs up to kBatch frames (dropping those shorter than
// kMinFrame) into one sendmmsg, retrying a short count and EINTR (8 times at
// most), and asks the transport's `on_error` what an error means: skip the
// frame, drop the rest (the queue is full: the frames count as sent), or
// fail with a value to return. Flags are the transport's (MSG_NOSIGNAL for
// connected stream-like sockets).
//
// No allocation: the message headers live in the object. Not thread-safe:
// one per transport, used by its one caller thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <type_traits>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Prefix: the bytes of header before the frame in every datagram (0: none,
// and no address either).
template <std::size_t Prefix>
class BasicDgramBatch {
    static constexpr bool kEncap = Prefix > 0;

public:
    static constexpr std::size_t kBatch = 64;  // datagrams per system call
    static constexpr int kMaxRounds = 16;      // recvmmsg calls per recv()

    BasicDgramBatch() = default;
    // retry_errno: a recvmmsg error that reports an earlier datagram, not the
    // socket's state: the loop reads on.
    explicit BasicDgramBatch(int retry_errno) noexcept : retry_errno_(retry_errno) {}

    // What a datagram is to the transport (classify's answer).
    enum class Take { frame, consumed, stop };
    // What a send error means (on_error's answer).
    struct SendVerdict {
        enum Action { skip_frame, drop_rest, fail } action;
        ssize_t value = 0;  // returned by send() for `fail`
    };

    struct RecvResult {
        std::size_t n = 0;  // slots filled
        int err = 0;        // the recvmmsg errno that ended the loop (0: drained, full or stopped)
    };

    // classify(std::span<const std::byte> datagram) -> Take, or for an
    // encapsulating batch classify(const msghdr& mh, std::span<const std::byte,
    // Prefix> header, std::span<const std::byte> frame) -> Take (mh.msg_name
    // is the sender; its control messages are there when `control`);
    // after_batch(std::size_t got, std::size_t asked) -> bool (true: stop now).
    // At most max_rounds recvmmsg calls.
    template <class Classify, class AfterBatch>
    RecvResult recv(int fd, std::span<FrameBuf> bufs, Classify&& classify, AfterBatch&& after_batch,
                    int max_rounds = kMaxRounds, bool control = false) noexcept {
        RecvResult res;
        std::size_t& n = res.n;
        for (int round = 0; round < max_rounds && n < bufs.size(); round++) {
            const std::size_t chunk = std::min(kBatch, bufs.size() - n);
            for (std::size_t i = 0; i < chunk; i++) {
                msghdr& mh = rmsg_[i].msg_hdr;
                mh = msghdr{};
                if constexpr (kEncap) {
                    riov_[i][0] = {rhdr_[i].data(), Prefix};
                    riov_[i][1] = {bufs[n + i].data, bufs[n + i].cap};
                    mh.msg_name = &rname_[i];
                    mh.msg_namelen = sizeof rname_[i];  // the whole buffer (vdeplug4 forgets this)
                    if (control) {
                        mh.msg_control = rctl_[i].bytes;
                        mh.msg_controllen = sizeof rctl_[i].bytes;
                    }
                } else {
                    riov_[i][0] = {bufs[n + i].data, bufs[n + i].cap};
                }
                mh.msg_iov = riov_[i].data();
                mh.msg_iovlen = riov_[i].size();
                rmsg_[i].msg_len = 0;
            }
            const int r = ::recvmmsg(fd, rmsg_.data(), static_cast<unsigned>(chunk), MSG_DONTWAIT, nullptr);
            if (r < 0) {
                if (errno == EINTR || (retry_errno_ != 0 && errno == retry_errno_)) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) res.err = errno;
                return res;
            }
            std::size_t kept = 0;
            bool stop = false;
            for (std::size_t i = 0; i < static_cast<std::size_t>(r); i++) {
                const msghdr& mh = rmsg_[i].msg_hdr;
                if ((mh.msg_flags & MSG_TRUNC) != 0 || rmsg_[i].msg_len < Prefix) continue;
                const std::size_t len = rmsg_[i].msg_len - Prefix;  // the frame's
                const FrameBuf& src = bufs[n + i];
                Take t;
                if constexpr (kEncap)
                    t = classify(mh, std::span<const std::byte, Prefix>(rhdr_[i]), std::span<const std::byte>(src.data, len));
                else
                    t = classify(std::span<const std::byte>(src.data, len));
                if (t == Take::stop) {
                    stop = true;
                    break;
                }
                if (t == Take::consumed || len < kMinFrame) continue;
                FrameBuf& dst = bufs[n + kept];
                if (&dst != &src) {
                    if (len > dst.cap) continue;
                    std::memcpy(dst.data, src.data, len);
                }
                dst.len = len;
                kept++;
            }
            n += kept;
            if (stop || after_batch(static_cast<std::size_t>(r), chunk)) break;
            if (static_cast<std::size_t>(r) < chunk) break;  // drained
        }
        return res;
    }

    // on_error(int err) -> SendVerdict. Returns frames.size() (every frame
    // sent or dropped) or the value of a `fail` verdict.
    template <class OnError>
    ssize_t send(int fd, std::span<const FrameRef> frames, int flags, OnError&& on_error) noexcept
        requires(!kEncap) {
        std::size_t i = 0;
        while (i < frames.size()) {
            std::size_t cnt = 0;
            while (i < frames.size() && cnt < kBatch) {
                const FrameRef& f = frames[i++];
                if (f.data == nullptr || f.len < kMinFrame) continue;  // never an empty datagram
                siov_[cnt] = {const_cast<std::byte*>(f.data), f.len};
                msghdr& mh = smsg_[cnt].msg_hdr;
                mh = msghdr{};
                mh.msg_iov = &siov_[cnt];
                mh.msg_iovlen = 1;
                cnt++;
            }
            std::size_t pos = 0;
            int eintr = 0;
            while (pos < cnt) {
                const int r = ::sendmmsg(fd, smsg_.data() + pos, static_cast<unsigned>(cnt - pos), MSG_DONTWAIT | flags);
                if (r > 0) {
                    pos += static_cast<std::size_t>(r);
                    continue;
                }
                const int err = r < 0 ? errno : EIO;
                if (err == EINTR && ++eintr < 8) continue;
                const SendVerdict v = on_error(err);
                if (v.action == SendVerdict::fail) return v.value;
                if (v.action == SendVerdict::drop_rest) return static_cast<ssize_t>(frames.size());
                pos++;  // this frame cannot go (EMSGSIZE, ...)
            }
        }
        return static_cast<ssize_t>(frames.size());
    }

private:
    int retry_errno_ = 0;
    struct None {};
    struct alignas(cmsghdr) Control {
        unsigned char bytes[CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(in6_pktinfo))];
    };
    template <class T>
    using EncapOnly = std::conditional_t<kEncap, T, None>;
    template <class T>
    using PlainOnly = std::conditional_t<kEncap, None, T>;

    std::array<mmsghdr, kBatch> rmsg_{};
    std::array<std::array<iovec, kEncap ? 2 : 1>, kBatch> riov_{};
    [[no_unique_address]] EncapOnly<std::array<std::array<std::byte, Prefix>, kBatch>> rhdr_{};
    [[no_unique_address]] EncapOnly<std::array<sockaddr_in6, kBatch>> rname_{};
    [[no_unique_address]] EncapOnly<std::array<Control, kBatch>> rctl_{};
    [[no_unique_address]] PlainOnly<std::array<mmsghdr, kBatch>> smsg_{};
    [[no_unique_address]] PlainOnly<std::array<iovec, kBatch>> siov_{};
};

// Datagrams that are frames: recv() and send().
using DgramBatch = BasicDgramBatch<0>;
// Datagrams that are a Header-byte header and a frame, from an address.
template <std::size_t Header>
using EncapBatch = BasicDgramBatch<Header>;

}  // namespace vdestack::plug
