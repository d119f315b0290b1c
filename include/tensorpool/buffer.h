/* Buffers: one type for every memory space (host, pinned, device) and every
 * kind of tensor.
 *
 *   LOCAL       the whole tensor, this rank's own (other ranks may hold
 *               something else or nothing).
 *   REPLICATED  the whole tensor, the same on every rank.
 *   DISTRIBUTED one tile per rank, as a tiling (tensorpool/layout.h) says;
 *               a rank whose tile is empty holds no memory (data NULL).
 *
 * A buffer knows its global layout, the tile this rank holds (the whole
 * tensor unless distributed), its data, its space, the stream it was last
 * used on, and the allocator that made it, through which results computed
 * from it are allocated (propagation). Buffers come from an allocator
 * (tensorpool/allocator.h) and go back with tp_buffer_destroy. */
#ifndef TENSORPOOL_BUFFER_H
#define TENSORPOOL_BUFFER_H

#include <stddef.h>

#include "tensorpool/layout.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tp_buffer_kind {
  TP_BUFFER_LOCAL = 0,
  TP_BUFFER_REPLICATED = 1,
  TP_BUFFER_DISTRIBUTED = 2
} tp_buffer_kind;

#define TP_BUFFER_KIND_COUNT 3

typedef struct tp_buffer tp_buffer;
typedef struct tp_allocator tp_allocator;

/* The kind-specific views of a buffer: the same object seen through its
 * kind. Get them with the downcasts below; give them back with
 * tp_*_buffer_base. */
typedef struct tp_local_buffer tp_local_buffer;
typedef struct tp_replicated_buffer tp_replicated_buffer;
typedef struct tp_distributed_buffer tp_distributed_buffer;

/* "local", "replicated", "distributed"; "invalid" otherwise. */
const char *tp_buffer_kind_name(tp_buffer_kind kind);

/* Gives the memory back to the allocator's pool, ordered after the work
 * queued on the buffer's stream. NULL does nothing. */
tp_status tp_buffer_destroy(tp_buffer *buffer);

/* Accessors (pure; NULL or 0 for a NULL buffer). */
tp_buffer_kind tp_buffer_kind_of(const tp_buffer *buffer);
const tp_layout *tp_buffer_layout(const tp_buffer *buffer); /* global */
const tp_tile *tp_buffer_tile(const tp_buffer *buffer);     /* this rank's */
void *tp_buffer_data(const tp_buffer *buffer);   /* NULL for an empty tile */
size_t tp_buffer_bytes(const tp_buffer *buffer); /* bytes of this tile */
const tp_space *tp_buffer_space(const tp_buffer *buffer);
tp_stream tp_buffer_stream(const tp_buffer *buffer);
tp_allocator *tp_buffer_allocator(const tp_buffer *buffer);
/* The tiling of a distributed buffer; NULL for the other kinds. */
const tp_tiling *tp_buffer_tiling(const tp_buffer *buffer);

/* Records that work on the buffer is now queued on `stream`: its memory
 * will be freed ordered after that stream. */
tp_status tp_buffer_set_stream(tp_buffer *buffer, tp_stream stream);

/* Downcasts: the view of the buffer's kind, or NULL (with tp_last_error()
 * saying which kind it is) for a NULL buffer or another kind. */
tp_local_buffer *tp_buffer_as_local(tp_buffer *buffer);
tp_replicated_buffer *tp_buffer_as_replicated(tp_buffer *buffer);
tp_distributed_buffer *tp_buffer_as_distributed(tp_buffer *buffer);

tp_buffer *tp_local_buffer_base(tp_local_buffer *buffer);
tp_buffer *tp_replicated_buffer_base(tp_replicated_buffer *buffer);
tp_buffer *tp_distributed_buffer_base(tp_distributed_buffer *buffer);

/* Kind-specific accessors. */
/* Ranks holding a copy. */
int tp_replicated_buffer_ranks(const tp_replicated_buffer *buffer);
const tp_tiling *tp_distributed_buffer_tiling(const tp_distributed_buffer *b);
/* The tile of another rank (no communication: the tiling knows). */
tp_status tp_distributed_buffer_tile_of(const tp_distributed_buffer *buffer,
                                        int rank, tp_tile *out);

/* A visitor: tp_buffer_visit calls the entry of the buffer's kind and
 * returns its status; a NULL entry gives TP_ERR_NOT_SUPPORTED. */
typedef struct tp_buffer_visitor {
  tp_status (*local)(void *user, tp_local_buffer *buffer);
  tp_status (*replicated)(void *user, tp_replicated_buffer *buffer);
  tp_status (*distributed)(void *user, tp_distributed_buffer *buffer);
} tp_buffer_visitor;

tp_status tp_buffer_visit(tp_buffer *buffer, const tp_buffer_visitor *visitor,
                          void *user);

#ifdef __cplusplus
}
#endif

#endif
