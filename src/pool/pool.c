/* The pool: creation, the alloc and free paths, destruction. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
#include "pool/front_fast.h"
#include "pool/pool_blocks.h"
#include "pool/pool_config.h"
#include "pool/pool_index.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

static atomic_uint pool_counter;

static tp_status check_space(const tp_space *space) {
  if (!space || !space->ops)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: NULL space or space without operations");
  const tp_space_ops *o = space->ops;
  const char *name = space->name ? space->name : "?";
  /* The first eight entries are required, so the caller's version must
   * have them all. */
  if (o->struct_size <
      offsetof(tp_space_ops, stream_sync) + sizeof o->stream_sync)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: space '%s' has an operations table of "
                   "struct_size %zu (initialize it with TP_SPACE_OPS_INIT)",
                   name, o->struct_size);
  if (!o->get || !o->put || !o->event_create || !o->event_destroy ||
      !o->event_record || !o->stream_wait || !o->event_query || !o->stream_sync)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_create: space '%s' leaves an operation NULL", name);
  if (o->struct_size >= offsetof(tp_space_ops, commit) + sizeof o->commit &&
      (o->resize || o->decommit || o->commit)) {
    size_t page = o->page_bytes;
    if (page < TP_ALIGNMENT || (page & (page - 1)))
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_pool_create: space '%s' has virtual-memory "
                     "operations but page_bytes %zu is not a power of two of "
                     "at least 256",
                     name, page);
    if (o->commit && !o->decommit)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_pool_create: space '%s' has commit without decommit",
                     name);
  }
  return TP_SUCCESS;
}

tp_status tp_pool_config_check(const char *fn, const tp_pool_config *c) {
  if (c->limit == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: a limit of 0 bytes allows no allocation (use "
                   "TP_UNLIMITED for no limit)",
                   fn);
  if (c->divisions == 0 || c->divisions > 16 ||
      (c->divisions & (c->divisions - 1)))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: divisions must be 1, 2, 4, 8 or 16, not %u", fn,
                   c->divisions);
  if ((unsigned)c->page_release > TP_PAGE_RELEASE_AGED)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: page_release %d is not a tp_page_release", fn,
                   (int)c->page_release);
  return TP_SUCCESS;
}

/* Reads the space's optional virtual-memory entries. */
static void read_space_vm(tp_pool *pool) {
  const tp_space_ops *o = pool->space.ops;
  if (o->struct_size < offsetof(tp_space_ops, commit) + sizeof o->commit)
    return;
  if (!o->resize && !o->decommit)
    return;
  pool->page = o->page_bytes;
  pool->can_resize = o->resize != NULL;
  pool->can_decommit = o->decommit != NULL;
}

static void free_pool(tp_pool *pool) {
  tp_front_cells_fini(pool);
  tp_quick_fini(pool);
  tp_index_fini(pool);
  tp_records_fini(pool);
  tp_ptr_map_fini(&pool->map);
  free(pool);
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
    st = tp_pool_config_check("tp_pool_create", c);
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
  read_space_vm(pool);
  if (pool->config.page_release == TP_PAGE_RELEASE_DEFAULT)
    pool->config.page_release =
        pool->can_decommit ? TP_PAGE_RELEASE_AGED : TP_PAGE_RELEASE_ON_PRESSURE;
  pool->aging =
      pool->config.page_release == TP_PAGE_RELEASE_AGED && pool->can_decommit;
  tp_size_classes_init(&pool->classes, c->divisions);
  pool->used_slots = 1; /* the ready slot */
  pool->dirty_head = pool->dirty_tail = TP_NIL;
  bool ok = tp_records_init(pool) && tp_index_init(pool) &&
            tp_quick_init(pool) && tp_ptr_map_init(&pool->map);
  tp_lock_init(&pool->lock);
  if (!ok) {
    free_pool(pool);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_pool_create: no host memory");
  }
  const char *log_path =
      c->event_log_path ? c->event_log_path : getenv("TP_EVENT_LOG");
  if (log_path && *log_path) {
    st = tp_event_log_open(log_path, &pool->log);
    if (st != TP_SUCCESS) {
      free_pool(pool);
      return tp_fail_context(st, "tp_pool_create");
    }
  }
  tp_front_init(pool);
  *out = pool;
  return TP_SUCCESS;
}

