/*
 * ioth.h - the Internet of Threads API of libioth, served by vdestack++
 * (link with -lioth, or pkg-config ioth). Source compatible with
 * virtualsquare/libioth: the same functions, types and macros.
 *
 * A stack is named by a string "NAME[,options]":
 *   vdestack, vdestack++  our engine: the Linux kernel's stack in a private
 *                         network namespace, its interfaces joined to VDE
 *                         networks (the options are ignored);
 *   kernel                the host's own stack: plain sockets, no namespace
 *                         (also a NULL or empty stack, as libioth).
 * Any other NAME is a plugin, ioth_NAME.so, loaded as libioth loads it (see
 * "Plugins" below): the options after the comma are passed to it.
 *
 * A VNL may name its interface: "eth0:vxvde://234.0.0.1"; without a name the
 * interfaces are vde0, vde1, ... in the order of the VNLs.
 *
 * Errors: functions returning a pointer return NULL, the others -1, with
 * errno set (EINVAL for a NULL or malformed argument, ENOTSUP for a plugin
 * that cannot be loaded, EBUSY from
 * ioth_delstack while sockets of the stack are open, the errno of the
 * failing step otherwise). Every function is thread-safe.
 */
#ifndef LIBIOTH_H
#define LIBIOTH_H

#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <nlinline+.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ioth;

/* The program's license (SPDX identifier); recorded, checked by no stack of ours. */
void ioth_set_license(const char *license);

/* A stack with one interface on vnl, or none when vnl is NULL. */
struct ioth *ioth_newstack(const char *stack, const char *vnl);
/* A stack with an interface per VNL; the list ends with NULL. */
struct ioth *ioth_newstackl(const char *stack, const char *vnl, ... /* (char *) NULL */);
/* The same with a NULL-terminated array. */
struct ioth *ioth_newstackv(const char *stack, const char *vnlv[]);
/* Deletes the stack: 0, or -1 with EBUSY while sockets of it are open. */
int ioth_delstack(struct ioth *iothstack);

/* ---- moving a live stack: an extension of vdestack++, not in libioth ----
 * vde_stack_save/vde_stack_restore (vdestack.h) for a stack of our engine
 * ("vdestack"): the same image, the same errors. ioth_savestack returns 0,
 * or -1 with errno: EOPNOTSUPP for a kernel or plugin stack, EBADF for a
 * socket that is not this stack's (as ioth_msocket made them), and
 * vde_stack_save's. Afterwards ioth_close the saved sockets (nothing is
 * sent) and ioth_delstack the stack. ioth_restorestack gives a "vdestack"
 * stack and its sockets (socks[i] for the i-th saved one), or NULL with
 * errno as vde_stack_restore; ioth_last_error() says why. */
int ioth_savestack(struct ioth *iothstack, const int *socks, int nsocks, int fd);
struct ioth *ioth_restorestack(int fd, const char *vnl, int *socks, int nsocks);

/* The stack ioth_socket() and ioth_msocket(NULL, ...) use (NULL: the kernel's). */
void ioth_set_defstack(struct ioth *iothstack);
struct ioth *ioth_get_defstack(void);

/* A socket of the stack (NULL: the default one). The sockets of vdestack and
 * kernel stacks are kernel fds of this process (poll/epoll work, and the
 * wrappers below are the libc calls for them); a plugin's sockets are
 * whatever the plugin makes, and the wrappers call the plugin's functions. */
int ioth_msocket(struct ioth *iothstack, int domain, int type, int protocol);
int ioth_socket(int domain, int type, int protocol);
int ioth_close(int fd);

int ioth_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
int ioth_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int ioth_listen(int fd, int backlog);
int ioth_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ioth_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ioth_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen);
ssize_t ioth_read(int fd, void *buf, size_t len);
ssize_t ioth_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ioth_recv(int fd, void *buf, size_t len, int flags);
ssize_t ioth_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen);
ssize_t ioth_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ioth_write(int fd, const void *buf, size_t len);
ssize_t ioth_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t ioth_send(int fd, const void *buf, size_t len, int flags);
ssize_t ioth_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen);
ssize_t ioth_sendmsg(int fd, const struct msghdr *msg, int flags);
int ioth_setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen);
int ioth_getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen);
int ioth_shutdown(int fd, int how);
int ioth_ioctl(int fd, unsigned long cmd, void *argp);
int ioth_fcntl(int fd, int cmd, long val);

/* getifaddrs(3) of the stack (NULL: the default one), from its netlink
 * dumps: 0 and *ifap, or -1 with errno and *ifap NULL. Free the list with
 * ioth_freeifaddrs() (not freeifaddrs). */
