/* The pool: creation, the alloc and free fast paths, destruction. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
#include "pool/pool_internal.h"

static atomic_uint pool_counter;

static tp_status check_space(const tp_space *space) {
  if (!space || !space->ops)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: NULL space or space without operations");
  const tp_space_ops *o = space->ops;
  /* Every entry of today's table is required, so the caller's version must
   * have them all. */
  if (o->struct_size <
      offsetof(tp_space_ops, stream_sync) + sizeof o->stream_sync)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: space '%s' has an operations table of "
                   "struct_size %zu (initialize it with TP_SPACE_OPS_INIT)",
                   space->name ? space->name : "?", o->struct_size);
  if (!o->get || !o->put || !o->event_create || !o->event_destroy ||
      !o->event_record || !o->stream_wait || !o->event_query || !o->stream_sync)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: space '%s' leaves an operation NULL",
                   space->name ? space->name : "?");
  return TP_SUCCESS;
}

static tp_status check_config(const tp_pool_config *c) {
  if (c->limit == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: a limit of 0 bytes allows no allocation "
                   "(use TP_UNLIMITED for no limit)");
  if (c->divisions == 0 || c->divisions > 16 ||
      (c->divisions & (c->divisions - 1)))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: divisions must be 1, 2, 4, 8 or 16, not %u",
                   c->divisions);
  return TP_SUCCESS;
}

tp_status tp_pool_create(const tp_space *space, const tp_pool_config *config,
                         tp_pool **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_create: NULL out-pointer");
  *out = NULL;
  tp_pool_config settings = TP_POOL_CONFIG_INIT;
  const tp_pool_config *c = &settings;
  tp_status st = TP_SUCCESS;
  if (config)
    st = tp_versioned_read("tp_pool_create", "TP_POOL_CONFIG_INIT", config,
                           &settings, sizeof settings);
  if (st == TP_SUCCESS)
    st = check_space(space);
  if (st == TP_SUCCESS)
    st = check_config(c);
  if (st != TP_SUCCESS)
    return st;

  tp_pool *pool = calloc(1, sizeof *pool);
  if (!pool)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_pool_create: no host memory");
  pool->space = *space;
  if (!pool->space.name)
    pool->space.name = "unnamed space";
  pool->config = *c;
  unsigned id = atomic_fetch_add(&pool_counter, 1) + 1;
  if (c->name)
    snprintf(pool->name, sizeof pool->name, "%s", c->name);
  else
    snprintf(pool->name, sizeof pool->name, "pool%u", id);
  pool->config.name = pool->name;
  pool->config.event_log_path = NULL;
  tp_size_classes_init(&pool->classes, c->divisions);
  pool->bins = calloc(pool->classes.count, sizeof *pool->bins);
  pool->cached_classes =
      calloc((pool->classes.count + 63) / 64, sizeof *pool->cached_classes);
  pool->used_slots = 1; /* the ready slot */
  bool ok = pool->bins && pool->cached_classes && tp_ptr_map_init(&pool->map) &&
            pthread_mutex_init(&pool->lock, NULL) == 0;
  if (!ok) {
    tp_ptr_map_fini(&pool->map);
    free(pool->cached_classes);
    free(pool->bins);
    free(pool);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_pool_create: no host memory");
  }
  const char *log_path =
      c->event_log_path ? c->event_log_path : getenv("TP_EVENT_LOG");
  if (log_path && *log_path) {
    st = tp_event_log_open(log_path, &pool->log);
    if (st != TP_SUCCESS) {
      pthread_mutex_destroy(&pool->lock);
      tp_ptr_map_fini(&pool->map);
      free(pool->cached_classes);
      free(pool->bins);
      free(pool);
      return tp_fail_context(st, "tp_pool_create");
    }
  }
  *out = pool;
  return TP_SUCCESS;
}

static tp_status class_for(const tp_pool *pool, const char *fn, size_t bytes,
                           unsigned *cls) {
  if (bytes == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: pool '%s': size 0 requested",
                   fn, pool->name);
  if (bytes > pool->classes.max_bytes)
    return tp_fail(TP_ERR_OVERFLOW,
                   "%s: pool '%s': %zu bytes cannot be rounded to a size class "
                   "(largest is %zu bytes)",
                   fn, pool->name, bytes, pool->classes.max_bytes);
  *cls = tp_size_class_of(&pool->classes, bytes);
  return TP_SUCCESS;
}

