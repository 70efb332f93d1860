// fuzz_stack_image.cpp - libFuzzer target: a saved-stack image
// (wire/stack_image.hpp) on arbitrary bytes, as vde_stack_restore reads a
// file it is handed: the view, every record's decoder (sockets, interfaces,
// addresses, routes), and the writer giving back an image of the same
// length for what it accepted. Nothing may crash or
// read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "wire/stack_image.hpp"

namespace image = vdestack::wire::image;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = std::as_bytes(std::span(data, size));
    std::string err;
    auto v = image::ImageView::parse(bytes, &err);
    if (!v) {
        if (err.empty()) std::abort();  // a refusal always says why
        return 0;
    }
    image::ImageWriter w;
    v->for_each([&](image::RecordType type, std::span<const std::byte> p) {
        if (type == image::kTcp) {
            auto t = image::decode_tcp(p);
            if (!t || t->unsent > t->sndq.size()) std::abort();
            w.add(*t);
        } else if (type == image::kTcpListen) {
            auto l = image::decode_listen(p);
            if (!l) std::abort();
            w.add(*l);
        } else if (type == image::kUdp) {
            auto u = image::decode_udp(p);
            if (!u) std::abort();
            w.add(*u);
        } else if (type == image::kInterface) {
            auto r = image::decode_interface(p);
            if (!r || r->name.empty() || r->name.size() > image::kMaxIfname) std::abort();
            w.add(*r);
        } else if (type == image::kAddress) {
            auto r = image::decode_address(p);
            if (!r) std::abort();
            w.add(*r);
        } else if (type == image::kRoute) {
            auto r = image::decode_route(p);
            if (!r) std::abort();
            w.add(*r);
        } else if (type == image::kVnl) {
            auto r = image::decode_vnl(p);
            if (!r || r->vnl.size() > image::kMaxVnl) std::abort();
            w.add(*r);
        } else if (type == image::kNeighbour) {
            auto r = image::decode_neighbour(p);
            if (!r) std::abort();
            w.add(*r);
        } else {
            std::abort();  // parse() let an unknown type through
        }
    });
    // What was accepted is written back byte for byte, reserved fields aside:
    // at least the length and the count agree.
    const auto again = w.finish();
    if (again.size() != size || !image::ImageView::parse(again)) std::abort();
    return 0;
}
