/*
 * netbench.c - one benchmark program, compiled against each implementation of
 * the libvdestack C API (ours and Debian's reference) so both are measured by
 * the same code in the same run (bench/run.sh drives it).
 *
 *   netbench lifecycle N VNL      add + netlink config + del, N cycles:
 *                                 medians (us) and fds leaked per cycle
 *   netbench teardown N VNL       the same N cycles in a child process, timed
 *                                 until the child is gone (deferred teardown
 *                                 included): us per cycle
 *   netbench alive K VNL          K configured stacks alive at once: threads,
 *                                 processes, fds, memory per stack
 *   netbench rtt COUNT VNL        1-byte TCP echo between two stacks: median, p99 (us)
 *   netbench bulk SECS VNL        TCP bulk between two stacks: Gbit/s, CPU s per GB
 *   netbench rtt_vdens COUNT VNL  1-byte TCP echo between a stack and a vdens
 *                                 on the same VNL (NETBENCH_VDENS: which vdens,
 *                                 default "vdens"): median, p99 (us)
 *   netbench bulk_vdens SECS VNL  TCP bulk from a stack to a vdens: Gbit/s, CPU
 *                                 s per GB (the vdens and its command included)
 *   netbench peer N -             (run inside a vdens by the two above) serves
 *                                 N connections on plain sockets at port 6000:
 *                                 first byte 'e' echo, 's' sink
 *   netbench veth SECS -          the kernel-only baseline: the same TCP bulk
 *                                 between two network namespaces (of two
 *                                 threads) joined by a veth pair; needs no
 *                                 vdestack at all
 * Environment: NETBENCH_MTU sets the MTU of every stack's vde0;
 * NETBENCH_VDENS_VNL gives the vdens another VNL than the stack's (the other
 * end of a point-to-point udp:// cable);
 * NETBENCH_NAME renames the figures of rtt/bulk/veth (e.g. bulk_ptp).
 *
 * Output: one "name value unit" line per figure. Configuration uses the
 * nlinline+.h found on the include path (each implementation's own).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vdestack.h>
#include <nlinline+.h>

NLINLINE_LIBMULTICOMP(vde_)

#include "benchutil.h"

/* The figures' name: NETBENCH_NAME, else the mode's. */
static const char *figure(const char *mode) {
	const char *n = getenv("NETBENCH_NAME");
	return n && *n ? n : mode;
}

/* Configures vde0 with addr4/24 (and addr6/64 without DAD when given), link up. */
static int configure(struct vdestack *s, uint8_t last, int v6) {
	uint8_t a4[4] = {10, 0, 0, last};
	uint8_t a6[16] = {0xfc, 0, [13] = 1, [15] = last};
	uint8_t gw4[4] = {10, 0, 0, 254};
	int idx = vde_if_nametoindex(s, "vde0");
	if (idx <= 0) return -1;
	if (getenv("NETBENCH_MTU") && vde_linksetmtu(s, idx, (unsigned)atoi(getenv("NETBENCH_MTU"))) < 0) return -1;
	if (vde_linksetupdown(s, idx, 1) < 0) return -1;
	if (vde_ipaddr_add(s, AF_INET, a4, 24, idx) < 0) return -1;
	if (vde_iproute_add(s, AF_INET, NULL, 0, gw4, 0) < 0) return -1;
	if (v6) {
		/* 0x70 << 24 | IFA_F_NODAD << 16 | len: nlinline's packed prefix (nodad), when supported */
		if (vde_ipaddr_add(s, AF_INET6, a6, 64, idx) < 0) return -1;
	}
	return 0;
}

static struct vdestack *new_stack(char *vnl, uint8_t last) {
	struct vdestack *s = vde_addstack(vnl, NULL);
	if (!s) {
		perror("vde_addstack");
		exit(1);
	}
	if (configure(s, last, 0) < 0) {
		perror("configure");
		exit(1);
	}
	return s;
}

