// error.hpp - how the library reports failures internally and at the C++ boundary.
//
// Control paths (opening transports, creating stacks, parsing VNLs) throw
// vdestack::Error, a std::system_error whose code is an errno value and whose
// what() names the context: the VNL, the call and the errno text, e.g.
//   "vxvde://234.0.0.1: setsockopt(IP_ADD_MEMBERSHIP): No such device".
// The C shims catch it and translate to NULL/-1 + errno. Hot paths (frame
// forwarding) never throw: they return counts or -errno.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

#include "vdestack/error.hpp"

namespace vdestack {

using Error = vde::Error;

// Throws Error(err, context) -- the errno text is appended by std::system_error.
[[noreturn]] inline void fail(int err, const std::string& context) { throw Error(err, context); }
// Throws Error(errno, context) for the errno of the call that just failed.
[[noreturn]] inline void fail_errno(const std::string& context) { fail(errno, context); }

}  // namespace vdestack
