// md5.hpp - MD5 (RFC 1321), written from the RFC: the digest iothconf uses to
// turn a host name into a MAC and an IPv6 interface id (see hash.hpp). Not
// for security: MD5 is broken as a cryptographic hash; here it only has to
// give the same bytes as upstream. libc only, no allocation, any length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vdestack::conf {

using Md5Digest = std::array<std::uint8_t, 16>;

// The incremental form: update() any number of times with any lengths, then
// finish() once for the digest; finish() leaves the object as a new one, for
// the next message. Not thread-safe (one object, one thread at a time).
class Md5 {
public:
    void update(std::span<const std::uint8_t> data) noexcept;
    [[nodiscard]] Md5Digest finish() noexcept;

private:
    void compress(const std::uint8_t* block) noexcept;  // one 64-byte block

    std::array<std::uint32_t, 4> state_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};  // A B C D
    std::array<std::uint8_t, 64> pending_{};  // the bytes of a block not yet complete
    std::uint64_t length_ = 0;                // bytes so far (the RFC counts bits mod 2^64)
};

// The digest of one whole message. Thread-safe.
[[nodiscard]] Md5Digest md5(std::span<const std::uint8_t> data) noexcept;
// The same, of the bytes of a string (all of them: no terminator is added).
[[nodiscard]] Md5Digest md5(std::string_view text) noexcept;

}  // namespace vdestack::conf
