// fuzz_mcast_report.cpp - libFuzzer target for wire/mcast_report.hpp: the
// IGMP/MLD report walk must never read outside its input, and every group it
// shows is an IPv4 or IPv6 multicast group whose MAC is a group MAC.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "wire/mcast_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> f(reinterpret_cast<const std::byte*>(data), size);
    std::size_t n = 0;
    const bool report = vdestack::wire::for_each_membership(f, [&](const vdestack::wire::McastGroup& g) {
        if (g.family != 2 && g.family != 10) std::abort();
        if ((std::to_integer<unsigned>(g.mac()[0]) & 1u) == 0) std::abort();
        n++;
    });
    if (!report && n != 0) std::abort();
    return 0;
}
