#!/usr/bin/env bash
# Runs every test, doing its own set-up (packages when root, configure, build):
#   1. the main build: CUDA code compiled when the toolkit is there (device
#      tests skip with their reason without a GPU), MPI tests under mpiexec
#      with 1 to 4 ranks, the README examples, the benchmarks compiled;
#   2. the host code again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the multi-threaded stress tests under ThreadSanitizer.
# Usage: scripts/test.sh [--quick]   (--quick: the main build only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
failed=0

# run_build <dir> <ctest args...> -- <cmake args...>
run_build() {
  local dir=$1 ctest_args=() cmake_args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do ctest_args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  cmake_args=("$@")
  echo "== $dir: configure ${cmake_args[*]:-}"
  cmake -S . -B "$dir" "${cmake_args[@]}" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  grep "tensorpool:" "$dir.configure.log" || true
  echo "== $dir: build"
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 ||
    { tail -n 60 "$dir.build.log"; return 1; }
  echo "== $dir: test"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${ctest_args[@]}"
}

run_build build -- -DCMAKE_BUILD_TYPE=RelWithDebInfo || failed=1
if [ "${1:-}" != "--quick" ]; then
  run_build build-asan -- -DCMAKE_BUILD_TYPE=Debug -DTP_SANITIZE=address,undefined \
    -DTP_WITH_CUDA=OFF -DTP_WITH_MPI=OFF -DTP_BUILD_BENCH=OFF || failed=1
  echo "== build-tsan: the stress tests under ThreadSanitizer"
  scripts/test_tsan.sh build-tsan -DCMAKE_BUILD_TYPE=Debug || failed=1
fi

# ---- fuzzing (tests/fuzz/, docs/fuzzing.md) ----
# Every libFuzzer target: its committed corpus, then TP_FUZZ_SECONDS of
# fuzzing each (30 by default); a crash or a broken check fails the run.
if [ "${1:-}" != "--quick" ]; then
  echo "== build-fuzz: the libFuzzer targets, ${TP_FUZZ_SECONDS:-30} s each"
  scripts/fuzz.sh all "${TP_FUZZ_SECONDS:-30}" || failed=1
fi
# ---- end of fuzzing ----

if [ "$failed" -ne 0 ]; then
  echo "scripts/test.sh: FAILED (see above)"
  exit 1
fi
echo "scripts/test.sh: all test builds passed"
