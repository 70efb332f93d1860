#!/bin/bash
# ioth.sh [--quick] - the IoTh layer's benchmark: what libioth + libiothconf
# add over our own libvdestack path, and DHCP through ioth_config against
# busybox's udhcpc, both served by dnsmasq; inside a private network
# namespace made here (only lo, multicast routed on it: no packet reaches
# the host's interfaces). Prints a Markdown table: figure, reference, ours,
# ours/reference.
#
# lifecycle_ioth.*  ioth_newstack + ioth_config("eth,ip=10.0.0.1/24,
#                   gw=10.0.0.254") + ioth_delstack; lifecycle_iothc.*
#                   ioth_newstackc with the same string; their reference is
#                   vde_addstack + the same configuration through nlinline+.h
#                   + vde_delstack, in the same process, cycles interleaved
#                   (bench/iothbench.c). Medians and p90 in us.
# dhcp.*            ioth_config(s, "eth,dhcp"), and "eth" then "dhcp" on
#                   other stacks, against dnsmasq (dnsmasq-base) in our vdens
#                   on the same VNL. The reference: busybox udhcpc in a vdens
#                   (fork + exec to exit, its script putting the address and
#                   route on vde0), and `busybox ip link set vde0 up` for eth.
# Environment: BUILD (our build dir, default ./build; built first unless
# NO_BUILD=1).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "${IOTH_BENCH_NETNS:-}" != 1 ]; then
	[ "${NO_BUILD:-}" = 1 ] || "$SRC/scripts/build.sh" "$BUILD" >/dev/null
	exec unshare -n env IOTH_BENCH_NETNS=1 BUILD="$BUILD" bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-iothbench.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
VNL=vxvde://234.0.0.1
VDENS="$BUILD/tools/vdens"
DNSMASQ=/usr/sbin/dnsmasq
BUSYBOX=/bin/busybox
export VDESTACK_HELPER="$BUILD/vdestack-helper"
for f in "$VDENS" "$VDESTACK_HELPER" "$DNSMASQ" "$BUSYBOX"; do
	[ -x "$f" ] || { echo "ioth.sh: $f is missing" >&2; exit 1; }
done
if [ $QUICK = 1 ]; then CYCLES=20 DHCPN=5 UDHCPN=5; else CYCLES=200 DHCPN=30 UDHCPN=30; fi

B="$TMP/iothbench"
gcc -O2 -Wall -o "$B" "$SRC/bench/iothbench.c" -I"$SRC/include" -L"$BUILD" -lvdestack -liothconf -lioth \
	-Wl,-rpath,"$BUILD" -lpthread

# ---- lifecycle: the three paths, before any DHCP server exists ----
timeout 600 "$B" lifecycle "$CYCLES" "$VNL" >"$TMP/life.out"

# ---- DHCP: dnsmasq in our vdens on the VNL ----
# --no-daemon: in the vdens' user namespace dnsmasq cannot setgroups;
# --no-ping: no 3 s ping check of each address it offers.
start_bg "$TMP/dnsmasq.out" "$VDENS" --addr 10.0.9.1/24 "$VNL" "$DNSMASQ" --no-daemon --no-resolv --no-hosts \
	--port=0 --interface=vde0 --bind-interfaces --no-ping --log-facility="$TMP/dnsmasq.log" \
	--dhcp-leasefile="$TMP/dnsmasq.leases" --pid-file="$TMP/dnsmasq.pid" \
	--dhcp-range=10.0.9.50,10.0.9.250,255.255.255.0,2m --dhcp-option=option:router,10.0.9.1
if ! wait_for_line "$TMP/dnsmasq.log" "DHCP, IP range" 15; then
	echo "ioth.sh: dnsmasq did not start" >&2
	cat "$TMP/dnsmasq.out" "$TMP/dnsmasq.log" >&2 2>/dev/null || true
	exit 1
fi
sleep 0.5

timeout 600 "$B" dhcp "$DHCPN" "$VNL" >"$TMP/dhcp.out"

# The reference client: a vdens per run (a fresh MAC, as our fresh stacks);
# the script puts the lease on vde0 as our client does (address, router).
cat >"$TMP/udhcpc.script" <<EOF
#!/bin/sh
# udhcpc event script of bench/ioth.sh: the lease's address and default route on the interface
case "\$1" in
bound|renew)
	$BUSYBOX ip addr add "\$ip/\$mask" dev "\$interface"
	[ -z "\${router:-}" ] || $BUSYBOX ip route add default via "\${router%% *}" dev "\$interface"
	;;
