// Device helpers of the device suites; see device_kernels.h.
#include "device_kernels.h"

#include <cstdio>
#include <cuda_runtime.h>
#include <exception>
#include <thrust/execution_policy.h>
#include <thrust/fill.h>

namespace {

__global__ void touch_pages(unsigned char *dst, size_t pages, size_t bytes) {
  size_t page = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (page < pages) {
    size_t at = page * 4096;
    dst[at < bytes ? at : bytes - 1] = (unsigned char)page;
  }
}

} // namespace

extern "C" int bench_touch_pages(void *dst, size_t bytes, void *stream) {
  size_t pages = (bytes + 4095) / 4096;
  unsigned threads = 256;
  unsigned blocks = (unsigned)((pages + threads - 1) / threads);
  touch_pages<<<blocks, threads, 0, (cudaStream_t)stream>>>(
      (unsigned char *)dst, pages, bytes);
  return (int)cudaGetLastError();
}

extern "C" int bench_thrust_fill_f32(float *dst, size_t count, float value,
                                     void *stream) {
  try {
    thrust::fill(thrust::cuda::par_nosync.on((cudaStream_t)stream), dst,
                 dst + count, value);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bench: thrust::fill: %s\n", e.what());
    return 1;
  }
  return 0;
}
