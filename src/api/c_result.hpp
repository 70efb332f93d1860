// c_result.hpp - how the C shims (vdestack_c.cpp, ioth_c.cpp) turn the C++
// core's exceptions into the C convention: the call's error value, errno set.
// (Namespace vde: a namespace vdestack cannot stand beside struct vdestack.)
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "vdestack/error.hpp"

namespace vde::capi {

// f() or, when it throws, on_error with errno from the vde::Error (ENOMEM for
// bad_alloc, EIO for anything else), and the exception's message in
// *message when one is given. Never throws.
template <class F>
auto guarded(F&& f, decltype(f()) on_error, std::string* message = nullptr) noexcept -> decltype(f()) {
    int err = EIO;
    try {
        return f();
    } catch (const vde::Error& e) {
        err = e.errno_value();
        if (message != nullptr) message->assign(e.what());
    } catch (const std::bad_alloc&) {
        err = ENOMEM;
    } catch (const std::exception& e) {
        if (message != nullptr) message->assign(e.what());
    } catch (...) {
    }
    errno = err;
    return on_error;
}

// A malloc'd copy of t for a C caller to free(); nullptr (errno ENOMEM)
// without memory.
inline char* c_string(const std::string& t) noexcept {
    auto* p = static_cast<char*>(std::malloc(t.size() + 1));
    if (p == nullptr) {
        errno = ENOMEM;
        return nullptr;
    }
    std::memcpy(p, t.c_str(), t.size() + 1);
    return p;
}

}  // namespace vde::capi
