/* The device memory space: cudaMalloc, or cudaMallocFromPoolAsync from a
 * memory pool of its own, behind the tp_space table. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/versioned.h"
#include "device/cuda_space.h"
#include "device/device_guard.h"

tp_cuda_space *tp_cuda_space_from(const tp_space *space) {
  if (!space || !space->ctx)
    return NULL;
  tp_cuda_space *s = space->ctx;
  return &s->space == space ? s : NULL;
}

/* The checks of tp_device_space_create that need no device; reads the
 * caller's configuration (its version's fields) into *settings. */
static tp_status check_create_arguments(const tp_device_space_config *config,
                                        tp_space **out,
                                        tp_device_space_config *settings) {
  static const char fn[] = "tp_device_space_create";
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out-pointer", fn);
  *settings = (tp_device_space_config)TP_DEVICE_SPACE_CONFIG_INIT;
  if (config) {
    tp_status st = tp_versioned_read(fn, "TP_DEVICE_SPACE_CONFIG_INIT", config,
                                     settings, sizeof *settings);
    if (st != TP_SUCCESS)
      return st;
  }
  if (settings->upstream != TP_DEVICE_UPSTREAM_MALLOC &&
      settings->upstream != TP_DEVICE_UPSTREAM_MALLOC_ASYNC)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown upstream %d", fn,
                   (int)settings->upstream);
  return TP_SUCCESS;
}

#if TP_HAVE_CUDA

#include <stdint.h>

#include "device/cuda_check.h"

/* Every block the pool engine gets must be 256-byte aligned. */
static tp_status check_alignment(tp_cuda_space *s, void *p, size_t bytes) {
  if (((uintptr_t)p & 255u) == 0)
    return TP_SUCCESS;
  return tp_fail(TP_ERR_INTERNAL,
                 "get on %s: upstream returned %p for %zu bytes, not 256-byte "
                 "aligned",
                 s->name, p, bytes);
}

static tp_status device_get(void *ctx, size_t bytes, void **out) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("get", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  void *p = NULL;
  cudaError_t err;
  if (s->upstream == TP_DEVICE_UPSTREAM_MALLOC_ASYNC) {
    err = cudaMallocFromPoolAsync(&p, bytes, (cudaMemPool_t)s->mem_pool,
                                  (cudaStream_t)s->alloc_stream);
    /* The pool engine hands the block to any stream: wait until the
     * allocation is complete so no stream needs to be ordered after it. */
    if (err == cudaSuccess) {
      err = cudaStreamSynchronize((cudaStream_t)s->alloc_stream);
      if (err != cudaSuccess)
        (void)cudaFreeAsync(p, (cudaStream_t)s->alloc_stream);
    }
  } else {
    err = cudaMalloc(&p, bytes);
  }
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(
        tp_cuda_fail(err, s->upstream == TP_DEVICE_UPSTREAM_MALLOC
                              ? "cudaMalloc"
                              : "cudaMallocFromPoolAsync"),
        "get of %zu bytes on %s", bytes, s->name);
  st = check_alignment(s, p, bytes);
  if (st != TP_SUCCESS) {
    (void)cudaFree(p);
    return st;
  }
  atomic_fetch_add(&s->outstanding, 1);
  *out = p;
  return TP_SUCCESS;
}

static tp_status device_put(void *ctx, void *ptr, size_t bytes,
                            tp_stream stream) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("put", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err;
  const char *what;
  if (atomic_load(&s->retired)) {
    /* The device was idle when the space retired, and `stream` may be gone:
     * free without it (on the space's own stream for the async upstream). */
    what = s->upstream == TP_DEVICE_UPSTREAM_MALLOC_ASYNC ? "cudaFreeAsync"
                                                          : "cudaFree";
    err = s->upstream == TP_DEVICE_UPSTREAM_MALLOC_ASYNC
              ? cudaFreeAsync(ptr, (cudaStream_t)s->alloc_stream)
              : cudaFree(ptr);
  } else if (s->upstream == TP_DEVICE_UPSTREAM_MALLOC_ASYNC) {
    what = "cudaFreeAsync";
    err = cudaFreeAsync(ptr, (cudaStream_t)stream);
  } else {
    /* cudaFree does not promise to wait for `stream`: wait explicitly. */
    what = "cudaStreamSynchronize";
    err = cudaStreamSynchronize((cudaStream_t)stream);
    if (err == cudaSuccess) {
      what = "cudaFree";
      err = cudaFree(ptr);
    }
  }
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, what),
                           "put of %p (%zu bytes, stream %p) on %s", ptr, bytes,
                           stream, s->name);
  atomic_fetch_sub(&s->outstanding, 1);
  return TP_SUCCESS;
}

static const tp_space_ops device_ops = {sizeof(tp_space_ops),
                                        device_get,
                                        device_put,
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

/* Creates the memory pool and the allocation stream of an async space. */
static tp_status create_async_upstream(tp_cuda_space *s) {
  int supported = 0;
  cudaError_t err = cudaDeviceGetAttribute(
      &supported, cudaDevAttrMemoryPoolsSupported, s->device);
  if (err != cudaSuccess)
    return tp_cuda_fail(err, "tp_device_space_create: cudaDeviceGetAttribute");
  if (!supported)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_device_space_create: device %d does not support "
                   "cudaMallocAsync memory pools; use "
                   "TP_DEVICE_UPSTREAM_MALLOC",
                   s->device);
  struct cudaMemPoolProps props = {0};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = s->device;
  cudaMemPool_t pool = NULL;
  err = cudaMemPoolCreate(&pool, &props);
  if (err != cudaSuccess)
    return tp_cuda_fail(err, "tp_device_space_create: cudaMemPoolCreate");
  cudaStream_t stream = NULL;
  err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) {
    (void)cudaMemPoolDestroy(pool);
    return tp_cuda_fail(err,
                        "tp_device_space_create: cudaStreamCreateWithFlags");
  }
  s->mem_pool = pool;
  s->alloc_stream = stream;
  return TP_SUCCESS;
}

