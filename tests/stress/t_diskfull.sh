#!/bin/bash
# t_diskfull.sh — a store on a small filesystem, filled up.
#
# The store lives on a 64 MiB tmpfs this test mounts (and always unmounts).
# What must hold:
#   1. Filling it through lsmfs ends with ENOSPC — never EIO, never a dead
#      daemon — and keeps doing so; everything written and synced before is
#      intact.  (lsmfs keeps a reserve of the host filesystem for the
#      engine, fs/super.c fit_to_host: data writes stop there.)
#   2. Deleting files works on the full store; after a compaction (the
#      control xattr lsmfs.compact) writes work again.  Twice over.  A
#      third time with a directory handle open from before the deletion:
#      the compaction cannot free what the handle pins (when it runs out
#      of space for it, a log line names the open handles); after the
#      close it frees the deleted files' space.
#   3. The host filesystem filled from outside (a ballast file next to the
#      store, so the engine itself hits ENOSPC: WAL appends, flushes):
#      creates and writes fail with ENOSPC, the daemon stays up, reads go
#      on; once the ballast is gone, writes work again — the engine's
#      latched out-of-space error is retried (lsm/db.c nospace_retry).
#   4. After a clean unmount fsck.lsmfs -n is clean, and a remount shows
#      every synced file.
# Environment: as tests/mount/lib.sh, plus FSCK.
. "$(dirname "$0")/../mount/lib.sh"

: "${FSCK:?FSCK must point at fsck.lsmfs}"
TM=$T/tm
STORE=$TM/store
mkdir "$TM"
mount -t tmpfs -o size=64m,mode=755 lsmfs-test-tmpfs "$TM" || skip "cannot mount a tmpfs"

# Unmount the tmpfs after the daemon is gone, then the usual cleanup.
diskfull_cleanup() {
	local rc=$?
	if is_mounted "$MNT"; then
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	if [ -n "${DAEMON_PID:-}" ] && alive "$DAEMON_PID"; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait_exit "$DAEMON_PID" || kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	umount "$TM" 2>/dev/null || umount -l "$TM"
	(exit $rc)
	cleanup
}
trap diskfull_cleanup EXIT

mkstore "$STORE"
lsmfs_mount
M=$MNT

# What the store and the tmpfs hold, for the log of a failed check.
dump_store() {
	echo "---- $1: the store and the tmpfs ----"
	ls -la "$STORE"
	df -B1 "$TM" | tail -1
	run getfattr --only-values -n lsmfs.stats "$M" 2>&1 | grep -E 'open_handles|level": [0-9], "tables": [1-9]|background_error|bytes_held|disk_bytes|gc_cutoff|last_seq'
}

daemon_ok() {
	alive "$DAEMON_PID" || { fail "$1: the daemon died"; exit 1; }
	run stat "$M" >/dev/null 2>&1 || { fail "$1: the mount does not answer"; exit 1; }
}

# Synced data that must survive everything below.
mkdir "$M/keep"
for i in 1 2 3; do
	check "writesync keep/k$i" "$FSOP" writesync "$M/keep/k$i" $((i * 700000)) $((100 + i))
done
check "small synced file" "$FSOP" writesync "$M/keep/small" 1000 7
verify_keep() {
	for i in 1 2 3; do
		check "$1: keep/k$i intact" "$FSOP" verify "$M/keep/k$i" $((i * 700000)) $((100 + i))
	done
	check "$1: keep/small intact" "$FSOP" verify "$M/keep/small" 1000 7
}

# fill ROUND: write 1 MiB files until writes fail three times in a row
# (background compaction may free a little after the first ENOSPC); every
# failure must be ENOSPC.
fill() {
	local i out n=0 nospc=0
	mkdir -p "$M/fill$1"
	for i in $(seq 1 300); do
		out=$(run "$FSOP" writesync "$M/fill$1/f$i" 1048576 "$i" 2>&1)
		case "$out" in
		OK) n=$((n + 1)); nospc=0 ;;
		ENOSPC) nospc=$((nospc + 1)); [ $nospc = 3 ] && break ;;
		*) fail "round $1: filling failed with '$out', want ENOSPC"; break ;;
		esac
	done
	[ $nospc = 3 ] || fail "round $1: no ENOSPC after $n MiB written into a 64 MiB filesystem"
	[ $n -ge 10 ] || fail "round $1: only $n MiB fit before ENOSPC"
	log "round $1: $n MiB written, then ENOSPC"
	daemon_ok "round $1 full"
	verify_keep "round $1 full"
}

# The kernel sends RELEASE and RELEASEDIR after close(2) has returned, so
# the handles rm -rf and the last writes used may still be open, pinning the
# GC cutoff below the deletions (nothing they shadow can be dropped yet).
# Wait until the daemon counts no open handle, as a user would see in
# lsmfsctl stat, before asking for the compaction that frees the space.
no_handles() {
	local i
	for i in $(seq 1 100); do
		run getfattr --only-values -n lsmfs.stats "$M" 2>/dev/null |
			grep -q '"open_handles": 0,' && return 0
		sleep 0.1
	done
	fail "$1: handles still open after 10 s"
}

