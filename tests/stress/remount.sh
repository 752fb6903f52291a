#!/bin/bash
# remount.sh STORE MNT LOG PIDFILE — unmount the lsmfs mounted on MNT and
# mount STORE there again; lsmfs-stress runs it (-c) between its phases.
#
# The daemon whose pid is in PIDFILE is asked to unmount (fusermount3 -u)
# and must exit within the timeout (it closes the store cleanly); a new
# daemon (LSMFS, in the foreground, its output appended to LOG, pid written
# to PIDFILE) must mount within the timeout.  Every step is bounded
# (STEP_TIMEOUT seconds, default 60); exit 0 when mounted again, else 1
# with the reason.  The test that started the first daemon owns cleanup:
# it finds the daemons by the store path in their command line.
set -u
STORE=$1 MNT=$2 LOG=$3 PIDFILE=$4
: "${LSMFS:?LSMFS must point at the lsmfs binary}"
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
old=$(cat "$PIDFILE")
timeout -k 5 "$STEP_TIMEOUT" fusermount3 -u "$MNT" || { echo "remount: fusermount3 -u failed" >&2; exit 1; }
for _ in $(seq 1 $((STEP_TIMEOUT * 20))); do
	[ -e "/proc/$old" ] && ! grep -q '^State:.*Z' "/proc/$old/status" 2>/dev/null || break
	sleep 0.05
done
if [ -e "/proc/$old" ] && ! grep -q '^State:.*Z' "/proc/$old/status" 2>/dev/null; then
	echo "remount: daemon $old still running ${STEP_TIMEOUT}s after the unmount" >&2
	exit 1
fi
env --default-signal=INT,QUIT "$LSMFS" "$STORE" "$MNT" -f >>"$LOG" 2>&1 </dev/null &
new=$!
echo "$new" >"$PIDFILE"
for _ in $(seq 1 $((STEP_TIMEOUT * 20))); do
	mountpoint -q "$MNT" && exit 0
	[ -e "/proc/$new" ] || { echo "remount: the new daemon exited: $(tail -3 "$LOG")" >&2; exit 1; }
	sleep 0.05
done
echo "remount: $MNT did not appear within ${STEP_TIMEOUT}s" >&2
exit 1
