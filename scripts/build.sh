#!/bin/bash
# build.sh [BUILD_DIR] - configures (warnings are errors) and builds vdestack++.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build}"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$SRC" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDESTACK_WERROR=ON >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)"
