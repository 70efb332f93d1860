/*
 * nlinline.h - configure a network stack through netlink with inline
 * functions only: interface index, link up/down, MAC address, MTU, IPv4/IPv6
 * addresses and routes, virtual links.
 *
 * Part of vdestack++. Header-only, source compatible with nlinline 0.2.2 as
 * packaged by Debian (nlinline-dev), with the later upstream additions
 * (nl_addrdata2prefix, nl_routedata2prefix, struct nl_iplink_data,
 * nl_iplink_strdata, IFLA_VDE_VNL) and these differences, all source
 * compatible:
 *  - nlinline_iproute_add/del accept both the old 4-argument call
 *    (family, dst, dstlen, gw) and the 0.2.2 5-argument call with a trailing
 *    ifindex (the missing ifindex is 0); nlinline_iplink_add accepts both
 *    0.2.2's (ifname, ifindex, type, const char *data) and the newer upstream
 *    (ifname, ifindex, type, ifd, nifd); see "call forms" below;
 *  - valid C (C99 and later) and C++ (C++11 and later), warning-free with
 *    -Wall -Wextra -Wpedantic -Wconversion -Wshadow;
 *  - no endless wait for a reply: a call waits about NLINLINE_TIMEOUT_MS
 *    (default 2000 ms, SO_RCVTIMEO) at most for the kernel's answer, then
 *    fails with ETIMEDOUT;
 *  - replies are read until the answer to *this* request (multipart replies
 *    and messages with another sequence number are skipped), every length
 *    read from the kernel is bounds-checked, and arguments are checked before
 *    anything is sent (no truncated name or message is ever sent).
 *
 * Every call opens its own socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC,
 * NETLINK_ROUTE), sends one request (NLM_F_REQUEST|NLM_F_ACK), reads the
 * answer and closes the socket on every path.
 *
 * Return value: 0 on success (nlinline_if_nametoindex: the index), -1 with
 * errno set on failure. errno is the kernel's own error (rtnetlink(7)), e.g.
 *   EEXIST        the address/route/link already exists
 *   EADDRNOTAVAIL the address to delete is not there
 *   ESRCH         the route to delete is not there
 *   ENODEV        no interface with that index/name
 *   ENETUNREACH   the gateway is not reachable
 *   EPERM         no CAP_NET_ADMIN in the namespace
 * or one detected here:
 *   EINVAL        bad family, prefix length beyond the address, NULL where an
 *                 address/name/message is required, interface name empty or
 *                 longer than IFNAMSIZ-1 characters
 *   EMSGSIZE      the request would exceed netlink's attribute size limits
 *   ETIMEDOUT     no answer within NLINLINE_TIMEOUT_MS
 *   EFAULT        malformed reply (as in nlinline 0.2.2)
 *   ENOMEM        no memory for the reply buffer
 * plus whatever socket(2)/bind(2)/send(2)/recv(2) report.
 *
 * Addresses are raw bytes in network order: 4 for AF_INET, 16 for AF_INET6;
 * MAC addresses are 6 bytes.
 *
 * Thread-safety: every function is thread-safe (each call uses its own
 * socket; the only shared state is an atomic sequence counter). They are not
 * async-signal-safe (the reply buffer is malloc'ed).
 *
 * The functions (nlinline_*; nlinline+.h generates the same for a stack):
 *   int nlinline_if_nametoindex(const char *ifname)
 *       RTM_GETLINK by IFLA_IFNAME: the index, or -1 (ENODEV: no such
 *       interface; EINVAL: NULL, "" or longer than IFNAMSIZ-1)
 *   int nlinline_linksetupdown(unsigned int ifindex, int updown)
 *       RTM_SETLINK, IFF_UP set (updown != 0) or cleared (ENODEV)
 *   int nlinline_linksetaddr(unsigned int ifindex, void *macaddr)
 *       RTM_NEWLINK + IFLA_ADDRESS, 6 bytes (ENODEV, EADDRNOTAVAIL: not a
 *       unicast MAC, EINVAL: NULL)
 *   int nlinline_linkgetaddr(unsigned int ifindex, void *macaddr)
 *       RTM_GETLINK, copies the link's 6-byte IFLA_ADDRESS (ENODEV; ENOENT:
 *       the link has no hardware address; EINVAL: NULL, or the hardware
 *       address is not 6 bytes long)
 *   int nlinline_linksetmtu(unsigned int ifindex, unsigned int mtu)
 *       RTM_NEWLINK + IFLA_MTU (ENODEV; EINVAL: MTU out of the link's range)
 *   int nlinline_ipaddr_add(int family, void *addr, int prefixlen, unsigned int ifindex)
 *   int nlinline_ipaddr_del(int family, void *addr, int prefixlen, unsigned int ifindex)
 *       RTM_NEWADDR (CREATE|EXCL) / RTM_DELADDR, IFA_LOCAL = IFA_ADDRESS =
 *       addr; prefixlen may be nl_addrdata2prefix(len, IFA_F_*, scope)
 *       (EEXIST, EADDRNOTAVAIL, ENODEV; EINVAL: family, NULL, prefix length)
 *   int nlinline_iproute_add(int family, void *dst, int dstlen, void *gw, unsigned int ifindex)
 *   int nlinline_iproute_del(int family, void *dst, int dstlen, void *gw, unsigned int ifindex)
 *       RTM_NEWROUTE (CREATE|EXCL) / RTM_DELROUTE in the main table;
 *       RTA_DST when dstlen > 0 (dstlen 0: the default route), RTA_GATEWAY
 *       when gw != NULL, RTA_OIF when ifindex != 0; dstlen may be
 *       nl_routedata2prefix(len, RTN_*, scope). An IPv4 route without gw is
 *       on-link (scope link), as ip(8) makes it; a delete matches any
 *       protocol and scope, as ip(8)'s does (EEXIST, ESRCH, ENETUNREACH,
 *       EHOSTUNREACH, ENODEV; EINVAL: family, prefix length, dstlen > 0 with
 *       dst NULL)
 *   int nlinline_iplink_add(const char *ifname, unsigned int ifindex, const char *type, const char *data)
 *   int nlinline_iplink_add_ifd(const char *ifname, unsigned int ifindex, const char *type,
 *           const struct nl_iplink_data *ifd, int nifd)
 *       RTM_NEWLINK (CREATE|EXCL) [IFLA_IFNAME ifname] IFLA_LINKINFO{
 *       IFLA_INFO_KIND type, IFLA_INFO_DATA: the string data (0.2.2), or the
 *       nifd attributes of ifd (newer upstream)}. ifname NULL: the kernel
 *       names it; ifindex != 0: the index asked for; ifindex (unsigned)-1
 *       adds IFLA_NEW_IFINDEX so that a user-mode stack returns the new index
 *       (the Linux kernel answers ERANGE) (EEXIST, EOPNOTSUPP: unknown type;
 *       EINVAL: name, nifd < 0, ifd NULL with nifd > 0; EMSGSIZE)
 *   int nlinline_iplink_del(const char *ifname, unsigned int ifindex)
 *       RTM_DELLINK by name and/or index (ENODEV; EINVAL: neither given)
 *   int nlinline_nldialog(void *msg)
 *       sends the caller's complete netlink message as it is (nlmsg_len
 *       bytes) and decodes the answer to its nlmsg_seq: NLMSG_ERROR (0, or
 *       -1 with errno), NLMSG_DONE (0), RTM_NEWLINK (its ifi_index). Without
 *       NLM_F_ACK a request the kernel does not answer ends in ETIMEDOUT.
 *
 * Call forms (function-like macros, disabled by NLINLINE_NO_COMPAT_MACROS):
 *   nlinline_iproute_add(family, dst, dstlen, gw)            ifindex = 0
 *   nlinline_iproute_add(family, dst, dstlen, gw, ifindex)
 *   nlinline_iplink_add(ifname, ifindex, type, data)         0.2.2 form
 *   nlinline_iplink_add(ifname, ifindex, type, ifd, nifd)    = nlinline_iplink_add_ifd
 *   nlinline_nldialog(msg) and nlinline_nldialog(ifname, msg) (nlinline+ 0.2.2)
 * The functions themselves have the 0.2.2 signatures, so their addresses can
 * be taken as before. The forms are told apart by counting arguments: write a
 * compound literal argument of the short forms in parentheses.
 */
