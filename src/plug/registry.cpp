// registry.cpp - open_transport(): chooses the transport by VNL scheme.
//
// Schemes are matched case-sensitively, as vdeplug4 matches plugin file
// names. A scheme not in the table goes to the installed vdeplug4 plugins
// (extplugin.hpp); one they lack too is EPROTONOSUPPORT with a message naming it.
// A VNL starting with '=' is libvdestack's stream form: "=COMMAND ARGS" runs
// the command as a coprocess speaking the VDE stream framing on its stdio,
// which is exactly cmd://COMMAND ARGS.
#include <string>

#include "plug/stream/cmd.hpp"
#include "plug/ext/extplugin.hpp"
#include "plug/wrap/fault.hpp"
#include "plug/host/null.hpp"
#include "plug/unix/ptp.hpp"
#include "plug/wrap/reconnect.hpp"
#include "plug/unix/seqpacket.hpp"
#include "plug/unix/switch.hpp"
#include "plug/host/tap.hpp"
#include "plug/transport.hpp"
#include "plug/udp/udp.hpp"
#include "plug/unix/vde.hpp"
#include "plug/udp/vxlan.hpp"
#include "plug/udp/vxvde.hpp"
#include "base/error.hpp"
#include "vnl/vnl.hpp"

namespace vdestack::plug {

namespace {
using Opener = std::unique_ptr<Transport> (*)(std::string_view vnl, std::string_view rest, const OpenOptions&);
struct Scheme {
    std::string_view name;
    Opener open;
};
constexpr Scheme kSchemes[] = {
    {"vxvde", open_vxvde},
    {"vxlan", open_vxlan},
    {"null", open_null},
    {"vde", open_vde},
    {"switch", open_switch},
    {"hub", open_hub},
    {"fault", open_fault},
    {"reconnect", open_reconnect},
    {"ptp", open_ptp},
    {"udp", open_udp},
    {"seqpacket", open_seqpacket},
    {"cmd", open_cmd},
    {"tap", open_tap},
};
}  // namespace

std::unique_ptr<Transport> open_transport(std::string_view vnl, const OpenOptions& opts) {
    if (!vnl.empty() && vnl.front() == '=') return open_cmd(vnl, vnl.substr(1), opts);
    vnl::Locator loc = vnl::split(vnl);
    for (const Scheme& s : kSchemes)
        if (s.name == loc.scheme) return s.open(vnl, loc.rest, opts);
    // Not ours: the installed vdeplug4 plugins (EPROTONOSUPPORT naming the
    // scheme and the missing libvdeplug_<scheme>.so when there is none).
    return open_extplugin(vnl, loc.scheme, opts);
}

std::shared_ptr<SharedSource> SharedSources::get(const std::string& key,
                                                 const std::function<std::shared_ptr<SharedSource>()>& make) {
    std::lock_guard lk(mu_);
    std::erase_if(map_, [](const auto& e) { return e.second.expired(); });
    if (auto it = map_.find(key); it != map_.end())
        if (auto alive = it->second.lock()) return alive;
    auto made = make();
    map_[key] = made;
    return made;
}

}  // namespace vdestack::plug
