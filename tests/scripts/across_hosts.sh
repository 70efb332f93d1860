#!/bin/bash
# across_hosts.sh BUILD SRC - how users outgrow one machine: stacks on different
# "hosts" of a LAN meet over real multicast across interfaces.
#
# Topology, made here inside a private netns of our own (the "switch"):
#
#        host A (netns)          host B (netns)          host C (netns)
#     eth0 192.168.77.1/24    eth0 192.168.77.2/24    eth0 192.168.77.3/24
#            |                       |                       |
#           hA ------------------- br0 ------------------- hC        <- this netns
#                                    |
#                                   hB
#
# Each host's 224.0.0.0/4 is routed to its "lo" on purpose (a decoy): only the
# if=eth0 option of our VNLs gets multicast onto the LAN.
#   1. vxvde: the tutorial's echo server (examples/vdestack6) on host A and
#      tests/echo_client on host B (pings + TCP echo over IPv4 and IPv6), with
#      'vxvde://239.1.2.3/if=eth0/ttl=N' (N = 3 on A, 4 on B); without if= the
#      same network is unreachable (the decoy route keeps it on lo); with it,
#      host C and a second stack on host A itself reach the server too.
#   2. vxlan: a KERNEL vxlan device on host B (vx0, VNI 1, group 239.1.2.4,
#      dstport 4789, 10.1.0.1/24) and a stack on host C through our vdens on
#      'vxlan://239.1.2.4/if=eth0/ttl=2': C pings B's vx0, B pings C's stack,
#      20 MB of TCP go each way intact (GRO mode and UDP_SEGMENT against the
#      kernel's vxlan), and B's kernel learned C's MAC at 192.168.77.3.
# Proof that traffic crossed the bridge: the bridge ports' packet counters, and
# (when python3 is available) a packet capture on the bridge ports that checks
# who sent what, to whom (learned unicast across hosts), and the IP TTL set by
# ttl=. Every wait is bounded; every process (and so every host namespace,
# held by a process) is ended on exit.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${ACROSS_NETNS:-}" != 1 ]; then
	exec unshare -n env ACROSS_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-across.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM  # so that the EXIT trap runs
VDENS="$BUILD/tools/vdens"
fail=0

declare -A HPID IP
IP[A]=192.168.77.1
IP[B]=192.168.77.2
IP[C]=192.168.77.3

# on HOST CMD ARGS...: runs CMD in HOST's network namespace.
on() {
	local h="$1"
	shift
	nsenter -t "${HPID[$h]}" -n "$@"
}

counter() {  # counter IFACE rx|tx: packets through a bridge port (this netns; not
	# /sys/class/net, which shows the netns that mounted sysfs)
	ip -s link show dev "$1" | awk -v want="${2^^}:" '$1 == want { getline; print $2; exit }'
}

echo "== LAN: three hosts on a bridge"
ip link add br0 type bridge mcast_snooping 0
ip link set br0 up
for h in A B C; do
	netns_host "$h" br0 || exit 1
	HPID[$h]=$HOST_PID
	on "$h" ip link set lo up multicast on
	on "$h" ip link set eth0 up
	on "$h" ip addr add "${IP[$h]}/24" dev eth0
	on "$h" ip route add 224.0.0.0/4 dev lo  # the decoy: only if= reaches the LAN
done
for h in B C; do
	on A ping -c 1 -W 2 "${IP[$h]}" >/dev/null || { echo "underlay: A cannot ping $h"; exit 1; }
done
echo "hosts A B C up, underlay pings ok"

# Packet capture on the bridge ports: one line per UDP datagram (vxvde's
# unicast goes between ephemeral ports),
# "PORT in|out SRC DST SPORT DPORT TTL" (in = sent by that port's host).
SNIFF=0
if command -v python3 >/dev/null && python3 -c 'import socket' 2>/dev/null; then
	cat >"$TMP/sniff.py" <<-'EOF'
		import select, socket, struct, sys
		socks = {}
		for ifname in sys.argv[1:]:
		    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL: a bridge port's
		    s.bind((ifname, 3))  # frames are consumed by the bridge before others see them
		    socks[s] = ifname
		print("SNIFFING", flush=True)
		while True:
		    for s in select.select(list(socks), [], [], 1.0)[0]:
		        data, addr = s.recvfrom(65536)
		        if len(data) < 42 or data[12:14] != b"\x08\x00" or data[23] != 17:
		            continue
		        ihl = (data[14] & 15) * 4
		        sport, dport = struct.unpack("!HH", data[14 + ihl:18 + ihl])
		        way = "out" if addr[2] == socket.PACKET_OUTGOING else "in"
		        print(socks[s], way, socket.inet_ntoa(data[26:30]), socket.inet_ntoa(data[30:34]),
		              sport, dport, data[22], flush=True)
	EOF
	start_bg "$TMP/sniff.out" python3 "$TMP/sniff.py" hA hB hC
	if wait_for_line "$TMP/sniff.out" SNIFFING 10; then SNIFF=1; else echo "capture not available"; cat "$TMP/sniff.out"; fi
