#!/bin/bash
# switch_tools.sh BUILD SRC - switches with the tools, in a private netns made here:
#   1. our standalone switch (`vde_plug null:// switch://DIR`): a stack on
#      vde://DIR talks TCP to a stack on another vde://DIR port;
#   2. our vde_plug joins vxvde to our switch (`vde_plug vxvde://G switch://DIR`):
#      a stack on vde://DIR and a stack on vxvde://G talk both ways;
#   3. our vde_plug with Debian's vdeplug4 switch node (`/usr/bin/vde_plug
#      null:// switch://DIR`): our vde_plug cables it to vxvde, stacks talk;
#   4. a stack on Debian's vde_switch (vde2) through our vde:// client.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${SWITCH_NETNS:-}" != 1 ]; then
	exec unshare -n env SWITCH_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-switch.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
PLUG="$BUILD/tools/vde_plug"
fail=0

check_echo() {  # server VNL, client VNL
	start_bg "$TMP/server.out" "$BUILD/examples/vdestack6" "$1"
	local srv=$BG_PID rc=0
	if wait_for_line "$TMP/server.out" READY 10; then
		timeout 60 "$BUILD/tests/echo_client" "$2" 10.0.0.1/24 fc00::1:1/64 10.0.0.50:5000 '[fc00::1:50]:5000' \
			| grep -E "echo|CLIENT" || rc=1
	else
		cat "$TMP/server.out"; rc=1
	fi
	kill "$srv"; wait "$srv" 2>/dev/null || true
	return $rc
}

echo "== 1. standalone switch, two vde:// stacks"
start_bg "$TMP/sw1.out" "$PLUG" null:// "switch://$TMP/sw1"
for i in $(seq 50); do [ -S "$TMP/sw1/ctl" ] && break; sleep 0.1; done
check_echo "vde://$TMP/sw1" "vde://$TMP/sw1" || fail=1

echo "== 2. vde_plug vxvde://234.0.0.1 switch://DIR"
start_bg "$TMP/sw2.out" "$PLUG" vxvde://234.0.0.1 "switch://$TMP/sw2"
for i in $(seq 50); do [ -S "$TMP/sw2/ctl" ] && break; sleep 0.1; done
check_echo "vde://$TMP/sw2" vxvde://234.0.0.1 || fail=1
check_echo vxvde://234.0.0.1 "vde://$TMP/sw2" || fail=1

echo "== 3. Debian's vdeplug4 switch node, cabled to vxvde by our vde_plug"
start_bg "$TMP/dsw.out" /usr/bin/vde_plug null:// "switch://$TMP/dsw"
for i in $(seq 50); do [ -S "$TMP/dsw/ctl" ] && break; sleep 0.1; done
start_bg "$TMP/cable.out" "$PLUG" vxvde://234.0.0.2 "vde://$TMP/dsw"
check_echo "vde://$TMP/dsw" vxvde://234.0.0.2 || fail=1

echo "== 4. Debian's vde_switch (vde2)"
vde_switch -d -s "$TMP/vs" -M "$TMP/vs.mgmt" -p "$TMP/vs.pid" </dev/null >/dev/null 2>&1
for i in $(seq 50); do [ -S "$TMP/vs/ctl" ] && break; sleep 0.1; done
BG_PIDS+=("$(cat "$TMP/vs.pid")")
check_echo "vde://$TMP/vs" "vde://$TMP/vs" || fail=1

stop_all
[ $fail = 0 ] && echo "SWITCH TOOLS OK"
exit $fail
