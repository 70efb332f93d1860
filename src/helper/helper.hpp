// helper.hpp - the namespace helper: one process per client process, holding
// every stack (network namespace, tap, transport) that process created.
//
// Theory of operation
// -------------------
// The library spawns `vdestack-helper` (posix_spawn, so it is safe from any
// multithreaded program) with one end of a SEQPACKET socketpair on fd 3, the
// "channel" (proto.hpp). The helper:
//   1. unless it runs as root, enters a new user namespace mapping the
//      caller's uid/gid to themselves; it then holds every capability over
//      the network namespaces it creates (root skips this and keeps its
//      capabilities on the host, which transports such as tap:// need);
//   2. says Hello on the channel;
//   3. runs the Engine loop on its main thread, which stays in the caller's
//      network namespace: transports are opened there, as libvdestack does;
//   4. creates namespaces, taps and sockets on its NsWorker thread.
// Requests are served one at a time; vde_stackcmd runs in a forked "runner"
// child that enters the namespace, execs each command with the network
// capabilities ambient, waits for it, and replies itself -- so a slow command
// never blocks forwarding or other requests.
//
// Lifetime: Shutdown, or EOF on the channel (every process holding it has
// closed it or died), tears every stack down (vxvde says goodbye) and exits.
// Fds owned: the channel, the epoll fd, per stack its netns fd, tap fd and
// transport fds. It never writes to stdout/stderr (both are /dev/null).
#pragma once

namespace vdestack::helper {

// Runs the helper on `channel` until shutdown; returns the exit status.
int helper_main(int channel);

}  // namespace vdestack::helper
