#!/bin/bash
# t_crash.sh CYCLES [WORKERS] [STRICT_EVERY] [soak] — kill -9 the daemon at random
# moments of a logged workload, again and again, and check after each kill.
#
# One cycle: WORKERS crash_workload processes run on the mount (each in its
# own directory, each logging what is durable to a file outside the mount);
# after a random 50..400 ms the daemon gets SIGKILL; the workloads end on
# ENOTCONN/ECONNABORTED; the dead mount is lazily unmounted.  Then:
#   1. fsck.lsmfs -n on the crashed store (nothing has repaired it yet):
#      the only problems allowed are what a crash legitimately leaves and
#      the next mount cleans up — orphan records (pass 6, 0x06....: files
#      unlinked while still open, FUSE releases are asynchronous) and files
#      the engine had not yet named in its manifest (0x01000A: a table
#      being written by a flush or compaction).  Any other problem fails.
#   2. The store is mounted again (recovery, orphan reclaim) and every
#      workload's oracle (crash_workload check) compares the tree with its
#      log: fsynced content exact, renames atomic, nothing lost or invented.
#   3. Every STRICT_EVERY cycles (and at the end): clean unmount, then
#      fsck.lsmfs -n must exit 0 — after a mount has reclaimed the orphans
#      and the engine has removed its unnamed files, nothing may be left.
# The next cycle's workloads continue on the recovered tree.
#
# Environment: as tests/mount/lib.sh, plus FSCK (fsck.lsmfs) and
# CRASH_WORKLOAD.  CRASH_SEED fixes the random sequence (printed).

# A soak run (last argument "soak") only with LSMFS_SOAK=1 (meson test
# --setup soak): a plain meson test must stay short.
if [ "${@: -1}" = soak ] && [ "${LSMFS_SOAK:-}" != 1 ]; then
	echo "SKIP: soak run: set LSMFS_SOAK=1 (meson test --setup soak)"
	exit 77
fi
. "$(dirname "$0")/../mount/lib.sh"

: "${FSCK:?FSCK must point at fsck.lsmfs}"
: "${CRASH_WORKLOAD:?CRASH_WORKLOAD must point at crash_workload}"
CYCLES=${1:-50}
WORKERS=${2:-2}
STRICT_EVERY=${3:-10}
SEED=${CRASH_SEED:-$(( $(date +%s) ^ $$ ))}
RANDOM=$SEED
log "seed $SEED, $CYCLES cycles, $WORKERS workloads"

# fsck -n on a crashed store: only crash residue may be reported.
fsck_crashed() {
	local out rc bad
	out=$(run "$FSCK" -n "$STORE" 2>&1)
	rc=$?
	[ $rc = 0 ] && return 0
	bad=$(grep -o '^\[0x[0-9a-f]*\]' <<<"$out" | grep -v '^\[0x06\|^\[0x01000a\]')
	if [ $rc != 4 ] || [ -n "$bad" ] || ! grep -q '^\[0x' <<<"$out"; then
		fail "cycle $1: fsck -n on the crashed store: exit $rc: $(head -c 3000 <<<"$out")"
		return 1
	fi
	NRESIDUE=$((NRESIDUE + 1))
}

fsck_strict() {
	local out rc
	out=$(run "$FSCK" -n "$STORE" 2>&1)
	rc=$?
	if [ $rc != 0 ]; then
		fail "cycle $1: fsck -n after a clean unmount: exit $rc: $(head -c 3000 <<<"$out")"
		return 1
	fi
}

mkstore "$STORE"
lsmfs_mount
for w in $(seq 1 "$WORKERS"); do
	mkdir "$MNT/w$w" || { fail "mkdir w$w"; exit 1; }
done
NRESIDUE=0
NINFLIGHT=0
MAXMOUNT=0
for cycle in $(seq 1 "$CYCLES"); do
	pids=()
	for w in $(seq 1 "$WORKERS"); do
		timeout -k 5 "$STEP_TIMEOUT" "$CRASH_WORKLOAD" run "$MNT/w$w" "$T/state.$w" \
			"$T/log.$w" $((SEED * 1000 + cycle * 10 + w)) "$MNT" 2>>"$T/workload.err" &
		pids+=($!)
	done
	ms=$((50 + RANDOM % 351))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$DAEMON_PID"
	wait_exit "$DAEMON_PID" || { fail "cycle $cycle: daemon survived kill -9"; exit 1; }
	DAEMON_PIDS=()		# reaped: its pid may be reused, never signal it again
	for p in "${pids[@]}"; do
		wait "$p"
		rc=$?
		if [ $rc != 0 ]; then
			fail "cycle $cycle: workload exit $rc: $(tail -n 5 "$T/workload.err")"
		fi
	done
	if grep -q "replied EIO" "$LOG"; then
		fail "cycle $cycle: the daemon replied EIO: $(grep "replied EIO" "$LOG" | head -3)"
		exit 1
	fi
	run fusermount3 -u -z "$MNT" 2>/dev/null
	fsck_crashed "$cycle"
	t0=$EPOCHREALTIME
	lsmfs_mount
	mount_ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	[ "$mount_ms" -gt "$MAXMOUNT" ] && MAXMOUNT=$mount_ms
	for w in $(seq 1 "$WORKERS"); do
		if ! run "$CRASH_WORKLOAD" check "$MNT/w$w" "$T/state.$w" "$T/log.$w" \
			>"$T/check.out" 2>&1; then
			fail "cycle $cycle (kill after ${ms} ms): workload $w: $(head -c 4000 "$T/check.out")"
			exit 1
		fi
		grep -q "in flight" "$T/check.out" && NINFLIGHT=$((NINFLIGHT + 1))
	done
	if [ $((cycle % STRICT_EVERY)) = 0 ] || [ "$cycle" = "$CYCLES" ]; then
		lsmfs_umount
		fsck_strict "$cycle"
		[ "$cycle" = "$CYCLES" ] || lsmfs_mount
	fi
	[ "$FAILED" = 0 ] || exit 1
done
log "$CYCLES kills: $NINFLIGHT operations caught in flight, $NRESIDUE crashed stores with orphan/unnamed-file residue, slowest recovery mount ${MAXMOUNT} ms"
check_log
finish
