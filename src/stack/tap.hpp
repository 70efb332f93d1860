// tap.hpp - creating the tap interface of a stack.
#pragma once

#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace vdestack::stack {

// Checks an interface name as the kernel would (1..15 bytes, no '/', ':' or
// blanks, not "." or ".."). Throws Error(EINVAL) naming it.
void check_ifname(std::string_view ifname);

// Opens /dev/net/tun and creates tap `ifname` (IFF_TAP|IFF_NO_PI) in the
// calling thread's network namespace. Unless VDESTACK_OFFLOAD=0 (see
// offload.hpp) it also sets IFF_VNET_HDR (10-byte virtio_net_hdr on every
// frame) and TUNSETOFFLOAD (partial checksums, TSO): its reader must then
// finish frames as the engine does. Non-blocking, close-on-exec. The
// interface starts down. It is persistent: it goes away with its namespace
// (see tap.cpp), so the namespace must belong to the stack alone. Throws
// Error (ENOENT/EACCES on /dev/net/tun, EINVAL, EBUSY, EPERM from
// TUNSETIFF/TUNSETPERSIST) with context.
UniqueFd open_tap(const std::string& ifname);

}  // namespace vdestack::stack
