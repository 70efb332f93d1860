/*
 * vdeplug_echo.c - a small program written against the plain libvdeplug
 * (vdeplug4) API, as existing VDE programs are: vde_open, poll on
 * vde_datafd, vde_recv/vde_send, vde_close, and the vdestream helpers. The
 * script tests (tests/vdeplug_capi.sh) compile it UNCHANGED against Debian's
 * libvdeplug and against ours, and make the two talk.
 *
 *   vdeplug_echo echo VNL COUNT [SECONDS]   answer COUNT distinct pings
 *   vdeplug_echo ping VNL COUNT [SECONDS]   send COUNT distinct pings, wait
 *                                           for every answer (resending the
 *                                           unanswered ones every 200 ms)
 *   vdeplug_echo open VNL                   vde_open must fail: prints errno
 *   vdeplug_echo nowait VNL                 vde_recv(MSG_DONTWAIT) on a quiet
 *                                           network: -1 EAGAIN (ours only:
 *                                           vdeplug4 ignores flags, may block)
 *   vdeplug_echo stream whole|split         vdestream round trip over a pipe:
 *                                           the bytes fed to vdestream_recv
 *                                           at once, or in odd-sized chunks
 *                                           that split lengths and frames
 *                                           (vdeplug4 4.0.1 loses sync when a
 *                                           length header is split)
 *
 * Frames: Ethernet type 0x88b5 (local experimental). A ping is broadcast,
 * payload "VDEPING" + 4-byte sequence number + filler depending on it; the
 * echo answers to the pinger's MAC with "VDEPONG", the same number and the
 * same filler, and checks the filler. Like vde_plug, echo and ping also poll
 * vde_ctlfd when there is one, and stop when it fires (the switch hung up).
 * Output lines: READY (opened),
 * "ECHO OK n" / "PING OK n/N" (all done), failures on stderr. Exit 0 on
 * success, 1 on failure or timeout.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libvdeplug.h>

#define ETH_TYPE_HI 0x88
#define ETH_TYPE_LO 0xb5
#define MAXCOUNT 100000

static unsigned char ping_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static unsigned char echo_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t frame_len(unsigned int seq)
{
	return 60 + seq % 200;  /* distinct lengths too */
}

static size_t build(unsigned char *f, const unsigned char *dst, const unsigned char *src,
		const char *tag, unsigned int seq)
{
	size_t len = frame_len(seq), i;
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_TYPE_HI;
	f[13] = ETH_TYPE_LO;
	memcpy(f + 14, tag, 7);
	f[21] = seq >> 24; f[22] = seq >> 16; f[23] = seq >> 8; f[24] = seq;
	for (i = 25; i < len; i++)
		f[i] = (unsigned char)(seq * 7 + i);
	return len;
}

/* returns the sequence number of a valid frame with this tag, or -1 */
static long parse(const unsigned char *f, ssize_t n, const char *tag)
{
	unsigned int seq;
	size_t i;
	if (n < 25 || f[12] != ETH_TYPE_HI || f[13] != ETH_TYPE_LO || memcmp(f + 14, tag, 7) != 0)
		return -1;
	seq = ((unsigned int)f[21] << 24) | (f[22] << 16) | (f[23] << 8) | f[24];
	if ((size_t)n != frame_len(seq))
		return -1;
	for (i = 25; i < (size_t)n; i++)
		if (f[i] != (unsigned char)(seq * 7 + i))
			return -1;
	return seq;
}

static VDECONN *open_or_die(char *vnl)
{
	VDECONN *conn = vde_open(vnl, "vdeplug_echo", NULL);
	if (conn == NULL) {
		fprintf(stderr, "vde_open %s: %s\n", vnl, strerror(errno));
		exit(1);
	}
	printf("READY datafd=%d ctlfd=%d\n", vde_datafd(conn), vde_ctlfd(conn));
	fflush(stdout);
	return conn;
}

static int run(int ping, char *vnl, unsigned int count, double seconds)
{
	static unsigned char answered[MAXCOUNT];
	unsigned char buf[VDE_ETHBUFSIZE], out[VDE_ETHBUFSIZE];
	unsigned int done = 0, seq;
	double deadline = now() + seconds, resend = 0;
	VDECONN *conn = open_or_die(vnl);
	/* like vde_plug: the data fd, and the ctl fd (vde://) for a hang-up */
	struct pollfd pfd[2] = {{vde_datafd(conn), POLLIN, 0}, {vde_ctlfd(conn), POLLIN, 0}};
	nfds_t nfds = vde_ctlfd(conn) >= 0 ? 2 : 1;

	while (done < count && now() < deadline) {
		if (ping && now() >= resend) {
			for (seq = 0; seq < count; seq++)
				if (!answered[seq]) {
					size_t len = build(out, (unsigned char *)"\xff\xff\xff\xff\xff\xff", ping_mac, "VDEPING", seq);
					if (vde_send(conn, out, len, 0) != (ssize_t)len)
						fprintf(stderr, "vde_send: %s\n", strerror(errno));
				}
			resend = now() + 0.2;
		}
		if (poll(pfd, nfds, 50) <= 0)
			continue;
		if (nfds == 2 && pfd[1].revents != 0) {
			fprintf(stderr, "vde_ctlfd: the switch hung up\n");
			break;
		}
		ssize_t n = vde_recv(conn, buf, sizeof buf, 0);
		if (n == 0) {
			fprintf(stderr, "vde_recv: end of file\n");
			break;
		}
		if (n < 0) {
			fprintf(stderr, "vde_recv: %s\n", strerror(errno));
			break;
		}
		if (n < 14)  /* 1: received, not for us */
			continue;
		long s = parse(buf, n, ping ? "VDEPONG" : "VDEPING");
		if (s < 0 || s >= (long)count)
			continue;
		if (ping) {
			if (memcmp(buf, ping_mac, 6) != 0)
				continue;
		} else {
			size_t len = build(out, buf + 6, echo_mac, "VDEPONG", (unsigned int)s);
			vde_send(conn, out, len, 0);
		}
		if (!answered[s]) {
			answered[s] = 1;
			done++;
		}
	}
	if (!ping) {
		/* keep answering the pinger's resends for a moment */
		double until = now() + 0.5;
		while (now() < until) {
			if (poll(pfd, 1, 50) <= 0) continue;
			ssize_t n = vde_recv(conn, buf, sizeof buf, 0);
			long s = parse(buf, n, "VDEPING");
			if (s >= 0 && s < (long)count) {
				size_t len = build(out, buf + 6, echo_mac, "VDEPONG", (unsigned int)s);
				vde_send(conn, out, len, 0);
			}
		}
	}
	vde_close(conn);
	if (ping)
		printf("PING %s %u/%u\n", done == count ? "OK" : "FAILED", done, count);
	else
		printf("ECHO %s %u\n", done == count ? "OK" : "FAILED", done);
	return done == count ? 0 : 1;
}

