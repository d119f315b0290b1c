#define _POSIX_C_SOURCE 200809L
#include "support/sim_space.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct sim_wait {
  struct sim_stream *on;
  uint64_t seq;
  struct sim_wait *next;
} sim_wait;

typedef struct sim_stream {
  uint64_t submitted, completed;
  sim_wait *waits;
  struct sim_stream *next_stream;
} sim_stream;

typedef struct sim_event {
  sim_stream *stream;
  uint64_t seq;
} sim_event;

typedef struct sim_put {
  void *ptr;
  size_t bytes;
  sim_stream *stream;
  uint64_t seq;
  struct sim_put *next;
} sim_put;

/* A segment of the space with virtual memory: where it lies, how far it
 * may grow, which pages are given back. */
typedef struct sim_segment {
  char *base;
  size_t bytes, reserve;
  uint8_t *decommitted; /* one byte per page of the reservation */
  struct sim_segment *next;
} sim_segment;

struct tp_sim {
  pthread_mutex_t lock;
  tp_space space;
  tp_space_ops vm_ops; /* the table with virtual memory, when enabled */
  size_t vm_page;
  sim_segment *segments;
  size_t capacity;
  unsigned fail_next;
  tp_sim_counters counters;
  sim_stream default_stream; /* what the NULL stream handle means */
  sim_stream *streams;
  sim_put *pending;
};

static sim_stream *resolve(tp_sim *sim, tp_stream s) {
  return s ? (sim_stream *)s : &sim->default_stream;
}

/* Frees the puts whose stream work has completed. Lock held. */
static void retire_puts(tp_sim *sim) {
  sim_put **link = &sim->pending;
  while (*link) {
    sim_put *p = *link;
    if (p->stream->completed >= p->seq) {
      *link = p->next;
      free(p->ptr);
      sim->counters.bytes_out -= p->bytes;
      sim->counters.bytes_pending -= p->bytes;
      free(p);
    } else {
      link = &p->next;
    }
  }
}

/* The segment holding `p`, or NULL. Lock held. */
static sim_segment *segment_of(tp_sim *sim, const void *p) {
  for (sim_segment *g = sim->segments; g; g = g->next)
    if ((const char *)p >= g->base && (const char *)p < g->base + g->reserve)
      return g;
  return NULL;
}

static tp_status vm_reserve(tp_sim *sim, size_t bytes, void **out) {
  if (bytes % sim->vm_page)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "sim space: get of %zu bytes, not whole pages", bytes);
  sim_segment *g = calloc(1, sizeof *g);
  size_t reserve = 4 * bytes;
  if (g)
    g->decommitted = calloc(reserve / sim->vm_page, 1);
  if (!g || !g->decommitted ||
      posix_memalign((void **)&g->base, sim->vm_page, reserve) != 0) {
    if (g)
      free(g->decommitted);
    free(g);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: host memory exhausted");
  }
  g->bytes = bytes;
  g->reserve = reserve;
  g->next = sim->segments;
  sim->segments = g;
  *out = g->base;
  return TP_SUCCESS;
}

/* Forgets the segment at `base` (put). Lock held. */
static void vm_forget(tp_sim *sim, void *base) {
  for (sim_segment **link = &sim->segments; *link; link = &(*link)->next) {
    sim_segment *g = *link;
    if (g->base == base) {
      for (size_t i = 0; i < g->bytes / sim->vm_page; i++)
        if (g->decommitted[i])
          sim->counters.bytes_decommitted -= sim->vm_page;
      *link = g->next;
      free(g->decommitted);
      free(g);
      return;
    }
  }
}

