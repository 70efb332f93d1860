// ioth_stack.hpp - a vde::Stack from libioth's list of VNLs, each perhaps
// naming its interface ("eth1:vxvde://..."): shared by libioth.so's own
// "vdestack" stacks and by the ioth_vdestack plugin.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "vdestack/stack.hpp"

namespace vde::capi {

// "ifname:scheme://..." or "ifname:/path" -> (ifname, vnl); the i-th VNL
// without the prefix -> ("vde<i>", vnl). As libioth's vdestack: the prefix
// is what precedes the first colon, unless "://" comes first (vde://h:port).
inline std::pair<std::string, std::string> split_ifname(std::string_view v, std::size_t i) {
    const std::size_t scheme_end = v.find("://");
    const std::size_t colon = v.find(':');
    if (colon != std::string_view::npos && colon > 0 && (scheme_end == std::string_view::npos || colon < scheme_end))
        return {std::string(v.substr(0, colon)), std::string(v.substr(colon + 1))};
    return {"vde" + std::to_string(i), std::string(v)};
}

// A stack with an interface per VNL (none for an empty list). Throws
// vde::Error as vde::Stack's constructor and add_interface do.
inline vde::Stack open_ioth_stack(std::span<const char* const> vnls) {
    if (vnls.empty()) return vde::Stack("");
    auto [ifname, vnl] = split_ifname(vnls[0], 0);
    vde::StackOptions opts;
    opts.ifname = ifname;
    vde::Stack stack(vnl, opts);
    for (std::size_t i = 1; i < vnls.size(); i++) {
        auto [more_if, more_vnl] = split_ifname(vnls[i], i);
        stack.add_interface(more_vnl, more_if);
    }
    return stack;
}

}  // namespace vde::capi
