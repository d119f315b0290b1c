#!/usr/bin/env bash
# Runs a command with the C library allocator's calls logged as a tensorpool
# event log (bench/record/record_hooks.c), for tp_replay:
#
#   bench/record/record.sh [-m MIN_BYTES] [-l LIBRARY] LOG.csv COMMAND [ARGS...]
#
# -m: leave out requests below MIN_BYTES (and their frees); 0, the default,
#     logs every request.
# -l: the recorder library (default: build-bench/bench/libtp_record.so, as
#     scripts/bench.sh builds it; TP_RECORD_LIB also names it).
# Only the command's own process is recorded: programs it starts inherit
# the preload but do not write (TP_RECORD_PID names the process).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
lib=${TP_RECORD_LIB:-$root/build-bench/bench/libtp_record.so}
min=0
while getopts "m:l:" opt; do
  case $opt in
  m) min=$OPTARG ;;
  l) lib=$OPTARG ;;
  *) echo "usage: $0 [-m MIN_BYTES] [-l LIBRARY] LOG.csv COMMAND [ARGS...]" >&2
     exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then
  echo "usage: $0 [-m MIN_BYTES] [-l LIBRARY] LOG.csv COMMAND [ARGS...]" >&2
  exit 2
fi
if [ ! -f "$lib" ]; then
  echo "record.sh: no recorder at $lib (build the bench: scripts/bench.sh," \
    "or cmake --build build-bench --target tp_record)" >&2
  exit 2
fi
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
log=$1
shift
case $log in /*) ;; *) log=$PWD/$log ;; esac

# exec keeps this shell's pid, so TP_RECORD_PID names the command.
export TP_RECORD_LOG=$log TP_RECORD_MIN_SIZE=$min TP_RECORD_PID=$$
export LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD}
exec "$@"
