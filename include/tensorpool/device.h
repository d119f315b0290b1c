/* CUDA devices: how many there are, their memory, and one pool per device.
 *
 * Every function here exists in every build. Built without CUDA, or run on a
 * machine without a GPU, tp_device_count() reports 0 and the functions that
 * need a device return TP_ERR_NO_DEVICE with a message saying why. Functions
 * that work on a given device switch to it and restore the calling thread's
 * current device before returning. */
#ifndef TENSORPOOL_DEVICE_H
#define TENSORPOOL_DEVICE_H

#include <stddef.h>

#include "tensorpool/pool.h"
#include "tensorpool/runtime.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices: 0 (and TP_SUCCESS) when the library was
 * built without CUDA or when no GPU or driver is present. */
tp_status tp_device_count(int *count);

/* Free and total memory of `device` as cudaMemGetInfo reports them.
 * TP_ERR_NO_DEVICE when there is no device or `device` is out of range. */
tp_status tp_device_memory_info(int device, size_t *free_bytes,
                                size_t *total_bytes);

/* ---- Memory spaces -------------------------------------------------------
 * Tables for the pool engine (tp_pool_create) over CUDA memory. Their events
 * are created with cudaEventDisableTiming on the space's device; the streams
 * handed to a pool over them must belong to that device (NULL: its legacy
 * default stream). */

/* Where a device space takes its memory from. */
typedef enum tp_device_upstream {
  /* cudaMalloc; a put waits for its stream, then cudaFree. */
  TP_DEVICE_UPSTREAM_MALLOC = 0,
  /* cudaMallocFromPoolAsync from a cudaMemPool the space creates; a put is
   * cudaFreeAsync on the stream of the block's last use (no host wait). */
  TP_DEVICE_UPSTREAM_MALLOC_ASYNC = 1
} tp_device_upstream;

/* Versioned: start from TP_DEVICE_SPACE_CONFIG_INIT, then set fields. */
typedef struct tp_device_space_config {
  size_t struct_size;
  tp_device_upstream upstream;
} tp_device_space_config;

#define TP_DEVICE_SPACE_CONFIG_INIT                                            \
  { sizeof(tp_device_space_config), TP_DEVICE_UPSTREAM_MALLOC }

/* A space over the memory of `device` (NULL config: the defaults). */
tp_status tp_device_space_create(int device,
                                 const tp_device_space_config *config,
                                 tp_space **out);
/* A space over page-locked host memory (cudaHostAlloc, portable to every
 * device) whose events live on `device`. */
tp_status tp_pinned_space_create(int device, tp_space **out);
/* Destroy a space made by tp_device_space_create or tp_pinned_space_create
 * (each refuses the other kind), after every pool over it. */
tp_status tp_device_space_destroy(tp_space *space);
tp_status tp_pinned_space_destroy(tp_space *space);
/* A space over the memory of `device` through CUDA's virtual memory
 * management: each segment reserves addresses for the whole device and maps
 * physical memory one granule (the device's allocation granularity, 2 MiB
 * on current GPUs) at a time as a pool grows it; free granules a pool gives
 * back are unmapped once the work on their stream is done (an event, no
 * host wait) and mapped again when used. The driver functions are fetched
 * at run time (cudaGetDriverEntryPointByVersion). TP_ERR_NOT_SUPPORTED
 * where the driver or device has no VMM; TP_ERR_NO_DEVICE as above. Destroy
 * it with tp_device_vmm_space_destroy, after every pool over it (else
 * TP_ERR_BUSY). Thread-safe. */
tp_status tp_device_vmm_space_create(int device, tp_space **out);
tp_status tp_device_vmm_space_destroy(tp_space *space);

/* ---- One shared pool per device ------------------------------------------
 * Created on first use, thread-safely, with the configuration set by
 * tp_device_pools_configure (defaults: TP_DEVICE_POOL_CONFIG_INIT). */

/* Versioned: start from TP_DEVICE_POOL_CONFIG_INIT, then set fields. The
 * pool's own configuration is referenced, not embedded, so that either
 * struct can grow on its own. */
typedef struct tp_device_pool_config {
  size_t struct_size;
  /* NULL: TP_POOL_CONFIG_INIT. Its name NULL: "device:<id>" / "pinned:<id>".
   * Copied by tp_device_pools_configure (the strings it points to are not:
   * they must stay valid). */
  const tp_pool_config *pool;
  tp_device_upstream upstream;
} tp_device_pool_config;

#define TP_DEVICE_POOL_CONFIG_INIT                                             \
  { sizeof(tp_device_pool_config), NULL, TP_DEVICE_UPSTREAM_MALLOC }

/* Sets the configuration of the shared pools created from now on (those that
 * exist keep theirs). The strings it points to must stay valid. */
tp_status tp_device_pools_configure(const tp_device_pool_config *config);
/* The shared pool of device memory of `device`. */
tp_status tp_device_pool(int device, tp_pool **out);
/* The shared pool of pinned host memory whose events live on `device`. */
tp_status tp_pinned_pool(int device, tp_pool **out);
/* Destroys every shared pool and its space. Returns the first failure
 * (TP_ERR_LEAK when blocks were still live) after destroying them all. Later
 * calls of tp_device_pool create fresh pools. */
tp_status tp_device_pools_destroy(void);

/* ---- Streams and copies ---------------------------------------------------*/

/* A stream of `device` that does not synchronize with the legacy default
 * stream (cudaStreamNonBlocking). */
tp_status tp_device_stream_create(int device, tp_stream *out);
/* Makes the shared pools of `device` forget the stream (which waits for it),
 * then destroys it. */
tp_status tp_device_stream_destroy(int device, tp_stream stream);
/* Blocks until the work queued on `stream` of `device` is done. */
tp_status tp_device_stream_synchronize(int device, tp_stream stream);
/* Queues a copy of `bytes` between any host, pinned or device memory on
 * `stream` of `device` (cudaMemcpyAsync with unified addressing). A copy
 * from or to pageable host memory may return before it is done only when the
 * host side no longer matters: synchronize before reading it. */
tp_status tp_device_memcpy(int device, void *dst, const void *src, size_t bytes,
                           tp_stream stream);

#ifdef __cplusplus
}
#endif

#endif