static tp_status sim_get(void *ctx, size_t bytes, void **out) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  tp_status st = TP_SUCCESS;
  if (sim->fail_next > 0) {
    sim->fail_next--;
    st = tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: injected failure");
  } else if (bytes > sim->capacity ||
             sim->counters.bytes_out > sim->capacity - bytes) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "sim space: %zu bytes asked, %zu of %zu out", bytes,
                 sim->counters.bytes_out, sim->capacity);
  } else if (sim->vm_page) {
    st = vm_reserve(sim, bytes, out);
  } else if (posix_memalign(out, 256, bytes) != 0) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: host memory exhausted");
  }
  if (st == TP_SUCCESS) {
    sim->counters.gets++;
    sim->counters.bytes_out += bytes;
  } else {
    sim->counters.failed_gets++;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_put_op(void *ctx, void *ptr, size_t bytes,
                            tp_stream stream) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim->counters.puts++;
  if (sim->vm_page)
    vm_forget(sim, ptr);
  sim_stream *s = resolve(sim, stream);
  sim_put *p = malloc(sizeof *p);
  if (p) {
    *p = (sim_put){ptr, bytes, s, s->submitted, sim->pending};
    sim->pending = p;
    sim->counters.bytes_pending += bytes;
    retire_puts(sim);
  }
  pthread_mutex_unlock(&sim->lock);
  return p ? TP_SUCCESS : tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: no memory");
}

static tp_status sim_event_create(void *ctx, tp_event *out) {
  tp_sim *sim = ctx;
  sim_event *e = calloc(1, sizeof *e);
  if (!e)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: no memory for an event");
  pthread_mutex_lock(&sim->lock);
  sim->counters.events_created++;
  pthread_mutex_unlock(&sim->lock);
  *out = (tp_event)e;
  return TP_SUCCESS;
}

static tp_status sim_event_destroy(void *ctx, tp_event event) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim->counters.events_destroyed++;
  pthread_mutex_unlock(&sim->lock);
  free(event);
  return TP_SUCCESS;
}

static tp_status sim_event_record(void *ctx, tp_event event, tp_stream stream) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_event *e = (sim_event *)event;
  e->stream = resolve(sim, stream);
  e->seq = e->stream->submitted;
  sim->counters.records++;
  pthread_mutex_unlock(&sim->lock);
  return TP_SUCCESS;
}

static tp_status sim_stream_wait(void *ctx, tp_stream stream, tp_event event) {
  tp_sim *sim = ctx;
  sim_wait *w = malloc(sizeof *w);
  if (!w)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "sim space: no memory for a wait");
  pthread_mutex_lock(&sim->lock);
  sim_event *e = (sim_event *)event;
  sim_stream *waiter = resolve(sim, stream);
  *w = (sim_wait){e->stream, e->seq, waiter->waits};
  waiter->waits = w;
  sim->counters.waits++;
  pthread_mutex_unlock(&sim->lock);
  return TP_SUCCESS;
}

static tp_status sim_event_query(void *ctx, tp_event event, bool *done) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_event *e = (sim_event *)event;
  *done = !e->stream || e->stream->completed >= e->seq;
  sim->counters.queries++;
  pthread_mutex_unlock(&sim->lock);
  return TP_SUCCESS;
}

static tp_status sim_stream_sync(void *ctx, tp_stream stream) {
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_stream *s = resolve(sim, stream);
  s->completed = s->submitted;
  sim->counters.syncs++;
  retire_puts(sim);
  pthread_mutex_unlock(&sim->lock);
  return TP_SUCCESS;
}

static const tp_space_ops sim_ops = {
    sizeof(tp_space_ops),
    sim_get,
    sim_put_op,
    sim_event_create,
    sim_event_destroy,
    sim_event_record,
    sim_stream_wait,
    sim_event_query,
    sim_stream_sync,
    0,
    NULL,
    NULL,
    NULL,
};

