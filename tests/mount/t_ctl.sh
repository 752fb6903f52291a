#!/bin/bash
# t_ctl.sh — the control channel: virtual xattrs on the mount root.
# lsmfs.stats (read: JSON), lsmfs.flush / lsmfs.sync / lsmfs.compact (write,
# root only, return when done); invisible to listxattr so copies of the
# tree never carry them.
. "$(dirname "$0")/lib.sh"

mkstore "$STORE"
lsmfs_mount
M=$MNT

for i in $(seq 1 20); do head -c 50000 /dev/urandom >"$M/f$i"; done
rm "$M/f1" "$M/f2"
check "stats readable" bash -c "getfattr --only-values -n lsmfs.stats '$M' >'$T/stats.json'"
if command -v python3 >/dev/null; then
	check "stats is JSON with the counters" python3 -c "
import json, sys
d = json.load(open('$T/stats.json'))
assert d['fs']['files'] == 18, d['fs']
assert d['fs']['dirs'] >= 1
assert len(d['engine']['levels']) >= 1
assert d['engine']['background_error'] == 0
"
fi
check "flush" setfattr -n lsmfs.flush -v 1 "$M"
check "sync" setfattr -n lsmfs.sync -v 1 "$M"
check "compact" setfattr -n lsmfs.compact -v 1 "$M"
check "compactions counted" bash -c "getfattr --only-values -n lsmfs.stats '$M' | grep -q '\"compactions\": [1-9]'"
expect EOPNOTSUPP setxattr "$M" lsmfs.bogus 1
expect ENODATA getxattr "$M" lsmfs.bogus
check "not listed" bash -c "! getfattr -d -m - '$M' 2>/dev/null | grep -q lsmfs"
check "data intact after maintenance" bash -c "[ \"\$(ls '$M' | wc -l)\" = 18 ] && cat '$M'/f* | wc -c | grep -qx 900000"
# Only the root carries the channel.
mkdir "$M/sub"
expect EOPNOTSUPP setxattr "$M/sub" lsmfs.flush 1

# Lookup counts: every entry handed to the kernel (lookup, create,
# readdirplus) is forgotten again when the kernel drops its inodes.
stat_of() {
	run getfattr --only-values -n lsmfs.stats "$M" 2>/dev/null |
		grep -o "\"$1\": [0-9]*" | head -1 | grep -o '[0-9]*$'
}
mkdir "$M/many"
for i in $(seq 1 300); do : >"$M/many/f$i"; done
check "ls -l" bash -c "ls -l '$M/many' >/dev/null"
[ "$(stat_of cached_inodes)" -ge 300 ] || fail "cached inodes after ls -l: $(stat_of cached_inodes)"
if [ -w /proc/sys/vm/drop_caches ] && echo 2 >/proc/sys/vm/drop_caches 2>/dev/null; then
	sleep 0.5
	n=$(stat_of cached_inodes)
	[ "$n" -lt 20 ] || fail "kernel forgot its inodes but $n stay cached"
else
	log "cannot drop the kernel's caches: forget not checked"
fi
lsmfs_umount
finish
