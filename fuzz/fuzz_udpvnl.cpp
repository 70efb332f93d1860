// fuzz_udpvnl.cpp - libFuzzer target: the udp:// VNL splitter
// (plug/udp.hpp split_udp_vnl: "->", bracketed or bare IPv6, last-':' ports).
// Any input must split or throw vdestack::Error(EINVAL); a split result must
// keep its promises (both ports and the destination present, no brackets
// left in the hosts). Never crash or read out of bounds (ASan+UBSan). The
// resolver is not called: fuzzing must not query DNS.
#include <cstdint>
#include <string_view>

#include "plug/udp/udp.hpp"
#include "base/error.hpp"

using namespace vdestack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        plug::UdpVnlParts p = plug::split_udp_vnl("udp://fuzz", in);
        if (p.src_port.empty() || p.dst_port.empty() || p.dst_host.empty()) __builtin_trap();
        for (const std::string* h : {&p.src_host, &p.dst_host})
            if (h->find_first_of("[]") != std::string::npos) __builtin_trap();
    } catch (const Error& e) {
        if (e.errno_value() != EINVAL) __builtin_trap();
    }
    return 0;
}
