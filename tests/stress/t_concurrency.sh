#!/bin/bash
# t_concurrency.sh SECONDS [PROCS] [THREADS] [soak] — many threads in several
# processes doing mixed operations on one mount (tests/stress/mt_stress.c:
# exact checks in private directories, races with checked outcomes in a
# shared one), plus a process that walks and stats the whole tree; then a
# clean unmount, fsck.lsmfs -n must be clean, and after a remount every
# private file is as its thread left it.  The daemon is the one of the
# build directory the test runs from (build-asan: AddressSanitizer +
# UBSan; a sanitizer report in its log fails the test).
# Environment: as tests/mount/lib.sh, plus FSCK and MT_STRESS.

# A soak run (last argument "soak") only with LSMFS_SOAK=1 (meson test
# --setup soak): a plain meson test must stay short.
if [ "${@: -1}" = soak ] && [ "${LSMFS_SOAK:-}" != 1 ]; then
	echo "SKIP: soak run: set LSMFS_SOAK=1 (meson test --setup soak)"
	exit 77
fi
. "$(dirname "$0")/../mount/lib.sh"

: "${FSCK:?FSCK must point at fsck.lsmfs}"
: "${MT_STRESS:?MT_STRESS must point at mt_stress}"
SECS=${1:-30}
PROCS=${2:-3}
THREADS=${3:-4}
SEED=${STRESS_SEED:-$(( $(date +%s) ^ $$ ))}
log "seed $SEED: $PROCS processes x $THREADS threads for $SECS s"

mkstore "$STORE"
lsmfs_mount
pids=()
for p in $(seq 1 "$PROCS"); do
	timeout -k 10 $((SECS + STEP_TIMEOUT)) "$MT_STRESS" run "$MNT" "$SECS" "$THREADS" "$SEED" "$p" \
		"$T/manifest" >"$T/mt.$p.out" 2>&1 &
	pids+=($!)
done
# a tree walker: readdir + stat of everything, again and again
(
	end=$((SECONDS + SECS))
	while [ $SECONDS -lt $end ]; do
		timeout -k 5 "$STEP_TIMEOUT" find "$MNT" -printf '%y %s %n\n' >/dev/null 2>"$T/find.err"
		# find may see names vanish under it; anything else is an error
		if grep -v "No such file or directory" "$T/find.err" | grep -q .; then
			echo "find: $(head -3 "$T/find.err")"
			exit 1
		fi
	done
) &
walker=$!
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "mt_stress $((i + 1)): $(tail -n 5 "$T/mt.$((i + 1)).out")"
	grep -h "operations" "$T/mt.$((i + 1)).out"
done
wait "$walker" || fail "tree walker failed"
alive "$DAEMON_PID" || fail "the daemon died"
lsmfs_umount
out=$(run "$FSCK" -n "$STORE" 2>&1) || fail "fsck -n after the stress: $(head -c 3000 <<<"$out")"
lsmfs_mount
check "private files after a remount" "$MT_STRESS" verify "$MNT" "$T/manifest"
lsmfs_umount
finish
