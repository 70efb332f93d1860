#!/bin/bash
# vdeplug_capi.sh BUILD SRC - our libvdeplug.so.2 (the vdeplug4 C API over our
# transports, BUILD/vdeplug/) against Debian's libvdeplug2, in a private netns
# made here. tests/progs/vdeplug_echo.c, an ordinary libvdeplug program, is
# compiled UNCHANGED twice: with Debian's header and library, and with ours
# (ldd proves which library each runs on). Then:
#   1. ours and Debian's exchange distinct frames over vxvde:// both ways
#      (one pings N frames, the other echoes them);
#   2. the same through Debian's vde_switch (vde://, where ctlfd is the
#      control stream: both notice the switch going away on it);
#   3. through a scheme we do not implement, vlan:// (libvdeplug-vlan): ours
#      opens it through the installed plugin, whose inner vxvde:// comes back
#      to our transports, and talks to Debian's;
#   4. a bad VNL: vde_open returns NULL with EPROTONOSUPPORT (unknown scheme)
#      or EINVAL (bad option), as Debian's does; vde_recv(MSG_DONTWAIT) on a
#      quiet network is -1 EAGAIN (ours);
#   5. vdestream: a round trip through a pipe (split reads: ours only, the
#      4.0.1 reference loses sync on a split length header).
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${VDEPLUG_CAPI_NETNS:-}" != 1 ]; then
	exec unshare -n env VDEPLUG_CAPI_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
unset LD_LIBRARY_PATH LD_PRELOAD
TMP="$(mktemp -d /tmp/vdestack-vdeplug.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
OURLIB="$BUILD/vdeplug"
N=300
fail=0

echo "== 0. build the same program against both libraries"
PROG="$SRC/tests/progs/vdeplug_echo.c"
gcc -Wall -Wextra -Werror -O2 -o "$TMP/echo_deb" "$PROG" -lvdeplug
gcc -Wall -Wextra -Werror -O2 -o "$TMP/echo_ours" "$PROG" -I"$SRC/include" -L"$OURLIB" -lvdeplug -Wl,-rpath,"$OURLIB"
ldd "$TMP/echo_deb" | grep libvdeplug
ldd "$TMP/echo_ours" | grep libvdeplug
ldd "$TMP/echo_deb" | grep -cE "libvdeplug.so.2 => (/usr)?/lib/x86_64-linux-gnu/libvdeplug.so.2" >/dev/null ||
	{ echo "echo_deb is not on Debian's libvdeplug"; fail=1; }
ldd "$TMP/echo_ours" | grep -c "libvdeplug.so.2 => $OURLIB/libvdeplug.so.2" >/dev/null ||
	{ echo "echo_ours is not on our libvdeplug"; fail=1; }
exports=$(nm -D --defined-only "$OURLIB/libvdeplug.so.2" | awk '{print $3}' | sort | tr '\n' ' ')
echo "our exports: $exports"
[ "$exports" = "vde_close vde_ctlfd vde_datafd vde_open_real vde_recv vde_send vdestream_close vdestream_open vdestream_recv vdestream_send " ] ||
	{ echo "our libvdeplug exports more or less than the libvdeplug API"; fail=1; }
readelf -d "$OURLIB/libvdeplug.so.2" | grep -c 'SONAME.*\[libvdeplug.so.2\]' >/dev/null || { echo "bad SONAME"; fail=1; }

# pair NAME ECHO_PROG PING_PROG VNL [PING_VNL]: ECHO answers N pings of PING.
pair() {
	local name="$1" echo_prog="$2" ping_prog="$3" vnl="$4" ping_vnl="${5:-$4}"
	echo "-- $name: $(basename "$echo_prog") echoes, $(basename "$ping_prog") pings ($N frames) on $vnl"
	start_bg "$TMP/echo.out" "$echo_prog" echo "$vnl" "$N" 30
	local epid=$BG_PID
	if ! wait_for_line "$TMP/echo.out" READY 10; then
		echo "echo did not start:"; cat "$TMP/echo.out"; fail=1; return
	fi
	timeout 40 "$ping_prog" ping "$ping_vnl" "$N" 30 || { echo "FAILED: $name (ping)"; fail=1; }
	local rc=0
	wait "$epid" || rc=$?
	cat "$TMP/echo.out"
	[ $rc = 0 ] || { echo "FAILED: $name (echo, status $rc)"; fail=1; }
}

echo "== 1. vxvde://, both directions"
pair "ours<-Debian" "$TMP/echo_ours" "$TMP/echo_deb" vxvde://234.0.0.81
pair "Debian<-ours" "$TMP/echo_deb" "$TMP/echo_ours" vxvde://234.0.0.82
pair "ours<-ours" "$TMP/echo_ours" "$TMP/echo_ours" vxvde://234.0.0.83
grep -q "datafd=" "$TMP/echo.out" || fail=1

