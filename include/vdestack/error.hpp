// vdestack/error.hpp - the exception type of the C++ API.
//
// The C++ API lives in namespace `vde` (not `vdestack`: C++ forbids a
// namespace and the C API's `struct vdestack` under one name, and programs
// may include both headers).
//
// vde::Error is a std::system_error whose code is an errno value
// (std::generic_category) and whose what() names the context: the call, the
// VNL, and the errno text, e.g.
//   "vde_addstack(vxvde://234.0.0.1): setsockopt(IP_ADD_MEMBERSHIP): No such device".
#pragma once

#include <string>
#include <system_error>

#ifndef VDESTACK_API
#define VDESTACK_API __attribute__((visibility("default")))
#endif

namespace vde {

class VDESTACK_API Error : public std::system_error {
public:
    Error(int err, const std::string& what) : std::system_error(err, std::generic_category(), what) {}
    [[nodiscard]] int errno_value() const noexcept { return code().value(); }
};

}  // namespace vde
