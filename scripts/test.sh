#!/bin/bash
# test.sh - the whole test suite on a fresh machine: installs what is missing,
# builds, runs every test (unit, network tests in private namespaces they
# create themselves, interop with the Debian reference, install check).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$SRC/build}"
"$SRC/scripts/deps.sh"
"$SRC/scripts/build.sh" "$BUILD"
cd "$BUILD"
ctest --output-on-failure -j"${TEST_JOBS:-2}" "$@"
