/* Internal: the device and pinned backends (src/runtime/backend.h). */
#ifndef TP_DEVICE_CUDA_BACKEND_H
#define TP_DEVICE_CUDA_BACKEND_H

#include "dist/nccl_comm.h"
#include "runtime/backend.h"

typedef struct tp_cuda_backend {
  tp_backend base; /* handed to the runtime; base.ctx points here */
  /* Device backend only: NCCL for the collectives over several ranks, or
   * NULL for the staged MPI path (ranks sharing a GPU, or no NCCL). */
  tp_nccl_comm *nccl;
  char name[32];
} tp_cuda_backend;

/* Entries shared by both backends: kernels and copies on the backend's
 * device, which can reach pinned memory as well as its own. */
tp_status tp_cuda_backend_fill_constant(tp_backend *backend, void *dst,
                                        size_t count, tp_dtype dtype,
                                        const void *value, tp_stream stream);
tp_status tp_cuda_backend_fill_generator(tp_backend *backend, void *dst,
                                         const tp_layout *layout,
                                         const tp_tile *tile,
                                         const tp_generator *generator,
                                         tp_stream stream);
tp_status
tp_cuda_backend_fill_expression(tp_backend *backend, void *dst,
                                const tp_layout *layout, const tp_tile *tile,
                                const struct tp_expression *expression,
                                tp_stream stream);
tp_status tp_cuda_backend_copy(tp_backend *backend, void *dst, const void *src,
                               size_t bytes, tp_stream stream);
tp_status tp_cuda_backend_axpby(tp_backend *backend, tp_dtype dtype,
                                size_t count, const void *alpha, const void *x,
                                const void *beta, const void *y, void *out,
                                tp_stream stream);
tp_status tp_cuda_backend_sync(tp_backend *backend, tp_stream stream);
/* Releases the backend's pool (tp_device_pool_release) and the backend. */
void tp_cuda_backend_destroy(tp_backend *backend);

/* Creates the backend of `kind` (device or pinned) over `pool`, a pool of
 * tp_device_pool_make that the backend owns from then on (released by its
 * destroy, also when the creation fails). The device backend uses NCCL for
 * its collectives when `use_nccl`, else the staged MPI path. */
tp_status tp_device_backend_create(tp_runtime *runtime, int device,
                                   tp_pool *pool, int use_nccl,
                                   tp_backend **out);
tp_status tp_pinned_backend_create(tp_runtime *runtime, int device,
                                   tp_pool *pool, tp_backend **out);

/* Chooses the rank's device (tensorpool/runtime.h says how), learns how
 * many ranks share it, and adds the pinned and device backends the
 * configuration allows over pools of the runtime's own (src/backends.c
 * lists it). Collective in CUDA builds with several ranks. */
extern const tp_backend_provider tp_cuda_backend_provider;

#endif
