#!/bin/bash
# run.sh — the conformance diff: run conform.c's scenarios on a fresh ext4
# (a loop-mounted image made here) and on a fresh lsmfs mount, as root and
# as the unprivileged users 65534 and 1000, and compare the two outputs.
#
# Every difference must be listed in allow.txt (each entry commented with
# why lsmfs cannot behave like ext4 there); anything else fails the test
# and is printed.  When the mount turns out to use the kernel's writeback
# cache (conform probe tells), st_blocks is left out of the comparison (the
# kernel holds the data the daemon would count) and allow-writeback.txt is
# added.  The raw outputs are kept in $CONFORM_KEEP (a directory) when
# that is set, for debugging.
#
# Usage (meson sets the environment): run.sh [-o MOUNTOPTS] [SCENARIO...]
#   LSMFS, FSOP (for lib.sh), MKFS, CONFORM (the conform binary).
#
# Invariants: the ext4 image is always unmounted (EXIT trap) before lib.sh
# removes $T; the lsmfs daemon is unmounted and waited for by lib.sh.
# Thread rules: none; plain bash.
. "$(dirname "$0")/../mount/lib.sh"

: "${CONFORM:?CONFORM must point at the conform binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
ALLOW=${CONFORM_ALLOW:-$HERE/allow.txt}
USERS=(0 65534 1000)

command -v setpriv >/dev/null || skip "no setpriv"
command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4"

EXT4=$T/ext4
EXT4_IMG=$T/ext4.img
ext4_mounted=0

conform_cleanup() {
	local rc=$?
	if [ "$ext4_mounted" = 1 ]; then
		umount "$EXT4" 2>/dev/null || umount -l "$EXT4" 2>/dev/null
	fi
	(exit "$rc")
	cleanup
}
trap conform_cleanup EXIT

# The reference: a fresh ext4 with 4 KiB blocks (lsmfs's default block
# size), default mount options (acl, user_xattr, relatime).
mkdir "$EXT4"
truncate -s 512M "$EXT4_IMG"
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=1,lazy_journal_init=1 "$EXT4_IMG" >/dev/null 2>&1 ||
	skip "mkfs.ext4 failed"
if ! mount -o loop "$EXT4_IMG" "$EXT4" 2>/dev/null; then
	skip "cannot loop-mount an ext4 image"
fi
ext4_mounted=1
[ "$(findmnt -n -o FSTYPE --target "$EXT4")" = ext4 ] || { fail "reference is not ext4"; exit 1; }
chmod 755 "$EXT4"

MOUNT_OPTS=allow_other
if [ "${1:-}" = -o ]; then
	MOUNT_OPTS="allow_other,$2"
	shift 2
fi
mkstore "$STORE"
lsmfs_mount -o "$MOUNT_OPTS"
chmod 755 "$MNT"
WRITEBACK=0
[ "$(run "$CONFORM" probe "$MNT")" = writeback ] && WRITEBACK=1
log "lsmfs mounted with -o $MOUNT_OPTS, writeback cache: $WRITEBACK"

OUT=$T/out
mkdir "$OUT"

# run_fs NAME ROOT: prep and run for every user; NAME.out is the whole
# output, each line prefixed "user scenario |".
run_fs() {
	local name=$1 root=$2 u
	shift 2
	: >"$OUT/$name.out"
	for u in "${USERS[@]}"; do
		local dir=$root/u$u
		mkdir "$dir" && chown "$u:$u" "$dir"
		{
			echo "== prep"
			run "$CONFORM" prep "$dir" "$u" "$u"
			if [ "$u" = 0 ]; then
				run "$CONFORM" run "$dir" "$@"
			else
				run setpriv --reuid="$u" --regid="$u" --clear-groups \
					"$CONFORM" run "$dir" "$@"
			fi
		} 2>&1 | awk -v u="u$u" '/^== /{sc=$2} {print u " " sc " | " $0}' >>"$OUT/$name.out"
	done
}

shift_args=("$@")
start=$(date +%s)
run_fs ext4 "$EXT4" "${shift_args[@]}"
run_fs lsmfs "$MNT" "${shift_args[@]}"
log "ran in $(($(date +%s) - start)) s: $(wc -l <"$OUT/ext4.out") lines on ext4, $(wc -l <"$OUT/lsmfs.out") on lsmfs"

# With the writeback cache, st_blocks is not compared.
for f in ext4 lsmfs; do
	if [ "$WRITEBACK" = 1 ]; then
		sed -E 's/^(u[0-9]+ [a-z_]+ \|   .*: [0-7]+ n=[0-9]+ u=[0-9]+ g=[0-9]+ s=-?[0-9]+) b=[0-9]+/\1/' \
			"$OUT/$f.out" >"$OUT/$f.cmp"
	else
		cp "$OUT/$f.out" "$OUT/$f.cmp"
	fi
done

# The differences, one per line: "-" what ext4 printed, "+" what lsmfs did.
diff --unchanged-line-format= --old-line-format='-%L' --new-line-format='+%L' \
	"$OUT/ext4.cmp" "$OUT/lsmfs.cmp" >"$OUT/diff"

# allow.txt: "# comment" lines and "-REGEX" / "+REGEX" lines: extended
# regular expressions, each matched against the rest of a difference line
# (after its sign), anchored at both ends.
ALLOWS=("$ALLOW")
[ "$WRITEBACK" = 1 ] && ALLOWS+=("$HERE/allow-writeback.txt")
cat "${ALLOWS[@]}" | grep -v '^[[:space:]]*\(#\|$\)' |
	sed -E 's/^-(.*)$/^[-]\1$/; s/^[+](.*)$/^[+]\1$/' >"$T/allow.re" || true
if [ -s "$T/allow.re" ]; then
	grep -v -E -f "$T/allow.re" "$OUT/diff" >"$OUT/unexplained" || true
else
	cp "$OUT/diff" "$OUT/unexplained"
fi
# Allow-list entries that matched nothing may be stale (or belong to the
# other cache mode, or to scenarios not run): name them, do not fail.
while IFS= read -r re; do
	grep -q -E -e "$re" "$OUT/diff" || log "allow entry matched nothing: $re"
done <"$T/allow.re"
allowed=$(($(wc -l <"$OUT/diff") - $(wc -l <"$OUT/unexplained")))
log "$(wc -l <"$OUT/diff") difference line(s), $allowed allowed (documented FUSE differences)"

# Both runs must have gone to the end (a crash on both sides would diff
# clean), with the data check passing on ext4 too.
if [ ${#shift_args[@]} = 0 ]; then
	for f in ext4 lsmfs; do
		n=$(grep -c " fsx |   fsx: 3000 ops, ok$" "$OUT/$f.out")
		[ "$n" = ${#USERS[@]} ] || fail "$f: the fsx scenario passed for $n of ${#USERS[@]} users"
	done
fi

if [ -n "${CONFORM_KEEP:-}" ]; then
	mkdir -p "$CONFORM_KEEP"
	cp "$OUT"/* "$CONFORM_KEEP"/
fi
if [ -s "$OUT/unexplained" ]; then
	fail "$(wc -l <"$OUT/unexplained") unexplained difference line(s) between ext4 (-) and lsmfs (+):"
	head -n 200 "$OUT/unexplained"
fi
lsmfs_umount
finish
