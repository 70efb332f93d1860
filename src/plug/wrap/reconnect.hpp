// reconnect.hpp - reconnect://, a wrapper that brings a link back by itself:
//   reconnect://[interval=1]{vde:///tmp/sw}
// While the wrapped transport is up, frames pass through untouched. When it
// dies (the switch was killed, its peer went away), frames to send are
// dropped and the wrapped VNL is opened again every `interval` seconds
// (default 1) until it works. Only the first open must succeed.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

std::unique_ptr<Transport> open_reconnect(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
