#!/usr/bin/env bash
# The GPU check (docs/device.md, "Running the GPU check"): from the repository
# root of a machine with an NVIDIA GPU, usually after the offline bundle's
# environment:
#
#   eval "$(bash .gpu-deps/debs/unpack.sh)" && scripts/gpu_check.sh [STEP...]
#
# Steps, run in this order whatever the order given (default: all):
#   build      configure build-gpu/ with CUDA, NCCL and MPI required, for the
#              GPU's architecture, and build; check the test programs' linkage
#   host       ctest -LE gpu: every test that needs no GPU
#   device     ctest -L gpu with TP_TEST_REQUIRE_DEVICE=1: the device tests
#              (a skip for want of a GPU is a failure) and NCCL at 1-4 ranks
#              (more ranks than GPUs: "not runnable", NCCL needs one per rank)
#   memcheck, racecheck, synccheck
#              compute-sanitizer over each GPU test program
#   tests = host device; sanitize = memcheck racecheck synccheck;
#   all = build host device sanitize; report = only rewrite SUMMARY.md;
#   --fingerprint prints the sources' hash that machine.txt records
# Program names (device_test_device_fill, mpi_test_nccl_conversions) among
# the words restrict the sanitizer steps to those programs.
#
# Every call first checks what the steps need and stops at once, saying what
# is missing; a later step reuses build-gpu/ (building first if it is not
# there). Every call writes machine.txt and rewrites SUMMARY.md in the results
# folder, bench/results/<UTC date>-<device>-check/ (calls within 12 hours
# share it: build-gpu/results-dir; TP_CHECK_DIR overrides), and prints each
# step's time.
#
# Environment: TP_CUDA_ARCH (CMAKE_CUDA_ARCHITECTURES; default: the GPU's
# compute capability, else 90), JOBS (build jobs, default nproc), BUILD_DIR
# (default build-gpu), TP_SANITIZE_TIMEOUT (seconds per sanitizer run, 420),
# TP_STEP_BUDGET (a sanitizer step starts no program after this many
# seconds, 480: what is left is named for the next call).
#
# Exit status: 0 every step asked passed; 1 a step failed; 2 something the
# steps need is missing (nothing was run); 3 stopped: no GPU (the steps that
# need none ran and passed); 4 a sanitizer step spent its budget with
# programs left (named in the message, for the next call).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
build=${BUILD_DIR:-$root/build-gpu}
jobs=${JOBS:-$(nproc)}
sanitize_timeout=${TP_SANITIZE_TIMEOUT:-420}
step_budget=${TP_STEP_BUDGET:-480}
ma=$(uname -m)-linux-gnu
started=$(date +%s)

say() { echo "gpu_check: $*"; }
missing=()     # what the steps need and is not there: exit 2
need() { missing+=("$*"); }
no_gpu_note=() # what would stop the GPU steps, reported with "no GPU"

# The sources that ran, for a checkout without .git: sha256 over the files
# (this list, sorted) that build and test the project.
fingerprint() {
  find CMakeLists.txt cmake include src kernels tests bench examples scripts \
    -type f ! -path 'bench/results/*' 2>/dev/null | LC_ALL=C sort |
    xargs sha256sum | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------- the steps
order=(build host device memcheck racecheck synccheck)
declare -A want=()
targets=()
only_report=0
[ $# -eq 0 ] && set -- all
for word in "$@"; do
  case $word in
    all) for s in "${order[@]}"; do want[$s]=1; done ;;
    tests) want[host]=1; want[device]=1 ;;
    sanitize) want[memcheck]=1; want[racecheck]=1; want[synccheck]=1 ;;
    build | host | device | memcheck | racecheck | synccheck) want[$word]=1 ;;
    report) only_report=1 ;;
    --fingerprint) fingerprint; exit 0 ;;
    device_test_* | mpi_test_nccl*) targets+=("$word") ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown step '$word' (see scripts/gpu_check.sh --help)" >&2
       exit 2 ;;
  esac
