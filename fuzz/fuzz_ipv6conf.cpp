// fuzz_ipv6conf.cpp - libFuzzer target: what our IPv6 clients read from the
// network, on arbitrary bytes: a Router Advertisement (RaView and the
// RouterInfo taken from it: prefixes, RDNSS, DNSSL) and a DHCPv6 message
// (Dhcp6View, the IA_NA and IAADDR walks, the lease taken from a reply).
// Nothing may crash or read out of bounds; what is taken is sane.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "conf/ipv6_clients.hpp"
#include "wire/dhcp6.hpp"
#include "wire/ndp.hpp"

namespace d6 = vdestack::wire::dhcp6;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = std::as_bytes(std::span(data, size));
    if (auto ri = vdestack::conf::RouterInfo::of(bytes, {})) {
        for (const auto& p : ri->prefixes)
            if (p.length > 255) std::abort();
        for (const auto& d : ri->domains)
            if (d.empty() || d.size() > 253) std::abort();
    }
    if (auto v = d6::Dhcp6View::parse(bytes)) {
        (void)v->type();
        (void)v->options().status();
        v->options().for_each([](std::uint16_t code, std::span<const std::byte> val) {
            if (code == d6::kIaNa)
                if (auto ia = d6::IaNa::parse(val))
                    ia->options.for_each([](std::uint16_t c, std::span<const std::byte> av) {
                        if (c == d6::kIaAddr) (void)d6::IaAddr::parse(av);
                    });
        });
    }
    // The client id a lease must echo: the message's own, when it has one.
    if (auto v = d6::Dhcp6View::parse(bytes))
        if (auto id = v->options().find(d6::kClientId))
            for (std::uint32_t iaid : {0u, 1u})
                if (auto l = vdestack::conf::Dhcp6Client::lease_of(bytes, *id, iaid, {})) {
                    if (l->valid_s == 0 || l->server_id.empty()) std::abort();
                    (void)l->str();
                }
    return 0;
}
