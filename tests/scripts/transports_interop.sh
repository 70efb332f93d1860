#!/bin/bash
# transports_interop.sh BUILD SRC - the ptp, udp, cmd and tap transports with
# stacks, against DEBIAN's vdeplug4 4.0.1 where it has the transport, in a
# private netns made here. Each case: our echo server (examples/vdestack6) on
# one VNL, the test's echo client (tests/echo_client, TCP over IPv4 and IPv6)
# on another, joined by a cable:
#   1. ptp, ours FIRST end: server on ptp://P1, Debian `vde_plug ptp://P1
#      vxvde://G` (Debian second end), client on vxvde://G;
#   2. ptp, ours SECOND end: Debian `vde_plug ptp://P2 vxvde://G` started
#      first (Debian first end), server on ptp://P2, client on vxvde://G;
#   3. udp IPv4: server on udp://5001->127.0.0.1:5002, Debian
#      `vde_plug udp://5002->127.0.0.1:5001 vxvde://G`, client on vxvde://G;
#   4. udp IPv6: server on udp://[::1]:5003->[::1]:5004, Debian
#      `vde_plug udp://::1:5004->::1:5003 vxvde://G` (vdeplug4's bare form);
#   5. cmd, ours: server on cmd:///usr/bin/vde_plug vxvde://G (Debian's
#      vde_plug speaks the stream framing on its stdin/stdout), client on G;
#   6. cmd, Debian's: Debian `vde_plug vxvde://G1 cmd://"OUR_vde_plug vxvde://G2"`
#      (Debian's cmd plugin with our vde_plug's stdin/stdout), server on G1,
#      client on G2;
#   7. tap: server on tap://vdt0; this netns talks to it over vdt0 (TCP echo
#      with bash's /dev/tcp, IPv4 and IPv6);
#   8. tap in our vde_plug: `vde_plug tap://vdt1 vxvde://G`, server on G, this
#      netns talks over vdt1.
# Every process started is stopped by pid; every wait is bounded.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${TRANSPORTS_NETNS:-}" != 1 ]; then
	exec unshare -n env TRANSPORTS_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-transports.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
PLUG="$BUILD/tools/vde_plug"
DEBIAN=/usr/bin/vde_plug
SERVER=""
fail=0

if [ ! -x "$DEBIAN" ]; then
	echo "Debian's vde_plug is not installed: skipping"
	exit 0
fi

# start_server NAME VNL: the echo server, up when it prints READY.
start_server() {
	start_bg "$TMP/server-$1.out" "$BUILD/examples/vdestack6" "$2"
	SERVER=$BG_PID
	wait_for_line "$TMP/server-$1.out" READY 15 || { cat "$TMP/server-$1.out"; return 1; }
}

