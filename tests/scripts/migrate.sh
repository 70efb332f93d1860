#!/bin/bash
# migrate.sh BUILD SRC - a live echo server moves while a client talks to it
# (examples/migrate_echo: vde_stack_save on SIGUSR1, vde_stack_restore with
# --resume), the client being Debian's vdens (package vdens; our build's
# tools/vdens when it is missing) running a python3 client:
#   the client keeps two TCP connections to the server's port 7777 and sends
#   200 numbered lines on them in turn, one every 20 ms; it checks that every
#   line comes back on its connection, in order, none missing, and no reset. When it has sent half of them, the
#   script sends SIGUSR1 to the server A, waits for A to exit, and starts
#   B = migrate_echo --resume IMAGE. Then a new connection to B gets its echo
#   too (the listener moved).
#   a. within one host: A, B and the client on vxvde://234.0.0.9 in the
#      private netns made here (lo, multicast routed on it), server
#      10.0.9.1/24, client 10.0.9.2/24; a6. the same over IPv6
#      (fc00:9::1/64, fc00:9::2/64);
#   b. across hosts: three host netns on a bridge in that netns (as
#      across_hosts.sh), vxvde multicast over their veths
#      ('vxvde://234.0.0.9/if=eth0'): A on host 1, B restored on host 2
#      (VNL given again on its command line), the client on host 3.
# Every wait is bounded; every process (and so every host netns, held by a
# process) is ended on exit.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "$(id -u)" != 0 ]; then echo "needs root to make the namespaces; skipped"; exit 0; fi
if ! command -v python3 >/dev/null || ! python3 -c 'import socket, select' 2>/dev/null; then
	echo "python3 is not available (the client is a python3 script); skipped"
	exit 0
fi
if [ "${MIGRATE_NETNS:-}" != 1 ]; then
	exec unshare -n env MIGRATE_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-migrate.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM  # so that the EXIT trap runs
fail=0

ECHO="$BUILD/examples/migrate_echo"
[ -x "$ECHO" ] || { echo "$ECHO is not built"; exit 1; }
ldd "$ECHO" | grep "$BUILD/libvdestack.so.0" >/dev/null || { echo "$ECHO does not use our library"; exit 1; }
if [ -x /usr/bin/vdens ]; then
	VDENS=/usr/bin/vdens
	echo "client: Debian's vdens ($VDENS)"
else
	VDENS="$BUILD/tools/vdens"
	echo "Debian's vdens (package vdens) is not installed: the client runs in our build's $VDENS"
fi
# The interpreter itself (not a shim that may look at $HOME in the client's namespace).
PY="$(python3 -c 'import sys; print(sys.executable)')"
LINES=200 INTERVAL_MS=20

# client.py HOST PORT LINES INTERVAL_MS: two connections (the server saves
# and restores both), numbered lines sent on each in turn, every echo checked
# in order on its connection; then one more connection. Prints CONNECTED,
# HALF (half of the lines sent), a summary, and CLIENT_DONE 0|1 at the end.
cat >"$TMP/client.py" <<-'EOF'
	import select, socket, sys, time
	host, port, nlines, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) / 1000.0
	NCONN = 2
	def say(*a):
	    print(*a, flush=True)
	def connect(deadline):
	    while True:
	        try:
	            return socket.create_connection((host, port), timeout=2)
	        except OSError:
	            if time.monotonic() > deadline:
	                raise
	            time.sleep(0.1)
	def line(i):
	    return b"line %05d %s\n" % (i, b"x" * (i % 37))
	ok = True
	try:
	    conns = [connect(time.monotonic() + 15) for _ in range(NCONN)]
	    for s in conns:
	        s.setblocking(False)
	    say("CONNECTED")
	    sent = got = 0
	    expect = list(range(NCONN))  # the next line number due on each connection
	    bufs = [b""] * NCONN
	    start = next_send = time.monotonic()
	    last_echo = start
	    max_gap = 0.0
	    deadline = None
	    while got < nlines and ok:
	        now = time.monotonic()
	        if sent < nlines and now >= next_send:
	            conns[sent % NCONN].sendall(line(sent))  # a few bytes: the send buffer has room
	            sent += 1
	            next_send += interval
	            if sent == nlines // 2:
	                say("HALF")
	            if sent == nlines:
	                deadline = time.monotonic() + 30  # for the echoes still to come
	        if deadline is not None and now > deadline:
	            say("TIMEOUT: %d of %d lines echoed" % (got, nlines))
	            ok = False
	            break
	        wait = max(0.0, next_send - now) if sent < nlines else 0.5
	        for s in select.select(conns, [], [], wait)[0]:
	            k = conns.index(s)
	            data = s.recv(65536)
	            if not data:
	                say("EOF on connection %d after %d lines echoed" % (k, got))
	                ok = False
	                break
	            now = time.monotonic()
	            max_gap = max(max_gap, now - last_echo)
	            last_echo = now
	            bufs[k] += data
	            while b"\n" in bufs[k]:
	                l, bufs[k] = bufs[k].split(b"\n", 1)
	                if l + b"\n" != line(expect[k]):
	                    say("WRONG LINE on connection %d: expected %d, got %r" % (k, expect[k], l))
	                    ok = False
	                    break
	                expect[k] += NCONN
	                got += 1
	            if not ok:
	                break
	    if ok:
	        say("ECHOED %d/%d in order, longest wait for an echo %.0f ms, %.1f s in all"
	            % (got, nlines, max_gap * 1000, time.monotonic() - start))
	    for s in conns:
	        s.close()
	    s2 = connect(time.monotonic() + 10)
	    s2.settimeout(10)
	    s2.sendall(b"a new connection\n")
	    reply = b""
	    while not reply.endswith(b"\n"):
	        d = s2.recv(100)
	        if not d:
	            break
	        reply += d
	    s2.close()
	    if reply == b"a new connection\n":
	        say("NEWCONN OK")
	    else:
	        say("NEWCONN got %r" % reply)
	        ok = False
	except ConnectionResetError as e:
	    say("RESET:", e)
	    ok = False
	except Exception as e:
	    say("ERROR:", repr(e))
	    ok = False
	say("CLIENT_DONE %d" % (0 if ok else 1))
