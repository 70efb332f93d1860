// userns.hpp - user namespace and capability plumbing of the helper process.
#pragma once

namespace vdestack::helper {

// unshare(CLONE_NEWUSER) and map the caller's euid/egid to themselves (one
// line each, setgroups denied): the process then holds every capability in
// the new namespace, which owns all the network namespaces it creates next.
// Must be called while single-threaded. Throws Error with context.
void enter_user_namespace();

// Makes CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE and CAP_NET_BROADCAST
// inheritable and ambient, so that programs exec'd by this (non-root in its
// namespace) process keep them. Async-signal-safe (raw syscalls only); returns
// 0 or -errno. With sysadm, CAP_SYS_ADMIN too (vdens -s).
int raise_net_ambient_caps(bool sysadm = false) noexcept;

}  // namespace vdestack::helper
