#!/bin/bash
# t_mkfs_d.sh — mkfs.lsmfs -d round trip: a tree with regular files
# (inline, exactly one block, many blocks, sparse, all holes, all zeros),
# nested and empty directories, symlinks (relative, dangling, long), hard
# links across directories, xattrs and an ACL, odd modes, owners and
# times, a fifo (and a device when mknod is allowed) goes in with mkfs -d;
# the new store is clean for fsck, its tables all sit in the last level
# (ingested, not compacted), and the mounted tree equals the source byte
# for byte and by metadata (type, mode, owner, size, link count, mtime,
# ctime, atime of files, symlink target, xattrs).  Then again with another
# block size and no inline data, over the old store with -F.
. "$(dirname "$0")/common.sh"

SRC=$T/src
make_source "$SRC"
head -c 1048579 /dev/urandom >"$SRC/a/b/c/f1m"
truncate -s 10M "$SRC/allhole"
setfattr -n trusted.t -v root-only "$SRC/f9"
echo odd >"$SRC/docs/ünï cöde file"
mkdir -m 2755 "$SRC/setgid_dir"
mknod "$SRC/null" c 1 3 2>/dev/null || log "mknod not allowed: no device in the tree"
if command -v setfacl >/dev/null; then
	setfacl -m u:65534:r "$SRC/f10"
	setfacl -d -m u:65534:rx "$SRC/a/b/c"
fi
# Fixed times, deepest first so directories keep theirs; a few distinct.
find "$SRC" -depth -exec touch -h -d '2021-06-07 08:09:10.123456789' {} +
touch -d '2001-02-03 04:05:06.987654321' "$SRC/f8"
touch -a -d '2022-01-01 00:00:00.5' "$SRC/f11"
touch -h -d '2019-01-01 00:00:00.5' "$SRC/link_rel"

xattr_list() {
	(cd "$1" && find . -mindepth 1 | sort | while read -r f; do
		getfattr -h -d -m '^(user|trusted|system\.posix_acl)' -e hex -- "$f" 2>/dev/null |
			grep -v '^#' | grep -v '^$' | sed "s|^|$f |"
	done)
}

# Metadata of a tree; directory sizes differ between file systems, and
# only regular files keep their atime through a copy (reading a symlink
# or listing a directory may move it).
meta() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U %G %s %n %T@ %C@ %A@ %l\n' |
		awk '$2 == "d" { $6 = "-" } $2 != "f" { $10 = "-" } { print }' | sort)
	xattr_list "$1"
}

# roundtrip WHAT MKFS-ARGS...: make the store from $SRC and compare.
roundtrip() {
	local what=$1
	shift
	meta "$SRC" >"$T/meta.src"
	expect_rc 0 "$T/mkfs.out" "$MKFS" "$@" -d "$SRC" "$STORE" || return
	must_say "$T/mkfs.out" "Copied $SRC:"
	meta "$SRC" >"$T/meta.src2"
	diff -q "$T/meta.src" "$T/meta.src2" >/dev/null || fail "$what: mkfs -d changed the source's metadata"
	expect_rc 0 "$T/fsck.out" "$FSCK" -n "$STORE"
	# Ingested, not compacted: every table in the last level.
	expect_rc 0 "$T/stat.json" "$LSMFSCTL" stat --json "$STORE"
	check "$what: tables only in the last level" python3 -c "
import json
d = json.load(open('$T/stat.json'))
lv = d['engine']['levels']
assert lv[-1]['tables'] >= 1, lv
assert all(l['tables'] == 0 for l in lv[:-1]), lv
assert d['superblock']['block_size'] == $BS, d['superblock']
"
	lsmfs_mount
	meta "$MNT" >"$T/meta.mnt"
	diff "$T/meta.src" "$T/meta.mnt" >"$T/meta.diff" ||
		fail "$what: metadata differs: $(head -c 3000 "$T/meta.diff")"
	run diff -r --no-dereference -x fifo -x null "$SRC" "$MNT" >"$T/diff.out" 2>&1 ||
		fail "$what: contents differ: $(head -c 2000 "$T/diff.out")"
	[ "$(stat -c '%a %u %g %Y' "$SRC")" = "$(stat -c '%a %u %g %Y' "$MNT")" ] ||
		fail "$what: the root did not take the source's attributes"
	[ "$(stat -c %i "$MNT/f2")" = "$(stat -c %i "$MNT/a/hard_f2")" ] ||
		fail "$what: hard links are separate inodes"
	local alloc
	alloc=$(du -k "$MNT/sparse" | cut -f1)
	[ "$alloc" -lt 64 ] || fail "$what: 3 MiB sparse file uses ${alloc} KiB"
	alloc=$(du -k "$MNT/allhole" | cut -f1)
	[ "$alloc" -lt 16 ] || fail "$what: all-hole file uses ${alloc} KiB"
	alloc=$(du -k "$MNT/a/b/c/f1m" | cut -f1)
	[ "$alloc" -ge 1024 ] || fail "$what: 1 MiB file reports only ${alloc} KiB"
	check "$what: stat counts" python3 -c "
import json, subprocess
d = json.loads(subprocess.check_output(['$LSMFSCTL', 'stat', '--json', '$MNT']))
files = int(subprocess.check_output('find $SRC -type f -links 1 | wc -l', shell=True)) + 1
assert d['source'] == 'live', d['source']
assert d['fs']['files'] == files, (d['fs'], files)
assert d['fs']['symlinks'] == 3, d['fs']
"
	# Usable: write, read back.
	check "$what: write after mkfs -d" bash -c "echo new >'$MNT/a/new' && [ \"\$(cat '$MNT/a/new')\" = new ]"
	rm -f "$MNT/a/new"
	lsmfs_umount
	expect_rc 0 "$T/fsck2.out" "$FSCK" -n "$STORE"
}

BS=4096
roundtrip "default"
BS=1024
roundtrip "1k blocks, no inline data, no compression" -F -b 1k -O inline=0,compression=off -L again
expect_rc 0 "$T/stat2.json" "$LSMFSCTL" stat --json "$STORE"
check "label and options" python3 -c "
import json
d = json.load(open('$T/stat2.json'))['superblock']
assert d['label'] == 'again' and d['inline_max'] == 0 and d['compression'] == 0, d
"
finish