/* Takes free block `b` (filed under `slot`) for `bytes` on `stream`. */
static tp_status take_from(tp_pool *pool, unsigned kind, uint64_t bytes,
                           tp_stream stream, int own, unsigned slot, uint32_t b,
                           bool no_wait, uint32_t *out) {
  tp_block *blk = tp_blk(pool, b);
  pool->taken_slot = slot;
  pool->taken_stamp = blk->u.f.stamp;
  /* An oversize block is handed out whole: only to a request close to its
   * size, or it would hold much more than asked. */
  if (kind == TP_KIND_OVERSIZE && blk->bytes - bytes > blk->bytes / 8)
    return TP_SUCCESS;
  if (slot != TP_SLOT_READY && slot != (unsigned)own) {
    /* No query here: recording the event and making the stream wait on it
     * costs the same on the device and never blocks the host. */
    if (blk->u.f.stamp > pool->slots[slot].done_clock) {
      if (no_wait)
        return TP_SUCCESS; /* not worth a wait: nothing taken */
      tp_status st = tp_pool_slot_order_after(pool, slot, stream);
      if (st != TP_SUCCESS)
        return st;
    }
    pool->stats.cross_stream_takes++;
  }
  *out = tp_block_take(pool, b, bytes);
  if (*out == TP_NIL)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pool_alloc: pool '%s': no host memory for a record",
                   pool->name);
  return TP_SUCCESS;
}

/* A fitting head of class `cls` on the stream's own list or the ready one:
 * the class just below a request's holds blocks that may or may not fit
 * it, and checking two heads costs nothing against the memory a tighter
 * fit keeps. TP_NIL if neither fits. */
static uint32_t head_that_fits(tp_pool *pool, unsigned kind, unsigned cls,
                               uint64_t bytes, int own, unsigned *slot) {
  tp_bin *bin = pool->index[kind].bins[cls];
  if (!bin || !bin->slot_mask)
    return TP_NIL;
  const unsigned slots[2] = {own > 0 ? (unsigned)own : TP_SLOT_READY,
                             TP_SLOT_READY};
  for (int i = 0; i < 2; i++) {
    uint32_t b = bin->heads[slots[i]];
    if (b != TP_NIL && tp_blk(pool, b)->bytes >= bytes) {
      *slot = slots[i];
      return b;
    }
  }
  return TP_NIL;
}

/* A free block of `kind` for `bytes` on `stream`, taken and now live; TP_NIL
 * when none fits. Best class first (memory before speed), the kept block
 * weighed as one of its class; within the class the stream's own list (no
 * ordering needed), then blocks with no pending work, then another
 * stream's after ordering `stream` behind it. */
static tp_status take_cached(tp_pool *pool, unsigned kind, uint64_t bytes,
                             tp_stream stream, bool no_wait, uint32_t *out) {
  *out = TP_NIL;
  unsigned cls = tp_size_class_of(&pool->classes, (size_t)bytes);
  int own = tp_pool_slot_find(pool, stream);
  uint32_t kept = pool->dv[kind];
  if (kept != TP_NIL && tp_blk(pool, kept)->bytes >= bytes &&
      (!pool->index[kind].summary ||
       tp_index_class_of_free(pool, tp_blk(pool, kept)->bytes) <= cls)) {
    /* The kept block is the only free block of its kind, or of the
     * request's own class (or the one below, and fits): nothing in the
     * index can fit tighter. */
    tp_block *k = tp_blk(pool, kept);
    if (k->slot == TP_SLOT_READY || (int)k->slot == own)
      return take_from(pool, kind, bytes, stream, own, k->slot, kept, no_wait,
                       out);
  }
  unsigned slot = 0;
  if (cls > 0 && kind != TP_KIND_OVERSIZE &&
      tp_size_class_bytes(&pool->classes, cls) != bytes) {
    /* A head of the class below may fit too, tighter. */
    uint32_t b = head_that_fits(pool, kind, cls - 1, bytes, own, &slot);
    if (b != TP_NIL)
      return take_from(pool, kind, bytes, stream, own, slot, b, no_wait, out);
  }
  int found = tp_index_find(pool, kind, cls);
  if (kept != TP_NIL && tp_blk(pool, kept)->bytes >= bytes) {
    tp_block *k = tp_blk(pool, kept);
    unsigned kcls = tp_index_class_of_free(pool, k->bytes);
    bool mine = k->slot == TP_SLOT_READY || (int)k->slot == own ||
                k->u.f.stamp <= pool->slots[k->slot].done_clock;
    /* As good a fit as the index's best (and ours, or strictly better). */
    if (found < 0 || kcls < (unsigned)found ||
        (kcls == (unsigned)found && mine))
      return take_from(pool, kind, bytes, stream, own, k->slot, kept, no_wait,
                       out);
  }
  if (found < 0)
    return TP_SUCCESS;
  tp_bin *bin = pool->index[kind].bins[found];
  if (own > 0 && (bin->slot_mask >> own & 1u))
    slot = (unsigned)own;
  else if (bin->slot_mask & 1u)
    slot = TP_SLOT_READY;
  else
    slot = (unsigned)__builtin_ctzll(bin->slot_mask);
  return take_from(pool, kind, bytes, stream, own, slot, bin->heads[slot],
                   no_wait, out);
}

