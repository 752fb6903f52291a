#!/usr/bin/env bash
# deps.sh — install the Debian packages lsmfs needs to build, run and test,
# skipping those already present.  Sourced by quickstart.sh and run-tests.sh.
lsmfs_install_deps() {
	local pkgs=(meson ninja-build pkg-config gcc libc6-dev libfuse3-dev fuse3
		libzstd-dev libxxhash-dev libcmocka-dev "$@")
	local missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "lsmfs: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
		sudo=sudo
	fi
	echo "lsmfs: installing ${missing[*]}" >&2
	$sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
