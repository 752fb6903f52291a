#!/bin/bash
# t_ops.sh — every operation through a real mount: results, error codes,
# and attributes that are fresh right after the call (the kernel caches what
# we reply, so a stale nlink or ctime would show here).
. "$(dirname "$0")/lib.sh"

mkstore "$STORE"
lsmfs_mount
M=$MNT

# ---- mkdir / rmdir ----
expect OK mkdir "$M/d"
expect EEXIST mkdir "$M/d"
expect ENOENT mkdir "$M/nope/x"
expect OK write "$M/f" 0 hello
expect ENOTDIR mkdir "$M/f/x"
expect ENOTDIR rmdir "$M/f"
expect OK mkdir "$M/d/sub"
expect ENOTEMPTY rmdir "$M/d"
expect EINVAL rmdir "$M/d/."
expect ENOENT rmdir "$M/d/none"
out=$(run "$FSOP" stat "$M/d"); [ "${out% *}" = "OK 40755 3 0 0" ] || fail "dir stat '$out' (want nlink 3)"
expect OK rmdir "$M/d/sub"
out=$(run "$FSOP" stat "$M/d"); [ "${out% *}" = "OK 40755 2 0 0" ] || fail "dir nlink after rmdir '$out'"

# ---- names ----
long=$(printf 'x%.0s' $(seq 1 255))
expect OK write "$M/$long" 0 data
expect ENAMETOOLONG write "$M/${long}y" 0 data
expect ENAMETOOLONG mkdir "$M/${long}y"
check "ls a 255-byte name" test -f "$M/$long"
expect OK mkdir "$M/ünï cödé \$name'q"
check "odd names listed" bash -c "ls '$M' | grep -qF 'ünï cödé'"

# ---- files: unlink, open flags, read/write ----
expect EISDIR unlink "$M/d"
expect ENOENT unlink "$M/missing"
expect EEXIST open "$M/f" wronly,creat,excl
expect ENOTDIR open "$M/f" rdonly,directory
expect EISDIR open "$M/d" wronly
expect EISDIR open "$M/d" rdwr
expect OK open "$M/d" rdonly,directory
expect ENOENT open "$M/nothing" rdonly
expect_out "OK 5 hello" read "$M/f" 0 100
expect OK write "$M/f" 10 world
expect_out "OK 3 llo" read "$M/f" 2 3
out=$(run "$FSOP" stat "$M/f"); [ "${out##* }" = 15 ] || fail "size after write past end '$out'"
check "hole reads as zeros" bash -c "[ \"\$(od -An -tx1 -j5 -N5 '$M/f' | tr -d ' ')\" = 0000000000 ]"
expect OK open "$M/f" wronly,trunc
out=$(run "$FSOP" stat "$M/f"); [ "${out##* }" = 0 ] || fail "size after O_TRUNC '$out'"
echo -n abc >"$M/app"
echo -n def >>"$M/app"
check "O_APPEND" bash -c "[ \"\$(cat '$M/app')\" = abcdef ]"
expect_out "OK 644" create "$M/newfile" 0644
expect_out "OK 600" create "$M/newfile2" 0600
expect EEXIST create "$M/newfile" 0644

# ---- truncate, sparse, big ----
expect OK truncate "$M/f" 100000
out=$(run "$FSOP" stat "$M/f"); [ "${out##* }" = 100000 ] || fail "truncate up '$out'"
check "truncated-up file is zeros" cmp -n 100000 "$M/f" /dev/zero
expect OK truncate "$M/f" 7
expect EISDIR truncate "$M/d" 0
expect EINVAL ftruncate-ro "$M/f"
check "write 8 MiB" bash -c "head -c 8388608 /dev/urandom >'$T/big' && cp '$T/big' '$M/big'"
check "read 8 MiB back" cmp "$T/big" "$M/big"
check "pattern write+fsync" "$FSOP" writesync "$M/pat" 3000001 5
check "pattern verify" "$FSOP" verify "$M/pat" 3000001 5
check "overwrite middle" bash -c "dd if=/dev/zero of='$M/big' bs=1000 seek=3001 count=7 conv=notrunc status=none && dd if=/dev/zero of='$T/big' bs=1000 seek=3001 count=7 conv=notrunc status=none"
check "overwrite matches" cmp "$T/big" "$M/big"