/* Where a space grows segments in place, the free tail of the segment last
 * grown is taken last (as a one-arena allocator uses its top last): cut
 * first, it would make the next larger request grow the segment while
 * holes lower down stay free. The search runs without it, and with it only
 * when nothing else fits. */
static tp_status take_cached_tail_last(tp_pool *pool, unsigned kind,
                                       uint64_t bytes, tp_stream stream,
                                       bool no_wait, uint32_t *out) {
  uint32_t s = pool->top[kind];
  uint32_t t = s == TP_NIL ? TP_NIL : tp_seg(pool, s)->last;
  if (t == TP_NIL || tp_blk(pool, t)->state != TP_BLOCK_FREE ||
      tp_blk(pool, t)->prev == TP_NIL)
    return take_cached(pool, kind, bytes, stream, no_wait, out);
  bool kept = pool->dv[kind] == t;
  bool indexed = tp_blk(pool, t)->flags & TP_BLOCK_INDEXED;
  /* Nothing else free of this kind (the usual state of a pool that frees
   * what it allocated: the tail kept, the index empty): no second search.
   * Blocks waiting on the quick lists merge first (the caller's retry). */
  if ((!kept && !indexed) || (kept && !pool->index[kind].summary)) {
    if (pool->quick_blocks) {
      *out = TP_NIL;
      return TP_SUCCESS;
    }
    return take_cached(pool, kind, bytes, stream, no_wait, out);
  }
  if (kept)
    pool->dv[kind] = TP_NIL;
  else
    tp_index_remove(pool, t);
  tp_status st = TP_SUCCESS;
  *out = TP_NIL;
  if (pool->dv[kind] != TP_NIL || pool->index[kind].summary)
    st = take_cached(pool, kind, bytes, stream, no_wait, out);
  /* Back as it was: the kept block again unless the take made another. */
  if (kept && pool->dv[kind] == TP_NIL)
    pool->dv[kind] = t;
  else
    tp_refile(pool, t, tp_blk(pool, t)->slot);
  if (st == TP_SUCCESS && *out == TP_NIL && !pool->quick_blocks)
    st = take_cached(pool, kind, bytes, stream, no_wait, out);
  return st;
}

/* Files a block that could not be handed out after all back as free, as
 * it was: under the slot and stamp of the free block it was cut from (the
 * requesting stream was ordered after that one, but others must still wait
 * for what was pending there). */
static void undo_take(tp_pool *pool, uint32_t b) {
  tp_seg(pool, tp_blk(pool, b)->seg)->live++; /* release counts it out */
  uint32_t m = tp_block_release(pool, b, pool->taken_slot);
  if (tp_blk(pool, m)->u.f.stamp < pool->taken_stamp)
    tp_blk(pool, m)->u.f.stamp = pool->taken_stamp;
}

/* Makes block `b` live: its pages committed, its address findable, counted
 * live in the engine (the caller's counters are the caller's). */
