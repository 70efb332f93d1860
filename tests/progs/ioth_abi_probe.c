/* ioth_abi_probe.c PLUGIN VNL - what upstream libioth does with a plugin,
 * in plain C: dlopen PLUGIN (an ioth_vdestack.so), call its newstack with a
 * struct ioth_functions, make a socket through getstackdata(), and check
 * that the socket sees the stack's vde0 (and the program does not).
 * Prints "ABI OK" and exits 0, or says what failed and exits 1. */
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ioth.h"

static void *current;
static void *getstackdata(void) { return current; }

int main(int argc, char *argv[]) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s PLUGIN VNL\n", argv[0]);
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	void *(*newstack)(const char **, const char *, struct ioth_functions *) = dlsym(h, "ioth_vdestack_newstack");
	int (*delstack)(void *) = dlsym(h, "ioth_vdestack_delstack");
	int (*sock)(int, int, int) = dlsym(h, "ioth_vdestack_socket");
	if (!newstack || !delstack || !sock) {
		fprintf(stderr, "missing ioth_vdestack_* symbols\n");
		return 1;
	}
	struct ioth_functions f;
	memset(&f, 0, sizeof f);
	f.getstackdata = getstackdata;
	const char *vnlv[] = {argv[2], NULL};
	if ((current = newstack(vnlv, "", &f)) == NULL) {
		fprintf(stderr, "newstack: %s\n", strerror(errno));
		return 1;
	}
	int fd = sock(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "vde0");
	if (fd < 0 || f.ioctl(fd, SIOCGIFINDEX, &ifr) != 0 || if_nametoindex("vde0") != 0) {
		fprintf(stderr, "the plugin's socket is not in the stack: %s\n", strerror(errno));
		return 1;
	}
	f.close(fd);
	if (delstack(current) != 0) return 1;
	printf("ABI OK\n");
	return 0;
}
