/*
 * benchutil.h - what the benchmark programs (netbench.c, iothbench.c) share:
 * a monotonic clock in microseconds, percentiles of a sample, and the
 * number of entries of a /proc directory (fds, tasks).
 */
#ifndef VDESTACK_BENCHUTIL_H
#define VDESTACK_BENCHUTIL_H

#include <dirent.h>
#include <stdlib.h>
#include <time.h>

static inline double now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of v[0..n-1], which it sorts. */
static inline double pct(double *v, int n, double p) {
	qsort(v, n, sizeof(double), cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

/* Entries of directory `path` but "." and "..", -1 if it cannot be read
 * (for /proc/self/fd: one more than before the call, opendir's own). */
static inline int count_dir(const char *path) {
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	if (!d) return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

#endif
