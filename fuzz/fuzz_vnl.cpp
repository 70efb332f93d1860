// fuzz_vnl.cpp - libFuzzer target: VNL parsing (split, both option styles,
// numbers). Any input must parse or throw vdestack::Error(EINVAL); never
// crash or read out of bounds (run under ASan+UBSan).
#include <cstdint>
#include <string_view>

#include "base/error.hpp"
#include "vnl/vnl.hpp"

using namespace vdestack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    static constexpr std::string_view kIp[] = {"v4", "v6", "port", "vni", "grp", "ttl", "if", "hashsize", "expiretime"};
    static constexpr std::string_view kPath[] = {"", "port", "portgroup", "group", "mode"};
    vnl::Locator loc = vnl::split(in);
    try {
        auto p = vnl::parse_ip_style(loc.rest, kIp, in);
        for (auto& [k, v] : p.options) (void)vnl::parse_number(v, k, in, 65535);
    } catch (const Error& e) {
        if (e.errno_value() != EINVAL) __builtin_trap();
    }
    try {
        (void)vnl::parse_path_style(loc.rest, kPath, in);
    } catch (const Error& e) {
        if (e.errno_value() != EINVAL) __builtin_trap();
    }
    return 0;
}
