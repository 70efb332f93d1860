// ioth_vdestack_plugin.cpp - our engine as a plugin of upstream libioth:
// ioth_vdestack.so, installed in <libdir>/ioth, where libioth looks for
// ioth_NAME.so. A program on upstream libioth that asks for the stack
// "vdestack" then gets ours instead of libioth's own module.
//
// Theory of operation: ioth_vdestack_newstack() makes a vde::Stack (an
// interface per VNL, named by an "ifname:" prefix or vde0, vde1, ...; the
// options are ignored, as upstream's module does) and hands libioth the libc
// functions for every call on a socket, since our sockets are kernel fds of
// the program. Only ioth_vdestack_socket is ours: it asks the stack that
// libioth's getstackdata() names for a socket in its namespace. libioth may
// load this file afresh for every stack (dlmopen LM_ID_NEWLM), so the one
// static below is per stack in that case, and the same function otherwise.
// Nothing is printed; errors are NULL/-1 with errno. Thread-safe as
// vde::Stack::socket is.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "api/c_result.hpp"
#include "api/ioth_stack.hpp"
#include "ioth.h"

namespace {
void* (*g_getstackdata)(void) = nullptr;
}

#define IOTH_PLUGIN_API extern "C" __attribute__((visibility("default")))

extern "C" {
__attribute__((visibility("default"))) extern const char* ioth_vdestack_license;
const char* ioth_vdestack_license = "SPDX-License-Identifier: LGPL-2.1-or-later";
}

IOTH_PLUGIN_API void* ioth_vdestack_newstack(const char* vnlv[], const char* /*options*/, struct ioth_functions* f) {
    if (f == nullptr) {
        errno = EINVAL;
        return nullptr;
    }
    std::vector<const char*> vnls;
    for (std::size_t i = 0; vnlv != nullptr && vnlv[i] != nullptr; i++) vnls.push_back(vnlv[i]);
    auto* stack = vde::capi::guarded(
        [&]() -> vde::Stack* { return new vde::Stack(vde::capi::open_ioth_stack(vnls)); }, nullptr);
    if (stack == nullptr) return nullptr;
    g_getstackdata = f->getstackdata;
    f->close = ::close;
    f->bind = ::bind;
    f->connect = ::connect;
    f->listen = ::listen;
    f->accept = ::accept;
    f->getsockname = ::getsockname;
    f->getpeername = ::getpeername;
    f->setsockopt = ::setsockopt;
    f->getsockopt = ::getsockopt;
    f->shutdown = ::shutdown;
    f->ioctl = ::ioctl;
    f->fcntl = ::fcntl;
    f->read = ::read;
    f->readv = ::readv;
    f->recv = ::recv;
    f->recvfrom = ::recvfrom;
    f->recvmsg = ::recvmsg;
    f->write = ::write;
    f->writev = ::writev;
    f->send = ::send;
    f->sendto = ::sendto;
    f->sendmsg = ::sendmsg;
    return stack;
}

IOTH_PLUGIN_API int ioth_vdestack_delstack(void* stackdata) {
    delete static_cast<vde::Stack*>(stackdata);
    return 0;
}

IOTH_PLUGIN_API int ioth_vdestack_socket(int domain, int type, int protocol) {
    auto* stack = g_getstackdata != nullptr ? static_cast<vde::Stack*>(g_getstackdata()) : nullptr;
    if (stack == nullptr) {
        errno = EINVAL;
        return -1;
    }
    std::error_code ec;
    vde::Socket sock = stack->socket(domain, type, protocol, ec);
    if (ec) {
        errno = ec.value();
        return -1;
    }
    return sock.release();
}