esac
exit 0
EOF
chmod +x "$TMP/udhcpc.script"
: >"$TMP/udhcpc.times"
fails=0
for i in $(seq "$UDHCPN"); do
	out="$TMP/udhcpc.$i.out"
	timeout 60 "$VDENS" "$VNL" /bin/sh -c "'$B' timeit $BUSYBOX ip link set vde0 up &&
		'$B' timeit $BUSYBOX udhcpc -i vde0 -f -q -n -s '$TMP/udhcpc.script' &&
		$BUSYBOX ip -4 addr show dev vde0" >"$out" 2>&1 || true
	if grep -q 'inet 10\.0\.9\.' "$out" && [ "$(grep -c '^timeit' "$out")" = 2 ]; then
		awk '/^timeit/ {t[++k]=$2} END {print t[1], t[2], t[1]+t[2]}' "$out" >>"$TMP/udhcpc.times"
	else
		fails=$((fails + 1))
		echo "# udhcpc run $i failed:" >&2
		sed 's/^/#   /' "$out" >&2
	fi
done
[ "$fails" = 0 ] || echo "# udhcpc: $fails of $UDHCPN runs failed" >&2
[ -s "$TMP/udhcpc.times" ] || { echo "ioth.sh: no udhcpc run succeeded" >&2; exit 1; }

# ---- the table ----
# pct P COLUMN < FILE: netbench.c's percentile (sorted, index P*(n-1)+0.5)
pct() { awk -v c="$2" '{print $c}' | sort -g | awk -v p="$1" '{v[NR]=$1} END {if (NR) printf "%.2f\n", v[int(p*(NR-1)+0.5)+1]; else print "-"}'; }
get() { awk -v n="$2" '$1==n {print $2; exit}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0 != 0 && b != "-" && a != "-") printf "%.2f", a/b; else print "-" }'; }
row() { echo "| $1 ($2) | $3 | $4 | $(ratio "$4" "$3") |"; }
echo "| figure | reference | ours | ours/ref |"
echo "|---|---:|---:|---:|"
for path in ioth iothc; do
	for name in $(awk -v p="$path." 'index($1, p) == 1 {print $1}' "$TMP/life.out"); do
		fig=${name#"$path".}
		unit=$(awk -v n="$name" '$1==n {print $3; exit}' "$TMP/life.out")
		row "lifecycle_$path.$fig" "$unit" "$(get "$TMP/life.out" "vde.$fig")" "$(get "$TMP/life.out" "$name")"
	done
done
U="$TMP/udhcpc.times"  # columns: link up, udhcpc, both (ms)
row dhcp.eth_dhcp_median ms "$(pct 0.5 3 <"$U")" "$(get "$TMP/dhcp.out" dhcp.eth_dhcp_median)"
row dhcp.eth_dhcp_p90 ms "$(pct 0.9 3 <"$U")" "$(get "$TMP/dhcp.out" dhcp.eth_dhcp_p90)"
row dhcp.eth_median ms "$(pct 0.5 1 <"$U")" "$(get "$TMP/dhcp.out" dhcp.eth_median)"
row dhcp.eth_p90 ms "$(pct 0.9 1 <"$U")" "$(get "$TMP/dhcp.out" dhcp.eth_p90)"
row dhcp.dhcp_median ms "$(pct 0.5 2 <"$U")" "$(get "$TMP/dhcp.out" dhcp.dhcp_median)"
row dhcp.dhcp_p90 ms "$(pct 0.9 2 <"$U")" "$(get "$TMP/dhcp.out" dhcp.dhcp_p90)"
row dhcp.delete_median ms - "$(get "$TMP/dhcp.out" dhcp.delete_median)"
row dhcp.delete_p90 ms - "$(get "$TMP/dhcp.out" dhcp.delete_p90)"
row dhcp.leak_fds_per_cycle fds - "$(get "$TMP/dhcp.out" dhcp.leak_fds_per_cycle)"
echo "# dnsmasq received $(grep -c 'DHCPRELEASE' "$TMP/dnsmasq.log" || true) DHCPRELEASE for the" \
	"$((2 * (DHCPN + 1))) leases ioth_delstack gave back (udhcpc runs without -R: none)"
echo "# samples: lifecycle $CYCLES cycles per path; dhcp $DHCPN per variant; udhcpc $(wc -l <"$U") runs" \
	"(reference of dhcp.eth: busybox ip link set vde0 up; of dhcp.eth_dhcp: that + udhcpc)"