#ifndef NLINLINE_H
#define NLINLINE_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* The longest wait for the answer to one request, in milliseconds. */
#ifndef NLINLINE_TIMEOUT_MS
#define NLINLINE_TIMEOUT_MS 2000
#endif

/* Magic top bytes of the packed prefix lengths (nl_*data2prefix). */
#define NLINLINE_ADDRDATA2PREFIX_MAGIC 0x70
#define NLINLINE_ROUTEDATA2PREFIX_MAGIC 0x60

/* IFLA_INFO_DATA tag of a VDE link's VNL (user-mode stacks, libioth). */
#ifndef IFLA_VDE_VNL
#define IFLA_VDE_VNL 1
#endif

/* Generated functions are expanded in the user's file: no unused warnings. */
#if defined(__GNUC__) || defined(__clang__)
#define __NLINLINE_UNUSED __attribute__((__unused__))
#else
#define __NLINLINE_UNUSED
#endif

#ifdef __cplusplus
#define __NLINLINE_GLOBAL(name) ::name
#else
#define __NLINLINE_GLOBAL(name) name
#endif

/* Link type specific data for nlinline_iplink_add_ifd: one IFLA_INFO_DATA
 * attribute each (tag, len bytes at data). */
struct nl_iplink_data {
	int tag;
	int len;
	const void *data;
};

/* nl_iplink_strdata(tag, string) expands to the two arguments `ifd, nifd` of
 * a one-element array holding the NUL-terminated string. */
#ifdef __cplusplus
extern "C++" {
static inline const nl_iplink_data *__nlinline_ifd_ptr(const nl_iplink_data &d) { return &d; }
}
#define nl_iplink_strdata(t, s) \
	__nlinline_ifd_ptr(nl_iplink_data{(t), static_cast<int>(strlen(s) + 1), (s)}), 1
#else
#define nl_iplink_strdata(t, s) \
	(&(const struct nl_iplink_data){(t), (int)strlen(s) + 1, (s)}), 1
#endif

/* The number of address bytes of a family: 4, 16, or 0 (unsupported). */
static inline int nlinline_family2addrlen(int family) {
	switch (family) {
	case AF_INET: return 4;
	case AF_INET6: return 16;
	default: return 0;
	}
}

/* Packs flags (IFA_F_*) and scope (RT_SCOPE_*) with a prefix length, to be
 * passed as the prefixlen of nlinline_ipaddr_add/del. */
static inline int nl_addrdata2prefix(unsigned char prefixlen, unsigned char flags, unsigned char scope) {
	return NLINLINE_ADDRDATA2PREFIX_MAGIC << 24 | flags << 16 | scope << 8 | prefixlen;
}

/* Packs type (RTN_*) and scope (RT_SCOPE_*) with a prefix length, to be
 * passed as the dst_prefixlen of nlinline_iproute_add/del. */
static inline int nl_routedata2prefix(unsigned char prefixlen, unsigned char type, unsigned char scope) {
	return NLINLINE_ROUTEDATA2PREFIX_MAGIC << 24 | type << 16 | scope << 8 | prefixlen;
}

/**************************************************************************
 * Implementation. Everything named __nlinline_* is internal.
 **************************************************************************/

/* How a call reaches its stack: msocket(mstack, ...) when msocket is set,
 * else socket(...); then bind/send/recv/close. kernelfd: the fd is a kernel
 * socket used with libc's calls (SO_RCVTIMEO and MSG_TRUNC apply). */
struct __nlinline_ops {
	int (*msocket)(void *, int, int, int);
	void *mstack;
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	int (*close)(int);
	int kernelfd;
};

