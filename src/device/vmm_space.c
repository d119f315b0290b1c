/* The VMM space's logic over a driver table (see vmm_space.h): granule
 * bookkeeping, mapping on growth and on commit, and unmapping free granules
 * once the work on their stream is done. No CUDA here: the CUDA driver
 * table is in vmm_cuda.c, and the tests drive this file with a simulated
 * one. */
#define _POSIX_C_SOURCE 200809L
#include "device/vmm_space.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum { GRANULE_UNMAPPED = 0, GRANULE_MAPPED = 1, GRANULE_PENDING = 2 };

/* The ticket of a granule mapped by the map_range call in progress (so a
 * failure can undo exactly those); decommit tickets skip it and 0. */
#define MAPPED_NOW UINT32_MAX

typedef struct vmm_segment {
  uintptr_t va;
  size_t reserved, bytes; /* reserved address space, mapped extent */
  size_t granules;        /* reserved / granule */
  uint8_t *state;         /* GRANULE_* per granule */
  uint64_t *handles;      /* the physical memory mapped there */
  uint32_t *tickets;      /* the pending decommit that will unmap it */
  struct vmm_segment *next;
} vmm_segment;

/* A decommit waiting for the work queued on its stream: the granules of
 * `seg` in [first, first + count) still marked with its ticket go once its
 * event has completed. Oldest first. */
typedef struct vmm_pending {
  uint32_t ticket;
  tp_event event;
  vmm_segment *seg;
  size_t first, count;
  struct vmm_pending *next;
} vmm_pending;

typedef struct tp_vmm_space {
  tp_space space; /* handed out; space.ctx points back here */
  tp_space_ops ops;
  const tp_vmm_driver *drv;
  const tp_space *events;
  size_t granule, reserve;
  pthread_mutex_t lock;
  vmm_segment *segments;
  vmm_pending *head, *tail;
  uint32_t next_ticket;
  tp_vmm_counts counts;
  char name[48];
} tp_vmm_space;

static const tp_space_ops *eops(const tp_vmm_space *v) {
  return v->events->ops;
}

static vmm_segment *segment_at(tp_vmm_space *v, uintptr_t p) {
  for (vmm_segment *g = v->segments; g; g = g->next)
    if (p >= g->va && p < g->va + g->reserved)
      return g;
  return NULL;
}

/* Unmaps and releases granule `i` of `g` (mapped or pending). */
static tp_status drop_granule(tp_vmm_space *v, vmm_segment *g, size_t i) {
  const tp_vmm_driver *d = v->drv;
  tp_status st = d->unmap(d->ctx, g->va + i * v->granule, v->granule);
  if (st == TP_SUCCESS)
    st = d->release(d->ctx, g->handles[i]);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: unmapping a granule", v->name);
  g->state[i] = GRANULE_UNMAPPED;
  g->tickets[i] = 0;
  v->counts.mapped_bytes -= v->granule;
  v->counts.unmaps++;
  return TP_SUCCESS;
}

/* Carries out the decommits whose streams have done their work, oldest
 * first, stopping at the first still waiting (FIFO keeps it O(done)). */
static void process_pending(tp_vmm_space *v) {
  while (v->head) {
    vmm_pending *p = v->head;
    bool done = false;
    if (eops(v)->event_query(v->events->ctx, p->event, &done) != TP_SUCCESS ||
        !done)
      return;
    for (size_t i = p->first; i < p->first + p->count; i++)
      if (p->seg->state[i] == GRANULE_PENDING &&
          p->seg->tickets[i] == p->ticket) {
        v->counts.pending_bytes -= v->granule;
        drop_granule(v, p->seg, i);
      }
    v->head = p->next;
    if (!v->head)
      v->tail = NULL;
    eops(v)->event_destroy(v->events->ctx, p->event);
    free(p);
  }
}

/* Makes granules [first, first + count) of `g` mapped: creates and maps
 * the unmapped ones, then takes back pending ones. On failure the granules
 * this call mapped are unmapped again and pending ones stay pending: the
 * range is as it was. */
