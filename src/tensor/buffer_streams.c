/* Stream ordering of buffers: consumers after producers, the free after
 * every consumer (the rules are in tensorpool/buffer.h). Events come from
 * the buffer's space (CUDA events for CUDA spaces; complete at once for
 * pageable host memory), created once per buffer and per consuming stream
 * and re-recorded for later uses: a later record covers more of the same
 * stream's work, and waits already queued keep what they captured. */
#include <stdlib.h>

#include "core/error.h"
#include "tensor/buffer_internal.h"

/* The space's table is a callback table (a user may fill one): failures
 * keep the space's own message (tp_fail_callback). */
static tp_status event_create(const tp_space *s, tp_event *out) {
  uint64_t mark = tp_error_serial();
  tp_status st = s->ops->event_create(s->ctx, out);
  if (st != TP_SUCCESS)
    return tp_fail_callback(st, mark, "space '%s': creating an event", s->name);
  return TP_SUCCESS;
}

static tp_status event_record(const tp_space *s, tp_event event,
                              tp_stream stream) {
  uint64_t mark = tp_error_serial();
  tp_status st = s->ops->event_record(s->ctx, event, stream);
  if (st != TP_SUCCESS)
    return tp_fail_callback(st, mark,
                            "space '%s': recording an event on stream %p",
                            s->name, (void *)stream);
  return TP_SUCCESS;
}

static tp_status stream_wait(const tp_space *s, tp_stream stream,
                             tp_event event) {
  uint64_t mark = tp_error_serial();
  tp_status st = s->ops->stream_wait(s->ctx, stream, event);
  if (st != TP_SUCCESS)
    return tp_fail_callback(st, mark,
                            "space '%s': making stream %p wait for an event",
                            s->name, (void *)stream);
  return TP_SUCCESS;
}

/* `stream` waits for the work queued on b->stream so far. Lock held. */
static tp_status order_after_locked(tp_buffer *b, tp_stream stream) {
  if (stream == b->stream)
    return TP_SUCCESS;
  const tp_space *s = tp_buffer_space_of(b);
  if (!b->has_ready) {
    tp_status st = event_create(s, &b->ready);
    if (st != TP_SUCCESS)
      return st;
    b->has_ready = true;
  }
  tp_status st = event_record(s, b->ready, b->stream);
  if (st == TP_SUCCESS)
    st = stream_wait(s, stream, b->ready);
  return st;
}

/* The use entry of `stream`, made (with its event) if new. Lock held. */
static tp_status use_of(tp_buffer *b, tp_stream stream, tp_buffer_use **out) {
  for (int i = 0; i < b->use_count; ++i)
    if (b->uses[i].stream == stream) {
      *out = &b->uses[i];
      return TP_SUCCESS;
    }
  if (b->use_count == b->use_capacity) {
    int capacity = b->use_capacity ? 2 * b->use_capacity : 4;
    tp_buffer_use *grown = realloc(b->uses, (size_t)capacity * sizeof *grown);
    if (!grown)
      return tp_fail(TP_ERR_OUT_OF_MEMORY,
                     "no host memory to record a buffer's %d-th stream",
                     b->use_count + 1);
    b->uses = grown;
    b->use_capacity = capacity;
  }
  tp_buffer_use *u = &b->uses[b->use_count];
  tp_status st = event_create(tp_buffer_space_of(b), &u->event);
  if (st != TP_SUCCESS)
    return st;
  u->stream = stream;
  u->recorded = false;
  b->use_count++;
  *out = u;
  return TP_SUCCESS;
}

/* The lock guards bookkeeping that readers of a const buffer change. */
static tp_buffer *locked(const tp_buffer *source) {
  tp_buffer *b = (tp_buffer *)source;
  pthread_mutex_lock(&b->lock);
  return b;
}

tp_status tp_buffer_begin_use(const tp_buffer *source, tp_stream stream) {
  tp_buffer *b = locked(source);
  tp_status st = TP_SUCCESS;
  if (stream != b->stream) {
    tp_buffer_use *u;
    /* The use's event is made now, so that once the reads are queued
     * nothing but the record itself can fail. */
    st = use_of(b, stream, &u);
    if (st == TP_SUCCESS)
      st = order_after_locked(b, stream);
  }
  pthread_mutex_unlock(&b->lock);
  return st;
}

tp_status tp_buffer_end_use(const tp_buffer *source, tp_stream stream) {
  tp_buffer *b = locked(source);
  tp_status st = TP_SUCCESS;
  if (stream != b->stream) {
    tp_buffer_use *u;
    st = use_of(b, stream, &u);
    if (st == TP_SUCCESS)
      st = event_record(tp_buffer_space_of(b), u->event, stream);
    if (st == TP_SUCCESS)
      u->recorded = true;
  }
  pthread_mutex_unlock(&b->lock);
  return st;
}

tp_status tp_buffer_move_to_stream(tp_buffer *b, tp_stream stream) {
  pthread_mutex_lock(&b->lock);
  tp_status st = order_after_locked(b, stream);
  if (st == TP_SUCCESS)
    b->stream = stream;
  pthread_mutex_unlock(&b->lock);
  return st;
}

tp_status tp_buffer_set_stream(tp_buffer *b, tp_stream stream) {
  if (!b)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_buffer_set_stream: NULL buffer");
  tp_status st = tp_buffer_move_to_stream(b, stream);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_buffer_set_stream");
  return TP_SUCCESS;
}

tp_status tp_buffer_record_stream(const tp_buffer *b, tp_stream stream) {
  if (!b)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_buffer_record_stream: NULL buffer");
  tp_status st = tp_buffer_end_use(b, stream);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_buffer_record_stream");
  return TP_SUCCESS;
}

tp_status tp_buffer_order_release(tp_buffer *b) {
  const tp_space *s = tp_buffer_space_of(b);
  tp_status st = TP_SUCCESS;
  for (int i = 0; st == TP_SUCCESS && i < b->use_count; ++i) {
    const tp_buffer_use *u = &b->uses[i];
    /* A use on what is now the buffer's own stream is in its order. */
    if (u->recorded && u->stream != b->stream)
      st = stream_wait(s, b->stream, u->event);
  }
  return st;
}

void tp_buffer_events_fini(tp_buffer *b) {
  const tp_space *s = tp_buffer_space_of(b);
  /* Destroying an event after the waits on it were queued is allowed: the
   * waits keep what the event captured. */
  for (int i = 0; i < b->use_count; ++i)
    s->ops->event_destroy(s->ctx, b->uses[i].event);
  if (b->has_ready)
    s->ops->event_destroy(s->ctx, b->ready);
  b->use_count = 0;
  b->has_ready = false;
}
