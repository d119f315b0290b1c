/* Internal: the state behind the device and pinned space tables. */
#ifndef TP_DEVICE_CUDA_SPACE_H
#define TP_DEVICE_CUDA_SPACE_H

#include <stdbool.h>

#include "tensorpool/device.h"

typedef struct tp_cuda_space {
  tp_space space; /* handed out as tp_space *; space.ctx points back here */
  int device;     /* where events live and device memory comes from */
  bool pinned;    /* page-locked host memory instead of device memory */
  tp_device_upstream upstream;
  void *mem_pool;     /* cudaMemPool_t (TP_DEVICE_UPSTREAM_MALLOC_ASYNC) */
  void *alloc_stream; /* cudaStream_t the async gets are ordered on */
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

#endif
