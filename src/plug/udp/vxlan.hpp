// vxlan.hpp - the vxlan:// transport: joins a multicast VXLAN segment (RFC 7348),
// wire-compatible with vdeplug4's libvdeplug_vxlan and with Linux kernel vxlan
// devices (`ip link add vx0 type vxlan id 1 group 239.0.0.1 dev eth0 dstport 4789`).
//
//   vxlan://[addr][/v4][/v6][/port=P][/vni=N][/ttl=T][/if=IFNAME]
//           [/hashsize=N][/expiretime=S][/rcvbuf=BYTES]
//
// See vxlan.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens a vxlan transport. `vnl` is the whole locator (for messages), `rest`
// what follows "vxlan://". The socket is created in the calling thread's
// network namespace and holds UDP port P (default 4789) of that namespace:
// one endpoint per namespace, as a kernel vxlan device on that port is.
// poll_fds() returns {the socket}. Throws vdestack::Error (EINVAL bad option
// or address, ENODEV unknown interface, EADDRINUSE port already taken, errno
// of the failing socket call otherwise; every message names the VNL).
std::unique_ptr<Transport> open_vxlan(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