else
	echo "python3 not available: checking the bridge counters only"
fi

# sniffed AWK-CONDITION: how many captured datagrams match ($1 port, $2 way,
# $3 src, $4 dst, $5 sport, $6 dport, $7 ttl).
sniffed() {
	awk "$1 { n++ } END { print n + 0 }" "$TMP/sniff.out"
}

# grew BEFORE AFTER MIN WHAT: the counter grew by at least MIN.
grew() {
	if [ $(($2 - $1)) -ge "$3" ]; then
		echo "   $4: +$(($2 - $1)) packets"
	else
		echo "   $4: only +$(($2 - $1)) packets (expected >= $3)"
		fail=1
	fi
}

echo "== 1. vxvde across hosts: echo server on A, client on B"
VNL_A='vxvde://239.1.2.3/if=eth0/ttl=3'
VNL_B='vxvde://239.1.2.3/if=eth0/ttl=4'
a_rx=$(counter hA rx) b_rx=$(counter hB rx)
start_bg "$TMP/server.out" nsenter -t "${HPID[A]}" -n "$BUILD/examples/vdestack6" "$VNL_A"
server=$BG_PID
if wait_for_line "$TMP/server.out" READY 15; then
	rc=0
	on B timeout 90 "$BUILD/tests/echo_client" "$VNL_B" 10.0.0.1/24 fc00::1:1/64 10.0.0.50:5000 '[fc00::1:50]:5000' \
		>"$TMP/client.out" 2>&1 || rc=$?
	grep -E "ping|echo|CLIENT" "$TMP/client.out" || true
	if [ $rc = 0 ]; then echo "   host B -> host A over vxvde: ok"; else echo "   echo_client failed ($rc)"; cat "$TMP/client.out"; fail=1; fi

	# Without if=, host C's multicast follows the decoy route to lo: A is unreachable.
	rc=0
	on C timeout 30 "$VDENS" --addr 10.0.0.3/24 'vxvde://239.1.2.3/ttl=4' ping -c 1 -W 2 10.0.0.50 >/dev/null 2>&1 || rc=$?
	if [ $rc != 0 ]; then echo "   without if=: unreachable, as expected"; else echo "   without if=: reached A?!"; fail=1; fi
	rc=0
	on C timeout 30 "$VDENS" --addr 10.0.0.3/24 'vxvde://239.1.2.3/if=eth0' ping -c 1 -W 2 10.0.0.50 >/dev/null 2>&1 || rc=$?
	if [ $rc = 0 ]; then echo "   host C -> host A with if=eth0: ok"; else echo "   host C -> host A with if=eth0 failed ($rc)"; fail=1; fi
	# Many processes per host: a second stack on host A itself.
	rc=0
	on A timeout 30 "$VDENS" --addr 10.0.0.4/24 "$VNL_A" ping -c 1 -W 2 10.0.0.50 >/dev/null 2>&1 || rc=$?
	if [ $rc = 0 ]; then echo "   second stack on host A -> host A: ok"; else echo "   second stack on host A failed ($rc)"; fail=1; fi
else
	echo "server did not start"; cat "$TMP/server.out"; fail=1
fi
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
grew "$a_rx" "$(counter hA rx)" 10 "bridge port hA, from host A"
grew "$b_rx" "$(counter hB rx)" 10 "bridge port hB, from host B"
if [ $SNIFF = 1 ]; then
	sleep 0.3
	m=$(sniffed '$1=="hA" && $2=="in" && $3=="192.168.77.1" && $4=="239.1.2.3" && $6==14789')
	u=$(sniffed '$1=="hA" && $2=="in" && $3=="192.168.77.1" && $4=="192.168.77.2"')
	ub=$(sniffed '$1=="hB" && $2=="in" && $3=="192.168.77.2" && $4=="192.168.77.1"')
	t3=$(sniffed '$2=="in" && $3=="192.168.77.1" && $7!=3')  # vxvde: unicast too
	t4=$(sniffed '$2=="in" && $3=="192.168.77.2" && $7!=4')
	echo "   captured: A multicast $m, A->B unicast $u, B->A unicast $ub, wrong TTL $t3 (A) $t4 (B)"
	[ "$m" -ge 1 ] && [ "$u" -ge 1 ] && [ "$ub" -ge 1 ] || { echo "   expected multicast and learned unicast both ways"; fail=1; }
	[ "$t3" = 0 ] && [ "$t4" = 0 ] || { echo "   ttl= not honoured on the wire"; fail=1; }
fi

