// restore.hpp - Stack::restore() with the socket count a C caller expects
// (vde_stack_restore, ioth_restorestack): what the C shims may include
// beside vdestack.h (whose struct vdestack cannot stand beside the
// library's namespace vdestack, which client.hpp brings).
#pragma once

#include <cstddef>
#include <string_view>

#include "vdestack/stack.hpp"

namespace vde::detail {

// Stack::restore(), throwing Error(ENOSPC) before anything is made when the
// image holds another number of sockets than `sockets`.
Restored restore_expecting(int fd, std::string_view vnl, std::size_t sockets);

}  // namespace vde::detail
