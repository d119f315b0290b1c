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

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef enum tp_buffer_kind {
  TP_BUFFER_LOCAL = 0,
  TP_BUFFER_REPLICATED = 1,
  TP_BUFFER_DISTRIBUTED = 2
} tp_buffer_kind;

#define TP_BUFFER_KIND_COUNT 3

typedef struct tp_buffer tp_buffer;
typedef struct tp_allocator tp_allocator;

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

/* The tile `rank` holds (no communication: the tiling knows). For local
 * and replicated buffers, the whole tensor. TP_ERR_INVALID_ARGUMENT for a
 * rank outside the runtime. */
tp_status tp_buffer_tile_of(const tp_buffer *buffer, int rank, tp_tile *out);

TP_END_DECLS

#endif