__attribute__((always_inline)) static inline tp_status
make_live(tp_pool *pool, uint32_t b, size_t requested) {
  if (!tp_pages_commit_block(pool, b)) {
    /* The space is out of memory to back it: give back the pages of every
     * other free range and retry once. */
    tp_pages_decommit_all(pool);
    tp_pool_release_cached(pool, 0, true);
    if (!tp_pages_commit_block(pool, b)) {
      uint64_t bytes = tp_blk(pool, b)->bytes;
      undo_take(pool, b);
      /* Its message ends with what the space's commit said. */
      return tp_pool_out_of_memory(pool, requested, bytes,
                                   "the space cannot back given-back pages");
    }
    pool->upstream_said[0] = '\0'; /* committed after all */
  }
  tp_block *blk = tp_blk(pool, b);
  if (!tp_ptr_map_insert(&pool->map, blk->ptr, b,
                         tp_size_pack(blk->bytes, requested))) {
    undo_take(pool, b);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pool_alloc: pool '%s': no host memory for the "
                   "pointer map",
                   pool->name);
  }
  blk = tp_blk(pool, b);
  blk->u.l.requested = requested;
  tp_seg(pool, blk->seg)->live++;
  pool->stats.live_blocks++;
  pool->stats.live_bytes += blk->bytes;
  return TP_SUCCESS;
}

/* Inline in this file's alloc and free, out of line for the front end. */
__attribute__((always_inline)) static inline tp_status
engine_take(tp_pool *pool, size_t bytes, size_t requested, tp_stream stream,
            bool cached_only, uint32_t *out, uintptr_t *ptr_out, bool *hit) {
  uint64_t n = tp_round_request(bytes);
  unsigned kind = n >= pool->config.oversize_threshold ? TP_KIND_OVERSIZE
                  /* Growable: one range for every size, whose pages
                   * are given back where free (a small block pins
                   * addresses, not memory). */
                  : n <= TP_SMALL_MAX || pool->can_resize ? TP_KIND_SMALL
                                                          : TP_KIND_LARGE;
  uint32_t b = TP_NIL;
  if (pool->quick_blocks) {
    uintptr_t ptr = 0;
    if ((b = tp_quick_pop(pool, n, stream, &ptr)) != TP_NIL) {
      /* Live again as its record still says: only the map learns of it
       * (with its bytes and this request), not the record's line, unless
       * they do not fit the map's entry (4 GiB and up). */
      uint32_t packed = tp_size_pack(n, requested);
      if (!packed)
        tp_blk(pool, b)->u.l.requested = requested;
      if (!tp_ptr_map_insert(&pool->map, ptr, b, packed)) {
        tp_quick_unpop(pool, n);
        *out = TP_NIL;
        return tp_fail(TP_ERR_OUT_OF_MEMORY,
                       "tp_pool_alloc: pool '%s': no host memory for the "
                       "pointer map",
                       pool->name);
      }
      *hit = true;
      pool->stats.live_blocks++;
      pool->stats.live_bytes += n;
      *out = b;
      *ptr_out = ptr;
      return TP_SUCCESS;
    }
    /* A large block waits only for an allocation of its own size. */
    if (pool->quick_large)
      tp_quick_flush_all(pool);
  }
  /* While blocks wait unmerged, nothing that needs a wait for another
   * stream's work is taken either: merged, they may give this stream a
   * block of its own. */
  bool no_wait = cached_only || pool->quick_blocks;
  tp_status st = pool->can_resize
                     ? take_cached_tail_last(pool, kind, n, stream, no_wait, &b)
                     : take_cached(pool, kind, n, stream, no_wait, &b);
  if (st == TP_SUCCESS && b == TP_NIL && pool->quick_blocks && !cached_only) {
    /* Before memory the pool has not used yet, or another stream's: what
     * waits unmerged on the quick lists may fit once merged. */
    tp_quick_flush_all(pool);
    st = pool->can_resize
             ? take_cached_tail_last(pool, kind, n, stream, cached_only, &b)
             : take_cached(pool, kind, n, stream, cached_only, &b);
  }
  *hit = st == TP_SUCCESS && b != TP_NIL;
  if (st == TP_SUCCESS && !*hit && cached_only) {
    *out = TP_NIL;
    return TP_ERR_OUT_OF_MEMORY; /* no message: the caller stops there */
  }
  if (st == TP_SUCCESS && !*hit) {
    /* Fresh or grown memory (a grown tail's stream was waited for). */
    pool->taken_slot = TP_SLOT_READY;
    pool->taken_stamp = pool->clock;
    pool->grown_bytes = 0;
    st = tp_pool_upstream_alloc(pool, kind, n, requested, stream, &b);
  }
  if (st == TP_SUCCESS) {
    uint32_t seg = tp_blk(pool, b)->seg;
    st = make_live(pool, b, requested);
    /* A growth made for a block that could not be handed out goes back. */
    if (st != TP_SUCCESS && !*hit)
      tp_pool_undo_grow(pool, seg);
  }
  *out = st == TP_SUCCESS ? b : TP_NIL;
  if (st == TP_SUCCESS)
    *ptr_out = tp_blk(pool, b)->ptr;
  return st;
}

