// netns_main.cpp - main() of the network test binaries: every test process runs
// in a private network namespace it creates itself, so no packet (vxvde
// multicast included) can reach the host's interfaces.
//
// Before any thread exists: unshare(CLONE_NEWNET) (needs root; without it the
// tests are skipped with exit status 0 and a message), then "lo" up with
// multicast and 224.0.0.0/4 + ff00::/8 routed on lo. ctest runs each test in
// its own process (gtest_discover_tests), hence each in a fresh namespace.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "support/proc.hpp"

namespace {
// Each test starts without a child process of the one before: a helper
// outlives its last stack by Tuning::linger_ms (tests run several to a
// process under tests/unprivileged.sh).
class NoChildLeftOver : public ::testing::EmptyTestEventListener {
    void OnTestStart(const ::testing::TestInfo&) override { (void)vdetest::settled(vdetest::count_children, 0); }
};
}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    bool listing = false;
    for (int i = 1; i < argc; i++)
        if (std::string_view(argv[i]).starts_with("--gtest_list_tests")) listing = true;
    // VDESTACK_TEST_NETNS_READY=1: the caller already made and configured a
    // private netns (tests/unprivileged.sh runs us as an unprivileged user).
    const char* ready = std::getenv("VDESTACK_TEST_NETNS_READY");
    if (ready != nullptr && std::string_view(ready) == "1") listing = true;
    if (!listing) {
        if (unshare(CLONE_NEWNET) != 0) {
            std::perror("unshare(CLONE_NEWNET): network tests need root; skipping");
            return 0;
        }
        if (std::system("ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo"
                        " && { ip -6 route add ff00::/8 dev lo table local 2>/dev/null || true; }") != 0) {
            std::fprintf(stderr, "cannot configure lo in the private netns\n");
            return 1;
        }
    }
    ::testing::UnitTest::GetInstance()->listeners().Append(new NoChildLeftOver);
    return RUN_ALL_TESTS();
}
