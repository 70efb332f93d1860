// fuzz_vxvde.cpp - libFuzzer target: the vxvde header view, and the MAC
// learning table driven by arbitrary (mac, time) sequences where each MAC's
// peer is derived from the MAC itself: a lookup must never return the peer
// of another MAC (correct on hash collisions), whatever the order.
#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <span>

#include "plug/udp/mactable.hpp"
#include "wire/vxvde.hpp"

using namespace vdestack;

namespace {
plug::PeerAddr peer_of(const std::byte* mac) {
    plug::PeerAddr p;
    p.addr.v4.sin_family = AF_INET;
    std::memcpy(&p.addr.v4.sin_addr, mac + 2, 4);
    p.addr.v4.sin_port = static_cast<in_port_t>(std::to_integer<unsigned>(mac[0]) << 8 | std::to_integer<unsigned>(mac[1]));
    p.len = sizeof(sockaddr_in);
    return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    if (auto h = wire::VxvdeHeader::parse(bytes)) {
        (void)h->vni();
        (void)h->flags();
    }
    plug::MacTable table(8, 100);
    std::int64_t now = 0;
    // records of 7 bytes: op/time byte + MAC (low bits of the MAC kept small
    // so that collisions in an 8-slot table are frequent)
    for (std::size_t off = 0; off + 7 <= size; off += 7) {
        std::byte mac[6];
        std::memcpy(mac, data + off + 1, 6);
        mac[0] &= std::byte{0xfe};  // unicast
        plug::MacRef ref(mac, 6);
        now += data[off] % 8;
        if (data[off] & 0x80) {
            table.learn(ref, peer_of(mac), now);
        } else if (const plug::PeerAddr* p = table.lookup(ref, now)) {
            plug::PeerAddr want = peer_of(mac);
            if (std::memcmp(&p->addr.v4.sin_addr, &want.addr.v4.sin_addr, 4) != 0 ||
                p->addr.v4.sin_port != want.addr.v4.sin_port)
                __builtin_trap();  // another MAC's peer
        }
        if ((data[off] & 0x7f) == 0x7f) table.forget_peer(peer_of(mac));
    }
    return 0;
}
