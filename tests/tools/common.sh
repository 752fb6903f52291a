# common.sh — what the tools tests share, on top of tests/mount/lib.sh
# (private $T, $STORE, $MNT, lsmfs_mount/lsmfs_umount under timeouts, the
# EXIT trap that always unmounts and kills our daemons, fail/check/finish).
#
# Adds: the tools' paths (FSCK, MKFS, LSMFSCTL, DAMAGE from the
# environment meson sets), store_sum (a checksum of every file of a store,
# to prove -n changes nothing), run_rc (run under the step timeout and
# capture output and exit code), make_source (a tree with every kind of
# object), same_tree (compare two trees file by file).
#
# Thread rules: none; plain bash, one test per process.

. "$(dirname "${BASH_SOURCE[0]}")/../mount/lib.sh" || exit 1

: "${FSCK:?FSCK must point at fsck.lsmfs}"
: "${MKFS:?MKFS must point at mkfs.lsmfs}"
: "${LSMFSCTL:?LSMFSCTL must point at lsmfsctl}"
: "${DAMAGE:?DAMAGE must point at the damage helper}"

# A checksum of every file under a store (names and contents).
store_sum() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# run_rc OUTFILE cmd...: run under the step timeout; stdout+stderr to
# OUTFILE; the exit code in RC.
run_rc() {
	local out=$1
	shift
	run "$@" >"$out" 2>&1 </dev/null
	RC=$?
}

# expect_rc WANT OUTFILE cmd...: as run_rc, and the code must be WANT.
expect_rc() {
	local want=$1 out=$2
	shift 2
	run_rc "$out" "$@"
	if [ "$RC" != "$want" ]; then
		fail "$* -> exit $RC, want $want; output:
$(head -c 3000 "$out")"
		return 1
	fi
	return 0
}

# must_say FILE TEXT: the output must contain TEXT.
must_say() {
	grep -qF -- "$2" "$1" || fail "output lacks '$2':
$(head -c 3000 "$1")"
}

# make_source DIR: a small tree with every kind of object: inline files,
# multi-block files, a sparse file, nested and empty directories,
# symlinks, hard links (also across directories), xattrs, odd modes,
# owners and times, a fifo.
make_source() {
	local s=$1
	mkdir -p "$s/a/b/c" "$s/empty" "$s/docs"
	local i
	for i in $(seq 1 12); do
		printf 'small file %d\n' "$i" >"$s/f$i"
	done
	head -c 20000 /dev/urandom >"$s/big1"
	head -c 70001 /dev/urandom >"$s/a/big2"
	head -c 4096 /dev/urandom >"$s/a/b/exact_block"
	head -c 2048 /dev/urandom >"$s/docs/inline_edge"
	head -c 2049 /dev/urandom >"$s/docs/inline_edge_plus"
	: >"$s/docs/empty_file"
	echo "deep" >"$s/a/b/c/deep"
	echo "in b" >"$s/a/b/inb"
	truncate -s 3M "$s/sparse"
	printf 'head' | dd of="$s/sparse" conv=notrunc status=none
	printf 'middle' | dd of="$s/sparse" bs=1 seek=1500000 conv=notrunc status=none
	printf 'tail' | dd of="$s/sparse" bs=1 seek=$((3 * 1024 * 1024 - 4)) conv=notrunc status=none
	dd if=/dev/zero of="$s/zeros" bs=4096 count=5 status=none
	ln -s f1 "$s/link_rel"
	ln -s /nonexistent/target "$s/link_dangling"
	ln -s "$(printf 'x%.0s' $(seq 1 300))" "$s/link_long"
	ln "$s/f2" "$s/a/hard_f2"
	ln "$s/f2" "$s/docs/hard_f2_again"
	setfattr -n user.color -v blue "$s/f3"
	setfattr -n user.bin -v 0x000102ff "$s/a/big2"
	setfattr -n user.dirattr -v yes "$s/a"
	chmod 600 "$s/f4"
	chmod 4755 "$s/f5"
	chmod 1777 "$s/empty"
	chmod 444 "$s/f6"
	chown 1234:5678 "$s/f7" "$s/a/b"
	chown -h 4321:8765 "$s/link_rel"
	mkfifo -m 640 "$s/fifo"
	touch -d '2001-02-03 04:05:06.123456789' "$s/f8" "$s/a/b/c"
	touch -h -d '1999-12-31 23:59:59' "$s/link_rel"
}

# same_tree REF DIR [PATTERN...]: every regular file of REF (relative
# names; except those matching a glob PATTERN) is in DIR with the same
# bytes, every symlink with the same target, every directory present.
same_tree() {
	local ref=$1 dir=$2 f p bad=0
	shift 2
	while IFS= read -r -d '' f; do
		f=${f#./}
		for p in "$@"; do
			# shellcheck disable=SC2053  # a glob on purpose
			[[ $f == $p ]] && continue 2
		done
		if [ -L "$ref/$f" ]; then
			[ "$(readlink "$ref/$f")" = "$(readlink "$dir/$f" 2>/dev/null)" ] || {
				fail "symlink $f differs"
				bad=1
			}
		elif [ -d "$ref/$f" ]; then
			[ -d "$dir/$f" ] || { fail "directory $f missing"; bad=1; }
		elif [ -f "$ref/$f" ]; then
			run cmp -s "$ref/$f" "$dir/$f" || { fail "file $f differs or is missing"; bad=1; }
		fi
	done < <(cd "$ref" && find . -mindepth 1 -print0)
	return $bad
}

# codes FILE: the problem codes a fsck run printed, sorted, one line.
codes() {
	grep -o '^\[0x[0-9a-f]*\]' "$1" | tr -d '[]' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
