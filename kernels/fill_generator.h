/* Launcher of the index-based (generator) fill kernel. */
#ifndef TP_KERNELS_FILL_GENERATOR_H
#define TP_KERNELS_FILL_GENERATOR_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#include "fill_geometry.h"
#include "tensorpool/generator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queues on `stream` (of the current device) the fill of the `count`
 * elements of a tile placed by `geometry`, stored row-major at `dst`, with
 * the values of `gen` (checked by tp_generator_check) computed by the same
 * per-element functions as the host (src/tensor/generator_math.h). */
cudaError_t tp_kernel_fill_generator(void *dst, size_t count, tp_dtype dtype,
                                     const tp_generator *gen,
                                     const tp_fill_geometry *geometry,
                                     cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
