#!/bin/bash
# test.sh - the whole test suite on a fresh machine: installs what is missing,
# builds, runs every test (unit, network tests in private namespaces they
# create themselves, interop with the Debian reference, install check), then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the unit and network tests under them (the script tests compile outside
# programs against the library, which an ASan library cannot serve).
# Last, every libFuzzer target runs for FUZZ_SECONDS (default 10) over its
# seed corpus (scripts/fuzz.sh). SANITIZE=0 / FUZZ_SECONDS=0 skip those
# passes. Extra arguments go to ctest.
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
if [ "${FUZZ_SECONDS:-10}" != 0 ]; then
	echo "# fuzz pass (libFuzzer, ${FUZZ_SECONDS:-10} s per target)"
	BUILD_FUZZ="${BUILD}-fuzz" "$SRC/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}"
fi
