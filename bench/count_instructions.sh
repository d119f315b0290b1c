#!/usr/bin/env bash
# Instructions per operation of the host fast paths, counted by callgrind:
# steady where wall time is not (a busy or shared machine). Each case runs
# ITERS operations after a warm pass; only the loop under `counted` counts.
#
#   bench/count_instructions.sh BENCH_HOST [IMPL] [ITERS]
#
# Prints "case instructions-per-op" lines. Used to compare the engine before
# and after a change (docs/bench.md).
set -euo pipefail
bin=$1
impl=${2:-tensorpool}
iters=${3:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The harness re-executes itself for jemalloc's TLS; under valgrind set the
# tunable directly and skip that step.
export TP_BENCH_TLS_READY=1
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384
for c in alloc_free_64 alloc_free_1024 alloc_free_4096 alloc_free_1048576 \
         alloc_free_67108864 pair_1KiB_1000 pair_1KiB_100000 churn_1000 \
         churn_10000 churn_100000; do
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
    --toggle-collect=counted "$bin" --count "$c" "$iters" "$impl" \
    >/dev/null 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
  total=$(grep -E '^(summary|totals):' "$tmp/out" | head -1 | awk '{print $2}')
  awk -v c="$c" -v t="$total" -v n="$iters" \
    'BEGIN { printf "%-22s %8.1f\n", c, t / n }'
done
