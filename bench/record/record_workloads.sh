#!/usr/bin/env bash
# Records every workload in bench/record/workloads/ with record.sh, each as
# OUTDIR/NAME.csv (default OUTDIR: bench/record/traces), leaving out
# requests below MIN_BYTES (default 256: CPython's own small objects).
#
#   bench/record/record_workloads.sh [-m MIN_BYTES] [OUTDIR]
#
# Then: build-bench/bench/tp_replay --out F.jsonl OUTDIR/*.csv
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
min=256
while getopts "m:" opt; do
  case $opt in
  m) min=$OPTARG ;;
  *) echo "usage: $0 [-m MIN_BYTES] [OUTDIR]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
out=${1:-$here/traces}
mkdir -p "$out"
for workload in "$here"/workloads/*.py; do
  name=$(basename "$workload" .py)
  echo "== $name"
  "$here/record.sh" -m "$min" "$out/$name.csv" python3 "$workload"
done
