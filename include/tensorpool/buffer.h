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
 * tensor unless distributed), its data, its space, its stream, and the
 * allocator that made it, through which results computed from it are
 * allocated (propagation). Buffers come from an allocator
 * (tensorpool/allocator.h) and go back with tp_buffer_destroy.
 *
 * Streams (the rule of CUDA's stream-ordered allocator, and of PyTorch's
 * recordStream):
 *   - A buffer has one stream of its own: the stream of the verb that made
 *     it. Its producers' work is on it, and its memory is freed on it.
 *   - Every verb that reads a buffer on another stream S first makes S wait
 *     for the work queued on the buffer's stream (an event: no host wait),
 *     then, after queuing its reads, records on S an event the buffer keeps
 *     (a "use"). tp_buffer_record_stream does the same for work the caller
 *     queues.
 *   - tp_buffer_destroy makes the buffer's stream wait for every use's
 *     event, then frees on that stream: the memory is handed out again only
 *     after the last reader, on any stream. Why this way (and not by
 *     recording events on the readers' streams at destroy, or by polling):
 *     the events are recorded when the reads are queued, so a reader's
 *     stream may be destroyed right after (an event outlives its stream),
 *     and freeing stays a stream-ordered call with no host wait. The cost:
 *     later work on the buffer's own stream also waits for those readers.
 *   - The buffer's stream must stay valid until the buffer is destroyed or
 *     moved to another stream with tp_buffer_set_stream.
 *   - Events are those of the buffer's space: CUDA events for device and
 *     pinned memory; for pageable host memory every event is complete at
 *     once, since host work runs on the calling thread.
 *   - Reading the values on the host: host buffers are ready when the verb
 *     that made them returns; for device and pinned buffers, wait for the
 *     buffer's stream first (see tensorpool/device.h), or copy them into a
 *     host buffer with tp_allocator_construct_copy.
 *
 * Thread safety: calls that only read a buffer (accessors, using it as the
 * source of a copy, clone, conversion or operation, tp_buffer_read,
 * tp_buffer_synchronize, tp_buffer_record_stream) may run on the same
 * buffer from several threads at once; they take a const handle. Calls that
 * change or consume it (tp_buffer_destroy, tp_buffer_set_stream, a move
 * from it, tp_buffer_write, writing its data) need the caller's exclusive
 * use of it. Distinct buffers are independent.
 *
 * Collective: nothing in this header is; each call works on this rank's
 * tile only. docs/api.md has the table of every function's rules. */
#ifndef TENSORPOOL_BUFFER_H
#define TENSORPOOL_BUFFER_H

#include <stddef.h>

#include "tensorpool/layout.h"
#include "tensorpool/pool.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef enum tp_buffer_kind {
  TP_BUFFER_KIND_INVALID = -1, /* what tp_buffer_kind_of(NULL) gives */
  TP_BUFFER_LOCAL = 0,
  TP_BUFFER_REPLICATED = 1,
  TP_BUFFER_DISTRIBUTED = 2
} tp_buffer_kind;

#define TP_BUFFER_KIND_COUNT 3

typedef struct tp_buffer tp_buffer;
typedef struct tp_allocator tp_allocator;

/* Releases memory that a buffer wraps (tp_allocator_wrap). Called once, by
 * tp_buffer_destroy, with the `data` and `user` given to tp_allocator_wrap
 * and the buffer's stream, after that stream was made to wait for every
 * recorded use: release `data` ordered after the work queued on `stream`
 * (e.g. cudaFreeAsync(data, stream), or wait for the stream, then free).
 * Return 0 on success; anything else makes tp_buffer_destroy return
 * TP_ERR_CALLBACK (set a message with tp_set_last_error). */
typedef int (*tp_buffer_deleter_fn)(void *user, void *data, tp_stream stream);

/* "local", "replicated", "distributed"; "invalid" otherwise. Pure. */
const char *tp_buffer_kind_name(tp_buffer_kind kind);

/* Gives the memory back, ordered after every use: the buffer's stream waits
 * for the recorded uses (events), then the memory goes back to the
 * allocator's pool (or to the deleter of wrapped memory) on that stream.
 * Does not wait on the host, except: the pool may give the block back
 * upstream at once when its cache bounds say so, and a space whose release
 * is not stream-ordered (cudaFree, cudaFreeHost) waits for the stream
 * first (tp_pool_free); a wrapped buffer's deleter does what it does; a
 * DLPack import waits for its stream before the producer's deleter
 * (tensorpool/dlpack.h). NULL does nothing and succeeds. Should the waits
 * fail, the memory is kept (never freed while a reader may still run) and
 * the failure returned; the handle is gone in every case. Not collective.
 * Exclusive use. */