static int lifecycle(int n, char *vnl) {
	double *add = calloc(n, sizeof(double)), *cfg = calloc(n, sizeof(double)), *del = calloc(n, sizeof(double)),
	       *cyc = calloc(n, sizeof(double));
	int fds0 = count_dir("/proc/self/fd");
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		struct vdestack *s = vde_addstack(vnl, NULL);
		double t1 = now_us();
		if (!s || configure(s, 1, 0) < 0) {
			perror("cycle");
			return 1;
		}
		double t2 = now_us();
		vde_delstack(s);
		double t3 = now_us();
		add[i] = t1 - t0;
		cfg[i] = t2 - t1;
		del[i] = t3 - t2;
		cyc[i] = t3 - t0;
	}
	usleep(300000);  /* what a helper holds while it lingers after its last stack (50 ms) is no leak */
	int fds1 = count_dir("/proc/self/fd");
	printf("lifecycle.cycle_median %.0f us\n", pct(cyc, n, 0.5));
	printf("lifecycle.addstack_median %.0f us\n", pct(add, n, 0.5));
	printf("lifecycle.config_median %.0f us\n", pct(cfg, n, 0.5));
	printf("lifecycle.delstack_median %.0f us\n", pct(del, n, 0.5));
	printf("lifecycle.leak_fds_per_cycle %.2f fds\n", (double)(fds1 - fds0) / n);
	return 0;
}

static int teardown(int n, char *vnl) {
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < n; i++) {
			struct vdestack *s = vde_addstack(vnl, NULL);
			if (!s || configure(s, 1, 0) < 0) _exit(1);
			vde_delstack(s);
		}
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	/* the reference's stack processes outlive the child for a while: wait for every process of ours */
	for (int i = 0; i < 2000; i++) {
		char path[300];
		int busy = 0;
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
			FILE *f = fopen(path, "r");
			char buf[512];
			if (f && fgets(buf, sizeof(buf), f)) {
				char *rp = strrchr(buf, ')');
				int ppid = rp ? atoi(rp + 4) : 0;
				if (ppid == getpid()) busy = 1;
			}
			if (f) fclose(f);
		}
		if (d) closedir(d);
		if (!busy) break;
		usleep(1000);
	}
	double t1 = now_us();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
	printf("lifecycle.cycle_with_teardown %.0f us\n", (t1 - t0) / n);
	return 0;
}

/* kB of kernel memory in use (Slab + KernelStack + PageTables + Percpu + VmallocUsed) */
static long kmem_kb(void) {
	FILE *f = fopen("/proc/meminfo", "r");
	char key[64];
	long v, sum = 0;
	while (f && fscanf(f, "%63s %ld kB\n", key, &v) == 2)
		if (!strcmp(key, "Slab:") || !strcmp(key, "KernelStack:") || !strcmp(key, "PageTables:") ||
			!strcmp(key, "Percpu:") || !strcmp(key, "VmallocUsed:"))
			sum += v;
	if (f) fclose(f);
	return sum;
}

/* Sums over this process and its descendants: tasks, processes, fds, RSS (kB),
 * counting a shared address space or fd table once (the reference's stack
 * processes share ours via CLONE_VM|CLONE_FILES: same RSS, same fd count). */
