/* Allocators: a backend (host, pinned, device) times a buffer kind (local,
 * replicated, distributed), over the backend's pool, made from a runtime.
 *
 * The runtime owns its allocators: tp_runtime_allocator and
 * tp_allocator_rebind hand out the same handle for the same (backend, kind),
 * valid until tp_runtime_destroy; there is nothing to free.
 *
 * Common rules of the verbs below:
 *   - Arguments: `tiling` is for distributed allocators: NULL means a block
 *     split of axis 0 over the runtime's ranks; otherwise it must have one
 *     part per rank and the same layout (TP_ERR_MISMATCH). Local and
 *     replicated allocators take NULL (a tiling given to them is
 *     TP_ERR_INVALID_ARGUMENT). The result keeps a tiling of its own: the
 *     caller may destroy `tiling` as soon as the call returns. A NULL
 *     allocator, layout, source, callback or out-pointer is
 *     TP_ERR_INVALID_ARGUMENT; a source made by another runtime's
 *     allocator is TP_ERR_MISMATCH. On any failure
 *     nothing is allocated, no callback has run unless said, and *out is
 *     untouched.
 *   - Streams (tensorpool/buffer.h has the whole rule): the work goes on
 *     `stream`, which becomes the result's stream. Each source is read on
 *     `stream` after `stream` was made to wait for the source's stream (an
 *     event, no host wait), and the read is recorded as a use of the
 *     source, so destroying the source later frees its memory only after
 *     the read. Host backends run the work on the calling thread before
 *     returning; device and pinned backends queue it: wait for `stream`
 *     (e.g. tp_device_stream_synchronize) before reading the result's
 *     memory on the host, or copy it into a host buffer.
 *   - Host blocking: host work blocks the calling thread while it runs; a
 *     pool that must grow calls its upstream (cudaMalloc and cudaHostAlloc
 *     may synchronize the device); MPI collectives block until every rank
 *     joins; the first NCCL collective of a runtime sets NCCL up (an
 *     MPI_Bcast and ncclCommInitRank, under a lock); collectives on pinned
 *     memory, or staged through the host, wait for `stream` first; a copy
 *     from device memory into a host buffer returns once it is done.
 *   - Collective: only tp_allocator_construct_copy and
 *     tp_allocator_construct_move on the routes that communicate (their
 *     comments say which). Collective calls must be made by every rank of
 *     the runtime in the same order; every other function here is local to
 *     the calling rank and may be called by one rank alone.
 *   - Thread safety: verbs may run concurrently from several threads on
 *     different destinations, and several may read the same source at once;
 *     collective verbs of one runtime must not run concurrently (they share
 *     one communicator): serialize them. */
#ifndef TENSORPOOL_ALLOCATOR_H
#define TENSORPOOL_ALLOCATOR_H

#include "tensorpool/buffer.h"
#include "tensorpool/generator.h"
#include "tensorpool/layout.h"
#include "tensorpool/runtime.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* The allocator of `backend` for `kind`. A backend the runtime does not
 * have: TP_ERR_NOT_SUPPORTED when the configuration disabled the space, else
 * TP_ERR_NO_DEVICE (the rank has no device; tensorpool/status.h). No stream,
 * collective: no, never blocks; any thread. */
tp_status tp_runtime_allocator(tp_runtime *runtime, tp_space_kind backend,
                               tp_buffer_kind kind, tp_allocator **out);

/* The allocator of the same backend for another kind. As above
 * (collective: no). */
tp_status tp_allocator_rebind(const tp_allocator *allocator,
                              tp_buffer_kind kind, tp_allocator **out);

/* Accessors (pure, any thread, collective: no). For NULL:
 * TP_BUFFER_KIND_INVALID, TP_SPACE_INVALID, NULL. */
tp_buffer_kind tp_allocator_kind_of(const tp_allocator *allocator);
tp_space_kind tp_allocator_space_kind_of(const tp_allocator *allocator);
tp_runtime *tp_allocator_runtime(const tp_allocator *allocator);
tp_pool *tp_allocator_pool(const tp_allocator *allocator);
/* "host/distributed", "device:0/local", ...; NULL for NULL. */
const char *tp_allocator_name(const tp_allocator *allocator);

