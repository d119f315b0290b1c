/* Buffers: one struct for every kind and space. Stream ordering lives in
 * buffer_streams.c, wrapping caller memory in buffer_wrap.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"
#include "tensor/tiling_internal.h"

const char *tp_buffer_kind_name(tp_buffer_kind kind) {
  switch (kind) {
  case TP_BUFFER_LOCAL: return "local";
  case TP_BUFFER_REPLICATED: return "replicated";
  case TP_BUFFER_DISTRIBUTED: return "distributed";
  case TP_BUFFER_KIND_INVALID: break;
  }
  return "invalid";
}

tp_backend *tp_allocator_backend_of(const tp_allocator *allocator) {
  return allocator->runtime->backends[allocator->backend];
}

tp_status tp_buffer_resolve_tiling(const char *fn, const tp_allocator *a,
                                   const tp_layout *layout,
                                   const tp_tiling *tiling, tp_tiling **out) {
  const tp_runtime *rt = a->runtime;
  if (!tiling)
    return tp_tiling_create_block(layout, rt->size, out);
  int same;
  tp_layout_equal(layout, &tiling->layout, &same);
  if (!same || tiling->parts != rt->size)
    return tp_fail(TP_ERR_MISMATCH,
                   "%s: the tiling (%d parts of a %s %d-d tensor) does not "
                   "fit this %s %d-d layout over %d ranks",
                   fn, tiling->parts, tp_dtype_name(tiling->layout.dtype),
                   tiling->layout.ndim, tp_dtype_name(layout->dtype),
                   layout->ndim, rt->size);
  return tp_tiling_clone(tiling, out);
}

tp_status tp_buffer_check_args(const char *fn, const tp_allocator *allocator,
                               const tp_layout *layout, tp_buffer **out) {
  if (!allocator || !layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !allocator ? "allocator"
                   : !layout  ? "layout"
                              : "out-pointer");
  return TP_SUCCESS;
}

tp_status tp_buffer_make(const char *fn, tp_allocator *allocator,
                         const tp_layout *layout, const tp_tiling *tiling,
                         tp_stream stream, tp_buffer **out) {
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  size_t count;
  st = tp_layout_count(layout, &count);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  if (allocator->kind != TP_BUFFER_DISTRIBUTED && tiling)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: a tiling was given to a %s allocator (distributed "
                   "only)",
                   fn, tp_buffer_kind_name(allocator->kind));
  /* malloc, not calloc: glibc's calloc skips the per-thread cache, and a
   * conversion makes and frees a buffer per call. */
  tp_buffer *b = malloc(sizeof *b);
  if (!b)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for a buffer", fn);
  *b = (tp_buffer){0};
  b->kind = allocator->kind;
  b->layout = *layout;
  b->stream = stream;
  b->allocator = allocator;
  if (b->kind == TP_BUFFER_DISTRIBUTED) {
    st = tp_buffer_resolve_tiling(fn, allocator, layout, tiling, &b->tiling);
    if (st == TP_SUCCESS)
      st = tp_tiling_tile(b->tiling, allocator->runtime->rank, &b->tile);
  } else {
    st = tp_layout_whole_tile(layout, &b->tile);
    b->tile.part = allocator->runtime->rank;
  }
  if (st == TP_SUCCESS && pthread_mutex_init(&b->lock, NULL) != 0)
    st = tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no lock for a buffer", fn);
  if (st != TP_SUCCESS) {
    tp_tiling_destroy(b->tiling);
    free(b);
    return st;
  }
  b->bytes = b->tile.count * tp_dtype_size(layout->dtype);
  tp_runtime_buffer_born(allocator->runtime); /* it must outlive the buffer */
  *out = b;
  return TP_SUCCESS;
}

/* Frees a buffer that never held memory or uses (a failed construction),
 * or whose memory was given back; the runtime may go once none is left. */
static void discard(tp_buffer *b) {
  tp_runtime_buffer_gone(b->allocator->runtime);
  pthread_mutex_destroy(&b->lock);
  tp_tiling_destroy(b->tiling);
  free(b);
}

