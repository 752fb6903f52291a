#!/bin/bash
# fsbench.sh — the filesystem benchmark: the same workloads, interleaved, on
# lsmfs, on the local disk, on the local disk through libfuse's
# passthrough_hp example, and through bindfs; prints medians and the ratios
# of lsmfs to each of the others.  Results and how to read them:
# tools/bench/FS-RESULTS.md.
#
#   tools/bench/fsbench.sh [--quick] [--runs N] [--only GROUPS]
#                          [--systems LIST] [--lsmfs-opts OPTS]
#                          [--variant 'NAME|LSMFS|MKFS|OPTS|MKFS_OPTS']...
#                          [--work DIR] [--plot FILE.svg] [--nice N]
#                          [--report]
#
# Workloads (GROUPS, comma-separated: meta, small, data):
#   meta   fs_mark: 100,000 empty files in one directory, and in 100
#          directories of 1,000; then, caches dropped, stat of every file
#          (find -printf %s), `ls -l` of the 100,000-entry directory;
#          `rm -rf` of both.  Then the same at 15,000 files in one
#          directory (create_15k, ls_l_15k, rm_15k): passthrough_hp holds
#          a descriptor per inode the kernel knows, so where the hard limit
#          of open files is lower than 200,000 it runs only this part.
#   small  unpack a tarball of /usr/include + /usr/share/doc (made once;
#          as root, so owners, modes and times are restored); then, each
#          after dropping caches, du, find, grep -r; rm -rf.
#   data   fio, psync: sequential write of 1 GiB in 1 MiB writes (with a
#          final fsync), sequential read of it after dropping caches;
#          random 4 KiB writes, then random 4 KiB reads, of a 256 MiB file
#          for 20 s each; 10,000 appends of 512 bytes, each followed by
#          fdatasync.
# SYSTEMS: lsmfs, local (a directory on the disk under --work), phs (that
# disk through passthrough_hp, multi-threaded, its default caching: writeback
# cache, keep_cache, 86400 s timeouts), bindfs (its defaults).
# --quick: 10,000 files, 256 MiB sequential, 64 MiB random for 5 s, 2,000
# appends, one run.  The full run repeats everything 3 times (--runs N).
# --lsmfs-opts: extra daemon arguments, e.g. "-o writeback".
# --variant: one more lsmfs system, NAME (must start with "lsmfs"), with its
# own daemon and mkfs binaries (empty: the default ones), daemon arguments
# and mkfs.lsmfs arguments; it is added to SYSTEMS.  For before/after
# comparisons in one run, e.g. --variant 'lsmfs_old|/tmp/lsmfs.old|||'.
# Every lsmfs* system gets its own ratios table.
# --report: run nothing; summarize the results.tsv of --work again (with
# the same --systems and --variant arguments).
# --nice: the run (and every daemon it starts) runs at this nice value
# (default -10): background load on a shared machine skews FUSE round
# trips most.
#
# Invariants: every system starts each run fresh (a new lsmfs store made
# with mkfs.lsmfs, empty directories for the others, new mounts); in each
# run every workload goes through all the systems before the next workload
# starts, and the order of the systems rotates from run to run, so drifting
# background load spreads over all of them.  Nothing is written in the
# source tree: the scratch directory (--work, default /var/tmp/lsmfs-fsbench)
# holds the stores, the tarball, the passthrough_hp binary (built from the
# fuse3 source package in a temporary directory there) and results.tsv
# (run, metric, system, value), which the summary reads.
#
# Needs root (drop_caches, mounts).  Installs what is missing with apt-get:
# fio, fsmark, bindfs, fuse3, and for passthrough_hp the fuse3 source
# package (adding a deb-src entry for bookworm main if there is none),
# dpkg-dev, libfuse3-dev, g++; gnuplot-nox for --plot.
#
# Environment: LSMFS, MKFS override the binaries under test (default:
# build/fs/lsmfs and build/tools/mkfs.lsmfs of this tree).
#
# Thread rules: none; plain bash.  The daemons it starts are stopped by pid.
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
LSMFS=${LSMFS:-$TOP/build/fs/lsmfs}
MKFS=${MKFS:-$TOP/build/tools/mkfs.lsmfs}
ARGS=("$@")

QUICK=0
RUNS=
ONLY="meta,small,data"
SYSTEMS="lsmfs local phs bindfs"
LSMFS_OPTS=
declare -A V_BIN V_MKFS V_OPTS V_MKOPTS	# per lsmfs variant
WORK=/var/tmp/lsmfs-fsbench
PLOT=
NICE=-10
REPORT=0