struct tree { int procs, tasks, fds; long rss_kb; double cpu_s; };
static void walk(pid_t pid, struct tree *t, long self_rss, int self_fds) {
	char path[300], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long rss = 0;
	int threads = 0;
	while (f && fgets(buf, sizeof(buf), f)) {
		sscanf(buf, "VmRSS: %ld", &rss);
		sscanf(buf, "Threads: %d", &threads);
	}
	if (f) fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	int fds = count_dir(path);
	t->procs++;
	t->tasks += threads;
	/* a CLONE_VM child shares our address space, a CLONE_FILES child our fd
	 * table (the reference's stack processes do both): count those once */
	int shared_vm = pid != getpid() && syscall(SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0) == 0;
	int shared_files = pid != getpid() && syscall(SYS_kcmp, getpid(), pid, KCMP_FILES, 0, 0) == 0;
	(void)self_rss;
	(void)self_fds;
	if (!shared_vm) t->rss_kb += rss;
	if (!shared_files) t->fds += fds;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f)) {
		char *rp = strrchr(buf, ')');
		unsigned long ut = 0, stt = 0;
		if (rp) sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt);
		t->cpu_s += (double)(ut + stt) / sysconf(_SC_CLK_TCK);
	}
	if (f) fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, e->d_name);
		FILE *c = fopen(path, "r");
		int child;
		while (c && fscanf(c, "%d", &child) == 1) walk(child, t, self_rss, self_fds);
		if (c) fclose(c);
	}
	if (d) closedir(d);
}
static struct tree measure_tree(void) {
	struct tree t = {0};
	char buf[256];
	long self_rss = 0;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(buf, sizeof(buf), f)) sscanf(buf, "VmRSS: %ld", &self_rss);
	if (f) fclose(f);
	walk(getpid(), &t, self_rss, count_dir("/proc/self/fd"));
	return t;
}

static int alive(int k, char *vnl) {
	struct vdestack **v = calloc(k, sizeof(*v));
	struct tree t0 = measure_tree();
	long km0 = kmem_kb();
	double c0 = now_us();
	for (int i = 0; i < k; i++) v[i] = new_stack(vnl, (uint8_t)(1 + i % 250));
	double c1 = now_us();
	struct tree t1 = measure_tree();
	long km1 = kmem_kb();
	printf("alive%d.create_per_stack %.0f us\n", k, (c1 - c0) / k);
	printf("alive%d.tasks_per_stack %.3f tasks\n", k, (double)(t1.tasks - t0.tasks) / k);
	printf("alive%d.procs_per_stack %.3f procs\n", k, (double)(t1.procs - t0.procs) / k);
	printf("alive%d.fds_per_stack %.2f fds\n", k, (double)(t1.fds - t0.fds) / k);
	printf("alive%d.rss_per_stack %.1f kB\n", k, (double)(t1.rss_kb - t0.rss_kb) / k);
	printf("alive%d.kmem_per_stack %.0f kB\n", k, (double)(km1 - km0) / k);
	double d0 = now_us();
	for (int i = 0; i < k; i++) vde_delstack(v[i]);
	double d1 = now_us();
	printf("alive%d.delete_per_stack %.0f us\n", k, (d1 - d0) / k);
	return 0;
}

/* ---- two stacks, a TCP connection between them ---- */
struct pair { struct vdestack *a, *b; int ca, cb; };
static int connect_pair(char *vnl, struct pair *p) {
	p->a = new_stack(vnl, 1);
	p->b = new_stack(vnl, 2);
	int l = vde_msocket(p->b, AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(6000)};
	inet_pton(AF_INET, "10.0.0.2", &sa.sin_addr);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) return -1;
	for (int i = 0; i < 100; i++) {
		p->ca = vde_msocket(p->a, AF_INET, SOCK_STREAM, 0);
		if (connect(p->ca, (struct sockaddr *)&sa, sizeof(sa)) == 0) break;
		close(p->ca);
		p->ca = -1;
		usleep(50000);
	}
	if (p->ca < 0) return -1;
	p->cb = accept(l, NULL, NULL);
	close(l);
	setsockopt(p->ca, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(p->cb, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return p->cb < 0 ? -1 : 0;
}

static void *echo_thread(void *arg) {
	int fd = *(int *)arg;
	char c;
	while (read(fd, &c, 1) == 1)
		if (write(fd, &c, 1) != 1) break;
	return NULL;
}

static int rtt(int count, char *vnl) {
	struct pair p;
	if (connect_pair(vnl, &p) < 0) {
		fprintf(stderr, "rtt: no connection\n");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, echo_thread, &p.cb);
	double *v = calloc(count, sizeof(double));
	char c = 'x';
	for (int i = 0; i < 100; i++) /* warm up */
		if (write(p.ca, &c, 1) != 1 || read(p.ca, &c, 1) != 1) return 1;
	for (int i = 0; i < count; i++) {
		double t0 = now_us();
		if (write(p.ca, &c, 1) != 1 || read(p.ca, &c, 1) != 1) return 1;
		v[i] = now_us() - t0;
	}
	printf("%s.median %.1f us\n", figure("rtt"), pct(v, count, 0.5));
	printf("%s.p99 %.1f us\n", figure("rtt"), pct(v, count, 0.99));
	shutdown(p.ca, SHUT_RDWR);
	pthread_join(th, NULL);
	close(p.ca);
	close(p.cb);
	vde_delstack(p.a);
	vde_delstack(p.b);
	return 0;
}

static volatile int bulk_stop;
static void *sink_thread(void *arg) {
	int fd = *(int *)arg;
	static char buf[1 << 17];
	long long total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) total += r;
	return (void *)(intptr_t)(total / 1024); /* KiB */
}

