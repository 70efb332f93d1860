// md5.cpp - MD5 as RFC 1321 specifies it (see md5.hpp): the padding of 3.1-3.2,
// the buffer of 3.3, the four rounds of 3.4 as one loop over their 64 steps,
// the little-endian output of 3.5.
#include "conf/md5.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace vdestack::conf {
namespace {

// T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 3.4.
constexpr std::array<std::uint32_t, 64> kSine{
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
// The left rotations: four per round, repeated over its 16 steps.
constexpr std::array<std::array<int, 4>, 4> kShift{{{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}};

constexpr std::size_t kBlock = 64;
constexpr std::size_t kLengthAt = 56;  // where the 64-bit length goes in the last block

std::uint32_t le32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}
void put_le(std::uint8_t* p, std::uint64_t v, std::size_t bytes) noexcept {
    for (std::size_t i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

void Md5::compress(const std::uint8_t* block) noexcept {
    std::array<std::uint32_t, 16> x{};
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = le32(block + 4 * i);
    auto [a, b, c, d] = state_;
    for (std::size_t i = 0; i < kSine.size(); ++i) {
        std::uint32_t f = 0;
        std::size_t k = 0;  // which word of the block this step adds
        switch (i / 16) {
        case 0: f = (b & c) | (~b & d), k = i; break;                 // F
        case 1: f = (b & d) | (c & ~d), k = (5 * i + 1) % 16; break;  // G
        case 2: f = b ^ c ^ d, k = (3 * i + 5) % 16; break;           // H
        default: f = c ^ (b | ~d), k = (7 * i) % 16; break;           // I
        }
        const std::uint32_t sum = a + f + kSine[i] + x[k];
        a = d;
        d = c;
        c = b;
        b += std::rotl(sum, kShift[i / 16][i % 4]);
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
}

void Md5::update(std::span<const std::uint8_t> data) noexcept {
    if (data.empty()) return;  // its data() may be null, which memcpy must not get
    const std::size_t used = length_ % kBlock;
    length_ += data.size();
    if (used != 0) {
        const std::size_t take = std::min(kBlock - used, data.size());
        std::memcpy(pending_.data() + used, data.data(), take);
        data = data.subspan(take);
        if (used + take < kBlock) return;
        compress(pending_.data());
    }
    for (; data.size() >= kBlock; data = data.subspan(kBlock)) compress(data.data());
    if (!data.empty()) std::memcpy(pending_.data(), data.data(), data.size());
}

Md5Digest Md5::finish() noexcept {
    // A 1 bit, then 0 bits up to 56 bytes mod 64 (at least one padding byte),
    // then the message length in bits, low byte first.
    const std::uint64_t bits = length_ * 8;
    const std::size_t used = length_ % kBlock;
    std::array<std::uint8_t, kBlock> padding{0x80};  // 64 bytes at most (used == 56)
    update(std::span(padding).first(used < kLengthAt ? kLengthAt - used : kBlock + kLengthAt - used));
    std::array<std::uint8_t, 8> length{};
    put_le(length.data(), bits, length.size());
    update(length);
    Md5Digest out{};
    for (std::size_t i = 0; i < state_.size(); ++i) put_le(out.data() + 4 * i, state_[i], 4);
    *this = Md5{};
    return out;
}

Md5Digest md5(std::span<const std::uint8_t> data) noexcept {
    Md5 h;
    h.update(data);
    return h.finish();
}

Md5Digest md5(std::string_view text) noexcept {
    return md5(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace vdestack::conf
