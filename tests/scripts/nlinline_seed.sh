#!/bin/bash
# nlinline_seed.sh BUILD SRC - the tutorial's netlink variant (vdestack6nl)
# against our nlinline.h/nlinline+.h:
#   a. the tutorial's code, written as the tutorial writes it (5-argument
#      vde_iproute_add) plus the README's 6-argument call, compiles with
#      gcc -Wall -Werror against our headers and library, and as C++ with g++;
#      every generator macro compiles, in C and C++; including nlinline.h
#      before nlinline+.h is the #error it is in 0.2.2;
#   b. the same tutorial code does NOT compile against Debian's nlinline+.h
#      0.2.2 (its iproute_add wants the ifindex): the incompatibility fixed
#      here; the 6-argument control does; Debian's header is no C++ at all;
#   c. end to end, in a private network namespace made here: the tutorial
#      program configures its stack as told (read back with ip), then
#      examples/vdestack6nl serves and Debian's vdens (10.0.0.1/24,
#      fc00::1:1/64) pings 10.0.0.60 and fc00::1:60 and echoes a line with nc
#      over IPv4 and IPv6.
# Exits 0 only if all of it passes.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${NLINLINE_SEED_NETNS:-}" != 1 ]; then
	exec unshare -n env NLINLINE_SEED_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-nlseed.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
fail=0
ok() { echo "ok   - $*"; }
ko() { echo "FAIL - $*"; fail=1; }

# The tutorial's vdestack6nl: includes, NLINLINE_LIBMULTICOMP(vde_) and
# net_setup exactly as the tutorial prints them; net_setup_readme is the
# upstream README's variant (IPv6 route with the trailing ifindex). main()
# reads the configuration back from inside the stack.
cat >"$TMP/seed.c" <<'SEED'
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <vdestack.h>
#include <nlinline+.h>
NLINLINE_LIBMULTICOMP(vde_)

struct vdestack *net_setup(void) {
	struct vdestack *mystack;
	uint8_t ipv4addr[] = {10,0,0,60};
	uint8_t ipv4gw[] = {10,0,0,1};
	uint8_t ipv6addr[16] = {0xfc, 0x00, [13] = 0x1, [15] = 0x60};
	uint8_t ipv6gw[16] = {0xfc, 0x00, [13] = 0x1, [15] = 0x1};
	int ifindex;

	mystack = vde_addstack("vxvde://234.0.0.1", NULL);
	ifindex = vde_if_nametoindex(mystack, "vde0");
	if (ifindex < 0) {
		perror("nametoindex");
		exit(1);
	}

	if (vde_linksetupdown(mystack, ifindex, 1) < 0)
		perror("link up");
	if (vde_ipaddr_add(mystack, AF_INET, ipv4addr, 24, ifindex) < 0)
		perror("addr ipv4");
	if (vde_iproute_add(mystack, AF_INET, NULL, 0, ipv4gw) < 0)
		perror("route ipv4");
	if (vde_ipaddr_add(mystack, AF_INET6, ipv6addr, 64, ifindex) < 0)
		perror("addr ipv6");
	if (vde_iproute_add(mystack, AF_INET6, NULL, 0, ipv6gw) < 0)
		perror("route ipv6");

	return mystack;
}

struct vdestack *net_setup_readme(char *vnl) {
	uint8_t ipv4addr[] = {192,168,2,2};
	uint8_t ipv4gw[] = {192,168,2,1};
	uint8_t ipv6addr[16] = {0x20, 0x01, 0x07, 0x60, [15] = 0x02};
	uint8_t ipv6gw[16] = {0x20, 0x01, 0x07, 0x60, [15] = 0x01};
	struct vdestack *stack = vde_addstack(vnl, NULL);
	int ifindex = vde_if_nametoindex(stack, "vde0");
	if (vde_linksetupdown(stack, ifindex, 1) < 0)
		perror("link up");
	if (vde_ipaddr_add(stack, AF_INET, ipv4addr, 24, ifindex) < 0)
		perror("addr ipv4");
	if (vde_iproute_add(stack, AF_INET, NULL, 0, ipv4gw) < 0)
		perror("route ipv4");
	if (vde_ipaddr_add(stack, AF_INET6, ipv6addr, 64, ifindex) < 0)
		perror("addr ipv6");
	if (vde_iproute_add(stack, AF_INET6, NULL, 0, ipv6gw, 0) < 0)
		perror("route ipv6");
	return stack;
}

