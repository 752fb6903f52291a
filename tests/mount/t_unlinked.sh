#!/bin/bash
# t_unlinked.sh — open-unlinked files (the heart of the design): a file
# removed while a descriptor is open vanishes from its directory at once,
# stays readable and writable through the descriptor (also across a full
# compaction), and its space comes back only after the last close.  A crash
# while it is open leaves an orphan that the next mount reclaims.
. "$(dirname "$0")/lib.sh"

mkstore "$STORE"
lsmfs_mount
M=$MNT

# One number from the lsmfs.stats document.
stat_of() {
	run getfattr --only-values -n lsmfs.stats "$M" 2>/dev/null |
		grep -o "\"$1\": [0-9]*" | head -1 | grep -o '[0-9]*$'
}
ctl() { run setfattr -n "lsmfs.$1" -v 1 "$M" || fail "control $1 failed"; }

store_kib() { du -sk "$STORE" | cut -f1; }

mkdir "$M/dir"
echo keep >"$M/dir/keep"
ctl compact
inodes0=$(stat_of inodes)
base_kib=$(store_kib)
[ -n "$inodes0" ] || fail "no inode count in lsmfs.stats"

# ---- held open across unlink and compaction ----
# hold PATH: start fsop holdopen on PATH, talking through fifos on fds 7
# (its stdin) and 8 (its stdout); sets hold_pid.
hold() {
	rm -f "$T/hin" "$T/hout"
	mkfifo "$T/hin" "$T/hout"
	"$FSOP" holdopen "$1" <"$T/hin" >"$T/hout" &
	hold_pid=$!
	exec 7>"$T/hin" 8<"$T/hout"
}
hold_read() {
	read -r -t 60 line <&8 || line="(timeout)"
}
hold "$M/dir/victim"
hold_read
[ "$line" = HELD ] || fail "holdopen: $line"
check "name gone at once" bash -c "[ ! -e '$M/dir/victim' ] && [ \"\$(ls '$M/dir')\" = keep ]"
[ "$(stat_of orphans)" = 1 ] || fail "orphans while held: $(stat_of orphans), want 1"
ctl flush
ctl compact
held_kib=$(store_kib)
[ "$held_kib" -ge $((base_kib + 1500)) ] || fail "store shrank to ${held_kib} KiB while the file is open (base ${base_kib} KiB)"
echo go >&7
hold_read
[ "$line" = OK ] || fail "holdopen after compaction: $line"
wait "$hold_pid" 2>/dev/null
exec 7>&- 8<&-
sleep 0.2
[ "$(stat_of orphans)" = 0 ] || fail "orphans after close: $(stat_of orphans)"
[ "$(stat_of open_handles)" = 0 ] || fail "open handles after close: $(stat_of open_handles)"
[ "$(stat_of inodes)" = "$inodes0" ] || fail "inodes after close: $(stat_of inodes), want $inodes0"
ctl compact
free_kib=$(store_kib)
[ "$free_kib" -lt $((base_kib + 512)) ] || fail "space not reclaimed after close and compaction: ${free_kib} KiB (base ${base_kib} KiB, held ${held_kib} KiB)"
log "store: base ${base_kib} KiB, held ${held_kib} KiB, after close ${free_kib} KiB"

# ---- ftruncate through a descriptor after unlink ----
check "ftruncate unlinked" "$FSOP" ftrunc-unlinked "$M/dir/t"

# ---- a crash while an unlinked file is open ----
hold "$M/dir/victim2"
hold_read
[ "$line" = HELD ] || fail "holdopen 2: $line"
[ "$(stat_of orphans)" = 1 ] || fail "orphans while held (2): $(stat_of orphans)"
ctl sync
kill -9 "$DAEMON_PID"
wait_exit "$DAEMON_PID" || fail "daemon survived kill -9"
kill -9 "$hold_pid" 2>/dev/null
wait "$hold_pid" 2>/dev/null
exec 7>&- 8<&-
run fusermount3 -u -z "$MNT" 2>/dev/null
lsmfs_mount
[ "$(stat_of orphans)" = 0 ] || fail "orphan not reclaimed at mount: $(stat_of orphans)"
[ "$(stat_of inodes)" = "$inodes0" ] || fail "inodes after recovery: $(stat_of inodes), want $inodes0"
check "rest intact" bash -c "[ \"\$(cat '$M/dir/keep')\" = keep ] && [ \"\$(ls '$M/dir')\" = keep ]"
ctl compact
[ "$(store_kib)" -lt $((base_kib + 512)) ] || fail "orphan's space not reclaimed after recovery: $(store_kib) KiB"
lsmfs_umount
finish