done
steps=()
for s in "${order[@]}"; do [ -n "${want[$s]:-}" ] && steps+=("$s"); done
sanitizing=0
for s in "${steps[@]}"; do
  case $s in *check) sanitizing=1 ;; esac
done

# ------------------------------------------------------------ prerequisites
# find_file <name> <dir>...: the first <dir>/<name> that exists.
find_file() {
  local name=$1 d
  shift
  for d in "$@"; do
    [ -n "$d" ] && [ -e "$d/$name" ] && { echo "$d/$name"; return 0; }
  done
  return 1
}
IFS=: read -r -a prefixes <<<"${CMAKE_PREFIX_PATH:-}"
inc_dirs=() lib_dirs=()
for p in "${prefixes[@]}" /usr/local /usr; do
  [ -n "$p" ] || continue
  inc_dirs+=("$p/include")
  lib_dirs+=("$p/lib/$ma" "$p/lib64" "$p/lib")
done
IFS=: read -r -a extra_libs <<<"${CMAKE_LIBRARY_PATH:-}"
lib_dirs+=("${extra_libs[@]}" "/lib/$ma")

command -v cmake >/dev/null || need "cmake (3.24 or newer)"
if command -v cmake >/dev/null; then
  cmake_version=$(cmake --version | awk 'NR == 1 {print $3}')
  [ "$(printf '%s\n3.24\n' "$cmake_version" | sort -V | head -n 1)" = 3.24 ] ||
    need "cmake 3.24 or newer (this one is $cmake_version)"
fi
cc=${CC:-$(command -v cc || command -v gcc || true)}
[ -n "$cc" ] || need "a C compiler (cc or gcc)"

# nvcc: CUDACXX, PATH, then /usr/local/cuda/bin.
nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
cuda_root=
if [ -n "$nvcc" ] && [ -x "$nvcc" ]; then
  # The toolkit's root as nvcc itself sees it (nvcc may be a wrapper script).
  top=$("$nvcc" --dryrun -x cu -c /dev/null -o /dev/null 2>&1 |
    sed -n 's/^#\$ TOP=//p' | head -n 1)
  [ -n "$top" ] || top=$(dirname "$(realpath "$nvcc")")/..
  cuda_root=$(cd "$top" && pwd -P)
  export PATH=$cuda_root/bin:$PATH
else
  need "nvcc (neither CUDACXX, nor on PATH, nor /usr/local/cuda/bin/nvcc)"
  nvcc=
fi

# Criterion: the header and the library where CMake looks.
criterion_h=$(find_file criterion/criterion.h "${inc_dirs[@]}" || true)
criterion_so=$(find_file libcriterion.so "${lib_dirs[@]}" || true)
if [ -z "$criterion_h" ] || [ -z "$criterion_so" ]; then
  need "Criterion (criterion/criterion.h and libcriterion.so under" \
    "CMAKE_PREFIX_PATH or /usr: eval the output of .gpu-deps/debs/unpack.sh)"
fi

# MPI: required. The NCCL communicators start over MPI, so without it the
# NCCL paths could not run; no half check without it.
mpicc=$(command -v mpicc || true)
mpiexec=$(command -v mpiexec || true)
mpi_version=
if [ -n "$mpicc" ] && [ -n "$mpiexec" ]; then
  mpi_version=$("$mpiexec" --version 2>&1 | head -n 1) ||
    need "a working mpiexec ($mpiexec --version failed: $mpi_version)"
else
  need "MPI (mpicc and mpiexec on PATH; required, not skipped: the NCCL" \
    "communicators start over MPI; eval the output of .gpu-deps/debs/unpack.sh)"
fi
# In containers that forbid process_vm_readv, Open MPI's shared-memory
# single copy fails ("CMA: Read -1"); plain copies work everywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

# NCCL: NCCL_ROOT, CMAKE_PREFIX_PATH, the toolkit, the system, then the pip
# wheel of the python3 on PATH (its lib/ has only libnccl.so.2).
nccl_h='' nccl_so=''
nccl_inc=("${NCCL_ROOT:+$NCCL_ROOT/include}" "${inc_dirs[@]}")
nccl_lib=("${NCCL_ROOT:+$NCCL_ROOT/lib}" "${lib_dirs[@]}")
if [ -n "$cuda_root" ]; then
  nccl_inc+=("$cuda_root/include")
  nccl_lib+=("$cuda_root/lib64" "$cuda_root/lib")
