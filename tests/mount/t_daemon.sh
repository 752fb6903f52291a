#!/bin/bash
# t_daemon.sh — the lsmfs program itself: refusals before mounting (one
# clear line on stderr, exit 1), daemon mode returning only once mounted,
# unmount by fusermount3 / umount / SIGTERM / SIGINT closing the store
# cleanly (it mounts again at once), mount(8) and fstab through
# mount.fuse3, -o ro.
. "$(dirname "$0")/lib.sh"

# refuse WANT-REGEX args...: lsmfs must exit 1 with one stderr line
# matching WANT-REGEX and mount nothing.
refuse() {
	local want=$1 rc
	shift
	run "$LSMFS" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 1 ] || fail "lsmfs $*: exit $rc, want 1"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "lsmfs $*: want one line, got: $(cat "$T/err")"
	grep -Eq -- "$want" "$T/err" || fail "lsmfs $*: message '$(cat "$T/err")' does not match '$want'"
	# the mount point is the argument after the store
	local mp=${2:-}
	if [ -n "$mp" ] && [ -d "$mp" ] && [ "$mp" != "$MNT" -o "${MNT_BUSY:-0}" = 0 ] &&
		mountpoint -q "$mp"; then
		fail "lsmfs $*: mounted anyway"
		fusermount3 -u -z "$mp"
	fi
	return 0
}

# ---- refusals ----
refuse "^lsmfs: $T/nostore: no such store \(create it with mkfs.lsmfs\)$" "$T/nostore" "$MNT"
refuse "^lsmfs: $T/nostore: no such store" "$T/nostore" "$MNT" -f
mkdir "$T/plain"
refuse "^lsmfs: $T/plain: not an lsmfs store" "$T/plain" "$MNT"
echo hello >"$T/plain/somefile"
refuse "^lsmfs: $T/plain: not an lsmfs store" "$T/plain" "$MNT"
echo x >"$T/afile"
refuse "^lsmfs: $T/afile: not an lsmfs store" "$T/afile" "$MNT"
# -o create makes a store only where nothing is.
refuse "^lsmfs: $T/plain: not an lsmfs store" "$T/plain" "$MNT" -o create
refuse "usage" "$T/plain"
# A refused directory is left as it was.  (The engine may leave its LOCK
# file behind: tolerated here, reported separately.)
[ "$(cat "$T/plain/somefile")" = hello ] && [ "$(ls "$T/plain" | grep -vx LOCK)" = somefile ] ||
	fail "a refused directory was modified: $(ls "$T/plain")"
[ -e "$T/plain/LOCK" ] && log "note: the engine left a LOCK file in a refused directory"

mkstore "$STORE"
lsmfs_mount
echo data >"$MNT/file"
mkdir "$T/mnt2"
MNT_BUSY=1
refuse "^lsmfs: $STORE: store is in use" "$STORE" "$T/mnt2"
refuse "^lsmfs: $STORE: store is in use" "$STORE" "$T/mnt2" -f
# SIGTERM ends a foreground daemon cleanly.
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" || fail "SIGTERM did not stop the daemon"
[ "$EXIT_RC" = 0 ] || fail "exit status after SIGTERM: $EXIT_RC"
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"
check_log

# A store written by a newer lsmfs is refused, and left as it was.
if [ -n "${SBVER:-}" ]; then
	run "$SBVER" "$STORE" bump >"$T/sb.saved" || fail "could not make the format newer"
	refuse "^lsmfs: $STORE: store format is newer than this lsmfs supports" "$STORE" "$MNT"
	check "restore the format" bash -c "'$SBVER' '$STORE' restore <'$T/sb.saved'"
fi

# ---- daemon mode: returns once mounted, the store is open in the child ----
run "$LSMFS" "$STORE" "$MNT" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || fail "daemon mode: exit $rc: $(cat "$T/err")"
mountpoint -q "$MNT" || fail "daemon mode: not mounted when lsmfs returned"
[ -s "$T/err" ] && fail "daemon mode printed: $(cat "$T/err")"
check "daemon serves" bash -c "[ \"\$(cat '$MNT/file')\" = data ]"
pid=$(find_daemon "$STORE")
[ -n "$pid" ] || fail "no daemon process found"
DAEMON_PIDS+=($pid)
check "daemon has no terminal" bash -c "[ \"\$(ps -o tty= -p $pid | tr -d ' ')\" = '?' ]"
check "daemon works in /" bash -c "[ \"\$(readlink /proc/$pid/cwd)\" = / ]"
check "fsname and type in mountinfo" bash -c "grep -F ' $MNT ' /proc/self/mountinfo | grep -q 'fuse.lsmfs $STORE'"
check "default_permissions is on" bash -c "grep -F ' $MNT ' /proc/self/mountinfo | grep -q default_permissions"
check "write through the daemon" bash -c "echo more >'$MNT/file2'"
# umount(8) ends it.
check "umount" umount "$MNT"
wait_exit "$pid" || fail "daemon did not exit after umount"