echo "== 2. vxlan: a stack on host C, a kernel vxlan device on host B"
VNL_C='vxlan://239.1.2.4/if=eth0/ttl=2'
on B ip link add vx0 type vxlan id 1 group 239.1.2.4 dev eth0 dstport 4789
on B ip link set vx0 address 02:00:5e:77:00:02
on B ip addr add 10.1.0.1/24 dev vx0
on B ip link set vx0 up
# Over a veth underlay the kernel leaves the inner TCP checksum unfinished
# (checksum offload of the veth); a user-space VTEP (ours, vdeplug4's) gets
# the datagram as it is. A NIC would finish it: so does software here.
on B ethtool -K vx0 tx off >/dev/null
b_rx=$(counter hB rx) c_rx=$(counter hC rx)
# One stack on C (our vdens): it pings B's vx0, then B's kernel pings it.
rm -f "$TMP/done"
head -c 20000000 /dev/urandom >"$TMP/vxdata"
start_bg "$TMP/vxlan.out" nsenter -t "${HPID[C]}" -n timeout 60 "$VDENS" --addr 10.1.0.2/24 "$VNL_C" /bin/bash -c \
	"ping -c 2 -i 0.3 -W 2 10.1.0.1 || exit 3; echo STACK_PINGED
	nc -l 7000 >'$TMP/vxgot'; echo BULK_IN
	exec 3<>/dev/tcp/10.1.0.1/7001 && cat '$TMP/vxdata' >&3; exec 3>&-; echo BULK_OUT
	for i in \$(seq 300); do [ -e '$TMP/done' ] && exit 0; sleep 0.1; done; exit 4"
vd=$BG_PID
if wait_for_line "$TMP/vxlan.out" STACK_PINGED 20; then
	echo "   stack on C -> kernel vx0 on B: ping ok"
	rc=0
	on B ping -c 2 -i 0.3 -W 2 10.1.0.2 >"$TMP/ping_b.out" 2>&1 || rc=$?
	if [ $rc = 0 ]; then echo "   kernel on B -> stack on C: ping ok"; else echo "   ping from B failed"; cat "$TMP/ping_b.out"; fail=1; fi
	# Bulk both ways (20 MB each, byte for byte): the kernel's datagrams
	# put our socket in GRO mode, ours leave in UDP_SEGMENT runs.
	on B timeout 60 nc -l 7001 >"$TMP/vxback" &
	nb=$!
	on B timeout 30 bash -c "exec 3<>/dev/tcp/10.1.0.2/7000; cat '$TMP/vxdata' >&3" || true
	if wait_for_line "$TMP/vxlan.out" BULK_IN 20 && cmp -s "$TMP/vxdata" "$TMP/vxgot"; then
		echo "   kernel on B -> stack on C: 20000000 bytes intact"
	else
		echo "   kernel on B -> stack on C: got $(stat -c %s "$TMP/vxgot" 2>/dev/null || echo 0) of 20000000 bytes"; fail=1
	fi
	if wait_for_line "$TMP/vxlan.out" BULK_OUT 30; then
		for _ in $(seq 100); do kill -0 "$nb" 2>/dev/null || break; sleep 0.1; done
	fi
	wait "$nb" 2>/dev/null || true
	if cmp -s "$TMP/vxdata" "$TMP/vxback"; then
		echo "   stack on C -> kernel on B: 20000000 bytes intact"
	else
		echo "   stack on C -> kernel on B: got $(stat -c %s "$TMP/vxback" 2>/dev/null || echo 0) of 20000000 bytes"; fail=1
	fi
	fdb=$(on B bridge fdb show dev vx0)
	if echo "$fdb" | grep -c "dst 192.168.77.3" >/dev/null; then
		echo "   B's kernel learned C's stack: $(echo "$fdb" | grep "dst 192.168.77.3" | head -1)"
	else
		echo "   B's kernel did not learn host C"; echo "$fdb"; fail=1
	fi
else
	echo "   the stack on C could not ping B's vx0"; fail=1
fi
touch "$TMP/done"
for _ in $(seq 100); do kill -0 "$vd" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$vd" 2>/dev/null || rc=$?
[ $rc = 0 ] || { echo "   vdens on C exited $rc"; cat "$TMP/vxlan.out"; fail=1; }
grew "$b_rx" "$(counter hB rx)" 4 "bridge port hB, from host B"
grew "$c_rx" "$(counter hC rx)" 4 "bridge port hC, from host C"
if [ $SNIFF = 1 ]; then
	sleep 0.3
	m=$(sniffed '$1=="hC" && $2=="in" && $3=="192.168.77.3" && $4=="239.1.2.4" && $5==4789 && $6==4789')
	u=$(sniffed '$1=="hC" && $2=="in" && $3=="192.168.77.3" && $4=="192.168.77.2" && $5==4789 && $6==4789')
	k=$(sniffed '$1=="hB" && $2=="in" && $3=="192.168.77.2" && $4=="192.168.77.3" && $6==4789')
	t2=$(sniffed '$2=="in" && $3=="192.168.77.3" && $4=="239.1.2.4" && $7!=2')
	echo "   captured: C multicast $m, C->B unicast $u, B (kernel) -> C unicast $k, wrong TTL $t2"
	[ "$m" -ge 1 ] && [ "$u" -ge 1 ] && [ "$k" -ge 1 ] || { echo "   expected multicast and learned unicast both ways"; fail=1; }
	[ "$t2" = 0 ] || { echo "   ttl= not honoured on the wire"; fail=1; }
fi

stop_all
[ $fail = 0 ] && echo "ACROSS HOSTS OK"
exit $fail
