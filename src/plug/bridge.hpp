// bridge.hpp - a cable between two transports: every frame received on one
// side is sent on the other, in batches, until one side's link dies or a
// stop fd becomes readable. What `vde_plug VNL1 VNL2` does.
//
// One thread, one epoll over both sides' poll fds; frame buffers allocated
// once (kBatch frames). After a round with work it busy-polls like the
// engine (frame/spin.hpp: up to spin_us, Tuning::spin_us, backing off when
// spins find nothing; 0: never). Errors: throws Error only when setting up epoll.
#pragma once

#include <cstdint>

#include "plug/transport.hpp"

namespace vdestack::plug {

struct BridgeStats {
    std::uint64_t a_to_b = 0, b_to_a = 0;
    int dead_side = -1;  // 0 = a, 1 = b, -1 = stopped by stop_fd
    int error = 0;       // errno the dead side reported
};

BridgeStats bridge(Transport& a, Transport& b, long spin_us, int stop_fd = -1);

}  // namespace vdestack::plug
