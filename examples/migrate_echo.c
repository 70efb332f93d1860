/*
 * migrate_echo.c - a TCP echo server whose whole TCP/IP stack moves, live,
 * to another process (on this host or another one): its clients keep their
 * connections and lose no byte (vde_stack_save / vde_stack_restore).
 *
 *   usage: migrate_echo VNL CIDR PORT IMAGE
 *          migrate_echo --resume IMAGE [VNL]
 *   build: gcc -o migrate_echo migrate_echo.c -lvdestack
 *
 * First form: a stack joined to the VDE network VNL (e.g. vxvde://234.0.0.1),
 * vde0 configured with CIDR (10.0.0.1/24 or fc00::1/64) and brought up through
 * netlink (nlinline+), a listener on PORT at that address (IPv4 or IPv6 as the
 * CIDR is), any number of clients served by one poll() loop: every byte read
 * is written back.
 *
 * SIGUSR1: the server stops serving (it flushes what it has read and not yet
 * echoed, for 5 s at most), saves the stack with the listener and every open
 * connection to IMAGE, prints "migrate_echo: saved N sockets ..." to stderr,
 * deletes the stack (silently: the peers see nothing) and exits 0.
 *
 * Second form: rebuilds the saved stack, joined to VNL (default: the saved
 * one), with the same MAC, addresses, routes and live connections, and serves
 * again: the listener (socket 0) and the connections. SIGUSR1 moves it again
 * (to the same IMAGE).
 *
 * IMAGE file layout: a 4-byte count of the saved sockets (unsigned, network
 * byte order: the listener first, then the connections), immediately followed
 * by the image written by vde_stack_save(). The count is needed to call
 * vde_stack_restore(), which reads one image from the fd's current offset.
 * The file is written as IMAGE.tmp, then renamed to IMAGE: a reader never
 * sees a partial image.
 *
 * Prints "READY <port>" on stdout once it serves; SIGTERM/SIGINT end it
 * cleanly (vde_delstack). Errors: a message with strerror(errno), exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vdestack.h>
#include <nlinline+.h>

NLINLINE_LIBMULTICOMP(vde_)

#define MAXCONN 1024
#define BUFSIZE 4096
#define FLUSH_MS 5000

struct conn {
	int fd;
	size_t len, off; /* bytes read and not yet echoed: buf[off..len) */
	char buf[BUFSIZE];
};

static const char *prog = "migrate_echo";
static volatile sig_atomic_t got_stop, got_save;
static void onsignal(int sig) {
	if (sig == SIGUSR1)
		got_save = 1;
	else
		got_stop = 1;
}

static struct vdestack *stack;
static int lfd = -1;
static struct conn *conns[MAXCONN];
static int nconns;

static void die(const char *what) {
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static void usage(void) {
	fprintf(stderr, "usage: %s VNL CIDR PORT IMAGE\n"
			"       %s --resume IMAGE [VNL]\n", prog, prog);
	exit(1);
}

static void set_nonblock(int fd) {
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
}

static void add_conn(int fd) {
	struct conn *c;
	if (nconns == MAXCONN) {
		fprintf(stderr, "%s: more than %d connections: refused one\n", prog, MAXCONN);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		die("calloc");
	set_nonblock(fd);
	c->fd = fd;
	conns[nconns++] = c;
}

static void drop_conn(int i) {
	close(conns[i]->fd);
	free(conns[i]);
	conns[i] = conns[--nconns];
}

/* Writes what conn c has pending; 0 when all is written or it would block,
 * -1 when the connection is broken. */
static int flush_conn(struct conn *c) {
	while (c->off < c->len) {
		ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		}
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

/* One connection is readable or writable: echo. 0, or -1 to drop it. */
static int serve_conn(struct conn *c, short revents) {
	if (c->len > 0)
		return flush_conn(c);
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = read(c->fd, c->buf, sizeof(c->buf));
		if (n == 0)
			return -1; /* the client closed */
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
		c->len = (size_t)n;
		c->off = 0;
		return flush_conn(c);
	}
	return 0;
}

/* Serves until a signal asks to stop (SIGTERM/SIGINT) or to save (SIGUSR1).
 * The signals are blocked except inside ppoll: none is missed. */
static void serve(const sigset_t *waitmask) {
	static struct pollfd pfd[MAXCONN + 1];
	while (!got_stop && !got_save) {
		int i, n;
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < nconns; i++) {
			pfd[i + 1].fd = conns[i]->fd;
			pfd[i + 1].events = conns[i]->len > 0 ? POLLOUT : POLLIN;
		}
		n = ppoll(pfd, (nfds_t)nconns + 1, NULL, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* Connections first (their pfd slots match conns[] until one is
		 * dropped: walk backwards, drop_conn moves the last one into i). */
		for (i = nconns - 1; i >= 0; i--)
			if (pfd[i + 1].revents != 0 && serve_conn(conns[i], pfd[i + 1].revents) < 0)
				drop_conn(i);
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				add_conn(fd);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
					errno != ECONNABORTED)
				die("accept");
		}
	}
}

