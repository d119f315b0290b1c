/* CUDA devices: how many there are, their memory, spaces and pools over
 * them, streams and copies.
 *
 * Every function here exists in every build. Built without CUDA, or run on a
 * machine without a GPU, tp_device_count() reports 0 and the functions that
 * need a device return TP_ERR_NO_DEVICE with a message saying why, after the
 * same argument checks as in a CUDA build (tensorpool/status.h has the rule).
 * Functions that work on a given device make it current for the call and
 * then restore exactly what was current for the calling thread before: its
 * previous context, or none at all on a thread that had chosen no device
 * (so no call leaves a context on GPU 0 behind).
 *
 * Pools here are the process's, for code that uses pools directly. A
 * runtime (tensorpool/runtime.h) does not use them: it owns pools of its
 * own, whose limit is its budget.
 *
 * Common rules: nothing here is collective (MPI is never called). Thread
 * safety: every function may be called from any thread at once (the
 * current device is per thread and restored, the shared pools' registry
 * has a lock), except the destroys, which need the caller's exclusive use
 * of what they destroy (tp_device_pools_destroy: of every shared pool).
 * Streams and host blocking are said per function; the first call that
 * touches CUDA in a process also initializes it (a one-time cost of
 * cudaGetDeviceCount or of the first context). docs/api.md has the table. */
#ifndef TENSORPOOL_DEVICE_H
#define TENSORPOOL_DEVICE_H

#include <stddef.h>

#include "tensorpool/pool.h"
#include "tensorpool/runtime.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* Number of usable CUDA devices: 0 (and TP_SUCCESS) when the library was
 * built without CUDA or when no GPU or driver is present. No stream, never
 * waits for work. */
tp_status tp_device_count(int *count);

/* Free and total memory of `device` as cudaMemGetInfo reports them.
 * TP_ERR_NO_DEVICE when there is no device or `device` is out of range. No
 * stream, waits for no work (the first call on a device creates its
 * context). */
tp_status tp_device_memory_info(int device, size_t *free_bytes,
                                size_t *total_bytes);

/* ---- Memory spaces -------------------------------------------------------
 * Tables for the pool engine (tp_pool_create) over CUDA memory. Their events
 * are created with cudaEventDisableTiming on the space's device; the streams
 * handed to a pool over them must belong to that device (NULL: its legacy
 * default stream).
 *
 * What a pool over them blocks on (tensorpool/pool.h says when a pool calls
 * get and put): a get of the MALLOC upstream is cudaMalloc, which may
 * synchronize the device; a get of the MALLOC_ASYNC upstream allocates on
 * the space's private stream and waits for that stream, so that the block
 * is ready for any stream; a get of the pinned space is cudaHostAlloc,
 * which may synchronize the device. A put of the MALLOC upstream and of the
 * pinned space waits for the block's stream, then frees (cudaFree,
 * cudaFreeHost); a put of the MALLOC_ASYNC upstream is cudaFreeAsync on
 * that stream (no host wait). Creating and destroying a space waits for no
 * work. The entries are thread-safe. */

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
 * (each refuses the other kind). A space some pool still holds blocks or
 * events of (a pool over it that is alive) is not destroyed: TP_ERR_BUSY;
 * destroy the pool first. NULL does nothing and succeeds. */
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
 * tp_device_pools_configure (defaults: TP_DEVICE_POOL_CONFIG_INIT). Their
 * limit belongs to their user (tp_pool_set_limit). Runtimes do not use
 * them. */

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

/* Sets the configuration of the pools created over CUDA spaces from now on
 * (those that exist keep theirs): the shared pools, and the device and
 * pinned pools of runtimes created afterwards, which take everything but the
 * limit (their runtime's budget) and the name. What tp_pool_create would
 * refuse is refused here, before anything changes (TP_ERR_INVALID_ARGUMENT):
 * a pool limit of 0 (TP_UNLIMITED means none), divisions other than 1, 2,
 * 4, 8 or 16, a page_release that is not a tp_page_release, an unset
 * struct_size. An event log path is opened by each pool as it is made (to
 * open it here would create the file), so a path that cannot be opened
 * fails that pool's creation, not this call. The strings it points to must stay
 * valid. Never blocks; any thread (under the registry's lock). */
tp_status tp_device_pools_configure(const tp_device_pool_config *config);
/* The shared pool of device memory of `device`: created by the first call
 * (once, under the registry's lock, even when threads race), then the same
 * handle. Waits for no work. */
tp_status tp_device_pool(int device, tp_pool **out);
/* The shared pool of pinned host memory whose events live on `device`. */
tp_status tp_pinned_pool(int device, tp_pool **out);
/* Destroys every shared pool and its space (never a runtime's pools). Waits
 * for each device to be idle first, so that no block is released on a
 * stream that may have been destroyed since its last use. Returns the first
 * failure (TP_ERR_LEAK when blocks were still live: they are freed, as
 * tp_pool_destroy does) after destroying them all. Later calls of
 * tp_device_pool create fresh pools. Blocks the host (cudaDeviceSynchronize
 * on each device that has one). Every pointer tp_device_pool and
 * tp_pinned_pool handed out dangles afterwards: call it when no thread uses
 * them. */
tp_status tp_device_pools_destroy(void);

/* ---- Streams and copies ---------------------------------------------------*/

/* A stream of `device` that does not synchronize with the legacy default
 * stream (cudaStreamNonBlocking). Waits for no work. */
tp_status tp_device_stream_create(int device, tp_stream *out);
/* Makes every pool the library made over `device` (the shared ones and the
 * runtimes') forget the stream (which waits for it), then destroys it. A
 * stream destroyed otherwise (cudaStreamDestroy) stays named in pools until
 * teardown, which then no longer uses it; call tp_pool_forget_stream on
 * pools of your own first. Blocks the host until the stream's work is done
 * (the pools that used it wait for it, under the registry's lock). No
 * other thread may use the stream meanwhile. */
tp_status tp_device_stream_destroy(int device, tp_stream stream);
/* Blocks until the work queued on `stream` of `device` is done. */
tp_status tp_device_stream_synchronize(int device, tp_stream stream);
/* Queues a copy of `bytes` between any host, pinned or device memory on
 * `stream` of `device` (cudaMemcpyAsync with unified addressing). A copy
 * from or to pageable host memory may return before it is done only when the
 * host side no longer matters: synchronize before reading it. bytes 0 does
 * nothing; NULL pointers are TP_ERR_INVALID_ARGUMENT in every build. To read
 * a buffer's values, tp_buffer_read (tensorpool/buffer.h) does all of this.
 * Host blocking is CUDA's rule for cudaMemcpyAsync: a copy to pageable host
 * memory returns when it is done (after the work queued before it on
 * `stream`); one from pageable memory once the source was staged; with
 * pinned or device memory on both sides it only queues. */
tp_status tp_device_memcpy(int device, void *dst, const void *src, size_t bytes,
                           tp_stream stream);

TP_END_DECLS

#endif
