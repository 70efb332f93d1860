// fuzz_whole.cpp - libFuzzer target: the whole-frame hello and envelope
// parsers (src/wire/whole.hpp), fed what a ptp peer may send. Whatever the
// input: a parsed envelope's frame lies inside the datagram right after the
// head, its GSO header is TCP with a non-zero size and a checksum field inside
// the frame, and re-encoding the header gives back the same head bytes; a
// parsed hello re-encodes to the same first 38 bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "wire/whole.hpp"

using namespace vdestack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> d(reinterpret_cast<const std::byte*>(data), size);
    if (const auto e = whole::parse_envelope(d)) {
        if (e->frame.data() != d.data() + whole::kEnvelopeHead || e->frame.size() != size - whole::kEnvelopeHead) std::abort();
        const std::uint8_t kind = e->hdr.gso_kind();
        if (kind != VnetHdr::kGsoTcpV4 && kind != VnetHdr::kGsoTcpV6) std::abort();
        if (e->hdr.gso_size == 0 || std::size_t{e->hdr.csum_start} + e->hdr.csum_offset + 2 > e->frame.size()) std::abort();
        const auto head = whole::envelope_head(e->hdr);
        if (std::memcmp(head.data(), data, head.size()) != 0) std::abort();
        if (!whole::is_envelope(d) || whole::is_hello(d)) std::abort();
    }
    if (const auto h = whole::parse_hello(d)) {
        const auto again = whole::hello(*h);
        if (std::memcmp(again.data(), data, whole::kPrefix + 16) != 0) std::abort();
        if (whole::is_envelope(d)) std::abort();
    }
    return 0;
}