tp_status tp_buffer_new(const char *fn, tp_allocator *allocator,
                        const tp_layout *layout, const tp_tiling *tiling,
                        tp_stream stream, tp_buffer **out) {
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  tp_buffer *b = NULL;
  st = tp_buffer_make(fn, allocator, layout, tiling, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  /* An empty tile holds no memory: the pool refuses size 0. */
  if (b->bytes > 0) {
    tp_backend *backend = tp_allocator_backend_of(allocator);
    st = tp_pool_alloc(backend->pool, b->bytes, stream, &b->data);
    if (st != TP_SUCCESS) {
      st = tp_fail_context(st,
                           "%s: %zu bytes for the %s tile of rank %d from %s",
                           fn, b->bytes, tp_buffer_kind_name(b->kind),
                           allocator->runtime->rank, allocator->name);
      discard(b);
      return st;
    }
  }
  *out = b;
  return TP_SUCCESS;
}

/* Gives the memory back on the buffer's stream (already ordered after every
 * use): to the pool, to the deleter of wrapped memory, or through a view's
 * release (tensor/buffer_view.h). */
static tp_status give_back(tp_buffer *b) {
  if (b->release)
    return b->release(b);
  if (b->is_wrapped) {
    if (!b->deleter)
      return TP_SUCCESS;
    uint64_t mark = tp_error_serial();
    int rc = b->deleter(b->deleter_user, b->wrapped, b->stream);
    if (rc != 0)
      return tp_fail_callback(TP_ERR_CALLBACK, mark,
                              "the deleter of wrapped memory %p returned %d",
                              b->wrapped, rc);
    return TP_SUCCESS;
  }
  if (!b->data)
    return TP_SUCCESS;
  tp_backend *backend = tp_allocator_backend_of(b->allocator);
  return tp_pool_free(backend->pool, b->data, b->stream);
}

tp_status tp_buffer_free(tp_buffer *b) {
  tp_status st = tp_buffer_order_release(b);
  if (st == TP_SUCCESS)
    st = give_back(b);
  else
    st = tp_fail_context(st,
                         "%zu bytes were not freed, as readers on other "
                         "streams could not be waited for",
                         b->bytes);
  tp_buffer_events_fini(b);
  free(b->uses);
  discard(b);
  return st;
}

void tp_buffer_discard(tp_buffer *b) {
  /* The verb's own failure message is what its caller must read. */
  char saved[1024];
  snprintf(saved, sizeof saved, "%s", tp_last_error());
  tp_runtime *rt = b->allocator->runtime;
  tp_status st = tp_buffer_free(b);
  if (st != TP_SUCCESS) {
    tp_runtime_record_async_error(rt, st, "freeing a failed verb's result");
    tp_fail(st, "%s", saved);
  }
}

void tp_pool_free_or_record(tp_pool *pool, void *ptr, tp_stream stream,
                            tp_runtime *rt, tp_status *st) {
  char saved[1024];
  snprintf(saved, sizeof saved, "%s", tp_last_error());
  tp_status freed = tp_pool_free(pool, ptr, stream);
  if (freed == TP_SUCCESS)
    return;
  if (*st == TP_SUCCESS) {
    *st = freed;
    return;
  }
  tp_runtime_record_async_error(rt, freed, "freeing a staged copy");
  tp_fail(*st, "%s", saved);
}

tp_status tp_buffer_destroy(tp_buffer *buffer) {
  if (!buffer)
    return TP_SUCCESS;
  tp_status st = tp_buffer_free(buffer);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_buffer_destroy");
  return TP_SUCCESS;
}

tp_buffer_kind tp_buffer_kind_of(const tp_buffer *b) {
  return b ? b->kind : TP_BUFFER_KIND_INVALID;
}
const tp_layout *tp_buffer_layout(const tp_buffer *b) {
  return b ? &b->layout : NULL;
}
const tp_tile *tp_buffer_tile(const tp_buffer *b) {
  return b ? &b->tile : NULL;
}
void *tp_buffer_data(const tp_buffer *b) {
  return b ? b->data : NULL;
}
size_t tp_buffer_bytes(const tp_buffer *b) {
  return b ? b->bytes : 0;
}
const tp_space *tp_buffer_space_of(const tp_buffer *b) {
  return tp_pool_space(tp_allocator_backend_of(b->allocator)->pool);
}
const tp_space *tp_buffer_space(const tp_buffer *b) {
  return b ? tp_buffer_space_of(b) : NULL;
}
tp_stream tp_buffer_stream(const tp_buffer *b) {
  if (!b)
    return NULL;
  /* set_stream needs exclusive use, but verbs read the stream under the
   * lock: take it here too so that a reader never sees a torn value. */
  pthread_mutex_lock(&((tp_buffer *)b)->lock);
  tp_stream s = b->stream;
  pthread_mutex_unlock(&((tp_buffer *)b)->lock);
  return s;
}
tp_allocator *tp_buffer_allocator(const tp_buffer *b) {
  return b ? b->allocator : NULL;
}
tp_pool *tp_buffer_pool(const tp_buffer *b) {
  if (!b || b->is_wrapped)
    return NULL;
  return tp_allocator_backend_of(b->allocator)->pool;
}
int tp_buffer_device(const tp_buffer *b) {
  if (!b)
    return -1;
  const tp_space *s = tp_buffer_space_of(b);
  return s->kind == TP_SPACE_DEVICE ? s->device : -1;
}
const tp_tiling *tp_buffer_tiling(const tp_buffer *b) {
  return b ? b->tiling : NULL;
}

tp_status tp_buffer_tile_of(const tp_buffer *b, int rank, tp_tile *out) {
  if (!b || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_buffer_tile_of: NULL %s",
                   !b ? "buffer" : "out");
  const tp_runtime *rt = b->allocator->runtime;
  if (rank < 0 || rank >= rt->size)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_buffer_tile_of: rank %d is outside 0..%d", rank,
                   rt->size - 1);
  if (b->tiling)
    return tp_tiling_tile(b->tiling, rank, out);
  /* Local and replicated buffers: every rank holds the whole tensor. */
  tp_status st = tp_layout_whole_tile(&b->layout, out);
  if (st == TP_SUCCESS)
    out->part = rank;
  return st;
}

/* splitmix64's finalizer: a cheap mix in which every input bit affects
 * every output bit. */
uint64_t tp_hash_mix(uint64_t h, uint64_t value) {
  uint64_t z = h ^ (value + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t tp_buffer_hash(uint64_t seed, const tp_buffer *b) {
  uint64_t h = tp_hash_mix(seed, (uint64_t)b->kind);
  h = tp_hash_mix(h, (uint64_t)b->layout.dtype);
  h = tp_hash_mix(h, (uint64_t)b->layout.ndim);
  for (int k = 0; k < b->layout.ndim; ++k)
    h = tp_hash_mix(h, (uint64_t)b->layout.extents[k]);
  if (b->tiling)
    for (int p = 0; p <= b->tiling->parts; ++p)
      h = tp_hash_mix(h, (uint64_t)b->tiling->first[p]);
  return h;
}
