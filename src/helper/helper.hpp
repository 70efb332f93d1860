// helper.hpp - the namespace helper: one process per client process, holding
// every stack (network namespace, tap, transport) that process created.
//
// Theory of operation
// -------------------
// The library spawns `vdestack-helper` (posix_spawn, so it is safe from any
// multithreaded program) with one end of a SEQPACKET socketpair on fd 0, the
// "channel" (wire/helper_proto.hpp), and /dev/null as stdout and stderr. The
// helper:
//   1. reads its settings once (Tuning::from_env: the client's environment,
//      inherited) and passes them down to the engines and transports;
//   2. unless it runs as root (or Tuning::force_userns), enters a new user
//      namespace mapping the caller's uid/gid to themselves; it then holds
//      every capability over the network namespaces it creates (root skips
//      this and keeps its capabilities on the host, which tap:// needs);
//   3. says Hello on the channel;
//   4. serves requests on its main thread, which stays in the caller's
//      network namespace (transports are opened there, as libvdestack
//      does) and is also its first engine: the channel and the connections
//      of forked children are control fds of that engine's epoll, and a
//      request is served between two of its rounds;
//   5. creates namespaces, taps and sockets on its NsWorker, and destroys
//      stacks on its Reaper (nsworker.hpp), together once deletions pause
//      for 20 ms (the kernel then tears their namespaces down in one pass):
//      each a thread that exists only while it has work (it ends 100 ms
//      after its last job). A new stack's
//      namespace and tap are made there while its transport is opened on
//      the main thread;
//   6. forwards on engines (engine/engine_thread.hpp), each an epoll loop
//      over the taps and transports of the stacks it was given, sharing
//      one local fabric (engine/fabric.hpp) and one set of shared sockets
//      (plug::SharedSources: a vxvde network's group and unicast sockets,
//      one pair for all the stacks on it) that the helper owns. The first
//      runs on the main thread; the others start as stacks come: a new
//      stack starts another while every engine has a stack, up to one per
//      CPU (at most 4, Tuning::engines); past that the one with the fewest
//      takes it. Engines stay until the helper exits.
// Interfaces: a stack's first interface is its own entry; AddIface gives it
// more, each an entry of its own in the stack's namespace (a dup of its
// netns fd, its own tap and transport, forwarded like any other), released
// with the stack.
// Threads: with one stack, the main thread alone once the stack is made;
// with more, main + one engine thread per further CPU (2 on a 2-CPU
// machine), whatever the number of stacks beyond; NsWorker, Reaper and the
// configuration thread (conf_service.hpp) only while they have work.
// Trade-off: the first engine's stacks do not forward while a request is
// served (a new stack: ~0.5 ms; a stack's release waits up to 500 ms for
// its DHCP leases to be given back). A lone stack's program is idle then.
// Requests are served one at a time; vde_stackcmd's commands are started one
// after the other (command.hpp: a CLONE_VM|CLONE_VFORK child that enters the
// namespace and execs, with the network capabilities ambient) and watched
// through their pidfds by the first engine, which starts the next or replies
// when one ends -- so a slow command never blocks forwarding or other
// requests, and starting one copies no page table.
//
// Lifetime: Shutdown, or EOF on the channel (every process holding it has
// closed it or died), tears every stack down (vxvde says goodbye) and exits.
// Fds owned: the channel, /dev/null twice (stdout, stderr: a stray write
// goes nowhere), one epoll fd per engine and one eventfd per engine thread,
// per stack its tap fd and transport fds (a vxvde stack: none, its
// network's two sockets are shared), and a netns fd only for a stack without
// a tap (a tap holds its namespace; the helper asks it for an fd when a
// request needs one): a lone vxvde stack, 7 fds. The soft fd limit is raised
// to the hard one, and the hard one to fs.nr_open where CAP_SYS_RESOURCE
// allows: fds are what limits the number of stacks first (one each on vxvde,
// two on most other schemes). It never writes to stdout/stderr.
//
// As a thread (Host::kThread, Tuning::helper_in_thread: by default in a root
// program that needs no user namespace) the same code runs on a
// thread of the program itself, started by the library with every signal
// blocked, on one end of a socketpair: no exec, no second process (its
// RSS, its fds 0-2). It then leaves the program's signal dispositions and
// fd limits alone, and its stackcmd commands are clone children with no
// exit signal (the program's fork handlers and SIGCHLD never see them),
// reaped through a pidfd that the first engine watches. Its fds are the
// program's (all close-on-exec); a child the program forks holds copies of
// them, inert, and its stacks live while the program does (the reference
// library's semantics), not while the child holds them.
#pragma once

#include "base/tuning.hpp"

namespace vdestack::helper {

// Where helper_main runs: the vdestack-helper process, or a thread of the program.
enum class Host { kProcess, kThread };

// Runs the helper on `channel` (owned from here on) with the client's
// `tuning` (a process reads it from the environment it inherited; a thread
// gets the library's copy) until shutdown; returns the exit status.
// Host::kThread: see above; never throws.
int helper_main(int channel, Tuning tuning, Host host = Host::kProcess);

}  // namespace vdestack::helper
