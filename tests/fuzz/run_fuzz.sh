#!/usr/bin/env bash
# run_fuzz.sh FUZZER CORPUS REGRESS SECONDS — replay the regression inputs,
# then fuzz for SECONDS from the seed corpus (new inputs in a scratch dir).
set -euo pipefail
fuzzer=$1 corpus=$2 regress=$3 secs=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
	"$fuzzer" -runs=0 "$regress"/*
fi
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$scratch/" -print_final_stats=1 "$scratch" "$corpus" 2>&1 |
	grep -E "stat::number_of_executed_units|Done|ERROR|SUMMARY|crash|deadly" || true
if ls "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* >/dev/null 2>&1; then
	mkdir -p "$regress"
	cp "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$regress"/ 2>/dev/null || true
	echo "fuzzer found a failing input; copied into $regress" >&2
	exit 1
fi