/* Merges live block `b`, counted out of live, as free under stream slot
 * `slot`, and applies the cache bounds. */
__attribute__((always_inline)) static inline void
engine_merge_freed(tp_pool *pool, uint32_t b, unsigned slot) {
  tp_pool_stats *s = &pool->stats;
  uint32_t m = tp_block_release(pool, b, (unsigned)slot);
  uint32_t seg = tp_blk(pool, m)->seg;
  /* The cache bounds, when there is something they could give back: a
   * whole free segment, or a free tail to shrink. */
  const tp_pool_config *c = &pool->config;
  if (s->cached_bytes > c->max_cached_bytes
          ? s->free_segments > 0 ||
                (pool->can_resize && tp_blk(pool, m)->next == TP_NIL)
          : tp_seg(pool, seg)->empty &&
                c->max_buffers_per_bucket != TP_UNLIMITED)
    tp_pool_apply_cache_bounds(pool, seg);
}

/* Files live block `b` (of `bytes` at `ptr`, out of the pointer map) as
 * free under stream slot `slot`: on a quick list, or merged now. */
__attribute__((always_inline)) static inline void
engine_release_at(tp_pool *pool, uint32_t b, uintptr_t ptr, uint64_t bytes,
                  unsigned slot) {
  pool->stats.live_blocks--;
  pool->stats.live_bytes -= bytes;
  if (!tp_quick_push(pool, b, ptr, bytes, slot))
    engine_merge_freed(pool, b, slot);
}

/* For the front end's flushes: blocks parked by frees on the NULL stream.
 * With every slot taken, the stream is waited for once (its result cannot
 * be reported to any caller there). */
__attribute__((always_inline)) static inline void
engine_release(tp_pool *pool, uint32_t b, tp_stream stream) {
  int slot = tp_pool_slot_acquire(pool, stream);
  if (slot < 0) {
    pool->space.ops->stream_sync(pool->space.ctx, stream);
    slot = TP_SLOT_READY;
  }
  tp_block *blk = tp_blk(pool, b);
  engine_release_at(pool, b, blk->ptr, blk->bytes, (unsigned)slot);
}

tp_status tp_pool_engine_take(tp_pool *pool, size_t bytes, size_t requested,
                              tp_stream stream, bool cached_only, uint32_t *out,
                              bool *hit) {
  uintptr_t ptr;
  return engine_take(pool, bytes, requested, stream, cached_only, out, &ptr,
                     hit);
}

void tp_pool_engine_release(tp_pool *pool, uint32_t b, tp_stream stream) {
  engine_release(pool, b, stream);
}

/* The engine's alloc: out of line, for alloc_general and alloc_wide. */
__attribute__((noinline)) static tp_status
engine_alloc(tp_pool *pool, size_t bytes, tp_stream stream, void **out) {
  if (out)
    *out = NULL; /* first, as documented: a NULL pool too */
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_alloc: NULL %s",
                   pool ? "out-pointer" : "pool");
  tp_status st = TP_SUCCESS;
  tp_lock_acquire(&pool->lock);
  pool->clock++;
  if (bytes == 0)
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_pool_alloc: pool '%s': size 0 "
                 "requested",
                 pool->name);
  else if (bytes > pool->classes.max_bytes)
    st = tp_fail(TP_ERR_OVERFLOW,
                 "tp_pool_alloc: pool '%s': %zu bytes cannot be rounded to a "
                 "size class (largest is %zu bytes)",
                 pool->name, bytes, pool->classes.max_bytes);
  uint32_t b = TP_NIL;
  uintptr_t ptr = 0;
  if (st == TP_SUCCESS) {
    bool hit = false;
    st = engine_take(pool, bytes, bytes, stream, false, &b, &ptr, &hit);
    /* Blocks parked in threads' caches are free memory too: out of it,
     * they go back to the engine and the request tries once more. */
    if (st == TP_ERR_OUT_OF_MEMORY && tp_front_drain_all(pool)) {
      st = tp_pool_engine_take(pool, bytes, bytes, stream, false, &b, &hit);
      if (st == TP_SUCCESS)
        ptr = tp_blk(pool, b)->ptr;
    }
    if (st == TP_SUCCESS) {
      tp_pool_stats *s = &pool->stats;
      s->allocations++;
      s->bytes_allocated += bytes;
      s->requested_bytes += bytes;
      tp_pool_note_peaks(pool);
      /* Counted once the block is the caller's: a commit that failed made
       * neither. */
      if (hit)
        s->hits++;
      else
        s->misses++;
    }
  }
  if (st == TP_SUCCESS) {
    *out = (void *)ptr;
  } else {
    pool->stats.failures++;
    /* A failure may still have grown the pool (a segment taken or grown
     * before the commit of given-back pages failed): the peak counts it. */
    tp_pool_note_peaks(pool);
  }
  if (pool->log)
    tp_event_log_write(pool->log, st == TP_SUCCESS ? "alloc" : "fail_alloc",
                       pool->name, *out, bytes, stream, st);
  if (pool->front.caches) /* a thread of this pool has a cache */
    tp_front_note_engine_call(pool);
  tp_lock_release(&pool->lock);
  return st;
}