/* The automatic allocator's decision. Versioned output: initialize with
 * TP_ALLOCATOR_CHOICE_INIT. */
typedef struct tp_allocator_choice {
  size_t struct_size;
  tp_allocator *allocator;
  tp_space_kind space;
  /* Why, with the figures it compared: a string owned by the library, valid
   * until the calling thread's next tp_allocator_choose. */
  const char *reason;
} tp_allocator_choice;

#define TP_ALLOCATOR_CHOICE_INIT                                               \
  { .struct_size = sizeof(tp_allocator_choice) }

/* Chooses the backend for a tensor of `layout` and `kind` from the bytes
 * this rank would hold (for a distributed tensor, whose tiling is not given
 * here, the largest tile of the block split over the ranks, as
 * docs/buffers.md says), the access the caller needs (tp_access,
 * tensorpool/buffer.h) and each backend's available memory
 * (tp_runtime_memory): with TP_ACCESS_ANY, the device when there is one, the
 * tensor is at least TP_AUTO_DEVICE_MIN_BYTES (smaller ones are not worth a
 * kernel launch and a transfer) and it fits in the device's available
 * memory; else (and always with TP_ACCESS_HOST) the host if it fits there;
 * else TP_ERR_OUT_OF_MEMORY with the figures in the message and in
 * out->reason. Code that dereferences tp_buffer_data asks TP_ACCESS_HOST;
 * code that reads values with tp_buffer_read may ask TP_ACCESS_ANY.
 * Collective: no (each rank decides from its own figures, so ranks may
 * choose different spaces). No stream; never blocks (the figures of
 * tp_runtime_memory). Any thread: the budgets are read under the runtime's
 * lock, so a concurrent tp_runtime_set_budget is seen whole or not at all,
 * and the reason string is the calling thread's own. */
#define TP_AUTO_DEVICE_MIN_BYTES ((size_t)1 << 16)
tp_status tp_allocator_choose(tp_runtime *runtime, const tp_layout *layout,
                              tp_buffer_kind kind, tp_access access,
                              tp_allocator_choice *out);

/* Uninitialized memory for this rank's tile, ready for work on `stream`
 * (nothing is queued: the pool hands out a block that `stream` may use).
 * Collective: no. Blocks only when the pool grows (see above). */
tp_status tp_allocator_allocate(tp_allocator *allocator,
                                const tp_layout *layout,
                                const tp_tiling *tiling, tp_stream stream,
                                tp_buffer **out);

/* Every element = `value` (see tp_scalar_store for conversions), filled on
 * `stream`. A value the type cannot hold allocates nothing. Collective:
 * no. */
tp_status tp_allocator_construct_value(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling, tp_scalar value,
                                       tp_stream stream, tp_buffer **out);

/* Every element = the generator's value at its global index
 * (tensorpool/generator.h): the same bits for every tiling and rank count.
 * Filled on `stream`; the generator is checked (tp_generator_check) before
 * anything is allocated. Collective: no. */
tp_status tp_allocator_construct_generator(tp_allocator *allocator,
                                           const tp_layout *layout,
                                           const tp_tiling *tiling,
                                           const tp_generator *generator,
                                           tp_stream stream, tp_buffer **out);

/* Fills this rank's tile: called once per rank (also for an empty tile,
 * with data NULL), on the calling thread, with the global layout, the tile
 * (global offsets and extents), the tile's memory (a device pointer for
 * device buffers) and the stream to queue work on (the result's stream).
 * Return 0 on success; anything else aborts the construction, frees what
 * was allocated, and gives TP_ERR_CALLBACK with the callback's own message
 * when it set one with tp_set_last_error. Collective: no; the callback runs
 * only after every argument was checked and the memory allocated. */
typedef int (*tp_tile_fill_fn)(void *user, const tp_layout *layout,
                               const tp_tile *tile, void *data,
                               tp_stream stream);

tp_status tp_allocator_construct_tiles(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling,
                                       tp_tile_fill_fn fill, void *user,
                                       tp_stream stream, tp_buffer **out);

