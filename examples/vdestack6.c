/*
 * vdestack6.c - the tutorial's TCP echo server on its own TCP/IP stack.
 *
 * A stack joined to a VDE network (default vxvde://234.0.0.1) is configured
 * with vde_stackcmd() and busybox's ip (10.0.0.50/24, fc00::1:50/64); one
 * IPv6 socket from vde_msocket() accepts IPv4 and IPv6 clients on port 5000;
 * each connection is served by a forked child (the stack is shared after
 * fork), echoing every byte back.
 *
 *   usage: vdestack6 [VNL [ADDR4/LEN [ADDR6/LEN [PORT]]]]
 *   build: gcc -o vdestack6 vdestack6.c -lvdestack
 *
 * Prints "READY <port>" once it listens; SIGTERM/SIGINT end it cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vdestack.h>

static volatile sig_atomic_t stop;
static void onstop(int sig) { (void)sig; stop = 1; }

static void echo(int fd) {
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w <= 0)
				return;
			off += w;
		}
	}
}

static void server(struct vdestack *mystack, int port) {
	int fd = vde_msocket(mystack, AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
	int one = 1;
	if (fd < 0) {
		perror("vde_msocket");
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		perror("bind/listen");
		close(fd);
		return;
	}
	printf("READY %d\n", port);
	fflush(stdout);
	while (!stop) {
		int conn = accept(fd, NULL, NULL);
		if (conn < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			break;
		}
		switch (fork()) {
		case 0:
			close(fd);
			echo(conn);
			_exit(0);
		case -1:
			perror("fork");
		}
		close(conn);
	}
	close(fd);
}

static struct vdestack *net_setup(char *vnl, const char *a4, const char *a6) {
	char cmd[512];
	struct vdestack *mystack = vde_addstack(vnl, NULL);
	int rv;
	if (mystack == NULL) {
		perror("vde_addstack");
		return NULL;
	}
	snprintf(cmd, sizeof(cmd),
			"/bin/busybox ip addr add %s dev vde0;"
			"/bin/busybox ip addr add %s dev vde0;"
			"/bin/busybox ip link set vde0 up", a4, a6);
	if ((rv = vde_stackcmd(mystack, cmd)) != 0) {
		fprintf(stderr, "vde_stackcmd: \"%s\" returned %d\n", cmd, rv);
		vde_delstack(mystack);
		return NULL;
	}
	return mystack;
}

int main(int argc, char *argv[]) {
	char *vnl = argc > 1 ? argv[1] : "vxvde://234.0.0.1";
	const char *a4 = argc > 2 ? argv[2] : "10.0.0.50/24";
	const char *a6 = argc > 3 ? argv[3] : "fc00::1:50/64";
	int port = argc > 4 ? atoi(argv[4]) : 5000;
	struct sigaction sa = {.sa_handler = onstop};
	struct vdestack *mystack;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGCHLD, SIG_IGN); /* echo children reap themselves */
	if ((mystack = net_setup(vnl, a4, a6)) == NULL)
		return 1;
	server(mystack, port);
	vde_delstack(mystack);
	return 0;
}
