// null.hpp - the null:// transport: a network with nobody else on it.
#pragma once

#include <memory>
#include <string_view>

#include "plug/transport.hpp"

namespace vdestack::plug {

// Opens a null transport: frames sent are discarded, nothing is ever received,
// and its poll fd (an eventfd) never becomes readable. Options are ignored, as
// in vdeplug4. Throws vdestack::Error only if the eventfd cannot be created.
std::unique_ptr<Transport> open_null(std::string_view vnl, std::string_view rest, const OpenOptions& opts);

}  // namespace vdestack::plug
