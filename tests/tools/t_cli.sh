#!/bin/bash
# t_cli.sh — the command lines of mkfs.lsmfs, fsck.lsmfs and lsmfsctl:
# options and their effect, refusals (non-empty directory, store in use),
# exit codes (fsck: 0/1/4/8/16/32 as fsck(8) documents them), the modes
# of fsck (-n, -p, -y, interactive, and -n when stdin is not a terminal),
# fsck(8) running fsck.lsmfs for `fsck -t lsmfs`, and lsmfsctl on a store
# and on a mount (live figures through the control channel).
. "$(dirname "$0")/common.sh"

TOOLS=$(dirname "$FSCK")

# ---- mkfs.lsmfs ----
expect_rc 0 "$T/o" "$MKFS" -q "$T/new/store"
expect_rc 0 "$T/o" "$FSCK" -n "$T/new/store"
sum=$(store_sum "$T/new/store")
expect_rc 1 "$T/o" "$MKFS" -q "$T/new/store" && must_say "$T/o" "not empty"
[ "$(store_sum "$T/new/store")" = "$sum" ] || fail "a refused mkfs changed the store"
mkdir "$T/junk" && echo x >"$T/junk/file"
expect_rc 1 "$T/o" "$MKFS" -q "$T/junk" && must_say "$T/o" "not empty"
expect_rc 2 "$T/o" "$MKFS" -b 1000 "$T/x1"
expect_rc 2 "$T/o" "$MKFS" -O compression=zstd:99 "$T/x2"
expect_rc 2 "$T/o" "$MKFS" -O compression=zstd:0 "$T/x2"
expect_rc 2 "$T/o" "$MKFS" -O compression=zstd:-11 "$T/x2"
expect_rc 2 "$T/o" "$MKFS" -O bogus "$T/x3"
expect_rc 2 "$T/o" "$MKFS" -L "$(printf 'l%.0s' $(seq 1 64))" "$T/x4"
expect_rc 2 "$T/o" "$MKFS"
expect_rc 0 "$T/o" "$MKFS" --help && must_say "$T/o" "-d DIR"
expect_rc 0 "$T/o" "$MKFS" -V

# Options reach the superblock.
expect_rc 0 "$T/o" "$MKFS" -q -b 8k -O compression=zstd:3,inline=100 -L mylabel \
	-E root_owner=1000:1001 "$STORE"
expect_rc 0 "$T/s.json" "$LSMFSCTL" stat --json "$STORE"
check "mkfs options in the superblock" python3 -c "
import json
d = json.load(open('$T/s.json'))
s = d['superblock']
assert (s['block_size'], s['inline_max'], s['compression'], s['label']) == (8192, 100, 3, 'mylabel'), s
assert d['source'] == 'store', d['source']
assert d['fs']['inodes'] == 1 and d['fs']['dirs'] == 1, d['fs']
"
# A fast (negative) zstd level is a level like any other.
expect_rc 0 "$T/o" "$MKFS" -q -O compression=zstd:-3 "$T/fast"
expect_rc 0 "$T/f.json" "$LSMFSCTL" stat --json "$T/fast"
check "negative zstd level in the superblock" python3 -c "
import json
assert json.load(open('$T/f.json'))['superblock']['compression'] == -3
"
lsmfs_mount
[ "$(stat -c '%u:%g' "$MNT")" = 1000:1001 ] || fail "root owner $(stat -c '%u:%g' "$MNT")"
head -c 50000 /dev/urandom >"$MNT/data"
lsmfs_umount

# -F replaces a store: the old data and its tables are gone.
expect_rc 0 "$T/o" "$MKFS" -q -F "$STORE"
lsmfs_mount
[ -z "$(ls -A "$MNT")" ] || fail "mkfs -F left files: $(ls -A "$MNT")"
lsmfs_umount
expect_rc 0 "$T/o" "$FSCK" -n "$STORE"

