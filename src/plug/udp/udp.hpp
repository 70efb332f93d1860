// udp.hpp - the udp:// transport: a point-to-point cable over one UDP socket,
// wire-compatible with vdeplug4 4.0.1's libvdeplug_udp.
//
//   udp://[src_addr:]src_port->dst_addr:dst_port
//
// (quote it in shells). IPv6 addresses may be bracketed ("[fc00::1]:5000") or
// bare as vdeplug4 writes them ("fc00::1:5000": the port follows the last ':').
// See udp.cpp for the theory of operation.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// The four parts of a udp VNL, as text (brackets removed from the hosts).
struct UdpVnlParts {
    std::string src_host;  // "" = the wildcard address
    std::string src_port;
    std::string dst_host;
    std::string dst_port;
};

// Splits `rest` (what follows "udp://") as vdeplug4 does: at the first "->",
// then each side at its LAST ':'. Throws vdestack::Error(EINVAL) naming `vnl`
// when "->" or a port is missing, or a bracket is unbalanced. Pure.
UdpVnlParts split_udp_vnl(std::string_view vnl, std::string_view rest);

// The resolved endpoints: the destination (getaddrinfo, first result), and
// the local address to bind, in the destination's family (wildcard when no
// source address is given).
struct UdpEndpoints {
    sockaddr_storage src{};
    socklen_t src_len = 0;
    sockaddr_storage dst{};
    socklen_t dst_len = 0;
};

// split_udp_vnl + name/port resolution. Ports are decimal 0..65535 (the
// destination's not 0) or service names. Throws vdestack::Error(EINVAL) naming
// `vnl` and the bad part (hosts may be names: this may query the resolver).
UdpEndpoints resolve_udp_vnl(std::string_view vnl, std::string_view rest);

// Opens a udp transport: a socket bound to the source, connected to the
// destination lazily (see udp.cpp). poll_fds() returns {the socket}. Throws
// vdestack::Error: EINVAL bad VNL, errno of socket()/bind() otherwise
// (EADDRINUSE: the source port is taken).
std::unique_ptr<Transport> open_udp(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
