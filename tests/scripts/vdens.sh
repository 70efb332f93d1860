#!/bin/bash
# vdens.sh BUILD SRC - our vdens, in a private netns made here:
#   1. the tutorial's client side with our vdens (configured by --addr, no
#      `ip` needed) against our echo server and against an echo server on
#      Debian's libvdestack;
#   2. the command's exit status passes through (also death by a signal);
#   3. nothing is left behind (a background child of the command is ended);
#   4. a command that exits at once is never missed (the reference hangs);
#   5. usage errors and bad VNLs: clear messages, exit 1/2;
#   6. the command's last bytes get out: a sender that exits with megabytes
#      still in its socket (a slow reader) has them all delivered;
#   7. --dhcp against dnsmasq (Debian's dnsmasq-base) in another vdens on the
#      VNL: the lease, the default route, /etc/resolv.conf, the router
#      reached, renewals (T1 4 s) while the command runs; --config with
#      static data; bad --config strings refused (exit 2);
#   8. a threaded vdeplug4 plugin: slirp:// (libslirp) gets 10.0.2.15 from
#      slirp's DHCP, pings its gateway and reaches a TCP server of this
#      namespace through it.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${VDENS_NETNS:-}" != 1 ]; then
	exec unshare -n env VDENS_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-vdens.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
VDENS="$BUILD/tools/vdens"
VNL=vxvde://234.0.0.1
fail=0

client() {  # the tutorial's client: ping both addresses, echo a line over v4 and v6
	timeout 60 "$VDENS" --addr 10.0.0.1/24 --addr fc00::1:1/64 "$VNL" /bin/bash -c '
		for i in $(seq 40); do ping -6 -c 1 -W 1 fc00::1:50 >/dev/null 2>&1 && break; sleep 0.1; done
		rc=0
		for h in 10.0.0.50 fc00::1:50; do
			ping -c 2 -i 0.2 -W 2 $h >/dev/null && echo "ping $h ok" || { echo "ping $h FAILED"; rc=1; }
			r=$(echo "hello $h" | timeout 10 nc -N -w 3 $h 5000) || true
			[ "$r" = "hello $h" ] && echo "echo $h ok" || { echo "echo $h FAILED ($r)"; rc=1; }
		done
		exit $rc'
}

for server in "$BUILD/examples/vdestack6" "$TMP/ref_vdestack6"; do
	if [ "$server" = "$TMP/ref_vdestack6" ]; then
		gcc -o "$server" "$SRC/examples/vdestack6.c" /usr/lib/x86_64-linux-gnu/libvdestack.so.0
	fi
	echo "== 1. our vdens -> $(basename "$server") ($(ldd "$server" | grep -o '/[^ ]*libvdestack.so.0'))"
	start_bg "$TMP/server.out" "$server" "$VNL"
	if wait_for_line "$TMP/server.out" READY 10; then
		client || fail=1
	else
		cat "$TMP/server.out"; fail=1
	fi
	kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
done

echo "== 2. exit status"
rc=0; "$VDENS" "$VNL" /bin/sh -c 'exit 5' || rc=$?
[ $rc = 5 ] || { echo "exit 5 -> $rc"; fail=1; }
rc=0; "$VDENS" - /bin/sh -c 'kill -9 $$' || rc=$?
[ $rc = 137 ] || { echo "SIGKILL -> $rc (expected 137)"; fail=1; }
rc=0; "$VDENS" "$VNL" /nonexistent/command 2>/dev/null || rc=$?
[ $rc = 127 ] || { echo "missing command -> $rc (expected 127)"; fail=1; }
echo "statuses checked"

echo "== 3. nothing left behind"
"$VDENS" "$VNL" /bin/sh -c "sleep 1000 </dev/null >/dev/null 2>&1 & echo \$! > $TMP/bgpid" || true
sleep 0.2
bg=$(cat "$TMP/bgpid")
if kill -0 "$bg" 2>/dev/null; then echo "background process $bg survived vdens"; fail=1; kill -9 "$bg"; else echo "background child ended"; fi

echo "== 4. fast commands are never missed"
for i in $(seq 20); do
	timeout 10 "$VDENS" "$VNL" /bin/true || { echo "run $i: hang or failure"; fail=1; break; }
done
echo "20 runs of /bin/true"