usage() {
	sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--runs) RUNS=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--systems) SYSTEMS=$2; shift ;;
	--lsmfs-opts) LSMFS_OPTS=$2; shift ;;
	--variant)
		IFS='|' read -r vn vb vm vo vk <<<"$2"
		case $vn in lsmfs?*) ;; *) echo "fsbench: variant name must start with lsmfs" >&2; exit 2 ;; esac
		V_BIN[$vn]=$vb V_MKFS[$vn]=$vm V_OPTS[$vn]=$vo V_MKOPTS[$vn]=$vk
		VARIANTS="${VARIANTS:-} $vn"
		shift ;;
	--work) WORK=$2; shift ;;
	--plot) PLOT=$2; shift ;;
	--nice) NICE=$2; shift ;;
	--report) REPORT=1 ;;
	-h|--help) usage 0 ;;
	*) echo "fsbench: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { echo "fsbench: must run as root (drop_caches, mounts)" >&2; exit 2; }

SYSTEMS="$SYSTEMS${VARIANTS:-}"

if [ "${FSBENCH_NICED:-0}" != 1 ] && [ "$NICE" != 0 ]; then
	export FSBENCH_NICED=1
	exec nice -n "$NICE" "$0" "${ARGS[@]}"
fi

if [ "$QUICK" = 1 ]; then
	NFILES=10000 NDIRS=10 SEQ_MB=256 RAND_MB=64 RAND_S=5 NAPPEND=2000
	RUNS=${RUNS:-1}
else
	NFILES=100000 NDIRS=100 SEQ_MB=1024 RAND_MB=256 RAND_S=20 NAPPEND=10000
	RUNS=${RUNS:-3}
fi

say() { echo "fsbench: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- what we need -----------------------------------------------------------

APT_UPDATED=0
apt_install() {	# packages...
	if [ "$APT_UPDATED" = 0 ]; then
		apt-get update -qq >/dev/null || die "apt-get update failed"
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
		die "apt-get install $* failed"
}

need_tools() {
	local missing=()
	command -v fio >/dev/null || missing+=(fio)
	command -v fs_mark >/dev/null || missing+=(fsmark)
	command -v fusermount3 >/dev/null || missing+=(fuse3)
	case " $SYSTEMS " in *" bindfs "*)
		command -v bindfs >/dev/null || missing+=(bindfs) ;;
	esac
	if [ -n "$PLOT" ]; then
		command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
	fi
	[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
	[ -x "$LSMFS" ] || die "no lsmfs at $LSMFS (build it: ninja -C build)"
	[ -x "$MKFS" ] || die "no mkfs.lsmfs at $MKFS"
}

# passthrough_hp is an example of libfuse, not a package: build it from
# Debian's fuse3 source (the version of the installed libfuse3).
PHS=
build_passthrough_hp() {
	PHS=$WORK/passthrough_hp
	[ -x "$PHS" ] && return 0
	local have_src=0 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		if grep -q '^Types:.*deb-src' "$f" && grep -q '^Suites:.*bookworm' "$f"; then
			have_src=1
		fi
	done
	if grep -qs '^deb-src .* bookworm .*main' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
		have_src=1
	fi
	if [ "$have_src" = 0 ]; then
		say "adding a deb-src entry for bookworm main"
		cat >/etc/apt/sources.list.d/lsmfs-src.sources <<-'SRC'
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		APT_UPDATED=0
	fi
	apt_install dpkg-dev libfuse3-dev g++ pkg-config
	local tmp
	tmp=$(mktemp -d "$WORK/fuse3-src.XXXXXX") || die "mktemp"
	say "fetching the fuse3 source package into $tmp"
	(cd "$tmp" && apt-get source -qq fuse3 >/dev/null 2>&1) || die "apt-get source fuse3 failed"
	local ex
	ex=$(echo "$tmp"/fuse3-*/example)
	[ -f "$ex/passthrough_hp.cc" ] || die "no example/passthrough_hp.cc in the fuse3 source"
	say "building passthrough_hp"
	# The HAVE_ macros libfuse's own build defines on Linux (its
	# config.h): without them the example serves no xattrs and cannot
	# set times or preallocate, and would be doing less than lsmfs.
	# shellcheck disable=SC2046
	g++ -std=c++17 -O2 -DHAVE_SETXATTR -DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE \
		-I"$ex" "$ex/passthrough_hp.cc" -o "$PHS.tmp" \
		$(pkg-config --cflags --libs fuse3) -lpthread || die "building passthrough_hp failed"
	mv "$PHS.tmp" "$PHS"
	rm -rf "$tmp"
}

# The small-files source: made once, kept in the scratch directory.
TARBALL=
make_tarball() {
	TARBALL=$WORK/src.tar
	[ -s "$TARBALL" ] && return 0
	say "making $TARBALL from /usr/include and /usr/share/doc"
	tar -cf "$TARBALL.tmp" -C / usr/include usr/share/doc 2>/dev/null
	[ -s "$TARBALL.tmp" ] || die "could not make the tarball"
	mv "$TARBALL.tmp" "$TARBALL"
}

# ---- mounts ----------------------------------------------------------------

declare -A PID DIR	# per system: daemon pid, directory the workloads use

is_mounted() { grep -qF " $1 " /proc/self/mountinfo; }

wait_mounted() {	# mnt pid
	local i
	for i in $(seq 1 400); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

mount_one() {	# system
	local s=$1 mnt=$WORK/mnt.$1
	case $s in
	local)
		rm -rf "$WORK/local"
		mkdir -p "$WORK/local"
		DIR[$s]=$WORK/local
		return 0 ;;
	lsmfs*)
		local bin=$LSMFS mk=$MKFS opts=$LSMFS_OPTS mkopts=
		if [ "$s" != lsmfs ]; then
			bin=${V_BIN[$s]:-$LSMFS} mk=${V_MKFS[$s]:-$MKFS}
			opts=${V_OPTS[$s]} mkopts=${V_MKOPTS[$s]}
		fi
		rm -rf "$WORK/$s.store"
		# shellcheck disable=SC2086
		"$mk" $mkopts "$WORK/$s.store" >/dev/null || die "$mk $mkopts failed"
		mkdir -p "$mnt"
		# shellcheck disable=SC2086
		"$bin" "$WORK/$s.store" "$mnt" -f $opts >>"$WORK/$s.log" 2>&1 &
		;;
	phs)
		rm -rf "$WORK/phs.src"
		mkdir -p "$WORK/phs.src" "$mnt"
		"$PHS" --foreground "$WORK/phs.src" "$mnt" >>"$WORK/phs.log" 2>&1 &
		;;
	bindfs)
		rm -rf "$WORK/bindfs.src"
		mkdir -p "$WORK/bindfs.src" "$mnt"
		bindfs -f "$WORK/bindfs.src" "$mnt" >>"$WORK/bindfs.log" 2>&1 &
		;;
	*) die "unknown system $s" ;;
	esac
	PID[$s]=$!
	wait_mounted "$mnt" "${PID[$s]}" || die "$s did not mount on $mnt (see $WORK/$s.log)"
	DIR[$s]=$mnt
}

