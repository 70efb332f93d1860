// vxvde.hpp - the vxvde:// transport: a distributed VDE switch over UDP
// multicast, wire-compatible with vdeplug4's libvdeplug_vxvde.
//
//   vxvde://[addr][/v4][/v6][/port=P][/vni=N|group][/grp=G][/ttl=T][/if=IFNAME]
//           [/hashsize=N][/expiretime=S][/rcvbuf=BYTES][/bind=ADDR]
//
// See vxvde.cpp for the theory of operation.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens a vxvde transport. `vnl` is the whole locator (for messages), `rest`
// what follows "vxvde://". The sockets are created in the calling thread's
// network namespace. poll_fds() returns {multicast socket, unicast socket}, in
// that order; with opts.shared (and Tuning::shared_groups) none: the
// network's sockets are shared with this process's other transports on it
// (shared_source(), vxvde_group.hpp), frames from them reach the Inbox the
// engine sets, and recv() returns none. Throws vdestack::Error (EINVAL bad option or address, ENODEV
// unknown interface, errno of the failing socket call otherwise).
std::unique_ptr<Transport> open_vxvde(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
