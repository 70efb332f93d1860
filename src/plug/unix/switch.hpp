// switch.hpp - the switch:// and hub:// transports: an Ethernet switch (or hub)
// living inside this process, with a vde2-compatible control directory that
// vde:// clients (ours, vdeplug4's, qemu's...) connect to. Wire-compatible with
// vdeplug4's libvdeplug_netnode (switch://, hub://).
//
//   switch://[path][mode=OCT/dirmode=OCT/grp=G/hashsize=N/hashseed=N/expiretime=S]
//   hub://[path][mode=OCT/dirmode=OCT/grp=G]
//
// The process that opens the node is itself one port (the "host port"):
// send() injects frames as from that port, recv() returns the frames the node
// delivers to it. See switch.cpp for the theory of operation.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Creates the node directory (default /tmp/vdenode_<user>), its "ctl"
// listening socket, and serves clients from within recv(). poll_fds() returns
// one fd (an epoll fd over every socket of the node). Throws vdestack::Error:
// EINVAL bad option, EADDRINUSE a live switch already serves that directory,
// ENAMETOOLONG path too long for a socket address, errno of the failing call
// otherwise (all messages name the VNL and the call).
std::unique_ptr<Transport> open_switch(std::string_view vnl, std::string_view rest, const OpenOptions& opts);
std::unique_ptr<Transport> open_hub(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

// For vde:// clients that wait for a handshake reply: when a node of THIS
// process owns the control socket with this device/inode, accepts and answers
// its pending requests now (so a client opened on the thread that services
// the node does not deadlock) and returns true; false when no such node.
// Thread-safe, never blocks on the node.
bool serve_local_handshakes(dev_t ctl_dev, ino_t ctl_ino) noexcept;

}  // namespace vdestack::plug
