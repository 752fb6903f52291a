#!/bin/bash
# t_tree.sh — real tools moving a real tree in and out: cp -a, tar, rsync
# -aHAX, find, du.  The tree has hard links, symlinks (relative, absolute,
# dangling), xattrs, an ACL, sparse files, a fifo, odd modes and owners, and
# fixed timestamps; every copy is compared byte for byte (diff -r, cmp) and
# by metadata (meta: type, mode, owner, size, link count, mtime,
# symlink target, xattrs).
. "$(dirname "$0")/lib.sh"

SRC=$T/src
make_tree() {
	local s=$1
	mkdir -p "$s/a/b/c" "$s/empty" "$s/modes"
	echo hello >"$s/a/hello"
	: >"$s/a/zero"
	head -c 4095 /dev/urandom >"$s/a/b/f4095"
	head -c 4096 /dev/urandom >"$s/a/b/f4096"
	head -c 4097 /dev/urandom >"$s/a/b/f4097"
	head -c 2049 /dev/urandom >"$s/a/b/f2049"
	head -c 1048579 /dev/urandom >"$s/a/b/c/f1m"
	# hard links: three names, two directories
	head -c 10000 /dev/urandom >"$s/a/hl1"
	ln "$s/a/hl1" "$s/a/b/hl2"
	ln "$s/a/hl1" "$s/hl3"
	# symlinks
	ln -s hello "$s/a/rel"
	ln -s /etc/hostname "$s/a/abs"
	ln -s does/not/exist "$s/a/dangling"
	ln -s ../a "$s/empty/up"
	# sparse: 64 MiB with data in two places
	truncate -s 64M "$s/sparse"
	printf 'middle' | dd of="$s/sparse" bs=1 seek=33554432 conv=notrunc status=none
	printf 'end' | dd of="$s/sparse" bs=1 seek=67108861 conv=notrunc status=none
	truncate -s 10M "$s/allhole"
	# xattrs and an ACL
	setfattr -n user.color -v blue "$s/a/hello"
	setfattr -n user.bin -v 0x00ff00ff "$s/a/b/f4096"
	setfattr -n user.dir -v yes "$s/a/b"
	setfattr -n trusted.t -v root-only "$s/a/zero"
	if command -v setfacl >/dev/null; then
		setfacl -m u:65534:r "$s/a/b/f4095"
		setfacl -d -m u:65534:rx "$s/a/b/c"
	fi
	# modes, owners, special files
	for m in 600 640 4755 2755 1777 700 444; do
		echo "$m" >"$s/modes/m$m"
		chmod "$m" "$s/modes/m$m"
	done
	chmod 1777 "$s/empty"
	chown 65534:65534 "$s/modes/m600"
	chown 12345:54321 "$s/modes/m640"
	mkfifo "$s/fifo"
	# a name with spaces and non-ASCII
	echo odd >"$s/a/ünï cöde file"
	# fixed times, deepest first so directories keep theirs
	find "$s" -depth -exec touch -h -d '2021-06-07 08:09:10.123456789' {} +
	touch -h -d '2019-01-01 00:00:00.5' "$s/a/rel"
}

# xattrs of every file (user.*, trusted.*, system.posix_acl_*), one line
# per attribute, for comparison.
xattr_list() {
	(cd "$1" && find . -mindepth 1 | sort | while read -r f; do
		getfattr -h -d -m '^(user|trusted|system\.posix_acl)' -e hex -- "$f" 2>/dev/null |
			grep -v '^#' | grep -v '^$' | sed "s|^|$f |"
	done)
}

# The metadata of a tree: symlink mtimes are not compared (not all tools
# preserve them); directory sizes differ between file systems.
meta() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U %G %s %n %T@ %l\n' |
		awk '$2 == "d" { $6 = "-" } $2 == "l" { $8 = "-" } { print }' | sort)
	xattr_list "$1"
}

same_tree() {
	local what=$1 a=$2 b=$3
	if ! run diff -r --no-dereference -x fifo "$a" "$b" >"$T/diff.out" 2>&1; then
		fail "$what: contents differ: $(head -c 1500 "$T/diff.out")"
	fi
	meta "$a" >"$T/meta.a"
	meta "$b" >"$T/meta.b"
	if ! diff "$T/meta.a" "$T/meta.b" >"$T/meta.diff"; then
		fail "$what: metadata differs: $(head -c 2500 "$T/meta.diff")"
	fi
}