EOF

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_exit PID SECONDS: 0 once PID has ended (its status in WAIT_RC), 1 if
# it is still running after SECONDS.
wait_exit() {
	local _
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && return 1
	WAIT_RC=0
	wait "$1" 2>/dev/null || WAIT_RC=$?
	return 0
}

# migrate NAME VNL SERVER CLIENT/LEN "ON_A" "ON_B" "ON_C" [VNL_B]: the whole
# scenario, the server at SERVER/LEN; ON_X is the prefix that runs a command
# on that host ("" here, or nsenter ...); VNL_B, when given, is passed to
# --resume.
migrate() {
	local name="$1" vnl="$2" server="$3" client="$4" on_a="$5" on_b="$6" on_c="$7" vnl_b="${8:-}"
	local img="$TMP/$name.img" out="$TMP/$name" a b c t0 t1 t2 ok=1 nodad=""
	case "$client" in *:*) nodad=nodad ;; esac
	# shellcheck disable=SC2086
	start_bg "$out.a" $on_a "$ECHO" "$vnl" "$server/${client#*/}" 7777 "$img"
	a=$BG_PID
	wait_for_line "$out.a" READY 15 || { echo "   A did not start:"; cat "$out.a"; return 1; }
	echo "   A serves ($(head -1 "$out.a"))"
	# shellcheck disable=SC2086
	start_bg "$out.c" $on_c timeout 90 "$VDENS" "$vnl" /bin/bash -c \
		"ip addr add $client dev vde0 $nodad && ip link set vde0 up || exit 5
		exec '$PY' '$TMP/client.py' $server 7777 $LINES $INTERVAL_MS"
	c=$BG_PID
	if ! wait_for_line "$out.c" CONNECTED 20; then
		echo "   the client could not connect:"; cat "$out.c"; return 1
	fi
	if ! wait_for_line "$out.c" HALF 20; then
		echo "   the client did not send half of its lines:"; cat "$out.c"; return 1
	fi
	t0=$(now_ms)
	kill -USR1 "$a"
	if ! wait_exit "$a" 15; then
		echo "   A is still running 15 s after SIGUSR1:"; cat "$out.a"; return 1
	fi
	t1=$(now_ms)
	sed 's/^/   A: /' "$out.a" | grep -v READY || true
	[ "$WAIT_RC" = 0 ] || { echo "   A exited $WAIT_RC"; ok=0; }
	grep -q "saved 3 sockets" "$out.a" || { echo "   A did not say it saved 3 sockets (the listener and 2 connections)"; ok=0; }
	[ -s "$img" ] && [ ! -e "$img.tmp" ] || { echo "   no image (or a leftover $img.tmp)"; return 1; }
	echo "   image: $(stat -c %s "$img") bytes"
	# shellcheck disable=SC2086
	start_bg "$out.b" $on_b "$ECHO" --resume "$img" $vnl_b
	b=$BG_PID
	if ! wait_for_line "$out.b" READY 15; then
		echo "   B did not start:"; cat "$out.b"; return 1
	fi
	t2=$(now_ms)
	sed 's/^/   B: /' "$out.b" || true
	grep -q "resumed 3 sockets" "$out.b" || { echo "   B did not say it resumed 3 sockets"; ok=0; }
	echo "   SIGUSR1 -> A gone: $((t1 - t0)) ms; A gone -> B serving: $((t2 - t1)) ms"
	if ! wait_for_line "$out.c" '^CLIENT_DONE' 60; then
		echo "   the client did not finish:"; cat "$out.c"; return 1
	fi
	sed -n '/^\(CONNECTED\|HALF\)$/!s/^/   client: /p' "$out.c"
	grep -q '^CLIENT_DONE 0$' "$out.c" && grep -q "^ECHOED $LINES/$LINES in order" "$out.c" &&
		grep -q '^NEWCONN OK$' "$out.c" || ok=0
	# Debian's vdens 0.2 may hang after its command ends (see run_vdens).
	wait_exit "$c" 3 || { kill -9 "$c" 2>/dev/null || true; wait "$c" 2>/dev/null || true; }
	kill -TERM "$b"
	if wait_exit "$b" 10; then
		[ "$WAIT_RC" = 0 ] || { echo "   B exited $WAIT_RC on SIGTERM"; ok=0; }
	else
		echo "   B still running 10 s after SIGTERM"; ok=0
	fi
	[ $ok = 1 ]
}

