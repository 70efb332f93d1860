// fuzz_vdectl.cpp - libFuzzer target: the vde_switch control handshake as a
// switch receives it (request parsing, every prefix of the input, as bytes
// arrive), and the switch forwarding core fed arbitrary frames from
// arbitrary ports.
#include <cstdint>
#include <optional>
#include <span>

#include "plug/unix/switch_core.hpp"
#include "wire/vde_ctl.hpp"

using namespace vdestack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    for (std::size_t n = 0; n <= size && n <= wire::kRequestReadMax; n += 1 + n / 8) {
        std::optional<wire::RequestV3View> view;
        if (wire::parse_request(bytes.first(n), view) == wire::RequestStatus::kOk) {
            if (!view) __builtin_trap();
            (void)view->description();
            (void)view->sock();
            (void)view->port();
        }
    }
    // Frames: 1 byte of port, 2 of length, then the frame.
    static plug::Forwarder sw(plug::NodeKind::kSwitch, 8);
    std::int64_t now = 0;
    for (std::size_t off = 0; off + 3 <= size;) {
        plug::PortId from = data[off] % 16;
        std::size_t len = (std::size_t{data[off + 1]} << 8 | data[off + 2]) % 1600;
        off += 3;
        len = std::min(len, size - off);
        plug::Route r = sw.route(bytes.subspan(off, len), from, now++);
        if (r.kind == plug::Route::kUnicast && r.port == from) __builtin_trap();  // never back to its source
        if (data[off - 3] == 0xff) sw.port_removed(from);
        off += len;
    }
    return 0;
}