static tp_status map_range(tp_vmm_space *v, vmm_segment *g, size_t first,
                           size_t count) {
  const tp_vmm_driver *d = v->drv;
  for (size_t i = first; i < first + count; i++) {
    if (g->state[i] != GRANULE_UNMAPPED)
      continue;
    uint64_t handle = 0;
    tp_status st = d->create(d->ctx, v->granule, &handle);
    if (st == TP_SUCCESS) {
      st = d->map(d->ctx, g->va + i * v->granule, v->granule, handle);
      if (st != TP_SUCCESS)
        d->release(d->ctx, handle);
    }
    if (st != TP_SUCCESS) {
      for (size_t k = first; k < i; k++)
        if (g->state[k] == GRANULE_MAPPED && g->tickets[k] == MAPPED_NOW)
          drop_granule(v, g, k);
      return tp_fail_context(st, "%s: mapping %zu bytes", v->name,
                             count * v->granule);
    }
    g->handles[i] = handle;
    g->state[i] = GRANULE_MAPPED;
    g->tickets[i] = MAPPED_NOW;
    v->counts.mapped_bytes += v->granule;
    v->counts.maps++;
  }
  for (size_t i = first; i < first + count; i++) {
    if (g->state[i] == GRANULE_PENDING) {
      v->counts.pending_bytes -= v->granule;
      v->counts.decommits_cancelled++;
    }
    g->state[i] = GRANULE_MAPPED;
    g->tickets[i] = 0;
  }
  return TP_SUCCESS;
}

static void free_segment(vmm_segment *g) {
  free(g->state);
  free(g->handles);
  free(g->tickets);
  free(g);
}

static tp_status vmm_get(void *ctx, size_t bytes, void **out) {
  tp_vmm_space *v = ctx;
  size_t gr = v->granule;
  if (bytes == 0 || bytes % gr)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: get of %zu bytes, not a multiple of the granule %zu",
                   v->name, bytes, gr);
  /* A segment never holds more than the space reserves for one: for a
   * device, its whole memory. */
  if (bytes > v->reserve)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: %zu bytes are more than a segment may hold (%zu)",
                   v->name, bytes, v->reserve);
  size_t reserve = v->reserve;
  vmm_segment *g = calloc(1, sizeof *g);
  size_t n = reserve / gr;
  if (g) {
    g->state = calloc(n, 1);
    g->handles = calloc(n, sizeof *g->handles);
    g->tickets = calloc(n, sizeof *g->tickets);
  }
  if (!g || !g->state || !g->handles || !g->tickets) {
    if (g)
      free_segment(g);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory for a segment's granule map", v->name);
  }
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  const tp_vmm_driver *d = v->drv;
  tp_status st = d->reserve(d->ctx, reserve, &g->va);
  if (st == TP_SUCCESS) {
    g->reserved = reserve;
    g->granules = n;
    st = map_range(v, g, 0, bytes / gr);
    if (st != TP_SUCCESS)
      d->unreserve(d->ctx, g->va, reserve);
  } else {
    st = tp_fail_context(st, "%s: reserving %zu bytes of addresses", v->name,
                         reserve);
  }
  if (st == TP_SUCCESS) {
    g->bytes = bytes;
    g->next = v->segments;
    v->segments = g;
    v->counts.segments++;
    v->counts.reserved_bytes += reserve;
    *out = (void *)g->va;
  }
  pthread_mutex_unlock(&v->lock);
  if (st != TP_SUCCESS)
    free_segment(g);
  return st;
}

/* Forgets the pending decommits of `g` (it is going away). */
static void cancel_pending_of(tp_vmm_space *v, vmm_segment *g) {
  vmm_pending **link = &v->head, *last = NULL;
  while (*link) {
    vmm_pending *p = *link;
    if (p->seg == g) {
      *link = p->next;
      eops(v)->event_destroy(v->events->ctx, p->event);
      free(p);
    } else {
      last = p;
      link = &p->next;
    }
  }
  v->tail = last;
}

static tp_status vmm_put(void *ctx, void *ptr, size_t bytes, tp_stream stream) {
  (void)bytes;
  tp_vmm_space *v = ctx;
  /* Unmapping does not wait for the device: the stream's work must be
   * done first. */
  tp_status st = eops(v)->stream_sync(v->events->ctx, stream);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: put of %p", v->name, ptr);
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  vmm_segment **link = &v->segments;
  while (*link && (*link)->va != (uintptr_t)ptr)
    link = &(*link)->next;
  vmm_segment *g = *link;
  if (!g) {
    pthread_mutex_unlock(&v->lock);
    return tp_fail(TP_ERR_INVALID_POINTER, "%s: %p is not one of its segments",
                   v->name, ptr);
  }
  cancel_pending_of(v, g);
  for (size_t i = 0; i < g->granules && st == TP_SUCCESS; i++) {
    if (g->state[i] == GRANULE_PENDING)
      v->counts.pending_bytes -= v->granule;
    if (g->state[i] != GRANULE_UNMAPPED)
      st = drop_granule(v, g, i);
  }
  if (st == TP_SUCCESS)
    st = v->drv->unreserve(v->drv->ctx, g->va, g->reserved);
  if (st == TP_SUCCESS) {
    *link = g->next;
    v->counts.segments--;
    v->counts.reserved_bytes -= g->reserved;
    free_segment(g);
  }
  pthread_mutex_unlock(&v->lock);
  return st;
}

