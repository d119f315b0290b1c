#!/usr/bin/env bash
# Builds the stress tests with ThreadSanitizer (no CUDA, no MPI, so that TSan
# sees only our C code) in their own build directory and runs them.
#
#   scripts/test_tsan.sh [build-dir] [extra cmake -D options...]
#
# Default build dir: build-tsan. Plain programs only: Criterion's shared
# arena cannot start under TSan, so the pool model's threaded runs also exist
# as tests/stress/test_pool_model_threads.c. A data race or a lock-order
# inversion makes TSan exit with 66, which fails the test.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-tsan"}
shift || true

cmake -S "$root" -B "$build" -DTP_SANITIZE=thread -DTP_WITH_CUDA=OFF \
  -DTP_WITH_MPI=OFF -DTP_BUILD_BENCH=OFF "$@" >/dev/null

# Only what the stress label needs: one target per tests/stress/test_*.c.
targets=()
for f in "$root"/tests/stress/test_*.c; do
  targets+=("stress_$(basename "$f" .c)")
done
cmake --build "$build" -j2 --target "${targets[@]}"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
if ! ctest --test-dir "$build" -L stress --output-on-failure; then
  # Kernels with high mmap randomness break TSan's memory layout at start
  # ("unexpected memory mapping"); without address randomization it runs.
  if grep -qs "unexpected memory mapping" "$build/Testing/Temporary/LastTest.log"; then
    echo "test_tsan: TSan could not map its shadow memory; retrying with" \
         "address randomization off" >&2
    setarch "$(uname -m)" -R ctest --test-dir "$build" -L stress \
      --output-on-failure
  else
    exit 1
  fi
fi
