#!/bin/bash
# unprivileged.sh BUILD SRC - stacks work for a user without privileges: the
# helper runs in a user namespace of its own (mapping only the caller's ids),
# the tests pass, the tutorial works between two unprivileged programs, and
# vdens takes a DHCP lease through slirp:// (a plugin that starts threads).
#
# As root, this script prepares a private network namespace (lo, multicast
# route) and a private mount namespace where /dev/net/tun is a 0666 node (the
# host's is 0600 root here; Debian's default is 0666), then drops to nobody.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "$(id -u)" != 0 ]; then echo "needs root to prepare the namespaces; skipped"; exit 0; fi
if [ "${UNPRIV_NS:-}" != 1 ]; then
	exec unshare -n -m --propagation private env UNPRIV_NS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
mount -t tmpfs -o mode=0755 tmpfs /dev/net
mknod -m 0666 /dev/net/tun c 10 200
TMP="$(mktemp -d /tmp/vdestack-unpriv.XXXXXX)"
chmod 0777 "$TMP"
trap 'stop_all; rm -rf "$TMP"' EXIT
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env HOME="$TMP" TMPDIR="$TMP")
fail=0

echo "== stack tests as nobody"
"${AS_NOBODY[@]}" VDESTACK_TEST_NETNS_READY=1 VDESTACK_HELPER="$BUILD/vdestack-helper" \
	"$BUILD/tests/capi_tests" \
	--gtest_filter='CApi.TwoStacks*:CApi.StackCmd*:CApi.Msocket*:CApi.Forked*:CApi.LoopbackOnly*:CApi.DefaultStack*' \
	|| fail=1
"${AS_NOBODY[@]}" VDESTACK_TEST_NETNS_READY=1 VDESTACK_HELPER="$BUILD/vdestack-helper" \
	"$BUILD/tests/stack_tests" --gtest_filter='CxxApi.*:RepairInStack.*:*Migrate*' || fail=1

echo "== the tutorial between two unprivileged programs"
start_bg "$TMP/server.out" "${AS_NOBODY[@]}" "$BUILD/examples/vdestack6" vxvde://234.0.0.1
SERVER_PID=$BG_PID  # setpriv and env exec: this is the server itself
if wait_for_line "$TMP/server.out" READY 10; then
	helper=$(pgrep -P "$SERVER_PID" | head -1)
	echo "helper pid $helper: uid $(stat -c %u /proc/$helper), userns $(readlink /proc/$helper/ns/user) vs ours $(readlink /proc/self/ns/user)"
	[ "$(stat -c %u /proc/$helper)" = 65534 ] || { echo "helper does not run as nobody"; fail=1; }
	[ "$(readlink /proc/$helper/ns/user)" != "$(readlink /proc/self/ns/user)" ] || { echo "helper is not in a user namespace"; fail=1; }
	uid_map=$(tr -s ' ' <"/proc/$helper/uid_map" | sed 's/^ //')
	echo "helper uid_map: $uid_map"
	[ "$uid_map" = "65534 65534 1" ] || { echo "uid_map must map only the caller's uid"; fail=1; }
	timeout 60 "${AS_NOBODY[@]}" "$BUILD/tests/echo_client" vxvde://234.0.0.1 10.0.0.1/24 fc00::1:1/64 \
		10.0.0.50:5000 '[fc00::1:50]:5000' | grep -E "echo|CLIENT" || fail=1
else
	cat "$TMP/server.out"
	fail=1
fi
stop_all

echo "== our vdens as nobody, against an unprivileged server"
start_bg "$TMP/server.out" "${AS_NOBODY[@]}" "$BUILD/examples/vdestack6" vxvde://234.0.0.1
if wait_for_line "$TMP/server.out" READY 10; then
	timeout 60 "${AS_NOBODY[@]}" "$BUILD/tools/vdens" --addr 10.0.0.1/24 vxvde://234.0.0.1 \
		/bin/sh -c 'id -u; ping -c 2 -W 2 10.0.0.50 >/dev/null && echo "vdens ping ok"; r=$(echo hi | timeout 10 nc -N -w 3 10.0.0.50 5000); [ "$r" = hi ] && echo "vdens echo ok"' \
		| tee "$TMP/vdens.out"
	grep -q "vdens ping ok" "$TMP/vdens.out" && grep -q "vdens echo ok" "$TMP/vdens.out" || fail=1
	[ "$(head -1 "$TMP/vdens.out")" = 65534 ] || { echo "vdens command must run as the caller (65534)"; fail=1; }
else
	cat "$TMP/server.out"; fail=1
fi
stop_all

echo "== vdens --dhcp slirp:// as nobody (a threaded plugin, our DHCP client)"
if [ -e /usr/lib/x86_64-linux-gnu/vdeplug/libvdeplug_slirp.so ]; then
	out=$(timeout 60 "${AS_NOBODY[@]}" "$BUILD/tools/vdens" --dhcp slirp:// /bin/sh -c \
		'ip -4 addr show dev vde0 | grep -o "inet 10.0.2.15/24"; cat /etc/resolv.conf' 2>&1) || true
	echo "$out"
	[ "$out" = "$(printf "inet 10.0.2.15/24\nnameserver 10.0.2.3")" ] || { echo "slirp as nobody: wrong"; fail=1; }
else
	echo "no libvdeplug_slirp: skipped"
fi
stop_all
[ $fail = 0 ] && echo "UNPRIVILEGED OK"
exit $fail
