#!/bin/bash
# interop_reference.sh BUILD SRC - our stacks against Debian's reference
# packages, over vxvde, in a private network namespace made here:
#   1. Debian's vdens pings our echo server (C API, then C++ API) and talks to it;
#   2. our stack (echo_client) pings and talks to an echo server built on
#      Debian's libvdestack 0.1.2;
# ldd proves which library each program runs on.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${INTEROP_NETNS:-}" != 1 ]; then
	exec unshare -n env INTEROP_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-interop.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
fail=0
REFLIB=/usr/lib/x86_64-linux-gnu/libvdestack.so.0

echo "### 1a. Debian vdens -> our echo server (C API)"
ldd "$BUILD/examples/vdestack6" | grep libvdestack
ldd "$BUILD/examples/vdestack6" | grep "$BUILD/libvdestack.so.0" >/dev/null || { echo "server does not use our library"; fail=1; }
DEMO_NO_BUILD=1 BUILD="$BUILD" VDESTACK_DEMO_NETNS=1 bash "$SRC/scripts/demo.sh" || fail=1

echo "### 1b. Debian vdens -> our echo server (C++ API)"
DEMO_NO_BUILD=1 BUILD="$BUILD" VDESTACK_DEMO_NETNS=1 DEMO_SERVER="$BUILD/examples/vdestack6xx" \
	bash "$SRC/scripts/demo.sh" || fail=1

echo "### 1c. Debian vdens -> our echo server (libioth API, netlink configuration)"
DEMO_NO_BUILD=1 BUILD="$BUILD" VDESTACK_DEMO_NETNS=1 DEMO_SERVER="$BUILD/examples/iothecho" \
	bash "$SRC/scripts/demo.sh" netlink || fail=1

echo "### 2. our stack -> echo server on Debian's libvdestack"
gcc -o "$TMP/ref_vdestack6" "$SRC/examples/vdestack6.c" -I/usr/include "$REFLIB"
ldd "$TMP/ref_vdestack6" | grep libvdestack
ldd "$TMP/ref_vdestack6" | grep -E "libvdestack.so.0 => (/usr)?/lib/x86_64-linux-gnu/libvdestack.so.0" >/dev/null || { echo "reference server is not on Debian's library"; fail=1; }
ldd "$BUILD/tests/echo_client" | grep "$BUILD/libvdestack.so.0" >/dev/null || { echo "client does not use our library"; fail=1; }
start_bg "$TMP/ref.out" "$TMP/ref_vdestack6" vxvde://234.0.0.1
if wait_for_line "$TMP/ref.out" READY 10; then
	timeout 60 "$BUILD/tests/echo_client" vxvde://234.0.0.1 10.0.0.1/24 fc00::1:1/64 10.0.0.50:5000 '[fc00::1:50]:5000' || fail=1
else
	echo "reference server did not start:"; cat "$TMP/ref.out"; fail=1
fi
stop_all
[ $fail = 0 ] && echo "INTEROP OK" || echo "INTEROP FAILED"
exit $fail