umount_one() {	# system
	local s=$1 mnt=$WORK/mnt.$1
	[ "$s" = local ] && return 0
	if is_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null
	fi
	if [ -n "${PID[$s]:-}" ]; then
		local i
		for i in $(seq 1 600); do
			kill -0 "${PID[$s]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "${PID[$s]}" 2>/dev/null && kill -TERM "${PID[$s]}" 2>/dev/null
		wait "${PID[$s]}" 2>/dev/null
		PID[$s]=
	fi
}

cleanup() {
	local s
	trap - EXIT INT TERM
	for s in $SYSTEMS; do
		umount_one "$s"
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- measuring -------------------------------------------------------------

dropc() { sync; echo 3 >/proc/sys/vm/drop_caches; }

RES=
RUN=0
record() {	# metric system value
	printf '%s\t%s\t%s\t%s\n' "$RUN" "$1" "$2" "$3" >>"$RES"
	printf '  %-13s %-7s %s\n' "$1" "$2" "$3" >&2
}

# timed METRIC SYSTEM COUNT CMD...: run CMD; record COUNT/seconds (a
# rate) when COUNT > 0, else the seconds.  A failing CMD records NA.
timed() {
	local m=$1 s=$2 n=$3 t0 t1 rc
	shift 3
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>>"$WORK/errors.log"
	rc=$?
	t1=$EPOCHREALTIME
	# grep exits 1 when nothing matched: not a failure.
	if [ $rc -ne 0 ] && ! { [ "$1" = grep ] && [ $rc = 1 ]; }; then
		echo "run $RUN $m $s: '$*' failed ($rc)" >>"$WORK/errors.log"
		record "$m" "$s" NA
		return 1
	fi
	record "$m" "$s" "$(awk -v a="$t0" -v b="$t1" -v n="$n" \
		'BEGIN { d = b - a; if (n > 0) printf "%.0f", n / d; else printf "%.3f", d }')"
}

# fio_run METRIC SYSTEM FIELD fio-args...: FIELD of fio's terse v3 line
# (7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS); KiB/s are
# recorded as MiB/s.
fio_run() {
	local m=$1 s=$2 f=$3 out
	shift 3
	out=$(fio --name="$m" --ioengine=psync --output-format=terse --terse-version=3 \
		"$@" 2>>"$WORK/errors.log")
	if [ $? -ne 0 ] || [ -z "$out" ]; then
		echo "run $RUN $m $s: fio $* failed" >>"$WORK/errors.log"
		record "$m" "$s" NA
		return 1
	fi
	record "$m" "$s" "$(echo "$out" | tail -n 1 | awk -F';' -v f="$f" \
		'{ if (f == 7 || f == 48) printf "%.0f", $f / 1024; else printf "%.0f", $f }')"
}

# ---- workloads -------------------------------------------------------------

# fs_mark in directory $1 (it takes only short -d paths); its log goes to
# the scratch directory.
fsmark_in() {
	local dir=$1
	shift
	(cd "$dir" && exec fs_mark -l "$WORK/fs_log.txt" -k -S 0 -s 0 -L 1 "$@")
}

wl_meta() {	# system
	local s=$1 d=${DIR[$1]}/meta m
	mkdir -p "$d"
	if [ "$s" = phs ] && [ $((NFILES * 2 + 1000)) -gt "$PHS_FDMAX" ]; then
		echo "run $RUN: phs: $((NFILES * 2)) files need more descriptors than the hard limit $PHS_FDMAX" >>"$WORK/errors.log"
		for m in create_flat create_tree stat_all ls_l rm_rf; do
			record "$m" "$s" NA
		done
	else
		wl_meta_big "$s" "$d"
	fi
	timed create_15k "$s" 15000 fsmark_in "$d" -n 15000 -d f15k
	dropc
	timed ls_l_15k "$s" 0 ls -l "$d/f15k"
	timed rm_15k "$s" 15000 rm -rf "$d"
}

wl_meta_big() {	# system dir
	local s=$1 d=$2
	timed create_flat "$s" "$NFILES" fsmark_in "$d" -n "$NFILES" -d flat
	timed create_tree "$s" "$NFILES" fsmark_in "$d" -n "$NFILES" \
		-D "$NDIRS" -N $((NFILES / NDIRS)) -d tree
	dropc
	timed stat_all "$s" $((NFILES * 2)) find "$d/flat" "$d/tree" -printf '%s\n'
	dropc
	timed ls_l "$s" 0 ls -l "$d/flat"
	timed rm_rf "$s" $((NFILES * 2)) rm -rf "$d/flat" "$d/tree"
}

wl_small() {
	local s=$1 d=${DIR[$1]}/small
	mkdir -p "$d"
	timed tar_x "$s" 0 tar -xf "$TARBALL" -C "$d"
	dropc
	timed du "$s" 0 du -s "$d"
	dropc
	timed find "$s" 0 find "$d"
	dropc
	timed grep_r "$s" 0 grep -r -l lsmfs-fsbench-no-such-string "$d"
	timed rm_small "$s" 0 rm -rf "$d"
}

wl_data() {
	local s=$1 d=${DIR[$1]}/data
	mkdir -p "$d"
	fio_run seq_write "$s" 48 --filename="$d/seq" --rw=write --bs=1M \
		--size="${SEQ_MB}M" --end_fsync=1
	dropc
	fio_run seq_read "$s" 7 --filename="$d/seq" --rw=read --bs=1M --size="${SEQ_MB}M"
	rm -f "$d/seq"
	fio_run rand_write "$s" 49 --filename="$d/rand" --rw=randwrite --bs=4k \
		--size="${RAND_MB}M" --time_based --runtime="$RAND_S"
	fio_run rand_read "$s" 8 --filename="$d/rand" --rw=randread --bs=4k \
		--size="${RAND_MB}M" --time_based --runtime="$RAND_S"
	rm -f "$d/rand"
	fio_run append_fsync "$s" 49 --filename="$d/append" --rw=write --bs=512 \
		--size=$((NAPPEND * 512)) --file_append=1 --fallocate=none --fdatasync=1
	rm -rf "$d"
}

# A FUSE mount that is gone leaves its empty mount point behind, and a
# workload would silently measure the local disk under it: check before
# and after every workload; a mount lost during one makes all of that
# workload's figures NA, and the system is mounted afresh.
mount_ok() {	# system
	[ "$1" = local ] && return 0
	mountpoint -q "$WORK/mnt.$1" && kill -0 "${PID[$1]:-0}" 2>/dev/null
}

run_workload() {	# group system
	local g=$1 s=$2 before
	if ! mount_ok "$s"; then
		echo "run $RUN: $s was not mounted before $g: mounting it again" >>"$WORK/errors.log"
		say "$s lost its mount: mounting it again"
		umount_one "$s"
		mount_one "$s"
	fi
	before=$(wc -l <"$RES")
	"wl_$g" "$s"
	if ! mount_ok "$s"; then
		echo "run $RUN: $s lost its mount during $g: its figures are void" >>"$WORK/errors.log"
		say "$s lost its mount during $g: its figures are void"
		awk -F'\t' -v OFS='\t' -v n="$before" -v s="$s" \
			'NR > n && $3 == s { $4 = "NA" } { print }' "$RES" >"$RES.tmp" &&
			mv "$RES.tmp" "$RES"
	fi
}

# ---- summary ---------------------------------------------------------------

summarize() {
	local s
	awk -F'\t' -v systems="$SYSTEMS" -f "$HERE/fs/summarize.awk" "$RES"
	case " $SYSTEMS " in *" local "*|*" phs "*|*" bindfs "*) ;; *) return 0 ;; esac
	for s in $SYSTEMS; do
		case $s in lsmfs?*) ;; *) continue ;; esac
		echo
		echo "Ratios of $s:"
		echo
		awk -F'\t' -v systems="$SYSTEMS" -v subject="$s" -v ratios_only=1 \
			-f "$HERE/fs/summarize.awk" "$RES"
	done
}

