/* Allocators: a backend (host, pinned, device) times a buffer kind (local,
 * replicated, distributed), over the backend's pool, made from a runtime.
 *
 * The runtime owns its allocators: tp_runtime_allocator and
 * tp_allocator_rebind hand out the same handle for the same (backend, kind),
 * valid until tp_runtime_destroy; there is nothing to free.
 *
 * Every verb takes the stream its work is queued on (host work runs at
 * once). `tiling` is for distributed allocators: NULL means a block split of
 * axis 0 over the runtime's ranks; otherwise it must have one part per rank
 * and the same layout (TP_ERR_MISMATCH). Local and replicated allocators
 * take NULL. On any failure nothing is allocated and *out is untouched.
 *
 * Collective calls: only tp_allocator_construct_copy and
 * tp_allocator_construct_move on the routes that communicate (their
 * comments say which); every other function here is local to the calling
 * rank and may be called by one rank alone. */
#ifndef TENSORPOOL_ALLOCATOR_H
#define TENSORPOOL_ALLOCATOR_H

#include "tensorpool/buffer.h"
#include "tensorpool/generator.h"
#include "tensorpool/layout.h"
#include "tensorpool/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The allocator of `backend` for `kind`. TP_ERR_NOT_SUPPORTED (with the
 * reason) when the backend is not available here. Collective: no. */
tp_status tp_runtime_allocator(tp_runtime *runtime, tp_space_kind backend,
                               tp_buffer_kind kind, tp_allocator **out);

/* The allocator of the same backend for another kind. Collective: no. */
tp_status tp_allocator_rebind(const tp_allocator *allocator,
                              tp_buffer_kind kind, tp_allocator **out);

/* Accessors (pure). Collective: no. */
tp_buffer_kind tp_allocator_kind_of(const tp_allocator *allocator);
tp_space_kind tp_allocator_space_kind_of(const tp_allocator *allocator);
tp_runtime *tp_allocator_runtime(const tp_allocator *allocator);
tp_pool *tp_allocator_pool(const tp_allocator *allocator);
/* "host/distributed", "device:0/local", ... */
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
 * this rank would hold and each backend's available memory
 * (tp_runtime_memory): the device when there is one, the tensor is at least
 * TP_AUTO_DEVICE_MIN_BYTES (smaller ones are not worth a kernel launch and a
 * transfer) and it fits in the device's available memory; else the host if
 * it fits there; else TP_ERR_OUT_OF_MEMORY with the figures in the message
 * and in out->reason. Collective: no (each rank decides from its own
 * figures, so ranks may choose different spaces). */
#define TP_AUTO_DEVICE_MIN_BYTES ((size_t)1 << 16)
tp_status tp_allocator_choose(tp_runtime *runtime, const tp_layout *layout,
                              tp_buffer_kind kind, tp_allocator_choice *out);

/* Uninitialized memory for this rank's tile. Collective: no. */
tp_status tp_allocator_allocate(tp_allocator *allocator,
                                const tp_layout *layout,
                                const tp_tiling *tiling, tp_stream stream,
                                tp_buffer **out);

/* Every element = `value` (see tp_scalar_store for conversions).
 * Collective: no. */
tp_status tp_allocator_construct_value(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling, tp_scalar value,
                                       tp_stream stream, tp_buffer **out);

/* Every element = the generator's value at its global index
 * (tensorpool/generator.h): the same bits for every tiling and rank count.
 * Collective: no. */
tp_status tp_allocator_construct_generator(tp_allocator *allocator,
                                           const tp_layout *layout,
                                           const tp_tiling *tiling,
                                           const tp_generator *generator,
                                           tp_stream stream, tp_buffer **out);

/* Fills this rank's tile: called once per rank (also for an empty tile,
 * with data NULL) with the global layout, the tile (global offsets and
 * extents), the tile's memory (a device pointer for device buffers) and the
 * stream to queue work on. Return 0 on success; anything else aborts the
 * construction, frees what was allocated, and gives TP_ERR_CALLBACK.
 * Collective: no. */
typedef int (*tp_tile_fill_fn)(void *user, const tp_layout *layout,
                               const tp_tile *tile, void *data,
                               tp_stream stream);

tp_status tp_allocator_construct_tiles(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling,
                                       tp_tile_fill_fn fill, void *user,
                                       tp_stream stream, tp_buffer **out);

/* A copy of `source` as a buffer of this allocator's kind and backend: a
 * conversion between kinds and spaces.
 *   replicated or local -> distributed: each rank keeps its tile (no
 *     communication);
 *   distributed -> replicated or local: an all-gather of the tiles;
 *   distributed -> distributed: a redistribution when the tilings differ;
 *   local -> replicated: rank 0's tensor is sent to every rank;
 *   replicated -> local and same-kind copies: a plain copy.
 *
 * Collective: exactly when the route may communicate, which the two kinds
 * decide alone: distributed -> anything, and local -> replicated, with more
 * than one rank. Then every rank of the runtime calls it, and the ranks
 * first check (one MPI_Allreduce) that they agree on layout, kinds and
 * tilings and that each could allocate its result: TP_ERR_MISMATCH, or the
 * failing rank's status, on every rank otherwise. Every other route (to
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

/* As construct_copy, but consumes *source: its memory is reused when the
 * backend is the same and the data already is what the result holds (same
 * kind and tiling, replicated <-> local, or one rank), otherwise it is
 * copied and freed. On success *source is set to NULL (the moved-from
 * handle is empty, never dangling); on failure it is left intact.
 * Collective: as construct_copy, from the kinds alone, whether or not the
 * storage is reused (a distributed -> distributed move is collective even
 * where it reuses: the ranks check that they agree on the tilings). */
tp_status tp_allocator_construct_move(tp_allocator *allocator,
                                      tp_buffer **source,
                                      const tp_tiling *tiling, tp_stream stream,
                                      tp_buffer **out);

#ifdef __cplusplus
}
#endif

#endif
