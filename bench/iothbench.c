/*
 * iothbench.c - what the IoTh layer (libioth + libiothconf) costs over our
 * own libvdestack path, and how long DHCP takes through ioth_config
 * (bench/ioth.sh drives it; a benchmark, not a test).
 *
 *   iothbench lifecycle N VNL  N cycles of each of three paths, interleaved
 *                              (the order rotates every cycle):
 *     vde   vde_addstack + netlink config through nlinline+.h (vde0 up,
 *           10.0.0.1/24, default route via 10.0.0.254) + vde_delstack
 *     ioth  ioth_newstack("vdestack", VNL) + ioth_config("eth,ip=10.0.0.1/24,
 *           gw=10.0.0.254") + ioth_delstack
 *     iothc ioth_newstackc("stack=vdestack,vnl=VNL,eth,ip=...,gw=...")
 *           + ioth_delstack
 *     Per path and phase (create, config, delete, create_config = create +
 *     config, cycle): median and p90 in us; fds left per cycle. One cycle of
 *     each path runs first, uncounted (the libraries' first-use costs).
 *   iothbench dhcp N VNL       N times each, interleaved, on a VNL with a
 *                              DHCP server: ioth_newstack + ioth_config
 *                              ("eth,dhcp") (returns once the address is on
 *                              the interface: checked with ioth_getifaddrs,
 *                              untimed) + ioth_delstack (releases the lease);
 *                              and ioth_newstack + ioth_config("eth") +
 *                              ioth_config("dhcp") + ioth_delstack, the
 *                              DHCP exchange alone. Median and p90 in ms.
 *   iothbench timeit CMD ARGS  runs CMD (fork + execvp + waitpid) and prints
 *                              "timeit MS ms" on stdout; exits with CMD's
 *                              status (the reference DHCP client is timed
 *                              by it, inside a vdens).
 *
 * Output: one "name value unit" line per figure, as netbench.c. The helper
 * is found next to the libraries, or through VDESTACK_HELPER.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vdestack.h>
#include <iothconf.h> /* ioth.h, nlinline+.h: NLINLINE_LIBMULTI(ioth_) */

NLINLINE_LIBMULTICOMP(vde_) /* as netbench.c: libvdestack's generator */

#include "benchutil.h"

static void die(const char *what) {
	fprintf(stderr, "iothbench: %s: %s%s%s\n", what, strerror(errno), *ioth_last_error() ? " - " : "",
	        ioth_last_error());
	exit(1);
}

/* ---- lifecycle ---- */

enum { P_VDE, P_IOTH, P_IOTHC, NPATHS };
static const char *path_name[NPATHS] = {"vde", "ioth", "iothc"};
enum { PH_CREATE, PH_CONFIG, PH_DELETE, PH_CREATE_CONFIG, PH_CYCLE, NPHASES };
static const char *phase_name[NPHASES] = {"create", "config", "delete", "create_config", "cycle"};

struct samples {
	double *v[NPHASES];
	int n, fd_delta;
};

/* One cycle of path p; t[]: the phases' times (us). Exits on failure. */
static void cycle(int p, char *vnl, const char *conf, const char *confc, double t[NPHASES]) {
	double t0 = now_us(), t1, t2, t3;
	if (p == P_VDE) {
		static uint8_t a4[4] = {10, 0, 0, 1}, gw4[4] = {10, 0, 0, 254};
		struct vdestack *s = vde_addstack(vnl, NULL);
		t1 = now_us();
		if (!s) die("vde_addstack");
		int idx = vde_if_nametoindex(s, "vde0");
		if (idx <= 0 || vde_linksetupdown(s, idx, 1) < 0 || vde_ipaddr_add(s, AF_INET, a4, 24, idx) < 0 ||
		    vde_iproute_add(s, AF_INET, NULL, 0, gw4, 0) < 0)
			die("netlink configuration");
		t2 = now_us();
		vde_delstack(s);
		t3 = now_us();
	} else if (p == P_IOTH) {
		struct ioth *s = ioth_newstack("vdestack", vnl);
		t1 = now_us();
		if (!s) die("ioth_newstack");
		int m = ioth_config(s, conf);
		t2 = now_us();
		if (m != (IOTHCONF_ETH | IOTHCONF_STATIC)) die("ioth_config");
		if (ioth_delstack(s) < 0) die("ioth_delstack");
		t3 = now_us();
	} else {
		struct ioth *s = ioth_newstackc(confc);
		t1 = t2 = now_us();
		if (!s) die("ioth_newstackc");
		if (ioth_delstack(s) < 0) die("ioth_delstack");
		t3 = now_us();
	}
	t[PH_CREATE] = t1 - t0;
	t[PH_CONFIG] = t2 - t1;
	t[PH_DELETE] = t3 - t2;
	t[PH_CREATE_CONFIG] = t2 - t0;
	t[PH_CYCLE] = t3 - t0;
}

/* 1 when the stack has addr on an interface (ioth_getifaddrs). */
static int has_addr4(struct ioth *s, const char *prefix, char *found, size_t len) {
	struct ifaddrs *ifa, *i;
	int ok = 0;
	if (ioth_getifaddrs(s, &ifa) < 0) return 0;
	for (i = ifa; i && !ok; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, found, (socklen_t)len);
		ok = strncmp(found, prefix, strlen(prefix)) == 0;
	}
	ioth_freeifaddrs(ifa);
	return ok;
}

