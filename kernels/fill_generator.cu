/* Index-based fill: one kernel per (element type, generator kind, index
 * width), each element computed by the host's per-element functions
 * (src/tensor/generator_math.h) so both sides give the same bits.
 *
 * No division per element (kernels/fill_walk.h): the kinds that need only
 * the linear index (arange, uniform, normal) take first + local on a
 * contiguous tile; the others walk the multi-index by the grid stride with
 * carries. Index width: 32-bit arithmetic when every index, count and
 * linear index of the tensor fits 31 bits (the common case), 64-bit
 * otherwise. The axis loops run to TP_MAX_NDIM with a test and are
 * unrolled, so the multi-index lives in registers. */
#include "fill_generator.h"
#include "fill_walk.h"
#include "launch_grid.h"
#include "tensor/generator_math.h"

namespace {

__host__ __device__ constexpr bool needs_linear(tp_generator_kind k) {
  return k == TP_GENERATOR_ARANGE || k == TP_GENERATOR_UNIFORM ||
         k == TP_GENERATOR_NORMAL;
}

/* Element `i` of `dst` gets the value at (linear, index): through a typed
 * pointer, so that the store is one instruction of the element's width
 * (the destination is aligned: src/device/device_fill.c checks it). */
template <tp_dtype D, typename I>
__device__ __forceinline__ void store(const tp_generator *g, void *dst, I i,
                                      uint64_t linear, const int64_t *index,
                                      int ndim) {
  if constexpr (D == TP_DTYPE_F32) {
    static_cast<float *>(dst)[i] = tp_gen_value_f32(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_F64) {
    static_cast<double *>(dst)[i] = tp_gen_value_f64(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_C64) {
    float v[2];
    tp_gen_value_c64(g, linear, index, ndim, v);
    static_cast<float2 *>(dst)[i] = make_float2(v[0], v[1]);
  } else if constexpr (D == TP_DTYPE_C128) {
    double v[2];
    tp_gen_value_c128(g, linear, index, ndim, v);
    static_cast<double *>(dst)[2 * (size_t)i] = v[0];
    static_cast<double *>(dst)[2 * (size_t)i + 1] = v[1];
  } else if constexpr (D == TP_DTYPE_I32) {
    static_cast<int32_t *>(dst)[i] = tp_gen_value_i32(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_I64) {
    static_cast<int64_t *>(dst)[i] = tp_gen_value_i64(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_F16) {
    static_cast<uint16_t *>(dst)[i] = tp_gen_value_f16(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_BF16) {
    static_cast<uint16_t *>(dst)[i] = tp_gen_value_bf16(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_I8) {
    static_cast<int8_t *>(dst)[i] = tp_gen_value_i8(g, linear, index, ndim);
  } else if constexpr (D == TP_DTYPE_U8) {
    static_cast<uint8_t *>(dst)[i] = tp_gen_value_u8(g, linear, index, ndim);
  } else {
    static_cast<uint8_t *>(dst)[i] = tp_gen_value_bool(g, linear, index, ndim);
  }
}

/* Walks the tile from element `local` by the grid stride with carries
 * (kernels/fill_walk.h). N is the number of axes when known at compile
 * time (the loops then unroll to exactly N axes), or -1 for w.ndim. */
template <tp_dtype D, tp_generator_kind K, typename I, int N>
__device__ __forceinline__ void walk(const tp_generator *g, void *dst,
                                     const tp_fill_walk &w, I local) {
  constexpr int kAxes = N < 0 ? TP_MAX_NDIM : N;
  const int ndim = N < 0 ? w.ndim : N;
  const I count = (I)w.count, threads = (I)w.threads;
  /* The thread's first element as a multi-index: one division per axis,
   * once per thread. */
  I idx[TP_MAX_NDIM], rest = local, linear = 0;
#pragma unroll
  for (int k = kAxes - 1; k >= 1; --k)
    if (k < ndim) {
      I e = (I)w.extent[k];
      idx[k] = (I)w.begin[k] + rest % e;
      rest /= e;
    }
  if (ndim > 0)
    idx[0] = (I)w.begin[0] + rest;
  if (needs_linear(K)) {
#pragma unroll
    for (int k = 0; k < kAxes; ++k)
      if (k < ndim)
        linear += idx[k] * (I)w.strides[k];
  }
  for (;;) {
    int64_t index[TP_MAX_NDIM];
#pragma unroll
    for (int k = 0; k < TP_MAX_NDIM; ++k)
      index[k] = k < kAxes && k < ndim ? (int64_t)idx[k] : 0;
    store<D>(g, dst, local, (uint64_t)linear, index, ndim);
    local += threads;
    if (local >= count)
      break;
    /* Add the stride, axis by axis from the last, with a carry. */
    I carry = 0;
#pragma unroll
    for (int k = kAxes - 1; k >= 1; --k)
      if (k < ndim) {
        idx[k] += (I)w.step[k] + carry;
        carry = idx[k] >= (I)w.end[k];
        if (carry) {
          idx[k] -= (I)w.extent[k];
          if (needs_linear(K))
            linear += (I)w.wrap[k];
        }
      }
    if (ndim > 0)
      idx[0] += (I)w.step[0] + carry;
    if (needs_linear(K))
      linear += (I)w.lstep;
  }
}

template <tp_dtype D, tp_generator_kind K, typename I>
__global__ void __launch_bounds__(TP_FILL_THREADS)
    fill_generator_kernel(void *dst, tp_generator gen, tp_fill_walk w) {
  /* A local copy whose kind is a constant: every switch on it folds. */
  tp_generator g = gen;
  g.kind = K;
  const I count = (I)w.count, threads = (I)w.threads;
  I local = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x;
  if (local >= count)
    return;
  if (needs_linear(K)) {
    if (w.contiguous) {
      const uint64_t first = (uint64_t)w.first;
      for (; local < count; local += threads)
        store<D>(&g, dst, local, first + local, nullptr, 0);
    } else {
      walk<D, K, I, -1>(&g, dst, w, local);
    }
    return;
  }
  /* Affine and identity read every index: one loop per rank, so that
   * each element does exactly its axes' work. */
  switch (w.ndim) {
  case 0: walk<D, K, I, 0>(&g, dst, w, local); break;
  case 1: walk<D, K, I, 1>(&g, dst, w, local); break;
  case 2: walk<D, K, I, 2>(&g, dst, w, local); break;
  case 3: walk<D, K, I, 3>(&g, dst, w, local); break;
  case 4: walk<D, K, I, 4>(&g, dst, w, local); break;
  case 5: walk<D, K, I, 5>(&g, dst, w, local); break;
  case 6: walk<D, K, I, 6>(&g, dst, w, local); break;
  case 7: walk<D, K, I, 7>(&g, dst, w, local); break;
  default: walk<D, K, I, 8>(&g, dst, w, local); break;
  }
}

template <tp_dtype D, tp_generator_kind K>
cudaError_t launch_kind(void *dst, size_t count, const tp_generator *gen,
                        const tp_fill_geometry *g, cudaStream_t stream) {
  unsigned blocks = 1;
  cudaError_t err = tp_fill_blocks(count, &blocks);
  if (err != cudaSuccess)
    return err;
  tp_fill_walk w;
  tp_fill_walk_make(g, count, (uint64_t)blocks * TP_FILL_THREADS, &w);
  if (w.narrow)
    fill_generator_kernel<D, K, uint32_t>
        <<<blocks, TP_FILL_THREADS, 0, stream>>>(dst, *gen, w);
  else
    fill_generator_kernel<D, K, uint64_t>
        <<<blocks, TP_FILL_THREADS, 0, stream>>>(dst, *gen, w);
  return cudaGetLastError();
}

/* Normal is refused for integer types (tp_generator_check), so it is not
 * instantiated for them. */
template <tp_dtype D, bool Integer>
cudaError_t launch(void *dst, size_t count, const tp_generator *gen,
                   const tp_fill_geometry *g, cudaStream_t stream) {
  switch (gen->kind) {
  case TP_GENERATOR_ARANGE:
    return launch_kind<D, TP_GENERATOR_ARANGE>(dst, count, gen, g, stream);
  case TP_GENERATOR_AFFINE:
    return launch_kind<D, TP_GENERATOR_AFFINE>(dst, count, gen, g, stream);
  case TP_GENERATOR_IDENTITY:
    return launch_kind<D, TP_GENERATOR_IDENTITY>(dst, count, gen, g, stream);
  case TP_GENERATOR_UNIFORM:
    return launch_kind<D, TP_GENERATOR_UNIFORM>(dst, count, gen, g, stream);
  case TP_GENERATOR_NORMAL:
    if constexpr (!Integer)
      return launch_kind<D, TP_GENERATOR_NORMAL>(dst, count, gen, g, stream);
    break;
  }
  return cudaErrorInvalidValue;
}

} // namespace

extern "C" cudaError_t tp_kernel_fill_generator(
    void *dst, size_t count, tp_dtype dtype, const tp_generator *gen,
    const tp_fill_geometry *geometry, cudaStream_t stream) {
  if (count == 0)
    return cudaSuccess;
  switch (dtype) {
  case TP_DTYPE_F32:
    return launch<TP_DTYPE_F32, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_F64:
    return launch<TP_DTYPE_F64, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_C64:
    return launch<TP_DTYPE_C64, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_C128:
    return launch<TP_DTYPE_C128, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_I32:
    return launch<TP_DTYPE_I32, true>(dst, count, gen, geometry, stream);
  case TP_DTYPE_I64:
    return launch<TP_DTYPE_I64, true>(dst, count, gen, geometry, stream);
  case TP_DTYPE_F16:
    return launch<TP_DTYPE_F16, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_BF16:
    return launch<TP_DTYPE_BF16, false>(dst, count, gen, geometry, stream);
  case TP_DTYPE_I8:
    return launch<TP_DTYPE_I8, true>(dst, count, gen, geometry, stream);
  case TP_DTYPE_U8:
    return launch<TP_DTYPE_U8, true>(dst, count, gen, geometry, stream);
  case TP_DTYPE_BOOL:
    return launch<TP_DTYPE_BOOL, true>(dst, count, gen, geometry, stream);
  }
  return cudaErrorInvalidValue;
}