/* Writes to ca for secs seconds while a thread drains cb; prints the figures. */
static void bulk_run(int ca, int cb, int secs, const char *name) {
	pthread_t th;
	pthread_create(&th, NULL, sink_thread, &cb);
	static char buf[1 << 17];
	memset(buf, 'b', sizeof(buf));
	struct tree c0 = measure_tree();
	double t0 = now_us(), end = t0 + secs * 1e6;
	while (now_us() < end)
		if (write(ca, buf, sizeof(buf)) <= 0) break;
	shutdown(ca, SHUT_WR);
	void *kib;
	pthread_join(th, &kib);
	double t1 = now_us();
	struct tree c1 = measure_tree();
	double gbytes = (double)(intptr_t)kib * 1024 / 1e9;
	printf("%s.gbit_per_s %.3f Gbit/s\n", name, gbytes * 8 / ((t1 - t0) / 1e6));
	printf("%s.cpu_s_per_gb %.2f s/GB\n", name, (c1.cpu_s - c0.cpu_s) / gbytes);
}

static int bulk(int secs, char *vnl) {
	struct pair p;
	if (connect_pair(vnl, &p) < 0) {
		fprintf(stderr, "bulk: no connection\n");
		return 1;
	}
	bulk_run(p.ca, p.cb, secs, figure("bulk"));
	close(p.ca);
	close(p.cb);
	vde_delstack(p.a);
	vde_delstack(p.b);
	return 0;
}

/* ---- a stack and a vdens: the tutorial's path, between two processes ---- */

/* The vdens side: plain sockets (inside the vdens' namespace). */
static int peer(int n) {
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(6000)};
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		perror("peer: listen");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int c = accept(l, NULL, NULL);
		char mode = 0;
		if (c < 0 || read(c, &mode, 1) != 1) return 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (mode == 'e') {
			echo_thread(&c);
		} else {
			static char buf[1 << 17];
			ssize_t r;
			while ((r = read(c, buf, sizeof(buf))) > 0) {}
			if (r < 0) perror("peer: read");
		}
		close(c);
	}
	close(l);
	return 0;
}

/* Starts a vdens on vnl (10.0.0.1/24, link up) running `netbench peer 1`, a
 * stack (10.0.0.2) and connects it to the peer, sending mode; *pid: the vdens. */