/* A thread cache's wide bins (above 64 KiB), else the engine: out of line,
 * so that alloc_general keeps the small sizes' registers. */
__attribute__((noinline)) static tp_status
alloc_wide(tp_pool *pool, size_t bytes, void **out) {
  tp_status st;
  if (tp_front_alloc_wide(pool, bytes, out, &st))
    return st;
  return engine_alloc(pool, bytes, NULL, out);
}

/* Everything but a parked block taken at once: the thread caches' other
 * paths, else the engine. Out of line, so that the public function's
 * common path makes no call and spills nothing. */
__attribute__((noinline)) static tp_status
alloc_general(tp_pool *pool, size_t bytes, tp_stream stream, void **out) {
  tp_status st;
  if (stream == NULL && pool && out &&
      atomic_load_explicit(&pool->front.on, memory_order_relaxed)) {
    if (bytes - 1 < TP_FRONT_EXACT_BYTES) { /* 0 too: the engine says why */
      if (tp_front_alloc(pool, bytes, out, &st))
        return st;
    } else if (bytes - 1 < TP_FRONT_MAX_BYTES) {
      return alloc_wide(pool, bytes, out);
    }
  }
  return engine_alloc(pool, bytes, stream, out);
}

tp_status tp_pool_alloc(tp_pool *pool, size_t bytes, tp_stream stream,
                        void **out) {
  /* The calling thread's last cache has a block parked: no check of the
   * pool's `on` (an off cache serves nothing), none of a NULL pool (never
   * the last cache's: TP_FRONT_NO_POOL), no call. */
  if (tp_front_here.pool == pool && stream == NULL &&
      bytes - 1 < TP_FRONT_EXACT_BYTES && out) {
    uint64_t n = tp_round_request(bytes);
    if (tp_front_take_parked(tp_front_here.cache, bytes, n,
                             (size_t)(n >> 8) - 1, out, true))
      return TP_SUCCESS;
    /* NULL, not `stream`: the argument need not be kept live. */
    return alloc_general(pool, bytes, NULL, out);
  }
  return alloc_general(pool, bytes, stream, out);
}

/* Names what an unknown pointer is, by a search of the segments: the error
 * path only. */
