#!/bin/bash
# switch_perms.sh BUILD SRC - a switch's control directory and socket honour
# the requested modes: another unprivileged user cannot connect to a switch
# made with the default modes (0600 socket, 02700 directory), and can when
# the owner allows it (mode=0666, dirmode=0777). Runs as root only to switch
# between two unprivileged users (65534 owns the switch, 65533 connects).
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
if [ "$(id -u)" != 0 ]; then echo "needs root to act as two users; skipped"; exit 0; fi
if [ "${PERMS_NETNS:-}" != 1 ]; then
	exec unshare -n env PERMS_NETNS=1 bash "$0" "$@"
fi
source "$SRC/scripts/netns.sh"
netns_setup_lo
TMP="$(mktemp -d /tmp/vdestack-perms.XXXXXX)"
chmod 1777 "$TMP"
trap 'stop_all; rm -rf "$TMP"' EXIT
PLUG="$BUILD/tools/vde_plug"
OWNER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
OTHER=(setpriv --reuid=65533 --regid=65533 --clear-groups)
fail=0

# try_connect DIR: 0 when user 65533 could join the switch (vde_plug stays up
# until the timeout), 1 when it was refused.
try_connect() {
	local rc=0
	timeout 2 "${OTHER[@]}" "$PLUG" "vde://$1" null:// >"$TMP/connect.out" 2>&1 || rc=$?
	[ $rc = 124 ]
}

echo "== default modes: private"
start_bg "$TMP/sw1.out" "${OWNER[@]}" "$PLUG" null:// "switch://$TMP/sw1"
for i in $(seq 50); do [ -S "$TMP/sw1/ctl" ] && break; sleep 0.1; done
stat -c '%a %U %n' "$TMP/sw1" "$TMP/sw1/ctl"
[ "$(stat -c %a "$TMP/sw1/ctl")" = 600 ] || { echo "ctl socket mode is not 600"; fail=1; }
if try_connect "$TMP/sw1"; then echo "another user joined a private switch"; fail=1; else echo "refused: $(cat "$TMP/connect.out")"; fi

echo "== mode=0666, dirmode=0777: shared"
start_bg "$TMP/sw2.out" "${OWNER[@]}" "$PLUG" null:// "switch://$TMP/sw2[mode=0666/dirmode=0777]"
for i in $(seq 50); do [ -S "$TMP/sw2/ctl" ] && break; sleep 0.1; done
stat -c '%a %U %n' "$TMP/sw2" "$TMP/sw2/ctl"
if try_connect "$TMP/sw2"; then echo "another user joined the shared switch"; else echo "refused: $(cat "$TMP/connect.out")"; fail=1; fi

stop_all
[ $fail = 0 ] && echo "SWITCH PERMISSIONS OK"
exit $fail