int main(int argc, char *argv[]) {
	struct vdestack *mystack = argc > 1 ? net_setup_readme(argv[1]) : net_setup();
	fflush(stdout);
	vde_stackcmd(mystack, "/bin/ip -o addr show dev vde0; /bin/ip route show; /bin/ip -6 route show");
	vde_delstack(mystack);
	return 0;
}
SEED

# the tutorial's two C-only idioms rewritten for C++ (array designators, a
# string literal passed as char *); the nlinline calls stay as they are
sed -e 's/{0xfc, 0x00, \[13\] = 0x1, \[15\] = 0x60}/{0xfc, 0x00, 0,0,0,0,0,0,0,0,0,0,0, 0x1, 0, 0x60}/' \
	-e 's/{0xfc, 0x00, \[13\] = 0x1, \[15\] = 0x1}/{0xfc, 0x00, 0,0,0,0,0,0,0,0,0,0,0, 0x1, 0, 0x1}/' \
	-e 's/{0x20, 0x01, 0x07, 0x60, \[15\] = 0x0\([12]\)}/{0x20, 0x01, 0x07, 0x60, 0,0,0,0,0,0,0,0,0,0,0, 0x0\1}/' \
	-e 's/vde_addstack("vxvde/vde_addstack((char *)"vxvde/' \
	-e 's/vde_stackcmd(mystack, "/vde_stackcmd(mystack, (char *)"/' \
	"$TMP/seed.c" >"$TMP/seed_cxx.cpp"
grep -q '\[1[35]\]' "$TMP/seed_cxx.cpp" && ko "seed_cxx.cpp still has array designators"

LINK=(-L"$BUILD" -lvdestack -Wl,-rpath,"$BUILD")
echo "### a. our headers"
if gcc -std=gnu11 -Wall -Werror -I"$SRC/include" -o "$TMP/seed" "$TMP/seed.c" "${LINK[@]}" 2>"$TMP/gcc.err"; then
	ok "tutorial vdestack6nl (5- and 6-argument vde_iproute_add) compiles with gcc -Wall -Werror"
else
	ko "tutorial vdestack6nl does not compile with gcc"; cat "$TMP/gcc.err"
fi
if g++ -std=c++20 -Wall -Wextra -Werror -I"$SRC/include" -o "$TMP/seed_cxx" "$TMP/seed_cxx.cpp" "${LINK[@]}" 2>"$TMP/gxx.err"; then
	ok "tutorial vdestack6nl compiles as C++20 with g++ -Wall -Wextra -Werror"
else
	ko "tutorial vdestack6nl does not compile as C++"; cat "$TMP/gxx.err"
fi

