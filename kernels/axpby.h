/* Launcher of out = alpha x + beta y on the device. */
#ifndef TP_KERNELS_AXPBY_H
#define TP_KERNELS_AXPBY_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#include "tensorpool/layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queues out[i] = alpha * x[i] + beta * y[i], i < count, on `stream` (of the
 * current device). alpha and beta are host pointers to one element, read
 * before returning. The same formulas, in the same order, as the host
 * (src/host/host_axpby.c) with no fused multiply-add: the same bits.
 * Integers wrap modulo 2^bits. out may be x or y. */
cudaError_t tp_kernel_axpby(tp_dtype dtype, size_t count, const void *alpha,
                            const void *x, const void *beta, const void *y,
                            void *out, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
