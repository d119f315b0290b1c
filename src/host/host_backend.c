/* The host backend: pageable memory from the runtime's host pool, loops
 * for fills, tp_copy_bytes for copies, MPI for collectives. Host work runs at
 * once, so streams are only tags and sync has nothing to wait for. */
#include <stdlib.h>

#include "core/byte_copy.h"
#include "core/error.h"
#include "dist/dist.h"
#include "host/host_kernels.h"

static tp_status host_copy(tp_backend *backend, void *dst, const void *src,
                           size_t bytes, tp_stream stream) {
  (void)backend;
  (void)stream;
  if (bytes == 0)
    return TP_SUCCESS;
  if (!dst || !src)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_copy: NULL dst or src for %zu bytes", bytes);
  tp_copy_bytes(dst, src, bytes);
  return TP_SUCCESS;
}

static tp_status host_sync(tp_backend *backend, tp_stream stream) {
  (void)backend;
  (void)stream;
  return TP_SUCCESS;
}

static tp_status host_memory_info(tp_backend *backend, size_t *free_bytes,
                                  size_t *total_bytes) {
  (void)backend;
  return tp_host_memory_info(free_bytes, total_bytes);
}

static tp_status host_allgatherv(tp_backend *backend, const void *send,
                                 void *recv, const size_t *counts,
                                 const size_t *displs, tp_stream stream) {
  (void)stream;
  return tp_mpi_allgatherv(backend->runtime, send, recv, counts, displs);
}

static tp_status host_alltoallv(tp_backend *backend, const void *send,
                                const size_t *send_counts,
                                const size_t *send_displs, void *recv,
                                const size_t *recv_counts,
                                const size_t *recv_displs, tp_stream stream) {
  (void)stream;
  return tp_mpi_alltoallv(backend->runtime, send, send_counts, send_displs,
                          recv, recv_counts, recv_displs);
}

static void host_destroy(tp_backend *backend) {
  free(backend);
}

static const tp_backend_ops host_ops = {
    tp_host_fill_constant,   tp_host_fill_generator,
    tp_host_fill_expression, host_copy,
    tp_host_axpby,           host_sync,
    host_memory_info,        host_allgatherv,
    host_alltoallv,          host_destroy};

tp_status tp_host_backend_create(tp_runtime *runtime, tp_pool *pool,
                                 tp_backend **out) {
  tp_backend *b = calloc(1, sizeof *b);
  if (!b)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_host_backend_create: no memory for the backend");
  b->ops = &host_ops;
  b->kind = TP_SPACE_HOST;
  b->name = "host";
  b->pool = pool;
  b->runtime = runtime;
  b->device = -1;
  *out = b;
  return TP_SUCCESS;
}