/* A copy of `source` as a buffer of this allocator's kind and backend: a
 * conversion between kinds and spaces. Routes:
 *   replicated or local -> distributed: each rank keeps its tile (no
 *     communication);
 *   distributed -> replicated or local: an all-gather of the tiles;
 *   distributed -> distributed: a redistribution when the tilings differ;
 *   local -> replicated: rank 0's tensor is sent to every rank (a
 *     broadcast);
 *   replicated -> local and same-kind copies: a plain copy.
 * Streams: the work goes on `stream` after the source's stream (an event),
 * and is recorded as a use of the source (see above).
 *
 * Collective: exactly when the route may communicate, which the two kinds
 * decide alone: distributed -> anything, and local -> replicated, with more
 * than one rank. Then every rank of the runtime calls it, and the ranks
 * first check (one MPI_Allreduce) that they agree on layout, kinds and
 * tilings and that each could allocate its result: TP_ERR_MISMATCH, or the
 * failing rank's status, on every rank otherwise. A rank's own argument
 * errors (a NULL out-pointer, a source of another runtime, a bad tiling)
 * go through the same check; a NULL allocator or source cannot (without
 * both kinds there is no route): it is refused at once on its rank, and
 * the other ranks may wait, as with kinds that disagree. Every other route (to
 * distributed from local or replicated, replicated -> local or replicated,
 * local -> local) is local to the calling rank: no check, no waiting, and
 * ranks may pass buffers that differ. Since only the kinds decide, ranks
 * that pass the same kinds always take the same decision; ranks that pass
 * kinds which make the call collective on some and local on others are in
 * error, as ranks calling different MPI collectives are, and may hang. */
tp_status tp_allocator_construct_copy(tp_allocator *allocator,
                                      const tp_buffer *source,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out);

/* As construct_copy, but consumes *source. Its memory becomes the result's,
 * with no copy, when the backend is the same and the memory already holds
 * the result's tile:
 *   - the same kind (distributed: the same tiling, `tiling` or the block
 *     split when NULL);
 *   - replicated -> local;
 *   - one rank: any kinds (a distributed buffer over one rank holds the
 *     whole tensor).
 * Every other move is a copy followed by freeing the source (ordered after
 * the copy); in particular local -> replicated over several ranks is a
 * broadcast of rank 0's tensor, as in construct_copy. A reused buffer moves
 * to `stream` as tp_buffer_set_stream does. On success *source is set to
 * NULL (the moved-from handle is empty, never dangling) and then *out to
 * the result, so `out` may be `source` (b = move of b); on failure both
 * are left intact. Exclusive use of *source. Collective: as construct_copy,
 * from the kinds alone, whether or not the storage is reused (a
 * distributed -> distributed move is collective even where it reuses: the
 * ranks check that they agree on the tilings). */
tp_status tp_allocator_construct_move(tp_allocator *allocator,
                                      tp_buffer **source,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out);

/* A buffer over memory the caller already has: `data` holds this rank's
 * tile (the whole tensor unless distributed; tp_buffer_tile_of says which)
 * in the allocator's space (host memory for host allocators, device memory
 * of the runtime's device for device allocators, page-locked memory for
 * pinned ones), row-major, at least the tile's bytes, aligned to the element
 * size. The library cannot check the space or the size: the caller vouches
 * for them. `data` may be NULL only for an empty tile.
 *
 * The buffer's stream is `stream`: the work that produced `data` must be on
 * it (or done). At tp_buffer_destroy, once `stream` waits for every
 * recorded use, `deleter(user, data, stream)` is called (if not NULL;
 * once, also for an empty tile, with the `data` given) to release the
 * memory ordered after that stream (tp_buffer_deleter_fn);
 * with a NULL deleter the caller keeps ownership and must keep the memory
 * until the buffer's work is done. The buffer acts as any other: verbs read
 * it, propagate its allocator, and moves may hand its memory (and deleter)
 * on. tp_buffer_pool of it is NULL. On failure the caller keeps `data` and
 * the deleter is never called. Collective: no; no host wait; any thread. */
tp_status tp_allocator_wrap(tp_allocator *allocator, const tp_layout *layout,
                            const tp_tiling *tiling, void *data,
                            tp_buffer_deleter_fn deleter, void *user,
                            tp_stream stream, tp_buffer **out);

TP_END_DECLS

#endif