void tp_pool_note_peaks(tp_pool_stats *s) {
  if (s->live_bytes > s->live_bytes_peak)
    s->live_bytes_peak = s->live_bytes;
  if (s->requested_bytes > s->requested_bytes_peak)
    s->requested_bytes_peak = s->requested_bytes;
  if (s->reserved_bytes > s->reserved_bytes_peak)
    s->reserved_bytes_peak = s->reserved_bytes;
}

/* A cached block of `bin` usable on `stream`. Prefers the stream's own list
 * (no ordering needed), then blocks with no pending work, then another
 * stream's block after ordering `stream` behind that stream. */
static tp_status take_from_bin(tp_pool *pool, tp_bin *bin, tp_stream stream,
                               tp_block **out) {
  int own = tp_pool_slot_find(pool, stream);
  if (own > 0 && (bin->stream_mask >> own & 1u)) {
    *out = tp_pool_bin_pop(pool, bin, (unsigned)own);
    return TP_SUCCESS;
  }
  if (bin->stream_mask & 1u) {
    *out = tp_pool_bin_pop(pool, bin, TP_SLOT_READY);
    return TP_SUCCESS;
  }
  unsigned other = (unsigned)__builtin_ctzll(bin->stream_mask);
  tp_status st = tp_pool_slot_order_after(pool, other, stream);
  if (st != TP_SUCCESS)
    return st;
  *out = tp_pool_bin_pop(pool, bin, other);
  pool->stats.cross_stream_takes++;
  return TP_SUCCESS;
}

/* A cached block for a request of class `cls`, or NULL: from that class, or
 * else from the smallest cached class at most twice its size, since reusing
 * a block already held beats growing the pool (cudaMallocAsync's and RMM's
 * pools also hand out any free block that fits). */
static tp_status take_cached(tp_pool *pool, unsigned cls, tp_stream stream,
                             tp_block **out) {
  *out = NULL;
  tp_bin *own_class = pool->bins[cls];
  if (own_class && own_class->stream_mask) /* the common case: no search */
    return take_from_bin(pool, own_class, stream, out);
  const tp_size_classes *sc = &pool->classes;
  size_t bytes = tp_size_class_bytes(sc, cls);
  unsigned last = bytes <= sc->max_bytes / 2 ? tp_size_class_of(sc, 2 * bytes)
                                             : sc->count - 1;
  int found =
      cls + 1 < sc->count ? tp_pool_next_cached_class(pool, cls + 1, last) : -1;
  if (found < 0)
    return TP_SUCCESS;
  return take_from_bin(pool, pool->bins[found], stream, out);
}

tp_status tp_pool_alloc(tp_pool *pool, size_t bytes, tp_stream stream,
                        void **out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_alloc: NULL %s",
                   pool ? "out-pointer" : "pool");
  *out = NULL;
  pthread_mutex_lock(&pool->lock);
  unsigned cls = 0;
  tp_block *b = NULL;
  tp_status st = class_for(pool, "tp_pool_alloc", bytes, &cls);
  if (st == TP_SUCCESS)
    st = take_cached(pool, cls, stream, &b);
  if (st == TP_SUCCESS && b) {
    pool->stats.hits++;
  } else if (st == TP_SUCCESS) {
    st = tp_pool_upstream_get(pool, cls, bytes, &b);
    if (st == TP_SUCCESS)
      pool->stats.misses++;
  }
  tp_pool_stats *s = &pool->stats;
  if (st == TP_SUCCESS) {
    b->state = TP_BLOCK_LIVE;
    b->requested = bytes;
    b->stream = stream;
    s->allocations++;
    s->bytes_allocated += bytes;
    s->live_blocks++;
    s->live_bytes += b->bytes;
    s->requested_bytes += bytes;
    tp_pool_note_peaks(s);
    *out = b->ptr;
  } else {
    s->failures++;
  }
  if (pool->log)
    tp_event_log_write(pool->log, st == TP_SUCCESS ? "alloc" : "fail_alloc",
                       pool->name, *out, bytes, stream, st);
  pthread_mutex_unlock(&pool->lock);
  return st;
}

static tp_status bad_pointer(tp_pool *pool, void *ptr) {
  tp_block *holder = tp_ptr_map_find_containing(&pool->map, ptr);
  if (holder)
    return tp_fail(TP_ERR_INVALID_POINTER,
                   "tp_pool_free: pool '%s': %p is an interior pointer, %zu "
                   "bytes into the block at %p",
                   pool->name, ptr, (size_t)((char *)ptr - (char *)holder->ptr),
                   holder->ptr);
  return tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_free: pool '%s': %p was not allocated by this pool "
                 "(a foreign pointer, or one freed and already released)",
                 pool->name, ptr);
}

