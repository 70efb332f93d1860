// tap_device.hpp - creating the tap interface of a stack (the engine's
// side of the stack's vde0), with the offloads the engine finishes. In a
// layer of its own (device/), below the helper, which makes a stack's tap,
// and the client, which makes the first one while a new helper starts.
#pragma once

#include <string>
#include <string_view>

#include "base/fd.hpp"
#include "base/tuning.hpp"

namespace vdestack::device {

// Opens /dev/net/tun and creates tap `ifname` (IFF_TAP|IFF_NO_PI) in the
// calling thread's network namespace. When `offload` asks for any
// (OffloadConfig::vnet_hdr(), base/tuning.hpp) it also sets IFF_VNET_HDR (10-byte virtio_net_hdr on every
// frame) and TUNSETOFFLOAD (partial checksums, TSO): its reader must then
// finish frames as the engine does. Non-blocking, close-on-exec. The
// interface starts down. It is persistent: it goes away with its namespace
// (see tap_device.cpp), so the namespace must belong to the stack alone. Throws
// Error (ENOENT/EACCES on /dev/net/tun, EINVAL, EBUSY, EPERM from
// TUNSETIFF/TUNSETPERSIST) with context.
UniqueFd open_tap_device(const std::string& ifname, const OffloadConfig& offload);

}  // namespace vdestack::device