static int lifecycle(int n, char *vnl) {
	const char *conf = "eth,ip=10.0.0.1/24,gw=10.0.0.254";
	char confc[1024];
	snprintf(confc, sizeof confc, "stack=vdestack,vnl=%s,%s", vnl, conf);
	struct samples sm[NPATHS];
	double t[NPHASES];
	/* one uncounted cycle of each path; the IoTh ones checked once */
	for (int p = 0; p < NPATHS; p++) cycle(p, vnl, conf, confc, t);
	{
		char a[64];
		struct ioth *s = ioth_newstackc(confc);
		if (!s || !has_addr4(s, "10.0.0.1", a, sizeof a)) die("ioth_newstackc: no 10.0.0.1 on the stack");
		ioth_delstack(s);
	}
	for (int p = 0; p < NPATHS; p++) {
		for (int k = 0; k < NPHASES; k++) sm[p].v[k] = calloc(n, sizeof(double));
		sm[p].n = 0;
		sm[p].fd_delta = 0;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < NPATHS; j++) {
			int p = (i + j) % NPATHS; /* the order rotates: no path always follows the same one */
			int f0 = count_dir("/proc/self/fd");
			cycle(p, vnl, conf, confc, t);
			sm[p].fd_delta += count_dir("/proc/self/fd") - f0;
			for (int k = 0; k < NPHASES; k++) sm[p].v[k][sm[p].n] = t[k];
			sm[p].n++;
		}
	for (int p = 0; p < NPATHS; p++) {
		for (int k = 0; k < NPHASES; k++) {
			if (p == P_IOTHC && (k == PH_CREATE || k == PH_CONFIG)) continue; /* one call: create_config */
			printf("%s.%s_median %.0f us\n", path_name[p], phase_name[k], pct(sm[p].v[k], n, 0.5));
			printf("%s.%s_p90 %.0f us\n", path_name[p], phase_name[k], pct(sm[p].v[k], n, 0.9));
		}
		printf("%s.leak_fds_per_cycle %.2f fds\n", path_name[p], (double)sm[p].fd_delta / n);
	}
	return 0;
}

/* ---- DHCP ---- */

static int dhcp(int n, char *vnl) {
	enum { D_ETHDHCP, D_ETH, D_DHCP, D_DELETE, ND };
	static const char *dname[ND] = {"eth_dhcp", "eth", "dhcp", "delete"};
	double *v[ND];
	int fds0 = -1;
	for (int k = 0; k < ND; k++) v[k] = calloc(2 * n, sizeof(double));
	int nd = 0;                 /* delete samples: both variants */
	for (int i = -1; i < n; i++) { /* i == -1: uncounted */
		if (i == 0) fds0 = count_dir("/proc/self/fd");
		for (int variant = 0; variant < 2; variant++) {
			char a[64];
			struct ioth *s = ioth_newstack("vdestack", vnl);
			if (!s) die("ioth_newstack");
			double t0 = now_us(), t1, t2;
			if (variant == 0) {
				int m = ioth_config(s, "eth,dhcp");
				t1 = t2 = now_us();
				if (m != (IOTHCONF_ETH | IOTHCONF_DHCP)) die("ioth_config eth,dhcp");
			} else {
				int m = ioth_config(s, "eth");
				t1 = now_us();
				if (m != IOTHCONF_ETH) die("ioth_config eth");
				m = ioth_config(s, "dhcp");
				t2 = now_us();
				if (m != IOTHCONF_DHCP) die("ioth_config dhcp");
			}
			if (!has_addr4(s, "10.0.9.", a, sizeof a)) die("no 10.0.9.x address after ioth_config");
			if (i == -1 && variant == 0) fprintf(stderr, "iothbench: dhcp: got %s\n", a);
			double t3 = now_us();
			if (ioth_delstack(s) < 0) die("ioth_delstack");
			double t4 = now_us();
			if (i < 0) continue;
			if (variant == 0) {
				v[D_ETHDHCP][i] = t2 - t0;
			} else {
				v[D_ETH][i] = t1 - t0;
				v[D_DHCP][i] = t2 - t1;
			}
			v[D_DELETE][nd++] = t4 - t3;
		}
	}
	int fds1 = count_dir("/proc/self/fd");
	for (int k = 0; k < ND; k++) {
		int cnt = k == D_DELETE ? nd : n;
		printf("dhcp.%s_median %.2f ms\n", dname[k], pct(v[k], cnt, 0.5) / 1e3);
		printf("dhcp.%s_p90 %.2f ms\n", dname[k], pct(v[k], cnt, 0.9) / 1e3);
	}
	printf("dhcp.leak_fds_per_cycle %.2f fds\n", (double)(fds1 - fds0) / (2 * n));
	return 0;
}

/* ---- timeit: the reference client's run ---- */

static int timeit(char **argv) {
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	double t1 = now_us();
	printf("timeit %.3f ms\n", (t1 - t0) / 1e3);
	fflush(stdout);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char *argv[]) {
	if (argc >= 3 && !strcmp(argv[1], "timeit")) return timeit(argv + 2);
	if (argc < 4) {
		fprintf(stderr, "usage: iothbench lifecycle|dhcp N VNL | iothbench timeit CMD [ARGS]\n");
		return 2;
	}
	int n = atoi(argv[2]);
	if (n <= 0) return 2;
	if (!strcmp(argv[1], "lifecycle")) return lifecycle(n, argv[3]);
	if (!strcmp(argv[1], "dhcp")) return dhcp(n, argv[3]);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
