/*
 * vdestack.h - a Linux kernel TCP/IP stack of your own, joined to a VDE network.
 *
 * Drop-in compatible with libvdestack 0.1.2: same declarations, same
 * semantics, same errno conventions. A stack is a private network namespace
 * (inside a user namespace when the caller is not root) holding a tap
 * interface ("vde0" by default) whose frames are carried to the VDE network
 * named by a VNL such as "vxvde://234.0.0.1". See vdestack(3).
 *
 * Thread-safety: every function may be called from any thread; calls on one
 * stack are serialised internally. Stacks and their sockets may be used after
 * fork(): a child may call vde_msocket()/vde_stackcmd() on an inherited stack
 * and gets fds valid in its own table.
 */
#ifndef VDESTACK_H
#define VDESTACK_H

#ifdef __cplusplus
extern "C" {
#endif

struct vdestack;

/* Creates a stack joined to the VDE network `vdenet` through an interface
 * named `ifname` (NULL: "vde0"). The interface and "lo" start down and
 * unconfigured. vdenet NULL or "" makes a stack with "lo" only.
 * Returns NULL with errno set: EPROTONOSUPPORT (unknown VNL scheme), EINVAL
 * (bad VNL option or interface name), ENODEV (no multicast route for vxvde),
 * EPERM (namespaces not permitted), EMFILE/ENFILE, ENOMEM, ... */
struct vdestack *vde_addstack(char *vdenet, char *ifname);

/* Destroys the stack: its interface, its forwarding and its VDE connection.
 * Sockets already obtained stay valid fds (their network is gone). NULL is
 * ignored. Called in a process that did not create the stack (a forked
 * child), it only frees that process's handle. */
void vde_delstack(struct vdestack *stack);

/* From now on socket(2) in this process creates sockets in `stack` (NULL:
 * back to the process's own namespace). */
void vde_default_stack(struct vdestack *stack);

/* Runs the ';'-separated commands inside the stack's namespace, one after
 * the other, each waited for. Commands need absolute paths; no shell is
 * involved (quotes and backslashes are honoured, $VAR expands to nothing).
 * Returns 0 when all succeed, else the exit status of the first failing
 * command (the rest are skipped); 2 when a command cannot be executed;
 * -1 with errno set when the stack cannot be reached. */
int vde_stackcmd(struct vdestack *stack, char *stackcmd);

/* Like socket(2), but the socket lives in the stack's namespace. Returns a
 * new fd, or -1 with errno set (as socket(2) would, or EBADF/EPIPE when the
 * stack is gone). */
int vde_msocket(struct vdestack *stack, int domain, int type, int protocol);

/* ---- moving a live stack (vdestack++; not in libvdestack 0.1.2) ----------
 * See "Moving a live stack" in vdestack(3). */

/* Freezes `stack` (no frame leaves or enters it from now on) and writes to
 * the file descriptor `fd` what is needed to rebuild it elsewhere: its VNL,
 * interfaces (MAC, MTU), addresses, routes and neighbours, and the sockets
 * socks[0..nsocks-1] (TCP listening and established, with the unread data of
 * their receive queues and the unacknowledged and unsent data of their send
 * queues; UDP bound or connected). Afterwards closing those sockets sends
 * nothing, and vde_delstack(stack) removes the stack silently.
 * Returns 0, or -1 with errno (EOPNOTSUPP for a socket it cannot carry,
 * e.g. a TCP socket in SYN_SENT; EBADF for a socket of another stack; the
 * errno of a failed write); on failure the stack forwards again and the
 * sockets are unchanged. */
int vde_stack_save(struct vdestack *stack, const int *socks, int nsocks, int fd);

/* Rebuilds a saved stack from the file descriptor `fd` (exactly one image,
 * from its current offset), its own interface joined to `vnl` (NULL: the
 * saved VNL; other interfaces keep theirs), with the same MAC, addresses and
 * routes; announces its new place (gratuitous ARP, unsolicited neighbour
 * advertisement); socks[i] receives the socket that stands for the i-th
 * saved one, live. NULL with errno on failure (EINVAL: not an image of ours,
 * a truncated or a newer one; ENOSPC: nsocks does not match the image; the
 * errors of vde_addstack). */
struct vdestack *vde_stack_restore(int fd, const char *vnl, int *socks, int nsocks);

#ifdef __cplusplus
}
#endif

#endif