# the plain functions, every call form, from nlinline.h alone
cat >"$TMP/plain.c" <<'PLAIN'
#include <stdint.h>
#include <nlinline.h>
int plain(void);
int plain(void) {
	uint8_t a4[4] = {10, 0, 0, 1}, gw[4] = {10, 0, 0, 254};
	unsigned char mac[6];
	int (*route)(int, void *, int, void *, unsigned int) = nlinline_iproute_add;
	int (*linkadd)(const char *, unsigned int, const char *, const char *) = nlinline_iplink_add;
	int (*dialog)(void *) = nlinline_nldialog;
	int r = nlinline_if_nametoindex("lo");
	r |= nlinline_linksetupdown(1, 1) | nlinline_linksetaddr(1, mac) | nlinline_linkgetaddr(1, mac);
	r |= nlinline_linksetmtu(1, 1500);
	r |= nlinline_ipaddr_add(AF_INET, a4, 24, 1) | nlinline_ipaddr_del(AF_INET6, a4, 64, 1);
	r |= nlinline_ipaddr_add(AF_INET6, a4, nl_addrdata2prefix(64, IFA_F_NODAD, RT_SCOPE_UNIVERSE), 1);
	r |= nlinline_iproute_add(AF_INET, NULL, 0, gw) | nlinline_iproute_add(AF_INET, NULL, 0, gw, 1);
	r |= nlinline_iproute_del(AF_INET, a4, 24, gw) | nlinline_iproute_del(AF_INET, a4, 24, gw, 1);
	r |= nlinline_iproute_add(AF_INET, a4, nl_routedata2prefix(24, RTN_UNICAST, RT_SCOPE_LINK), NULL, 1);
	r |= nlinline_iplink_add("v0", 0, "veth", NULL) | nlinline_iplink_del("v0", 0);
	r |= nlinline_iplink_add("v0", 0, "vde", nl_iplink_strdata(IFLA_VDE_VNL, "vxvde://"));
	r |= nlinline_iplink_add_ifd("v0", 0, "vde", NULL, 0);
	r |= nlinline_nldialog(NULL) | nlinline_nldialog("lo", NULL) | nlinline_family2addrlen(AF_INET);
	return r | route(AF_INET, NULL, 0, gw, 0) | linkadd(NULL, 0, NULL, NULL) | dialog(NULL);
}
PLAIN
# every generator, on dummy stack functions, from nlinline+.h
cat >"$TMP/generators.c" <<'GEN'
#include <stdint.h>
#include <nlinline+.h>
struct dummystack { int id; };
static int lib_socket(int d, int t, int p) { (void)d; (void)t; (void)p; return -1; }
static int lib_bind(int fd, const struct sockaddr *a, socklen_t l) { (void)fd; (void)a; (void)l; return -1; }
static ssize_t lib_send(int fd, const void *b, size_t l, int f) { (void)fd; (void)b; (void)l; (void)f; return -1; }
static ssize_t lib_recv(int fd, void *b, size_t l, int f) { (void)fd; (void)b; (void)l; (void)f; return -1; }
static int lib_close(int fd) { (void)fd; return 0; }
static int comp_socket(int d, int t, int p) { (void)d; (void)t; (void)p; return -1; }
static int multi_msocket(struct dummystack *s, int d, int t, int p) { (void)s; (void)d; (void)t; (void)p; return -1; }
static int multi_bind(int fd, const struct sockaddr *a, socklen_t l) { (void)fd; (void)a; (void)l; return -1; }
static ssize_t multi_send(int fd, const void *b, size_t l, int f) { (void)fd; (void)b; (void)l; (void)f; return -1; }
static ssize_t multi_recv(int fd, void *b, size_t l, int f) { (void)fd; (void)b; (void)l; (void)f; return -1; }
static int multi_close(int fd) { (void)fd; return 0; }
static int mcomp_msocket(void *s, int d, int t, int p) { (void)s; (void)d; (void)t; (void)p; return -1; }
NLINLINE_LIB(lib_)
NLINLINE_LIBCOMP(comp_)
NLINLINE_LIBMULTI(multi_)
NLINLINE_LIBMULTICOMP(mcomp_)
int generators(void);
int generators(void) {
	struct dummystack st = {1};
	uint8_t gw[4] = {10, 0, 0, 1};
	unsigned char mac[6];
	struct _stackinfo si;
	msocket_t *ms = NULL;
	int r = 0;
	(void)si; (void)ms;
	r |= lib_if_nametoindex("lo") | lib_linksetupdown(1, 1) | lib_linksetaddr(1, mac) | lib_linkgetaddr(1, mac);
	r |= lib_linksetmtu(1, 1500) | lib_ipaddr_add(AF_INET, gw, 24, 1) | lib_ipaddr_del(AF_INET, gw, 24, 1);
	r |= lib_iproute_add(AF_INET, NULL, 0, gw, 0) | lib_iproute_del(AF_INET, NULL, 0, gw, 0);
	r |= lib_iplink_add("v0", 0, "veth", NULL) | lib_iplink_add_ifd("v0", 0, "veth", NULL, 0);
	r |= lib_iplink_del("v0", 0) | lib_nldialog("lo", NULL);
	r |= comp_if_nametoindex("lo") | comp_iproute_add(AF_INET, NULL, 0, gw, 0) | comp_nldialog(NULL, NULL);
	r |= multi_if_nametoindex(&st, "lo") | multi_ipaddr_add(&st, AF_INET, gw, 24, 1);
	r |= multi_iproute_add(&st, AF_INET, NULL, 0, gw, 0) | multi_iplink_add(&st, "v0", 0, "veth", NULL);
	r |= multi_linkgetaddr(&st, 1, mac) | multi_nldialog(&st, NULL);
	r |= mcomp_if_nametoindex(&st, "lo") | mcomp_iproute_del(&st, AF_INET, NULL, 0, gw, 0);
	r |= mcomp_iplink_add_ifd(&st, "v0", 0, "vde", nl_iplink_strdata(IFLA_VDE_VNL, "null://"));
	return r;
}
GEN
for f in plain generators; do
	if gcc -std=gnu11 -Wall -Wextra -Wpedantic -Werror -I"$SRC/include" -c -o "$TMP/$f.o" "$TMP/$f.c" 2>"$TMP/$f.err"; then
		ok "$f.c compiles with gcc -std=gnu11 -Wall -Wextra -Wpedantic -Werror"
	else
		ko "$f.c (C)"; cat "$TMP/$f.err"
	fi
	sed -e 's/struct dummystack \*s,/dummystack *s,/' "$TMP/$f.c" >"$TMP/$f.cpp"
	if g++ -std=c++20 -Wall -Wextra -Wpedantic -Werror -I"$SRC/include" -c -o "$TMP/${f}_cxx.o" "$TMP/$f.cpp" 2>"$TMP/$f.cxx.err"; then
		ok "$f.c compiles as C++20 with g++ -Wall -Wextra -Wpedantic -Werror"
	else
		ko "$f.c (C++)"; cat "$TMP/$f.cxx.err"
	fi