static tp_status bad_pointer(tp_pool *pool, void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    if (!seg->used || p < seg->base || p >= seg->base + seg->bytes)
      continue;
    for (uint32_t b = seg->first; b != TP_NIL; b = tp_blk(pool, b)->next) {
      tp_block *blk = tp_blk(pool, b);
      if (p < blk->ptr || p >= blk->ptr + blk->bytes)
        continue;
      /* Freed but waiting on a quick list: its record still says live. */
      bool waiting = blk->state == TP_BLOCK_LIVE &&
                     tp_ptr_map_find(&pool->map, blk->ptr) == TP_NIL;
      if (waiting && p == blk->ptr)
        return tp_fail(TP_ERR_INVALID_POINTER,
                       "tp_pool_free: pool '%s': double free of %p (already "
                       "free: a block of %llu bytes waiting to be reused)",
                       pool->name, ptr, (unsigned long long)blk->bytes);
      if (waiting)
        return tp_fail(TP_ERR_INVALID_POINTER,
                       "tp_pool_free: pool '%s': %p lies %zu bytes into a "
                       "freed block of %llu bytes at %p",
                       pool->name, ptr, (size_t)(p - blk->ptr),
                       (unsigned long long)blk->bytes, (void *)blk->ptr);
      if (blk->state == TP_BLOCK_LIVE)
        return tp_fail(TP_ERR_INVALID_POINTER,
                       "tp_pool_free: pool '%s': %p is an interior pointer, "
                       "%zu bytes into the block at %p",
                       pool->name, ptr, (size_t)(p - blk->ptr),
                       (void *)blk->ptr);
      /* The freed block has merged with its free neighbours: the size is
       * the free range's, not the block's the caller had. */
      if (p == blk->ptr)
        return tp_fail(TP_ERR_INVALID_POINTER,
                       "tp_pool_free: pool '%s': double free of %p (already "
                       "free: a free range of %llu bytes starts there)",
                       pool->name, ptr, (unsigned long long)blk->bytes);
      return tp_fail(TP_ERR_INVALID_POINTER,
                     "tp_pool_free: pool '%s': double free of %p, or a "
                     "pointer into a freed block: it lies %zu bytes into a "
                     "free range of %llu bytes at %p",
                     pool->name, ptr, (size_t)(p - blk->ptr),
                     (unsigned long long)blk->bytes, (void *)blk->ptr);
    }
  }
  return tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_free: pool '%s': %p was not allocated by this pool "
                 "(a foreign pointer, or one freed and already released)",
                 pool->name, ptr);
}

/* Every slot is taken by other streams: waits for `stream` once, after
 * which the block has no pending work and any stream may take it (the
 * ready slot). When the wait fails, nothing says the block's last use is
 * done: the free fails before any change and the block stays live, so no
 * other stream can be handed memory that may still be in use. */
static int wait_for_untracked(tp_pool *pool, tp_stream stream, void *ptr,
                              tp_status *st) {
  uint64_t mark = tp_error_serial();
  tp_status ws = pool->space.ops->stream_sync(pool->space.ctx, stream);
  if (ws == TP_SUCCESS)
    return TP_SLOT_READY;
  pool->stats.failures++;
  *st = tp_fail_callback(ws, mark,
                         "tp_pool_free: pool '%s': all %d stream slots are "
                         "taken, and waiting for stream %p (where %p was "
                         "last used) failed; the block stays live: free it "
                         "again once the stream is usable, or forget a "
                         "stream first",
                         pool->name, TP_POOL_MAX_STREAMS, (void *)stream, ptr);
  return TP_SLOT_READY;
}

__attribute__((noinline)) static tp_status engine_free(tp_pool *pool, void *ptr,
                                                       tp_stream stream) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_free: NULL pool");
  if (!ptr)
    return TP_SUCCESS;
  tp_status st = TP_SUCCESS;
  tp_lock_acquire(&pool->lock);
  pool->clock++;
  size_t requested = 0;
  size_t at = tp_ptr_map_index(&pool->map, (uintptr_t)ptr);
  uint32_t b = at == SIZE_MAX ? TP_NIL : pool->map.entries[at].value;
  /* The block's bytes and request, from the map's entry where they fit:
   * then the free touches no record (a block that waits on a quick list
   * keeps its record as it is until it merges). */
  uint32_t packed = at == SIZE_MAX ? 0 : pool->map.entries[at].size;
  int slot = TP_SLOT_READY;
  if (b != TP_NIL) {
    slot = tp_pool_slot_acquire(pool, stream);
    if (slot < 0)
      slot = wait_for_untracked(pool, stream, ptr, &st);
  }
  uint64_t front_requested = 0;
  uint64_t bytes = 0;
  int front = TP_CELL_ENGINE;
  /* Without cells no cache ever held a block. */
  if (b != TP_NIL && st == TP_SUCCESS && pool->front.cell_chunks) {
    bytes = packed ? tp_size_bytes(packed) : tp_blk(pool, b)->bytes;
    front = tp_front_claim(pool, b, (uintptr_t)ptr, bytes, stream,
                           &front_requested);
  }
  if (st != TP_SUCCESS) {
    /* The failed wait said why; nothing changed. */
  } else if (b == TP_NIL || front == TP_CELL_PARKED) {
    /* A block a thread's cache holds free is free to the caller. */
    st = b == TP_NIL ? bad_pointer(pool, ptr)
                     : tp_fail(TP_ERR_INVALID_POINTER,
                               "tp_pool_free: pool '%s': double free of %p "
                               "(already free: a block of %llu bytes held "
                               "by a thread's cache)",
                               pool->name, ptr, (unsigned long long)bytes);
    pool->stats.failures++;
  } else if (front == TP_CELL_QUEUED) {
    /* In its cache's inbox: that cache's thread takes it back. */
  } else {
    /* Nothing since the lookup added to or removed from the map, unless
     * the claim took other blocks back from a cache's inbox. */
    if (front == TP_CELL_HANDED)
      at = tp_ptr_map_index(&pool->map, (uintptr_t)ptr);
    tp_ptr_map_remove_at(&pool->map, at);
    if (!bytes)
      bytes = packed ? tp_size_bytes(packed) : tp_blk(pool, b)->bytes;
    if (front == TP_CELL_HANDED) {
      /* Handed out by a thread's cache: the caller's counters are the
       * front end's. */
      requested = (size_t)front_requested;
      tp_front_count_free(pool, requested);
    } else {
      tp_pool_stats *s = &pool->stats;
      requested = packed ? (size_t)tp_size_requested(packed)
                         : (size_t)tp_blk(pool, b)->u.l.requested;
      s->deallocations++;
      s->bytes_freed += requested;
      s->requested_bytes -= requested;
    }
    engine_release_at(pool, b, (uintptr_t)ptr, bytes, (unsigned)slot);
    tp_pages_age(pool);
  }
  if (pool->log)
    tp_event_log_write(pool->log, st == TP_SUCCESS ? "free" : "fail_free",
                       pool->name, ptr, requested, stream, st);
  if (pool->front.caches) /* a thread of this pool has a cache */
    tp_front_note_engine_call(pool);
  tp_lock_release(&pool->lock);
  return st;
}