fi
nccl_h=$(find_file nccl.h "${nccl_inc[@]}" || true)
nccl_so=$(find_file libnccl.so "${nccl_lib[@]}" ||
  find_file libnccl.so.2 "${nccl_lib[@]}" || true)
if [ -z "$nccl_h" ] || [ -z "$nccl_so" ]; then
  wheel=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' \
    2>/dev/null || true)
  if [ -n "$wheel" ] && [ -f "$wheel/include/nccl.h" ] &&
    [ -f "$wheel/lib/libnccl.so.2" ]; then
    nccl_h=$wheel/include/nccl.h
    nccl_so=$wheel/lib/libnccl.so.2
  else
    need "NCCL (nccl.h and libnccl.so: set NCCL_ROOT, or have the pip" \
      "wheel nvidia-nccl-cu13 in the python3 on PATH)"
    nccl_h='' nccl_so=''
  fi
fi
nccl_version=
if [ -n "$nccl_h" ]; then
  nccl_version=$(awk '/#define NCCL_(MAJOR|MINOR|PATCH) / {v = v (v ? "." : "") $3}
    END {print v}' "$nccl_h")
fi

# compute-sanitizer: PATH, then the toolkit.
sanitizer=$(command -v compute-sanitizer ||
  find_file compute-sanitizer "$cuda_root/bin" "$cuda_root/compute-sanitizer" ||
  true)
if [ -z "$sanitizer" ] && [ "$sanitizing" = 1 ]; then
  sanitizer_missing="compute-sanitizer (not on PATH nor in $cuda_root/bin or $cuda_root/compute-sanitizer)"
else
  sanitizer_missing=
fi

# The GPU: nvidia-smi, else nvcc's own device query.
gpu_count=0 gpu_name='' gpu_cc='' gpu_driver='' gpu_note=''
if command -v nvidia-smi >/dev/null; then
  if ! q=$(nvidia-smi --query-gpu=name,compute_cap,driver_version \
    --format=csv,noheader 2>&1) || [ -z "$q" ]; then
    gpu_note="nvidia-smi lists none ($(head -c 160 <<<"$q" | tr '\n' ' '))"
  else
    gpu_count=$(grep -c . <<<"$q")
    IFS=, read -r gpu_name gpu_cc gpu_driver <<<"$(head -n 1 <<<"$q")"
    gpu_name=$(echo "$gpu_name" | xargs) gpu_cc=$(echo "$gpu_cc" | xargs)
    gpu_driver=$(echo "$gpu_driver" | xargs)
  fi
elif [ -n "$cuda_root" ] && [ -x "$cuda_root/bin/__nvcc_device_query" ]; then
  q=$("$cuda_root/bin/__nvcc_device_query" 2>&1 || true)
  gpu_note="no nvidia-smi; nvcc's device query: $(head -c 160 <<<"$q" | tr '\n' ' ')"
  if [[ $q =~ ^[0-9]+ ]]; then
    gpu_count=$(tr ',;' '\n' <<<"$q" | grep -c .)
    gpu_cc=$(tr ',;' '\n' <<<"$q" | head -n 1)
    gpu_cc="${gpu_cc%?}.${gpu_cc: -1}" gpu_name="unknown (no nvidia-smi)"
  fi
fi
if [ -n "${TP_CUDA_ARCH:-}" ]; then
  arch=$TP_CUDA_ARCH arch_from="TP_CUDA_ARCH"
elif [ -n "$gpu_cc" ]; then
  arch=${gpu_cc/./} arch_from="the GPU's compute capability $gpu_cc"
else
  arch=90 arch_from="no GPU: the project's default"
fi

if [ "$gpu_count" -gt 0 ]; then
  [ -n "$sanitizer_missing" ] && need "$sanitizer_missing"
else
  no_gpu_note+=("no GPU: ${gpu_note:-neither nvidia-smi nor the nvcc device query}")
  [ -n "$sanitizer_missing" ] && no_gpu_note+=("also missing: $sanitizer_missing")
fi
command -v python3 >/dev/null ||
  say "warning: no python3: the test tables will be ctest's own listing"

if [ ${#missing[@]} -gt 0 ]; then
  say "cannot run $(IFS=' '; echo "${steps[*]}"): missing"
  printf '  - %s\n' "${missing[@]}"
  say "nothing was run (exit 2)"
  exit 2
fi

# ------------------------------------------------------------ results folder
mkdir -p "$build/logs"
if [ -n "${TP_CHECK_DIR:-}" ]; then
  results=$TP_CHECK_DIR
elif [ -n "$(find "$build/results-dir" -mmin -720 2>/dev/null)" ] &&
  [ -d "$(cat "$build/results-dir")" ]; then
  # A call within 12 hours of the last one adds to the same folder.
  results=$(cat "$build/results-dir")
else
  short=nogpu
  if [ -n "$gpu_name" ]; then
    short=$(echo "$gpu_name" | tr '[:upper:]_' '[:lower:] ' | awk '{
      for (i = 1; i <= NF; i++)
        if ($i !~ /^(nvidia|geforce|tesla|quadro|rtx)$/ && $i ~ /[0-9]/) {
          print $i; exit
        }
      print "gpu" }' | sed 's/-.*//; s/[^a-z0-9]//g')
  fi
  results=$root/bench/results/$(date -u +%Y-%m-%d)-$short-check
fi
mkdir -p "$results"
results=$(cd "$results" && pwd)
touch "$results/steps.tsv"
[ -n "${TP_CHECK_DIR:-}" ] || echo "$results" >"$build/results-dir"

# machine.txt: what a reader needs to place the results.
{
  echo "date (UTC):     $(date -u '+%Y-%m-%d %H:%M:%S')"
  # shellcheck disable=SC1091
  echo "os:             $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "cpus:           $(nproc)"
  if [ -d "$root/.git" ] || [ -f "$root/.git" ]; then
    echo "git commit:     $(git -C "$root" rev-parse HEAD 2>/dev/null)$(
      git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  else
    echo "git commit:     unknown (not a git checkout)"
  fi
  echo "sources sha256: $(fingerprint) (scripts/gpu_check.sh --fingerprint)"
  echo "gpus:           $gpu_count${gpu_name:+ x $gpu_name}"
  echo "compute cap.:   ${gpu_cc:-none}"
  echo "driver:         ${gpu_driver:-none}"
  echo "CUDA arch:      $arch ($arch_from)"
  echo "nvcc:           $nvcc: $("$nvcc" --version | grep -i release)"
  echo "compiler:       $cc: $("$cc" --version | head -n 1)"
  echo "cmake:          $(command -v cmake) $cmake_version"
  echo "NCCL:           $nccl_version, $nccl_h, $nccl_so -> $(realpath "$nccl_so")"
  echo "MPI:            $mpiexec: $mpi_version"
  echo "Criterion:      $criterion_so -> $(realpath "$criterion_so")"
  echo "sanitizer:      ${sanitizer:-none}${sanitizer:+: $("$sanitizer" --version 2>&1 | grep -i version | head -n 1)}"
  for note in "${no_gpu_note[@]}"; do echo "note:           $note"; done
  if command -v nvidia-smi >/dev/null; then
    echo
    echo "nvidia-smi:"
    nvidia-smi 2>&1 | head -n 40
  fi
} >"$results/machine.txt" 2>&1

# ---------------------------------------------------------------- step log
# steps.tsv: <step> <result> <seconds> <note>, one line per step, the latest.
record() { # record <step> <result> <seconds> <note>
  local f=$results/steps.tsv
  touch "$f"
  awk -F'\t' -v s="$1" '$1 != s' "$f" >"$f.new"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$f.new"
  awk -F'\t' -v order="${order[*]}" 'BEGIN {n = split(order, o, " ")
    for (i = 1; i <= n; i++) rank[o[i]] = i}
    {print rank[$1] "\t" $0}' "$f.new" | sort -n -k1,1 | cut -f2- >"$f"
  rm -f "$f.new"
}
failed=() incomplete=()
step_start=0
begin() { step_start=$(date +%s); echo "== $1 ($(date -u +%H:%M:%S))"; }
finish() { # finish <step> <result> <note>
  local secs=$(($(date +%s) - step_start))
  record "$1" "$2" "$secs" "$3"
  echo "== $1: $2 in ${secs}s${3:+ ($3)}"
  [ "$secs" -gt 480 ] && say "warning: $1 took over 8 minutes; split it" \
    "(sanitizer steps take program names)"
  case $2 in
    passed) ;;
    INCOMPLETE) incomplete+=("$1: $3") ;;
    *) failed+=("$1") ;;
  esac
}

