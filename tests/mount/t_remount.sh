#!/bin/bash
# t_remount.sh — durability across the daemon's life: a clean unmount and
# remount keeps everything identical; after kill -9 (no clean close) every
# fsynced file is there with its contents, and the store mounts again.
. "$(dirname "$0")/lib.sh"

mkstore "$STORE"
lsmfs_mount
M=$MNT

# A mixed tree, with its checksums and metadata.
mkdir -p "$M/d1/d2" "$M/d3"
for i in $(seq 1 50); do head -c $((i * 997)) /dev/urandom >"$M/d1/f$i"; done
head -c 3000000 /dev/urandom >"$M/d1/d2/big"
ln "$M/d1/f1" "$M/d3/hard"
ln -s ../d1/f2 "$M/d3/sym"
setfattr -n user.a -v 1 "$M/d1/f3"
truncate -s 50M "$M/d3/sparse"
echo tail >>"$M/d3/sparse"
mkfifo "$M/d3/fifo"
chmod 640 "$M/d1/f4"
chown 7:8 "$M/d1/f5"
touch -d @1234567890 "$M/d1/f6"
rm "$M/d1/f7"
mv "$M/d1/f8" "$M/d3/moved"

mkdir "$M/post"
echo "before the crash" >"$M/post/old"

# snapshot DIR [SUBDIR...]: names, types, modes, owners, sizes, link
# counts, inode numbers, mtimes, symlink targets, checksums, xattrs.
snapshot() {
	local top=$1
	shift
	(cd "$top" && find "$@" -printf '%p %y %m %U %G %s %n %i %T@ %l\n' | sort &&
		find "$@" -type f -exec md5sum {} + | sort &&
		getfattr -R -h -d -m - "$@" 2>/dev/null)
}
snapshot "$M" . >"$T/s1"

# Clean unmount, remount: identical (inode numbers included).
lsmfs_umount
lsmfs_mount
snapshot "$M" . >"$T/s2"
diff "$T/s1" "$T/s2" >"$T/d12" || fail "changed across remount: $(head -30 "$T/d12")"

# Writes made after the remount, fsynced, then the daemon is killed.
snapshot "$M" d1 d3 >"$T/old"
check "fsync a new file" "$FSOP" writesync "$M/post/synced" 2500000 11
check "fsync a rewrite" "$FSOP" writesync "$M/post/old" 70000 12
check "sync(1) a new directory" bash -c "mkdir '$M/post/newdir' && echo x >'$M/post/newdir/x' && sync '$M/post/newdir/x' '$M/post/newdir' '$M/post'"
kill -9 "$DAEMON_PID"
wait_exit "$DAEMON_PID" || fail "daemon survived kill -9"
run fusermount3 -u -z "$MNT" 2>/dev/null
lsmfs_mount
check "fsynced file after crash" "$FSOP" verify "$M/post/synced" 2500000 11
check "fsynced rewrite after crash" "$FSOP" verify "$M/post/old" 70000 12
check "synced directory after crash" bash -c "[ \"\$(cat '$M/post/newdir/x')\" = x ]"
# What was there before and not touched is unchanged.
snapshot "$M" d1 d3 >"$T/old2"
diff "$T/old" "$T/old2" >"$T/dold" || fail "untouched files changed by the crash: $(head -30 "$T/dold")"

# After the crash recovery, a clean cycle works and keeps it all.
snapshot "$M" . >"$T/s4"
lsmfs_umount
lsmfs_mount
snapshot "$M" . >"$T/s5"
diff "$T/s4" "$T/s5" >"$T/d45" || fail "changed across remount after recovery: $(head -30 "$T/d45")"
lsmfs_umount
finish
