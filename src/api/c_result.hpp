// c_result.hpp - how the C shims (vdestack_c.cpp, ioth_c.cpp) turn the C++
// core's exceptions into the C convention: the call's error value, errno set.
// (Namespace vde: a namespace vdestack cannot stand beside struct vdestack.)
#pragma once

#include <cerrno>
#include <new>

#include "vdestack/error.hpp"

namespace vde::capi {

// f() or, when it throws, on_error with errno from the vde::Error (ENOMEM for
// bad_alloc, EIO for anything else). Never throws.
template <class F>
auto guarded(F&& f, decltype(f()) on_error) noexcept -> decltype(f()) {
    try {
        return f();
    } catch (const vde::Error& e) {
        errno = e.errno_value();
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return on_error;
}

}  // namespace vde::capi