# ---- fsck.lsmfs: usage and operational errors ----
expect_rc 16 "$T/o" "$FSCK"
expect_rc 16 "$T/o" "$FSCK" -n -y "$STORE"
expect_rc 16 "$T/o" "$FSCK" -Q "$STORE"
expect_rc 16 "$T/o" "$FSCK" -n "$STORE" "$STORE"
expect_rc 8 "$T/o" "$FSCK" -n "$T/does-not-exist"
expect_rc 8 "$T/o" "$FSCK" -n "$T/junk/file"
mkdir "$T/emptydir"
expect_rc 8 "$T/o" "$FSCK" -n "$T/emptydir"
expect_rc 0 "$T/o" "$FSCK" --help && must_say "$T/o" "EXIT STATUS"
expect_rc 0 "$T/o" "$FSCK" --list-problems && must_say "$T/o" "0x010005"
expect_rc 0 "$T/o" "$FSCK" -V

# ---- fsck.lsmfs on a clean store, every mode ----
expect_rc 0 "$T/o" "$FSCK" -n "$STORE"
expect_rc 0 "$T/o" "$FSCK" -p "$STORE" && must_say "$T/o" "clean"
expect_rc 0 "$T/o" "$FSCK" -a "$STORE"
expect_rc 0 "$T/o" "$FSCK" -y -f -v "$STORE"
expect_rc 0 "$T/o" "$FSCK" -n -C 0 "$STORE"
expect_rc 0 "$T/o" "$FSCK" -n -C0 "$STORE"

# ---- modes on a damaged store ----
# Not a terminal and no mode: -n (reports, exit 4, changes nothing).
check "damage" "$DAMAGE" "$STORE" nlink / 9
sum=$(store_sum "$STORE")
expect_rc 4 "$T/o" "$FSCK" "$STORE" && must_say "$T/o" "0x050001"
[ "$(store_sum "$STORE")" = "$sum" ] || fail "fsck without a terminal changed the store"
# Interactive, on a terminal (script(1) gives it one).
if command -v script >/dev/null; then
	run_rc "$T/o" script -qec "'$FSCK' '$STORE'" /dev/null
	[ "$RC" = 36 ] || fail "interactive fsck at end of input: exit $RC, want 36 (cancelled, uncorrected)"
	printf 'n\n' >"$T/answers"
	run script -qec "'$FSCK' '$STORE'" /dev/null <"$T/answers" >"$T/o" 2>&1
	RC=$?
	[ "$RC" = 4 ] || fail "interactive 'n': exit $RC, want 4: $(cat "$T/o")"
	printf 'y\n' >"$T/answers"
	run script -qec "'$FSCK' '$STORE'" /dev/null <"$T/answers" >"$T/o" 2>&1
	RC=$?
	[ "$RC" = 1 ] || fail "interactive 'y': exit $RC, want 1: $(cat "$T/o")"
	expect_rc 0 "$T/o" "$FSCK" -n "$STORE"
	check "damage" "$DAMAGE" "$STORE" nlink / 9
fi
# Preen fixes what is safe.
expect_rc 1 "$T/o" "$FSCK" -p "$STORE" && must_say "$T/o" "FIXED"
expect_rc 0 "$T/o" "$FSCK" -n "$STORE"
# Preen stops at what is not: an inode without a name.
"$DAMAGE" "$STORE" unref >/dev/null || fail "damage unref"
expect_rc 4 "$T/o" "$FSCK" -p "$STORE" && must_say "$T/o" "UNEXPECTED INCONSISTENCY"
expect_rc 1 "$T/o" "$FSCK" -y "$STORE"
expect_rc 0 "$T/o" "$FSCK" -p "$STORE"

