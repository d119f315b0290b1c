/* Internal: the state behind the device and pinned space tables. */
#ifndef TP_DEVICE_CUDA_SPACE_H
#define TP_DEVICE_CUDA_SPACE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tensorpool/device.h"

typedef struct tp_cuda_space {
  tp_space space; /* handed out as tp_space *; space.ctx points back here */
  int device;     /* where events live and device memory comes from */
  bool pinned;    /* page-locked host memory instead of device memory */
  tp_device_upstream upstream;
  void *mem_pool;     /* cudaMemPool_t (TP_DEVICE_UPSTREAM_MALLOC_ASYNC) */
  void *alloc_stream; /* cudaStream_t the async gets are ordered on */
  /* Blocks got and events created, not yet given back: a space with any
   * is still used by a pool, and destroying it is refused (TP_ERR_BUSY). */
  atomic_size_t outstanding;
  /* Set by tp_cuda_space_retire: the device is idle, so puts no longer use
   * the streams they are given (which may have been destroyed). */
  atomic_bool retired;
  char name[32];
} tp_cuda_space;

/* The event and stream operations shared by both CUDA spaces (ctx is the
 * tp_cuda_space). */
tp_status tp_cuda_event_create(void *ctx, tp_event *out);
tp_status tp_cuda_event_destroy(void *ctx, tp_event event);
tp_status tp_cuda_event_record(void *ctx, tp_event event, tp_stream stream);
tp_status tp_cuda_stream_wait(void *ctx, tp_stream stream, tp_event event);
tp_status tp_cuda_event_query(void *ctx, tp_event event, bool *done);
tp_status tp_cuda_stream_sync(void *ctx, tp_stream stream);

/* The space behind `space` if it is one of ours, else NULL. */
tp_cuda_space *tp_cuda_space_from(const tp_space *space);

/* Before the pool over `space` is destroyed: waits until the space's device
 * is idle (cudaDeviceSynchronize), then makes every later put ignore its
 * stream. A pool releases its blocks on the streams of their last use, and
 * by teardown a stream may have been destroyed by its owner: a put must not
 * touch it. Blocks the host. */
tp_status tp_cuda_space_retire(tp_space *space);

#endif