stop_pid() {
	kill "$1" 2>/dev/null || true
	local i
	for i in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

run_client() {  # VNL
	timeout 60 "$BUILD/tests/echo_client" "$1" 10.0.0.1/24 fc00::1:1/64 10.0.0.50:5000 '[fc00::1:50]:5000' \
		| grep -E "echo|CLIENT"
}

# wait_socket PATH: a socket appears at PATH (5 s).
wait_socket() {
	local i
	for i in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	echo "no socket at $1"
	return 1
}

# tcp_echo HOST: TCP echo through this netns' kernel to HOST port 5000.
tcp_echo() {
	local i
	for i in $(seq 30); do
		if timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/5000" && echo "hello $1" >&3 && read -r -t 3 line <&3 &&
			[ "$line" = "hello $1" ]' _ "$1" 2>/dev/null; then
			echo "   echo $1 (from this netns): ok"
			return 0
		fi
		sleep 0.3
	done
	echo "   echo $1 (from this netns): FAILED"
	return 1
}

# host_side IFNAME: this netns' end of a tap, addresses without DAD.
host_side() {
	ip link set "$1" up
	ip addr add 10.0.0.1/24 dev "$1"
	ip addr add fc00::1:1/64 dev "$1" nodad
}

echo "== 1. ptp: ours first end, Debian's vde_plug second end"
if start_server ptp1 "ptp://$TMP/p1"; then
	wait_socket "$TMP/p1" || fail=1
	start_bg "$TMP/cable1.out" "$DEBIAN" "ptp://$TMP/p1" vxvde://234.0.0.21
	CABLE=$BG_PID
	wait_socket "$TMP/p1+" || { cat "$TMP/cable1.out"; fail=1; }
	run_client vxvde://234.0.0.21 || fail=1
	stop_pid "$CABLE"
	stop_pid "$SERVER"
else
	fail=1
fi

echo "== 2. ptp: Debian's vde_plug first end, ours second end"
start_bg "$TMP/cable2.out" "$DEBIAN" "ptp://$TMP/p2" vxvde://234.0.0.22
CABLE=$BG_PID
wait_socket "$TMP/p2" || fail=1
if start_server ptp2 "ptp://$TMP/p2"; then
	[ -S "$TMP/p2+" ] || { echo "our end did not bind p2+"; fail=1; }
	run_client vxvde://234.0.0.22 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
stop_pid "$CABLE"

echo "== 3. udp IPv4: ours <-> Debian's vde_plug"
start_bg "$TMP/cable3.out" "$DEBIAN" "udp://5002->127.0.0.1:5001" vxvde://234.0.0.23
CABLE=$BG_PID
if start_server udp4 "udp://5001->127.0.0.1:5002"; then
	run_client vxvde://234.0.0.23 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
stop_pid "$CABLE"

echo "== 4. udp IPv6: ours (bracketed) <-> Debian's vde_plug (bare)"
start_bg "$TMP/cable4.out" "$DEBIAN" "udp://::1:5004->::1:5003" vxvde://234.0.0.24
CABLE=$BG_PID
if start_server udp6 "udp://[::1]:5003->[::1]:5004"; then
	run_client vxvde://234.0.0.24 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
stop_pid "$CABLE"

echo "== 5. cmd: ours, with Debian's vde_plug as the command"
if start_server cmd5 "cmd://$DEBIAN vxvde://234.0.0.25"; then
	run_client vxvde://234.0.0.25 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi

echo "== 6. cmd: Debian's, with our vde_plug as the command"
start_bg "$TMP/cable6.out" "$DEBIAN" vxvde://234.0.0.26 "cmd://$PLUG vxvde://234.0.0.27"
CABLE=$BG_PID
if start_server cmd6 vxvde://234.0.0.26; then
	run_client vxvde://234.0.0.27 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
stop_pid "$CABLE"

echo "== 7. tap: a stack on tap://vdt0, this netns on vdt0"
if start_server tap7 tap://vdt0; then
	host_side vdt0
	tcp_echo 10.0.0.50 || fail=1
	tcp_echo fc00::1:50 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
for i in $(seq 50); do ip link show vdt0 >/dev/null 2>&1 || break; sleep 0.1; done
if ip link show vdt0 >/dev/null 2>&1; then echo "vdt0 outlived its transport"; fail=1; fi

echo "== 8. tap in our vde_plug: vde_plug tap://vdt1 vxvde://234.0.0.28"
start_bg "$TMP/cable8.out" "$PLUG" tap://vdt1 vxvde://234.0.0.28
CABLE=$BG_PID
for i in $(seq 100); do ip link show vdt1 >/dev/null 2>&1 && break; sleep 0.05; done
if start_server tap8 vxvde://234.0.0.28; then
	host_side vdt1
	tcp_echo 10.0.0.50 || fail=1
	tcp_echo fc00::1:50 || fail=1
	stop_pid "$SERVER"
else
	fail=1
fi
stop_pid "$CABLE"

stop_all
[ $fail = 0 ] && echo "TRANSPORTS INTEROP OK"
exit $fail
