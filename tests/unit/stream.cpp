// unit_stream.cpp - the VDE stream framing decoder (wire/stream.hpp): golden
// bytes, records split anywhere (even inside the length), empty and
// oversized records skipped without losing sync.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plug/transport.hpp"
#include "wire/stream.hpp"

using vdestack::wire::StreamDecoder;

namespace {
std::vector<std::byte> record(std::size_t len, std::uint8_t fill) {
    std::vector<std::byte> r(2 + len, std::byte{fill});
    vdestack::wire::write_stream_header(r.data(), len);
    return r;
}
void feed(StreamDecoder& d, const std::vector<std::byte>& bytes, std::size_t chunk, std::vector<std::string>& out) {
    std::vector<std::byte> frame(vdestack::plug::kMaxFrame);
    for (std::size_t off = 0; off < bytes.size();) {
        auto sp = d.space();
        std::size_t n = std::min({chunk, sp.size(), bytes.size() - off});
        std::memcpy(sp.data(), bytes.data() + off, n);
        d.commit(n);
        off += n;
        while (std::size_t len = d.next(frame)) out.emplace_back(reinterpret_cast<char*>(frame.data()), len);
    }
}
}  // namespace

TEST(Stream, HeaderIsBigEndianLength) {
    std::byte h[2];
    vdestack::wire::write_stream_header(h, 1514);
    EXPECT_EQ(h[0], std::byte{0x05});
    EXPECT_EQ(h[1], std::byte{0xea});
}

TEST(Stream, WholeRecordsInAnyChunking) {
    std::vector<std::byte> bytes;
    for (std::size_t len : {60u, 1514u, 14u, 9000u, 100u}) {
        auto r = record(len, static_cast<std::uint8_t>(len));
        bytes.insert(bytes.end(), r.begin(), r.end());
    }
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 61u, 1500u, 65536u}) {
        StreamDecoder d(vdestack::plug::kMaxFrame);
        std::vector<std::string> out;
        feed(d, bytes, chunk, out);
        ASSERT_EQ(out.size(), 5u) << "chunk " << chunk;
        EXPECT_EQ(out[0], std::string(60, '\x3c'));
        EXPECT_EQ(out[1].size(), 1514u);
        EXPECT_EQ(out[3].size(), 9000u);
        EXPECT_EQ(out[4], std::string(100, 'd'));
        EXPECT_EQ(d.buffered(), 0u);
    }
}

TEST(Stream, EmptyAndOversizedRecordsAreSkipped) {
    std::vector<std::byte> bytes;
    auto add = [&](std::vector<std::byte> r) { bytes.insert(bytes.end(), r.begin(), r.end()); };
    add(record(0, 0));
    add(record(60, 1));
    add(record(20000, 2));  // larger than any VDE frame: skipped whole
    add(record(0, 0));
    add(record(61, 3));
    for (std::size_t chunk : {1u, 5u, 4096u}) {
        StreamDecoder d(vdestack::plug::kMaxFrame);
        std::vector<std::string> out;
        feed(d, bytes, chunk, out);
        ASSERT_EQ(out.size(), 2u);
        EXPECT_EQ(out[0], std::string(60, '\x01'));
        EXPECT_EQ(out[1], std::string(61, '\x03'));
        EXPECT_EQ(d.oversized(), 1u);
    }
}

TEST(Stream, PartialRecordWaits) {
    StreamDecoder d(100);
    auto r = record(50, 9);
    std::vector<std::byte> frame(100);
    auto sp = d.space();
    std::memcpy(sp.data(), r.data(), 30);
    d.commit(30);
    EXPECT_EQ(d.next(frame), 0u);
    sp = d.space();
    std::memcpy(sp.data(), r.data() + 30, r.size() - 30);
    d.commit(r.size() - 30);
    EXPECT_EQ(d.next(frame), 50u);
}
