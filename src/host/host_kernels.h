/* Internal: the host backend's loops (the CPU counterparts of the CUDA
 * fill and axpby kernels), with the contracts of src/runtime/backend.h. */
#ifndef TP_HOST_HOST_KERNELS_H
#define TP_HOST_HOST_KERNELS_H

#include <stddef.h>

#include "runtime/backend.h"

tp_status tp_host_fill_constant(tp_backend *backend, void *dst, size_t count,
                                tp_dtype dtype, const void *value,
                                tp_stream stream);
tp_status tp_host_fill_generator(tp_backend *backend, void *dst,
                                 const tp_layout *layout, const tp_tile *tile,
                                 const tp_generator *generator,
                                 tp_stream stream);
struct tp_expression;
tp_status tp_host_fill_expression(tp_backend *backend, void *dst,
                                  const tp_layout *layout, const tp_tile *tile,
                                  const struct tp_expression *expression,
                                  tp_stream stream);
tp_status tp_host_axpby(tp_backend *backend, tp_dtype dtype, size_t count,
                        const void *alpha, const void *x, const void *beta,
                        const void *y, void *out, tp_stream stream);

#endif