make_tree "$SRC"
mkstore "$STORE"
lsmfs_mount
M=$MNT

# cp -a in, then out again.
check "cp -a in" cp -a "$SRC" "$M/cpa"
same_tree "cp -a in" "$SRC" "$M/cpa"
check "cp -a out" cp -a "$M/cpa" "$T/cpa.out"
same_tree "cp -a out" "$SRC" "$T/cpa.out"
check "hard links share an inode" bash -c "[ \"\$(stat -c %i '$M/cpa/a/hl1')\" = \"\$(stat -c %i '$M/cpa/hl3')\" ] && [ \"\$(stat -c %h '$M/cpa/a/b/hl2')\" = 3 ]"
check "sparse data" bash -c "[ \"\$(dd if='$M/cpa/sparse' bs=1 skip=33554432 count=6 status=none)\" = middle ]"

# tar in (extract onto the mount) and out (archive the mount).
TARX=(--xattrs --xattrs-include='*' --acls --sparse --numeric-owner)
check "tar create" tar -C "$SRC" "${TARX[@]}" -cpf "$T/src.tar" .
mkdir "$M/tarx"
check "tar extract in" tar -C "$M/tarx" "${TARX[@]}" -xpf "$T/src.tar"
same_tree "tar in" "$SRC" "$M/tarx"
check "tar from the mount" tar -C "$M/tarx" "${TARX[@]}" -cpf "$T/mnt.tar" .
mkdir "$T/tar.out"
check "tar extract out" tar -C "$T/tar.out" "${TARX[@]}" -xpf "$T/mnt.tar"
same_tree "tar out" "$SRC" "$T/tar.out"

# rsync -aHAX in and out; a second run finds nothing to do.
if command -v rsync >/dev/null; then
	check "rsync in" rsync -aHAX --sparse "$SRC/" "$M/rs/"
	same_tree "rsync in" "$SRC" "$M/rs"
	check "rsync out" rsync -aHAX --sparse "$M/rs/" "$T/rs.out/"
	same_tree "rsync out" "$SRC" "$T/rs.out"
	n=$(run rsync -aHAXi "$SRC/" "$M/rs/" | wc -l)
	[ "$n" = 0 ] || fail "second rsync found $n changes"
else
	log "rsync not installed: skipping the rsync part"
fi

# find and du agree with the source.
check "find: same names" bash -c "diff <(cd '$SRC' && find . | sort) <(cd '$M/cpa' && find . | sort)"
check "find -type" bash -c "[ \"\$(find '$M/cpa' -type l | wc -l)\" = 4 ] && [ \"\$(find '$M/cpa' -type p | wc -l)\" = 1 ] && [ \"\$(find '$M/cpa' -links 3 -type f | wc -l)\" = 3 ]"
check "find -newer/-size" bash -c "[ \"\$(find '$M/cpa' -type f -size +1000k | wc -l)\" -ge 3 ]"
sum_sizes() { run find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
[ "$(sum_sizes "$SRC")" = "$(sum_sizes "$M/cpa")" ] || fail "file bytes differ: $(sum_sizes "$SRC") vs $(sum_sizes "$M/cpa")"
alloc=$(du -k "$M/cpa/sparse" | cut -f1)
[ "$alloc" -lt 1024 ] || fail "sparse 64 MiB file uses ${alloc} KiB (want < 1 MiB)"
alloc=$(du -k "$M/cpa/allhole" | cut -f1)
[ "$alloc" -lt 64 ] || fail "all-hole file uses ${alloc} KiB"
alloc=$(du -k "$M/cpa/a/b/c/f1m" | cut -f1)
[ "$alloc" -ge 1024 ] || fail "1 MiB file reports only ${alloc} KiB"

# Everything survives an unmount and remount unchanged.
meta "$M/cpa" >"$T/before"
lsmfs_umount
lsmfs_mount
meta "$M/cpa" >"$T/after"
diff "$T/before" "$T/after" >/dev/null || fail "tree changed across remount: $(diff "$T/before" "$T/after" | head -20)"
same_tree "after remount" "$SRC" "$M/cpa"

check "rm -rf everything" rm -rf "$M/cpa" "$M/tarx" "$M/rs"
check "empty again" bash -c "[ -z \"\$(ls -A '$M')\" ]"
lsmfs_umount
finish