/* vde_recv(MSG_DONTWAIT) with nothing waiting (ours: -1 EAGAIN) */
static int nowait(char *vnl)
{
	unsigned char buf[VDE_ETHBUFSIZE];
	VDECONN *conn = open_or_die(vnl);
	ssize_t n = vde_recv(conn, buf, sizeof buf, MSG_DONTWAIT);
	int err = errno;
	printf("NOWAIT %zd %s\n", n, n < 0 && (err == EAGAIN || err == EWOULDBLOCK) ? "EAGAIN" : strerror(err));
	vde_close(conn);
	return n < 0 && (err == EAGAIN || err == EWOULDBLOCK) ? 0 : 1;
}

static int try_open(char *vnl)
{
	VDECONN *conn;
	errno = 0;
	conn = vde_open(vnl, "vdeplug_echo", NULL);
	if (conn != NULL) {
		printf("OPENED (unexpected)\n");
		vde_close(conn);
		return 1;
	}
	printf("NULL errno=%d %s\n", errno,
			errno == EPROTONOSUPPORT ? "EPROTONOSUPPORT" : errno == EINVAL ? "EINVAL" :
			errno == ENOENT ? "ENOENT" : "other");
	return 0;
}

/* vdestream: records written with vdestream_send, read back through
 * vdestream_recv (all at once, or in odd-sized chunks); every frame must come
 * out once, intact, in order. */
static unsigned int stream_got, stream_bad;
static ssize_t stream_frecv(void *opaque, void *buf, size_t count)
{
	long s = parse(buf, (ssize_t)count, "VDEPING");
	(void)opaque;
	if (s == (long)stream_got)
		stream_got++;
	else
		stream_bad++;
	return (ssize_t)count;
}

static void stream_ferr(void *opaque, int type, char *format, ...)
{
	(void)opaque; (void)format;
	fprintf(stderr, "vdestream error type %d\n", type);
	stream_bad++;
}

static int stream_test(int split)
{
	int p[2];
	unsigned int seq, count = 50;
	unsigned char frame[VDE_ETHBUFSIZE];
	static unsigned char buf[65536];
	size_t chunk = 1, have = 0;
	VDESTREAM *out, *in;
	if (pipe(p) != 0)
		return 1;
	out = vdestream_open(NULL, p[1], stream_frecv, stream_ferr);
	in = vdestream_open(NULL, -1, stream_frecv, stream_ferr);
	if (out == NULL || in == NULL)
		return 1;
	for (seq = 0; seq < count; seq++) {
		size_t len = build(frame, echo_mac, ping_mac, "VDEPING", seq);
		if (vdestream_send(out, frame, len) != (ssize_t)(len + 2)) {
			fprintf(stderr, "vdestream_send: %s\n", strerror(errno));
			return 1;
		}
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf + have, split ? chunk : sizeof buf - have);
		if (n <= 0)
			break;
		if (split) {
			vdestream_recv(in, buf, (size_t)n);
			chunk = chunk % 97 + 13;  /* split lengths and frames every way */
		} else {
			have += (size_t)n;
		}
	}
	if (!split)
		vdestream_recv(in, buf, have);
	vdestream_close(out);
	vdestream_close(in);
	close(p[0]);
	printf("STREAM %s %u/%u\n", stream_got == count && stream_bad == 0 ? "OK" : "FAILED", stream_got, count);
	return stream_got == count && stream_bad == 0 ? 0 : 1;
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && (strcmp(argv[1], "echo") == 0 || strcmp(argv[1], "ping") == 0)) {
		unsigned int count = (unsigned int)atoi(argv[3]);
		double seconds = argc > 4 ? atof(argv[4]) : 20;
		if (count == 0 || count > MAXCOUNT)
			return 2;
		return run(strcmp(argv[1], "ping") == 0, argv[2], count, seconds);
	}
	if (argc == 3 && strcmp(argv[1], "open") == 0)
		return try_open(argv[2]);
	if (argc == 3 && strcmp(argv[1], "nowait") == 0)
		return nowait(argv[2]);
	if (argc == 3 && strcmp(argv[1], "stream") == 0)
		return stream_test(strcmp(argv[2], "split") == 0);
	fprintf(stderr, "usage: %s echo|ping VNL COUNT [SECONDS] | open VNL | nowait VNL | stream whole|split\n", argv[0]);
	return 2;
}
