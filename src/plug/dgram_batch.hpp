// dgram_batch.hpp - the one recvmmsg loop and the one sendmmsg loop of the
// transports whose datagrams are frames (ptp://, vde://, seqpacket://, udp://,
// switch://).
//
// Theory of operation
// -------------------
// Receive: recv() points one message at each free receive slot and reads up
// to kBatch datagrams per recvmmsg, for at most kMaxRounds calls, until the
// slots are full or the socket is drained (a short batch). Each datagram
// that was not truncated is shown to the transport's `classify` callback,
// which may consume it (a hello, an empty datagram that means something to
// the protocol) or stop the loop; datagrams it keeps that are shorter than
// kMinFrame are dropped. Kept frames are compacted towards the front of the
// slots (a memcpy only when an earlier datagram of the batch was dropped), so
// slots [0, n) hold the frames. `classify` may read the datagram where it
// lies (a switch forwards it to its other ports from there) but must not
// keep the span. `after_batch` may end the loop after a batch
// (a protocol state change that needs another receive path from now on).
// EINTR is retried, EAGAIN ends the loop as "drained"; any other recvmmsg
// error ends it and is returned for the transport to judge.
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

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>

#include "plug/transport.hpp"

namespace vdestack::plug {

class DgramBatch {
public:
    static constexpr std::size_t kBatch = 64;  // datagrams per system call
    static constexpr int kMaxRounds = 16;      // recvmmsg calls per recv()

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

    // classify(std::span<const std::byte> datagram) -> Take;
    // after_batch(std::size_t got, std::size_t asked) -> bool (true: stop now).
    // At most max_rounds recvmmsg calls.
    template <class Classify, class AfterBatch>
    RecvResult recv(int fd, std::span<FrameBuf> bufs, Classify&& classify, AfterBatch&& after_batch,
                    int max_rounds = kMaxRounds) noexcept {
        RecvResult res;
        std::size_t& n = res.n;
        for (int round = 0; round < max_rounds && n < bufs.size(); round++) {
            const std::size_t chunk = std::min(kBatch, bufs.size() - n);
            for (std::size_t i = 0; i < chunk; i++) {
                riov_[i] = {bufs[n + i].data, bufs[n + i].cap};
                msghdr& mh = rmsg_[i].msg_hdr;
                mh = msghdr{};
                mh.msg_iov = &riov_[i];
                mh.msg_iovlen = 1;
                rmsg_[i].msg_len = 0;
            }
            const int r = ::recvmmsg(fd, rmsg_.data(), static_cast<unsigned>(chunk), MSG_DONTWAIT, nullptr);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) res.err = errno;
                return res;
            }
            std::size_t kept = 0;
            bool stop = false;
            for (std::size_t i = 0; i < static_cast<std::size_t>(r); i++) {
                const std::size_t len = rmsg_[i].msg_len;
                if ((rmsg_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) continue;
                const FrameBuf& src = bufs[n + i];
                const Take t = classify(std::span<const std::byte>(src.data, len));
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
    ssize_t send(int fd, std::span<const FrameRef> frames, int flags, OnError&& on_error) noexcept {
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
    std::array<mmsghdr, kBatch> rmsg_{};
    std::array<iovec, kBatch> riov_{};
    std::array<mmsghdr, kBatch> smsg_{};
    std::array<iovec, kBatch> siov_{};
};

}  // namespace vdestack::plug
