#!/bin/bash
# deps.sh - installs what a fresh Debian 12 machine lacks to build, test and
# demo vdestack++: the toolchain, GoogleTest, the tools the tests drive
# (iproute2, ethtool, busybox, ping, nc, dnsmasq as DHCP/RA server) and the
# reference peers the interop tests talk to (Debian's libvdestack, vdeplug4,
# vde2, vdens, nlinline).
# Runs apt-get only when something is missing. Needs root.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config libgtest-dev libgmock-dev libcli11-dev clang libclang-rt-14-dev
      iproute2 ethtool busybox iputils-ping netcat-openbsd util-linux procps
      libvdestack0 libvdestack-dev vdens vdeplug libvdeplug2 libvdeplug-dev vde2 nlinline-dev libvdeplug-vlan libvdeplug-slirp
      dnsmasq-base)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -c "install ok installed" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "# installing: ${missing[*]}" >&2
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: root is needed to install ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
