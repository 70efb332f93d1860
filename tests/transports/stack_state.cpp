// stack_state.cpp - a stack's configuration read out and put into another
// (client/stack_state.hpp), through the image (wire/stack_image.hpp): the
// interface's MAC, MTU and state, its IPv4 and IPv6 addresses and the routes
// set on it (defaults and prefixes, via gateways and on-link) come out of
// the copy as they went in, and its neighbours; what the kernel makes by
// itself stays out.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "client/netconf.hpp"
#include "client/stack_state.hpp"
#include "vdestack/stack.hpp"
#include "wire/stack_image.hpp"

namespace {

namespace image = vdestack::wire::image;
using vdestack::client::NetConf;
using vdestack::client::StackState;

int stack_socket(void* ctx, int d, int t, int p) {
    std::error_code ec;
    vde::Socket s = static_cast<vde::Stack*>(ctx)->socket(d, t, p, ec);
    if (ec) {
        errno = ec.value();
        return -1;
    }
    return s.release();
}

StackState through_an_image(const StackState& st) {
    image::ImageWriter w;
    for (const auto& r : st.interfaces) w.add(r);
    for (const auto& r : st.addresses) w.add(r);
    for (const auto& r : st.routes) w.add(r);
    for (const auto& r : st.neighbours) w.add(r);
    const auto bytes = w.finish();
    std::string err;
    auto v = image::ImageView::parse(bytes, &err);
    EXPECT_TRUE(v) << err;
    StackState back;
    if (v)
        v->for_each([&](image::RecordType type, std::span<const std::byte> p) {
            if (type == image::kInterface) back.interfaces.push_back(*image::decode_interface(p));
            if (type == image::kAddress) back.addresses.push_back(*image::decode_address(p));
            if (type == image::kRoute) back.routes.push_back(*image::decode_route(p));
            if (type == image::kNeighbour) back.neighbours.push_back(*image::decode_neighbour(p));
        });
    return back;
}

TEST(StackState, TheConfigurationMovesToAnotherStack) {
    ASSERT_EQ(::setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0);
    vde::Stack a("vxvde://234.0.0.1");
    a.set_mac({0x02, 0x00, 0x00, 0x00, 0x01, 0x01});
    a.set_mtu(1400);
    a.add_address("10.0.0.1/24");
    a.add_address("10.1.0.1/16");
    a.add_address("fc00::1:1/64", "", true);
    a.link_up();
    a.link_up("lo");
    a.add_route("default", "10.0.0.254");
    a.add_route("192.168.7.0/24", "10.0.0.253");
    a.add_route("default", "fc00::1:fe");
    a.add_route("fc00:9::/48", "", "vde0");  // on-link
    NetConf nca("a", &stack_socket, &a);
    // Neighbours: a learned one (stale) and a permanent one; one without a
    // link address (failed) stays out.
    const image::NeighbourRecord learned{"vde0", 2, 0, {10, 0, 0, 9}, {2, 0, 0, 0, 0, 9}};
    const image::NeighbourRecord fixed{"vde0", 10, image::kNeighPermanent,
                                       {0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7}, {2, 0, 0, 0, 0, 7}};
    vdestack::client::add_neighbour(learned, nca);
    vdestack::client::add_neighbour(fixed, nca);
    const StackState st = vdestack::client::read_state(nca);

    ASSERT_EQ(st.interfaces.size(), 2u);  // lo (whether it is up, no more) and vde0
    EXPECT_EQ(st.interfaces[0], (image::InterfaceRecord{"lo", {}, 0, image::kIfUp}));
    EXPECT_EQ(st.interfaces[1].name, "vde0");
    EXPECT_EQ(st.interfaces[1].mtu, 1400u);
    EXPECT_EQ(st.interfaces[1].flags, image::kIfUp);
    EXPECT_EQ(st.interfaces[1].mac, (std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 1, 1}));
    EXPECT_EQ(st.addresses.size(), 3u);  // not the fe80:: one
    EXPECT_EQ(st.routes.size(), 4u);     // not the connected ones
    ASSERT_EQ(st.neighbours.size(), 2u);
    EXPECT_NE(std::find(st.neighbours.begin(), st.neighbours.end(), learned), st.neighbours.end());
    EXPECT_NE(std::find(st.neighbours.begin(), st.neighbours.end(), fixed), st.neighbours.end());

    const StackState carried = through_an_image(st);
    EXPECT_EQ(carried, st);
    vde::Stack b("vxvde://234.0.0.2");
    NetConf ncb("b", &stack_socket, &b);
    vdestack::client::apply_state(carried, ncb);
    EXPECT_EQ(vdestack::client::read_state(ncb), st);
}

TEST(StackState, AnInterfaceMissingThereIsENODEV) {
    ASSERT_EQ(::setenv("VDESTACK_HELPER", VDESTACK_TEST_HELPER, 1), 0);
    vde::Stack b("");
    NetConf ncb("b", &stack_socket, &b);
    StackState st;
    st.interfaces.push_back({"eth7", {2, 0, 0, 0, 0, 7}, 1500, image::kIfUp});
    try {
        vdestack::client::apply_state(st, ncb);
        ADD_FAILURE() << "applied to a missing interface";
    } catch (const vde::Error& e) {
        EXPECT_EQ(e.errno_value(), ENODEV) << e.what();
    }
}

}  // namespace
