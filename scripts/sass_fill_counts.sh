#!/usr/bin/env bash
# Instructions per element of the fill kernels, from the compiled code:
# for each kernel, the loops of its SASS (a backward branch and its target)
# and the instructions between them. The per-element loops of the fill
# kernels are straight-line code (the carries are predicated), so the body
# of a loop is what one element costs. docs/device.md ("Fill kernels")
# shows the result.
#
# Usage: scripts/sass_fill_counts.sh [BUILD_DIR]   (default: build)
# Needs cuobjdump and nvdisasm (CUDA toolkit; the pip wheels
# nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm carry them too).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
command -v cuobjdump >/dev/null || {
  echo "sass_fill_counts: cuobjdump not found (add the toolkit's bin to PATH)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The loops of each function whose name matches a pattern.
cat >"$work/loops.py" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
label = sys.argv[2]
patterns = sys.argv[3:]
for f in re.split(r'\n\s*Function : ', text)[1:]:
    name = f.split('\n', 1)[0].strip()
    hit = [p for p in patterns if re.search(p.rsplit('=', 1)[1], name)]
    if not hit:
        continue
    ins = [(int(m.group(1), 16), m.group(2).strip())
           for m in re.finditer(r'/\*([0-9a-f]{4,})\*/\s+([^;]*);', f)
           if not m.group(2).strip().startswith('NOP')]
    bodies = []
    for a, t in ins:
        m = re.search(r'BRA 0x([0-9a-f]+)', t)
        if m and int(m.group(1), 16) < a:
            s = int(m.group(1), 16)
            body = [x for b, x in ins if s <= b <= a]
            local = sum(1 for x in body if re.search(r'\b(LDL|STL)\b', x))
            bodies.append('%d%s' % (len(body), ' (local memory!)' if local else ''))
    print('%-12s %-34s total %5d, loops: %s' %
          (label, hit[0].rsplit('=', 1)[0], len(ins), ', '.join(bodies)))
EOF

obj() { find "$build" -name "$1.cu.o" | head -n 1; }
cuobjdump -sass "$(obj fill_constant)" >"$work/constant.sass"
cuobjdump -sass "$(obj fill_generator)" >"$work/generator.sass"
python3 "$work/loops.py" "$work/constant.sass" constant \
  'u8=fill_constant_kernelIhE' 'u16=fill_constant_kernelItE' \
  'f32/i32=fill_constant_kernelIjE' 'f64/i64/c64=fill_constant_kernelIyE' \
  'c128=fill_constant_kernelIN'
# tp_dtype 0 = f32, 1 = f64, 6 = f16; kinds 0 arange, 1 affine, 2 identity,
# 3 uniform, 4 normal; j = 32-bit indices, m = 64-bit.
python3 "$work/loops.py" "$work/generator.sass" generator \
  'f32 arange (32-bit)=tp_dtype0EL17tp_generator_kind0EjE' \
  'f32 arange (64-bit)=tp_dtype0EL17tp_generator_kind0EmE' \
  'f32 affine (32-bit)=tp_dtype0EL17tp_generator_kind1EjE' \
  'f32 identity (32-bit)=tp_dtype0EL17tp_generator_kind2EjE' \
  'f32 uniform (32-bit)=tp_dtype0EL17tp_generator_kind3EjE' \
  'f32 normal (32-bit)=tp_dtype0EL17tp_generator_kind4EjE' \
  'f64 uniform (32-bit)=tp_dtype1EL17tp_generator_kind3EjE' \
  'f16 arange (32-bit)=tp_dtype6EL17tp_generator_kind0EjE'

# Expression kernels: the library's own generated source, compiled by
# NVRTC with the library's options, for a few expressions.
cat >"$work/expr.c" <<'EOF'
#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include "device/expression_kernel.h"
int main(int argc, char **argv) {
  tp_expression *e = NULL;
  char *src = NULL;
  if (tp_expression_parse(argv[1], atoi(argv[2]), &e) ||
      tp_expression_cuda_source(e, (tp_dtype)atoi(argv[3]), &src))
    return 1;
  nvrtcProgram p;
  const char *opts[] = {"--gpu-architecture=sm_90", "--fmad=false",
                        "--std=c++17", "--diag-suppress=177"};
  size_t n = 0;
  if (nvrtcCreateProgram(&p, src, "e.cu", 0, NULL, NULL) ||
      nvrtcCompileProgram(p, 4, opts) || nvrtcGetCUBINSize(p, &n))
    return 1;
  char *cubin = malloc(n);
  nvrtcGetCUBIN(p, cubin);
  fwrite(cubin, 1, n, stdout);
  return 0;
}
EOF
cc -std=c11 -I src -I include -I kernels -I /usr/local/cuda/include \
  "$work/expr.c" "$build/src/libtensorpool.a" -L /usr/local/cuda/lib64 \
  -lnvrtc -lcudart -lm -lpthread -Wl,-rpath,/usr/local/cuda/lib64 \
  -o "$work/expr"
while IFS='|' read -r text ndim dtype; do
  "$work/expr" "$text" "$ndim" "$dtype" >"$work/e.cubin"
  cuobjdump -sass "$work/e.cubin" >"$work/e.sass"
  python3 "$work/loops.py" "$work/e.sass" expression \
    "$text (ndim $ndim, 32-bit)=tp_expression_fill32"
done <<'EOF'
i0 * 3 + i1|2|0
i0 == i1 ? 1 : 0|2|0
sin(0.1 * i0) + i1|2|1
EOF
