// stack_fault.cpp - the fault:// wrapper between two stacks: with 30% loss
// and 20% reordering on the data path, TCP still delivers every byte intact
// (checked byte for byte); duplication and corruption are survived too; bad
// options are rejected with the VNL and the key in the message.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstring>
#include <string>
#include <thread>

#include "support/net.hpp"
#include "support/proc.hpp"
#include "vdestack/stack.hpp"

using namespace vdetest;

namespace {

// Sends `size` patterned bytes from a to b over TCP/IPv4; returns true when
// all arrived intact within the time limit.
bool transfer(const vde::Stack& a, const vde::Stack& b, std::size_t size, int timeout_ms) {
    vde::Socket l = b.socket(AF_INET, SOCK_STREAM);
    socklen_t len;
    sockaddr_storage addr = make_addr("10.0.0.2", 9000, len);
    if (bind(l.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(l.get(), 1) != 0) return false;
    vde::Socket c;
    if (!eventually([&] {
            c = a.socket(AF_INET, SOCK_STREAM);
            return connect(c.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0;
        }, 30))
        return false;
    vde::Socket acc(accept(l.get(), nullptr, nullptr));
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; i++) data[i] = static_cast<char>((i * 131 + (i >> 10)) & 0xff);
    std::thread writer([&] { write_all(c.get(), data); });
    std::string got = read_n(acc.get(), size, timeout_ms);
    writer.join();
    return got == data;
}

// Stack a (the sender) on vnl_a, stack b on vnl_b: both on the same network.
void two_stacks(const std::string& vnl_a, const std::string& vnl_b, std::size_t size) {
    vde::Stack a(vnl_a), b(vnl_b);
    a.link_up();
    b.link_up();
    a.add_address("10.0.0.1/24");
    b.add_address("10.0.0.2/24");
    EXPECT_TRUE(transfer(a, b, size, 60000)) << vnl_a << " -> " << vnl_b;
}

}  // namespace

TEST(Fault, LossAndReorderingStillDeliverEveryByte) {
    // The data direction loses 30% and reorders 20%; the acknowledgements
    // come back intact (with both directions lossy, SYN back-off alone can
    // exceed a minute).
    two_stacks("fault://[loss=30/reorder=20/seed=11]{vxvde://234.0.0.1}", "vxvde://234.0.0.1", 512 * 1024);
}

TEST(Fault, DuplicationCorruptionDelayAndRateAreSurvived) {
    const char* vnl = "fault://[dup=10/corrupt=5/delay=2/jitter=2/bw=2m/seed=5]{vxvde://234.0.0.1}";
    two_stacks(vnl, vnl, 512 * 1024);
}

TEST(Fault, BothDirectionsOption) {
    two_stacks("fault://[loss=10/reorder=10/dir=both/seed=3]{vxvde://234.0.0.1}", "vxvde://234.0.0.1", 128 * 1024);
}

TEST(Fault, BadOptionsAreRejected) {
    for (const char* vnl : {"fault://[loss=101]{vxvde://234.0.0.1}", "fault://[nosuch=1]{null://}",
                            "fault://[loss=5]", "fault://[dir=sideways]{null://}", "fault://[loss=5]{nosuch://}"}) {
        try {
            vde::Stack s(vnl);
            ADD_FAILURE() << vnl << " accepted";
        } catch (const vde::Error& e) {
            EXPECT_THAT(e.what(), ::testing::HasSubstr("fault://")) << vnl;
            EXPECT_TRUE(e.errno_value() == EINVAL || e.errno_value() == EPROTONOSUPPORT) << vnl;
        }
    }
}
