// fault.hpp - fault://, a wrapper transport that damages the traffic of the
// transport it wraps, like vde2's wirefilter, for tests and experiments:
//   fault://[loss=30/dup=5/reorder=20/corrupt=1/delay=10/jitter=5/bw=1m/seed=7]{vxvde://234.0.0.1}
// Options (percentages are integers 0..100; delay and jitter in ms; bw in
// bytes per second with k/m/g suffixes; all default to 0 = off):
//   loss     frames dropped              dup      frames sent twice
//   reorder  frames held back 20 ms, overtaken by the frames sent meanwhile
//   corrupt  frames with one byte flipped (past the Ethernet header)
//   delay    every frame held this long (+ 0..jitter ms)
//   bw       a token bucket: frames beyond the rate wait in a bounded queue
//            (256 frames), then are dropped
//   seed     of the pseudo-random generator (default: fixed, so runs repeat)
//   dir      "out" (default: frames this end sends) or "both"
// The wrapped VNL comes in braces. Throws EINVAL naming the VNL and the key.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

std::unique_ptr<Transport> open_fault(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
