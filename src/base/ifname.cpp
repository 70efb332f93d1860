// ifname.cpp - interface name check (see ifname.hpp).
#include "base/ifname.hpp"

#include <net/if.h>

#include <string>

#include "base/error.hpp"

namespace vdestack {

void check_ifname(std::string_view ifname) {
    bool ok = !ifname.empty() && ifname.size() < IFNAMSIZ && ifname != "." && ifname != "..";
    for (char c : ifname)
        if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') ok = false;
    if (!ok) fail(EINVAL, "bad interface name '" + std::string(ifname) + "'");
}

}  // namespace vdestack