static tp_status sim_resize(void *ctx, void *ptr, size_t bytes,
                            size_t new_bytes, tp_stream stream) {
  (void)stream;
  tp_sim *sim = ctx;
  pthread_mutex_lock(&sim->lock);
  sim_segment *g = segment_of(sim, ptr);
  tp_status st = TP_SUCCESS;
  if (!g || g->base != ptr || g->bytes != bytes || new_bytes % sim->vm_page)
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "sim space: resize of %p from %zu to %zu bytes does not match "
                 "a segment",
                 ptr, bytes, new_bytes);
  else if (new_bytes > g->reserve ||
           (new_bytes > bytes &&
            sim->counters.bytes_out + (new_bytes - bytes) > sim->capacity))
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "sim space: the segment at %p cannot grow to %zu bytes", ptr,
                 new_bytes);
  if (st == TP_SUCCESS) {
    if (new_bytes > bytes) {
      sim->counters.grows++;
      sim->counters.bytes_out += new_bytes - bytes;
    } else {
      sim->counters.shrinks++;
      sim->counters.bytes_out -= bytes - new_bytes;
      /* Pages past the end are gone, given back or not. */
      for (size_t i = new_bytes / sim->vm_page; i < bytes / sim->vm_page; i++)
        if (g->decommitted[i]) {
          g->decommitted[i] = 0;
          sim->counters.bytes_decommitted -= sim->vm_page;
        }
    }
    g->bytes = new_bytes;
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

/* Marks pages given back or committed again; refuses ranges that are not
 * whole pages inside a segment (the pool must never ask for those). */
static tp_status mark_pages(tp_sim *sim, void *ptr, size_t bytes, bool back) {
  pthread_mutex_lock(&sim->lock);
  sim_segment *g = segment_of(sim, ptr);
  size_t off = g ? (size_t)((char *)ptr - g->base) : 0;
  tp_status st = TP_SUCCESS;
  if (!g || off % sim->vm_page || bytes % sim->vm_page || !bytes ||
      off + bytes > g->bytes) {
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "sim space: %s of %zu bytes at %p is not whole pages of a "
                 "segment",
                 back ? "decommit" : "commit", bytes, ptr);
  } else {
    for (size_t i = off / sim->vm_page; i < (off + bytes) / sim->vm_page; i++) {
      if (g->decommitted[i] != back && back)
        sim->counters.bytes_decommitted += sim->vm_page;
      else if (g->decommitted[i] != back)
        sim->counters.bytes_decommitted -= sim->vm_page;
      g->decommitted[i] = back;
    }
    if (back) {
      sim->counters.decommits++;
      memset(ptr, 0xDD, bytes); /* what was there is gone */
    } else {
      sim->counters.commits++;
    }
  }
  pthread_mutex_unlock(&sim->lock);
  return st;
}

static tp_status sim_decommit(void *ctx, void *ptr, size_t bytes,
                              tp_stream stream) {
  (void)stream;
  return mark_pages(ctx, ptr, bytes, true);
}

static tp_status sim_commit(void *ctx, void *ptr, size_t bytes) {
  return mark_pages(ctx, ptr, bytes, false);
}

void tp_sim_enable_vm(tp_sim *sim, size_t page, bool with_commit) {
  pthread_mutex_lock(&sim->lock);
  sim->vm_page = page;
  sim->vm_ops = sim_ops;
  sim->vm_ops.page_bytes = page;
  sim->vm_ops.resize = sim_resize;
  sim->vm_ops.decommit = sim_decommit;
  sim->vm_ops.commit = with_commit ? sim_commit : NULL;
  sim->space.ops = &sim->vm_ops;
  pthread_mutex_unlock(&sim->lock);
}

bool tp_sim_committed(tp_sim *sim, const void *ptr, size_t bytes) {
  pthread_mutex_lock(&sim->lock);
  sim_segment *g = sim->vm_page ? segment_of(sim, ptr) : NULL;
  bool ok = true;
  if (g) {
    size_t first = (size_t)((const char *)ptr - g->base) / sim->vm_page;
    size_t end =
        ((size_t)((const char *)ptr - g->base) + bytes + sim->vm_page - 1) /
        sim->vm_page;
    for (size_t i = first; i < end && ok; i++)
      ok = !g->decommitted[i] && i < g->bytes / sim->vm_page;
  }
  pthread_mutex_unlock(&sim->lock);
  return ok;
}

tp_sim *tp_sim_create(size_t capacity) {
  tp_sim *sim = calloc(1, sizeof *sim);
  if (!sim)
    return NULL;
  pthread_mutex_init(&sim->lock, NULL);
  sim->capacity = capacity;
  sim->space = (tp_space){&sim_ops, sim, TP_SPACE_OTHER, -1, "sim"};
  return sim;
}