int ioth_getifaddrs(struct ioth *iothstack, struct ifaddrs **ifap);
void ioth_freeifaddrs(struct ifaddrs *ifa);

/* vdestack++ extension: the message of this thread's last failed
 * ioth_newstack*() (which plugin paths were tried, dlerror(), the step that
 * failed), or "" when there was none. Valid until the thread's next call. */
const char *ioth_last_error(void);

/* ---- Plugins ------------------------------------------------------------
 * A stack named NAME other than vdestack, vdestack++ and kernel is the
 * plugin ioth_NAME.so (NAME: letters, digits, '_' and '-'), searched in
 * $HOME/.ioth, then in the system directory (<libdir>/ioth): first
 * ioth_NAME-r.so, which is reentrant and loaded once into the program's own
 * link map (dlmopen LM_ID_BASE), then ioth_NAME.so, loaded afresh into a new
 * link map for every stack (LM_ID_NEWLM: glibc allows about 15 of them).
 * A plugin exports
 *   void *ioth_NAME_newstack(const char *vnlv[], const char *options,
 *                            struct ioth_functions *f);   NULL + errno: error
 *   int ioth_NAME_delstack(void *stackdata);              optional
 *   const char *ioth_NAME_license;    optional SPDX id, checked against
 *                                     ioth_set_license() (EPERM)
 * and optionally ioth_NAME_socket, ioth_NAME_close, ... for any member of
 * struct ioth_functions; newstack may also set the members itself. A call
 * on a socket of the plugin runs its function with f->getstackdata()
 * returning that stack's stackdata. Errors of ioth_newstack for a plugin:
 * EINVAL (bad NAME), ENOTSUP (no loadable ioth_NAME.so; ioth_last_error()
 * says why), EPERM (license), ENOENT (no ioth_NAME_newstack), or the
 * plugin's own errno. A wrapper on an fd the plugin lacks a function for
 * fails with ENOSYS. */
struct ioth_functions;
void *newstack_prototype(const char *vnlv[], const char *options, struct ioth_functions *ioth_f);
int delstack_prototype(void *stackdata);
void *getstackdata_prototype(void);

struct ioth_functions {
	void *(*getstackdata)(void);
	void *(*newstack)(const char *vnlv[], const char *options, struct ioth_functions *ioth_f);
	int (*delstack)(void *stackdata);
	int (*socket)(int domain, int type, int protocol);
	int (*close)(int fd);
	int (*bind)(int fd, const struct sockaddr *addr, socklen_t addrlen);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t addrlen);
	int (*listen)(int fd, int backlog);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *addrlen);
	int (*setsockopt)(int fd, int level, int optname, const void *optval, socklen_t optlen);
	int (*getsockopt)(int fd, int level, int optname, void *optval, socklen_t *optlen);
	int (*shutdown)(int fd, int how);
	int (*ioctl)(int fd, unsigned long request, ...);
	int (*fcntl)(int fd, int cmd, ...);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*readv)(int fd, const struct iovec *iov, int iovcnt);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	ssize_t (*recvfrom)(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*sendto)(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
};

#ifdef __cplusplus
}
#endif

/* Netlink configuration, every function with the stack first:
 * ioth_if_nametoindex(s, "vde0"), ioth_ipaddr_add(s, AF_INET, addr, 24, ifindex), ... */
NLINLINE_LIBMULTI(ioth_)

/* ---- MAC addresses ---------------------------------------------------- */

#define MAC_ADDRSTRLEN 18

/* "xx:xx:xx:xx:xx:xx" (lower case) of the 6 bytes at src, in dst (size bytes,
 * at least MAC_ADDRSTRLEN); returns dst. */
static inline const char *ioth_ntomac(const void *src, char *dst, size_t size) {
	const unsigned char *m = (const unsigned char *) src;
	snprintf(dst, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return dst;
}

/* The 6 bytes of "xx:xx:xx:xx:xx:xx" or "xx-xx-xx-xx-xx-xx" (hex, any case)
 * into dst: 1, or 0 when src is not such a string. */
static inline int ioth_macton(const char *src, void *dst) {
	unsigned char *m = (unsigned char *) dst;
	const char *seps = ":-";
	for (int k = 0; k < 2; k++) {
		char s = seps[k], tail;
		unsigned int b[6];
		char fmt[40];
		snprintf(fmt, sizeof fmt, "%%2x%c%%2x%c%%2x%c%%2x%c%%2x%c%%2x%%c", s, s, s, s, s);
		if (sscanf(src, fmt, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) == 6) {
			for (int i = 0; i < 6; i++) m[i] = (unsigned char) b[i];
			return 1;
		}
	}
	return 0;
}

#endif /* LIBIOTH_H */
