#!/usr/bin/env bash
# run-tests.sh — the test command: installs what is missing, builds lsmfs,
# and runs the whole suite twice: a normal build, then under
# AddressSanitizer + UndefinedBehaviorSanitizer; then the engine's
# concurrency tests under ThreadSanitizer.
#   tools/run-tests.sh            everything
#   tools/run-tests.sh --quick    the normal build only
# The long 'soak' suite (thousands of kills, long stress runs) is left out;
# run it by hand: meson test -C build --suite soak
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
lsmfs_install_deps attr acl rsync sqlite3 python3 util-linux e2fsprogs clang

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)

setup() { # dir, extra meson args...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}

status=0
echo "== build (debugoptimized)"
setup build
meson test -C build --no-rebuild --print-errorlogs --num-processes "$jobs" --no-suite soak || status=1

if [ $quick -eq 0 ]; then
	echo "== build-asan (AddressSanitizer + UndefinedBehaviorSanitizer)"
	setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --no-rebuild --print-errorlogs --num-processes "$jobs" \
		--no-suite soak --timeout-multiplier 3 || status=1
	echo "== build-tsan (ThreadSanitizer: concurrency suite)"
	setup build-tsan -Db_sanitize=thread -Db_lundef=false
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		meson test -C build-tsan --no-rebuild --print-errorlogs --suite tsan \
		--timeout-multiplier 5 || status=1
	echo "== build-fuzz (libFuzzer, clang: bounded runs over the seed corpus)"
	if [ ! -f build-fuzz/build.ninja ]; then
		CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
			-Db_lundef=false >/dev/null
	fi
	ninja -C build-fuzz $(cd build-fuzz && ninja -t targets all | grep -o '^tests/fuzz/fuzz_[a-z_]*' | sort -u) >/dev/null
	meson test -C build-fuzz --no-rebuild --print-errorlogs --suite fuzz --num-processes 1 || status=1
fi
exit $status