echo "== a. within one host: A, B and the client on vxvde://234.0.0.9"
T=$(now_ms)
if migrate one vxvde://234.0.0.9 10.0.9.1 10.0.9.2/24 "" "" ""; then
	echo "   ok ($(($(now_ms) - T)) ms)"
else
	echo "   FAILED: within one host"; fail=1
fi
stop_all

echo "== a6. the same over IPv6 (fc00:9::1/64, client fc00:9::2/64)"
T=$(now_ms)
if migrate one6 vxvde://234.0.0.9 fc00:9::1 fc00:9::2/64 "" "" ""; then
	echo "   ok ($(($(now_ms) - T)) ms)"
else
	echo "   FAILED: IPv6 within one host"; fail=1
fi
stop_all

echo "== b. across hosts: A on host 1, B on host 2, the client on host 3"
T=$(now_ms)
declare -A HPID
ip link add br0 type bridge mcast_snooping 0
ip link set br0 up
for h in 1 2 3; do
	netns_host "$h" br0 || exit 1
	HPID[$h]=$HOST_PID
	nsenter -t "${HPID[$h]}" -n ip link set lo up
	nsenter -t "${HPID[$h]}" -n ip link set eth0 up multicast on
	nsenter -t "${HPID[$h]}" -n ip addr add "192.168.79.$h/24" dev eth0
	nsenter -t "${HPID[$h]}" -n ip route add 224.0.0.0/4 dev eth0
done
for h in 2 3; do
	nsenter -t "${HPID[1]}" -n ping -c 1 -W 2 "192.168.79.$h" >/dev/null || { echo "underlay: host 1 cannot ping host $h"; exit 1; }
done
echo "   hosts 1 2 3 up, underlay pings ok"
rx1=$(ip -s link show dev h1 | awk '$1 == "RX:" { getline; print $2; exit }')
rx2=$(ip -s link show dev h2 | awk '$1 == "RX:" { getline; print $2; exit }')
VNL='vxvde://234.0.0.9/if=eth0'
if migrate across "$VNL" 10.0.9.1 10.0.9.2/24 "nsenter -t ${HPID[1]} -n" "nsenter -t ${HPID[2]} -n" "nsenter -t ${HPID[3]} -n" "$VNL"; then
	echo "   ok ($(($(now_ms) - T)) ms)"
else
	echo "   FAILED: across hosts"; fail=1
fi
# Proof that the stack was on host 1, then on host 2: both sent on the bridge.
d1=$(($(ip -s link show dev h1 | awk '$1 == "RX:" { getline; print $2; exit }') - rx1))
d2=$(($(ip -s link show dev h2 | awk '$1 == "RX:" { getline; print $2; exit }') - rx2))
echo "   packets from host 1: $d1, from host 2: $d2"
[ "$d1" -ge 20 ] && [ "$d2" -ge 20 ] || { echo "   FAILED: expected traffic from both host 1 and host 2"; fail=1; }

stop_all
[ $fail = 0 ] && echo "MIGRATE OK" || echo "MIGRATE FAILED"
exit $fail