echo "== 2. vde:// through Debian's vde_switch"
vde_switch -d -s "$TMP/sw" -p "$TMP/sw.pid" </dev/null >/dev/null 2>&1
for _ in $(seq 100); do [ -S "$TMP/sw/ctl" ] && break; sleep 0.05; done
BG_PIDS+=("$(cat "$TMP/sw.pid")")
pair "ours<-Debian" "$TMP/echo_ours" "$TMP/echo_deb" "vde://$TMP/sw"
grep -q "ctlfd=-1" "$TMP/echo.out" && { echo "vde:// must have a ctl fd"; fail=1; }
pair "Debian<-ours" "$TMP/echo_deb" "$TMP/echo_ours" "$TMP/sw"   # a bare path is vde://
# the switch goes away: both see it on vde_ctlfd
start_bg "$TMP/hup_ours.out" "$TMP/echo_ours" echo "vde://$TMP/sw" 1000 20
HUP_OURS=$BG_PID
start_bg "$TMP/hup_deb.out" "$TMP/echo_deb" echo "vde://$TMP/sw" 1000 20
HUP_DEB=$BG_PID
wait_for_line "$TMP/hup_ours.out" READY 10 && wait_for_line "$TMP/hup_deb.out" READY 10 || fail=1
kill "$(cat "$TMP/sw.pid")"
for p in $HUP_OURS $HUP_DEB; do
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
done
for f in hup_ours hup_deb; do
	echo "$f: $(grep 'hung up' "$TMP/$f.out" || echo 'did not notice the hang-up')"
	grep -q "hung up" "$TMP/$f.out" || fail=1
done

echo "== 3. vlan:// (an installed plugin, not built in) through ours"
if [ -e /usr/lib/x86_64-linux-gnu/vdeplug/libvdeplug_vlan.so ]; then
	pair "ours<-Debian" "$TMP/echo_ours" "$TMP/echo_deb" "vlan://5{vxvde://234.0.0.84}"
	pair "Debian<-ours" "$TMP/echo_deb" "$TMP/echo_ours" "vlan://5{vxvde://234.0.0.85}"
	# tagged on the wire: ours on plain vxvde sees nothing of VLAN 5's pings...
	start_bg "$TMP/plain.out" "$TMP/echo_ours" echo vxvde://234.0.0.86 1 2
	wait_for_line "$TMP/plain.out" READY 10 || fail=1
	timeout 10 "$TMP/echo_deb" ping "vlan://5{vxvde://234.0.0.86}" 1 1 >/dev/null && { echo "untagged echo answered VLAN 5"; fail=1; }
	wait "$BG_PID" 2>/dev/null && { echo "plain vxvde saw VLAN 5 pings as untagged"; fail=1; }
	echo "VLAN 5 traffic is tagged on the wire: ok"
else
	echo "libvdeplug-vlan is not installed (scripts/deps.sh installs it)"; fail=1
fi

echo "== 4. bad VNLs"
check_open() {  # PROG VNL EXPECTED
	local out
	out=$("$1" open "$2" 2>&1 | tail -1 || true)
	echo "$(basename "$1") $2: $out"
	echo "$out" | grep -c "NULL errno=.* $3" >/dev/null || { echo "FAILED: expected $3"; fail=1; }
}
for p in "$TMP/echo_ours" "$TMP/echo_deb"; do
	check_open "$p" nosuch://x EPROTONOSUPPORT
	check_open "$p" 'vxvde://234.0.0.1/nosuchopt=1' EINVAL
done
check_open "$TMP/echo_ours" 'vlan://3{nosuch://x}' EPROTONOSUPPORT
check_open "$TMP/echo_ours" 'vxvde://not-an-address' EINVAL
"$TMP/echo_ours" open nosuch://x 2>&1 | grep -c "NULL" >/dev/null || fail=1

"$TMP/echo_ours" nowait vxvde://234.0.0.87 | tail -1
"$TMP/echo_ours" nowait vxvde://234.0.0.87 | grep -c "NOWAIT -1 EAGAIN" >/dev/null || fail=1

echo "== 5. vdestream"
"$TMP/echo_ours" stream whole || fail=1
"$TMP/echo_deb" stream whole || fail=1
"$TMP/echo_ours" stream split || fail=1
echo "(Debian's, split reads: $("$TMP/echo_deb" stream split 2>/dev/null || true))"

stop_all
[ $fail = 0 ] && echo "VDEPLUG_CAPI OK"
exit $fail