static long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Before saving: what was read and not yet echoed lives in this process, not
 * in the stack. Write it (FLUSH_MS at most); broken connections are dropped. */
static void flush_all(void) {
	long deadline = now_ms() + FLUSH_MS;
	for (;;) {
		int i, pending = 0;
		size_t lost = 0;
		struct pollfd pfd[MAXCONN];
		for (i = nconns - 1; i >= 0; i--)
			if (flush_conn(conns[i]) < 0)
				drop_conn(i);
		for (i = 0; i < nconns; i++)
			if (conns[i]->len > 0) {
				pfd[pending].fd = conns[i]->fd;
				pfd[pending++].events = POLLOUT;
				lost += conns[i]->len - conns[i]->off;
			}
		if (pending == 0)
			return;
		if (now_ms() >= deadline) {
			fprintf(stderr, "%s: %zu bytes read and not echoed could not be written: they are lost\n",
					prog, lost);
			return;
		}
		if (poll(pfd, (nfds_t)pending, 100) < 0 && errno != EINTR)
			die("poll");
	}
}

static void write_all(int fd, const void *buf, size_t len, const char *what) {
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(what);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Saves the stack, the listener and every connection to image (through
 * image.tmp), then deletes the stack. */
static void save(const char *image) {
	char tmp[4096];
	int socks[MAXCONN + 1], n = 0, i, fd;
	uint32_t count;

	flush_all();
	socks[n++] = lfd;
	for (i = 0; i < nconns; i++)
		socks[n++] = conns[i]->fd;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", image) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		die(image);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		die(tmp);
	count = htonl((uint32_t)n);
	write_all(fd, &count, sizeof(count), tmp);
	if (vde_stack_save(stack, socks, n, fd) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		die("vde_stack_save");
	}
	if (fsync(fd) < 0)
		die(tmp);
	if (close(fd) < 0)
		die(tmp);
	if (rename(tmp, image) < 0)
		die("rename");
	fprintf(stderr, "%s: saved %d sockets (the listener and %d connection%s) to %s\n",
			prog, n, n - 1, n == 2 ? "" : "s", image);
	/* Closing the saved sockets and deleting the stack send nothing. */
	for (i = nconns - 1; i >= 0; i--)
		drop_conn(i);
	close(lfd);
	vde_delstack(stack);
}

/* Parses "ADDR/LEN": family, address bytes, prefix length. */
static int parse_cidr(const char *cidr, int *family, void *addr, int *prefix) {
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long len;
	if (strlen(cidr) >= sizeof(buf))
		return -1;
	strcpy(buf, cidr);
	if ((slash = strchr(buf, '/')) == NULL)
		return -1;
	*slash++ = 0;
	*family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(*family, buf, addr) != 1)
		return -1;
	len = strtol(slash, &end, 10);
	if (*slash == 0 || *end != 0 || len < 0 || len > (*family == AF_INET ? 32 : 128))
		return -1;
	*prefix = (int)len;
	return 0;
}

/* First form: a new stack, configured through netlink, and its listener. */
static void start(char *vnl, const char *cidr, const char *portstr) {
	unsigned char addr[16];
	int family, prefix, ifindex, one = 1;
	char *end;
	long port = strtol(portstr, &end, 10);
	struct sockaddr_storage ss = {0};
	socklen_t sslen;

	if (parse_cidr(cidr, &family, addr, &prefix) < 0) {
		fprintf(stderr, "%s: bad CIDR '%s' (e.g. 10.0.0.1/24 or fc00::1/64)\n", prog, cidr);
		exit(1);
	}
	if (*portstr == 0 || *end != 0 || port < 1 || port > 65535) {
		fprintf(stderr, "%s: bad port '%s'\n", prog, portstr);
		exit(1);
	}
	if ((stack = vde_addstack(vnl, NULL)) == NULL)
		die("vde_addstack");
	if ((ifindex = vde_if_nametoindex(stack, "vde0")) < 0)
		die("vde0");
	if (vde_linksetupdown(stack, (unsigned)ifindex, 1) < 0)
		die("link up vde0");
	/* nodad: an IPv6 address usable at once (no duplicate address detection). */
	if (vde_ipaddr_add(stack, family, addr,
			family == AF_INET6 ? nl_addrdata2prefix((unsigned char)prefix, IFA_F_NODAD, 0) : prefix,
			ifindex) < 0)
		die("address on vde0");

	if ((lfd = vde_msocket(stack, family, SOCK_STREAM, 0)) < 0)
		die("vde_msocket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, addr, 4);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, addr, 16);
		sslen = sizeof(*sin6);
	}
	if (bind(lfd, (struct sockaddr *)&ss, sslen) < 0)
		die("bind");
	if (listen(lfd, 64) < 0)
		die("listen");
	set_nonblock(lfd);
}

/* Second form: the stack and its sockets from image. */
static void resume(const char *image, const char *vnl) {
	uint32_t count;
	int fd, *socks, n, i;
	ssize_t got;

	if ((fd = open(image, O_RDONLY | O_CLOEXEC)) < 0)
		die(image);
	do
		got = read(fd, &count, sizeof(count));
	while (got < 0 && errno == EINTR);
	if (got < 0)
		die(image);
	if (got != (ssize_t)sizeof(count)) {
		fprintf(stderr, "%s: %s: too short for an image of ours\n", prog, image);
		exit(1);
	}
	n = (int)ntohl(count);
	if (n < 1 || n > MAXCONN + 1) {
		fprintf(stderr, "%s: %s: bad socket count %d (not an image of ours?)\n", prog, image, n);
		exit(1);
	}
	if ((socks = calloc((size_t)n, sizeof(*socks))) == NULL)
		die("calloc");
	if ((stack = vde_stack_restore(fd, vnl, socks, n)) == NULL)
		die("vde_stack_restore");
	close(fd);
	lfd = socks[0];
	set_nonblock(lfd);
	for (i = 1; i < n; i++)
		add_conn(socks[i]);
	free(socks);
	fprintf(stderr, "%s: resumed %d sockets (the listener and %d connection%s) from %s\n",
			prog, n, n - 1, n == 2 ? "" : "s", image);
}

int main(int argc, char *argv[]) {
	struct sigaction sa;
	sigset_t block, waitmask;
	const char *image;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int port;

	if (argc >= 3 && strcmp(argv[1], "--resume") == 0) {
		if (argc > 4)
			usage();
		image = argv[2];
	} else if (argc == 5 && argv[1][0] != '-') {
		image = argv[4];
	} else
		usage();

	/* The signals are only delivered inside ppoll (see serve()). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a vanished client: EPIPE, not death */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGUSR1);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	if (strcmp(argv[1], "--resume") == 0)
		resume(image, argc == 4 ? argv[3] : NULL);
	else
		start(argv[1], argv[2], argv[3]);

	if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) < 0)
		die("getsockname");
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	printf("READY %d\n", port);
	fflush(stdout);

	serve(&waitmask);
	if (got_stop) {
		int i;
		for (i = nconns - 1; i >= 0; i--)
			drop_conn(i);
		close(lfd);
		vde_delstack(stack);
		return 0;
	}
	save(image);
	return 0;
}
