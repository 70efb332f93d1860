/*
 * iothconfecho.c - the tutorial's echo server with its whole network set up
 * by one iothconf string (iothconf.h): ioth_newstackc creates the stack,
 * joins it to the VDE network and configures it, statically or by DHCP.
 *
 *   usage: iothconfecho [STACKCONFIG [PORT]]
 *     default STACKCONFIG:
 *       stack=vdestack,vnl=vxvde://234.0.0.1,eth,ip=10.0.0.70/24,gw=10.0.0.1,ip=fc00::1:70/64
 *     e.g. "stack=vdestack,vnl=vxvde://234.0.0.1,eth,dhcp" takes a lease,
 *     which the stack's helper renews for as long as the program runs.
 *   build: gcc -o iothconfecho iothconfecho.c $(pkg-config --cflags --libs iothconf)
 *
 * Prints the resolv.conf the configuration gives (if any), then
 * "READY <port>" once it listens on [::]:PORT (default 5000); serves one
 * connection at a time, echoing every byte; SIGTERM/SIGINT end it.
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
#include <unistd.h>
#include <iothconf.h>

static volatile sig_atomic_t stop;
static void onstop(int sig) { (void)sig; stop = 1; }

int main(int argc, char *argv[]) {
	const char *config = argc > 1 ? argv[1]
		: "stack=vdestack,vnl=vxvde://234.0.0.1,eth,ip=10.0.0.70/24,gw=10.0.0.1,ip=fc00::1:70/64";
	int port = argc > 2 ? atoi(argv[2]) : 5000;
	struct sigaction sa = {.sa_handler = onstop};
	struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
	struct ioth *stack;
	char *resolv;
	int fd;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((stack = ioth_newstackc(config)) == NULL) {
		fprintf(stderr, "ioth_newstackc: %s (%s)\n", strerror(errno), ioth_last_error());
		return 1;
	}
	if ((resolv = ioth_resolvconf(stack, NULL)) != NULL) {
		fputs(resolv, stdout);
		free(resolv);
	}
	fd = ioth_msocket(stack, AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		perror("socket/bind/listen");
		return 1;
	}
	printf("READY %d\n", port);
	fflush(stdout);
	while (!stop) {
		char buf[4096];
		ssize_t n;
		int conn = accept(fd, NULL, NULL);
		if (conn < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			break;
		}
		while ((n = read(conn, buf, sizeof(buf))) > 0)
			if (write(conn, buf, (size_t)n) != n)
				break;
		close(conn);
	}
	close(fd);
	ioth_delstack(stack);
	return 0;
}
