#!/usr/bin/env bash
# quickstart.sh MOUNTPOINT [STORE] — install what is missing, build lsmfs,
# create the default store if there is none (~/.local/share/lsmfs/default),
# and mount it on MOUNTPOINT.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ $# -lt 1 ]; then
	echo "usage: tools/quickstart.sh MOUNTPOINT [STORE]" >&2
	exit 2
fi
mnt=$1
store=${2:-${XDG_DATA_HOME:-$HOME/.local/share}/lsmfs/default}
. tools/deps.sh
lsmfs_install_deps
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
if [ ! -e "$store/CURRENT" ]; then
	mkdir -p "$store"
	./build/tools/mkfs.lsmfs -L default "$store"
fi
mkdir -p "$mnt"
./build/fs/lsmfs "$store" "$mnt"
echo "lsmfs: $store is mounted on $mnt"
echo "lsmfs: unmount with: fusermount3 -u $mnt"
