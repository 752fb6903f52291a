#!/bin/bash
# run.sh — the conformance diff: run conform.c's scenarios on a fresh ext4
# (a loop-mounted image made here) and on a fresh lsmfs mount, as root and
# as the unprivileged users 65534 and 1000, and compare the two outputs.
#
# Every difference must be listed in allow.txt (each entry commented with
# why lsmfs cannot behave like ext4 there); anything else fails the test
# and is printed.  The raw outputs are kept in $CONFORM_KEEP (a directory)
# when that is set, for debugging.
#
# Usage (meson sets the environment): run.sh [SCENARIO...]
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

mkstore "$STORE"
lsmfs_mount -o allow_other
chmod 755 "$MNT"

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

# The differences, one per line: "-" what ext4 printed, "+" what lsmfs did.
diff --unchanged-line-format= --old-line-format='-%L' --new-line-format='+%L' \
	"$OUT/ext4.out" "$OUT/lsmfs.out" >"$OUT/diff"

# allow.txt: "# comment" lines and "-REGEX" / "+REGEX" lines (extended
# regular expressions matched against a whole difference line, sign
# included).
grep -v '^[[:space:]]*\(#\|$\)' "$ALLOW" | sed 's/^\([-+]\)/^\\\1/' >"$T/allow.re" || true
if [ -s "$T/allow.re" ]; then
	grep -v -E -f "$T/allow.re" "$OUT/diff" >"$OUT/unexplained" || true
else
	cp "$OUT/diff" "$OUT/unexplained"
fi
# Allow-list entries that matched nothing are stale: report them (not a
# failure: some differences show for one user only).
allowed=$(($(wc -l <"$OUT/diff") - $(wc -l <"$OUT/unexplained")))
log "$(wc -l <"$OUT/diff") difference line(s), $allowed allowed (documented FUSE differences)"

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
