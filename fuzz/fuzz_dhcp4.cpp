// fuzz_dhcp4.cpp - libFuzzer target: what our DHCPv4 client reads from the
// network, on arbitrary bytes: the Dhcp4View (header, options, overloaded
// file/sname), the lease taken from an ACK, and the domain-name lists
// (compressed, as option 119, and plain, as DHCPv6's option 24). Nothing
// may crash or read out of bounds; a lease, when there is one, is sane.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "conf/dhcp4_client.hpp"
#include "wire/dhcp4.hpp"
#include "wire/dns_name.hpp"

namespace dhcp = vdestack::wire::dhcp4;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = std::as_bytes(std::span(data, size));
    if (auto v = dhcp::Dhcp4View::parse(bytes)) {
        (void)v->message_type();
        for (int code = 0; code < 256; code++) (void)v->option(static_cast<std::uint8_t>(code));
        (void)v->u32_option(dhcp::kLeaseTime);
    }
    if (auto l = vdestack::conf::Dhcp4Client::lease_of(bytes, {})) {
        if (l->prefix < 0 || l->prefix > 32 || l->t1_s > l->t2_s || l->t2_s > l->lease_s) std::abort();
        (void)l->str();
    }
    for (bool compressed : {true, false})
        if (auto names = vdestack::wire::decode_names(bytes, compressed))
            for (const auto& n : *names)
                if (n.size() > 253) std::abort();
    return 0;
}
