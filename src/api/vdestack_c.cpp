// vdestack_c.cpp - the C API of libvdestack 0.1.2 (include/vdestack.h) over
// vde::Stack: exceptions become NULL/-1 + errno, nothing is printed.
//
// vde_default_stack() works as in the reference: this library exports
// socket(2) itself, so calls to socket() in the program resolve here; with a
// default stack set they become vde_msocket(), otherwise the kernel's
// socket() is called directly (syscall, so no loop through the interposer).
#include "vdestack.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <new>
#include <span>

#include "api/c_result.hpp"
#include "client/restore.hpp"
#include "vdestack/stack.hpp"

struct vdestack {
    vde::Stack stack;
};

namespace {
std::atomic<struct vdestack*> g_default{nullptr};

using vde::capi::guarded;
}  // namespace

#define VDESTACK_C_API extern "C" __attribute__((visibility("default")))

VDESTACK_C_API struct vdestack* vde_addstack(char* vdenet, char* ifname) {
    return guarded(
        [&]() -> struct vdestack* {
            vde::StackOptions opts;
            if (ifname != nullptr) opts.ifname = ifname;
            return new ::vdestack{vde::Stack(vdenet != nullptr ? vdenet : "", opts)};
        },
        nullptr);
}

VDESTACK_C_API void vde_delstack(struct vdestack* stack) {
    if (stack == nullptr) return;
    struct vdestack* expected = stack;
    g_default.compare_exchange_strong(expected, nullptr);
    int saved = errno;
    delete stack;
    errno = saved;
}

VDESTACK_C_API void vde_default_stack(struct vdestack* stack) { g_default.store(stack); }

VDESTACK_C_API int vde_stackcmd(struct vdestack* stack, char* stackcmd) {
    if (stack == nullptr) {
        errno = EINVAL;
        return -1;
    }
    return guarded([&] { return stack->stack.run(stackcmd != nullptr ? stackcmd : ""); }, -1);
}

VDESTACK_C_API int vde_msocket(struct vdestack* stack, int domain, int type, int protocol) {
    if (stack == nullptr) return static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
    std::error_code ec;
    vde::Socket s = stack->stack.socket(domain, type, protocol, ec);
    if (ec) {
        errno = ec.value();
        return -1;
    }
    return s.release();
}

// Interposes libc's socket(2) (see the file comment).
VDESTACK_C_API int socket(int domain, int type, int protocol) noexcept {
    struct vdestack* def = g_default.load();
    if (def != nullptr) return vde_msocket(def, domain, type, protocol);
    return static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
}

VDESTACK_C_API int vde_stack_save(struct vdestack* stack, const int* socks, int nsocks, int fd) {
    if (stack == nullptr || nsocks < 0 || (nsocks > 0 && socks == nullptr)) {
        errno = stack == nullptr ? EBADF : EINVAL;
        return -1;
    }
    return guarded(
        [&] {
            stack->stack.save(std::span<const int>(socks, static_cast<std::size_t>(nsocks)), fd);
            return 0;
        },
        -1);
}

VDESTACK_C_API struct vdestack* vde_stack_restore(int fd, const char* vnl, int* socks, int nsocks) {
    if (nsocks < 0 || (nsocks > 0 && socks == nullptr)) {
        errno = EINVAL;
        return nullptr;
    }
    return guarded(
        [&]() -> struct vdestack* {
            vde::Restored r = vde::detail::restore_expecting(fd, vnl != nullptr ? vnl : "", static_cast<std::size_t>(nsocks));
            auto* s = new ::vdestack{std::move(r.stack)};
            for (std::size_t i = 0; i < r.sockets.size(); i++) socks[i] = r.sockets[i].release();
            return s;
        },
        nullptr);
}