static tp_status vmm_resize(void *ctx, void *ptr, size_t bytes,
                            size_t new_bytes, tp_stream stream) {
  tp_vmm_space *v = ctx;
  size_t gr = v->granule;
  if (new_bytes < bytes && stream) {
    tp_status st = eops(v)->stream_sync(v->events->ctx, stream);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "%s: shrinking %p", v->name, ptr);
  }
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  vmm_segment *g = segment_at(v, (uintptr_t)ptr);
  tp_status st = TP_SUCCESS;
  if (!g || g->va != (uintptr_t)ptr || g->bytes != bytes || new_bytes % gr ||
      new_bytes == 0)
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "%s: resize of %p from %zu to %zu bytes does not match a "
                 "segment",
                 v->name, ptr, bytes, new_bytes);
  else if (new_bytes > g->reserved)
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "%s: the segment at %p cannot grow to %zu bytes (%zu "
                 "reserved)",
                 v->name, ptr, new_bytes, g->reserved);
  else if (new_bytes > bytes)
    st = map_range(v, g, bytes / gr, (new_bytes - bytes) / gr);
  else
    for (size_t i = new_bytes / gr; i < bytes / gr && st == TP_SUCCESS; i++) {
      if (g->state[i] == GRANULE_PENDING)
        v->counts.pending_bytes -= gr;
      if (g->state[i] != GRANULE_UNMAPPED)
        st = drop_granule(v, g, i);
    }
  if (st == TP_SUCCESS)
    g->bytes = new_bytes;
  pthread_mutex_unlock(&v->lock);
  return st;
}

/* The segment and granule range of [ptr, ptr + bytes), or NULL. */
static vmm_segment *granules_of(tp_vmm_space *v, void *ptr, size_t bytes,
                                size_t *first, size_t *count) {
  uintptr_t p = (uintptr_t)ptr;
  vmm_segment *g = segment_at(v, p);
  size_t gr = v->granule;
  if (!g || (p - g->va) % gr || bytes % gr || bytes == 0 ||
      p - g->va + bytes > g->bytes)
    return NULL;
  *first = (p - g->va) / gr;
  *count = bytes / gr;
  return g;
}

static tp_status vmm_decommit(void *ctx, void *ptr, size_t bytes,
                              tp_stream stream) {
  tp_vmm_space *v = ctx;
  vmm_pending *p = calloc(1, sizeof *p);
  if (!p)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory", v->name);
  /* The event captures the work queued so far on the range's stream: the
   * granules go once it is done, without the host waiting for it. */
  tp_status st = eops(v)->event_create(v->events->ctx, &p->event);
  if (st == TP_SUCCESS) {
    st = eops(v)->event_record(v->events->ctx, p->event, stream);
    if (st != TP_SUCCESS)
      eops(v)->event_destroy(v->events->ctx, p->event);
  }
  if (st != TP_SUCCESS) {
    free(p);
    return tp_fail_context(st, "%s: decommit of %p", v->name, ptr);
  }
  pthread_mutex_lock(&v->lock);
  size_t first = 0, count = 0;
  vmm_segment *g = granules_of(v, ptr, bytes, &first, &count);
  if (!g) {
    pthread_mutex_unlock(&v->lock);
    eops(v)->event_destroy(v->events->ctx, p->event);
    free(p);
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: decommit of %zu bytes at %p is not whole granules of "
                   "a segment",
                   v->name, bytes, ptr);
  }
  if (++v->next_ticket == MAPPED_NOW)
    v->next_ticket = 1;
  p->ticket = v->next_ticket;
  p->seg = g;
  p->first = first;
  p->count = count;
  for (size_t i = first; i < first + count; i++)
    if (g->state[i] == GRANULE_MAPPED) {
      g->state[i] = GRANULE_PENDING;
      g->tickets[i] = p->ticket;
      v->counts.pending_bytes += v->granule;
    }
  if (v->tail)
    v->tail->next = p;
  else
    v->head = p;
  v->tail = p;
  process_pending(v);
  pthread_mutex_unlock(&v->lock);
  return TP_SUCCESS;
}

static tp_status vmm_commit(void *ctx, void *ptr, size_t bytes) {
  tp_vmm_space *v = ctx;
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  size_t first = 0, count = 0;
  vmm_segment *g = granules_of(v, ptr, bytes, &first, &count);
  tp_status st =
      g ? map_range(v, g, first, count)
        : tp_fail(TP_ERR_INVALID_ARGUMENT,
                  "%s: commit of %zu bytes at %p is not whole granules of a "
                  "segment",
                  v->name, bytes, ptr);
  pthread_mutex_unlock(&v->lock);
  return st;
}