static inline int __nlinline_libc_socket(int domain, int type, int protocol) {
	return __NLINLINE_GLOBAL(socket)(domain, type, protocol);
}
static inline int __nlinline_libc_bind(int fd, const struct sockaddr *sa, socklen_t salen) {
	return __NLINLINE_GLOBAL(bind)(fd, sa, salen);
}
static inline ssize_t __nlinline_libc_send(int fd, const void *buf, size_t len, int flags) {
	return __NLINLINE_GLOBAL(send)(fd, buf, len, flags);
}
static inline ssize_t __nlinline_libc_recv(int fd, void *buf, size_t len, int flags) {
	return __NLINLINE_GLOBAL(recv)(fd, buf, len, flags);
}
static inline int __nlinline_libc_close(int fd) {
	return __NLINLINE_GLOBAL(close)(fd);
}

#define __NLINLINE_RCVBUF 32768
#define __NLINLINE_MACLEN 6
#define __NLINLINE_HDR sizeof(struct nlmsghdr)
#define __NLINLINE_ATTRHDR sizeof(struct nlattr)

static inline size_t __nlinline_align4(size_t n) {
	return (n + 3u) & ~(size_t)3u;
}

static inline __u32 __nlinline_nextseq(void) {
	static __u32 __nlinline_seq;
	return __atomic_add_fetch(&__nlinline_seq, 1, __ATOMIC_RELAXED);
}

/* A request under construction in a caller-provided, 4-aligned buffer. */
struct __nlinline_req {
	unsigned char *data;
	size_t cap;
	size_t len;
};

static inline void __nlinline_setlen(struct __nlinline_req *r) {
	((struct nlmsghdr *)(void *)r->data)->nlmsg_len = (__u32)r->len;
}

/* Header (REQUEST|ACK|flags, fresh sequence number) + fixed part. */
static inline int __nlinline_begin(struct __nlinline_req *r, unsigned short type, unsigned short flags,
		const void *fixed, size_t fixedlen) {
	struct nlmsghdr *h = (struct nlmsghdr *)(void *)r->data;
	size_t need = __NLINLINE_HDR + __nlinline_align4(fixedlen);
	if (need > r->cap) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(r->data, 0, need);
	h->nlmsg_type = type;
	h->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	h->nlmsg_seq = __nlinline_nextseq();
	h->nlmsg_pid = 0;
	memcpy(r->data + __NLINLINE_HDR, fixed, fixedlen);
	r->len = need;
	__nlinline_setlen(r);
	return 0;
}

/* Appends an attribute; EMSGSIZE (nothing appended) when it does not fit. */
static inline int __nlinline_put(struct __nlinline_req *r, unsigned short type, const void *data, size_t len) {
	size_t alen, total;
	struct nlattr *a;
	if (len > 0xffff - __NLINLINE_ATTRHDR) {
		errno = EMSGSIZE;
		return -1;
	}
	alen = __NLINLINE_ATTRHDR + len;
	total = __nlinline_align4(alen);
	if (total > r->cap - r->len) {
		errno = EMSGSIZE;
		return -1;
	}
	a = (struct nlattr *)(void *)(r->data + r->len);
	a->nla_len = (unsigned short)alen;
	a->nla_type = type;
	if (len > 0)
		memcpy(r->data + r->len + __NLINLINE_ATTRHDR, data, len);
	if (total > alen)
		memset(r->data + r->len + alen, 0, total - alen);
	r->len += total;
	__nlinline_setlen(r);
	return 0;
}

static inline int __nlinline_put_u32(struct __nlinline_req *r, unsigned short type, __u32 value) {
	return __nlinline_put(r, type, &value, sizeof(value));
}

/* Nested attribute: begin returns its offset (or (size_t)-1), end sets its length. */
static inline size_t __nlinline_nest_begin(struct __nlinline_req *r, unsigned short type) {
	size_t off = r->len;
	if (__nlinline_put(r, type, NULL, 0) < 0)
		return (size_t)-1;
	return off;
}

static inline int __nlinline_nest_end(struct __nlinline_req *r, size_t off) {
	size_t len = r->len - off;
	if (len > 0xffff) {
		errno = EMSGSIZE;
		return -1;
	}
	((struct nlattr *)(void *)(r->data + off))->nla_len = (unsigned short)len;
	return 0;
}

