#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) in build-fuzz/, replays each target's committed
# corpus (seeds and every input that once found a bug), then fuzzes it.
#
#   scripts/fuzz.sh TARGET SECONDS    TARGET: pool, event_log, layout,
#                                     expression (or fuzz_pool, ...), or all
#
# New inputs that reach new code go to build-fuzz/corpus/<target>/ (kept
# between runs, never into the committed corpus). A crash, a sanitizer
# report, a leak, a timeout or a broken model check stops the run, keeps
# the input in build-fuzz/artifacts/ and fails the script; the line to
# replay it is printed. See docs/fuzzing.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS (TARGET: pool, event_log," \
       "layout, expression or all)" >&2
  exit 2
fi
want=$1
seconds=$2
build=build-fuzz
all=(fuzz_pool fuzz_event_log fuzz_layout fuzz_expression)
if [ "$want" = all ]; then
  targets=("${all[@]}")
else
  targets=("fuzz_${want#fuzz_}")
  if ! printf '%s\n' "${all[@]}" | grep -qx "${targets[0]}"; then
    echo "fuzz.sh: no target '$want' (have: ${all[*]})" >&2
    exit 2
  fi
fi

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang not found (scripts/setup.sh installs it as root)" >&2
  exit 1
fi
# Configured every time (quick when nothing changed); the compiler is only
# chosen when the folder is new.
if [ ! -f "$build/CMakeCache.txt" ]; then
  export CC=clang
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_BUILD_FUZZ=ON \
  -DTP_SANITIZE=address,undefined -DTP_WARNINGS_AS_ERRORS=ON \
  -DTP_WITH_CUDA=OFF -DTP_WITH_MPI=OFF -DTP_BUILD_BENCH=OFF \
  >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 --target "${targets[@]}" >"$build.build.log" 2>&1 ||
  { tail -n 40 "$build.build.log"; exit 1; }

# Requests no machine serves fail as NULL (the pool's out-of-memory path)
# instead of aborting; everything else a sanitizer sees is fatal.
export ASAN_OPTIONS="allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"

# Per target: the longest input worth trying and extra options.
options() {
  case $1 in
    fuzz_pool) echo "-max_len=4096" ;;
    fuzz_event_log) echo "-max_len=8192 -dict=tests/fuzz/event_log.dict" ;;
    fuzz_layout) echo "-max_len=512" ;;
    fuzz_expression) echo "-max_len=4200 -dict=tests/fuzz/expression.dict" ;;
  esac
}

failed=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  seeds=tests/fuzz/corpus/$t
  work=$build/corpus/$t
  mkdir -p "$work" "$build/artifacts"
  echo "== $t: the committed corpus ($(ls "$seeds" | wc -l) inputs)"
  if ! "$bin" -runs=0 $(options "$t") "$seeds" >"$build/$t.replay.log" 2>&1
  then
    tail -n 40 "$build/$t.replay.log"
    echo "fuzz.sh: $t fails on its committed corpus (see above)"
    failed=1
    continue
  fi
  echo "== $t: fuzzing for $seconds s"
  # One job (CI has two cores); a single input may take at most 25 s.
  if "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
      $(options "$t") "$work" "$seeds" >"$build/$t.fuzz.log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|new_units_added)|cov:" \
      "$build/$t.fuzz.log" | tail -n 3 || true
  else
    tail -n 60 "$build/$t.fuzz.log"
    input=$(grep -o "Test unit written to .*" "$build/$t.fuzz.log" |
            sed 's/Test unit written to //' | tail -n 1)
    echo "fuzz.sh: $t found a failure; replay it with:"
    echo "  ASAN_OPTIONS=allocator_may_return_null=1 $bin ${input:-<input>}"
    echo "and add the input to $seeds/ once fixed (docs/fuzzing.md)"
    failed=1
  fi
done
exit "$failed"