static int connect_vdens(char *vnl, char mode, struct vdestack **s, pid_t *pid) {
	const char *vdens = getenv("NETBENCH_VDENS");
	char self[4096], cmd[8192];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k < 0) return -1;
	self[k] = 0;
	snprintf(cmd, sizeof cmd, "ip addr add 10.0.0.1/24 dev vde0 && ip link set vde0 up%s%s && exec '%s' peer 1 -",
	         getenv("NETBENCH_MTU") ? " && ip link set vde0 mtu " : "", getenv("NETBENCH_MTU") ? getenv("NETBENCH_MTU") : "",
	         self);
	*pid = fork();
	if (*pid == 0) {
		const char *theirs = getenv("NETBENCH_VDENS_VNL");
		execlp(vdens && *vdens ? vdens : "vdens", "vdens", theirs && *theirs ? theirs : vnl, "/bin/sh", "-c", cmd,
		       (char *)NULL);
		_exit(127);
	}
	*s = new_stack(vnl, 2);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(6000)};
	inet_pton(AF_INET, "10.0.0.1", &sa.sin_addr);
	int fd = -1, one = 1;
	double give_up = now_us() + 15e6; /* the vdens needs a moment to start */
	while (fd < 0 && now_us() < give_up) {
		fd = vde_msocket(*s, AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {.tv_sec = 2};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* bounds connect() */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) break;
		close(fd);
		fd = -1;
		usleep(50000);
	}
	if (fd < 0 || write(fd, &mode, 1) != 1) return -1;
	/* a stalled path ends the figure with an error instead of hanging */
	struct timeval stall = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof(stall));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Ends the vdens (its command has ended, or is made to) and the stack. */
static void end_vdens(struct vdestack *s, pid_t pid) {
	int st;
	for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(10000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGTERM); /* Debian's vdens can outlive its command */
		usleep(200000);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	vde_delstack(s);
}

static int rtt_vdens(int count, char *vnl) {
	struct vdestack *s;
	pid_t pid;
	int fd = connect_vdens(vnl, 'e', &s, &pid);
	if (fd < 0) {
		fprintf(stderr, "rtt_vdens: no connection\n");
		if (pid > 0) kill(pid, SIGKILL);
		return 1;
	}
	double *v = calloc(count, sizeof(double));
	char c = 'x';
	for (int i = 0; i < 100; i++) /* warm up */
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) return 1;
	for (int i = 0; i < count; i++) {
		double t0 = now_us();
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			perror("rtt_vdens (path stalled)");
			kill(pid, SIGKILL);
			return 1;
		}
		v[i] = now_us() - t0;
	}
	printf("%s.median %.1f us\n", figure("rtt_vdens"), pct(v, count, 0.5));
	printf("%s.p99 %.1f us\n", figure("rtt_vdens"), pct(v, count, 0.99));
	close(fd);
	end_vdens(s, pid);
	return 0;
}

static int bulk_vdens(int secs, char *vnl) {
	struct vdestack *s;
	pid_t pid;
	int fd = connect_vdens(vnl, 's', &s, &pid);
	if (fd < 0) {
		fprintf(stderr, "bulk_vdens: no connection\n");
		if (pid > 0) kill(pid, SIGKILL);
		return 1;
	}
	static char buf[1 << 17];
	memset(buf, 'b', sizeof(buf));
	long long total = 0;
	struct tree c0 = measure_tree(); /* the vdens is our child: its CPU counts */
	double t0 = now_us(), end = t0 + secs * 1e6;
	ssize_t w = 1;
	while (now_us() < end && (w = write(fd, buf, sizeof(buf))) > 0) total += w;
	if (w <= 0) {
		perror("bulk_vdens: write (path stalled)");
		kill(pid, SIGKILL);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	while ((w = read(fd, buf, sizeof(buf))) > 0) {} /* the peer closes once it has read everything */
	if (w < 0) {
		perror("bulk_vdens: waiting for the peer (path stalled)");
		kill(pid, SIGKILL);
		return 1;
	}
	double t1 = now_us();
	struct tree c1 = measure_tree();
	double gbytes = (double)total / 1e9;
	printf("%s.gbit_per_s %.3f Gbit/s\n", figure("bulk_vdens"), gbytes * 8 / ((t1 - t0) / 1e6));
	printf("%s.cpu_s_per_gb %.2f s/GB\n", figure("bulk_vdens"), (c1.cpu_s - c0.cpu_s) / gbytes);
	close(fd);
	end_vdens(s, pid);
	return 0;
}

/* ---- the kernel-only baseline: two thread-private netns on a veth pair ---- */
struct vethside {
	pthread_t th;
	pid_t tid;
	int server; /* 1: listens on 10.0.0.2:6000 and accepts into fd */
	int fd, ready, go, err;
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
};

static void *veth_thread(void *arg) {
	struct vethside *v = arg;
	char cmd[256];
	int one = 1, err = 0;
	if (unshare(CLONE_NEWNET) < 0) err = errno;
	v->tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(v->mu);
	v->ready = 1;
	v->err = err;
	pthread_cond_broadcast(v->cv);
	while (!v->go) pthread_cond_wait(v->cv, v->mu);
	pthread_mutex_unlock(v->mu);
	if (err) return NULL;
	/* system() forks from this thread: the child runs in this thread's netns. */
	snprintf(cmd, sizeof cmd, "ip link set lo up && ip addr add 10.0.0.%d/24 dev veth%d && ip link set veth%d up",
	         v->server ? 2 : 1, v->server, v->server);
	if (system(cmd) != 0) {
		v->err = EIO;
		return NULL;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(6000)};
	inet_pton(AF_INET, "10.0.0.2", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (v->server) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
			v->err = errno;
			return NULL;
		}
		v->fd = accept(fd, NULL, NULL);
		close(fd);
	} else {
		for (int i = 0; i < 100 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; i++) usleep(20000);
		v->fd = fd;
	}
	return NULL;
}

