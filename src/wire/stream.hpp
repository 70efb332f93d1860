// stream.hpp - the VDE stream framing (vdeplug4's vdestream, vde_plug's
// stdin/stdout, cmd://): every frame is preceded by its length as 2 bytes,
// big endian. Zero-length records are skipped.
//
// StreamDecoder is a checked, incremental parser: feed it bytes in chunks of
// any size (a length split across reads is fine, unlike the reference) and
// take whole frames out. A record longer than the frame limit is skipped
// whole (its length tells where the next one starts), and counted.
// Never reads out of bounds; no allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vdestack::wire {

inline constexpr std::size_t kStreamHeader = 2;

inline void write_stream_header(std::byte out[2], std::size_t len) {
    out[0] = static_cast<std::byte>((len >> 8) & 0xff);
    out[1] = static_cast<std::byte>(len & 0xff);
}

class StreamDecoder {
public:
    explicit StreamDecoder(std::size_t max_frame) : max_(max_frame), buf_(max_frame + kStreamHeader) {}

    // Space where the next read() may put bytes; commit(n) after it.
    [[nodiscard]] std::span<std::byte> space() noexcept { return {buf_.data() + end_, buf_.size() - end_}; }
    void commit(std::size_t n) noexcept { end_ += n; }

    // Extracts the next complete frame into out (at most out.size() bytes;
    // callers give max_frame). Returns its length, or 0 when more bytes are
    // needed. Oversized and empty records are skipped.
    std::size_t next(std::span<std::byte> out) noexcept {
        for (;;) {
            if (skip_ > 0) {
                std::size_t n = std::min(skip_, end_ - begin_);
                begin_ += n;
                skip_ -= n;
                if (skip_ > 0) {
                    compact();
                    return 0;
                }
            }
            if (end_ - begin_ < kStreamHeader) {
                compact();
                return 0;
            }
            std::size_t len = (std::to_integer<std::size_t>(buf_[begin_]) << 8) |
                              std::to_integer<std::size_t>(buf_[begin_ + 1]);
            if (len == 0) {
                begin_ += kStreamHeader;
                continue;
            }
            if (len > max_ || len > out.size()) {
                oversized_++;
                begin_ += kStreamHeader;
                skip_ = len;
                continue;
            }
            if (end_ - begin_ < kStreamHeader + len) {
                compact();
                return 0;
            }
            std::memcpy(out.data(), buf_.data() + begin_ + kStreamHeader, len);
            begin_ += kStreamHeader + len;
            return len;
        }
    }

    [[nodiscard]] std::uint64_t oversized() const noexcept { return oversized_; }
    [[nodiscard]] std::size_t buffered() const noexcept { return end_ - begin_; }

private:
    void compact() noexcept {
        if (begin_ == 0) return;
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }

    std::size_t max_;
    std::vector<std::byte> buf_;
    std::size_t begin_ = 0, end_ = 0;
    std::size_t skip_ = 0;  // bytes of an oversized record still to drop
    std::uint64_t oversized_ = 0;
};

}  // namespace vdestack::wire