/* Caches a block freed on `stream`, or gives it back upstream when the
 * cache bounds say so (or no stream slot is left and the stream's wait
 * fails). */
static void cache_or_release(tp_pool *pool, tp_block *b, tp_stream stream) {
  int slot = tp_pool_slot_acquire(pool, stream);
  if (slot < 0) {
    /* Every slot is taken: wait for the stream once; then the block has no
     * pending work and any stream may take it. */
    if (pool->space.ops->stream_sync(pool->space.ctx, stream) == TP_SUCCESS) {
      slot = TP_SLOT_READY;
      stream = NULL;
    }
  }
  tp_bin *bin = tp_pool_bin(pool, b->cls);
  const tp_pool_config *c = &pool->config;
  bool keep = slot >= 0 && bin && bin->cached < c->max_buffers_per_bucket &&
              pool->stats.cached_bytes <= c->max_pool_size &&
              b->bytes <= c->max_pool_size - pool->stats.cached_bytes;
  b->stream = stream;
  if (keep || !tp_pool_release_block(pool, b, stream)) {
    if (slot < 0)
      slot = TP_SLOT_READY; /* put and sync both failed: keep it somewhere */
    if (bin)
      tp_pool_bin_push(pool, bin, b, (unsigned)slot);
  }
}

tp_status tp_pool_free(tp_pool *pool, void *ptr, tp_stream stream) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_free: NULL pool");
  if (!ptr)
    return TP_SUCCESS;
  pthread_mutex_lock(&pool->lock);
  tp_status st = TP_SUCCESS;
  tp_block *b = tp_ptr_map_find(&pool->map, ptr);
  size_t requested = 0;
  if (!b) {
    st = bad_pointer(pool, ptr);
  } else if (b->state != TP_BLOCK_LIVE) {
    st = tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_free: pool '%s': double free of %p (a block of %zu "
                 "bytes, already free)",
                 pool->name, ptr, b->bytes);
  } else {
    tp_pool_stats *s = &pool->stats;
    requested = b->requested;
    s->deallocations++;
    s->bytes_freed += requested;
    s->live_blocks--;
    s->live_bytes -= b->bytes;
    s->requested_bytes -= requested;
    cache_or_release(pool, b, stream);
  }
  if (st != TP_SUCCESS)
    pool->stats.failures++;
  if (pool->log)
    tp_event_log_write(pool->log, st == TP_SUCCESS ? "free" : "fail_free",
                       pool->name, ptr, requested, stream, st);
  pthread_mutex_unlock(&pool->lock);
  return st;
}

/* Gives back every block record and its memory: cached and live alike. */
static void release_everything(tp_pool *pool) {
  for (size_t i = 0; i <= pool->map.mask; i++) {
    tp_block *b = pool->map.buckets[i];
    while (b) {
      tp_block *next = b->map_next;
      tp_stream stream = b->state == TP_BLOCK_CACHED && b->slot != TP_SLOT_READY
                             ? pool->slots[b->slot].stream
                             : b->stream;
      pool->space.ops->put(pool->space.ctx, b->ptr, b->bytes, stream);
      free(b);
      b = next;
    }
  }
  while (pool->spare_records) {
    tp_block *next = pool->spare_records->next;
    free(pool->spare_records);
    pool->spare_records = next;
  }
}

tp_status tp_pool_destroy(tp_pool *pool) {
  if (!pool)
    return TP_SUCCESS; /* as every destroy, and free(NULL) */
  size_t live_blocks = pool->stats.live_blocks;
  size_t live_bytes = pool->stats.requested_bytes;
  release_everything(pool);
  tp_pool_slots_fini(pool);
  for (unsigned c = 0; c < pool->classes.count; c++)
    free(pool->bins[c]);
  free(pool->bins);
  free(pool->cached_classes);
  tp_ptr_map_fini(&pool->map);
  tp_event_log_close(pool->log);
  pthread_mutex_destroy(&pool->lock);
  char name[sizeof pool->name];
  memcpy(name, pool->name, sizeof name);
  free(pool);
  if (live_blocks)
    return tp_fail(TP_ERR_LEAK,
                   "tp_pool_destroy: pool '%s' still had %zu live blocks "
                   "(%zu bytes requested); they were freed with the pool",
                   name, live_blocks, live_bytes);
  return TP_SUCCESS;
}