static int veth(int secs) {
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct vethside s[2] = {{.server = 0, .fd = -1, .mu = &mu, .cv = &cv}, {.server = 1, .fd = -1, .mu = &mu, .cv = &cv}};
	for (int i = 0; i < 2; i++) pthread_create(&s[i].th, NULL, veth_thread, &s[i]);
	pthread_mutex_lock(&mu);
	while (!s[0].ready || !s[1].ready) pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	char cmd[256];
	/* The pair is made in side 0's namespace (by pid: a thread id), its peer moved to side 1's. */
	snprintf(cmd, sizeof cmd, "nsenter --net=/proc/%d/ns/net ip link add veth0 type veth peer name veth1 netns %d",
	         (int)s[0].tid, (int)s[1].tid);
	int rc = s[0].err || s[1].err ? -1 : system(cmd);
	pthread_mutex_lock(&mu);
	s[0].go = s[1].go = 1;
	if (rc != 0) s[0].err = s[1].err = EIO;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 2; i++) pthread_join(s[i].th, NULL);
	if (s[0].err || s[1].err || s[0].fd < 0 || s[1].fd < 0) {
		fprintf(stderr, "veth: no connection\n");
		return 1;
	}
	int one = 1;
	setsockopt(s[0].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bulk_run(s[0].fd, s[1].fd, secs, figure("veth"));
	close(s[0].fd);
	close(s[1].fd);
	return 0;
}

int main(int argc, char *argv[]) {
	if (argc < 4) {
		fprintf(stderr, "usage: netbench lifecycle|teardown|alive|rtt|bulk|rtt_vdens|bulk_vdens|peer|veth N VNL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int n = atoi(argv[2]);
	char *vnl = argv[3];
	if (!strcmp(argv[1], "lifecycle")) return lifecycle(n, vnl);
	if (!strcmp(argv[1], "teardown")) return teardown(n, vnl);
	if (!strcmp(argv[1], "alive")) return alive(n, vnl);
	if (!strcmp(argv[1], "rtt")) return rtt(n, vnl);
	if (!strcmp(argv[1], "bulk")) return bulk(n, vnl);
	if (!strcmp(argv[1], "rtt_vdens")) return rtt_vdens(n, vnl);
	if (!strcmp(argv[1], "bulk_vdens")) return bulk_vdens(n, vnl);
	if (!strcmp(argv[1], "peer")) return peer(n);
	if (!strcmp(argv[1], "veth")) return veth(n);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