# ---- fsck(8) runs fsck.lsmfs ----
if command -v fsck >/dev/null; then
	run_rc "$T/o" env PATH="$TOOLS:$PATH" fsck -t lsmfs -n "$STORE"
	[ "$RC" = 0 ] || fail "fsck -t lsmfs -n: exit $RC: $(cat "$T/o")"
	run_rc "$T/o" env PATH="$TOOLS:$PATH" fsck -t lsmfs -a "$STORE"
	[ "$RC" = 0 ] || fail "fsck -t lsmfs -a: exit $RC: $(cat "$T/o")"
	check "damage" "$DAMAGE" "$STORE" nlink / 9
	run_rc "$T/o" env PATH="$TOOLS:$PATH" fsck -t lsmfs -y "$STORE"
	[ "$RC" = 1 ] || fail "fsck -t lsmfs -y on damage: exit $RC: $(cat "$T/o")"
else
	log "no fsck(8): skipping its part"
fi

# ---- lsmfsctl, and fsck on a mounted store ----
expect_rc 2 "$T/o" "$LSMFSCTL"
expect_rc 2 "$T/o" "$LSMFSCTL" frobnicate "$STORE"
expect_rc 2 "$T/o" "$LSMFSCTL" compact --json "$STORE"
expect_rc 1 "$T/o" "$LSMFSCTL" stat "$T/junk"
expect_rc 0 "$T/o" "$LSMFSCTL" --help && must_say "$T/o" "COMMANDS"
expect_rc 0 "$T/o" "$LSMFSCTL" stat "$STORE" && must_say "$T/o" "not mounted"
must_say "$T/o" "Level"

lsmfs_mount
for i in $(seq 1 30); do head -c 20000 /dev/urandom >"$MNT/f$i"; done
rm "$MNT"/f1*
expect_rc 8 "$T/o" "$FSCK" -y "$STORE" && must_say "$T/o" "in use"
expect_rc 8 "$T/o" "$FSCK" -p "$STORE"
expect_rc 0 "$T/o" "$LSMFSCTL" stat "$MNT" && must_say "$T/o" "live figures"
expect_rc 0 "$T/o" "$LSMFSCTL" stat "$STORE" && must_say "$T/o" "live figures"
expect_rc 0 "$T/o" "$LSMFSCTL" flush "$MNT"
expect_rc 0 "$T/o" "$LSMFSCTL" sync "$MNT"
expect_rc 0 "$T/o" "$LSMFSCTL" compact "$STORE"
# Quiet now (nothing is written, compaction is done): -n reads it whole.
expect_rc 0 "$T/o" "$FSCK" -n "$STORE" && must_say "$T/o" "Warning"
expect_rc 0 "$T/live.json" "$LSMFSCTL" stat --json "$MNT"
check "live figures" python3 -c "
import json
d = json.load(open('$T/live.json'))
assert d['source'] == 'live', d['source']
assert d['fs']['files'] == 20, d['fs']  # 19 + lost+found/#ino
assert d['engine']['compactions'] >= 1 and d['engine']['flushes'] >= 1, d['engine']
assert all(l['tables'] == 0 for l in d['engine']['levels'][:-1]), d['engine']['levels']
"
run timeout -s INT 1.5 "$LSMFSCTL" stat --watch=0.3 "$MNT" >"$T/watch.out" 2>&1
[ "$(grep -c '^Level' "$T/watch.out")" -ge 2 ] || fail "--watch printed $(grep -c '^Level' "$T/watch.out") times"
lsmfs_umount

# Offline maintenance takes the store itself.
expect_rc 0 "$T/o" "$LSMFSCTL" flush "$STORE"
expect_rc 0 "$T/o" "$LSMFSCTL" compact "$STORE"
expect_rc 0 "$T/off.json" "$LSMFSCTL" stat --json "$STORE"
check "offline figures" python3 -c "
import json
d = json.load(open('$T/off.json'))
assert d['source'] == 'store' and d['fs']['files'] == 20, d['fs']
"
expect_rc 0 "$T/o" "$FSCK" -n "$STORE"
finish
