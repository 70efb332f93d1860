/*
 * libvdeplug.h - the libvdeplug (vdeplug4, SOVERSION 2) C API, served by
 * vdestack++'s transports: libvdeplug.so.2 built from src/vdeplug/.
 *
 * Source- and binary-compatible with Debian's libvdeplug2 4.0.1: a program
 * written for vdeplug4 (qemu, vde_plug-style tools, ...) compiles unchanged
 * against this header and runs with either library. Our transports serve the
 * schemes vdestack++ implements (vxvde, vxlan, vde, switch, hub, null, ptp,
 * udp, seqpacket, cmd, tap, ...); any other scheme is opened through the
 * installed vdeplug4 plugins (libvdeplug_<scheme>.so), loaded at run time.
 *
 * Installing our libvdeplug.so.2 in ${libdir} (/usr/local/lib by default)
 * shadows Debian's /usr/lib/<multiarch>/libvdeplug.so.2 for every program
 * that finds /usr/local/lib first (the default on Debian).
 *
 * Conventions (as vdeplug4):
 *   vde_open    NULL + errno on failure: EPROTONOSUPPORT unknown scheme (no
 *               transport, no plugin), EINVAL bad option, else the errno of
 *               the failing call. A VNL without "://" is a vde_switch path;
 *               NULL or "" is the default switch. open_args is deprecated:
 *               pass NULL (vde:// honours its port, group and mode; VNL
 *               options override them).
 *   vde_recv    one frame per call: its length; 1 = something was received
 *               that is not a frame for us (drop it, like any result < 14);
 *               0 = end of file (the link is gone); -1 + errno. Blocks until
 *               something arrives unless flags has MSG_DONTWAIT (then -1 +
 *               EAGAIN when nothing is waiting). A frame longer than len is
 *               truncated to len.
 *   vde_send    len (frames shorter than 14 bytes are dropped but reported
 *               as sent), or -1 + errno when the link is dead. A frame the
 *               network cannot take now (full socket buffer) is dropped, as
 *               a NIC drops; stream links (cmd://) wait for the pipe.
 *   vde_datafd  ONE fd to poll for POLLIN (an epoll fd for transports with
 *               several sockets), owned by the connection.
 *   vde_ctlfd   the vde:// control stream (readable/EOF: the switch hung
 *               up), -1 for every other scheme.
 *   vde_close   0; frees the connection and closes its fds.
 */
#ifndef _VDELIB_H
#define _VDELIB_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBVDEPLUG_INTERFACE_VERSION 1
#define VDE_MAXMTU 9216
/* largest frame: MTU + Ethernet header + 802.1Q tag */
#define VDE_ETHBUFSIZE (VDE_MAXMTU + 14 + 4)

struct vdeconn;
typedef struct vdeconn VDECONN;

/* Deprecated options of vde_open (vde:// only): the switch port to ask for
 * (0: any), the group to give the data socket to (NULL: none) and its mode
 * (0: the default, 0700). */
struct vde_open_args {
	int port;
	char *group;
	mode_t mode;
};

/* vde_url: a VNL, "scheme://rest" (vxvde://234.0.0.1, vde:///tmp/sw[3],
 * slirp://, ...) or a vde_switch path; descr: shown by switches. */
#define vde_open(vde_url, descr, open_args) \
	vde_open_real((vde_url), (descr), LIBVDEPLUG_INTERFACE_VERSION, (open_args))
VDECONN *vde_open_real(char *vde_url, char *descr, int interface_version,
		struct vde_open_args *open_args);

ssize_t vde_recv(VDECONN *conn, void *buf, size_t len, int flags);

ssize_t vde_send(VDECONN *conn, const void *buf, size_t len, int flags);

/* poll it for POLLIN: when readable, vde_recv has something */
int vde_datafd(VDECONN *conn);

/* poll it for POLLIN: readable/EOF means the switch closed the connection */
int vde_ctlfd(VDECONN *conn);

int vde_close(VDECONN *conn);

/* vdestream: the VDE stream framing (2-byte big-endian length + frame) over
 * a byte stream, e.g. a pipe or a tty (what vde_plug speaks on stdin/stdout). */
struct vdestream;
typedef struct vdestream VDESTREAM;

/* ferr's type for a record longer than VDE_ETHBUFSIZE (skipped) */
#define PACKET_LENGTH_ERROR 1

/* frecv gets each decoded frame; ferr (may be NULL) gets errors. */
VDESTREAM *vdestream_open(void *opaque,
		int fdout,
		ssize_t (*frecv)(void *opaque, void *buf, size_t count),
		void (*ferr)(void *opaque, int type, char *format, ...)
		);

/* writes one record to fdout: returns len + 2, 0 if len is too long, or -1 + errno */
ssize_t vdestream_send(VDESTREAM *vdestream, const void *buf, size_t len);

/* feeds len bytes read from the stream; a record may span calls */
void vdestream_recv(VDESTREAM *vdestream, unsigned char *buf, size_t len);

void vdestream_close(VDESTREAM *vdestream);

#ifdef __cplusplus
}
#endif

#endif
