/* The device backend: this rank's GPU memory from the runtime's own device
 * pool, kernels for fills, cudaMemcpyAsync for copies, NCCL for collectives
 * (or host staging and MPI where NCCL cannot serve the ranks). */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "device/cuda_backend.h"
#include "device/device_pools.h"
#include "device/staged_collectives.h"
#include "tensorpool/device.h"

static tp_status device_memory_info(tp_backend *backend, size_t *free_bytes,
                                    size_t *total_bytes) {
  return tp_device_memory_info(backend->device, free_bytes, total_bytes);
}

static tp_status device_allgatherv(tp_backend *backend, const void *send,
                                   void *recv, const size_t *counts,
                                   const size_t *displs, tp_stream stream) {
  if (tp_runtime_size(backend->runtime) == 1) {
    void *place = (char *)recv + displs[0];
    if (counts[0] == 0 || place == send)
      return TP_SUCCESS;
    return tp_cuda_backend_copy(backend, place, send, counts[0], stream);
  }
  tp_cuda_backend *b = backend->ctx;
  if (!b->nccl)
    return tp_staged_allgatherv(backend, send, recv, counts, displs, stream);
  return tp_nccl_allgatherv(b->nccl, send, recv, counts, displs, stream);
}

static tp_status device_alltoallv(tp_backend *backend, const void *send,
                                  const size_t *send_counts,
                                  const size_t *send_displs, void *recv,
                                  const size_t *recv_counts,
                                  const size_t *recv_displs, tp_stream stream) {
  if (tp_runtime_size(backend->runtime) == 1) {
    if (send_counts[0] != recv_counts[0])
      return tp_fail(TP_ERR_MISMATCH,
                     "device alltoallv: one rank sends %zu bytes to itself "
                     "but expects %zu",
                     send_counts[0], recv_counts[0]);
    return tp_cuda_backend_copy(backend, (char *)recv + recv_displs[0],
                                (const char *)send + send_displs[0],
                                recv_counts[0], stream);
  }
  tp_cuda_backend *b = backend->ctx;
  if (!b->nccl)
    return tp_staged_alltoallv(backend, send, send_counts, send_displs, recv,
                               recv_counts, recv_displs, stream);
  return tp_nccl_alltoallv(b->nccl, send, send_counts, send_displs, recv,
                           recv_counts, recv_displs, stream);
}

static const tp_backend_ops device_ops = {tp_cuda_backend_fill_constant,
                                          tp_cuda_backend_fill_generator,
                                          tp_cuda_backend_fill_expression,
                                          tp_cuda_backend_copy,
                                          tp_cuda_backend_axpby,
                                          tp_cuda_backend_sync,
                                          device_memory_info,
                                          device_allgatherv,
                                          device_alltoallv,
                                          tp_cuda_backend_destroy};

tp_status tp_device_backend_create(tp_runtime *runtime, int device,
                                   tp_pool *pool, int use_nccl,
                                   tp_backend **out) {
  tp_cuda_backend *b = calloc(1, sizeof *b);
  if (!b) {
    (void)tp_device_pool_release(pool);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_device_backend_create: no host memory");
  }
  tp_status st =
      use_nccl ? tp_nccl_comm_create(runtime, device, &b->nccl) : TP_SUCCESS;
  if (st != TP_SUCCESS) {
    tp_status keep = st;
    (void)tp_device_pool_release(pool);
    free(b);
    return keep;
  }
  snprintf(b->name, sizeof b->name, "device:%d", device);
  b->base.ops = &device_ops;
  b->base.kind = TP_SPACE_DEVICE;
  b->base.name = b->name;
  b->base.pool = pool;
  b->base.runtime = runtime;
  b->base.device = device;
  b->base.ctx = b;
  *out = &b->base;
  return TP_SUCCESS;
}
