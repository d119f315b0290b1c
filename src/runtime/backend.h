/* Internal: the table a backend fills so that every allocator verb, every
 * conversion and every operation works on its memory without src/core
 * knowing what the memory is. The host backend (src/host/host_backend.c)
 * fills it with loops and memcpy, collectives with MPI (src/dist/); a CUDA
 * backend fills it with kernels, cudaMemcpyAsync and NCCL.
 *
 * Plugging in a backend (e.g. src/device/device_backend.c):
 *   1. allocate a tp_backend, set ops, kind, name, pool (the pool its
 *      buffers come from; the runtime's budget for the space is that pool's
 *      limit, see tp_runtime_budget_for), device, runtime and ctx;
 *   2. tp_runtime_add_backend(runtime, backend): the runtime owns it from
 *      then on and calls ops->destroy at tp_runtime_destroy;
 *   3. tp_runtime_allocator(runtime, kind, buffer_kind, &a) now hands out
 *      its allocators, and tp_allocator_choose considers it.
 *
 * Common rules for every entry:
 *   - Pointers named dst/src/x/y/out are memory of this backend's space from
 *     its pool (for copy: see there); counts are elements unless named
 *     bytes; a count of 0 must succeed without touching the pointers (which
 *     may be NULL).
 *   - Work is queued on `stream` and may still run when the entry returns;
 *     the caller orders later work on the same stream, and calls ops->sync
 *     before the host reads results. Host memory passed as a parameter
 *     (`value`, `alpha`, `beta`, tile and generator structs, count arrays)
 *     is only valid during the call: copy it if the work runs later.
 *   - Failures return a status with tp_fail's message and leave the
 *     destination's contents unspecified but the memory intact. */
#ifndef TP_CORE_BACKEND_H
#define TP_CORE_BACKEND_H

#include <stddef.h>

#include "tensorpool/generator.h"
#include "tensorpool/layout.h"
#include "tensorpool/pool.h"
#include "tensorpool/runtime.h"

/* Backends a runtime can hold: one per space kind host, pinned, device. */
#define TP_BACKEND_COUNT 3

typedef struct tp_backend tp_backend;
struct tp_expression; /* a parsed index expression, src/tensor/expression.h */

typedef struct tp_backend_ops {
  /* dst[0..count) = the one element of `dtype` at `value` (host memory,
   * already converted by tp_scalar_store). */
  tp_status (*fill_constant)(tp_backend *backend, void *dst, size_t count,
                             tp_dtype dtype, const void *value,
                             tp_stream stream);

  /* dst holds `tile` of a tensor of `layout`, row-major within the tile.
   * Element i of the tile, whose global multi-index is tile->offsets plus
   * its index within tile->extents and whose global linear index is
   * tile->first + i, gets tp_gen_store(generator, layout->dtype, linear,
   * index, layout->ndim, ...) from src/tensor/generator_math.h. The generator
   * has passed tp_generator_check for `layout`. */
  tp_status (*fill_generator)(tp_backend *backend, void *dst,
                              const tp_layout *layout, const tp_tile *tile,
                              const tp_generator *generator, tp_stream stream);

  /* As fill_generator, with the value of a parsed index expression
   * (src/tensor/expression.h) at each element's global multi-index,
   * converted to layout->dtype exactly as tp_expression_fill_host does (the
   * host's bits). The expression was parsed for layout->ndim; it is only
   * valid during the call. */
  tp_status (*fill_expression)(tp_backend *backend, void *dst,
                               const tp_layout *layout, const tp_tile *tile,
                               const struct tp_expression *expression,
                               tp_stream stream);

  /* Copies `bytes` from src to dst. Each side is either this backend's
   * space or host memory (pageable or pinned): a device backend handles
   * host<->device and device<->device. The host backend only copies host
   * memory. */
  tp_status (*copy)(tp_backend *backend, void *dst, const void *src,
                    size_t bytes, tp_stream stream);

  /* out[i] = alpha * x[i] + beta * y[i] for i < count; alpha and beta point
   * to one element of `dtype` in host memory. out may be x or y. Complex
   * numbers multiply as complex numbers; integers wrap modulo 2^bits. */
  tp_status (*axpby)(tp_backend *backend, tp_dtype dtype, size_t count,
                     const void *alpha, const void *x, const void *beta,
                     const void *y, void *out, tp_stream stream);

  /* Blocks the calling thread until the work queued on `stream` is done. */
  tp_status (*sync)(tp_backend *backend, tp_stream stream);

  /* The system's free and total bytes of this backend's memory (not the
   * pool's figures). */
  tp_status (*memory_info)(tp_backend *backend, size_t *free_bytes,
                           size_t *total_bytes);

  /* Collectives over the runtime's ranks (tp_runtime_size; one rank: a
   * local copy), byte counts, called by every rank with the same counts
   * (the caller checked that the ranks agree before calling).
   * allgatherv: rank r's `send` (counts[r] bytes) lands at recv + displs[r]
   * on every rank; `send` may be recv + displs[me] (in place). */
  tp_status (*allgatherv)(tp_backend *backend, const void *send, void *recv,
                          const size_t *counts, const size_t *displs,
                          tp_stream stream);
  /* alltoallv: send_counts[r] bytes at send + send_displs[r] go to rank r,
   * landing there at recv + its recv_displs[me]; recv_counts[r] bytes come
   * from rank r. */
  tp_status (*alltoallv)(tp_backend *backend, const void *send,
                         const size_t *send_counts, const size_t *send_displs,
                         void *recv, const size_t *recv_counts,
                         const size_t *recv_displs, tp_stream stream);

  /* Releases what the backend owns, and the backend itself (not a shared
   * pool). Called once by tp_runtime_destroy after every allocator is gone. */
  void (*destroy)(tp_backend *backend);
} tp_backend_ops;

