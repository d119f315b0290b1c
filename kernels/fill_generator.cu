/* Index-based fill: each thread turns a local linear index into the global
 * multi-index and linear index and calls the host's per-element generator
 * function, so both sides give the same bits. */
#include "fill_generator.h"
#include "launch_grid.h"
#include "tensor/generator_math.h"

namespace {

template <tp_dtype D>
__global__ void fill_generator_kernel(unsigned char *dst, size_t count,
                                      size_t element_size, tp_generator gen,
                                      tp_fill_geometry g) {
  size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t local = tid; local < count; local += stride) {
    int64_t index[TP_MAX_NDIM];
    uint64_t rest = local, linear = 0;
    for (int k = g.ndim - 1; k >= 0; --k) {
      uint64_t extent = (uint64_t)g.extents[k];
      index[k] = g.offsets[k] + (int64_t)(rest % extent);
      rest /= extent;
      linear += (uint64_t)index[k] * (uint64_t)g.strides[k];
    }
    tp_gen_store(&gen, D, linear, index, g.ndim, dst + local * element_size);
  }
}

template <tp_dtype D>
cudaError_t launch(void *dst, size_t count, size_t element_size,
                   const tp_generator *gen, const tp_fill_geometry *g,
                   cudaStream_t stream) {
  unsigned blocks = 1;
  cudaError_t err = tp_fill_blocks(count, &blocks);
  if (err != cudaSuccess)
    return err;
  fill_generator_kernel<D><<<blocks, TP_FILL_THREADS, 0, stream>>>(
      static_cast<unsigned char *>(dst), count, element_size, *gen, *g);
  return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t tp_kernel_fill_generator(
    void *dst, size_t count, tp_dtype dtype, const tp_generator *gen,
    const tp_fill_geometry *geometry, cudaStream_t stream) {
  if (count == 0)
    return cudaSuccess;
  switch (dtype) {
  case TP_DTYPE_F32:
    return launch<TP_DTYPE_F32>(dst, count, 4, gen, geometry, stream);
  case TP_DTYPE_F64:
    return launch<TP_DTYPE_F64>(dst, count, 8, gen, geometry, stream);
  case TP_DTYPE_C64:
    return launch<TP_DTYPE_C64>(dst, count, 8, gen, geometry, stream);
  case TP_DTYPE_C128:
    return launch<TP_DTYPE_C128>(dst, count, 16, gen, geometry, stream);
  case TP_DTYPE_I32:
    return launch<TP_DTYPE_I32>(dst, count, 4, gen, geometry, stream);
  case TP_DTYPE_I64:
    return launch<TP_DTYPE_I64>(dst, count, 8, gen, geometry, stream);
  case TP_DTYPE_F16:
    return launch<TP_DTYPE_F16>(dst, count, 2, gen, geometry, stream);
  case TP_DTYPE_BF16:
    return launch<TP_DTYPE_BF16>(dst, count, 2, gen, geometry, stream);
  case TP_DTYPE_I8:
    return launch<TP_DTYPE_I8>(dst, count, 1, gen, geometry, stream);
  case TP_DTYPE_U8:
    return launch<TP_DTYPE_U8>(dst, count, 1, gen, geometry, stream);
  case TP_DTYPE_BOOL:
    return launch<TP_DTYPE_BOOL>(dst, count, 1, gen, geometry, stream);
  }
  return cudaErrorInvalidValue;
}
