/*
 * iothecho.c - vdestack6nl.c written for the libioth API (ioth.h): the
 * tutorial's TCP echo server on its own TCP/IP stack, configured through
 * netlink only, with a program that also builds against upstream libioth.
 *
 * A stack joined to a VDE network (default vxvde://234.0.0.1) gets, through
 * the ioth_ functions that ioth.h defines with NLINLINE_LIBMULTI(ioth_):
 * vde0 up, 10.0.0.60/24 and fc00::1:60/64, default routes via 10.0.0.1 and
 * fc00::1:1 (written in the tutorial's 5-argument form, without ifindex).
 * One IPv6 socket accepts IPv4 and IPv6 clients on port 5000; each
 * connection is served by a forked child (the stack is shared after fork),
 * echoing every byte back.
 *
 *   usage: iothecho [VNL [PORT]]
 *   build: gcc -o iothecho iothecho.c $(pkg-config --cflags --libs ioth)
 *
 * Prints "READY <port>" once it listens; SIGTERM/SIGINT end it cleanly
 * (ioth_delstack).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ioth.h>

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

static void server(struct ioth *mystack, int port) {
	int fd = ioth_msocket(mystack, AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
	int one = 1;
	if (fd < 0) {
		perror("ioth_msocket");
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

/* The tutorial's net_setup, netlink only. */
static struct ioth *net_setup(char *vnl) {
	struct ioth *mystack;
	uint8_t ipv4addr[] = {10, 0, 0, 60};
	uint8_t ipv4gw[] = {10, 0, 0, 1};
	uint8_t ipv6addr[16] = {0xfc, 0x00, [13] = 0x1, [15] = 0x60};
	uint8_t ipv6gw[16] = {0xfc, 0x00, [13] = 0x1, [15] = 0x1};
	int ifindex;

	mystack = ioth_newstack("vdestack", vnl);
	if (mystack == NULL) {
		perror("ioth_newstack");
		return NULL;
	}
	ifindex = ioth_if_nametoindex(mystack, "vde0");
	if (ifindex < 0) {
		perror("nametoindex");
		ioth_delstack(mystack);
		return NULL;
	}

	if (ioth_linksetupdown(mystack, ifindex, 1) < 0)
		perror("link up");
	if (ioth_ipaddr_add(mystack, AF_INET, ipv4addr, 24, ifindex) < 0)
		perror("addr ipv4");
	if (ioth_iproute_add(mystack, AF_INET, NULL, 0, ipv4gw) < 0)
		perror("route ipv4");
	if (ioth_ipaddr_add(mystack, AF_INET6, ipv6addr, 64, ifindex) < 0)
		perror("addr ipv6");
	if (ioth_iproute_add(mystack, AF_INET6, NULL, 0, ipv6gw) < 0)
		perror("route ipv6");

	return mystack;
}

int main(int argc, char *argv[]) {
	char *vnl = argc > 1 ? argv[1] : "vxvde://234.0.0.1";
	int port = argc > 2 ? atoi(argv[2]) : 5000;
	struct sigaction sa = {.sa_handler = onstop};
	struct ioth *mystack;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGCHLD, SIG_IGN); /* echo children reap themselves */
	if ((mystack = net_setup(vnl)) == NULL)
		return 1;
	server(mystack, port);
	ioth_delstack(mystack);
	return 0;
}
