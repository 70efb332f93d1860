// fuzz_stream.cpp - libFuzzer target: the VDE stream framing decoder fed in
// chunks whose sizes come from the input itself. Every frame taken out must
// fit its buffer and be at least 1 byte; nothing may read out of bounds.
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "plug/transport.hpp"
#include "wire/stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t chunk = 1 + data[0] % 97;
    vdestack::wire::StreamDecoder d(vdestack::plug::kMaxFrame);
    std::vector<std::byte> frame(vdestack::plug::kMaxFrame);
    for (std::size_t off = 1; off < size;) {
        auto sp = d.space();
        std::size_t n = std::min(std::min(chunk, sp.size()), size - off);
        if (n == 0) __builtin_trap();  // the decoder must always make room
        std::memcpy(sp.data(), data + off, n);
        d.commit(n);
        off += n;
        while (std::size_t len = d.next(frame))
            if (len > frame.size()) __builtin_trap();
    }
    return 0;
}
