// fuzz_ioth_config.cpp - libFuzzer target: iothconf configuration strings
// (conf/config.hpp) on arbitrary text. parse_config() either throws
// vdestack::Error with EINVAL or returns a request whose every field is in
// range; nothing else may happen.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.hpp"
#include "conf/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (bool newstackc : {false, true}) {
        try {
            const auto r = vdestack::conf::parse_config(text, newstackc);
            if (r.timeout_s < 1 || r.timeout_s > 300) std::abort();
            for (const auto& it : r.statics) {
                // ip= has a length; -ip=ADDR may leave it 0 (any length).
                if (it.kind == vdestack::conf::StaticItem::kIp && (it.prefix < (it.remove ? 0 : 1) || it.prefix > 128))
                    std::abort();
                if (it.kind != vdestack::conf::StaticItem::kDomain && it.addr.family == 0) std::abort();
            }
        } catch (const vdestack::Error& e) {
            if (e.errno_value() != EINVAL) std::abort();
        }
    }
    return 0;
}
