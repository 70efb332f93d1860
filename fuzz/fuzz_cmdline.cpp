// fuzz_cmdline.cpp - libFuzzer target: vde_stackcmd's command splitting. No
// argument may contain an unquoted separator, and nothing may crash.
#include <cstdint>
#include <string_view>

#include "base/cmdline.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto cmds = vdestack::split_commands(std::string_view(reinterpret_cast<const char*>(data), size));
    for (auto& argv : cmds)
        if (argv.empty()) __builtin_trap();  // empty commands are skipped, never returned
    return 0;
}
