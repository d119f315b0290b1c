#!/usr/bin/env bash
# Installs the Debian packages the build, tests and benchmarks need, when they
# are missing and we are root, and NumPy (2.1 or later: DLPack 1.x) for the
# python3 on PATH, which the DLPack test drives. Idempotent; prints what it
# does.
set -euo pipefail

if ! python3 -c 'import sys, numpy
sys.exit(tuple(int(x) for x in numpy.__version__.split(".")[:2]) < (2, 1))' \
    2>/dev/null; then
  echo "setup: installing NumPy (>= 2.1) with pip for $(command -v python3)"
  python3 -m pip install --quiet "numpy>=2.1" 2>/dev/null ||
    python3 -m pip install --quiet --user "numpy>=2.1" ||
    echo "setup: NumPy could not be installed: the DLPack test will skip" >&2
fi

# liblapacke-dev: examples/lapacke_lu_solve.c (the host LU solve).
packages=(cmake gcc make pkg-config libcriterion-dev libopenmpi-dev
          openmpi-bin libjemalloc-dev libmimalloc-dev gnuplot-nox
          liblapacke-dev)
packages+=(clang) # libFuzzer for scripts/fuzz.sh and the fuzzing step
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]} (run as root to install)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
