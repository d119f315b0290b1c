/* The runtime: who this process is among the ranks, which device it uses,
 * how much memory each space has, and the budget each space's pool keeps to.
 *
 * tp_runtime_create wraps MPI_COMM_WORLD when MPI is initialized (and the
 * library was built with MPI), otherwise it is a single process (rank 0 of
 * 1). tp_runtime_create_mpi (tensorpool/mpi.h) takes any communicator.
 *
 * Device: the one the configuration names; else the calling thread's current
 * device when it has chosen one (cudaSetDevice, or a context made current);
 * else (local rank) mod (devices on the node). No device (-1) when the
 * build has no CUDA, the node no GPU, or the configuration disables both
 * CUDA spaces. docs/device.md says what the runtime does with it.
 *
 * Lifetimes and ownership (docs/design.md):
 *   - a runtime owns its pools, one per space it uses (host, and on a rank
 *     with a device, pinned and device memory of its own, not shared with
 *     other runtimes), its backends and its allocators;
 *   - a buffer keeps a pointer to its allocator, so the runtime outlives
 *     its buffers: tp_runtime_destroy with a live buffer, or with a block
 *     still allocated directly from one of its pools, returns TP_ERR_BUSY
 *     and frees nothing;
 *   - a pool's limit is the runtime's budget for the space, with one
 *     setter: tp_runtime_set_budget (tp_pool_set_limit on a runtime's pool
 *     is refused with TP_ERR_NOT_SUPPORTED).
 *
 * Streams: no function here queues work on a stream (tp_runtime_destroy
 * waits for the device, see there).
 *
 * Thread safety: every function here but tp_runtime_destroy may be called
 * from several threads at once on one runtime (budgets and the kept
 * asynchronous error are behind the runtime's lock). tp_runtime_destroy
 * needs the caller's exclusive use: no other call on the runtime, its
 * allocators or its buffers in flight.
 *
 * MPI: calls that communicate (tp_runtime_create, the collective
 * conversions of tensorpool/allocator.h) call MPI on the calling thread. From
 * a thread other than the one that initialized MPI they need
 * MPI_Init_thread with MPI_THREAD_SERIALIZED or more (MPI_THREAD_MULTIPLE
 * when other threads call MPI meanwhile). docs/api.md has the table of
 * every function's stream, collective, host-blocking and thread rules. */
#ifndef TENSORPOOL_RUNTIME_H
#define TENSORPOOL_RUNTIME_H

#include <stddef.h>

#include "tensorpool/pool.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef struct tp_runtime tp_runtime;

/* A runtime allocates from the spaces of tp_space_kind (tensorpool/space.h):
 * TP_SPACE_HOST always, TP_SPACE_PINNED and TP_SPACE_DEVICE in CUDA builds on
 * a rank with a GPU. */

/* Budget 0 means "automatic": the space's free memory at creation divided
 * by the number of ranks on the node sharing it (host and pinned memory are
 * shared by all ranks of a node; a device by the ranks that use it).
 * TP_UNLIMITED means no budget. The budget is the hard limit of the space's
 * pool. */
/* Versioned: start from TP_RUNTIME_CONFIG_INIT, then set fields. */
typedef struct tp_runtime_config {
  size_t struct_size;
  size_t host_budget;
  size_t device_budget; /* also used for pinned memory */
  const char *name;     /* prefix of the pools' names; NULL: "tp" */
  /* The CUDA device to use, or TP_RUNTIME_DEVICE_CURRENT (see above). An id
   * the machine does not have: TP_ERR_NO_DEVICE. */
  int device;
  /* Spaces this runtime must not use: an or of TP_SPACE_BIT(TP_SPACE_PINNED)
   * and TP_SPACE_BIT(TP_SPACE_DEVICE) (the host cannot be disabled). A
   * disabled space gets no backend, pool or memory, and the automatic choice
   * never picks it. 0: every space this rank can have. */
  unsigned disabled_spaces;
} tp_runtime_config;

/* The calling thread's current device (see above). */
#define TP_RUNTIME_DEVICE_CURRENT (-1)
/* The bit of a space in tp_runtime_config.disabled_spaces. */
#define TP_SPACE_BIT(kind) (1u << (unsigned)(kind))

#define TP_RUNTIME_CONFIG_INIT                                                 \
  { sizeof(tp_runtime_config), 0, 0, NULL, TP_RUNTIME_DEVICE_CURRENT, 0u }

/* NULL config: the defaults. Collective over the communicator's ranks (they
 * tell each other which device they use, so that ranks sharing a GPU never
 * build an NCCL communicator over it). Blocks the host: MPI_Comm_dup and the
 * ranks' exchange wait for every rank; the first CUDA call of the process
 * initializes CUDA. NCCL is set up later, by the first collective that
 * needs it. Any thread (see MPI above). */