/* Events and streams: those of the space given at creation. */
static tp_status vmm_event_create(void *ctx, tp_event *out) {
  tp_vmm_space *v = ctx;
  return eops(v)->event_create(v->events->ctx, out);
}
static tp_status vmm_event_destroy(void *ctx, tp_event event) {
  tp_vmm_space *v = ctx;
  return eops(v)->event_destroy(v->events->ctx, event);
}
static tp_status vmm_event_record(void *ctx, tp_event event, tp_stream s) {
  tp_vmm_space *v = ctx;
  return eops(v)->event_record(v->events->ctx, event, s);
}
static tp_status vmm_stream_wait(void *ctx, tp_stream s, tp_event event) {
  tp_vmm_space *v = ctx;
  return eops(v)->stream_wait(v->events->ctx, s, event);
}
static tp_status vmm_event_query(void *ctx, tp_event event, bool *done) {
  tp_vmm_space *v = ctx;
  return eops(v)->event_query(v->events->ctx, event, done);
}
static tp_status vmm_stream_sync(void *ctx, tp_stream s) {
  tp_vmm_space *v = ctx;
  tp_status st = eops(v)->stream_sync(v->events->ctx, s);
  /* A good moment: pending decommits on that stream can go now. */
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  pthread_mutex_unlock(&v->lock);
  return st;
}

tp_status tp_vmm_space_create_with(const tp_vmm_driver *driver,
                                   const tp_space *events,
                                   const tp_vmm_space_settings *settings,
                                   tp_space **out) {
  static const char fn[] = "tp_vmm_space_create";
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out-pointer", fn);
  *out = NULL;
  if (!driver || !events || !events->ops || !settings)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: NULL driver, events or "
                   "settings",
                   fn);
  size_t gr = settings->granule;
  if (gr < 256 || (gr & (gr - 1)))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: granule %zu is not a power of two of at least 256", fn,
                   gr);
  tp_vmm_space *v = calloc(1, sizeof *v);
  if (!v)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory", fn);
  v->drv = driver;
  v->events = events;
  v->granule = gr;
  size_t reserve = settings->reserve_bytes < gr ? gr : settings->reserve_bytes;
  v->reserve = (reserve + gr - 1) / gr * gr;
  snprintf(v->name, sizeof v->name, "%s",
           settings->name ? settings->name : "vmm");
  pthread_mutex_init(&v->lock, NULL);
  v->ops = (tp_space_ops)TP_SPACE_OPS_INIT;
  v->ops.get = vmm_get;
  v->ops.put = vmm_put;
  v->ops.event_create = vmm_event_create;
  v->ops.event_destroy = vmm_event_destroy;
  v->ops.event_record = vmm_event_record;
  v->ops.stream_wait = vmm_stream_wait;
  v->ops.event_query = vmm_event_query;
  v->ops.stream_sync = vmm_stream_sync;
  v->ops.page_bytes = gr;
  v->ops.resize = vmm_resize;
  v->ops.decommit = vmm_decommit;
  v->ops.commit = vmm_commit;
  v->space = (tp_space){&v->ops, v, settings->kind, settings->device, v->name};
  *out = &v->space;
  return TP_SUCCESS;
}

static tp_vmm_space *vmm_from(const tp_space *space) {
  if (!space || !space->ctx || !space->ops || space->ops->get != vmm_get)
    return NULL;
  return space->ctx;
}

tp_status tp_vmm_space_destroy_with(tp_space *space) {
  if (!space)
    return TP_SUCCESS;
  tp_vmm_space *v = vmm_from(space);
  if (!v)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_vmm_space_destroy: not a VMM space");
  pthread_mutex_lock(&v->lock);
  bool busy = v->segments != NULL;
  pthread_mutex_unlock(&v->lock);
  if (busy)
    return tp_fail(TP_ERR_BUSY,
                   "tp_vmm_space_destroy: %s still holds %llu segments (a "
                   "pool over it is alive): nothing was done",
                   v->name, (unsigned long long)v->counts.segments);
  pthread_mutex_destroy(&v->lock);
  free(v);
  return TP_SUCCESS;
}

bool tp_vmm_space_counts(const tp_space *space, tp_vmm_counts *out) {
  tp_vmm_space *v = vmm_from(space);
  if (!v)
    return false;
  pthread_mutex_lock(&v->lock);
  process_pending(v);
  *out = v->counts;
  pthread_mutex_unlock(&v->lock);
  return true;
}

tp_status tp_vmm_space_driver(const tp_space *space,
                              const tp_vmm_driver **out) {
  tp_vmm_space *v = vmm_from(space);
  if (!v)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "not a VMM space");
  *out = v->drv;
  return TP_SUCCESS;
}
