/* Internal: the buffer struct, shared by every kind and space, and the
 * helpers the verbs use to make, order and free buffers. */
#ifndef TP_CORE_BUFFER_INTERNAL_H
#define TP_CORE_BUFFER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "runtime/backend.h"
#include "tensorpool/allocator.h"
#include "tensorpool/buffer.h"

/* Another stream that used the buffer: the event recorded on it after that
 * use, which the buffer's own stream waits on before the memory is freed. */
typedef struct tp_buffer_use {
  tp_stream stream;
  tp_event event;
  bool recorded; /* false until the use's work was queued */
} tp_buffer_use;

struct tp_buffer {
  tp_buffer_kind kind;
  tp_layout layout;  /* global */
  tp_tiling *tiling; /* owned; distributed buffers only */
  tp_tile tile;      /* this rank's; the whole tensor unless distributed */
  void *data;        /* NULL when tile.count == 0 */
  size_t bytes;      /* tile.count * element size */
  tp_allocator *allocator;

  /* Wrapped memory (tp_allocator_wrap): not from the pool; the deleter, if
   * any, gets `wrapped` back at destroy. */
  bool is_wrapped;
  void *wrapped;
  tp_buffer_deleter_fn deleter;
  void *deleter_user;

  /* Stream ordering, with events of the buffer's space. Guarded by `lock`
   * because a source buffer is read (and so gains uses) by verbs that take
   * it as const, possibly from several threads at once. */
  pthread_mutex_t lock;
  tp_stream stream; /* the buffer's own: its producers and its free */
  tp_event ready;   /* recorded on `stream` to order a consumer after it */
  bool has_ready;
  tp_buffer_use *uses; /* one per other stream that used the buffer */
  int use_count, use_capacity;

  /* A view of memory the buffer does not own (tensor/buffer_view.h, DLPack
   * imports): set, it gives the memory back (is_wrapped is set too, with no
   * deleter). NULL otherwise. */
  tp_status (*release)(tp_buffer *buffer);
  void *release_ctx;
};

/* The backend of an allocator (registered: allocators exist only for
 * registered backends). */
tp_backend *tp_allocator_backend_of(const tp_allocator *allocator);

/* TP_ERR_INVALID_ARGUMENT naming the first NULL of the verbs' common
 * arguments. */
tp_status tp_buffer_check_args(const char *fn, const tp_allocator *allocator,
                               const tp_layout *layout, tp_buffer **out);
/* Checks the arguments common to the verbs, resolves the tiling (NULL:
 * block split over the ranks), and makes a buffer of this rank's tile with
 * no memory yet (data NULL). `fn` names the verb in messages. */
tp_status tp_buffer_make(const char *fn, tp_allocator *allocator,
                         const tp_layout *layout, const tp_tiling *tiling,
                         tp_stream stream, tp_buffer **out);
/* tp_buffer_make, then the tile's memory from the allocator's pool on
 * `stream` (no pool call for an empty tile). */
tp_status tp_buffer_new(const char *fn, tp_allocator *allocator,
                        const tp_layout *layout, const tp_tiling *tiling,
                        tp_stream stream, tp_buffer **out);
/* The tiling a distributed buffer of `layout` made by `allocator` gets: a
 * copy of `tiling` (TP_ERR_MISMATCH unless it splits `layout` over the
 * runtime's ranks), or a block split when NULL. */
tp_status tp_buffer_resolve_tiling(const char *fn, const tp_allocator *a,
                                   const tp_layout *layout,
                                   const tp_tiling *tiling, tp_tiling **out);

/* Frees a buffer: its stream waits for every recorded use, then the memory
 * goes back (pool free or deleter) on that stream; keeps the first
 * failure. If the waits fail the memory is kept, never freed early. */
tp_status tp_buffer_free(tp_buffer *buffer);

/* Frees a result the verb abandons because it is returning another
 * failure: a failure of this free cannot be returned, so it becomes the
 * runtime's asynchronous error (tp_runtime_async_error); the verb's
 * message is kept. */
void tp_buffer_discard(tp_buffer *buffer);
/* Frees a staged block on `stream`: a failure becomes *st when that is
 * TP_SUCCESS, else the runtime's asynchronous error (keeping the message
 * of *st). */
void tp_pool_free_or_record(tp_pool *pool, void *ptr, tp_stream stream,
                            tp_runtime *rt, tp_status *st);

/* Reading `source` on `stream` (buffer_streams.c). Before queuing the
 * work: begin_use makes `stream` wait for the work queued on the source's
 * stream (an event, no host wait) and prepares the use's event. After
 * queuing it (also after a failure, when part of it may be queued):
 * end_use records that event on `stream`, so the source's memory is freed
 * only after it. Both do nothing when `stream` is the source's own. The
 * source is const to the caller; its ordering state is guarded by its
 * lock. */
tp_status tp_buffer_begin_use(const tp_buffer *source, tp_stream stream);
tp_status tp_buffer_end_use(const tp_buffer *source, tp_stream stream);

/* Makes `stream` the buffer's own stream, ordered after the old one (an
 * event: the old stream may be destroyed afterwards). */
tp_status tp_buffer_move_to_stream(tp_buffer *buffer, tp_stream stream);

/* Waits for the recorded uses on the buffer's stream and destroys the
 * buffer's events (buffer_streams.c; used by tp_buffer_free). */
tp_status tp_buffer_order_release(tp_buffer *buffer);
void tp_buffer_events_fini(tp_buffer *buffer);

/* The space whose events order the buffer: its backend's pool's. */
const tp_space *tp_buffer_space_of(const tp_buffer *buffer);

/* A 64-bit hash of what ranks must agree on before a collective. */
uint64_t tp_buffer_hash(uint64_t seed, const tp_buffer *buffer);
uint64_t tp_hash_mix(uint64_t h, uint64_t value);

#endif
