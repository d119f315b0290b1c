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

/* ---- Reading and writing values from the host ----------------------------
 * The one way to see a buffer's values on the host, whatever space holds
 * them. tp_buffer_data is a pointer into the buffer's space: for a device
 * buffer (tp_buffer_is_host_accessible 0) the host must not dereference it;
 * and even host-readable memory may still be written by work queued on the
 * buffer's stream. tp_buffer_read copies through the backend (cudaMemcpyAsync
 * for device memory) after that work and returns when the bytes are there.
 *
 * These calls work on this rank's tile only (never collective), are
 * thread-safe for distinct buffers, and block the host: they are meant for
 * inspecting results and loading inputs, not for inner loops (keep those on
 * the device). */

/* What the caller will do with a tensor's memory, for tp_allocator_choose. */
typedef enum tp_access {
  TP_ACCESS_ANY = 0, /* any space: values are read with tp_buffer_read */
  TP_ACCESS_HOST = 1 /* host code dereferences tp_buffer_data directly */
} tp_access;

/* 1 when host code may dereference tp_buffer_data (host and pinned memory;
 * wait with tp_buffer_synchronize first if work is queued on the buffer's
 * stream), 0 for device memory or a NULL buffer. Pure. */
int tp_buffer_is_host_accessible(const tp_buffer *buffer);

/* Copies `bytes` bytes, starting `offset` bytes into this rank's tile, to
 * host memory at `host_dst`. The copy is queued on the buffer's stream,
 * after the work already queued there, and the call waits for it: on
 * success `host_dst` holds the values. TP_ERR_INVALID_ARGUMENT when the
 * range leaves the tile (nothing is copied); bytes == 0 succeeds without
 * touching `host_dst` (which may then be NULL). */
tp_status tp_buffer_read(const tp_buffer *buffer, size_t offset, size_t bytes,
                         void *host_dst);

/* Copies `bytes` bytes of host memory at `host_src` into this rank's tile,
 * starting `offset` bytes in, queued on the buffer's stream after the work
 * already there, and waits for it: on success `host_src` may be reused and
 * later work on the buffer's stream sees the new values. Only this rank's
 * copy changes: a replicated buffer written on one rank only is no longer
 * the same everywhere. */
tp_status tp_buffer_write(tp_buffer *buffer, size_t offset, size_t bytes,
                          const void *host_src);

/* Blocks until the work queued on the buffer's stream is done (at once for
 * host buffers, whose work runs when it is called). */
tp_status tp_buffer_synchronize(const tp_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif
