/* Device helpers of the device suites, compiled by nvcc (device_kernels.cu):
 * the short kernel the multi-stream suite runs between alloc and free, and
 * thrust::fill as a peer of the fill suite. Only built with CUDA. */
#ifndef TP_BENCH_DEVICE_KERNELS_H
#define TP_BENCH_DEVICE_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes one byte per 4 KiB page of `bytes` at `dst` on `stream` (a
 * cudaStream_t): a kernel that touches the block, short on purpose.
 * Returns the cudaError_t of the launch (0 is success). */
int bench_touch_pages(void *dst, size_t bytes, void *stream);

/* thrust::fill of `count` floats at `dst` with `value` on `stream`.
 * Returns 0, or nonzero if thrust threw (the message is printed). */
int bench_thrust_fill_f32(float *dst, size_t count, float value, void *stream);

#ifdef __cplusplus
}
#endif

#endif
