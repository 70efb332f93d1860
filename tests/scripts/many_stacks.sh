#!/bin/bash
# many_stacks.sh BUILD SRC - many stacks alive in one process, each reachable:
# tests/progs/many_stacks makes MANY_STACKS (default 400) stacks on
# vxvde://234.0.0.11 (one helper, so they share one group socket), each with
# 10.50.x.y/16 and fc00:50::N/64 (DAD on), configured through netlink. Then a
# vdens on the same VNL (Debian's; our build's when it is missing) at
# 10.50.255.1/16 and fc00:50::1/64 pings a sample of them, spread over the
# whole range and including the first and the last, over IPv4 and IPv6: each
# must answer. So ARP (broadcast), IPv6 neighbour discovery (solicited-node
# multicast, delivered by MLD snooping to the one stack that joined) and the
# replies (learned unicast) all work with hundreds of stacks on one socket.
# Checked too: the helper holds about one fd per stack (its tap: no netns fd,
# and the network's two sockets are shared) and a fixed number of threads;
# after the deletes no helper is left. The helper is a thread of the program
# (root's default; then the program's fds and threads are counted, and its fd
# limit is raised to the hard one here, as a program of many stacks does), or
# a process with MANY_HELPER_THREAD=0. In a private netns of our own (lo, multicast routed on it);
# every wait is bounded.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "$(id -u)" != 0 ]; then echo "needs root to make the namespace; skipped"; exit 0; fi
if [ "${MANY_NETNS:-}" != 1 ]; then
	exec unshare -n env MANY_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-many.XXXXXX)"
trap 'exec 7>&- 2>/dev/null; stop_all; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
N="${MANY_STACKS:-400}"
SAMPLE="${MANY_SAMPLE:-12}"
VNL=vxvde://234.0.0.11
PROG="$BUILD/tests/many_stacks"
[ -x "$PROG" ] || { echo "$PROG is not built"; exit 1; }
if [ -x /usr/bin/vdens ]; then VDENS=/usr/bin/vdens; else VDENS="$BUILD/tools/vdens"; fi
echo "peer: $VDENS"

mkfifo "$TMP/in"
ulimit -n "$(ulimit -Hn)"
VDESTACK_HELPER_THREAD="${MANY_HELPER_THREAD:-1}" VDESTACK_HELPER="$BUILD/vdestack-helper" \
	"$PROG" "$VNL" "$N" <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
PROG_PID=$!
BG_PIDS+=("$PROG_PID")
exec 7>"$TMP/in"  # held open: the program waits for its EOF
deadline=$((SECONDS + 240))
until grep -q '^CREATED' "$TMP/out"; do
	if ! kill -0 "$PROG_PID" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
		echo "FAIL: the stacks were not created"; cat "$TMP/err"; exit 1
	fi
	sleep 0.2
done
read -r _ made per <"$TMP/out"
echo "created $made of $N stacks, ${per} us per stack"
[ "$made" = "$N" ] || { echo "FAIL: only $made stacks"; cat "$TMP/err"; exit 1; }

helper="$(pgrep -P "$PROG_PID" -x vdestack-helper | head -1 || true)"
rss_p=$(awk '/^VmRSS/ {print $2}' "/proc/$PROG_PID/status")
if [ -n "$helper" ]; then
	fds=$(ls "/proc/$helper/fd" | wc -l)
	tasks=$(ls "/proc/$helper/task" | wc -l)
	rss_h=$(awk '/^VmRSS/ {print $2}' "/proc/$helper/status")
	echo "helper process: $fds fds, $tasks threads, RSS $rss_h kB; program RSS $rss_p kB; for $N stacks"
else
	[ "${MANY_HELPER_THREAD:-1}" = 1 ] || { echo "FAIL: no helper"; exit 1; }
	helper=""
	fds=$(ls "/proc/$PROG_PID/fd" | wc -l)
	tasks=$(( $(ls "/proc/$PROG_PID/task" | wc -l) - 1 ))  # the program's own thread not counted
	rss_h=0
	echo "helper thread: the program has $fds fds, $tasks threads besides its own, RSS $rss_p kB; for $N stacks"
fi
echo "per stack: $(( (rss_h + rss_p) * 10 / N ))e-1 kB of RSS (helper and program)"
fail=0
# A helper thread's fds are the program's, which keeps the namespace fds of
# up to 256 stacks for its direct sockets (client.cpp, kMaxDirect).
if [ -n "$helper" ]; then direct=0; else direct=256; fi
if [ "$fds" -gt $((N + direct + 40)) ]; then echo "FAIL: more than one fd per stack"; fail=1; fi
if [ "$tasks" -gt 8 ]; then echo "FAIL: threads grow with the stacks"; fail=1; fi

# The sample: the first, the last, and SAMPLE-2 spread between.
targets=""
for k in $(seq 0 $((SAMPLE - 1))); do
	i=$(( k * (N - 1) / (SAMPLE - 1) ))
	targets="$targets $i"
done
cat >"$TMP/peer.sh" <<-EOF
	ip link set lo up
	ip addr add 10.50.255.1/16 dev vde0
	ip addr add fc00:50::1/64 dev vde0 nodad
	ip link set vde0 up
	bad=0
	for i in $targets; do
		a4="10.50.\$((i / 250)).\$((i % 250 + 2))"
		a6="fc00:50::\$(printf %x \$((i + 2)))"
		ok4=no; ok6=no
		for try in 1 2 3; do ping -c1 -W2 "\$a4" >/dev/null 2>&1 && { ok4=yes; break; }; done
		for try in 1 2 3; do ping -6 -c1 -W2 "\$a6" >/dev/null 2>&1 && { ok6=yes; break; }; done
		echo "stack \$i: \$a4 \$ok4, \$a6 \$ok6"
		[ \$ok4 = yes ] && [ \$ok6 = yes ] || bad=1
	done
	echo "CLIENT_DONE \$bad"
EOF
run_vdens "$TMP/peer.out" 200 "$VNL" /bin/sh "$TMP/peer.sh"
cat "$TMP/peer.out"
grep -q '^CLIENT_DONE 0' "$TMP/peer.out" || { echo "FAIL: some stacks did not answer"; fail=1; }

exec 7>&-  # EOF: the program deletes its stacks
deadline=$((SECONDS + 120))
while kill -0 "$PROG_PID" 2>/dev/null; do
	[ $SECONDS -gt $deadline ] && { echo "FAIL: the deletes did not finish"; exit 1; }
	sleep 0.2
done
wait "$PROG_PID" || { echo "FAIL: many_stacks failed"; cat "$TMP/err"; fail=1; }
grep '^DELETED' "$TMP/out" | sed 's/^DELETED/deleted: us per stack/'
# The helper tears its stacks down after the program's EOF: allow it 10 s.
if [ -n "$helper" ]; then
	for _ in $(seq 100); do kill -0 "$helper" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$helper" 2>/dev/null; then echo "FAIL: the helper outlived the program"; fail=1; fi
fi
[ $fail = 0 ] && echo "PASS: $N stacks, a sample of $SAMPLE reachable over IPv4 and IPv6"
exit $fail
