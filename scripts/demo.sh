#!/bin/bash
# demo.sh [stackcmd|netlink] - the tutorial, end to end, in a private network namespace.
#
# Installs what is missing, builds, then, inside a network namespace made
# here (only "lo", multicast routed on it: no packet leaves the machine):
#   server: examples/vdestack6, an echo server on its own stack joined to
#           vxvde://234.0.0.1 as 10.0.0.50/24 and fc00::1:50/64 (configured
#           with vde_stackcmd + busybox ip, as the tutorial does); with
#           "netlink", examples/vdestack6nl, the tutorial's second variant:
#           10.0.0.60/24 and fc00::1:60/64 configured through nlinline+;
#   client: a vdens on the same VNL as 10.0.0.1/24 and fc00::1:1/64 pings both
#           addresses and echoes a line over TCP on IPv4 and IPv6.
# Prints the transcript; exits 0 only if all of it worked.
# Environment: BUILD (build dir), DEMO_SERVER (another server binary taking
# the VNL as its first argument), DEMO_NO_BUILD=1 (skip deps and build).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
if [ "${VDESTACK_DEMO_NETNS:-}" != 1 ]; then
	if [ "${DEMO_NO_BUILD:-}" != 1 ]; then
		"$SRC/scripts/deps.sh"
		"$SRC/scripts/build.sh" "$BUILD" >/dev/null
	fi
	exec unshare -n env VDESTACK_DEMO_NETNS=1 BUILD="$BUILD" bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo

VNL="vxvde://234.0.0.1"
VARIANT="${1:-stackcmd}"
case "$VARIANT" in
stackcmd) DEFAULT_SERVER="$BUILD/examples/vdestack6" HOST=50 ;;
netlink) DEFAULT_SERVER="$BUILD/examples/vdestack6nl" HOST=60 ;;
*) echo "usage: $0 [stackcmd|netlink]" >&2; exit 2 ;;
esac
TMP="$(mktemp -d /tmp/vdestack-demo.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT

SERVER="${DEMO_SERVER:-$DEFAULT_SERVER}"
echo "== server: $SERVER $VNL (10.0.0.$HOST/24, fc00::1:$HOST/64, port 5000)"
start_bg "$TMP/server.out" "$SERVER" "$VNL"
wait_for_line "$TMP/server.out" READY 10 || { echo "server did not start:"; cat "$TMP/server.out"; exit 1; }
cat "$TMP/server.out"

echo "== client: vdens $VNL (10.0.0.1/24, fc00::1:1/64)"
cat >"$TMP/client.sh" <<CLIENT
ip addr add 10.0.0.1/24 dev vde0
ip addr add fc00::1:1/64 dev vde0 nodad
ip link set vde0 up
fail=0
# the server's IPv6 address is usable once its duplicate address detection ends
for i in \$(seq 40); do ping -6 -c 1 -W 1 fc00::1:$HOST >/dev/null 2>&1 && break; sleep 0.1; done
for host in 10.0.0.$HOST fc00::1:$HOST; do
	echo "\\\$ ping -c 2 \$host"
	ping -c 2 -i 0.2 -W 2 "\$host" || fail=1
done
for host in 10.0.0.$HOST fc00::1:$HOST; do
	echo "\\\$ echo 'hello \$host' | nc \$host 5000"
	reply=\$(echo "hello \$host" | timeout 10 nc -N -w 3 "\$host" 5000) || true
	echo "\$reply"
	[ "\$reply" = "hello \$host" ] || { echo "ECHO FAILED for \$host"; fail=1; }
done
echo "CLIENT_DONE \$fail"
CLIENT
run_vdens "$TMP/client.out" 60 "$VNL" bash "$TMP/client.sh"
sed '/^CLIENT_DONE/d' "$TMP/client.out"
if grep -q '^CLIENT_DONE 0$' "$TMP/client.out"; then
	echo "== DEMO OK: pings and TCP echo over IPv4 and IPv6 through vxvde"
	exit 0
fi
echo "== DEMO FAILED"
exit 1
