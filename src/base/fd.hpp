// fd.hpp - UniqueFd: the one owner of a file descriptor. It is the public
// vde::UniqueFd (include/vdestack/fd.hpp), which the C++ API hands out as
// vde::Socket: every fd the library opens is held by exactly one of them.
#pragma once

#include "vdestack/fd.hpp"

namespace vdestack {

using UniqueFd = vde::UniqueFd;

}  // namespace vdestack
