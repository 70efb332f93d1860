#!/bin/bash
# run.sh [--quick] - the benchmark suite: ours and (when installed) Debian's
# reference libvdestack 0.1.2 measured by the same program (netbench.c) in the
# same run, inside a private network namespace made here. Prints a Markdown
# table: figure, reference, ours, ours/reference.
#
# Figures: stack lifecycle (add + netlink config + del, medians; with the
# teardown the reference defers to process exit), stacks alive at once (1,
# 100, 1000 for ours) with tasks/fds/memory per stack, 1-byte TCP echo round
# trip between two stacks (median, p99), TCP bulk between two stacks
# (Gbit/s, CPU seconds per GB) over vxvde (bulk), over vde2's vde_switch
# (bulk_switch), over ptp (bulk_ptp) and over vxvde with MTU 9000
# (bulk_mtu9000), and the kernel-only baseline: the same bulk between two
# namespaces on a veth pair (veth, the same for both; in the ours column).
# rtt_vdens/bulk_vdens* are the tutorial's path between two processes: a
# stack and a vdens (each implementation's own: Debian's vdens 0.2 with the
# reference) on the same VNL (bulk_vdens_udp: the two ends of one udp://
# cable); bulk_vdens CPU includes the vdens.
# Between two stacks of one process ours uses its local fabric by default;
# rtt_network and bulk_network are ours with VDESTACK_FABRIC=0 (every frame
# over vxvde, as between processes); rtt_nospin and rtt_vdens_nospin ours with
# busy polling off (VDESTACK_SPIN_US=0), bulk_vdens_nogso ours with UDP
# segmentation offload off (VDESTACK_UDP_GSO=0); bulk_oursw and
# bulk_vdens_oursw ours through our own switch (switch:// in our vde_plug),
# against the reference's figure through vde2's vde_switch.
# Environment: BUILD (our build dir), RUNS (repetitions, median kept).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "${BENCH_NETNS:-}" != 1 ]; then
	"$SRC/scripts/build.sh" "$BUILD" >/dev/null
	exec unshare -n env BENCH_NETNS=1 BUILD="$BUILD" bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-bench.XXXXXX)"
SWPID=
trap '[ -n "$SWPID" ] && kill "$SWPID" 2>/dev/null; [ -n "${OSWPID:-}" ] && kill "$OSWPID" 2>/dev/null; rm -rf "$TMP"' EXIT
VNL=vxvde://234.0.0.1

gcc -O2 -o "$TMP/ours" "$SRC/bench/netbench.c" -I"$SRC/include" -L"$BUILD" -lvdestack -Wl,-rpath,"$BUILD" -lpthread
IMPLS=(ours)
declare -A VDENS=([ours]="$BUILD/tools/vdens")
[ -x /usr/bin/vdens ] && VDENS[ref]=/usr/bin/vdens  # Debian's, not an installed copy of ours
if [ -e /usr/lib/x86_64-linux-gnu/libvdestack.so.0 ] && [ -e /usr/include/nlinline+.h ]; then
	mkdir -p "$TMP/refinc"
	cp /usr/include/vdestack.h /usr/include/nlinline.h /usr/include/nlinline+.h "$TMP/refinc/"
	gcc -O2 -o "$TMP/ref" "$SRC/bench/netbench.c" -I"$TMP/refinc" /usr/lib/x86_64-linux-gnu/libvdestack.so.0 -lpthread
	IMPLS=(ref ours)
fi
ulimit -n 65536 2>/dev/null || true

if [ $QUICK = 1 ]; then CYCLES=20 COUNT=2000 SECS=2 RUNS=${RUNS:-1}; else CYCLES=200 COUNT=10000 SECS=5 RUNS=${RUNS:-3}; fi

# Our switch (switch:// in our vde_plug): ours through it is bulk_oursw and
# bulk_vdens_oursw, compared with the reference through vde2's vde_switch.
OSWPID=
"$BUILD/tools/vde_plug" "switch://$TMP/osw" null:// </dev/null >/dev/null 2>&1 &
OSWPID=$!
# Debian's vde_switch (vde2), shared by both implementations' bulk_switch.
SWVNL=
if command -v vde_switch >/dev/null; then
	vde_switch -d -s "$TMP/sw" -p "$TMP/sw.pid" </dev/null >/dev/null 2>&1 && SWPID=$(cat "$TMP/sw.pid") && SWVNL="vde://$TMP/sw"