# ------------------------------------------------------------------- build
configure_and_build() {
  begin build
  local args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch"
    -DTP_WITH_CUDA=ON -DTP_WITH_NCCL=ON -DTP_WITH_MPI=ON
    -DTP_NCCL_INCLUDE_DIR="$(dirname "$nccl_h")" -DTP_NCCL_LIBRARY="$nccl_so")
  if ! cmake "${args[@]}" >"$build/logs/configure.log" 2>&1; then
    tail -n 40 "$build/logs/configure.log" | tee "$results/build-errors.txt"
    finish build FAILED "configure failed: build-errors.txt"
    return 1
  fi
  grep "tensorpool:" "$build/logs/configure.log"
  if ! cmake --build "$build" -j "$jobs" >"$build/logs/build.log" 2>&1; then
    grep -B2 -A12 -m 5 -E "error|Error" "$build/logs/build.log" | head -n 80 |
      tee "$results/build-errors.txt"
    finish build FAILED "compile failed: build-errors.txt"
    return 1
  fi
  rm -f "$results/build-errors.txt"
  # Linkage of every program that uses CUDA: one libcudart, the shared one,
  # found through the program's RUNPATH even with the toolkit's folder off
  # LD_LIBRARY_PATH; no static CUDA runtime inside.
  local lib_real bad=0 p ld_clean dirs d
  lib_real=$(realpath "$cuda_root/lib64" 2>/dev/null || realpath "$cuda_root/lib")
  IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
  ld_clean=
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ "$(realpath -m "$d")" != "$lib_real" ] && ld_clean+=${ld_clean:+:}$d
  done
  {
    echo "# Linkage of the programs that use CUDA"
    echo
    echo "| program | libcudart (toolkit folder off LD_LIBRARY_PATH) | RUNPATH has the toolkit | static runtime symbols | ok |"
    echo "|---|---|---|---:|---|"
    for p in "$build"/tests/device_test_* "$build"/tests/mpi_test_nccl_conversions \
      "$build"/bench/bench_device; do
      [ -x "$p" ] || continue
      local rt runpath static ok=yes in_runpath=no
      rt=$(LD_LIBRARY_PATH=$ld_clean ldd "$p" | awk '/libcudart/ {print $1 " => " $3}')
      runpath=$(readelf -d "$p" | awk -F'[][]' '/RUNPATH|RPATH/ {print $2}')
      static=$(nm "$p" 2>/dev/null | grep -cE ' [TtW] (cudaMalloc|cudaLaunchKernel|cudaGetDeviceCount)$')
      IFS=: read -r -a dirs <<<"$runpath"
      for d in "${dirs[@]}"; do
        [ "$(realpath -m "$d")" = "$lib_real" ] && in_runpath="yes ($d)"
      done
      [ "$(grep -c . <<<"$rt")" = 1 ] && [[ $rt != *"not found"* ]] || ok=no
      [ "$static" = 0 ] && [ "$in_runpath" != no ] || ok=no
      [ $ok = yes ] || bad=1
      echo "| ${p#"$build"/} | ${rt:-none} | $in_runpath | $static | $ok |"
    done
  } >"$results/linkage.md"
  if [ $bad = 1 ]; then
    cat "$results/linkage.md"
    finish build FAILED "linkage: see linkage.md"
    return 1
  fi
  finish build passed "CUDA arch $arch; linkage.md"
}

