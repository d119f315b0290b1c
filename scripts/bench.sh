#!/usr/bin/env bash
# The main bench job: set-up, Release build in build-bench/, the host suites,
# the replays of the shipped traces, the device suites when a GPU is there,
# then the summary table (tensorpool against each peer as ratios) and the
# plots. Everything of a run lands in bench/out/ (latest.jsonl, summary.md,
# *.svg, replay.*.timeline.png). See docs/bench.md.
#
#   scripts/bench.sh           quick mode (a few minutes on 2 cores)
#   scripts/bench.sh --full    every size, more repetitions, longer batches
#   scripts/bench.sh --regen-traces   regenerate bench/traces/*.csv first
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-bench"
out="$root/bench/out"
mode_flag=""
regen=0
for arg in "$@"; do
  case "$arg" in
    --full) mode_flag="--full" ;;
    --quick) mode_flag="" ;;
    --regen-traces) regen=1 ;;
    *) echo "usage: scripts/bench.sh [--full] [--regen-traces]" >&2; exit 2 ;;
  esac
done
start=$(date +%s)

echo "== set-up"
if ! "$root/scripts/setup.sh"; then
  echo "bench: set-up could not install everything; going on with what is here" >&2
fi

echo "== build ($build, Release)"
# -O2 as the bench suites are specified with (CMake's Release default is -O3).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DTP_BUILD_TESTS=OFF \
  -DTP_BUILD_BENCH=ON >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
grep 'tensorpool:' "$build.configure.log" || true
jobs=$(nproc)
[ "$jobs" -gt 8 ] && jobs=8
cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1 ||
  { tail -50 "$build.build.log"; exit 1; }
bin="$build/bench"

mkdir -p "$out"
jsonl="$out/latest.jsonl"
rm -f "$jsonl" "$out"/*.dat "$out"/*.svg "$out"/plots.txt

echo "== host suites"
"$bin/bench_host" $mode_flag --out "$jsonl"

echo "== traces and replays"
if [ "$regen" = 1 ]; then
  for gen in "$bin"/gen_*; do
    name=$(basename "$gen"); name=${name#gen_}
    "$gen" "$root/bench/traces/$name.csv"
  done
fi
traces=("$root"/bench/traces/*.csv)
if [ ! -e "${traces[0]}" ]; then
  # No shipped logs (e.g. a trimmed checkout): make them now.
  for gen in "$bin"/gen_*; do
    name=$(basename "$gen"); name=${name#gen_}
    "$gen" "$out/trace_$name.csv"
  done
  traces=("$out"/trace_*.csv)
fi
# The default pool against the peers, then pool configurations alone. Each
# (log, allocator) runs in a fresh process; the first pass writes a memory
# timeline per log and allocator into $out/timeline (drawn below).
mkdir -p "$out/timeline"
rm -f "$out"/timeline/*.dat "$out"/replay.*.timeline.png
"$bin/tp_replay" $mode_flag --out "$jsonl" --timeline "$out/timeline" \
  "${traces[@]}"
"$bin/tp_replay" $mode_flag --out "$jsonl" --impl tensorpool \
  --label "tensorpool:div8" --divisions 8 "${traces[@]}"
"$bin/tp_replay" $mode_flag --out "$jsonl" --impl tensorpool \
  --label "tensorpool:cache64M" --max-cached-bytes $((64 << 20)) "${traces[@]}"
# The limit the serving trace was recorded under: its failures come back.
for t in "${traces[@]}"; do
  case "$(basename "$t")" in
    batches.csv)
      "$bin/tp_replay" $mode_flag --out "$jsonl" --impl tensorpool \
        --label "tensorpool:limit384M" --limit $((384 << 20)) "$t" ;;
  esac
done

echo "== device suites"
if [ -x "$bin/bench_device" ]; then
  "$bin/bench_device" $mode_flag --out "$jsonl" || echo "bench: bench_device failed" >&2
else
  echo "device suites not built (no CUDA toolkit found)"
fi
if [ -x "$bin/bench_convert_mpi" ] && command -v mpiexec >/dev/null; then
  for ranks in 2 4; do
    mpiexec -n "$ranks" --oversubscribe --allow-run-as-root \
      "$bin/bench_convert_mpi" $mode_flag --out "$jsonl" ||
      echo "bench: bench_convert_mpi on $ranks ranks failed" >&2
  done
fi
# Device conversions through NCCL: one rank needs one GPU; 2 and 4 ranks
# print their own skip line where the node has fewer GPUs than ranks.
if [ -x "$bin/bench_convert_nccl" ] && command -v mpiexec >/dev/null; then
  for ranks in 1 2 4; do
    mpiexec -n "$ranks" --oversubscribe --allow-run-as-root \
      "$bin/bench_convert_nccl" $mode_flag --out "$jsonl" ||
      echo "bench: bench_convert_nccl on $ranks ranks failed" >&2
  done
fi

echo "== summary"
"$bin/bench_summary" --plots "$out" "$jsonl" | tee "$out/summary.md"

echo "== plots"
if command -v gnuplot >/dev/null; then
  while read -r file n has_gbps suite case_name; do
    gnuplot -e "datafile='$file'; n=$n; has_gbps=$has_gbps; name='$suite $case_name'; outbase='$out/$suite.$case_name'" \
      "$root/bench/plot.gp"
  done <"$out/plots.txt"
  # One memory timeline per replayed log: a panel per allocator.
  for t in "${traces[@]}"; do
    name=$(basename "$t" .csv)
    files="" labels=""
    for impl in tensorpool glibc jemalloc mimalloc; do
      f="$out/timeline/$name.$impl.timeline.dat"
      [ -e "$f" ] && files="$files $f" && labels="$labels $impl"
    done
    [ -n "$files" ] && gnuplot -e "name='$name'; files='${files# }'; labels='${labels# }'; out='$out/replay.$name.timeline.png'" \
      "$root/bench/timeline.gp" 2>/dev/null
  done
  ls "$out"/*.svg "$out"/*.png 2>/dev/null
else
  echo "gnuplot not found: no plots (data files are in $out)"
fi
echo "== done in $(( $(date +%s) - start )) s: $jsonl"