static void free_waits(sim_stream *s) {
  while (s->waits) {
    sim_wait *next = s->waits->next;
    free(s->waits);
    s->waits = next;
  }
}

size_t tp_sim_destroy(tp_sim *sim) {
  while (sim->pending) {
    sim_put *p = sim->pending;
    sim->pending = p->next;
    free(p->ptr);
    sim->counters.bytes_out -= p->bytes;
    free(p);
  }
  while (sim->streams) {
    sim_stream *next = sim->streams->next_stream;
    free_waits(sim->streams);
    free(sim->streams);
    sim->streams = next;
  }
  free_waits(&sim->default_stream);
  while (sim->segments) {
    /* Never put: a leak, reported below; the memory itself goes now. */
    sim_segment *g = sim->segments;
    sim->segments = g->next;
    free(g->base);
    free(g->decommitted);
    free(g);
  }
  size_t leaked = sim->counters.bytes_out;
  pthread_mutex_destroy(&sim->lock);
  free(sim);
  return leaked;
}

const tp_space *tp_sim_space(tp_sim *sim) {
  return &sim->space;
}

tp_stream tp_sim_stream_create(tp_sim *sim) {
  sim_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  pthread_mutex_lock(&sim->lock);
  s->next_stream = sim->streams;
  sim->streams = s;
  pthread_mutex_unlock(&sim->lock);
  return (tp_stream)s;
}

void tp_sim_stream_destroy(tp_sim *sim, tp_stream stream) {
  /* Streams stay allocated until the sim goes (events may name them); a
   * destroyed stream just completes its work. */
  tp_sim_complete(sim, stream, UINT64_MAX);
}

uint64_t tp_sim_enqueue(tp_sim *sim, tp_stream stream) {
  pthread_mutex_lock(&sim->lock);
  uint64_t seq = ++resolve(sim, stream)->submitted;
  pthread_mutex_unlock(&sim->lock);
  return seq;
}

void tp_sim_complete(tp_sim *sim, tp_stream stream, uint64_t seq) {
  pthread_mutex_lock(&sim->lock);
  sim_stream *s = resolve(sim, stream);
  uint64_t upto = seq < s->submitted ? seq : s->submitted;
  if (upto > s->completed)
    s->completed = upto;
  retire_puts(sim);
  pthread_mutex_unlock(&sim->lock);
}

void tp_sim_complete_all(tp_sim *sim) {
  pthread_mutex_lock(&sim->lock);
  sim->default_stream.completed = sim->default_stream.submitted;
  for (sim_stream *s = sim->streams; s; s = s->next_stream)
    s->completed = s->submitted;
  retire_puts(sim);
  pthread_mutex_unlock(&sim->lock);
}

uint64_t tp_sim_completed(tp_sim *sim, tp_stream stream) {
  pthread_mutex_lock(&sim->lock);
  uint64_t c = resolve(sim, stream)->completed;
  pthread_mutex_unlock(&sim->lock);
  return c;
}

bool tp_sim_waits_for(tp_sim *sim, tp_stream waiter, tp_stream waited,
                      uint64_t seq) {
  pthread_mutex_lock(&sim->lock);
  sim_stream *w = resolve(sim, waiter), *on = resolve(sim, waited);
  bool found = false;
  for (sim_wait *x = w->waits; x && !found; x = x->next)
    found = x->on == on && x->seq >= seq;
  pthread_mutex_unlock(&sim->lock);
  return found;
}

void tp_sim_fail_next_gets(tp_sim *sim, unsigned count) {
  pthread_mutex_lock(&sim->lock);
  sim->fail_next = count;
  pthread_mutex_unlock(&sim->lock);
}

void tp_sim_set_capacity(tp_sim *sim, size_t capacity) {
  pthread_mutex_lock(&sim->lock);
  sim->capacity = capacity;
  pthread_mutex_unlock(&sim->lock);
}

tp_sim_counters tp_sim_get_counters(tp_sim *sim) {
  pthread_mutex_lock(&sim->lock);
  tp_sim_counters c = sim->counters;
  pthread_mutex_unlock(&sim->lock);
  return c;
}