ensure_build() {
  if [ -f "$build/CMakeCache.txt" ] && compgen -G "$build/tests/device_test_*" >/dev/null; then
    # Resume: an up-to-date build is a no-op; edited sources are rebuilt.
    cmake --build "$build" -j "$jobs" >"$build/logs/build-resume.log" 2>&1 && return 0
    tail -n 40 "$build/logs/build-resume.log"
  fi
  say "no usable build in $build: building first"
  configure_and_build
}

# -------------------------------------------------------------------- tests
# run_ctest <step> <title> <ctest args...>
run_ctest() {
  local step=$1 title=$2 rc note
  shift 2
  begin "$step"
  local junit=$build/logs/$step.junit.xml
  CRITERION_VERBOSITY_LEVEL=1 ctest --test-dir "$build" -j "$jobs" --timeout 600 \
    --output-on-failure --test-output-size-passed 1000000 \
    --test-output-size-failed 1000000 --output-junit "$junit" "$@" \
    >"$build/logs/$step.log" 2>&1
  rc=$?
  grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|\(Skipped\)|Not Run|Exception" \
    "$build/logs/$step.log" | sed 's/^/   /'
  if command -v python3 >/dev/null && [ -f "$junit" ]; then
    note=$(python3 "$root/scripts/gpu_check_tests.py" "$junit" \
      "$results/tests-$step.md" "$title" "$gpu_count" | sed 's/^[^:]*: //')
  else
    grep -E "Test +#" "$build/logs/$step.log" >"$results/tests-$step.txt"
    note=$(grep -E "tests passed" "$build/logs/$step.log")
  fi
  if [ $rc -eq 0 ]; then
    finish "$step" passed "$note; tests-$step.md"
  else
    finish "$step" FAILED "$note; tests-$step.md"
  fi
}

