/* Internal: the buffer struct, shared by every kind and space, and the
 * helpers the verbs use to make and free buffers. */
#ifndef TP_CORE_BUFFER_INTERNAL_H
#define TP_CORE_BUFFER_INTERNAL_H

#include "runtime/backend.h"
#include "tensorpool/allocator.h"
#include "tensorpool/buffer.h"

struct tp_buffer {
  tp_buffer_kind kind;
  tp_layout layout;  /* global */
  tp_tiling *tiling; /* owned; distributed buffers only */
  tp_tile tile;      /* this rank's; the whole tensor unless distributed */
  void *data;        /* NULL when tile.count == 0 */
  size_t bytes;      /* tile.count * element size */
  tp_stream stream;  /* of the last use */
  tp_allocator *allocator;
  /* A view of memory the buffer does not own (tensor/buffer_view.h): set,
   * it gives the memory back instead of the pool. NULL for pool memory. */
  tp_status (*release)(tp_buffer *buffer);
  void *release_ctx;
};

/* The backend of an allocator (registered: allocators exist only for
 * registered backends). */
tp_backend *tp_allocator_backend_of(const tp_allocator *allocator);

/* Checks the arguments common to the verbs, resolves the tiling (NULL:
 * block split over the ranks), and allocates a buffer of this rank's tile
 * (no pool call for an empty tile). `fn` names the verb in messages. */
tp_status tp_buffer_new(const char *fn, tp_allocator *allocator,
                        const tp_layout *layout, const tp_tiling *tiling,
                        tp_stream stream, tp_buffer **out);

/* Frees a buffer made by tp_buffer_new, keeping the first failure. */
tp_status tp_buffer_free(tp_buffer *buffer);

/* A 64-bit hash of what ranks must agree on before a collective. */
uint64_t tp_buffer_hash(uint64_t seed, const tp_buffer *buffer);
uint64_t tp_hash_mix(uint64_t h, uint64_t value);

#endif
