// stack_state.hpp - a stack's network configuration read out of its
// namespace and put into another: the interface half of moving a live stack
// (the image's kInterface, kAddress, kRoute and kNeighbour records,
// wire/stack_image.hpp).
//
// read_state() dumps the namespace's links, addresses, routes and
// neighbours through rtnetlink (RTM_GET{LINK,ADDR,ROUTE,NEIGH}, each a dump over one
// netlink socket made by the NetConf's socket function, replies read through
// the checked views of wire/netlink.hpp, 2 s at most per dump). It keeps
// what a restore must make again and leaves what the kernel makes by itself:
// - interfaces: name, MAC, MTU, up; of loopback only whether it is up
//   (MAC and MTU zero: its MTU, 65536, is not one an image carries);
// - their addresses, but IPv6 link-local ones (the kernel derives them);
// - main-table unicast routes set by someone (not the kernel's connected
//   routes, not those learned from router advertisements);
// - the neighbours whose link address is known (reachable, stale, delayed,
//   probed or permanent ones): the restored stack then sends its first
//   segments at once instead of asking for its peers' MACs.
// apply_state() makes them again in the NetConf's namespace: MAC and MTU,
// addresses (IPv6 ones without duplicate address detection: they were in
// use a moment ago), interfaces up, then routes (their gateways are on-link
// by then), neighbours (stale ones, so the kernel confirms them when it
// next uses them; permanent ones stay permanent). An interface of the
// state missing there is ENODEV.
//
// Errors: vdestack::Error with the failing call and the NetConf's context.
// Thread-safety: as NetConf (each call its own socket).
#pragma once

#include <vector>

#include "client/netconf.hpp"
#include "wire/stack_image.hpp"

namespace vdestack::client {

struct StackState {
    std::vector<wire::image::InterfaceRecord> interfaces;
    std::vector<wire::image::AddressRecord> addresses;
    std::vector<wire::image::RouteRecord> routes;
    std::vector<wire::image::NeighbourRecord> neighbours;
    bool operator==(const StackState&) const = default;
};

StackState read_state(NetConf& nc);
// The interface's transmit queue length (frames the kernel keeps for the
// tap while nobody reads it).
void set_txqueuelen(const std::string& ifname, std::uint32_t frames, NetConf& nc);
// One neighbour entry (replacing one for the same address).
void add_neighbour(const wire::image::NeighbourRecord& n, NetConf& nc);
// announce: each interface sends a gratuitous ARP for its IPv4 addresses as
// it comes up (its arp_notify set, and left set; IPv6's ndisc_notify is not
// settable through netlink: vde::Stack::restore sends those itself).
void apply_state(const StackState& state, NetConf& nc, bool announce = false);

}  // namespace vdestack::client
