// fuzz_offload.cpp - libFuzzer target: the tap offload parsers
// (frame/offload.hpp) on arbitrary bytes.
//   Gro: frames from the network (untrusted). The input is cut into up to 16
//   frames at 2-byte length prefixes; every frame must come out exactly once
//   (alone or merged: count and bytes are conserved, headers aside), never
//   read out of bounds (ASan), and no merged frame may exceed 64 KiB.
//   TsoSegmenter and complete_csum: a virtio_net_hdr (first 10 bytes) and a
//   frame (the rest), as a stack's kernel might hand them; every segment must
//   fit the size the segmenter announced.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "plug/transport.hpp"
#include "frame/offload.hpp"
#include "wire/vnet.hpp"

using namespace vdestack;

namespace {

void fuzz_gro(const std::uint8_t* data, std::size_t size) {
    static frame::Gro gro(16);
    std::vector<std::vector<std::byte>> frames;
    std::size_t off = 0;
    while (off + 2 <= size && frames.size() < 16) {
        std::size_t len = (std::size_t{data[off]} << 8 | data[off + 1]) % 2048;
        off += 2;
        len = std::min(len, size - off);
        frames.emplace_back(reinterpret_cast<const std::byte*>(data + off), reinterpret_cast<const std::byte*>(data + off + len));
        off += len;
    }
    std::vector<plug::FrameBuf> bufs;
    std::size_t bytes_in = 0;
    for (auto& f : frames) {
        bufs.push_back(plug::FrameBuf{f.data(), f.size(), f.size()});
        bytes_in += f.size();
    }
    std::size_t emitted = 0, bytes_out = 0;
    const std::uint64_t merged_before = gro.merged_segments, frames_before = gro.merged_frames;
    gro.run(std::span<const plug::FrameBuf>(bufs), [&](std::span<const iovec> iov) {
        if (iov.size() < 2 || iov[0].iov_len != wire::VnetHdr::kSize) __builtin_trap();
        std::size_t len = 0;
        for (std::size_t i = 1; i < iov.size(); i++) len += iov[i].iov_len;
        if (len > 65535 + 14) __builtin_trap();
        bytes_out += len;
        emitted++;
    });
    // Frames in = frames out + (segments merged - merged frames made).
    const std::uint64_t merged = gro.merged_segments - merged_before, made = gro.merged_frames - frames_before;
    if (emitted + merged - made != frames.size()) __builtin_trap();
    if (bytes_out > bytes_in) __builtin_trap();
}

void fuzz_tso(const std::uint8_t* data, std::size_t size) {
    const auto h = wire::VnetHdr::parse(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
    if (!h) return;
    std::vector<std::byte> frame(reinterpret_cast<const std::byte*>(data) + wire::VnetHdr::kSize,
                                 reinterpret_cast<const std::byte*>(data) + size);
    std::vector<std::byte> copy = frame;
    (void)frame::complete_csum(std::span<std::byte>(copy), *h);
    frame::TsoSegmenter tso;
    if (!tso.start(std::span<const std::byte>(frame), *h)) return;
    static std::vector<std::byte> out(70000);
    std::size_t n = 0;
    while (!tso.done()) {
        const std::size_t len = tso.next(std::span<std::byte>(out));
        if (len == 0 || len > tso.max_segment()) __builtin_trap();
        if (++n > tso.segments()) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        fuzz_gro(data + 1, size - 1);
    else
        fuzz_tso(data + 1, size - 1);
    return 0;
}
