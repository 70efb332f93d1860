// ifname.hpp - the one check of an interface name, as the kernel makes it.
#pragma once

#include <string_view>

namespace vdestack {

// Checks an interface name as the kernel would (1..15 bytes, no '/', ':' or
// blanks, not "." or ".."). Throws Error(EINVAL) naming it. Thread-safe.
void check_ifname(std::string_view ifname);

}  // namespace vdestack
