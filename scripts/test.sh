#!/bin/bash
# test.sh - the whole test suite on a fresh machine: installs what is missing,
# builds, runs every test (unit, network tests in private namespaces they
# create themselves, interop with the Debian reference, install check), then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the unit and network tests under them (the script tests compile outside
# programs against the library, which an ASan library cannot serve).
# Last, every libFuzzer target runs for FUZZ_SECONDS (default 10) over its
# seed corpus (scripts/fuzz.sh); the stack tests also run under
# ThreadSanitizer. SANITIZE=0 / TSAN=0 / FUZZ_SECONDS=0 skip those passes. Extra arguments go to ctest.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
"$SRC/scripts/deps.sh"
"$SRC/scripts/build.sh" "$BUILD"
(cd "$BUILD" && ctest --output-on-failure -j"${TEST_JOBS:-2}" "$@")
if [ "${SANITIZE:-1}" != 0 ]; then
	echo "# sanitizer pass (ASan + UBSan)"
	BUILD_SAN="${BUILD}-sanitize"
	if [ ! -f "$BUILD_SAN/CMakeCache.txt" ]; then
		cmake -S "$SRC" -B "$BUILD_SAN" $(command -v ninja >/dev/null && echo -G Ninja) \
			-DCMAKE_BUILD_TYPE=Debug -DVDESTACK_SANITIZE=ON -DVDESTACK_WERROR=ON >/dev/null
	fi
	cmake --build "$BUILD_SAN" -j"$(nproc)"
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	(cd "$BUILD_SAN" && ctest --output-on-failure -j"${TEST_JOBS:-2}" -LE script "$@")
fi
if [ "${TSAN:-1}" != 0 ]; then
	# The helper's engines, namespace worker and reaper are threads: run the
	# stack tests (and the reaper's unit tests) with ThreadSanitizer; reports
	# (the helper's too, its stderr is /dev/null) go to files, and any report
	# fails the run.
	echo "# ThreadSanitizer pass (stack tests)"
	BUILD_TSAN="${BUILD}-tsan"
	if [ ! -f "$BUILD_TSAN/CMakeCache.txt" ]; then
		cmake -S "$SRC" -B "$BUILD_TSAN" $(command -v ninja >/dev/null && echo -G Ninja) \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDESTACK_TSAN=ON >/dev/null
	fi
	cmake --build "$BUILD_TSAN" -j"$(nproc)" --target capi_tests stack_tests unit_tests vdestack-helper
	reports="$(mktemp -d /tmp/vdestack-tsan.XXXXXX)"
	# scripts/tsan.supp: what TSan cannot see through (uninstrumented libstdc++).
	tsan_options="log_path=$reports/report:suppressions=$SRC/scripts/tsan.supp"
	status=0
	# Twice: with the helper a thread of the test program (root's default:
	# the helper's code and the library's in one process) and a process
	# (VDESTACK_HELPER_THREAD=0; the helper built with TSan too). A binary
	# that fails (or exits 66: a report) fails the pass once all have run.
	for thread in 1 0; do
		echo "# ThreadSanitizer, VDESTACK_HELPER_THREAD=$thread"
		VDESTACK_HELPER_THREAD=$thread TSAN_OPTIONS="$tsan_options" "$BUILD_TSAN/tests/capi_tests" \
			--gtest_filter='CApi.*:-CApi.NoMulticastRouteIsENODEV' || status=1
		VDESTACK_HELPER_THREAD=$thread TSAN_OPTIONS="$tsan_options" "$BUILD_TSAN/tests/stack_tests" \
			--gtest_filter='CxxApi.*:CxxConfig.*:Fault.*' || status=1
	done
	TSAN_OPTIONS="$tsan_options" "$BUILD_TSAN/tests/unit_tests" --gtest_filter='Reaper.*' || status=1
	if ls "$reports"/report* >/dev/null 2>&1; then
		cat "$reports"/report*
		echo "ThreadSanitizer reported races"
		exit 1
	fi
	rm -rf "$reports"
	[ "$status" = 0 ] || { echo "a test failed under ThreadSanitizer"; exit 1; }
fi
if [ "${FUZZ_SECONDS:-10}" != 0 ]; then
	echo "# fuzz pass (libFuzzer, ${FUZZ_SECONDS:-10} s per target)"
	BUILD_FUZZ="${BUILD}-fuzz" "$SRC/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}"
fi