# --------------------------------------------------------------- sanitizers
# merge_section <file> <name> <piece>: <file>'s section "### <name>: ..." is
# replaced by <piece> (appended when new); the other sections stay.
merge_section() {
  local file=$1 name=$2 piece=$3
  awk -v name="$name" '/^### / {n = $2; sub(/:$/, "", n); keep = (n != name)}
    !/^### / && !started {print; next}
    {started = 1; if (keep) print}' "$file" >"$file.new"
  cat "$piece" >>"$file.new"
  mv "$file.new" "$file"
}

sanitize() { # sanitize <tool>
  local tool=$1 p name log rc secs0 secs errors synthesis result left limit
  local summary=$results/sanitize-$tool.md piece=$build/logs/sanitize-piece.md
  begin "$tool"
  local programs=()
  for p in "$build"/tests/device_test_* "$build"/tests/mpi_test_nccl_conversions; do
    [ -x "$p" ] || continue
    name=$(basename "$p")
    if [ ${#targets[@]} -gt 0 ] && [[ " ${targets[*]} " != *" $name "* ]]; then
      continue
    fi
    programs+=("$p")
  done
  if [ ! -f "$summary" ]; then
    {
      echo "# compute-sanitizer --tool $tool"
      echo
      echo "Each program under \`compute-sanitizer --tool $tool --target-processes"
      echo "all\` with TP_TEST_REQUIRE_DEVICE=1: its error summaries and first"
      echo "errors (full logs stay in the build folder's logs/)."
      echo
    } >"$summary"
  fi
  local step_failed=0 ran=() skipped=()
  for p in "${programs[@]}"; do
    name=$(basename "$p")
    [[ $name == mpi_* ]] && name=$name.np1
    log=$build/logs/$tool-$name.log
    secs0=$(date +%s)
    # The step stays within its budget: a program that would start too late
    # is left for a later call that names it.
    left=$((step_budget - (secs0 - step_start)))
    if [ $left -lt 60 ]; then
      skipped+=("${name%.np1}")
      printf '### %s: not run (the step used its %ss), 0 errors, 0s\n\n' \
        "$name" "$step_budget" >"$piece"
      merge_section "$summary" "$name" "$piece"
      echo "   $name: not run, the step's ${step_budget}s are spent"
      continue
    fi
    limit=$((left < sanitize_timeout ? left : sanitize_timeout))
    local cmd=("$sanitizer" --tool "$tool" --error-exitcode 99 --print-limit 20
      --target-processes all)
    if [[ $name == *.np1 ]]; then
      # One rank: NCCL on this GPU, bootstrapped over MPI.
      cmd=("$mpiexec" -n 1 --oversubscribe --allow-run-as-root "${cmd[@]}" "$p")
    else
      cmd+=("$p" --jobs 1)
    fi
    TP_TEST_REQUIRE_DEVICE=1 CRITERION_VERBOSITY_LEVEL=0 OMPI_ALLOW_RUN_AS_ROOT=1 \
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      timeout --kill-after=15 "$limit" "${cmd[@]}" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - secs0))
    errors=$(awk '/ERROR SUMMARY: [0-9]+ error/ {
      for (i = 1; i <= NF; i++) if ($i == "SUMMARY:") n += $(i + 1) } END {print n + 0}' "$log")
    synthesis=$(grep -o "Synthesis: .*" "$log" | tail -n 1)
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
      result="TIMEOUT after ${limit}s"
    elif [ $rc -eq 0 ] && [ "$errors" = 0 ]; then
      result=passed
    else
      result="FAILED (exit $rc)"
    fi
    [ "$result" = passed ] || step_failed=1
    echo "   $name: $result, $errors errors, ${secs}s ${synthesis:+($synthesis)}"
    {
      echo "### $name: $result, $errors errors, ${secs}s"
      echo
      echo '```'
      echo "${cmd[*]/#$root\//}"
      [ -n "$synthesis" ] && echo "$synthesis"
      grep -E "(ERROR|RACECHECK|SYNCCHECK) SUMMARY" "$log" | sort | uniq -c | head -n 10
      # The first errors (compute-sanitizer's lines start with =========).
      grep -E '^========= ' "$log" | grep -vE 'COMPUTE-SANITIZER|SUMMARY' |
        head -n 40 | cut -c1-200
      if [ "$result" != passed ] && [ "$errors" = 0 ]; then
        grep -vE '^=========' "$log" | tail -n 15 | cut -c1-200
      fi
      echo '```'
      echo
    } >"$piece"
    # Written at once: a call killed later still leaves this result.
    merge_section "$summary" "$name" "$piece"
    ran+=("$name")
  done
  # The step's result covers every program in the file, earlier calls' too.
  local total bad
  total=$(grep -c '^### ' "$summary")
  bad=$(grep '^### ' "$summary" | grep -vc ': passed, ')
  local note="$total programs, $bad not passed (this call ran: ${ran[*]:-none}); sanitize-$tool.md"
  if [ ${#programs[@]} -eq 0 ]; then
    finish "$tool" FAILED "no device test program in $build"
  elif [ ${#skipped[@]} -gt 0 ] && [ $step_failed = 0 ]; then
    finish "$tool" INCOMPLETE "$note; next: scripts/gpu_check.sh $tool ${skipped[*]}"
  elif [ "$bad" = 0 ] && [ $step_failed = 0 ]; then
    finish "$tool" passed "$note"
  else
    finish "$tool" FAILED "$note"
  fi
}

# ---------------------------------------------------------------- SUMMARY.md
write_summary() {
  local s=$results/SUMMARY.md verdict
  local ran_steps=() s0 row
  mapfile -t ran_steps < <(cut -f1 "$results/steps.tsv")
  local not_run=()
  for s0 in "${order[@]}"; do
    [[ " ${ran_steps[*]} " == *" $s0 "* ]] || not_run+=("$s0")
  done
  if grep -qP '\tFAILED' "$results/steps.tsv"; then
    verdict="FAILED: $(awk -F'\t' '$2 != "passed" {printf "%s%s", sep, $1; sep = " "}' "$results/steps.tsv")"
  elif grep -qP '\tINCOMPLETE' "$results/steps.tsv"; then
    verdict="INCOMPLETE: $(awk -F'\t' '$2 == "INCOMPLETE" {printf "%s%s", sep, $4; sep = "; "}' "$results/steps.tsv")"
  elif [ "$gpu_count" = 0 ]; then
    verdict="STOPPED: no GPU (the steps that need none passed)"
  elif [ ${#not_run[@]} -gt 0 ]; then
    verdict="INCOMPLETE: not run yet: ${not_run[*]}"
  else
    verdict="PASSED: every step"
  fi
  {
    echo "# GPU check: ${gpu_name:-no GPU}, $(date -u +%Y-%m-%d)"
    echo
    echo "**$verdict**"
    echo
    echo "Produced by \`scripts/gpu_check.sh\` (procedure: docs/device.md, \"Running"
    echo "the GPU check\"). Machine, toolkit and library versions: machine.txt."
    echo
    grep -E '^(gpus|compute cap|driver|CUDA arch|nvcc|NCCL|MPI|git commit|sources)' \
      "$results/machine.txt" | sed 's/^/    /'
    echo
    echo "| step | result | seconds | details |"
    echo "|---|---|---:|---|"
    for s0 in "${order[@]}"; do
      row=$(awk -F'\t' -v s="$s0" '$1 == s {print "| " $1 " | " $2 " | " $3 " | " $4 " |"}' \
        "$results/steps.tsv")
      echo "${row:-| $s0 | not run | | |}"
    done
    echo
    echo "- build: CMake configure and build for the arch above; linkage.md"
    echo "  checks that each CUDA program loads one shared libcudart through its"
    echo "  RUNPATH and holds no static CUDA runtime."
    echo "- host: \`ctest -LE gpu\`; device: \`ctest -L gpu\` with"
    echo "  TP_TEST_REQUIRE_DEVICE=1, so a device test that finds no GPU fails"
    echo "  instead of skipping; tests-<step>.md list every test and every"
    echo "  Criterion test of the device programs. \"not runnable\": NCCL with"
    echo "  more ranks than GPUs (it needs one GPU per rank)."
    echo "- memcheck, racecheck, synccheck: compute-sanitizer on each device test"
    echo "  program and on the NCCL test at one rank; sanitize-<tool>.md hold the"
    echo "  error summaries and the first errors."
  } >"$s"
}

# --------------------------------------------------------------------- run
say "results in ${results#"$root"/}; build in ${build#"$root"/}; steps: ${steps[*]:-report}"
grep -E '^(gpus|compute cap|driver|CUDA arch|NCCL|MPI|sanitizer|note)' "$results/machine.txt" |
  sed 's/^/   /'

stopped_no_gpu=0
if [ $only_report = 0 ]; then
  for s in "${steps[@]}"; do
    if [ "$s" != build ] && [ "$s" != host ] && [ "$gpu_count" = 0 ]; then
      stopped_no_gpu=1
      break
    fi
    case $s in
      build) configure_and_build || break ;;
      host) ensure_build || break; run_ctest host "Tests that need no GPU" -LE gpu ;;
      device)
        ensure_build || break
        export TP_TEST_REQUIRE_DEVICE=1
        run_ctest device "Tests that need a GPU" -L gpu
        unset TP_TEST_REQUIRE_DEVICE ;;
      *check) ensure_build || break; sanitize "$s" ;;
    esac
  done
fi
write_summary
echo "gpu_check: total $(($(date +%s) - started))s; summary in ${results#"$root"/}/SUMMARY.md"

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
if [ ${#incomplete[@]} -gt 0 ]; then
  say "INCOMPLETE (the step's time budget was spent):"
  printf '   %s\n' "${incomplete[@]}"
  exit 4
fi
if [ $stopped_no_gpu = 1 ]; then
  ran_here=() not_here=()
  for s in "${steps[@]}"; do
    case $s in build | host) ran_here+=("$s") ;; *) not_here+=("$s") ;; esac
  done
  say "stopped: no GPU.${ran_here[*]:+ Passed: ${ran_here[*]}.} Not run: ${not_here[*]}"
  printf '   %s\n' "${no_gpu_note[@]}"
  exit 3
fi
say "passed: ${steps[*]:-report}"
exit 0
