/*
 * nlinline+.h - nlinline for network stacks implemented as libraries: the
 * generator macros that define the nlinline functions for a stack's own
 * socket calls. Include it instead of nlinline.h (it provides the plain
 * nlinline_* functions as well).
 *
 * Part of vdestack++. Header-only, source compatible with nlinline+ 0.2.2 as
 * packaged by Debian (nlinline-dev): same macros, same generated names and
 * signatures, struct _stackinfo and msocket_t, and the same #error when
 * nlinline.h was included first. See nlinline.h for the semantics, the errors
 * and thread-safety of every function (all generated functions are
 * thread-safe when the stack's own calls are).
 *
 *   NLINLINE_LIB(P)          P##if_nametoindex(ifname), ... using P##socket,
 *                            P##bind, P##send, P##recv, P##close
 *   NLINLINE_LIBCOMP(P)      the same using P##socket and libc's bind, send,
 *                            recv, close (the stack's fds are kernel fds)
 *   NLINLINE_LIBMULTI(P)     P##if_nametoindex(void *mstack, ifname), ...:
 *                            one more leading stack argument; the socket is
 *                            P##msocket(mstack, ...), then P##bind, P##send,
 *                            P##recv, P##close
 *   NLINLINE_LIBMULTICOMP(P) the same using P##msocket and libc's bind, send,
 *                            recv, close: NLINLINE_LIBMULTICOMP(vde_) is the
 *                            one for libvdestack (vde_msocket)
 *
 * Each defines P##if_nametoindex, P##linksetupdown, P##linksetaddr,
 * P##linkgetaddr, P##linksetmtu, P##ipaddr_add, P##ipaddr_del,
 * P##iproute_add, P##iproute_del, P##iplink_add, P##iplink_del, P##nldialog
 * (as 0.2.2 does; NLINLINE_LIB/LIBCOMP's nldialog keeps 0.2.2's ignored
 * leading `const char *ifname`), and P##iplink_add_ifd (the newer upstream
 * iplink_add taking `struct nl_iplink_data *ifd, int nifd`).
 *
 * Timeouts: the *COMP variants (kernel fds) never wait more than
 * NLINLINE_TIMEOUT_MS for an answer. NLINLINE_LIB and NLINLINE_LIBMULTI
 * cannot set a receive timeout through the stack's five calls: there a call
 * returns when the stack's recv does.
 *
 * Call forms (disabled by NLINLINE_NO_COMPAT_MACROS): for the stack prefixes
 * vde_ and ioth_ with the MULTI generators, the tutorial's
 *   vde_iproute_add(stack, family, dst, dstlen, gw)          ifindex = 0
 * works as well as vde_iproute_add(stack, family, dst, dstlen, gw, ifindex)
 * (same for iproute_del), and vde_iplink_add(stack, ifname, ifindex, type,
 * ifd, nifd) calls vde_iplink_add_ifd. Other prefixes get only the full
 * 0.2.2 forms (P##iproute_add with its ifindex).
 */
#ifndef NLINLINEPLUS_H
#define NLINLINEPLUS_H
#ifdef NLINLINE_H
#error nlinline+.h must be included instead of nlinline.h
#else

#include "nlinline.h"

/* A stack's multi-stack socket call: msocket(mstack, domain, type, protocol). */
typedef int msocket_t(void *, int, int, int);

/* How nlinline+ 0.2.2 described a stack; kept for source compatibility
 * (the generators below do not need it). */
struct _stackinfo {
	msocket_t *msocket;
	void *mstack;
	__typeof__(__NLINLINE_GLOBAL(socket)) *socket;
	__typeof__(__NLINLINE_GLOBAL(bind)) *bind;
	__typeof__(__NLINLINE_GLOBAL(send)) *send;
	__typeof__(__NLINLINE_GLOBAL(recv)) *recv;
	__typeof__(__NLINLINE_GLOBAL(close)) *close;
};

#define __NLINLINE_LIBNLDIALOG(X, S, B, SE, R, C, K) \
	static inline __NLINLINE_UNUSED int (X##nldialog)(const char *ifname, void *msg) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		(void)ifname; \
		return __nlinline_do_nldialog(&__nlops, msg); }

#define NLINLINE_LIB(X) \
	__NLINLINE_ADAPT_SOCKET(X) \
	__NLINLINE_ADAPT_IO(X) \
	__NLINLINE_GEN1(X, __nlinline_##X##socket_, __nlinline_##X##bind_, __nlinline_##X##send_, \
			__nlinline_##X##recv_, __nlinline_##X##close_, 0) \
	__NLINLINE_LIBNLDIALOG(X, __nlinline_##X##socket_, __nlinline_##X##bind_, __nlinline_##X##send_, \
			__nlinline_##X##recv_, __nlinline_##X##close_, 0)

#define NLINLINE_LIBCOMP(X) \
	__NLINLINE_ADAPT_SOCKET(X) \
	__NLINLINE_GEN1(X, __nlinline_##X##socket_, __nlinline_libc_bind, __nlinline_libc_send, \
			__nlinline_libc_recv, __nlinline_libc_close, 1) \
	__NLINLINE_LIBNLDIALOG(X, __nlinline_##X##socket_, __nlinline_libc_bind, __nlinline_libc_send, \
			__nlinline_libc_recv, __nlinline_libc_close, 1)

#define NLINLINE_LIBMULTI(X) \
	__NLINLINE_ADAPT_MSOCKET(X) \
	__NLINLINE_ADAPT_IO(X) \
	__NLINLINE_GENM(X, __nlinline_##X##msocket_, __nlinline_##X##bind_, __nlinline_##X##send_, \
			__nlinline_##X##recv_, __nlinline_##X##close_, 0)

#define NLINLINE_LIBMULTICOMP(X) \
	__NLINLINE_ADAPT_MSOCKET(X) \
	__NLINLINE_GENM(X, __nlinline_##X##msocket_, __nlinline_libc_bind, __nlinline_libc_send, \
			__nlinline_libc_recv, __nlinline_libc_close, 1)

#ifndef NLINLINE_NO_COMPAT_MACROS
/* libvdestack: NLINLINE_LIBMULTICOMP(vde_) */
#define vde_iproute_add(...) __NLINLINE_DEFAULT0(5, vde_iproute_add, __VA_ARGS__)
#define vde_iproute_del(...) __NLINLINE_DEFAULT0(5, vde_iproute_del, __VA_ARGS__)
#define vde_iplink_add(...) __NLINLINE_IFDFORM(6, vde_iplink_add, __VA_ARGS__)
/* libioth: NLINLINE_LIBMULTI(ioth_). Its own ioth.h declares the 6-argument
 * iproute functions, which these macros leave as they are; ioth_iplink_add
 * is not redirected, ioth.h's is already the ifd form. */
#define ioth_iproute_add(...) __NLINLINE_DEFAULT0(5, ioth_iproute_add, __VA_ARGS__)
#define ioth_iproute_del(...) __NLINLINE_DEFAULT0(5, ioth_iproute_del, __VA_ARGS__)
#endif

#endif /* NLINLINE_H */
#endif /* NLINLINEPLUS_H */
