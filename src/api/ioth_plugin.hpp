// ioth_plugin.hpp - third-party ioth stacks: loading ioth_NAME.so through
// libioth's plugin ABI (struct ioth_functions in include/ioth.h), and
// calling it with its stack data and its own errno.
//
// Theory of operation
// -------------------
// load_plugin() searches $HOME/.ioth then the system directory, each for
// ioth_NAME-r.so (reentrant: dlmopen(LM_ID_BASE), shared by its stacks)
// then ioth_NAME.so (dlmopen(LM_ID_NEWLM): a fresh link map, hence fresh
// globals, for every stack), checks the plugin's license against the
// program's, resolves ioth_NAME_<member> for every member of
// ioth_functions, and calls ioth_NAME_newstack. A PluginStack owns the
// handle (dlclose when destroyed) and the stack data (deleted by
// PluginStack::destroy, which may fail and then leaves the stack alive).
//
// The functions a plugin provides know their stack only through
// f.getstackdata(), which returns a thread-local that call() sets just
// before each call. A plugin in its own link map has its own libc, hence
// its own errno: call() copies the plugin's errno into ours whenever a call
// returns -1 (or NULL, for newstack). Thread-safety: a PluginStack may be
// called from any thread; the plugin's own functions decide the rest.
#pragma once

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>

#include "ioth.h"

namespace vde::capi {

// Whether a library of license `library` (SPDX, with or without the
// "SPDX-License-Identifier: " prefix; nullptr: no restriction) may be
// loaded into a program of license `program` (nullptr: none declared), by
// libioth's rules: LGPL libraries load anywhere, the same license always,
// a GPL-2.0-or-later library into GPL-2.0/3.0 programs, GPL-3.0-or-later
// into GPL-3.0 programs; in doubt, no.
[[nodiscard]] bool license_allows(const char* program, const char* library) noexcept;

class PluginStack {
public:
    PluginStack(const PluginStack&) = delete;
    PluginStack& operator=(const PluginStack&) = delete;
    ~PluginStack();

    // Runs fn(functions) with this stack's data current and, when the result
    // is -1, errno taken from the plugin's libc. fn must call one member of
    // the functions it gets, which it may assume non-null.
    template <class F>
    auto call(F&& fn) const {
        current_ = stackdata_;
        auto r = fn(f_);
        if (r == -1 && plugin_errno_ != nullptr) errno = *plugin_errno_();
        return r;
    }

    [[nodiscard]] const ioth_functions& functions() const noexcept { return f_; }

    // ioth_NAME_delstack(stackdata): 0, or -1 with errno (the stack is kept).
    int destroy() noexcept;

    // Sockets of this stack open through ioth_msocket/ioth_accept and not
    // yet ioth_close'd.
    std::atomic<long> sockets{0};

    // The f.getstackdata every plugin gets.
    static void* current_stackdata() noexcept { return current_; }

private:
    friend std::unique_ptr<PluginStack> load_plugin(std::string_view, const char*, const char* [], const char*,
                                                    const char*, std::string&);
    PluginStack() = default;

    void* handle_ = nullptr;
    bool destroyed_ = false;
    void* stackdata_ = nullptr;
    ioth_functions f_{};
    int* (*plugin_errno_)() = nullptr;
    static thread_local void* current_;
};

// A new stack of the plugin NAME on the VNLs vnlv (NULL-terminated),
// `options` passed through; home is $HOME ("" or nullptr: no user
// directory), `license` the program's (ioth_set_license; may be nullptr).
// nullptr with errno on failure, and `message` saying why (which files were
// tried, dlerror()). See ioth.h for the errno values.
std::unique_ptr<PluginStack> load_plugin(std::string_view name, const char* options, const char* vnlv[],
                                         const char* home, const char* license, std::string& message);

}  // namespace vde::capi
