/* Constant fill: 16-byte stores over the aligned middle of the range and
 * scalar stores for the unaligned head and the tail. */
#include <stdint.h>
#include <string.h>

#include "fill_constant.h"
#include "launch_grid.h"

namespace {

/* A 16-byte element with 8-byte alignment, so that a c128 tile that starts
 * 8 bytes past a 16-byte boundary can still be written element by element. */
struct alignas(8) bytes16 {
  unsigned long long lo, hi;
};

template <typename T>
__global__ void fill_constant_kernel(T *dst, size_t count, T value,
                                     uint4 pattern, size_t head,
                                     size_t vectors) {
  size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  size_t stride = (size_t)gridDim.x * blockDim.x;
  uint4 *middle = reinterpret_cast<uint4 *>(dst + head);
  for (size_t i = tid; i < vectors; i += stride)
    middle[i] = pattern;
  for (size_t i = tid; i < head; i += stride)
    dst[i] = value;
  size_t tail = head + vectors * (16 / sizeof(T));
  for (size_t i = tail + tid; i < count; i += stride)
    dst[i] = value;
}

template <typename T>
cudaError_t launch(void *dst, size_t count, const void *value,
                   cudaStream_t stream) {
  T v;
  memcpy(&v, value, sizeof v);
  uint4 pattern;
  unsigned char *p = reinterpret_cast<unsigned char *>(&pattern);
  for (size_t k = 0; k < 16; k += sizeof v)
    memcpy(p + k, &v, sizeof v);
  /* Elements before the first 16-byte boundary; when the boundary does not
   * fall on an element (a c128 tile 8 bytes off), every store is scalar. */
  uintptr_t misalign = (uintptr_t)dst % 16u;
  size_t head = count, vectors = 0;
  if (misalign % sizeof v == 0) {
    size_t to_boundary = misalign ? (16u - misalign) / sizeof v : 0;
    head = to_boundary < count ? to_boundary : count;
    vectors = (count - head) / (16 / sizeof v);
  }
  size_t scalars = count - vectors * (16 / sizeof v);
  unsigned blocks = 1;
  cudaError_t err =
      tp_fill_blocks(vectors > scalars ? vectors : scalars, &blocks);
  if (err != cudaSuccess)
    return err;
  fill_constant_kernel<T><<<blocks, TP_FILL_THREADS, 0, stream>>>(
      static_cast<T *>(dst), count, v, pattern, head, vectors);
  return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t tp_kernel_fill_constant(void *dst, size_t count,
                                               size_t element_size,
                                               const void *value,
                                               cudaStream_t stream) {
  if (count == 0)
    return cudaSuccess;
  switch (element_size) {
  case 1: return launch<uint8_t>(dst, count, value, stream);
  case 2: return launch<uint16_t>(dst, count, value, stream);
  case 4: return launch<uint32_t>(dst, count, value, stream);
  case 8: return launch<unsigned long long>(dst, count, value, stream);
  case 16: return launch<bytes16>(dst, count, value, stream);
  default: return cudaErrorInvalidValue;
  }
}