# ---- symlinks ----
expect OK symlink "target/with/path" "$M/sl"
expect_out "OK target/with/path" readlink "$M/sl"
expect EINVAL readlink "$M/f"
expect EEXIST symlink x "$M/sl"
expect OK symlink loop2 "$M/loop1"
expect OK symlink loop1 "$M/loop2"
expect ELOOP open "$M/loop1" rdonly
expect ELOOP open "$M/sl" rdonly,nofollow
expect OK write "$M/tgt" 0 hello
expect OK symlink tgt "$M/tof"
expect_out "OK 5 hello" read "$M/tof" 0 100
out=$(run "$FSOP" stat "$M/sl"); [ "$(echo "$out" | cut -d' ' -f2)" = 120777 ] || fail "symlink mode '$out'"
longt=$(printf 'a%.0s' $(seq 1 4095))
expect OK symlink "$longt" "$M/longlink"
expect_out "OK $longt" readlink "$M/longlink"

# ---- hard links: nlink fresh in the replies ----
expect OK write "$M/h1" 0 linkdata
expect OK link "$M/h1" "$M/h2"
check "nlink 2 at once" bash -c "[ \"\$(stat -c %h '$M/h1')\" = 2 ] && [ \"\$(stat -c %h '$M/h2')\" = 2 ]"
check "same inode" bash -c "[ \"\$(stat -c %i '$M/h1')\" = \"\$(stat -c %i '$M/h2')\" ]"
expect EEXIST link "$M/h1" "$M/h2"
expect EPERM link "$M/d" "$M/dlink"
expect ENOENT link "$M/none" "$M/x"
expect OK unlink "$M/h1"
check "nlink 1 after unlink" bash -c "[ \"\$(stat -c %h '$M/h2')\" = 1 ]"
expect_out "OK 8 linkdata" read "$M/h2" 0 100

# ---- rename ----
expect OK mkdir "$M/r"
expect OK write "$M/r/a" 0 A
expect OK write "$M/r/b" 0 B
c0=$(stat -c %Z "$M/r/a"); sleep 1.1
expect OK rename "$M/r/a" "$M/r/c"
check "ctime moves on rename" bash -c "[ \"\$(stat -c %Z '$M/r/c')\" -gt $c0 ]"
expect ENOENT rename "$M/r/a" "$M/r/x"
expect EEXIST rename "$M/r/b" "$M/r/c" noreplace
expect OK rename "$M/r/b" "$M/r/c" exchange
expect_out "OK 1 B" read "$M/r/c" 0 10
expect_out "OK 1 A" read "$M/r/b" 0 10
expect OK rename "$M/r/b" "$M/r/c"
check "rename replaced" bash -c "[ ! -e '$M/r/b' ] && [ \"\$(cat '$M/r/c')\" = A ]"
expect OK mkdir "$M/r/d1"
expect OK mkdir "$M/r/d2"
expect OK write "$M/r/d2/x" 0 x
expect EINVAL rename "$M/r/d1" "$M/r/d1/inside"
expect EISDIR rename "$M/r/c" "$M/r/d1"
expect ENOTDIR rename "$M/r/d1" "$M/r/c"
expect ENOTEMPTY rename "$M/r/d1" "$M/r/d2"
expect OK rename "$M/r/d2" "$M/r/d1"
check "dir moved over empty dir" test -f "$M/r/d1/x"
expect OK mkdir "$M/r/e"
expect OK rename "$M/r/d1" "$M/r/e/d1"
check "parent nlink after dir move" bash -c "[ \"\$(stat -c %h '$M/r')\" = 3 ] && [ \"\$(stat -c %h '$M/r/e')\" = 3 ]"
check "dotdot follows the move" bash -c "[ \"\$(stat -c %i '$M/r/e/d1/..')\" = \"\$(stat -c %i '$M/r/e')\" ]"

# ---- mknod ----
expect OK mknod "$M/fifo" fifo 0644
check "fifo type" test -p "$M/fifo"
expect OK mknod "$M/chr" chr 0600
check "char device rdev" bash -c "[ \"\$(stat -c '%t:%T' '$M/chr')\" = 1:3 ]"
expect EEXIST mknod "$M/fifo" fifo 0644

# ---- attributes ----
expect OK chmod "$M/f" 0600
check "chmod" bash -c "[ \"\$(stat -c %a '$M/f')\" = 600 ]"
expect OK chown "$M/f" 1234 5678
check "chown" bash -c "[ \"\$(stat -c %u:%g '$M/f')\" = 1234:5678 ]"
expect OK utimens "$M/f" 1000000000 1200000000
check "utimens explicit" bash -c "[ \"\$(stat -c %X:%Y '$M/f')\" = 1000000000:1200000000 ]"
before=$(date +%s)
expect OK utimens "$M/f" omit now
check "utimens omit/now" bash -c "[ \"\$(stat -c %X '$M/f')\" = 1000000000 ] && [ \"\$(stat -c %Y '$M/f')\" -ge $before ]"
# relatime across opens: the kernel may keep a file's pages from one open
# to the next (keep_cache) only while a read would not move atime.  After
# a read (atime newer than mtime and ctime, pages cached) a chmod moves
# ctime only, the pages stay valid, and the next read must still move
# atime, as on ext4: that open has to drop the pages.
expect OK write "$M/rt" 0 "some data"
check "relatime: first read" cat "$M/rt"
check "relatime: chmod" chmod 0640 "$M/rt"
ctime=$(stat -c %.9Z "$M/rt")
check "relatime: read after the chmod" cat "$M/rt"
check "relatime: that read moved atime past ctime" \
	bash -c "[ \"\$(stat -c %.9X '$M/rt')\" '>' '$ctime' ]"
check "relatime: read once more (atime is new: nothing due)" cat "$M/rt"
check "touch -h on a symlink" touch -h -d @1300000000 "$M/sl"
check "symlink mtime" bash -c "[ \"\$(stat -c %Y '$M/sl')\" = 1300000000 ]"
check "nanosecond mtime" bash -c "touch -d '2020-01-02 03:04:05.123456789' '$M/f' && [ \"\$(stat -c %y '$M/f')\" = '2020-01-02 03:04:05.123456789 +0000' ]"
m0=$(stat -c %Y "$M/app"); sleep 1.1; echo more >>"$M/app"
check "mtime moves on write" bash -c "[ \"\$(stat -c %Y '$M/app')\" -gt $m0 ]"
d0=$(stat -c %Y "$M/r"); sleep 1.1; touch "$M/r/newname"
check "dir mtime moves on create" bash -c "[ \"\$(stat -c %Y '$M/r')\" -gt $d0 ]"
expect OK access "$M/f" rw
expect OK access "$M/f" f

# ---- xattrs ----
expect ENODATA getxattr "$M/f" user.none
expect OK setxattr "$M/f" user.k v1
expect EEXIST setxattr "$M/f" user.k v2 create
expect OK setxattr "$M/f" user.k v2 replace
expect ENODATA setxattr "$M/f" user.other v replace
expect_out "OK v2" getxattr "$M/f" user.k
expect_out "OK 2" getxattr-size "$M/f" user.k
expect OK setxattr "$M/f" user.k2 "a longer value"
expect_out "OK 14" getxattr-size "$M/f" user.k2
expect_out "OK user.k user.k2" listxattr "$M/f"
expect OK setxattr "$M/f" trusted.t tv
expect_out "OK tv" getxattr "$M/f" trusted.t
expect OK removexattr "$M/f" user.k
expect ENODATA removexattr "$M/f" user.k
expect_out "OK trusted.t user.k2" listxattr "$M/f"
expect OK setxattr "$M/d" user.dir yes
expect_out "OK yes" getxattr "$M/d" user.dir
expect EPERM setxattr "$M/sl" user.k v
check "big xattr value" bash -c "setfattr -n user.big -v \"\$(head -c 60000 /dev/zero | tr '\\0' z)\" '$M/f' && [ \"\$(getfattr --only-values -n user.big '$M/f' | wc -c)\" = 60000 ]"
check "setfattr/getfattr" bash -c "setfattr -n user.x -v 0xdeadbeef '$M/f' && getfattr -e hex -n user.x '$M/f' | grep -q 'user.x=0xdeadbeef'"

# ---- POSIX ACLs: stored as xattrs, kept in step with the mode ----
if command -v setfacl >/dev/null; then
	echo acl >"$M/acl"
	chmod 640 "$M/acl"
	check "setfacl minimal ACL = chmod" setfacl -m u::rwx,g::r-x,o::r-- "$M/acl"
	check "mode follows a minimal ACL" bash -c "[ \"\$(stat -c %a '$M/acl')\" = 754 ]"
	expect ENODATA getxattr "$M/acl" system.posix_acl_access
	check "setfacl named user" setfacl -m u:65534:rw "$M/acl"
	check "mode group bits = mask" bash -c "[ \"\$(stat -c %a '$M/acl')\" = 774 ]"
	check "getfacl shows the entry" bash -c "getfacl -n '$M/acl' 2>/dev/null | grep -qx 'user:65534:rw-'"
	check "chmod" chmod 700 "$M/acl"
	check "chmod rewrites the mask" bash -c "getfacl -n '$M/acl' 2>/dev/null | grep -q '^mask::---'"
	check "chmod rewrites other" bash -c "getfacl -n '$M/acl' 2>/dev/null | grep -qx 'other::---'"
	check "setfacl -b" setfacl -b "$M/acl"
	expect ENODATA getxattr "$M/acl" system.posix_acl_access
	check "default ACL on a dir" setfacl -d -m u:65534:rx "$M/d"
	check "default ACL stored" bash -c "getfacl -n '$M/d' 2>/dev/null | grep -qx 'default:user:65534:r-x'"
