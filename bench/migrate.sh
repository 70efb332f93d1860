#!/bin/bash
# migrate.sh [--quick] - the downtime of moving a live stack
# (vde_stack_save + vde_stack_restore, bench/migrate.c) against the number
# of connections (1, 100, 1000) and the bytes queued in each (0, 16 KiB),
# inside a private network namespace made here (vxvde on lo only: no packet
# reaches the host's interfaces). No reference implementation can move a
# stack: the figures stand alone, against the issue's target (< 50 ms for
# one connection, linear growth after that).
# Environment: BUILD (our build dir, default ./build; built first unless
# NO_BUILD=1).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "${MIGRATE_BENCH_NETNS:-}" != 1 ]; then
	[ "${NO_BUILD:-}" = 1 ] || "$SRC/scripts/build.sh" "$BUILD" >/dev/null
	exec unshare -n env MIGRATE_BENCH_NETNS=1 BUILD="$BUILD" bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-migratebench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
export VDESTACK_HELPER="$BUILD/vdestack-helper"
B="$TMP/migrate"
gcc -O2 -Wall -o "$B" "$SRC/bench/migrate.c" -I"$SRC/include" -L"$BUILD" -lvdestack -Wl,-rpath,"$BUILD"
if [ $QUICK = 1 ]; then R1=3 R100=2 R1000=1; else R1=15 R100=5 R1000=3; fi

echo "| connections | queued per conn | image | save | restore | downtime (save to first echo) | old stack's delete |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for q in 0 16384; do
	for n in 1 100 1000; do
		eval rounds=\$R$n
		line=$(timeout 600 "$B" vxvde://234.0.0.1 "$n" "$q" "$rounds")
		get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $line"; }
		echo "| $n | $q B | $(get image_kB) kB | $(get save_ms) ms | $(get restore_ms) ms | $(get downtime_ms) ms | $(get del_ms) ms |"
	done
done
