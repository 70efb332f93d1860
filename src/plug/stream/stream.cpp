// stream.cpp - the stream-framed transport (see stream.hpp).
#include "plug/stream/stream.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "wire/stream.hpp"

namespace vdestack::plug {

namespace {

class StreamTransport final : public Transport {
public:
    StreamTransport(std::string_view name, int in, int out, bool own)
        : name_(name), in_(in), out_(out), own_(own), decoder_(kMaxFrame) {
        fds_[0] = in;
        caps_.drained_when_short = true;
    }
    ~StreamTransport() override {
        if (own_) {
            ::close(in_);
            if (out_ != in_) ::close(out_);
        }
    }

    std::span<const int> poll_fds() const noexcept override { return {fds_, 1}; }
    const std::string& vnl() const noexcept override { return name_; }

    ssize_t recv(std::span<FrameBuf> bufs) noexcept override {
        std::size_t n = 0;
        for (;;) {
            while (n < bufs.size()) {
                std::size_t len = decoder_.next({bufs[n].data, bufs[n].cap});
                if (len == 0) break;
                bufs[n++].len = len;
            }
            if (n == bufs.size() || eof_) break;
            // Read only what is there, so that we never block.
            pollfd p{in_, POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) break;
            int avail = 0;
            if (::ioctl(in_, FIONREAD, &avail) != 0) avail = 1;  // not a pipe/socket/tty: read one chunk
            auto space = decoder_.space();
            if (avail == 0) {  // readable with nothing to read: end of file
                eof_ = true;
                break;
            }
            ssize_t r = ::read(in_, space.data(), std::min(space.size(), static_cast<std::size_t>(avail)));
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN) break;
                eof_ = true;
                break;
            }
            if (r == 0) {
                eof_ = true;
                break;
            }
            decoder_.commit(static_cast<std::size_t>(r));
        }
        if (n == 0 && eof_) return -EPIPE;
        return static_cast<ssize_t>(n);
    }

    // Short only when the decoder holds no whole frame and the fd had nothing more.

    ssize_t send(std::span<const FrameRef> frames) noexcept override {
        for (const FrameRef& f : frames) {
            if (f.len < kMinFrame || f.len > kMaxFrame) continue;
            std::byte hdr[2];
            wire::write_stream_header(hdr, f.len);
            iovec iov[2] = {{hdr, 2}, {const_cast<std::byte*>(f.data), f.len}};
            std::size_t total = 2 + f.len, done = 0;
            while (done < total) {
                // skip what is already written
                iovec v[2];
                int cnt = 0;
                std::size_t off = done;
                for (auto& i : iov) {
                    if (off >= i.iov_len) {
                        off -= i.iov_len;
                        continue;
                    }
                    v[cnt++] = {static_cast<std::byte*>(i.iov_base) + off, i.iov_len - off};
                    off = 0;
                }
                ssize_t w = ::writev(out_, v, cnt);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN) {
                        pollfd p{out_, POLLOUT, 0};
                        ::poll(&p, 1, 1000);
                        continue;
                    }
                    return -errno;
                }
                done += static_cast<std::size_t>(w);
            }
        }
        return static_cast<ssize_t>(frames.size());
    }

private:
    std::string name_;
    int in_, out_;
    bool own_;
    bool eof_ = false;
    int fds_[1];
    wire::StreamDecoder decoder_;
};

}  // namespace

std::unique_ptr<Transport> open_stream(std::string_view name, int in_fd, int out_fd, bool own) {
    return std::make_unique<StreamTransport>(name, in_fd, out_fd, own);
}

}  // namespace vdestack::plug
