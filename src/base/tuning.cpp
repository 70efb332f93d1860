// tuning.cpp - the one reader of the environment (see tuning.hpp).
#include "base/tuning.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <unistd.h>

namespace vdestack {

namespace {

bool token_is(std::string_view s, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), s) != names.end();
}

// "0" turns a default-on switch off; anything else (or unset) leaves it on.
bool on_unless_zero(const char* v) noexcept { return v == nullptr || std::strcmp(v, "0") != 0; }

}  // namespace

OffloadConfig parse_offloads(const char* text) noexcept {
    std::string_view v = text != nullptr ? text : "";
    if (token_is(v, {"", "1", "on", "all"})) return OffloadConfig::all();
    if (token_is(v, {"0", "off", "none"})) return OffloadConfig{};
    OffloadConfig c;
    while (!v.empty()) {
        const std::size_t comma = v.find(',');
        const std::string_view t = v.substr(0, comma);
        if (t == "csum") c.csum = true;
        if (t == "tso") c.csum = c.tso = true;  // TUNSETOFFLOAD takes TSO only with CSUM
        if (t == "gro") c.gro = true;
        if (t == "whole") c.whole = true;
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
    return c;
}

Tuning Tuning::from_env() {
    Tuning t;
    t.offload = parse_offloads(std::getenv("VDESTACK_OFFLOAD"));
    if (const char* v = std::getenv("VDESTACK_SPIN_US"))
        t.spin_us = std::clamp(std::strtol(v, nullptr, 10), 0L, 1000000L);
    t.udp_gso = on_unless_zero(std::getenv("VDESTACK_UDP_GSO"));
    t.fabric = on_unless_zero(std::getenv("VDESTACK_FABRIC"));
    t.shared_groups = on_unless_zero(std::getenv("VDESTACK_SHARED_GROUPS"));
    t.snoop = on_unless_zero(std::getenv("VDESTACK_SNOOP"));
    if (const char* v = std::getenv("VDESTACK_ENGINES")) t.engines = std::atol(v);
    if (const char* v = std::getenv("VDESTACK_USERNS")) t.force_userns = std::strcmp(v, "1") == 0;
    t.direct_sockets = on_unless_zero(std::getenv("VDESTACK_DIRECT_SOCKETS"));
    if (const char* v = std::getenv("VDESTACK_HELPER")) t.helper = v;
    if (const char* v = std::getenv("VDESTACK_HELPER_LINGER_MS"))
        t.linger_ms = std::clamp(std::strtol(v, nullptr, 10), 0L, 10000L);
    t.helper_thread = on_unless_zero(std::getenv("VDESTACK_HELPER_THREAD"));
    if (const char* v = std::getenv("VDESTACK_LIBVDEPLUG")) t.libvdeplug = v;
    if (const char* v = std::getenv("VDEPLUGIN_PATH")) t.vdeplugin_path = v;
    if (const char* v = std::getenv("LD_LIBRARY_PATH")) t.ld_library_path = v;
    if (const char* v = std::getenv("HOME")) t.home = v;
    return t;
}

bool Tuning::helper_userns() const noexcept { return ::geteuid() != 0 || force_userns; }

bool Tuning::helper_in_thread() const noexcept { return helper_thread && !helper_userns(); }

}  // namespace vdestack