/* Optional hook of a backend whose queued work can fail after the call
 * that queued it returned (NULL, the default of a calloc'ed backend: it
 * cannot, as the host's). *out = the first such failure (a faulting
 * kernel: a sticky CUDA error; an NCCL communicator's async error), with
 * tp_fail's message; TP_SUCCESS if none. Must not block. Read by
 * tp_runtime_async_error. A field of the backend rather than of the ops
 * table, so that tables written before it need no new entry. */
typedef tp_status (*tp_backend_async_error_fn)(tp_backend *backend,
                                               tp_status *out);

struct tp_backend {
  const tp_backend_ops *ops;
  tp_space_kind kind;
  const char *name;                      /* "host", "pinned:0", "device:0" */
  tp_pool *pool;                         /* buffers come from here */
  tp_runtime *runtime;                   /* ranks and communicator */
  int device;                            /* CUDA device, -1 for host memory */
  void *ctx;                             /* the backend's own state */
  tp_backend_async_error_fn async_error; /* optional, see above */
};

/* Keeps `status` as the runtime's asynchronous error (the first one
 * only; tp_runtime_async_error reports it), with `context` and the calling
 * thread's current message: for stream-ordered work or frees that fail
 * where no caller can be told, e.g. the cleanup of a verb that is already
 * returning another failure. Any thread. */
void tp_runtime_record_async_error(tp_runtime *runtime, tp_status status,
                                   const char *context);

/* Registers `backend` (see above). TP_ERR_INVALID_ARGUMENT if a backend of
 * that kind is already registered (the caller keeps ownership then). */
tp_status tp_runtime_add_backend(tp_runtime *runtime, tp_backend *backend);
/* The registered backend of `kind`, or NULL. */
tp_backend *tp_runtime_backend(const tp_runtime *runtime, tp_space_kind kind);
/* The budget (pool limit) the runtime's configuration gives a space:
 * config value, or automatic (free bytes / ranks sharing the space). */
size_t tp_runtime_budget_for(const tp_runtime *runtime, tp_space_kind kind,
                             size_t free_bytes);

/* Backends beyond the host's come from providers listed in one table
 * (src/backends.c), so the runtime never names a platform's folder. Each
 * provider adds what it can to a runtime being created: a provider with
 * nothing to offer here (no GPU, a build without CUDA) adds nothing and
 * succeeds; a failure aborts the creation. */
typedef struct tp_backend_provider {
  const char *name;
  tp_status (*add)(tp_runtime *runtime);
} tp_backend_provider;

/* NULL-terminated, in the order the runtime calls them. */
extern const tp_backend_provider *const tp_backend_providers[];

/* The host backend; created by tp_runtime_create. */
tp_status tp_host_backend_create(tp_runtime *runtime, tp_pool *pool,
                                 tp_backend **out);

#endif
