#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU (Hopper, sm_90) from the
# repository root. Configures and builds with CUDA, runs every test (device
# tests included), then runs compute-sanitizer's memcheck and racecheck over
# each device test executable. Logs go under $OUT (or build-gpu/logs).
#
#   scripts/gpu_check.sh            # everything
#   JOBS=8 scripts/gpu_check.sh     # parallel build jobs (default: nproc)
#
# Exit status: 0 when the build, every test and every sanitizer run passed;
# 1 otherwise (the summary at the end says which step failed).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-gpu}
logs=${OUT:-$build/logs}
jobs=${JOBS:-$(nproc)}
mkdir -p "$logs"
failed=()

step() { # step <name> <command...>: runs it, logging to $logs/<name>.log
  local name=$1
  shift
  echo "== $name: $*"
  if "$@" >"$logs/$name.log" 2>&1; then
    echo "   ok"
  else
    echo "   FAILED (see $logs/$name.log)"
    tail -n 30 "$logs/$name.log"
    failed+=("$name")
  fi
}

{
  date -u
  nvidia-smi || echo "nvidia-smi not found"
  nvcc --version || true
} >"$logs/machine.txt" 2>&1
cat "$logs/machine.txt"

step configure cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DTP_WITH_CUDA=ON
step build cmake --build "$build" -j "$jobs"
if [[ " ${failed[*]} " == *" build "* || " ${failed[*]} " == *" configure "* ]]; then
  echo "build failed: not running tests"
  exit 1
fi

# Every test, then each device test executable on its own, verbosely: on a
# GPU machine none of them may skip for want of a device.
step ctest ctest --test-dir "$build" --output-on-failure --timeout 600
device_tests=()
for exe in "$build"/tests/device_test_*; do
  [ -x "$exe" ] && device_tests+=("$exe")
done
for exe in "${device_tests[@]}"; do
  name=$(basename "$exe")
  step "run_$name" "$exe" --verbose --jobs 1
  if grep -q "no CUDA device here" "$logs/run_$name.log"; then
    echo "   $name skipped tests for want of a device: the check did not run"
    failed+=("skipped_$name")
  fi
done

# compute-sanitizer over each device test executable (Criterion runs each
# test in a child process: --target-processes all follows them).
sanitizer=$(command -v compute-sanitizer ||
  echo /usr/local/cuda/bin/compute-sanitizer)
if [ ! -x "$sanitizer" ]; then
  echo "== compute-sanitizer not found: memcheck and racecheck NOT run"
  failed+=("compute_sanitizer_missing")
else
  for exe in "${device_tests[@]}"; do
    name=$(basename "$exe")
    for tool in memcheck racecheck; do
      step "${tool}_$name" "$sanitizer" --tool "$tool" --error-exitcode 99 \
        --target-processes all "$exe" --jobs 1
    done
  done
fi

echo
if [ ${#failed[@]} -eq 0 ]; then
  echo "gpu_check: everything passed; logs in $logs"
  exit 0
fi
echo "gpu_check: FAILED steps: ${failed[*]}; logs in $logs"
exit 1
