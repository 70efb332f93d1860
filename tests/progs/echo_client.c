/*
 * echo_client.c - the tutorial's client side as a program on its own stack
 * (used by the interop tests and the demo).
 *
 *   usage: echo_client VNL ADDR4/LEN ADDR6/LEN HOST:PORT|[HOST6]:PORT...
 *
 * Creates a stack on VNL, configures it with vde_stackcmd and /bin/ip
 * (IPv6 without duplicate address detection), pings every HOST twice
 * (/bin/ping inside the stack), then connects to each HOST:PORT, sends
 * "hello HOST\n" and expects it echoed. Prints a transcript; exits 0 only
 * if every step worked. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vdestack.h>

static int try_echo(struct vdestack *s, const char *host, int port) {
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int family = strchr(host, ':') ? AF_INET6 : AF_INET;
	char line[256], back[256];
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return -1;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
		len = sizeof(*a);
	}
	for (int attempt = 0; attempt < 100; attempt++) { /* up to ~10 s (DAD, neighbours) */
		int fd = vde_msocket(s, family, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("vde_msocket");
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
			size_t n = (size_t)snprintf(line, sizeof(line), "hello %s\n", host), got = 0;
			if (write(fd, line, n) != (ssize_t)n) {
				close(fd);
				return -1;
			}
			while (got < n) {
				struct pollfd p = {fd, POLLIN, 0};
				ssize_t r;
				if (poll(&p, 1, 5000) <= 0 || (r = read(fd, back + got, n - got)) <= 0) break;
				got += (size_t)r;
			}
			close(fd);
			back[got] = 0;
			printf("   sent: %s   got:  %s", line, got ? back : "(nothing)\n");
			return got == n && memcmp(line, back, n) == 0 ? 0 : -1;
		}
		close(fd);
		usleep(100000);
	}
	printf("   cannot connect to %s port %d: %s\n", host, port, strerror(errno));
	return -1;
}

int main(int argc, char *argv[]) {
	char cmd[1024];
	int failures = 0;
	if (argc < 5) {
		fprintf(stderr, "usage: %s VNL ADDR4/LEN ADDR6/LEN HOST:PORT...\n", argv[0]);
		return 2;
	}
	struct vdestack *s = vde_addstack(argv[1], NULL);
	if (s == NULL) {
		perror("vde_addstack");
		return 1;
	}
	snprintf(cmd, sizeof(cmd),
			"/bin/ip addr add %s dev vde0; /bin/ip addr add %s dev vde0 nodad; /bin/ip link set vde0 up",
			argv[2], argv[3]);
	if (vde_stackcmd(s, cmd) != 0) {
		fprintf(stderr, "configuration failed\n");
		vde_delstack(s);
		return 1;
	}
	printf("client stack on %s: %s %s\n", argv[1], argv[2], argv[3]);
	for (int i = 4; i < argc; i++) {
		char host[128];
		int port;
		char *colon = strrchr(argv[i], ':');
		if (colon == NULL || (size_t)(colon - argv[i]) >= sizeof(host)) {
			fprintf(stderr, "bad target %s\n", argv[i]);
			failures++;
			continue;
		}
		memcpy(host, argv[i], (size_t)(colon - argv[i]));
		host[colon - argv[i]] = 0;
		if (host[0] == '[') { /* [v6]:port */
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = 0;
		}
		port = atoi(colon + 1);
		/* The server may still be doing duplicate address detection: retry the ping. */
		int rv = 1;
		fflush(stdout);
		for (int attempt = 0; rv != 0 && attempt < 10; attempt++) {
			snprintf(cmd, sizeof(cmd), "/bin/ping -c 1 -W 1 -q %s", host);
			rv = vde_stackcmd(s, cmd);
		}
		printf("== ping %s\n", host);
		fflush(stdout);
		snprintf(cmd, sizeof(cmd), "/bin/ping -c 2 -i 0.2 -W 2 %s", host);
		rv = vde_stackcmd(s, cmd);
		printf("   ping %s: %s\n", host, rv == 0 ? "ok" : "FAILED");
		failures += rv != 0;
		printf("== echo over TCP to %s port %d\n", host, port);
		if (try_echo(s, host, port) == 0) {
			printf("   echo %s: ok\n", host);
		} else {
			printf("   echo %s: FAILED\n", host);
			failures++;
		}
		fflush(stdout);
	}
	vde_delstack(s);
	printf("%s\n", failures ? "CLIENT FAILED" : "CLIENT OK");
	return failures ? 1 : 0;
}
