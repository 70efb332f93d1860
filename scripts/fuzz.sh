#!/bin/bash
# fuzz.sh [SECONDS] - builds the libFuzzer targets with clang (ASan+UBSan)
# and runs each over its seed corpus (fuzz/corpus/<target>) for SECONDS
# (default 20). Exits non-zero when a target crashes; the crashing input is
# left in build-fuzz/ (make it a regression test and a corpus entry).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_FUZZ:-$SRC/build-fuzz}"
SECS="${1:-20}"
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)"; exit 1; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	CC=clang CXX=clang++ cmake -S "$SRC" -B "$BUILD" $(command -v ninja >/dev/null && echo -G Ninja) \
		-DVDESTACK_FUZZ=ON -DVDESTACK_TESTS=OFF >/dev/null
fi
targets=(vnl stream vdectl cmdline vxvde netlink udpvnl offload whole views ifaddrs dhcp4 ioth_config ipv6conf stack_image)
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
fail=0
for t in "${targets[@]}"; do
	work="$BUILD/corpus-$t"
	mkdir -p "$work"
	out=$(cd "$BUILD" && "./fuzz/fuzz_$t" -max_total_time="$SECS" -max_len=4096 -print_final_stats=1 \
		"$work" "$SRC/fuzz/corpus/$t" 2>&1) || { echo "$out" | tail -30; echo "FUZZ $t: CRASH"; fail=1; continue; }
	execs=$(echo "$out" | sed -n 's/^stat::number_of_executed_units: *//p')
	echo "fuzz_$t: $execs executions in ${SECS}s, no crash"
done
exit $fail