/* An interface name that fits IFLA_IFNAME (1..IFNAMSIZ-1 characters). */
static inline int __nlinline_checkname(const char *ifname) {
	size_t len = 0;
	if (ifname == NULL) {
		errno = EINVAL;
		return -1;
	}
	while (len < IFNAMSIZ && ifname[len] != 0)
		len++;
	if (len == 0 || len >= IFNAMSIZ) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static inline int __nlinline_put_name(struct __nlinline_req *r, unsigned short type, const char *ifname) {
	return __nlinline_put(r, type, ifname, strlen(ifname) + 1);
}

/* The deadline of a request's loops (EINTR, messages of others): each recv
 * waits at most NLINLINE_TIMEOUT_MS (SO_RCVTIMEO), all of them together about
 * as long (time(2) granularity: standard C, no feature macro needed). */
static inline time_t __nlinline_deadline(void) {
	return time(NULL) + (NLINLINE_TIMEOUT_MS + 999) / 1000;
}

static inline int __nlinline_expired(time_t deadline) {
	return time(NULL) > deadline;
}

/* Opens and binds the netlink socket of one request; -1 (errno) on failure. */
static inline int __nlinline_open(const struct __nlinline_ops *ops) {
	struct sockaddr_nl sanl;
	int fd, err;
	if (ops->msocket != NULL)
		fd = ops->msocket(ops->mstack, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	else
		fd = ops->socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	if (ops->kernelfd) {
		struct timeval tv;
		tv.tv_sec = NLINLINE_TIMEOUT_MS / 1000;
		tv.tv_usec = (NLINLINE_TIMEOUT_MS % 1000) * 1000;
		if (__NLINLINE_GLOBAL(setsockopt)(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			goto fail;
	}
	memset(&sanl, 0, sizeof(sanl));
	sanl.nl_family = AF_NETLINK;
	if (ops->bind(fd, (const struct sockaddr *)(const void *)&sanl, sizeof(sanl)) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	ops->close(fd);
	errno = err;
	return -1;
}

/* Called for each reply message (not NLMSG_*) with our sequence number:
 * returns 1 when it holds the answer (in *result), 0 to read on, -1 (errno)
 * to fail. */
typedef int __nlinline_cb_t(const struct nlmsghdr *h, void *arg, int *result);

/* Default: an RTM_NEWLINK answers with its ifi_index (as in 0.2.2). */
static inline int __nlinline_cb_newlink(const struct nlmsghdr *h, void *arg, int *result) {
	struct ifinfomsg ifi;
	(void)arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (h->nlmsg_len < __NLINLINE_HDR + sizeof(ifi)) {
		errno = EFAULT;
		return -1;
	}
	memcpy(&ifi, (const unsigned char *)h + __NLINLINE_HDR, sizeof(ifi));
	*result = ifi.ifi_index;
	return 1;
}

/* Scans one datagram: 1 answered (*result), 0 read on, -1 failed (errno). */
static inline int __nlinline_scan(const unsigned char *buf, size_t n, __u32 seq,
		__nlinline_cb_t *cb, void *arg, int *result) {
	size_t off = 0;
	while (n - off >= __NLINLINE_HDR) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)(buf + off);
		size_t mlen = h->nlmsg_len;
		if (mlen < __NLINLINE_HDR || mlen > n - off) {
			errno = EFAULT;
			return -1;
		}
		if (h->nlmsg_seq == seq) {
			int r, e;
			switch (h->nlmsg_type) {
			case NLMSG_NOOP:
				break;
			case NLMSG_ERROR:
				if (mlen < __NLINLINE_HDR + sizeof(int)) {
					errno = EFAULT;
					return -1;
				}
				memcpy(&e, buf + off + __NLINLINE_HDR, sizeof(e));
				if (e < 0) {
					errno = (e == INT_MIN) ? EPROTO : -e;
					return -1;
				}
				if (e > 0) /* a user-mode stack's extra answer, e.g. a new ifindex */
					*result = e;
				return 1;
			case NLMSG_DONE:
				return 1;
			case NLMSG_OVERRUN:
				errno = ENOBUFS;
				return -1;
			default:
				r = (cb != NULL ? cb : __nlinline_cb_newlink)(h, arg, result);
				if (r != 0)
					return r;
			}
		}
		if (__nlinline_align4(mlen) >= n - off)
			break;
		off += __nlinline_align4(mlen);
	}
	return 0;
}

/* Sends the request `req` (its nlmsg_len bytes) and waits for its answer.
 * Returns the answer (0, an ifindex, ...) or -1 with errno. */
static inline int __nlinline_talk(const struct __nlinline_ops *ops, const void *req,
		__nlinline_cb_t *cb, void *arg) {
	const struct nlmsghdr *rh = (const struct nlmsghdr *)req;
	size_t reqlen = rh->nlmsg_len;
	__u32 seq = rh->nlmsg_seq;
	time_t deadline;
	unsigned char *buf;
	int fd, rv = -1, err = 0, result = 0, tries;
	ssize_t w;

	buf = (unsigned char *)malloc(__NLINLINE_RCVBUF);
	if (buf == NULL)
		return -1;
	fd = __nlinline_open(ops);
	if (fd < 0) {
		err = errno;
		free(buf);
		errno = err;
		return -1;
	}
	deadline = __nlinline_deadline();
	tries = 0;
	do
		w = ops->send(fd, req, reqlen, 0);
	while (w < 0 && errno == EINTR && ++tries < 16);
	if (w < 0) {
		err = errno;
		goto out;
	}
	if ((size_t)w != reqlen) {
		err = EIO;
		goto out;
	}
	for (;;) {
		ssize_t n = ops->recv(fd, buf, __NLINLINE_RCVBUF, ops->kernelfd ? MSG_TRUNC : 0);
		int r;
		if (n < 0) {
			if (errno == EINTR && !__nlinline_expired(deadline))
				continue;
			err = (errno == EAGAIN || errno == EINTR) ? ETIMEDOUT : errno; /* EAGAIN: SO_RCVTIMEO */
			goto out;
		}
		if (n == 0) {
			err = EFAULT;
			goto out;
		}
		if ((size_t)n > __NLINLINE_RCVBUF) {
			err = EMSGSIZE;
			goto out;
		}
		r = __nlinline_scan(buf, (size_t)n, seq, cb, arg, &result);
		if (r < 0) {
			err = errno;
			goto out;
		}
		if (r > 0) {
			if (result < 0) /* e.g. a negative ifi_index */
				err = EFAULT;
			else
				rv = result;
			goto out;
		}
		if (__nlinline_expired(deadline)) {
			err = ETIMEDOUT;
			goto out;
		}
	}
out:
	ops->close(fd);
	free(buf);
	if (rv < 0)
		errno = err;
	return rv;
}

/* ---- the operations, on any stack ---- */

union __nlinline_reqbuf {
	struct nlmsghdr h;
	__u32 words[64];
};

#define __NLINLINE_REQ(r, u) \
	struct __nlinline_req r; \
	r.data = (unsigned char *)(void *)&(u); \
	r.cap = sizeof(u); \
	r.len = 0

static inline int __nlinline_do_if_nametoindex(const struct __nlinline_ops *ops, const char *ifname) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	int rv;
	__NLINLINE_REQ(r, u);
	if (__nlinline_checkname(ifname) < 0)
		return -1;
	memset(&ifi, 0, sizeof(ifi));
	if (__nlinline_begin(&r, RTM_GETLINK, 0, &ifi, sizeof(ifi)) < 0 ||
			__nlinline_put_name(&r, IFLA_IFNAME, ifname) < 0)
		return -1;
	rv = __nlinline_talk(ops, r.data, NULL, NULL);
	if (rv == 0) {
		errno = ENODEV;
		return -1;
	}
	return rv;
}

static inline int __nlinline_do_linksetupdown(const struct __nlinline_ops *ops, unsigned int ifindex, int updown) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	__NLINLINE_REQ(r, u);
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int)ifindex;
	ifi.ifi_flags = updown ? IFF_UP : 0;
	ifi.ifi_change = IFF_UP;
	if (__nlinline_begin(&r, RTM_SETLINK, 0, &ifi, sizeof(ifi)) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

static inline int __nlinline_do_linksetaddr(const struct __nlinline_ops *ops, unsigned int ifindex, const void *macaddr) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	__NLINLINE_REQ(r, u);
	if (macaddr == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int)ifindex;
	if (__nlinline_begin(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi)) < 0 ||
			__nlinline_put(&r, IFLA_ADDRESS, macaddr, __NLINLINE_MACLEN) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

struct __nlinline_getaddr_arg {
	unsigned int ifindex;
	unsigned char macaddr[__NLINLINE_MACLEN];
	int found;
};

/* RTM_NEWLINK of our link: takes its 6-byte IFLA_ADDRESS. */
static inline int __nlinline_cb_getaddr(const struct nlmsghdr *h, void *arg, int *result) {
	struct __nlinline_getaddr_arg *ga = (struct __nlinline_getaddr_arg *)arg;
	const unsigned char *msg = (const unsigned char *)h;
	size_t mlen = h->nlmsg_len;
	size_t off = __NLINLINE_HDR + __nlinline_align4(sizeof(struct ifinfomsg));
	struct ifinfomsg ifi;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (mlen < off) {
		errno = EFAULT;
		return -1;
	}
	memcpy(&ifi, msg + __NLINLINE_HDR, sizeof(ifi));
	if ((unsigned int)ifi.ifi_index != ga->ifindex)
		return 0;
	while (mlen - off >= __NLINLINE_ATTRHDR) {
		struct nlattr a;
		memcpy(&a, msg + off, sizeof(a));
		if (a.nla_len < __NLINLINE_ATTRHDR || a.nla_len > mlen - off) {
			errno = EFAULT;
			return -1;
		}
		if ((a.nla_type & NLA_TYPE_MASK) == IFLA_ADDRESS) {
			if (a.nla_len - __NLINLINE_ATTRHDR != __NLINLINE_MACLEN) {
				errno = EINVAL; /* not a 6-byte MAC address */
				return -1;
			}
			memcpy(ga->macaddr, msg + off + __NLINLINE_ATTRHDR, __NLINLINE_MACLEN);
			ga->found = 1;
			*result = 0;
			return 1;
		}
		if (__nlinline_align4(a.nla_len) >= mlen - off)
			break;
		off += __nlinline_align4(a.nla_len);
	}
	errno = ENOENT; /* the link has no hardware address */
	return -1;
}

static inline int __nlinline_do_linkgetaddr(const struct __nlinline_ops *ops, unsigned int ifindex, void *macaddr) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	struct __nlinline_getaddr_arg ga;
	__NLINLINE_REQ(r, u);
	if (macaddr == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int)ifindex;
	memset(&ga, 0, sizeof(ga));
	ga.ifindex = ifindex;
	if (__nlinline_begin(&r, RTM_GETLINK, 0, &ifi, sizeof(ifi)) < 0)
		return -1;
	if (__nlinline_talk(ops, r.data, __nlinline_cb_getaddr, &ga) < 0)
		return -1;
	if (!ga.found) { /* acknowledged without describing the link */
		errno = ENODEV;
		return -1;
	}
	memcpy(macaddr, ga.macaddr, __NLINLINE_MACLEN);
	return 0;
}

static inline int __nlinline_do_linksetmtu(const struct __nlinline_ops *ops, unsigned int ifindex, unsigned int mtu) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	__NLINLINE_REQ(r, u);
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int)ifindex;
	if (__nlinline_begin(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi)) < 0 ||
			__nlinline_put_u32(&r, IFLA_MTU, mtu) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

