#!/bin/bash
# t_damage.sh KIND — a golden damage test of fsck.lsmfs.
#
# A store is made and filled (mkfs.lsmfs -d from a tree with every kind of
# object, then a file written through the daemon and flushed into a table
# of its own), damaged in exactly one way (KIND), and then:
#   1. fsck.lsmfs -n reports it (the golden set of problem codes) and exits
#      4 without changing a byte of the store (checksum of every file);
#   2. fsck.lsmfs -y fixes it (golden codes) and exits 1;
#   3. a second run exits 0 (and a -n run after it too);
#   4. the store mounts and every file the damage did not touch is intact,
#      plus what the repair promises for this KIND (lost+found etc.).
# KIND: sst_flip wal_flip table_missing table_extra missing_inode unref_inode
#       wrong_nlink dir_cycle leaked_block orphan, and misc (several
#       smaller kinds at once)
. "$(dirname "$0")/common.sh"

KIND=${1:?usage: t_damage.sh KIND}
TEST_NAME=damage_$KIND
REF=$T/ref

# ---- a fresh, filled store ----
make_source "$REF"
check "mkfs -d" "$MKFS" -q -d "$REF" "$STORE" || exit 1
lsmfs_mount
head -c 262144 /dev/urandom >"$REF/victim"
check "write victim" cp "$REF/victim" "$MNT/victim"
check "flush" "$LSMFSCTL" flush "$MNT"
lsmfs_umount
expect_rc 0 "$T/fresh.out" "$FSCK" -n "$STORE" || exit 1

newest_sst() { (cd "$STORE" && ls | grep '\.sst$' | sort | tail -1); }

# ---- the damage ----
DAMAGED=()		# files of REF the damage may take with it
case $KIND in
sst_flip)
	# The newest table holds the victim's data blocks (and its names and
	# inode near the end): a flip a third of the way in hits a data block.
	f=$(newest_sst)
	size=$(stat -c %s "$STORE/$f")
	check "flip" "$DAMAGE" flip "$STORE/$f" $((size / 3))
	WANT_N="0x010005"
	WANT_Y="0x010005 0x020008"
	DAMAGED=(victim)
	;;
table_missing)
	rm -f "$STORE/$(newest_sst)"
	WANT_N="0x010003"
	WANT_Y="0x000005 0x010003"
	DAMAGED=(victim)
	;;
wal_flip)
	# After the flush, the log holds what the unmount wrote (a complete
	# record); a flipped byte inside it is damage, not a torn write.
	f=$(cd "$STORE" && ls | grep '\.log$' | sort | tail -1)
	size=$(stat -c %s "$STORE/$f")
	[ "$size" -gt 16 ] || fail "log $f too small to damage ($size bytes)"
	check "flip" "$DAMAGE" flip "$STORE/$f" $((size / 2))
	WANT_N="0x010009"
	WANT_Y="0x010009"
	;;
table_extra)
	cp "$STORE/$(newest_sst)" "$STORE/900000.sst"
	WANT_N="0x01000a"
	WANT_Y="0x01000a"
	;;
missing_inode)
	check "damage" "$DAMAGE" "$STORE" add-entry a ghost 999999
	WANT_N="0x030005"
	WANT_Y="0x030005"
	;;
unref_inode)
	UNREF=$("$DAMAGE" "$STORE" unref) || fail "damage unref"
	WANT_N="0x000005 0x040005"
	WANT_Y="0x000005 0x040005 0x040006"
	;;
wrong_nlink)
	check "damage" "$DAMAGE" "$STORE" nlink f1 7
	WANT_N="0x050001"
	WANT_Y="0x050001"
	;;
dir_cycle)
	INO_A=$("$DAMAGE" "$STORE" ino a) || fail "damage ino"
	check "damage" "$DAMAGE" "$STORE" cycle a a/b
	WANT_N="0x040004 0x050001"
	WANT_Y="0x040004 0x040006 0x050001"
	DAMAGED=('a' 'a/*')
	;;
leaked_block)
	check "damage" "$DAMAGE" "$STORE" leak big1 1000000
	WANT_N="0x020006"
	WANT_Y="0x020006"
	;;
misc)
	# Many smaller kinds at once, each in its own place: a record that
	# does not decode, an entry of the wrong type, a symlink without its
	# target, records of inodes that do not exist, a key of no kind.
	check "damage" "$DAMAGE" "$STORE" corrupt-inode f9
	check "damage" "$DAMAGE" "$STORE" bad-type / f10
	check "damage" "$DAMAGE" "$STORE" drop-target link_dangling
	check "damage" "$DAMAGE" "$STORE" stray-xattr 777777
	check "damage" "$DAMAGE" "$STORE" stray-orphan 777778
	check "damage" "$DAMAGE" "$STORE" stray-key
	# Blocks the inode records do not account for: in a hole of a sparse
	# file (count), in the trailing hole of a file without blocks (range
	# and count), too long for a block, bytes past the end of a file.
	check "damage" "$DAMAGE" "$STORE" leak sparse 500
	check "damage" "$DAMAGE" "$STORE" leak zeros 2
	check "damage" "$DAMAGE" "$STORE" leak a/big2 0 5000
	check "damage" "$DAMAGE" "$STORE" leak big1 4 4096
	CODES="0x000005 0x020001 0x020003 0x020007 0x020008 0x020009 0x02000a 0x02000b"
	CODES+=" 0x02000f 0x030005 0x030007 0x060002"
	WANT_N=$CODES
	WANT_Y=$CODES
	DAMAGED=(f9 link_dangling sparse zeros a/big2 big1)
	;;
