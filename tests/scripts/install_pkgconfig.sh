#!/bin/bash
# install_pkgconfig.sh BUILD SRC - installs into a staging prefix and proves
# the drop-in promise: the tutorial's C program compiles unchanged with
# `gcc prog.c $(pkg-config --define-prefix --cflags --libs vdestack)`, runs on OUR installed
# library (ldd, although Debian's libvdestack is installed too) and serves a
# client; a CMake project finds the package and builds the C++ example on
# libvdestack++, and pkg-config's vdestack++ builds it too. libvdestack.so.0
# needs libc alone and exports the C API alone; so do libioth.so.0,
# libiothconf.so.0 (and libioth) and the ioth_vdestack.so plugin.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "${INSTALL_NETNS:-}" != 1 ]; then
	exec unshare -n env INSTALL_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-install.XXXXXX)"
trap 'stop_all; rm -rf "$TMP"' EXIT
PREFIX="$TMP/prefix"

cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
for f in include/vdestack.h include/vdestack/stack.hpp include/vdestack/error.hpp lib/libvdestack.so.0 \
	lib/libvdestack++.so.0 lib/pkgconfig/vdestack++.pc lib/pkgconfig/vdestack.pc lib/cmake/vdestack/vdestackConfig.cmake libexec/vdestack/vdestack-helper \
	include/ioth.h lib/libioth.so.0 lib/pkgconfig/ioth.pc lib/ioth/ioth_vdestack.so \
	include/iothconf.h lib/libiothconf.so.0 lib/pkgconfig/iothconf.pc share/man/man3/iothconf.3; do
	[ -e "$PREFIX/$f" ] || { echo "missing after install: $f"; exit 1; }
