/* ioth_memnet.c - a third-party ioth plugin for the tests, written to
 * libioth's plugin ABI only (ioth.h): an in-memory "network" of UDP-like
 * sockets inside each stack, so that every call on its sockets must reach
 * the plugin (its fds are eventfds, on which libc's sendto fails).
 *
 * Built several times (tests/CMakeLists.txt) with -DPLUGIN_NAME=...:
 *   memnet   LGPL, non-reentrant: a fresh copy per stack
 *   memnetr  the same, installed as ioth_memnetr-r.so (reentrant, one copy)
 *   gplnet   licensed GPL-3.0-or-later
 *   nonew    -DNO_NEWSTACK: lacks its newstack function
 *   broken   -DBROKEN: needs a symbol no library has, so it cannot load
 * Only what the tests use: socket(AF_INET, SOCK_DGRAM), bind, connect,
 * sendto (and nothing else on the send side: send/write use libioth's
 * fallbacks), recvfrom (recv/read fall back to it), close, and getsockopt
 * (SOL_SOCKET, MEMNET_OPT_INSTANCE) giving the stack's instance number in
 * this copy of the plugin. newstack with options "fail" fails with
 * ECONNREFUSED. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "ioth.h"

#define CAT3(a, b, c) a##b##c
#define SYM(name, fn) CAT3(ioth_, name, _##fn)
#define F(fn) SYM(PLUGIN_NAME, fn)
#define MEMNET_OPT_INSTANCE 0x4d454d

#define NSOCKS 16
#define QLEN 8
struct msg {
	size_t len;
	unsigned short from;
	char data[256];
};
struct sock {
	int fd; /* -1: free */
	unsigned short port, peer;
	struct msg q[QLEN];
	int head, count;
};
struct stack {
	pthread_mutex_t mu;
	int instance;
	struct sock socks[NSOCKS];
};

int F(instances); /* stacks made by this copy of the plugin */
#define instances F(instances)
static void *(*getstackdata)(void);

#ifdef BROKEN
extern int memnet_symbol_that_does_not_exist(void);
int F(touch)(void) { return memnet_symbol_that_does_not_exist(); }
#endif

#ifdef LICENSE
const char *F(license) = LICENSE;
#endif

static struct sock *find(struct stack *s, int fd) {
	for (int i = 0; i < NSOCKS; i++)
		if (s->socks[i].fd == fd && fd >= 0) return &s->socks[i];
	return NULL;
}

#ifndef NO_NEWSTACK
void *F(newstack)(const char *vnlv[], const char *options, struct ioth_functions *f) {
	(void)vnlv;
	if (options != NULL && strcmp(options, "fail") == 0) {
		errno = ECONNREFUSED;
		return NULL;
	}
	struct stack *s = calloc(1, sizeof *s);
	if (s == NULL) return NULL;
	pthread_mutex_init(&s->mu, NULL);
	for (int i = 0; i < NSOCKS; i++) s->socks[i].fd = -1;
	s->instance = ++instances;
	getstackdata = f->getstackdata;
	return s;
}
#endif

int F(delstack)(void *stackdata) {
	struct stack *s = stackdata;
	pthread_mutex_destroy(&s->mu);
	free(s);
	return 0;
}

int F(socket)(int domain, int type, int protocol) {
	struct stack *s = getstackdata();
	(void)protocol;
	if (domain != AF_INET || (type & 0xf) != SOCK_DGRAM) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < NSOCKS; i++) {
		if (s->socks[i].fd < 0) {
			int fd = eventfd(0, EFD_CLOEXEC);
			if (fd >= 0) {
				memset(&s->socks[i], 0, sizeof s->socks[i]);
				s->socks[i].fd = fd;
			}
			pthread_mutex_unlock(&s->mu);
			return fd;
		}
	}
	pthread_mutex_unlock(&s->mu);
	errno = EMFILE;
	return -1;
}

int F(close)(int fd) {
	struct stack *s = getstackdata();
	pthread_mutex_lock(&s->mu);
	struct sock *k = find(s, fd);
	if (k != NULL) {
		close(k->fd);
		k->fd = -1;
	}
	pthread_mutex_unlock(&s->mu);
	if (k == NULL) errno = EBADF;
	return k != NULL ? 0 : -1;
}

static int set_port(int fd, const struct sockaddr *a, socklen_t l, int peer) {
	struct stack *s = getstackdata();
	const struct sockaddr_in *in = (const struct sockaddr_in *)a;
	if (a == NULL || l < sizeof *in || in->sin_family != AF_INET) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	struct sock *k = find(s, fd);
	if (k != NULL) {
		if (peer)
			k->peer = ntohs(in->sin_port);
		else
			k->port = ntohs(in->sin_port);
	}
	pthread_mutex_unlock(&s->mu);
	if (k == NULL) errno = EBADF;
	return k != NULL ? 0 : -1;
}

int F(bind)(int fd, const struct sockaddr *a, socklen_t l) { return set_port(fd, a, l, 0); }
int F(connect)(int fd, const struct sockaddr *a, socklen_t l) { return set_port(fd, a, l, 1); }

ssize_t F(sendto)(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen) {
	struct stack *s = getstackdata();
	(void)flags;
	if (len > sizeof(((struct msg *)0)->data)) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	ssize_t r = -1;
	struct sock *k = find(s, fd);
	if (k == NULL) {
		errno = EBADF;
		goto out;
	}
	unsigned short port = k->peer;
	if (to != NULL) {
		if (tolen < sizeof(struct sockaddr_in)) {
			errno = EINVAL;
			goto out;
		}
		port = ntohs(((const struct sockaddr_in *)to)->sin_port);
	}
	struct sock *d = NULL;
	for (int i = 0; i < NSOCKS && port != 0; i++)
		if (s->socks[i].fd >= 0 && s->socks[i].port == port) d = &s->socks[i];
	if (d == NULL) {
		errno = ECONNREFUSED;
		goto out;
	}
	if (d->count == QLEN) {
		errno = EAGAIN;
		goto out;
	}
	struct msg *m = &d->q[(d->head + d->count++) % QLEN];
	m->len = len;
	m->from = k->port;
	memcpy(m->data, buf, len);
	r = (ssize_t)len;
out:
	pthread_mutex_unlock(&s->mu);
	return r;
}

ssize_t F(recvfrom)(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen) {
	struct stack *s = getstackdata();
	(void)flags;
	pthread_mutex_lock(&s->mu);
	ssize_t r = -1;
	struct sock *k = find(s, fd);
	if (k == NULL) {
		errno = EBADF;
	} else if (k->count == 0) {
		errno = EAGAIN;
	} else {
		struct msg *m = &k->q[k->head];
		k->head = (k->head + 1) % QLEN;
		k->count--;
		r = (ssize_t)(m->len < len ? m->len : len);
		memcpy(buf, m->data, (size_t)r);
		if (from != NULL && fromlen != NULL && *fromlen >= sizeof(struct sockaddr_in)) {
			struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(m->from)};
			in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			memcpy(from, &in, sizeof in);
			*fromlen = sizeof in;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

int F(getsockopt)(int fd, int level, int name, void *v, socklen_t *l) {
	struct stack *s = getstackdata();
	(void)fd;
	if (level != SOL_SOCKET || name != MEMNET_OPT_INSTANCE || v == NULL || l == NULL || *l < sizeof(int)) {
		errno = ENOPROTOOPT;
		return -1;
	}
	memcpy(v, &s->instance, sizeof(int));
	*l = sizeof(int);
	return 0;
}