fi

# ---- fallocate, lseek, copy_file_range ----
expect OK write "$M/fa" 0 x
expect OK fallocate "$M/fa" 0 1000000
out=$(run "$FSOP" stat "$M/fa"); [ "${out##* }" = 1000000 ] || fail "fallocate size '$out'"
expect OK fallocate "$M/fa" 2000000 4096 keep
out=$(run "$FSOP" stat "$M/fa"); [ "${out##* }" = 1000000 ] || fail "fallocate keep size '$out'"
expect OK write "$M/sp" 1048576 data
expect_out "OK 1048576" seek "$M/sp" data 0
expect_out "OK 0" seek "$M/sp" hole 0
expect ENXIO seek "$M/sp" data 2000000
check "punch a hole" bash -c "'$FSOP' writesync '$M/ph' 65536 3 >/dev/null && '$FSOP' fallocate '$M/ph' 8192 8192 punch >/dev/null"
check "punched range is zeros" cmp -n 8192 -i 8192:0 "$M/ph" /dev/zero
check "outside the hole intact" bash -c "[ \"\$(stat -c %s '$M/ph')\" = 65536 ]"
expect_out "OK 3000001" copyrange "$M/pat" 0 "$M/patcopy" 0 3000001
check "copy_file_range result" cmp "$M/pat" "$M/patcopy"
expect_out "OK 100" copyrange "$M/pat" 5000 "$M/patpart" 0 100
check "partial copy" cmp -n 100 -i 5000:0 "$M/pat" "$M/patpart"

# ---- statfs ----
check "statfs" bash -c "stat -f -c '%S %l' '$M' | grep -q '255$'"
check "df" bash -c "df -P '$M' | tail -1 | grep -q '$M'"

# ---- a large directory, listed and removed ----
check "create 2000 files" bash -c "mkdir '$M/many' && cd '$M/many' && for i in \$(seq 1 2000); do : >f\$i; done"
check "ls counts 2000" bash -c "[ \"\$(ls '$M/many' | wc -l)\" = 2000 ]"
check "ls -l counts 2000" bash -c "[ \"\$(ls -l '$M/many' | grep -c '^-')\" = 2000 ]"
check "find sees 2000" bash -c "[ \"\$(find '$M/many' -type f | wc -l)\" = 2000 ]"
check "no duplicate names" bash -c "[ \"\$(ls -f '$M/many' | sort | uniq -d | wc -l)\" = 0 ]"
check "rm -rf" rm -rf "$M/many"
check "gone" bash -c "[ ! -e '$M/many' ]"

# ---- dot entries ----
check "dot and dotdot in readdir" bash -c "ls -a '$M/d' | head -2 | tr '\n' ' ' | grep -qx '. .. '"
check "root dotdot is root" bash -c "[ \"\$(stat -c %i '$M/..')\" != '' ]"

# ---- many clients at once (the multi-threaded loop) ----
worker() {
	local w=$1 i
	for i in $(seq 1 100); do
		head -c $((i * 37 + w)) /dev/urandom >"$M/par/w$w-$i" || return 1
		mv "$M/par/w$w-$i" "$M/par/r$w-$i" || return 1
		[ "$(stat -c %s "$M/par/r$w-$i")" = $((i * 37 + w)) ] || return 1
		if [ $((i % 3)) = 0 ]; then rm "$M/par/r$w-$i" || return 1; fi
		ls "$M/par" >/dev/null || return 1
	done
}
mkdir "$M/par"
pids=()
for w in 1 2 3 4 5 6 7 8; do
	worker "$w" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "parallel worker $p failed"
done
n=$(ls "$M/par" | wc -l)
[ "$n" = $((8 * 67)) ] || fail "parallel: $n names, want $((8 * 67))"
check "parallel: no stray temporaries" bash -c "[ -z \"\$(ls '$M/par' | grep '^w')\" ]"

lsmfs_umount
finish