done
readelf -d "$PREFIX/lib/libvdestack.so" | grep -c 'SONAME.*libvdestack.so.0' >/dev/null || { echo "bad SONAME"; exit 1; }
readelf -d "$PREFIX/lib/libvdestack++.so" | grep -c 'SONAME.*libvdestack++.so.0' >/dev/null || { echo "bad SONAME of libvdestack++"; exit 1; }
# What a C program loads with it: libc (and the dynamic linker), nothing else.
needed=$(readelf -d "$PREFIX/lib/libvdestack.so.0" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "libvdestack.so.0 needs: $needed"
[ "$needed" = "ld-linux-x86-64.so.2 libc.so.6 " ] || { echo "libvdestack.so.0 must need libc alone"; exit 1; }
exported=$(nm -D --defined-only "$PREFIX/lib/libvdestack.so.0" | awk '{print $3}' | sort | tr '\n' ' ')
echo "libvdestack.so.0 exports: $exported"
[ "$exported" = "socket vde_addstack vde_default_stack vde_delstack vde_msocket vde_stack_restore vde_stack_save vde_stackcmd " ] ||
	{ echo "libvdestack.so.0 must export the C API alone"; exit 1; }
# The libioth side likewise: C APIs on libc alone, nothing else exported.
for lib in lib/libioth.so.0 lib/libiothconf.so.0 lib/ioth/ioth_vdestack.so; do
	needed=$(readelf -d "$PREFIX/$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^libioth.so.0$' | sort | tr '\n' ' ')
	[ "$needed" = "ld-linux-x86-64.so.2 libc.so.6 " ] || { echo "$lib must need libc (and libioth) alone: $needed"; exit 1; }
	other=$(nm -D --defined-only "$PREFIX/$lib" | awk '{print $3}' | grep -v '^ioth_\|^vdestack_ioth_' || true)
	[ -z "$other" ] || { echo "$lib exports more than its C API: $other"; exit 1; }
done

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
cp "$SRC/examples/vdestack6.c" "$TMP/prog.c"
# shellcheck disable=SC2046
gcc -o "$TMP/prog" "$TMP/prog.c" $(pkg-config --define-prefix --cflags --libs vdestack) -Wl,-rpath,"$PREFIX/lib"
ldd "$TMP/prog" | grep libvdestack
ldd "$TMP/prog" | grep "$PREFIX/lib/libvdestack.so.0" >/dev/null || { echo "prog is not on the installed library"; exit 1; }

# the libioth API through ioth.pc
cp "$SRC/examples/iothecho.c" "$TMP/iothecho.c"
# shellcheck disable=SC2046
gcc -o "$TMP/iothecho" "$TMP/iothecho.c" $(pkg-config --define-prefix --cflags --libs ioth) -Wl,-rpath,"$PREFIX/lib"
ldd "$TMP/iothecho" | grep "$PREFIX/lib/libioth.so.0" >/dev/null || { echo "iothecho is not on the installed library"; exit 1; }

# iothconf's API through iothconf.pc (which requires ioth.pc)
cp "$SRC/examples/iothconfecho.c" "$TMP/iothconfecho.c"
# shellcheck disable=SC2046
gcc -o "$TMP/iothconfecho" "$TMP/iothconfecho.c" $(pkg-config --define-prefix --cflags --libs iothconf) \
	-Wl,-rpath,"$PREFIX/lib"
ldd "$TMP/iothconfecho" | grep "$PREFIX/lib/libiothconf.so.0" >/dev/null || { echo "iothconfecho is not on the installed library"; exit 1; }

# our engine as a plugin of upstream libioth, driven as libioth drives it;
# the plugin finds the installed helper on its own
gcc -o "$TMP/ioth_abi_probe" "$SRC/tests/progs/ioth_abi_probe.c" -I"$PREFIX/include" -ldl
env -u VDESTACK_HELPER "$TMP/ioth_abi_probe" "$PREFIX/lib/ioth/ioth_vdestack.so" vxvde://234.0.0.1 | grep "ABI OK"

# the C++ API through the CMake package
mkdir -p "$TMP/cxx"
cp "$SRC/examples/vdestack6.cpp" "$TMP/cxx/"
cat >"$TMP/cxx/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(cxxexample CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(vdestack REQUIRED)
add_executable(vdestack6xx vdestack6.cpp)
target_link_libraries(vdestack6xx PRIVATE vdestack::vdestack++)
CM
cmake -S "$TMP/cxx" -B "$TMP/cxx/build" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$TMP/cxx/build" >/dev/null
ldd "$TMP/cxx/build/vdestack6xx" | grep "$PREFIX/lib/libvdestack++.so.0" >/dev/null || { echo "vdestack6xx is not on libvdestack++"; exit 1; }
# shellcheck disable=SC2046
g++ -std=c++20 -o "$TMP/cxx/pc6xx" "$TMP/cxx/vdestack6.cpp" $(pkg-config --define-prefix --cflags --libs vdestack++) \
	-Wl,-rpath,"$PREFIX/lib"
ldd "$TMP/cxx/pc6xx" | grep "$PREFIX/lib/libvdestack++.so.0" >/dev/null || { echo "pc6xx is not on libvdestack++"; exit 1; }

fail=0
CONF="stack=vdestack,vnl=vxvde://234.0.0.1,eth,ip=10.0.0.70/24,gw=10.0.0.1,ip=fc00::1:70/64"
for entry in "$TMP/prog 50 vxvde://234.0.0.1" "$TMP/cxx/build/vdestack6xx 50 vxvde://234.0.0.1" \
	"$TMP/iothecho 60 vxvde://234.0.0.1" "$TMP/iothconfecho 70 $CONF"; do
	read -r server host arg <<<"$entry"
	echo "== $server, client on our build"
	start_bg "$TMP/server.out" env -u VDESTACK_HELPER "$server" "$arg"
	if wait_for_line "$TMP/server.out" READY 10; then
		timeout 60 "$BUILD/tests/echo_client" vxvde://234.0.0.1 10.0.0.1/24 fc00::1:1/64 "10.0.0.$host:5000" \
			"[fc00::1:$host]:5000" | grep -E "echo|CLIENT" || fail=1
	else
		cat "$TMP/server.out"
		fail=1
	fi
	stop_all
done
[ $fail = 0 ] && echo "INSTALL OK"
exit $fail
