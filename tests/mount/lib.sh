# lib.sh — the harness every mount test sources.
#
# What it gives a test: a private temp dir ($T) with a store ($STORE) and a
# mount point ($MNT); lsmfs_mount / lsmfs_umount that wait for the mount to
# appear and for the daemon to exit; `expect` to compare the outcome of one
# fsop call (OK or an errno name); `check` for a boolean; `run` to run any
# command under a timeout.  A failed check is reported and counted, the test
# goes on, and `finish` exits 1 if anything failed.
#
# Invariants: every step that touches the mount runs under `timeout`, so a
# hung daemon cannot hang the test; on exit (success, failure, signal) the
# EXIT trap lazily unmounts (fusermount3 -u -z), kills the daemons this test
# started (by pid) and removes $T.  Meson puts each test under its own
# timeout as well.
#
# Environment (set by tests/meson.build): LSMFS (the daemon), FSOP (the
# one-syscall helper), MKFS (mkfs.lsmfs, optional: without it lsmfs is asked
# to create the store with -o create).
#
# Thread rules: none; plain bash, one test per process.

set -u
export LC_ALL=C

: "${LSMFS:?LSMFS must point at the lsmfs binary}"
: "${FSOP:?FSOP must point at the fsop helper}"
MKFS=${MKFS:-}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}

FAILED=0
DAEMON_PIDS=()
TEST_NAME=$(basename "$0" .sh)

skip() {
	echo "SKIP: $*"
	exit 77
}

# Tests need root (allow_other, setpriv, mount(8)) and a working FUSE.
[ "$(id -u)" = 0 ] || skip "mount tests run as root"
[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v fusermount3 >/dev/null || skip "no fusermount3"

T=$(mktemp -d /tmp/lsmfs-mount.XXXXXX) || exit 1
chmod 755 "$T"			# the unprivileged user must reach $MNT
STORE=$T/store
MNT=$T/mnt
LOG=$T/daemon.log
mkdir "$MNT"

log() { echo "[$TEST_NAME] $*"; }

fail() {
	echo "FAIL [$TEST_NAME]: $*"
	FAILED=$((FAILED + 1))
}

# Every command that may block on the mount goes through run.
run() {
	timeout -k 5 "$STEP_TIMEOUT" "$@"
}

# Is $1 still a live (not zombie) process?
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# A daemon we started in the background (-f) or one that daemonized: the
# latter is found by its exact command line, which names our private $T.
find_daemon() {
	local p
	for p in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$1 "; then
			echo "${p#/proc/}"
		fi
	done
}

is_mounted() {
	grep -qF " $1 " /proc/self/mountinfo
}

cleanup() {
	local rc=$?
	trap - EXIT TERM INT
	local m
	for m in "$MNT" "$T"/mnt2; do
		# mountinfo, not mountpoint(1): a dead daemon's mount cannot
		# even be stat'ed
		if is_mounted "$m"; then
			fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	local p
	for p in "${DAEMON_PIDS[@]}" $(find_daemon "$STORE"); do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${DAEMON_PIDS[@]}" $(find_daemon "$STORE"); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			alive "$p" || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null
	done
	if [ "$FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
		if [ -s "$LOG" ]; then
			echo "---- daemon log (last 60 lines) ----"
			tail -n 60 "$LOG"
		fi
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 143' TERM INT

# mkstore DIR: create an empty store.
mkstore() {
	if [ -n "$MKFS" ] && [ -x "$MKFS" ]; then
		run "$MKFS" "$1" >/dev/null || { fail "mkfs $1"; exit 1; }
	else
		mkdir -p "$1"
		CREATE_OPT=1
	fi
}

wait_mounted() {
	local mnt=$1 pid=${2:-} i
	for i in $(seq 1 200); do
		if mountpoint -q "$mnt"; then
			return 0
		fi
		if [ -n "$pid" ] && ! alive "$pid"; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# lsmfs_mount [options...]: mount $STORE on $MNT in the foreground mode in
# the background (so its log lands in $LOG and we hold its pid).  Extra
# arguments are passed to lsmfs (e.g. -o allow_other).
lsmfs_mount() {
	local extra=()
	if [ "${CREATE_OPT:-0}" = 1 ]; then
		extra=(-o create)
		CREATE_OPT=0
	fi
	# A background job of a script starts with SIGINT ignored; the
	# daemon must see it as a user's shell would deliver it.
	env --default-signal=INT,QUIT "$LSMFS" "$STORE" "$MNT" -f "${extra[@]}" "$@" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	DAEMON_PIDS+=("$DAEMON_PID")
	if ! wait_mounted "$MNT" "$DAEMON_PID"; then
		fail "mount did not appear"
		exit 1
	fi
}

# Wait (bounded) for a pid to exit.
# Sets EXIT_RC to the exit status when pid is our child (else 127).
wait_exit() {
	local pid=$1 i
	for i in $(seq 1 400); do
		if ! alive "$pid"; then
			wait "$pid" 2>/dev/null
			EXIT_RC=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# The daemon's log must hold no sanitizer report.
check_log() {
	if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$LOG" 2>/dev/null; then
		fail "sanitizer report in the daemon log"
	fi
}

# lsmfs_umount: unmount and wait until the daemon has closed the store.
lsmfs_umount() {
	run fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
	if [ -n "${DAEMON_PID:-}" ]; then
		if wait_exit "$DAEMON_PID"; then
			[ "$EXIT_RC" = 0 ] || fail "daemon exit status $EXIT_RC after unmount"
		else
			fail "daemon $DAEMON_PID did not exit after unmount"
		fi
	fi
	check_log
	mountpoint -q "$MNT" && fail "still mounted after unmount"
	return 0
}

# expect WANT fsop-args...: the first word fsop prints must be WANT.
expect() {
	local want=$1 out
	shift
	out=$(run "$FSOP" "$@" 2>&1)
	if [ "${out%% *}" != "$want" ]; then
		fail "fsop $* -> '$out', want $want"
	fi
}

# expect_out WANT fsop-args...: the whole output must be WANT.
expect_out() {
	local want=$1 out
	shift
	out=$(run "$FSOP" "$@" 2>&1)
	[ "$out" = "$want" ] || fail "fsop $* -> '$out', want '$want'"
}

# As the unprivileged user nobody (65534), no supplementary groups.
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_nobody() {
	local want=$1 out
	shift
	out=$(run "${AS_NOBODY[@]}" "$FSOP" "$@" 2>&1)
	[ "${out%% *}" = "$want" ] || fail "(nobody) fsop $* -> '$out', want $want"
}

# check DESCRIPTION command...: the command must succeed.
check() {
	local what=$1
	shift
	run "$@" >"$T/check.out" 2>&1 || {
		fail "$what: $(head -c 2000 "$T/check.out")"
		return 1
	}
}

finish() {
	if [ "$FAILED" -ne 0 ]; then
		echo "[$TEST_NAME] $FAILED check(s) failed"
		exit 1
	fi
	echo "[$TEST_NAME] passed"
	exit 0
}