# free ROUND: delete the round's files, compact, write again.
free_space() {
	check "round $1: rm on a full store" rm -rf "$M/fill$1"
	no_handles "round $1"
	check "round $1: compact" setfattr -n lsmfs.compact -v 1 "$M" || dump_store "round $1"
	local i
	for i in 1 2 3 4 5 6 7 8; do
		check "round $1: write after freeing ($i)" "$FSOP" writesync "$M/after$1.$i" 1048576 $((i + 50))
	done
	for i in 1 2 3 4 5 6 7 8; do
		check "round $1: read back ($i)" "$FSOP" verify "$M/after$1.$i" 1048576 $((i + 50))
	done
	check "round $1: rm the new files" bash -c "rm -f '$M'/after$1.*"
	no_handles "round $1 again"
	check "round $1: compact again" setfattr -n lsmfs.compact -v 1 "$M"
	daemon_ok "round $1 freed"
}

fill 1
free_space 1
fill 2
free_space 2

# A handle opened after the data was written and before it was deleted
# pins it (the GC cutoff): compaction cannot free it (it may rewrite it, or
# run out of space and say which handles hold the cutoff); once the handle
# is closed, compaction frees it.
used() { df --output=used -B1 "$TM" | tail -1; }
fill 3
exec 3<"$M/fill3"
check "round 3: rm with a handle open" bash -c "rm -f '$M'/fill3/*"
out=$(run setfattr -n lsmfs.compact -v 1 "$M" 2>&1)
case "$out" in
"") ;;
*"No space left"*)
	check "round 3: the daemon names the pinning handles" \
		grep -q "open handle(s) pin the GC cutoff" "$LOG" ;;
*) fail "round 3: compaction with the deleted data pinned: '$out', want success or ENOSPC" ;;
esac
pinned=$(used)
exec 3<&-
no_handles "round 3"
check "round 3: compact after the close" setfattr -n lsmfs.compact -v 1 "$M" ||
	dump_store "round 3"
freed=$(used)
log "round 3: $pinned bytes used with the handle open, $freed after closing it and compacting"
[ $((pinned - freed)) -ge $((8 << 20)) ] ||
	{ fail "round 3: closing the handle and compacting freed $((pinned - freed)) bytes, want the deleted files' 10+ MiB"; dump_store "round 3"; }
check "round 3: write after freeing" "$FSOP" writesync "$M/after3" 1048576 77
check "round 3: read back" "$FSOP" verify "$M/after3" 1048576 77
check "round 3: rm" rm -rf "$M/fill3" "$M/after3"
daemon_ok "round 3"

# 3. The host filesystem filled behind lsmfs's back: the engine itself
# runs out of space.
head -c 100M /dev/zero >"$TM/ballast" 2>/dev/null
log "ballast: $(stat -c %s "$TM/ballast") bytes, $(df --output=avail -B1 "$TM" | tail -1) left on the tmpfs"
nospc=0
for i in $(seq 1 300); do
	out=$(run "$FSOP" mkdir "$M/meta$i" 2>&1)
	case "$out" in
	OK) ;;
	ENOSPC) nospc=$((nospc + 1)); [ $nospc -ge 3 ] && break ;;
	*) fail "mkdir with the host full: '$out', want OK or ENOSPC"; break ;;
	esac
	# metadata with a little data each, so the log grows
	run setfattr -n user.pad -v "$(head -c 3000 /dev/zero | tr '\0' x)" "$M/meta$i" 2>/dev/null
done
[ $nospc -ge 1 ] || fail "the engine never ran out of space with the host full"
out=$(run "$FSOP" writesync "$M/blocked" 100000 3 2>&1)
[ "$out" = ENOSPC ] || fail "write with the host full: '$out', want ENOSPC"
daemon_ok "host full"
verify_keep "host full"
rm -f "$TM/ballast"
# Space is back: the latched error is retried by the next write.
check "write after the ballast is gone" "$FSOP" writesync "$M/back" 2000000 9 ||
	dump_store "after the ballast"
check "create after the ballast is gone" "$FSOP" mkdir "$M/meta-back"
check "read back" "$FSOP" verify "$M/back" 2000000 9
check "stats: no latched error" bash -c "getfattr --only-values -n lsmfs.stats '$M' | grep -q '\"background_error\": 0'"
verify_keep "after the ballast"

# 4. Clean unmount, fsck, remount.
lsmfs_umount
out=$(run "$FSCK" -n "$STORE" 2>&1) || fail "fsck -n after the disk-full rounds: $(head -c 3000 <<<"$out")"
lsmfs_mount
verify_keep "remounted"
check "remounted: back" "$FSOP" verify "$M/back" 2000000 9
lsmfs_umount
check_log
finish