tp_status tp_runtime_create(const tp_runtime_config *config, tp_runtime **out);
/* Destroys the allocators, backends and pools. Every buffer of the runtime
 * (and every block allocated directly from tp_runtime_pool's pools) must be
 * gone: otherwise TP_ERR_BUSY, saying how many, and nothing is freed. Blocks
 * the host on a rank with a device: waits for the device to be idle
 * (cudaDeviceSynchronize) before releasing device and pinned memory (a
 * stream a block was last used on may have been destroyed since), and
 * destroys the NCCL communicator if one was set up. Not collective: each
 * rank destroys its own, and no rank waits for another. Exclusive use (see
 * above). NULL does nothing. */
tp_status tp_runtime_destroy(tp_runtime *runtime);

/* Accessors (pure: no stream, not collective, never block, any thread).
 * For NULL: -1 for the ranks and the device, 0 for the sizes and uses_mpi. */
int tp_runtime_rank(const tp_runtime *runtime);
int tp_runtime_size(const tp_runtime *runtime);
int tp_runtime_local_rank(const tp_runtime *runtime); /* among its node */
int tp_runtime_local_size(const tp_runtime *runtime);
int tp_runtime_device(const tp_runtime *runtime); /* -1: no device */
int tp_runtime_uses_mpi(const tp_runtime *runtime);

/* Asynchronous errors (as ncclCommGetAsyncError): *out = the first failure
 * of work this runtime queued that no call could report, or TP_SUCCESS.
 * Today that is a stream-ordered free that failed during the cleanup of
 * another failure, or what a backend with an asynchronous-error hook
 * reports; the CUDA backends have no such hook yet, so a kernel that
 * faults, or a failed NCCL collective, shows as TP_ERR_CUDA or
 * TP_ERR_NCCL from the next call that waits for the stream
 * (tp_buffer_synchronize, tp_buffer_read, tp_device_stream_synchronize).
 * The call itself returns TP_SUCCESS unless its arguments are NULL. When
 * *out is a failure, the calling thread's tp_last_error() says what
 * failed. The error stays: a runtime whose queued work failed keeps
 * reporting it until it is destroyed. Not collective (each rank has its
 * own); never blocks (it does not wait for queued work: synchronize first
 * to see all of it); any thread. */
tp_status tp_runtime_async_error(const tp_runtime *runtime, tp_status *out);

/* Memory of one space as this rank sees it. Versioned output: initialize
 * with TP_MEMORY_FIGURES_INIT. */
typedef struct tp_memory_figures {
  size_t struct_size;
  size_t free_bytes;      /* the system's figure: MemAvailable capped by the
                             cgroup limit, or cudaMemGetInfo */
  size_t total_bytes;     /* MemTotal capped by the cgroup limit, or the
                             device's total */
  size_t budget_bytes;    /* the pool's hard limit (TP_UNLIMITED: none) */
  size_t reserved_bytes;  /* what the pool holds now */
  size_t available_bytes; /* what an allocation may still take:
                             min(free, budget - reserved) + cached bytes */
} tp_memory_figures;

#define TP_MEMORY_FIGURES_INIT                                                 \
  { .struct_size = sizeof(tp_memory_figures) }

/* A space the runtime has no backend for: TP_ERR_NOT_SUPPORTED when the
 * configuration disabled it, else TP_ERR_NO_DEVICE (the rank has no device;
 * the rule in tensorpool/status.h). The same for the two calls below.
 * A read-only query: not collective, never blocks (the system's figures
 * come from /proc and the cgroup files, or cudaMemGetInfo, which waits for
 * no work); any thread. */
tp_status tp_runtime_memory(const tp_runtime *runtime, tp_space_kind space,
                            tp_memory_figures *out);
/* Sets a space's budget: the limit of the runtime's pool for it (cached
 * blocks are released to meet it; TP_ERR_OUT_OF_MEMORY, unchanged, if live
 * bytes alone exceed it). `bytes` is a number of bytes or TP_UNLIMITED;
 * 0, "automatic" in tp_runtime_config only, is TP_ERR_INVALID_ARGUMENT. The
 * only way to change that limit. Thread-safe: concurrent calls, and readers
 * (tp_runtime_memory, tp_allocator_choose), see one whole budget at a time,
 * equal to the pool's limit. Not collective; may block the host while the pool
 * releases cached memory. */
tp_status tp_runtime_set_budget(tp_runtime *runtime, tp_space_kind space,
                                size_t bytes);
/* The pool a backend allocates from, owned by the runtime (destroyed with
 * it; its limit is set through tp_runtime_set_budget only). Not collective,
 * never blocks, any thread; what the pool's own calls do is in
 * tensorpool/pool.h. */
tp_status tp_runtime_pool(tp_runtime *runtime, tp_space_kind space,
                          tp_pool **out);
/* Whether the runtime can allocate in `space` (host always); 0 for NULL.
 * Pure, any thread. */
int tp_runtime_has_backend(const tp_runtime *runtime, tp_space_kind space);

/* Host memory from the operating system: MemAvailable and MemTotal of
 * /proc/meminfo, each capped by the cgroup limit when one is set (v2:
 * memory.max - memory.current; v1: memory.limit_in_bytes -
 * memory.usage_in_bytes). No runtime needed; not collective; reads those
 * files and waits for nothing else; any thread. */
tp_status tp_host_memory_info(size_t *free_bytes, size_t *total_bytes);

TP_END_DECLS

#endif
