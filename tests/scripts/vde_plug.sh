#!/bin/bash
# vde_plug.sh BUILD SRC - our vde_plug, in a private netns made here:
#   1. a cable: two stacks on different vxvde groups meet through
#      `vde_plug vxvde://234.0.0.1 vxvde://234.0.0.2` (TCP echo, IPv4 and IPv6);
#   2. stream framing interop: `vde_plug vxvde://234.0.0.1 = vde_plug vxvde://234.0.0.3`
#      with DEBIAN's vde_plug as the command (frames cross the stdin/stdout
#      framing in both directions between ours and the reference);
#   3. usage errors and a bad VNL give clear messages and exit codes.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${VDEPLUG_NETNS:-}" != 1 ]; then
	exec unshare -n env VDEPLUG_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-vdeplug.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
PLUG="$BUILD/tools/vde_plug"
fail=0

check_echo() {  # server VNL, client VNL
	start_bg "$TMP/server.out" "$BUILD/examples/vdestack6" "$1"
	wait_for_line "$TMP/server.out" READY 10 || { cat "$TMP/server.out"; return 1; }
	local rc=0
	timeout 60 "$BUILD/tests/echo_client" "$2" 10.0.0.1/24 fc00::1:1/64 10.0.0.50:5000 '[fc00::1:50]:5000' \
		| grep -E "echo|CLIENT" || rc=1
	kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
	return $rc
}

echo "== 1. cable vxvde://234.0.0.1 <-> vxvde://234.0.0.2"
start_bg "$TMP/plug1.out" "$PLUG" vxvde://234.0.0.1 vxvde://234.0.0.2
PLUG1=$BG_PID
check_echo vxvde://234.0.0.1 vxvde://234.0.0.2 || fail=1
kill "$PLUG1"; rc=0; wait "$PLUG1" 2>/dev/null || rc=$?
[ $rc = 0 ] || { echo "vde_plug exit status on SIGTERM: $rc"; fail=1; }

echo "== 2. ours = Debian's vde_plug (stream framing both ways)"
start_bg "$TMP/plug2.out" "$PLUG" vxvde://234.0.0.1 = /usr/bin/vde_plug vxvde://234.0.0.3
check_echo vxvde://234.0.0.1 vxvde://234.0.0.3 || fail=1

echo "== 3. errors"
out=$("$PLUG" nosuch://x 2>&1) && { echo "bad scheme accepted"; fail=1; }
echo "$out"
echo "$out" | grep -c "nosuch" >/dev/null || fail=1
rc=0; "$PLUG" a b c >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || { echo "three VNLs: expected exit 2, got $rc"; fail=1; }
"$PLUG" --help | grep -c "vde_plug" >/dev/null || fail=1
# a command that ends ends the plug, with its status
rc=0; "$PLUG" null:// = /bin/sh -c 'exit 7' </dev/null || rc=$?
[ $rc = 7 ] || { echo "'= command' status: expected 7, got $rc"; fail=1; }

stop_all
[ $fail = 0 ] && echo "VDE_PLUG OK"
exit $fail