plot() {	# out.svg
	local dat=$WORK/ratios.dat
	awk -F'\t' -v systems="$SYSTEMS" -v mode=plot -f "$HERE/fs/summarize.awk" "$RES" >"$dat"
	gnuplot -e "datafile='$dat'; outfile='$1'" "$HERE/fs/ratios.gp" ||
		say "gnuplot failed"
}

# ---- main --------------------------------------------------------------------

if [ "$REPORT" = 1 ]; then
	RES=$WORK/results.tsv
	[ -s "$RES" ] || die "no results in $RES"
	cat "$WORK/header.txt" 2>/dev/null
	summarize
	[ -n "$PLOT" ] && plot "$PLOT"
	exit 0
fi
mkdir -p "$WORK" || die "cannot make $WORK"
# passthrough_hp holds an O_PATH descriptor for every inode the kernel
# knows (200,000 after the metadata workload) and raises its soft limit to
# the hard one; raise that where we may.
ulimit -Hn 1048576 2>/dev/null
PHS_FDMAX=$(ulimit -Hn)
[ "$PHS_FDMAX" = unlimited ] && PHS_FDMAX=$((1 << 30))
need_tools
case " $SYSTEMS " in *" phs "*) build_passthrough_hp ;; esac
case ",$ONLY," in *,small,*) make_tarball ;; esac
RES=$WORK/results.tsv
: >"$RES"
: >"$WORK/errors.log"
{
	echo "# fsbench $(date -u '+%Y-%m-%d %H:%M UTC') quick=$QUICK runs=$RUNS"
	echo "# lsmfs: $LSMFS $LSMFS_OPTS"
	for v in ${VARIANTS:-}; do
		echo "# $v: ${V_BIN[$v]:-$LSMFS} ${V_OPTS[$v]}; mkfs: ${V_MKFS[$v]:-$MKFS} ${V_MKOPTS[$v]}"
	done
	echo "# host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
} >"$WORK/header.txt"
cat "$WORK/header.txt" >&2

read -r -a SYS <<<"$SYSTEMS"
for RUN in $(seq 1 "$RUNS"); do
	# rotate the order of the systems from run to run
	order=()
	for i in "${!SYS[@]}"; do
		order+=("${SYS[$(((i + RUN - 1) % ${#SYS[@]}))]}")
	done
	say "run $RUN of $RUNS: ${order[*]}"
	for s in "${order[@]}"; do
		mount_one "$s"
	done
	for g in meta small data; do
		case ",$ONLY," in *,$g,*) ;; *) continue ;; esac
		for s in "${order[@]}"; do
			run_workload "$g" "$s"
		done
	done
	for s in "${order[@]}"; do
		umount_one "$s"
	done
done

cat "$WORK/header.txt"
summarize
[ -s "$WORK/errors.log" ] && say "some commands failed or complained: $WORK/errors.log"
[ -n "$PLOT" ] && plot "$PLOT"
exit 0
