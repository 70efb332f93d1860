// unit_fabric.cpp - the local fabric (src/engine/fabric.hpp): segments are
// named consistently, unicast frames reach the stack that owns the
// destination MAC on the same segment (written whole, iovecs joined), and
// never the sender itself, another segment, a forgotten stack, or anyone for
// a multicast/broadcast destination. Pipes stand in for taps.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>

#include "engine/fabric.hpp"

namespace {

using vdestack::engine::Fabric;
using Mac = std::array<std::byte, 6>;

Mac mac(unsigned char first, unsigned char last) {
    return {std::byte{first}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}, std::byte{last}};
}

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int p[2];
        EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        r = p[0];
        w = p[1];
    }
    ~Pipe() {
        ::close(r);
        ::close(w);
    }
    std::string drain() const {
        char buf[256];
        ssize_t n = ::read(r, buf, sizeof buf);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};

bool send(Fabric& f, std::uint32_t seg, const Mac& dst, std::uint64_t self, const char* a, const char* b) {
    iovec iov[2] = {{const_cast<char*>(a), std::strlen(a)}, {const_cast<char*>(b), std::strlen(b)}};
    return f.deliver(seg, dst, self, std::span<const iovec>(iov, 2));
}

TEST(Fabric, SegmentsAreNamedConsistently) {
    Fabric f;
    const std::uint32_t a = f.segment("unit-fabric a"), b = f.segment("unit-fabric b");
    EXPECT_NE(a, 0u);
    EXPECT_NE(b, 0u);
    EXPECT_NE(a, b);
    EXPECT_EQ(f.segment("unit-fabric a"), a);
}

TEST(Fabric, DeliversUnicastToTheOwnerOnly) {
    Fabric f;
    const std::uint32_t seg = f.segment("unit-fabric deliver"), other = f.segment("unit-fabric other");
    Pipe tap1, tap2;
    const Mac m1 = mac(0x02, 1), m2 = mac(0x02, 2);
    f.learn(seg, m1, 101, tap1.w);
    f.learn(seg, m2, 102, tap2.w);

    EXPECT_TRUE(send(f, seg, m2, 101, "hdr|", "frame"));  // stack 101 -> stack 102
    EXPECT_EQ(tap2.drain(), "hdr|frame");
    EXPECT_EQ(tap1.drain(), "");

    EXPECT_FALSE(send(f, seg, m1, 101, "x", "y")) << "never back to the sender";
    EXPECT_FALSE(send(f, other, m2, 101, "x", "y")) << "another segment is another network";
    EXPECT_FALSE(send(f, seg, mac(0x02, 9), 101, "x", "y")) << "an unknown MAC takes the network";
    EXPECT_FALSE(send(f, seg, mac(0xff, 0xff), 101, "x", "y")) << "broadcast takes the network";
    EXPECT_FALSE(send(f, seg, mac(0x33, 1), 101, "x", "y")) << "multicast takes the network";
    EXPECT_FALSE(send(f, 0, m2, 101, "x", "y")) << "segment 0 is no segment";
    EXPECT_EQ(tap1.drain(), "");
    EXPECT_EQ(tap2.drain(), "");

    f.forget(102);
    EXPECT_FALSE(send(f, seg, m2, 101, "x", "y")) << "a forgotten stack's tap is never written";
    EXPECT_EQ(tap2.drain(), "");
    f.forget(101);
}

TEST(Fabric, MulticastSourcesAreNotLearnedAndMacsMove) {
    Fabric f;
    const std::uint32_t seg = f.segment("unit-fabric move");
    Pipe tap1, tap2, tap3;
    const std::size_t before = f.size();
    f.learn(seg, mac(0x03, 7), 201, tap1.w);  // a multicast source: nonsense, ignored
    EXPECT_EQ(f.size(), before);

    const Mac m = mac(0x02, 7);
    f.learn(seg, m, 201, tap1.w);
    f.learn(seg, m, 201, tap1.w);  // again: nothing changes
    EXPECT_EQ(f.size(), before + 1);
    f.learn(seg, m, 202, tap2.w);  // the MAC shows up behind stack 202
    EXPECT_TRUE(send(f, seg, m, 203, "to", "202"));
    EXPECT_EQ(tap2.drain(), "to202");
    EXPECT_EQ(tap1.drain(), "");
    f.forget(201);
    EXPECT_TRUE(send(f, seg, m, 203, "still", "202")) << "forgetting 201 keeps 202's entry";
    EXPECT_EQ(tap2.drain(), "still202");
    f.forget(202);
    EXPECT_EQ(f.size(), before);
}

}  // namespace