orphan)
	# A file open and unlinked when the daemon dies.
	lsmfs_mount
	exec 3>"$MNT/orph"
	head -c 100000 /dev/urandom >&3
	rm "$MNT/orph"
	check "sync" "$LSMFSCTL" sync "$MNT"
	kill -9 "$DAEMON_PID"
	wait_exit "$DAEMON_PID" || fail "daemon survived kill -9"
	run fusermount3 -u -z "$MNT"
	exec 3>&-
	WANT_N="0x060001"
	WANT_Y="0x060001"
	;;
*)
	fail "unknown kind $KIND"
	exit 1
	;;
esac

# ---- run 1 with -n: reports, exit 4, changes nothing ----
before=$(store_sum "$STORE")
expect_rc 4 "$T/n.out" "$FSCK" -n "$STORE"
[ "$(codes "$T/n.out")" = "$WANT_N" ] ||
	fail "-n reported codes '$(codes "$T/n.out")', want '$WANT_N':
$(cat "$T/n.out")"
[ "$(store_sum "$STORE")" = "$before" ] || fail "fsck -n changed the store"

# ---- run 1 with -y: fixes, exit 1; run 2: clean ----
expect_rc 1 "$T/y1.out" "$FSCK" -y "$STORE"
[ "$(codes "$T/y1.out")" = "$WANT_Y" ] ||
	fail "-y reported codes '$(codes "$T/y1.out")', want '$WANT_Y':
$(cat "$T/y1.out")"
expect_rc 0 "$T/y2.out" "$FSCK" -y "$STORE"
expect_rc 0 "$T/n2.out" "$FSCK" -n "$STORE"

# ---- the store mounts; what was not damaged is intact ----
lsmfs_mount
same_tree "$REF" "$MNT" "${DAMAGED[@]}"
case $KIND in
table_missing)
	[ ! -e "$MNT/victim" ] || fail "victim came back from a dropped table"
	;;
sst_flip)
	[ "$(stat -c %s "$MNT/victim")" = 262144 ] || fail "victim's size changed"
	;;
missing_inode)
	[ ! -e "$MNT/a/ghost" ] || fail "entry ghost still there"
	;;
misc)
	[ ! -e "$MNT/f9" ] && [ ! -L "$MNT/link_dangling" ] || fail "cleared inodes still named"
	[ -f "$MNT/f10" ] || fail "f10 not a regular file again"
	# The stray blocks within the files' sizes are data now; the bytes
	# written past big1's end were cleared, so extending shows zeros.
	[ "$(stat -c %s "$MNT/zeros")" = 20480 ] || fail "zeros changed size"
	[ "$(dd if="$MNT/zeros" bs=4096 skip=2 count=1 status=none | od -An -tx1 | head -1 | tr -d ' ')" = \
		"abababababababababababababababab" ] || fail "zeros' block 2 is not the stray data"
	truncate -s 30000 "$MNT/big1" || fail "extend big1"
	[ "$(tail -c 10000 "$MNT/big1" | tr -d '\0' | wc -c)" = 0 ] ||
		fail "extending big1 shows bytes that were past its end"
	;;
unref_inode)
	[ "$(cat "$MNT/lost+found/#$UNREF" 2>&1)" = unreferenced ] ||
		fail "inode $UNREF not reconnected as lost+found/#$UNREF"
	;;
wrong_nlink)
	[ "$(stat -c %h "$MNT/f1")" = 1 ] || fail "f1 nlink $(stat -c %h "$MNT/f1")"
	[ "$(stat -c %h "$MNT/f2")" = 3 ] || fail "f2 nlink $(stat -c %h "$MNT/f2")"
	;;
dir_cycle)
	same_tree "$REF/a" "$MNT/lost+found/#$INO_A"
	[ ! -e "$MNT/a" ] || fail "a is back at the root"
	[ "$(stat -c %h "$MNT")" = "$(($(find "$MNT" -mindepth 1 -maxdepth 1 -type d | wc -l) + 2))" ] ||
		fail "root link count $(stat -c %h "$MNT") wrong"
	;;
orphan)
	[ ! -e "$MNT/orph" ] || fail "orphan came back"
	;;
esac
lsmfs_umount
finish
