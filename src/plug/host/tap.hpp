// tap.hpp - the tap:// transport: the network is a Linux tap interface of the
// caller's network namespace, compatible with vdeplug4 4.0.1's libvdeplug_tap.
//
//   tap://IFNAME
//
// (This is the TRANSPORT; device/tap_device.hpp creates a stack's own interface.)
// See tap.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Creates (or attaches to an existing persistent) tap interface IFNAME in the
// calling thread's netns. poll_fds() returns {the tun fd}. Throws
// vdestack::Error: EINVAL bad interface name, errno of open(/dev/net/tun) or
// ioctl(TUNSETIFF) otherwise (EPERM without CAP_NET_ADMIN, EBUSY: IFNAME is
// in use by another tap user or is not a tap).
std::unique_ptr<Transport> open_tap(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