fi

# run IMPL MODE N [VNL [NAME]]: every figure of RUNS runs, into $TMP/IMPL.out
run() {
	local impl=$1 mode=$2 n=$3 vnl=${4:-$VNL} name=${5:-} r
	for r in $(seq "$RUNS"); do
		NETBENCH_NAME="$name" timeout 300 "$TMP/$impl" "$mode" "$n" "$vnl" >>"$TMP/$impl.out" 2>>"$TMP/$impl.err" ||
			echo "# $impl $mode $vnl failed" >&2
		rm -f "$TMP/ptp" "$TMP/ptp+"
		sleep 0.5
	done
}
for impl in "${IMPLS[@]}"; do
	: >"$TMP/$impl.out"
	run "$impl" lifecycle "$CYCLES"
	run "$impl" teardown "$((CYCLES / 4))"
	run "$impl" alive 1
	run "$impl" alive 100
	run "$impl" rtt "$COUNT"
	run "$impl" bulk "$SECS"
	[ -n "$SWVNL" ] && run "$impl" bulk "$SECS" "$SWVNL" bulk_switch
	run "$impl" bulk "$SECS" "ptp://$TMP/ptp" bulk_ptp
	NETBENCH_MTU=9000 run "$impl" bulk "$SECS" "$VNL" bulk_mtu9000
	if [ -n "${VDENS[$impl]:-}" ]; then
		export NETBENCH_VDENS="${VDENS[$impl]}"
		run "$impl" rtt_vdens "$COUNT"
		run "$impl" bulk_vdens "$SECS"
		[ -n "$SWVNL" ] && run "$impl" bulk_vdens "$SECS" "$SWVNL" bulk_vdens_switch
		run "$impl" bulk_vdens "$SECS" "ptp://$TMP/ptp" bulk_vdens_ptp
		NETBENCH_VDENS_VNL="udp://127.0.0.1:15102->127.0.0.1:15101" \
			run "$impl" bulk_vdens "$SECS" "udp://127.0.0.1:15101->127.0.0.1:15102" bulk_vdens_udp
		unset NETBENCH_VDENS
	fi
done
# Ours without the local fabric (every frame over vxvde, as between
# processes), and with busy polling: compared with the reference's figure of
# the same name without the suffix.
VDESTACK_FABRIC=0 run ours rtt "$COUNT" "$VNL" rtt_network
VDESTACK_FABRIC=0 run ours bulk "$SECS" "$VNL" bulk_network
VDESTACK_SPIN_US=0 run ours rtt "$COUNT" "$VNL" rtt_nospin
export NETBENCH_VDENS="${VDENS[ours]}"
VDESTACK_SPIN_US=0 run ours rtt_vdens "$COUNT" "$VNL" rtt_vdens_nospin
VDESTACK_UDP_GSO=0 run ours bulk_vdens "$SECS" "$VNL" bulk_vdens_nogso
run ours bulk_vdens "$SECS" "vde://$TMP/osw" bulk_vdens_oursw
unset NETBENCH_VDENS
run ours bulk "$SECS" "vde://$TMP/osw" bulk_oursw
run ours veth "$SECS" -
[ $QUICK = 1 ] || RUNS=1 run ours alive 1000

median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "-"}'; }
echo "| figure | reference | ours | ours/ref |"
echo "|---|---:|---:|---:|"
for name in $(awk '{print $1}' "$TMP/ours.out" | awk '!seen[$0]++'); do
	unit=$(awk -v n="$name" '$1==n {print $3; exit}' "$TMP/ours.out")
	o=$(awk -v n="$name" '$1==n {print $2}' "$TMP/ours.out" | median)
	r=-
	base=$(echo "$name" | sed -E 's/_(network|nospin|nogso)\././; s/_oursw\./_switch./')
	[ -f "$TMP/ref.out" ] && r=$(awk -v n="$base" '$1==n {print $2}' "$TMP/ref.out" | median)
	ratio=$(awk -v a="$o" -v b="$r" 'BEGIN { if (b+0 != 0 && b != "-" && a != "-") printf "%.2f", a/b; else print "-" }')
	echo "| $name ($unit) | $r | $o | $ratio |"
done