tp_status tp_device_space_create(int device,
                                 const tp_device_space_config *config,
                                 tp_space **out) {
  tp_device_space_config settings;
  tp_status st = check_create_arguments(config, out, &settings);
  if (st != TP_SUCCESS)
    return st;
  config = &settings;
  tp_device_guard guard;
  st = tp_device_enter("tp_device_space_create", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  tp_cuda_space *s = calloc(1, sizeof *s);
  if (!s) {
    tp_device_leave(&guard);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_device_space_create: no host memory for the space");
  }
  s->device = device;
  s->upstream = config->upstream;
  atomic_init(&s->outstanding, 0);
  atomic_init(&s->retired, false);
  if (s->upstream == TP_DEVICE_UPSTREAM_MALLOC_ASYNC) {
    st = create_async_upstream(s);
    if (st != TP_SUCCESS) {
      tp_device_leave(&guard);
      free(s);
      return st;
    }
  }
  tp_device_leave(&guard);
  snprintf(s->name, sizeof s->name, "device:%d", device);
  s->space.ops = &device_ops;
  s->space.ctx = s;
  s->space.kind = TP_SPACE_DEVICE;
  s->space.device = device;
  s->space.name = s->name;
  *out = &s->space;
  return TP_SUCCESS;
}

/* Destroys a space of `kind` made by this file or pinned_space.c. */
static tp_status destroy_space(const char *fn, tp_space *space,
                               tp_space_kind kind) {
  tp_cuda_space *s = tp_cuda_space_from(space);
  if (!s || space->kind != kind)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: %p is not a %s space", fn,
                   (void *)space, tp_space_kind_name(kind));
  size_t outstanding = atomic_load(&s->outstanding);
  if (outstanding)
    return tp_fail(TP_ERR_BUSY,
                   "%s: %s still has %zu blocks or events out (a pool over it "
                   "is alive): destroy the pool first; nothing was done",
                   fn, s->name, outstanding);
  tp_status result = TP_SUCCESS;
  if (s->alloc_stream || s->mem_pool) {
    tp_device_guard guard;
    result = tp_device_switch(fn, s->device, &guard);
    if (result == TP_SUCCESS) {
      cudaError_t err = cudaStreamDestroy((cudaStream_t)s->alloc_stream);
      if (err != cudaSuccess)
        result =
            tp_fail_context(tp_cuda_fail(err, "cudaStreamDestroy"), "%s", fn);
      /* Blocks still out keep the memory pool alive until they are freed
       * (cudaMemPoolDestroy defers); nothing is lost here. */
      err = cudaMemPoolDestroy((cudaMemPool_t)s->mem_pool);
      if (err != cudaSuccess && result == TP_SUCCESS)
        result =
            tp_fail_context(tp_cuda_fail(err, "cudaMemPoolDestroy"), "%s", fn);
      tp_device_leave(&guard);
    }
  }
  free(s);
  return result;
}

tp_status tp_cuda_space_retire(tp_space *space) {
  tp_cuda_space *s = tp_cuda_space_from(space);
  if (!s)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_cuda_space_retire: %p is not a CUDA space",
                   (void *)space);
  tp_device_guard guard;
  tp_status st = tp_device_switch("retire", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  /* Every stream of the device, destroyed ones included, has finished what
   * it was given once this returns. */
  cudaError_t err = cudaDeviceSynchronize();
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaDeviceSynchronize"),
                           "retiring %s", s->name);
  atomic_store(&s->retired, true);
  return TP_SUCCESS;
}

#else /* no CUDA in this build */

tp_status tp_cuda_space_retire(tp_space *space) {
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_cuda_space_retire: %p is not a CUDA space (built without "
                 "CUDA)",
                 (void *)space);
}

tp_status tp_device_space_create(int device,
                                 const tp_device_space_config *config,
                                 tp_space **out) {
  tp_device_space_config settings;
  tp_status st = check_create_arguments(config, out, &settings);
  if (st != TP_SUCCESS)
    return st;
  return tp_device_check("tp_device_space_create", device);
}

static tp_status destroy_space(const char *fn, tp_space *space,
                               tp_space_kind kind) {
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "%s: %p is not a %s space (built without CUDA)", fn,
                 (void *)space, tp_space_kind_name(kind));
}

#endif

/* NULL does nothing, as with every destroy of the library. */
tp_status tp_device_space_destroy(tp_space *space) {
  if (!space)
    return TP_SUCCESS;
  return destroy_space("tp_device_space_destroy", space, TP_SPACE_DEVICE);
}

tp_status tp_pinned_space_destroy(tp_space *space) {
  if (!space)
    return TP_SUCCESS;
  return destroy_space("tp_pinned_space_destroy", space, TP_SPACE_PINNED);
}
