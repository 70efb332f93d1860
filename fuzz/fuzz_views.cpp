// fuzz_views.cpp - libFuzzer target for the checked views of wire/
// (Ethernet + VLAN tags, IPv4, IPv6 with its options walk, TCP, UDP): every
// view that parses must describe bytes inside its input, whatever the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "wire/ethernet.hpp"
#include "wire/ip.hpp"
#include "wire/l4.hpp"

namespace {
using namespace vdestack::wire;

void inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
    if (part.data() < whole.data() || part.data() + part.size() > whole.data() + whole.size()) std::abort();
}

void l4(std::uint8_t proto, std::span<const std::byte> b) {
    if (proto == kProtoTcp) {
        if (auto t = TcpView::parse(b)) {
            if (t->header_len() < 20 || t->header_len() > b.size()) std::abort();
            inside(t->options(), b);
            inside(t->payload(), b);
            (void)(t->seq() + t->ack() + t->flags() + t->window());
        }
    } else if (auto u = UdpView::parse(b)) {
        inside(u->payload(), b);
        (void)(u->src_port() + u->dst_port());
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> f(reinterpret_cast<const std::byte*>(data), size);
    const auto eth = EthernetView::parse(f);
    if (!eth) return 0;
    inside(eth->payload(), f);
    (void)(eth->dst()[0] ^ eth->src()[5]);
    if (auto ip = Ipv4View::parse(eth->payload())) {
        inside(ip->header(), f);
        inside(ip->payload(), f);
        l4(ip->protocol(), ip->payload());
    }
    if (auto ip = Ipv6View::parse(eth->payload())) {
        inside(ip->bytes(), f);
        if (auto up = ip->upper()) {
            if (up->offset > ip->bytes().size()) std::abort();
            l4(up->protocol, ip->bytes().subspan(up->offset));
        }
    }
    return 0;
}
