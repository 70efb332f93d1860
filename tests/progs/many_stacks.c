/*
 * many_stacks.c - N stacks alive in one process, each on the same VNL with
 * addresses of its own, configured through netlink (nlinline+.h with
 * NLINLINE_LIBMULTICOMP(vde_)); used by tests/scripts/many_stacks.sh and
 * bench/many_stacks.sh.
 *
 *   usage: many_stacks VNL N
 *
 * Stack i (0 <= i < N) gets 10.50.<i/250>.<i%250+2>/16 and
 * fc00:50::<i+2>/64 (with duplicate address detection, as a user would) on
 * vde0, which it brings up. Prints "CREATED n us_per_stack" when every stack
 * exists (n: how many were made and configured), then waits until stdin is
 * closed (or a line is read), deletes them all and prints
 * "DELETED us_per_stack". Exits 0 only if all N were made and configured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vdestack.h>
#include <nlinline+.h>

NLINLINE_LIBMULTICOMP(vde_)

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int configure(struct vdestack *s, int i) {
	uint8_t a4[4] = {10, 50, (uint8_t)(i / 250), (uint8_t)(i % 250 + 2)};
	uint8_t a6[16] = {0xfc, 0x00, 0x00, 0x50};
	a6[14] = (uint8_t)((i + 2) >> 8);
	a6[15] = (uint8_t)((i + 2) & 0xff);
	int ifindex = vde_if_nametoindex(s, "vde0");
	if (ifindex <= 0 || vde_linksetupdown(s, ifindex, 1) < 0)
		return -1;
	if (vde_ipaddr_add(s, AF_INET, a4, 16, ifindex) < 0 || vde_ipaddr_add(s, AF_INET6, a6, 64, ifindex) < 0)
		return -1;
	return 0;
}

int main(int argc, char *argv[]) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s VNL N\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const int n = atoi(argv[2]);
	if (n <= 0 || n > 60000) {
		fprintf(stderr, "%s: N must be 1..60000\n", argv[0]);
		return 2;
	}
	struct vdestack **st = calloc((size_t)n, sizeof *st);
	if (st == NULL)
		return 1;
	int made = 0;
	double t0 = now_us();
	for (int i = 0; i < n; i++) {
		st[i] = vde_addstack(argv[1], NULL);
		if (st[i] == NULL) {
			fprintf(stderr, "vde_addstack #%d: %s\n", i, strerror(errno));
			break;
		}
		if (configure(st[i], i) != 0) {
			fprintf(stderr, "configuring stack #%d: %s\n", i, strerror(errno));
			made++;
			break;
		}
		made++;
	}
	int ok = made == n && st[n - 1] != NULL;
	printf("CREATED %d %.0f\n", ok ? n : made - 1, (now_us() - t0) / (made > 0 ? made : 1));
	char line[64];
	(void)!fgets(line, sizeof line, stdin);
	t0 = now_us();
	for (int i = 0; i < n; i++)
		if (st[i] != NULL)
			vde_delstack(st[i]);
	printf("DELETED %.0f\n", (now_us() - t0) / (made > 0 ? made : 1));
	free(st);
	return ok ? 0 : 1;
}
