#!/usr/bin/env bash
# Installs the Debian packages the build, tests and benchmarks need, when they
# are missing and we are root. Idempotent; prints what it does.
set -euo pipefail

packages=(cmake gcc make pkg-config libcriterion-dev libopenmpi-dev
          openmpi-bin libjemalloc-dev libmimalloc-dev gnuplot-nox)
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
