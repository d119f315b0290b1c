/* The pinned backend: page-locked host memory from the runtime's own
 * pinned pool. Fills and copies run on the device's streams (the GPU reaches
 * pinned memory directly), so they stay ordered with device work; the
 * collectives wait for the stream, then use MPI as host memory does. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "device/cuda_backend.h"
#include "device/device_pools.h"
#include "dist/dist.h"

static tp_status pinned_memory_info(tp_backend *backend, size_t *free_bytes,
                                    size_t *total_bytes) {
  (void)backend;
  return tp_host_memory_info(free_bytes, total_bytes);
}

static tp_status pinned_allgatherv(tp_backend *backend, const void *send,
                                   void *recv, const size_t *counts,
                                   const size_t *displs, tp_stream stream) {
  tp_status st = tp_cuda_backend_sync(backend, stream);
  if (st != TP_SUCCESS)
    return st;
  return tp_mpi_allgatherv(backend->runtime, send, recv, counts, displs);
}

static tp_status pinned_alltoallv(tp_backend *backend, const void *send,
                                  const size_t *send_counts,
                                  const size_t *send_displs, void *recv,
                                  const size_t *recv_counts,
                                  const size_t *recv_displs, tp_stream stream) {
  tp_status st = tp_cuda_backend_sync(backend, stream);
  if (st != TP_SUCCESS)
    return st;
  return tp_mpi_alltoallv(backend->runtime, send, send_counts, send_displs,
                          recv, recv_counts, recv_displs);
}

static const tp_backend_ops pinned_ops = {tp_cuda_backend_fill_constant,
                                          tp_cuda_backend_fill_generator,
                                          tp_cuda_backend_fill_expression,
                                          tp_cuda_backend_copy,
                                          tp_cuda_backend_axpby,
                                          tp_cuda_backend_sync,
                                          pinned_memory_info,
                                          pinned_allgatherv,
                                          pinned_alltoallv,
                                          tp_cuda_backend_destroy};

tp_status tp_pinned_backend_create(tp_runtime *runtime, int device,
                                   tp_pool *pool, tp_backend **out) {
  tp_cuda_backend *b = calloc(1, sizeof *b);
  if (!b) {
    (void)tp_device_pool_release(pool);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pinned_backend_create: no host memory");
  }
  snprintf(b->name, sizeof b->name, "pinned:%d", device);
  b->base.ops = &pinned_ops;
  b->base.kind = TP_SPACE_PINNED;
  b->base.name = b->name;
  b->base.pool = pool;
  b->base.runtime = runtime;
  b->base.device = device;
  b->base.ctx = b;
  *out = &b->base;
  return TP_SUCCESS;
}
