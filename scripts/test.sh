#!/usr/bin/env bash
# Runs every test, doing its own set-up (packages when root, configure, build):
#   1. the main build: CUDA code compiled when the toolkit is there (device
#      tests skip with their reason without a GPU), MPI tests under mpiexec
#      with 1 to 4 ranks, the README examples, the benchmarks compiled;
#   2. the host code again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the multi-threaded stress tests under ThreadSanitizer;
#   4. packaging: a Release build (CUDA without MPI and NCCL, build only),
#      then pure C consumer projects against fresh installs of it and of the
#      main build (scripts/test_consumers.sh).
# Every build treats the project's warnings as errors.
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

werror=-DTP_WARNINGS_AS_ERRORS=ON
run_build build -- -DCMAKE_BUILD_TYPE=RelWithDebInfo "$werror" || failed=1
if [ "${1:-}" != "--quick" ]; then
  run_build build-asan -- -DCMAKE_BUILD_TYPE=Debug -DTP_SANITIZE=address,undefined \
    -DTP_WITH_CUDA=OFF -DTP_WITH_MPI=OFF -DTP_BUILD_BENCH=OFF "$werror" || failed=1
  echo "== build-tsan: the stress tests under ThreadSanitizer"
  scripts/test_tsan.sh build-tsan -DCMAKE_BUILD_TYPE=Debug "$werror" || failed=1

  # ---- Packaging: install and consume (begin) --------------------------
  # A Release build, compiled only (tests off): gcc's -O2 warnings, CUDA
  # without MPI and NCCL. Then each install is used by pure C projects
  # (tests/consumer/): the main build (CUDA+NCCL+MPI) by find_package and
  # pkg-config, a CPU-only tensorpool by add_subdirectory, the Release one
  # (CUDA) by find_package and pkg-config.
  echo "== build-release: configure and build (no tests)"
  if cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DTP_BUILD_TESTS=OFF \
      -DTP_WITH_MPI=OFF -DTP_WITH_NCCL=OFF "$werror" >build-release.configure.log 2>&1 &&
    cmake --build build-release -j "$jobs" >build-release.build.log 2>&1; then
    grep "tensorpool:" build-release.configure.log || true
  else
    tail -n 60 build-release.configure.log build-release.build.log
    failed=1
  fi
  scripts/test_consumers.sh build \
    --subdirectory "-DTP_WITH_CUDA=OFF -DTP_WITH_MPI=OFF" || failed=1
  scripts/test_consumers.sh build-release || failed=1
  # ---- Packaging: install and consume (end) ----------------------------
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