tp_status tp_buffer_destroy(tp_buffer *buffer);

/* Accessors (pure; the sentinel for a NULL buffer is NULL, 0, -1 or
 * TP_BUFFER_KIND_INVALID as written). Any thread. */
tp_buffer_kind tp_buffer_kind_of(const tp_buffer *buffer);
const tp_layout *tp_buffer_layout(const tp_buffer *buffer); /* global */
const tp_tile *tp_buffer_tile(const tp_buffer *buffer);     /* this rank's */
void *tp_buffer_data(const tp_buffer *buffer);   /* NULL for an empty tile */
size_t tp_buffer_bytes(const tp_buffer *buffer); /* bytes of this tile; 0 */
const tp_space *tp_buffer_space(const tp_buffer *buffer);
/* The buffer's own stream (see above); NULL is also CUDA's default stream,
 * so a NULL buffer cannot be told apart here: check the buffer first. */
tp_stream tp_buffer_stream(const tp_buffer *buffer);
tp_allocator *tp_buffer_allocator(const tp_buffer *buffer);
/* The pool the memory comes from: the allocator's pool (also for an empty
 * buffer, which holds no block of it); NULL for memory the buffer does not
 * own (tp_allocator_wrap, DLPack imports) and for a NULL buffer. */
tp_pool *tp_buffer_pool(const tp_buffer *buffer);
/* The CUDA device whose memory holds the data; -1 for host memory
 * (pageable or pinned) and for a NULL buffer. */
int tp_buffer_device(const tp_buffer *buffer);
/* The tiling of a distributed buffer; NULL for the other kinds. */
const tp_tiling *tp_buffer_tiling(const tp_buffer *buffer);

/* Moves the buffer to `stream`: `stream` is made to wait for the work
 * queued on the buffer's current stream (an event, no host wait), then
 * becomes the buffer's stream, on which later verbs order their reads and
 * tp_buffer_destroy frees. Nothing is dropped: uses recorded before stay
 * recorded, and the old stream may be destroyed once this returns. Use it
 * when the buffer's producer stream goes away, or to hand the buffer to
 * another stream for writing. Never blocks the host; not collective.
 * Exclusive use of the buffer. */
tp_status tp_buffer_set_stream(tp_buffer *buffer, tp_stream stream);

/* Records that work the caller queued on `stream` uses the buffer (an
 * event recorded on `stream` now, as PyTorch's recordStream): the memory
 * is freed only after that work. Additive: every stream recorded stays
 * recorded until destroy (recording a stream again covers its newer work).
 * Call it after queuing the work; the stream may be destroyed afterwards.
 * It does not order `stream` after the buffer's producers: do that first
 * (e.g. wait for tp_buffer_stream's work with an event of your own). The
 * buffer's own stream needs no record. No host wait; not collective; safe
 * alongside other readers of the buffer (the use list has its own lock),
 * hence the const handle, as the verbs take their sources. */
tp_status tp_buffer_record_stream(const tp_buffer *buffer, tp_stream stream);

/* The tile `rank` holds (no communication: the tiling knows). For local
 * and replicated buffers, the whole tensor. TP_ERR_INVALID_ARGUMENT for a
 * rank outside the runtime. Pure; any thread. */
tp_status tp_buffer_tile_of(const tp_buffer *buffer, int rank, tp_tile *out);

/* ---- Reading and writing values from the host ----------------------------
 * The one way to see a buffer's values on the host, whatever space holds
 * them. tp_buffer_data is a pointer into the buffer's space: for a device
 * buffer (tp_buffer_is_host_accessible 0) the host must not dereference it;
 * and even host-readable memory may still be written by work queued on the
 * buffer's stream. tp_buffer_read copies through the backend (cudaMemcpyAsync
 * for device memory) after that work and returns when the bytes are there.
 *
 * These calls work on this rank's tile only (never collective), block the
 * host, and follow the buffer's thread rule above (read and synchronize
 * may run alongside other readers; write needs exclusive use): they are
 * meant for inspecting results and loading inputs, not for inner loops
 * (keep those on the device). */

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

TP_END_DECLS

#endif
