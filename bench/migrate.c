/*
 * migrate.c - the downtime of moving a live stack (vde_stack_save +
 * vde_stack_restore) against the number of connections and the bytes
 * queued in each. Run by bench/migrate.sh inside a private network
 * namespace (vxvde on lo only).
 *
 * A round: stack A listens on 10.0.0.1, a client stack C on the same VNL
 * opens N connections to it; C sends Q bytes on each (A does not read them:
 * they wait in A's receive queues, and travel in the image), then one more
 * byte on the first connection. Timed from there: A saves itself and its
 * N+1 sockets into a memfd (save), stack B is restored from it (restore),
 * B reads the first connection's Q+1 bytes and echoes the last one, and C
 * receives it (downtime: from the start of the save to that byte at C).
 * A is deleted afterwards (del: in a real move, the old process's exit runs
 * beside the new one's start). Medians of ROUNDS rounds, in ms.
 *
 * Usage: migrate VNL N Q ROUNDS. Prints one line:
 *   conns=N queued=Q image_kB=... save_ms=... restore_ms=... downtime_ms=... del_ms=...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlinline+.h>
#include <vdestack.h>

#include "benchutil.h"

static int nlvde_msocket(void *stack, int domain, int type, int protocol) {
	return vde_msocket(stack, domain, type, protocol);
}

NLINLINE_LIBMULTICOMP(nlvde_)

#define die(...)                                  \
	do {                                      \
		fprintf(stderr, "migrate: " __VA_ARGS__); \
		fprintf(stderr, ": %s\n", strerror(errno)); \
		exit(1);                          \
	} while (0)

static struct vdestack *make_stack(char *vnl, const char *ip, int last) {
	struct vdestack *s = vde_addstack(vnl, NULL);
	if (!s) die("vde_addstack(%s)", vnl);
	uint8_t mac[6] = {2, 0, 0, 0, 0x55, (uint8_t)last};
	uint8_t addr[4];
	inet_pton(AF_INET, ip, addr);
	int ifi = nlvde_if_nametoindex(s, "vde0");
	if (ifi <= 0 || nlvde_linksetaddr(s, ifi, mac) < 0 || nlvde_ipaddr_add(s, AF_INET, addr, 24, ifi) < 0 ||
	    nlvde_linksetupdown(s, ifi, 1) < 0)
		die("configuring %s", ip);
	return s;
}

static void read_exactly(int fd, char *b, size_t n) {
	while (n > 0) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 10000) != 1) die("a read timed out");
		ssize_t r = read(fd, b, n);
		if (r <= 0) die("read");
		b += r;
		n -= (size_t)r;
	}
}

static void send_all(int fd, const char *b, size_t n) {
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0) die("send");
		b += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: migrate VNL N Q ROUNDS\n");
		return 2;
	}
	char *vnl = argv[1];
	int n = atoi(argv[2]), rounds = atoi(argv[4]);
	size_t q = (size_t)atol(argv[3]);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	double *save = calloc(rounds, sizeof(double)), *restore = calloc(rounds, sizeof(double));
	double *down = calloc(rounds, sizeof(double)), *del = calloc(rounds, sizeof(double));
	int *cs = calloc(n, sizeof(int)), *as = calloc(n + 1, sizeof(int)), *bs = calloc(n + 1, sizeof(int));
	char *payload = calloc(1, q + 1);
	memset(payload, 'q', q);
	payload[q] = '!';
	double image_kb = 0;
	struct vdestack *c = make_stack(vnl, "10.0.0.2", 2);
	for (int r = 0; r < rounds; r++) {
		struct vdestack *a = make_stack(vnl, "10.0.0.1", 1);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7000)};
		inet_pton(AF_INET, "10.0.0.1", &sa.sin_addr);
		int l = vde_msocket(a, AF_INET, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 1024) != 0) die("listen");
		as[0] = l;
		for (int i = 0; i < n; i++) {
			cs[i] = vde_msocket(c, AF_INET, SOCK_STREAM, 0);
			if (cs[i] < 0 || connect(cs[i], (struct sockaddr *)&sa, sizeof sa) != 0) die("connect %d", i);
			as[i + 1] = accept(l, NULL, NULL);
			if (as[i + 1] < 0) die("accept");
			if (q > 0) send_all(cs[i], payload, q);
		}
		send_all(cs[0], payload + q, 1);
		usleep(100000); /* every byte acknowledged: in A's receive queues */
		int img = memfd_create("vdestack-image", MFD_CLOEXEC);
		if (img < 0) die("memfd_create");

		double t0 = now_us();
		if (vde_stack_save(a, as, n + 1, img) != 0) die("vde_stack_save");
		double t1 = now_us();
		lseek(img, 0, SEEK_SET);
		struct vdestack *b = vde_stack_restore(img, NULL, bs, n + 1);
		if (!b) die("vde_stack_restore");
		double t2 = now_us();
		char *got = malloc(q + 1);
		read_exactly(bs[1], got, q + 1);
		send_all(bs[1], got + q, 1);
		char echo;
		read_exactly(cs[0], &echo, 1);
		double t3 = now_us();
		if (echo != '!') {
			errno = EPROTO;
			die("the echo was not the last byte");
		}
		free(got);
		image_kb = lseek(img, 0, SEEK_END) / 1024.0;
		for (int i = 0; i <= n; i++) close(as[i]);
		double t4 = now_us();
		vde_delstack(a);
		double t5 = now_us();
		save[r] = (t1 - t0) / 1000;
		restore[r] = (t2 - t1) / 1000;
		down[r] = (t3 - t0) / 1000;
		del[r] = (t5 - t4) / 1000;
		close(img);
		for (int i = 0; i < n; i++) close(cs[i]);
		for (int i = 0; i <= n; i++) close(bs[i]);
		vde_delstack(b);
		usleep(50000);
	}
	printf("conns=%d queued=%zu image_kB=%.1f save_ms=%.2f restore_ms=%.2f downtime_ms=%.2f del_ms=%.2f\n", n, q,
	       image_kb, pct(save, rounds, 0.5), pct(restore, rounds, 0.5), pct(down, rounds, 0.5),
	       pct(del, rounds, 0.5));
	vde_delstack(c);
	return 0;
}
