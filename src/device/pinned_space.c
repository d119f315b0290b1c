/* The pinned host space: page-locked memory from cudaHostAlloc, portable to
 * every device, with CUDA events on the space's device. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "device/cuda_space.h"
#include "device/device_guard.h"

#if TP_HAVE_CUDA

#include "device/cuda_check.h"

static tp_status pinned_get(void *ctx, size_t bytes, void **out) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("get", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  void *p = NULL;
  /* Page-aligned, so the engine's 256-byte alignment holds. */
  cudaError_t err = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaHostAlloc"),
                           "get of %zu bytes on %s", bytes, s->name);
  atomic_fetch_add(&s->outstanding, 1);
  *out = p;
  return TP_SUCCESS;
}

static tp_status pinned_put(void *ctx, void *ptr, size_t bytes,
                            tp_stream stream) {
  tp_cuda_space *s = ctx;
  /* cudaFreeHost is not stream-ordered: wait for the last use first, unless
   * the space retired (the device is idle and `stream` may be gone). */
  if (!atomic_load(&s->retired)) {
    tp_status st = tp_cuda_stream_sync(ctx, stream);
    if (st != TP_SUCCESS)
      return st;
  }
  cudaError_t err = cudaFreeHost(ptr);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaFreeHost"),
                           "put of %p (%zu bytes) on %s", ptr, bytes, s->name);
  atomic_fetch_sub(&s->outstanding, 1);
  return TP_SUCCESS;
}

static const tp_space_ops pinned_ops = {sizeof(tp_space_ops),
                                        pinned_get,
                                        pinned_put,
                                        tp_cuda_event_create,
                                        tp_cuda_event_destroy,
                                        tp_cuda_event_record,
                                        tp_cuda_stream_wait,
                                        tp_cuda_event_query,
                                        tp_cuda_stream_sync,
                                        0,
                                        NULL,
                                        NULL,
                                        NULL};

tp_status tp_pinned_space_create(int device, tp_space **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pinned_space_create: NULL out-pointer");
  tp_status st = tp_device_check("tp_pinned_space_create", device);
  if (st != TP_SUCCESS)
    return st;
  tp_cuda_space *s = calloc(1, sizeof *s);
  if (!s)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pinned_space_create: no host memory for the space");
  s->device = device;
  s->pinned = true;
  atomic_init(&s->outstanding, 0);
  atomic_init(&s->retired, false);
  s->upstream = TP_DEVICE_UPSTREAM_MALLOC;
  snprintf(s->name, sizeof s->name, "pinned:%d", device);
  s->space.ops = &pinned_ops;
  s->space.ctx = s;
  s->space.kind = TP_SPACE_PINNED;
  s->space.device = device;
  s->space.name = s->name;
  *out = &s->space;
  return TP_SUCCESS;
}

#else /* no CUDA in this build */

tp_status tp_pinned_space_create(int device, tp_space **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pinned_space_create: NULL out-pointer");
  return tp_device_check("tp_pinned_space_create", device);
}

#endif