done
printf '#include <nlinline.h>\n#include <nlinline+.h>\n' >"$TMP/both.c"
if gcc -I"$SRC/include" -c -o /dev/null "$TMP/both.c" 2>"$TMP/both.err"; then
	ko "nlinline.h then nlinline+.h compiled (0.2.2 makes it an #error)"
elif grep -q 'nlinline+.h must be included instead of nlinline.h' "$TMP/both.err"; then
	ok "nlinline.h then nlinline+.h: #error, as in 0.2.2"
else
	ko "nlinline.h then nlinline+.h failed for another reason"; cat "$TMP/both.err"
fi

echo "### b. Debian's nlinline+.h 0.2.2 ($(dpkg-query -W -f '${Version}' nlinline-dev 2>/dev/null || echo '?'))"
if [ -f /usr/include/nlinline+.h ]; then
	# no -I: /usr/include/nlinline+.h and /usr/include/vdestack.h (Debian's)
	if gcc -Wall -c -o /dev/null "$TMP/seed.c" 2>"$TMP/deb.err"; then
		ko "the tutorial's 5-argument vde_iproute_add compiled against Debian's header (expected failure)"
	elif grep -q "too few arguments to function .vde_iproute_add." "$TMP/deb.err"; then
		ok "as expected, Debian's header rejects the tutorial's call:"
		grep -m2 "too few arguments" "$TMP/deb.err" | sed 's/^/       /'
	else
		ko "compiling against Debian's header failed for another reason"; cat "$TMP/deb.err"
	fi
	sed -e 's/NULL, 0, ipv4gw)/NULL, 0, ipv4gw, 0)/; s/NULL, 0, ipv6gw)/NULL, 0, ipv6gw, 0)/' "$TMP/seed.c" >"$TMP/seed6.c"
	if gcc -Wall -Werror -c -o /dev/null "$TMP/seed6.c" 2>"$TMP/deb6.err"; then
		ok "control: with the ifindex appended, the same code compiles against Debian's header"
	else
		ko "control failed"; cat "$TMP/deb6.err"
	fi
	if g++ -std=c++20 -c -o /dev/null "$TMP/seed_cxx.cpp" 2>"$TMP/debcxx.err"; then
		ko "Debian's nlinline+.h compiled as C++ (expected failure)"
	else
		ok "as expected, Debian's nlinline+.h is not valid C++: $(grep -m1 'error' "$TMP/debcxx.err" | sed 's/.*error: //')"
	fi
