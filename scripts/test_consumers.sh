#!/usr/bin/env bash
# Uses tensorpool as its users do: installs a build into a fresh temporary
# prefix, then builds and runs the pure C projects of tests/consumer/ against
# it, with the C compiler only:
#   find_package   tests/consumer/find_package (shared and static targets)
#   pkg-config     tests/consumer/pkg_config   (shared, and static with
#                                               pkg-config --static)
#   add_subdirectory  tests/consumer/add_subdirectory (tensorpool's sources
#                  inside the user's build), only with --subdirectory
#
#   scripts/test_consumers.sh <build dir> [--subdirectory "<cmake -D args>"]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$1
shift
subdirectory_args=""
run_subdirectory=0
if [ "${1:-}" = "--subdirectory" ]; then
  run_subdirectory=1
  subdirectory_args=${2:-}
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tensorpool-consumers.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# step <name> <log> <command...>: runs quietly, shows the log on failure.
step() {
  local name=$1 log=$2
  shift 2
  if ! "$@" >"$log" 2>&1; then
    echo "test_consumers: $name failed:"
    tail -n 40 "$log"
    return 1
  fi
}

echo "== consumers of $build: install into a temporary prefix"
step "cmake --install" "$work/install.log" \
  cmake --install "$build" --prefix "$prefix"
pc=$(find "$prefix" -name tensorpool.pc | head -n 1)
for f in include/tensorpool/tensorpool.h include/tensorpool/config.h \
         include/tensorpool/dlpack.h; do
  [ -e "$prefix/$f" ] || { echo "test_consumers: $f not installed"; exit 1; }
done
[ -n "$pc" ] || { echo "test_consumers: tensorpool.pc not installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
[ -e "$libdir/cmake/tensorpool/tensorpoolConfig.cmake" ] ||
  { echo "test_consumers: tensorpoolConfig.cmake not installed"; exit 1; }
soname=$(readelf -d "$libdir/libtensorpool.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
echo "   installed: $(cd "$prefix" && find . -type f | wc -l) files, SONAME $soname"
[[ "$soname" == libtensorpool.so.* ]] ||
  { echo "test_consumers: the shared library has no versioned SONAME"; exit 1; }

echo "== consumer: find_package(tensorpool)"
step "configure" "$work/fp.log" cmake -S tests/consumer/find_package \
  -B "$work/find_package" -DCMAKE_PREFIX_PATH="$prefix"
step "build" "$work/fp.log" cmake --build "$work/find_package"
"$work/find_package/app"
"$work/find_package/app_static"

echo "== consumer: pkg-config"
mkdir -p "$work/pkg_config"
step "make" "$work/pc.log" env PKG_CONFIG_PATH="$(dirname "$pc")" \
  make -C tests/consumer/pkg_config OUT="$work/pkg_config"
"$work/pkg_config/app"
"$work/pkg_config/app_static"

if [ "$run_subdirectory" = 1 ]; then
  echo "== consumer: add_subdirectory ($subdirectory_args)"
  # shellcheck disable=SC2086 # the arguments are words on purpose
  step "configure" "$work/as.log" cmake -S tests/consumer/add_subdirectory \
    -B "$work/add_subdirectory" -DTENSORPOOL_SOURCE_DIR="$root" \
    $subdirectory_args
  step "build" "$work/as.log" cmake --build "$work/add_subdirectory" \
    -j "$(nproc)"
  "$work/add_subdirectory/app"
  "$work/add_subdirectory/app_static"
fi
echo "== consumers of $build: passed"