echo "== 5. errors"
rc=0; out=$("$VDENS" nosuch://x /bin/true 2>&1) || rc=$?
echo "$out"; [ $rc = 1 ] && echo "$out" | grep -c nosuch >/dev/null || { echo "bad VNL: rc $rc"; fail=1; }
rc=0; out=$("$VDENS" --addr 10.0.0.300/24 "$VNL" /bin/true 2>&1) || rc=$?
echo "$out"; [ $rc = 1 ] && echo "$out" | grep -c "10.0.0.300" >/dev/null || { echo "bad address: rc $rc"; fail=1; }
rc=0; "$VDENS" --no-such-option >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || { echo "bad option: rc $rc"; fail=1; }
"$VDENS" --help | grep -c -- "--addr" >/dev/null || fail=1

echo "== 6. the last bytes of a command that has exited"
head -c 40000000 /dev/urandom >"$TMP/data"
start_bg "$TMP/recv.out" "$VDENS" --addr 10.0.0.2/24 "$VNL" /bin/sh -c \
	"echo READY; nc -l 5001 | (sleep 1; cat >$TMP/got)"
if wait_for_line "$TMP/recv.out" READY 10; then
	sleep 0.5
	# bash's /dev/tcp: the shell writes and exits at once, leaving what the
	# receiver has not taken yet in the socket (nc would wait for the peer).
	timeout 30 "$VDENS" --addr 10.0.0.1/24 "$VNL" /bin/bash -c "exec 3<>/dev/tcp/10.0.0.2/5001; cat $TMP/data >&3" || true
	for i in $(seq 100); do kill -0 "$BG_PID" 2>/dev/null || break; sleep 0.1; done
	if cmp -s "$TMP/data" "$TMP/got"; then
		echo "40000000 bytes delivered after the sender exited"
	else
		echo "got $(stat -c %s "$TMP/got" 2>/dev/null || echo 0) of 40000000 bytes"; fail=1
	fi
else
	cat "$TMP/recv.out"; fail=1
fi

echo "== 7. --dhcp and --config against dnsmasq"
if [ -x /usr/sbin/dnsmasq ]; then
	start_bg "$TMP/dnsmasq.out" "$VDENS" --addr 10.0.9.1/24 "$VNL" /usr/sbin/dnsmasq --no-daemon \
		--no-resolv --no-hosts --port=0 --interface=vde0 --bind-interfaces --no-ping --log-dhcp \
		--log-facility="$TMP/dnsmasq.log" --dhcp-leasefile="$TMP/leases" --pid-file="$TMP/dnsmasq.pid" \
		--dhcp-range=10.0.9.50,10.0.9.59,255.255.255.0,2m --dhcp-option=option:router,10.0.9.1 \
		--dhcp-option=option:dns-server,10.0.9.1 --domain=test.lan --dhcp-option=option:T1,4 \
		--dhcp-option=option:T2,100
	for i in $(seq 100); do grep -q "DHCP, IP range" "$TMP/dnsmasq.log" 2>/dev/null && break; sleep 0.1; done
	timeout 60 "$VDENS" --dhcp "$VNL" /bin/sh -c '
		ip -4 addr show dev vde0 | grep -o "inet 10\.0\.9\.5[0-9]/24" && echo "lease ok"
		ip route | grep -q "default via 10.0.9.1 dev vde0" && echo "route ok"
		[ "$(cat /etc/resolv.conf)" = "$(printf "search test.lan\nnameserver 10.0.9.1")" ] && echo "resolv.conf ok"
		ping -c 1 -W 2 10.0.9.1 >/dev/null && echo "router ok"
		sleep 9' | tee "$TMP/dhcp.out"
	for what in "lease ok" "route ok" "resolv.conf ok" "router ok"; do
		grep -q "$what" "$TMP/dhcp.out" || { echo "--dhcp: no '$what'"; fail=1; }
	done
	requests=$(grep -c "DHCPREQUEST(vde0)" "$TMP/dnsmasq.log" || true)
	[ "$requests" -ge 3 ] && echo "renewed while the command ran ($requests REQUESTs)" \
		|| { echo "--dhcp: $requests DHCPREQUESTs in 9 s with T1 4 s"; fail=1; }
	out=$(timeout 60 "$VDENS" --config "eth,ip=10.0.9.7/24,gw=10.0.9.1,dns=10.0.9.1,domain=static.lan" "$VNL" \
		/bin/sh -c 'ip -4 addr show dev vde0 | grep -c "inet 10.0.9.7/24"; cat /etc/resolv.conf; ping -c 1 -W 2 10.0.9.1 >/dev/null && echo pinged')
	echo "$out"
	[ "$out" = "$(printf "1\nsearch static.lan\nnameserver 10.0.9.1\npinged")" ] || { echo "--config static: wrong"; fail=1; }
	stop_all
else
	echo "no /usr/sbin/dnsmasq: skipped"
fi
for bad in "eth,frobnicate" "ip=10.0.0.300/24" "ip=10.0.0.1/33"; do
	rc=0; out=$("$VDENS" --config "$bad" "$VNL" /bin/true 2>&1) || rc=$?
	[ $rc = 2 ] && echo "$out" | grep -q "ioth_config" || { echo "--config $bad: rc $rc: $out"; fail=1; }
done
rc=0; "$VDENS" --dhcp - /bin/true 2>/dev/null || rc=$?
[ $rc = 2 ] || { echo "--dhcp without a VNL: rc $rc"; fail=1; }
echo "bad --config strings refused"

echo "== 8. a threaded plugin: slirp://"
if [ -e /usr/lib/x86_64-linux-gnu/vdeplug/libvdeplug_slirp.so ]; then
	start_bg "$TMP/host.out" nc -l 127.0.0.1 5002
	sleep 0.2
	timeout 60 "$VDENS" --dhcp slirp:// /bin/sh -c '
		ip -4 addr show dev vde0 | grep -q "inet 10.0.2.15/24" && echo "slirp lease ok"
		ping -c 1 -W 2 10.0.2.2 >/dev/null && echo "slirp gateway ok"
		echo "through slirp" | timeout 10 nc -N -w 3 10.0.2.2 5002' | tee "$TMP/slirp.out"
	grep -q "slirp lease ok" "$TMP/slirp.out" && grep -q "slirp gateway ok" "$TMP/slirp.out" || fail=1
	for i in $(seq 50); do grep -q "through slirp" "$TMP/host.out" && break; sleep 0.1; done
	grep -q "through slirp" "$TMP/host.out" && echo "slirp reached this namespace's TCP server" \
		|| { echo "slirp: no TCP to 127.0.0.1 through 10.0.2.2"; fail=1; }
	stop_all
else
	echo "no libvdeplug_slirp: skipped"
fi

stop_all
[ $fail = 0 ] && echo "VDENS OK"
exit $fail
