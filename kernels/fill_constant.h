/* Launcher of the constant-fill kernel (CUDA C behind a C interface). */
#ifndef TP_KERNELS_FILL_CONSTANT_H
#define TP_KERNELS_FILL_CONSTANT_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Queues on `stream` (of the current device) the fill of `count` elements
 * of `element_size` bytes (1, 2, 4, 8 or 16) at `dst` with the bytes at
 * `value`. Every element type is a bit pattern of one of these sizes, so one
 * kernel per size serves i8/u8/bool, f16/bf16, f32/i32, f64/i64/c64 and
 * c128 bit for bit. `dst` must be
 * aligned to min(element_size, 8). The grid is sized from the device's
 * multiprocessor count; the threads stride over the tile. */
cudaError_t tp_kernel_fill_constant(void *dst, size_t count,
                                    size_t element_size, const void *value,
                                    cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