else
	echo "skip - Debian's nlinline-dev is not installed"
fi

echo "### c. end to end (private netns, vxvde://234.0.0.1)"
if [ -x "$TMP/seed" ]; then
	timeout 30 "$TMP/seed" >"$TMP/seed.out" 2>"$TMP/seed.err" || true
	if [ -s "$TMP/seed.err" ]; then
		ko "the tutorial's net_setup reported errors:"; cat "$TMP/seed.err"
	fi
	for want in "inet 10.0.0.60/24" "inet6 fc00::1:60/64" "default via 10.0.0.1 dev vde0" "default via fc00::1:1 dev vde0"; do
		grep -qF "$want" "$TMP/seed.out" && ok "tutorial net_setup: $want" || { ko "tutorial net_setup: no '$want'"; cat "$TMP/seed.out"; }
	done
	timeout 30 "$TMP/seed_cxx" vxvde://234.0.0.9 >"$TMP/readme.out" 2>"$TMP/readme.err" || true
	if [ ! -s "$TMP/readme.err" ] && grep -qF "default via 2001:760::1 dev vde0" "$TMP/readme.out" &&
		grep -qF "default via 192.168.2.1 dev vde0" "$TMP/readme.out"; then
		ok "README net_setup (C++ build; 5- and 6-argument calls): both default routes"
	else
		ko "README net_setup"; cat "$TMP/readme.out" "$TMP/readme.err"
	fi
fi

SERVER="$BUILD/examples/vdestack6nl"
libs="$(ldd "$SERVER")"  # not piped into grep -q: with pipefail, ldd could die of SIGPIPE
case "$libs" in
*"$BUILD/libvdestack.so.0"*) ok "vdestack6nl runs on our library" ;;
*) ko "vdestack6nl does not use $BUILD/libvdestack.so.0"; echo "$libs" ;;
esac
start_bg "$TMP/server.out" "$SERVER" vxvde://234.0.0.1
if ! wait_for_line "$TMP/server.out" READY 10; then
	ko "vdestack6nl did not start:"; cat "$TMP/server.out"
	exit 1
fi
grep -v '^READY' "$TMP/server.out" | grep . && ko "vdestack6nl reported errors" || ok "vdestack6nl configured itself through netlink: $(cat "$TMP/server.out")"
cat >"$TMP/client.sh" <<'CLIENT'
ip addr add 10.0.0.1/24 dev vde0
ip addr add fc00::1:1/64 dev vde0 nodad
ip link set vde0 up
fail=0
# the server's IPv6 address is usable once its duplicate address detection ends
for i in $(seq 40); do ping -6 -c 1 -W 1 fc00::1:60 >/dev/null 2>&1 && break; sleep 0.1; done
for host in 10.0.0.60 fc00::1:60; do
	echo "\$ ping -c 2 $host"
	ping -c 2 -i 0.2 -W 2 "$host" || fail=1
done
for host in 10.0.0.60 fc00::1:60; do
	echo "\$ echo 'hello $host' | nc $host 5000"
	reply=$(echo "hello $host" | timeout 10 nc -N -w 3 "$host" 5000) || true
	echo "$reply"
	[ "$reply" = "hello $host" ] || { echo "ECHO FAILED for $host"; fail=1; }
done
echo "CLIENT_DONE $fail"
CLIENT
run_vdens "$TMP/client.out" 60 vxvde://234.0.0.1 bash "$TMP/client.sh"
sed '/^CLIENT_DONE/d; s/^/       /' "$TMP/client.out"
if grep -q '^CLIENT_DONE 0$' "$TMP/client.out"; then
	ok "Debian's vdens pinged 10.0.0.60 and fc00::1:60 and echoed over IPv4 and IPv6"
else
	ko "the vdens client failed"
fi
stop_all

[ $fail = 0 ] && echo "NLINLINE SEED OK" || echo "NLINLINE SEED FAILED"
exit $fail