/* Everything but a block parked at once: the thread caches' other paths,
 * else the engine. Out of line, as alloc_general. */
__attribute__((noinline)) static tp_status
free_general(tp_pool *pool, void *ptr, tp_stream stream) {
  tp_status st;
  /* Off, no cache parks anything: what caches handed out before goes
   * through the engine. */
  if (stream == NULL && pool && ptr &&
      atomic_load_explicit(&pool->front.on, memory_order_relaxed) &&
      tp_front_free(pool, ptr, &st))
    return st;
  return engine_free(pool, ptr, stream);
}

tp_status tp_pool_free(tp_pool *pool, void *ptr, tp_stream stream) {
  /* The calling thread's last cache handed it out and has room: no check
   * of the pool's `on` (an off cache parks nothing) or of a NULL pool, no
   * call. */
  if (tp_front_here.pool == pool && stream == NULL && ptr) {
    if (tp_front_park_freed(tp_front_here.cache, (uintptr_t)ptr))
      return TP_SUCCESS;
    return free_general(pool, ptr, NULL);
  }
  return free_general(pool, ptr, stream);
}

tp_status tp_pool_destroy(tp_pool *pool) {
  if (!pool)
    return TP_SUCCESS; /* as every destroy, and free(NULL) */
  /* Blocks parked in threads' caches are free, not leaked. */
  tp_pool_stats seen;
  tp_front_fini(pool, &seen);
  size_t live_blocks = (size_t)seen.live_blocks;
  size_t live_bytes = (size_t)seen.requested_bytes;
  /* Segments mix blocks of several streams: wait for the streams of free
   * blocks so that no put overtakes their work. */
  uint64_t rest = pool->used_slots & ~(uint64_t)1;
  while (rest) {
    unsigned s = (unsigned)__builtin_ctzll(rest);
    rest &= rest - 1;
    pool->space.ops->stream_sync(pool->space.ctx, pool->slots[s].stream);
  }
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    if (seg->used)
      pool->space.ops->put(pool->space.ctx, (void *)seg->base,
                           (size_t)seg->bytes, NULL);
  }
  tp_pool_slots_fini(pool);
  tp_event_log_close(pool->log);
  char name[sizeof pool->name];
  memcpy(name, pool->name, sizeof name);
  free_pool(pool);
  if (live_blocks)
    return tp_fail(TP_ERR_LEAK,
                   "tp_pool_destroy: pool '%s' still had %zu live blocks "
                   "(%zu bytes requested); they were freed with the pool",
                   name, live_blocks, live_bytes);
  return TP_SUCCESS;
}
