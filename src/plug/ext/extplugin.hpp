// extplugin.hpp - the fallback for VNL schemes we have no transport for: the
// installed vdeplug4 machinery (Debian's libvdeplug.so.2 and its plugins
// libvdeplug_<scheme>.so: slirp://, vlan://, agno://, pcap://, multi://,
// bonding://, ...), loaded at run time with dlmopen/dlopen -- never a build or
// link dependency. See extplugin.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens `vnl` (whole, e.g. "vlan://3{vxvde://234.0.0.1}") through the installed
// libvdeplug; `scheme` is its scheme ("vlan"), for messages and the plugin
// search. Throws vdestack::Error:
//   EPROTONOSUPPORT  "<vnl>: unknown VNL scheme '<scheme>' (no built-in transport
//                    and no installed vdeplug4 plugin libvdeplug_<scheme>.so)"
//                    when libvdeplug cannot be loaded or has no such plugin
//   other errno      the plugin's vde_open failed (message names VNL and plugin)
// Thread-safe; the plugin opens its sockets in the caller's netns.
std::unique_ptr<Transport> open_extplugin(std::string_view vnl, std::string_view scheme, const OpenOptions& opts);

// The file external plugins are loaded through (Debian's libvdeplug.so.2), or ""
// when none can be loaded. Loads it on first use (once per process: the
// Tuning of the first call, its libvdeplug, decides).
std::string extplugin_library(const Tuning& t);

}  // namespace vdestack::plug
