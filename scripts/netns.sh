# netns.sh - shell helpers of the demo and the script tests (sourced).
# Every background process is started by pid and ended on exit; every wait
# is bounded.
BG_PIDS=()

# netns_setup_lo: in a private netns, lo up with multicast routed on it.
netns_setup_lo() {
	if ip -o link show | grep -cv ': lo:' >/dev/null; then
		echo "refusing to run: this network namespace has interfaces other than lo" >&2
		exit 1
	fi
	ip link set lo up multicast on
	ip route show 224.0.0.0/4 dev lo | grep -c . >/dev/null || ip route add 224.0.0.0/4 dev lo
}

# start_bg OUTFILE CMD ARGS...: starts CMD in the background, output to OUTFILE.
start_bg() {
	local out="$1"
	shift
	"$@" >"$out" 2>&1 &
	BG_PIDS+=($!)
	BG_PID=$!
}

# netns_host NAME BRIDGE: a "host" of a test LAN: a network namespace held
# by a sleeping background process (its pid in HOST_PID; stop_all ends it),
# joined to BRIDGE by a veth pair, h<NAME> here (up, on the bridge) and eth0
# there (down: the caller configures it). Returns 1 when the namespace did
# not come.
netns_host() {
	local _
	start_bg /dev/null unshare -n sleep 600
	HOST_PID=$BG_PID
	for _ in $(seq 50); do
		[ "$(readlink "/proc/$HOST_PID/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.05
	done
	[ "$(readlink "/proc/$HOST_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] || { echo "host $1: no netns"; return 1; }
	ip link add "h$1" type veth peer name eth0 netns "$HOST_PID"
	ip link set "h$1" master "$2" up
}

stop_all() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${BG_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	BG_PIDS=()
}

# wait_for_line FILE PATTERN SECONDS
wait_for_line() {
	local i
	for i in $(seq $(($3 * 20))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# run_vdens OUTFILE SECONDS VNL CMD...: runs CMD in Debian's vdens. vdens 0.2
# may hang after its command ends (a missed SIGCHLD): the command's end is
# seen through its CLIENT_DONE line, and a vdens still alive then is killed.
run_vdens() {
	local out="$1" secs="$2"
	shift 2
	start_bg "$out" "${VDENS:-vdens}" "$@"
	local pid=$BG_PID i
	for i in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		grep -q '^CLIENT_DONE' "$out" 2>/dev/null && break
		sleep 0.1
	done
	for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