static inline int __nlinline_do_ipaddr(const struct __nlinline_ops *ops, unsigned short type, unsigned short flags,
		int family, const void *addr, int prefixlen, unsigned int ifindex) {
	union __nlinline_reqbuf u;
	struct ifaddrmsg ifa;
	int addrlen = nlinline_family2addrlen(family);
	unsigned int plen = (unsigned int)prefixlen;
	__NLINLINE_REQ(r, u);
	if (addrlen == 0 || addr == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&ifa, 0, sizeof(ifa));
	ifa.ifa_family = (unsigned char)family;
	ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	ifa.ifa_index = ifindex;
	if ((plen >> 24) == NLINLINE_ADDRDATA2PREFIX_MAGIC) {
		ifa.ifa_flags = (unsigned char)(plen >> 16);
		ifa.ifa_scope = (unsigned char)(plen >> 8);
		plen &= 0xff;
	}
	if (plen > (unsigned int)addrlen * 8) {
		errno = EINVAL;
		return -1;
	}
	ifa.ifa_prefixlen = (unsigned char)plen;
	if (__nlinline_begin(&r, type, flags, &ifa, sizeof(ifa)) < 0 ||
			__nlinline_put(&r, IFA_LOCAL, addr, (size_t)addrlen) < 0 ||
			__nlinline_put(&r, IFA_ADDRESS, addr, (size_t)addrlen) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

static inline int __nlinline_do_iproute(const struct __nlinline_ops *ops, unsigned short type, unsigned short flags,
		int family, const void *dst_addr, int dst_prefixlen, const void *gw_addr, unsigned int ifindex) {
	union __nlinline_reqbuf u;
	struct rtmsg rtm;
	int addrlen = nlinline_family2addrlen(family);
	unsigned int plen = (unsigned int)dst_prefixlen;
	__NLINLINE_REQ(r, u);
	if (addrlen == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = (unsigned char)family;
	rtm.rtm_table = RT_TABLE_MAIN;
	rtm.rtm_type = RTN_UNICAST;
	if (type == RTM_NEWROUTE) {
		rtm.rtm_protocol = RTPROT_BOOT;
		/* as ip(8): an IPv4 route without gateway is on-link */
		rtm.rtm_scope = (family == AF_INET && gw_addr == NULL) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	} else {
		rtm.rtm_protocol = RTPROT_UNSPEC; /* delete whatever protocol added it */
		rtm.rtm_scope = (family == AF_INET) ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
	}
	if ((plen >> 24) == NLINLINE_ROUTEDATA2PREFIX_MAGIC) {
		rtm.rtm_type = (unsigned char)(plen >> 16);
		rtm.rtm_scope = (unsigned char)(plen >> 8);
		plen &= 0xff;
	}
	if (plen > (unsigned int)addrlen * 8 || (plen > 0 && dst_addr == NULL)) {
		errno = EINVAL;
		return -1;
	}
	rtm.rtm_dst_len = (unsigned char)plen;
	if (__nlinline_begin(&r, type, flags, &rtm, sizeof(rtm)) < 0)
		return -1;
	if (plen > 0 && __nlinline_put(&r, RTA_DST, dst_addr, (size_t)addrlen) < 0)
		return -1;
	if (gw_addr != NULL && __nlinline_put(&r, RTA_GATEWAY, gw_addr, (size_t)addrlen) < 0)
		return -1;
	if (ifindex != 0 && __nlinline_put_u32(&r, RTA_OIF, ifindex) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

/* RTM_NEWLINK create: [IFLA_IFNAME] [IFLA_NEW_IFINDEX if ifindex == -1]
 * IFLA_LINKINFO{[IFLA_INFO_KIND type] [IFLA_INFO_DATA strdata | {ifd...}]} */
static inline int __nlinline_do_iplink_add(const struct __nlinline_ops *ops, const char *ifname, unsigned int ifindex,
		const char *type, const char *strdata, const struct nl_iplink_data *ifd, int nifd) {
	struct ifinfomsg ifi;
	struct __nlinline_req r;
	size_t cap, linkinfo, infodata;
	int i, rv, err;
	if ((ifname != NULL && __nlinline_checkname(ifname) < 0) || nifd < 0 || (nifd > 0 && ifd == NULL)) {
		errno = EINVAL;
		return -1;
	}
	cap = __NLINLINE_HDR + sizeof(ifi) + 5 * __NLINLINE_ATTRHDR + 2 * IFNAMSIZ + 8;
	if (type != NULL)
		cap += __nlinline_align4(strlen(type) + 1);
	if (strdata != NULL)
		cap += __nlinline_align4(strlen(strdata) + 1);
	for (i = 0; i < nifd; i++) {
		if (ifd[i].len < 0 || (ifd[i].len > 0 && ifd[i].data == NULL) ||
				ifd[i].tag < 0 || ifd[i].tag > 0xffff) {
			errno = EINVAL;
			return -1;
		}
		if ((size_t)ifd[i].len > 0xffff) {
			errno = EMSGSIZE;
			return -1;
		}
		cap += __NLINLINE_ATTRHDR + __nlinline_align4((size_t)ifd[i].len);
	}
	if (cap > 0x7fffffff) {
		errno = EMSGSIZE;
		return -1;
	}
	r.data = (unsigned char *)malloc(cap);
	if (r.data == NULL)
		return -1;
	r.cap = cap;
	r.len = 0;
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (ifindex == (unsigned int)-1) ? 0 : (int)ifindex;
	rv = -1;
	if (__nlinline_begin(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi)) < 0)
		goto out;
	if (ifname != NULL && __nlinline_put_name(&r, IFLA_IFNAME, ifname) < 0)
		goto out;
	if (ifindex == (unsigned int)-1 && __nlinline_put(&r, IFLA_NEW_IFINDEX, "\0\0\0", 4) < 0)
		goto out;
	if (type != NULL || strdata != NULL || nifd > 0) {
		if ((linkinfo = __nlinline_nest_begin(&r, IFLA_LINKINFO)) == (size_t)-1)
			goto out;
		if (type != NULL && __nlinline_put(&r, IFLA_INFO_KIND, type, strlen(type) + 1) < 0)
			goto out;
		if (strdata != NULL && __nlinline_put(&r, IFLA_INFO_DATA, strdata, strlen(strdata) + 1) < 0)
			goto out;
		if (nifd > 0) {
			if ((infodata = __nlinline_nest_begin(&r, IFLA_INFO_DATA)) == (size_t)-1)
				goto out;
			for (i = 0; i < nifd; i++)
				if (__nlinline_put(&r, (unsigned short)ifd[i].tag, ifd[i].data, (size_t)ifd[i].len) < 0)
					goto out;
			if (__nlinline_nest_end(&r, infodata) < 0)
				goto out;
		}
		if (__nlinline_nest_end(&r, linkinfo) < 0)
			goto out;
	}
	rv = __nlinline_talk(ops, r.data, NULL, NULL);
out:
	err = errno;
	free(r.data);
	errno = err;
	return rv;
}

static inline int __nlinline_do_iplink_del(const struct __nlinline_ops *ops, const char *ifname, unsigned int ifindex) {
	union __nlinline_reqbuf u;
	struct ifinfomsg ifi;
	__NLINLINE_REQ(r, u);
	if ((ifname == NULL && ifindex == 0) || (ifname != NULL && __nlinline_checkname(ifname) < 0)) {
		errno = EINVAL;
		return -1;
	}
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = (int)ifindex;
	if (__nlinline_begin(&r, RTM_DELLINK, 0, &ifi, sizeof(ifi)) < 0)
		return -1;
	if (ifname != NULL && __nlinline_put_name(&r, IFLA_IFNAME, ifname) < 0)
		return -1;
	return __nlinline_talk(ops, r.data, NULL, NULL);
}

/* A caller-built message, sent as it is; the answer is the one to its
 * nlmsg_seq: NLMSG_ERROR (0 or -1/errno), NLMSG_DONE (0), RTM_NEWLINK (its
 * ifindex). */
static inline int __nlinline_do_nldialog(const struct __nlinline_ops *ops, const void *msg) {
	const struct nlmsghdr *h = (const struct nlmsghdr *)msg;
	if (h == NULL || h->nlmsg_len < __NLINLINE_HDR || h->nlmsg_len > 0x100000) {
		errno = EINVAL;
		return -1;
	}
	return __nlinline_talk(ops, msg, NULL, NULL);
}

/* ---- generators of the public functions (used here and by nlinline+.h) ---- */

#ifdef __cplusplus
extern "C++" {
template <typename __S>
static inline int __nlinline_call_msocket(int (*f)(__S *, int, int, int), void *mstack, int d, int t, int p) {
	return f(static_cast<__S *>(mstack), d, t, p);
}
}
#define __NLINLINE_MSOCKET_CALL(F, M, D, T, P) __nlinline_call_msocket(F, M, D, T, P)
#else
#define __NLINLINE_MSOCKET_CALL(F, M, D, T, P) F(M, D, T, P)
#endif

/* Adapters from a stack's own functions to __nlinline_ops's types. */
#define __NLINLINE_ADAPT_SOCKET(X) \
	static inline __NLINLINE_UNUSED int __nlinline_##X##socket_(int d, int t, int p) { return X##socket(d, t, p); }
#define __NLINLINE_ADAPT_MSOCKET(X) \
	static inline __NLINLINE_UNUSED int __nlinline_##X##msocket_(void *m, int d, int t, int p) { \
		return __NLINLINE_MSOCKET_CALL(X##msocket, m, d, t, p); }
#define __NLINLINE_ADAPT_IO(X) \
	static inline __NLINLINE_UNUSED int __nlinline_##X##bind_(int fd, const struct sockaddr *sa, socklen_t l) { \
		return X##bind(fd, (struct sockaddr *)sa, l); } \
	static inline __NLINLINE_UNUSED ssize_t __nlinline_##X##send_(int fd, const void *b, size_t l, int f) { \
		return X##send(fd, b, l, f); } \
	static inline __NLINLINE_UNUSED ssize_t __nlinline_##X##recv_(int fd, void *b, size_t l, int f) { \
		return X##recv(fd, b, l, f); } \
	static inline __NLINLINE_UNUSED int __nlinline_##X##close_(int fd) { return X##close(fd); }

#define __NLINLINE_OPS1(S, B, SE, R, C, K) \
	const struct __nlinline_ops __nlops = {NULL, NULL, S, B, SE, R, C, K}
#define __NLINLINE_OPSM(M, B, SE, R, C, K) \
	const struct __nlinline_ops __nlops = {M, mstack, NULL, B, SE, R, C, K}

/* X##if_nametoindex ... X##iplink_del, without a stack argument. The names
 * are parenthesized so that same-named call-form macros do not expand. */
#define __NLINLINE_GEN1(X, S, B, SE, R, C, K) \
	static inline __NLINLINE_UNUSED int (X##if_nametoindex)(const char *ifname) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_if_nametoindex(&__nlops, ifname); } \
	static inline __NLINLINE_UNUSED int (X##linksetupdown)(unsigned int ifindex, int updown) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_linksetupdown(&__nlops, ifindex, updown); } \
	static inline __NLINLINE_UNUSED int (X##linksetaddr)(unsigned int ifindex, void *macaddr) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_linksetaddr(&__nlops, ifindex, macaddr); } \
	static inline __NLINLINE_UNUSED int (X##linkgetaddr)(unsigned int ifindex, void *macaddr) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_linkgetaddr(&__nlops, ifindex, macaddr); } \
	static inline __NLINLINE_UNUSED int (X##linksetmtu)(unsigned int ifindex, unsigned int mtu) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_linksetmtu(&__nlops, ifindex, mtu); } \
	static inline __NLINLINE_UNUSED int (X##ipaddr_add)(int family, void *addr, int prefixlen, unsigned int ifindex) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_ipaddr(&__nlops, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, family, addr, prefixlen, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##ipaddr_del)(int family, void *addr, int prefixlen, unsigned int ifindex) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_ipaddr(&__nlops, RTM_DELADDR, 0, family, addr, prefixlen, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iproute_add)(int family, void *dst_addr, int dst_prefixlen, void *gw_addr, unsigned int ifindex) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_iproute(&__nlops, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, dst_addr, dst_prefixlen, gw_addr, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iproute_del)(int family, void *dst_addr, int dst_prefixlen, void *gw_addr, unsigned int ifindex) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_iproute(&__nlops, RTM_DELROUTE, 0, family, dst_addr, dst_prefixlen, gw_addr, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iplink_add)(const char *ifname, unsigned int ifindex, const char *type, const char *data) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_iplink_add(&__nlops, ifname, ifindex, type, data, NULL, 0); } \
	static inline __NLINLINE_UNUSED int (X##iplink_add_ifd)(const char *ifname, unsigned int ifindex, const char *type, \
			const struct nl_iplink_data *ifd, int nifd) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_iplink_add(&__nlops, ifname, ifindex, type, NULL, ifd, nifd); } \
	static inline __NLINLINE_UNUSED int (X##iplink_del)(const char *ifname, unsigned int ifindex) { \
		__NLINLINE_OPS1(S, B, SE, R, C, K); \
		return __nlinline_do_iplink_del(&__nlops, ifname, ifindex); }

/* The same with a leading `void *mstack` stack argument (nlinline+ MULTI). */
#define __NLINLINE_GENM(X, M, B, SE, R, C, K) \
	static inline __NLINLINE_UNUSED int (X##if_nametoindex)(void *mstack, const char *ifname) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_if_nametoindex(&__nlops, ifname); } \
	static inline __NLINLINE_UNUSED int (X##linksetupdown)(void *mstack, unsigned int ifindex, int updown) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_linksetupdown(&__nlops, ifindex, updown); } \
	static inline __NLINLINE_UNUSED int (X##linksetaddr)(void *mstack, unsigned int ifindex, void *macaddr) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_linksetaddr(&__nlops, ifindex, macaddr); } \
	static inline __NLINLINE_UNUSED int (X##linkgetaddr)(void *mstack, unsigned int ifindex, void *macaddr) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_linkgetaddr(&__nlops, ifindex, macaddr); } \
	static inline __NLINLINE_UNUSED int (X##linksetmtu)(void *mstack, unsigned int ifindex, unsigned int mtu) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_linksetmtu(&__nlops, ifindex, mtu); } \
	static inline __NLINLINE_UNUSED int (X##ipaddr_add)(void *mstack, int family, void *addr, int prefixlen, int ifindex) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_ipaddr(&__nlops, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, family, addr, prefixlen, (unsigned int)ifindex); } \
	static inline __NLINLINE_UNUSED int (X##ipaddr_del)(void *mstack, int family, void *addr, int prefixlen, int ifindex) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_ipaddr(&__nlops, RTM_DELADDR, 0, family, addr, prefixlen, (unsigned int)ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iproute_add)(void *mstack, int family, void *dst_addr, int dst_prefixlen, void *gw_addr, unsigned int ifindex) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_iproute(&__nlops, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, dst_addr, dst_prefixlen, gw_addr, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iproute_del)(void *mstack, int family, void *dst_addr, int dst_prefixlen, void *gw_addr, unsigned int ifindex) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_iproute(&__nlops, RTM_DELROUTE, 0, family, dst_addr, dst_prefixlen, gw_addr, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##iplink_add)(void *mstack, const char *ifname, unsigned int ifindex, const char *type, const char *data) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_iplink_add(&__nlops, ifname, ifindex, type, data, NULL, 0); } \
	static inline __NLINLINE_UNUSED int (X##iplink_add_ifd)(void *mstack, const char *ifname, unsigned int ifindex, const char *type, \
			const struct nl_iplink_data *ifd, int nifd) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_iplink_add(&__nlops, ifname, ifindex, type, NULL, ifd, nifd); } \
	static inline __NLINLINE_UNUSED int (X##iplink_del)(void *mstack, const char *ifname, unsigned int ifindex) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_iplink_del(&__nlops, ifname, ifindex); } \
	static inline __NLINLINE_UNUSED int (X##nldialog)(void *mstack, void *msg) { \
		__NLINLINE_OPSM(M, B, SE, R, C, K); \
		return __nlinline_do_nldialog(&__nlops, msg); }

/* ---- call-form selection by argument count ---- */

#define __NLINLINE_PICK64_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, \
		_17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, \
		_33, _34, _35, _36, _37, _38, _39, _40, _41, _42, _43, _44, _45, _46, _47, _48, \
		_49, _50, _51, _52, _53, _54, _55, _56, _57, _58, _59, _60, _61, _62, _63, N, ...) N
#define __NLINLINE_PICK64(...) __NLINLINE_PICK64_(__VA_ARGS__)
#define __NLINLINE_NO8 __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, \
	__NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO
#define __NLINLINE_NO56 __NLINLINE_NO8, __NLINLINE_NO8, __NLINLINE_NO8, __NLINLINE_NO8, \
	__NLINLINE_NO8, __NLINLINE_NO8, __NLINLINE_NO8
/* __NLINLINE_ISn(args...) is __NLINLINE_YES when there are n args, else __NLINLINE_NO */
#define __NLINLINE_IS2(...) __NLINLINE_PICK64(__VA_ARGS__, __NLINLINE_NO56, __NLINLINE_NO, \
	__NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_YES, __NLINLINE_NO, __NLINLINE_NO)
#define __NLINLINE_IS4(...) __NLINLINE_PICK64(__VA_ARGS__, __NLINLINE_NO56, __NLINLINE_NO, \
	__NLINLINE_NO, __NLINLINE_NO, __NLINLINE_YES, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO)
#define __NLINLINE_IS5(...) __NLINLINE_PICK64(__VA_ARGS__, __NLINLINE_NO56, __NLINLINE_NO, \
	__NLINLINE_NO, __NLINLINE_YES, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO)
#define __NLINLINE_IS6(...) __NLINLINE_PICK64(__VA_ARGS__, __NLINLINE_NO56, __NLINLINE_NO, \
	__NLINLINE_YES, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO, __NLINLINE_NO)
#define __NLINLINE_YES(Y, N, ...) Y(__VA_ARGS__)
#define __NLINLINE_NO(Y, N, ...) N(__VA_ARGS__)
/* actions: F is the function's name */
#define __NLINLINE_PASS(F, ...) F(__VA_ARGS__)
#define __NLINLINE_APPEND0(F, ...) F(__VA_ARGS__, 0)
#define __NLINLINE_IFD(F, ...) F##_ifd(__VA_ARGS__)
#define __NLINLINE_DROP1(F, first, ...) F(__VA_ARGS__)

/* F(args) with a trailing 0 when called with n arguments. */
#define __NLINLINE_DEFAULT0(n, F, ...) __NLINLINE_IS##n(__VA_ARGS__)(__NLINLINE_APPEND0, __NLINLINE_PASS, F, __VA_ARGS__)
/* F##_ifd(args) when called with n arguments, else F(args). */
#define __NLINLINE_IFDFORM(n, F, ...) __NLINLINE_IS##n(__VA_ARGS__)(__NLINLINE_IFD, __NLINLINE_PASS, F, __VA_ARGS__)

/* ---- the nlinline_* functions: this process's own network namespace ---- */

__NLINLINE_GEN1(nlinline_, __nlinline_libc_socket, __nlinline_libc_bind, __nlinline_libc_send,
		__nlinline_libc_recv, __nlinline_libc_close, 1)

static inline int (nlinline_nldialog)(void *msg) {
	__NLINLINE_OPS1(__nlinline_libc_socket, __nlinline_libc_bind, __nlinline_libc_send,
			__nlinline_libc_recv, __nlinline_libc_close, 1);
	return __nlinline_do_nldialog(&__nlops, msg);
}

#ifndef NLINLINE_NO_COMPAT_MACROS
#define nlinline_iproute_add(...) __NLINLINE_DEFAULT0(4, nlinline_iproute_add, __VA_ARGS__)
#define nlinline_iproute_del(...) __NLINLINE_DEFAULT0(4, nlinline_iproute_del, __VA_ARGS__)
#define nlinline_iplink_add(...) __NLINLINE_IFDFORM(5, nlinline_iplink_add, __VA_ARGS__)
#define nlinline_nldialog(...) \
	__NLINLINE_IS2(__VA_ARGS__)(__NLINLINE_DROP1, __NLINLINE_PASS, nlinline_nldialog, __VA_ARGS__)
#endif

#endif /* NLINLINE_H */