# ---- mount(8) (through mount.fuse3) and fstab ----
# mount(8) runs its helpers with a fixed PATH, so `-t fuse.lsmfs` finds only
# an installed lsmfs; the "PROGRAM#STORE" form of type fuse names our build
# and goes through the same helper and argument order.
if [ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ]; then
	check "mount -t fuse PROG#STORE" mount -t fuse -o allow_other,noatime "$LSMFS#$STORE" "$MNT"
	mountpoint -q "$MNT" || fail "mount(8) did not mount"
	check "mount(8) mount serves" bash -c "[ \"\$(cat '$MNT/file2')\" = more ]"
	check "allow_other passed" bash -c "grep -F ' $MNT ' /proc/self/mountinfo | grep -q allow_other"
	pid=$(find_daemon "$STORE")
	DAEMON_PIDS+=($pid)
	check "umount" umount "$MNT"
	[ -n "$pid" ] && { wait_exit "$pid" || fail "mount(8) daemon did not exit"; }
	echo "$LSMFS#$STORE $MNT fuse defaults,noauto,allow_other 0 0" >"$T/fstab"
	check "mount from an fstab" mount -T "$T/fstab" "$MNT"
	check "fstab mount serves" bash -c "[ \"\$(cat '$MNT/file')\" = data ]"
	pid=$(find_daemon "$STORE")
	DAEMON_PIDS+=($pid)
	check "fusermount3 -u" fusermount3 -u "$MNT"
	[ -n "$pid" ] && { wait_exit "$pid" || fail "fstab daemon did not exit"; }
else
	log "no mount.fuse3: skipping mount(8)"
fi

# ---- SIGINT in the foreground, -s single-threaded, -d debug ----
lsmfs_mount -s
check "single-threaded serves" bash -c "[ \"\$(cat '$MNT/file')\" = data ]"
kill -INT "$DAEMON_PID"
wait_exit "$DAEMON_PID" || fail "SIGINT did not stop the daemon"
mountpoint -q "$MNT" && fail "still mounted after SIGINT"
lsmfs_mount -d
check "debug mode serves" bash -c "ls '$MNT' >/dev/null"
lsmfs_umount
grep -q "LOOKUP\|GETATTR\|unique:" "$LOG" || fail "-d printed no request trace"

# ---- read-only ----
lsmfs_mount -o ro
expect EROFS write "$MNT/new" 0 x
expect EROFS mkdir "$MNT/newdir"
expect EROFS unlink "$MNT/file"
expect EROFS setxattr "$MNT/file" user.a b
check "ro reads" bash -c "[ \"\$(cat '$MNT/file')\" = data ]"
lsmfs_umount

# ---- -o create: a new store where there was nothing ----
mkdir -p "$T/mnt2"
run "$LSMFS" "$T/newstore" "$T/mnt2" -o create >"$T/out" 2>"$T/err" || fail "-o create: $(cat "$T/err")"
pid=$(find_daemon "$T/newstore")
DAEMON_PIDS+=($pid)
check "new store serves" bash -c "echo new >'$T/mnt2/n' && [ \"\$(cat '$T/mnt2/n')\" = new ]"
check "unmount the new store" fusermount3 -u "$T/mnt2"
[ -n "$pid" ] && { wait_exit "$pid" || fail "new store's daemon did not exit"; }
run "$LSMFS" "$T/newstore" "$T/mnt2" -o create >"$T/out" 2>"$T/err" || fail "-o create on an existing store: $(cat "$T/err")"
pid=$(find_daemon "$T/newstore")
DAEMON_PIDS+=($pid)
check "-o create keeps an existing store" bash -c "[ \"\$(cat '$T/mnt2/n')\" = new ]"
check "unmount the new store" fusermount3 -u "$T/mnt2"
[ -n "$pid" ] && { wait_exit "$pid" || fail "new store's daemon did not exit"; }

# ---- options ----
check "--help" bash -c "'$LSMFS' --help | grep -q entry_timeout"
check "--version" bash -c "'$LSMFS' --version | grep -q 'lsmfs version'"
lsmfs_mount -o entry_timeout=0,attr_timeout=0,writeback
check "writeback mount serves" bash -c "echo wb >'$MNT/wb' && [ \"\$(cat '$MNT/wb')\" = wb ]"
check "writeback: append" bash -c "echo wb2 >>'$MNT/wb' && [ \"\$(cat '$MNT/wb')\" = \"\$(printf 'wb\nwb2')\" ]"
lsmfs_umount
lsmfs_mount
check "writeback data kept" bash -c "[ \"\$(cat '$MNT/wb' | wc -l)\" = 2 ]"
lsmfs_umount
finish
