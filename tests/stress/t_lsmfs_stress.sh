#!/bin/bash
# t_lsmfs_stress.sh FILES OPS REMOUNT_EVERY [soak] — the data-verifying stress tool
# (tools/stress/lsmfs-stress: writes, appends, truncates, hole punches,
# zero ranges, preallocation, mmap writes, reads, each checked against an
# in-memory shadow) on a mount, with the filesystem unmounted and mounted
# again every REMOUNT_EVERY operations (tests/stress/remount.sh, every step
# under a timeout) and the files verified whole after each remount.  Then
# a clean unmount and fsck.lsmfs -n must be clean.
# Environment: as tests/mount/lib.sh, plus FSCK, LSMFS_STRESS, REMOUNT.

# A soak run (last argument "soak") only with LSMFS_SOAK=1 (meson test
# --setup soak): a plain meson test must stay short.
if [ "${@: -1}" = soak ] && [ "${LSMFS_SOAK:-}" != 1 ]; then
	echo "SKIP: soak run: set LSMFS_SOAK=1 (meson test --setup soak)"
	exit 77
fi
. "$(dirname "$0")/../mount/lib.sh"

: "${FSCK:?FSCK must point at fsck.lsmfs}"
: "${LSMFS_STRESS:?LSMFS_STRESS must point at lsmfs-stress}"
: "${REMOUNT:?REMOUNT must point at remount.sh}"
FILES=${1:-4}
OPS=${2:-3000}
EVERY=${3:-1000}
SEED=${STRESS_SEED:-$(( $(date +%s) ^ $$ ))}

mkstore "$STORE"
lsmfs_mount
echo "$DAEMON_PID" >"$T/daemon.pid"
export LSMFS STEP_TIMEOUT
# 2 MiB files keep a run short; every kind of operation still happens.
if ! timeout -k 10 $((FILES * OPS / 100 + 600)) "$LSMFS_STRESS" -f "$FILES" -n "$OPS" -s 2097152 \
	-S "$SEED" -C "$EVERY" -c "'$REMOUNT' '$STORE' '$MNT' '$LOG' '$T/daemon.pid'" "$MNT" \
	>"$T/stress.out" 2>&1; then
	fail "lsmfs-stress: $(tail -n 40 "$T/stress.out")"
fi
grep "operations verified\|seed" "$T/stress.out"
# the daemon now is the last one remount.sh started
pid=$(cat "$T/daemon.pid")
run fusermount3 -u "$MNT" || fail "final unmount"
for _ in $(seq 1 400); do alive "$pid" || break; sleep 0.05; done
alive "$pid" && fail "daemon $pid did not exit after the final unmount"
check_log
out=$(run "$FSCK" -n "$STORE" 2>&1) || fail "fsck -n after the stress: $(head -c 3000 <<<"$out")"
finish
