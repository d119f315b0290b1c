/* The front end's thread caches: the lock-free alloc and free, refills and
 * flushes in batches under the pool's lock, and the caches' lives (made on
 * a thread's first allocation from a pool, given back when the thread
 * exits, detached when the pool is destroyed). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "pool/front_internal.h"

/* The calling thread's caches: the last one used, and all of them. */
typedef struct tp_front_tls {
  tp_pool *pool;
  tp_thread_cache *cache;
  tp_thread_cache *list;
  bool exited; /* its caches were given back: make no more */
} tp_front_tls;

static _Thread_local tp_front_tls tls;

/* Thread exit against pool destroy: both take it before a pool's lock. */
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool key_made;

/* ---- blocks in and out of a cache ------------------------------------ */

static inline size_t note_of(uintptr_t ptr) {
  return (size_t)(((uint64_t)ptr >> 8) * UINT64_C(0x9E3779B97F4A7C15) >>
                  TP_FRONT_NOTE_SHIFT);
}

/* Hands parked block `p` of `bytes` rounded bytes to the caller: a new
 * generation in its cell, and a note to find it at its free. */
static inline void hand(tp_thread_cache *tc, tp_parked p, uint64_t bytes,
                        size_t requested) {
  uint64_t old = atomic_load_explicit(&p.cell->word, memory_order_relaxed);
  uint64_t word =
      ((old >> 32) + 1) << 32 | (uint64_t)requested << 2 | TP_CELL_HANDED;
  atomic_store_explicit(&p.cell->owner, tc, memory_order_relaxed);
  atomic_store_explicit(&p.cell->word, word, memory_order_relaxed);
  tp_note *n = &tc->notes[note_of(p.ptr)];
  n->ptr = p.ptr;
  n->cell = p.cell;
  n->word = word;
  n->bytes = bytes;
  tc->parked_bytes -= bytes;
  tc->counts.allocations++;
  tc->counts.bytes_allocated += requested;
  uint64_t held =
      tc->base_requested + tc->counts.bytes_allocated - tc->counts.bytes_freed;
  if (held > tc->peak_requested)
    tc->peak_requested = held;
}

/* Pool's lock and busy held: the rest of the pool's requested bytes as
 * they are now (other threads' caches left out: unknown without their
 * flags), and this cache's view of the peak brought up to date. */
static void note_base(tp_pool *pool, tp_thread_cache *tc) {
  tc->base_requested = pool->stats.requested_bytes +
                       pool->front.done.bytes_allocated -
                       pool->front.done.bytes_freed;
  uint64_t held =
      tc->base_requested + tc->counts.bytes_allocated - tc->counts.bytes_freed;
  if (held > tc->peak_requested)
    tc->peak_requested = held;
}

void tp_front_note_engine_call(tp_pool *pool) {
  tp_thread_cache *tc = tls.pool == pool ? tls.cache : NULL;
  if (!tc)
    return;
  tp_busy_wait(tc);
  note_base(pool, tc);
  tp_busy_release(tc);
}

void tp_front_reset_peaks(tp_pool *pool) {
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    tp_busy_wait(tc);
    note_base(pool, tc);
    tc->peak_requested = tc->base_requested + tc->counts.bytes_allocated -
                         tc->counts.bytes_freed;
    tp_busy_release(tc);
  }
}

/* Gives the `count` oldest blocks of `bin` (rounded size `bytes`) back to
 * the engine. Pool's lock and busy held. */
static void flush_bin(tp_pool *pool, tp_thread_cache *tc, tp_front_bin *bin,
                      uint64_t bytes, uint32_t count) {
  /* A new pool call: the blocks' last uses were queued before it, so their
   * stamps must be later than any event the engine recorded so far. */
  pool->clock++;
  for (uint32_t i = 0; i < count; i++) {
    tp_parked p = bin->blocks[i];
    uint64_t w = atomic_load_explicit(&p.cell->word, memory_order_relaxed);
    atomic_store_explicit(&p.cell->word, (w & ~(uint64_t)3) | TP_CELL_ENGINE,
                          memory_order_relaxed);
    uint32_t b = tp_ptr_map_take(&pool->map, p.ptr);
    tp_pool_engine_release(pool, b, NULL);
  }
  memmove(bin->blocks, bin->blocks + count,
          (bin->count - count) * sizeof *bin->blocks);
  bin->count -= count;
  tc->parked_bytes -= count * bytes;
}

static void flush_all(tp_pool *pool, tp_thread_cache *tc) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++) {
    tp_front_bin *bin = &tc->bins[i];
    if (bin->count)
      flush_bin(pool, tc, bin, ((uint64_t)i + 1) << 8, bin->count);
    bin->batch = 0;
  }
}

/* ---- the caches' lives ------------------------------------------------ */

static void free_cache(tp_thread_cache *tc) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++)
    free(tc->bins[i].blocks);
  free(tc->notes);
  free(tc);
}

static void fold_counts(tp_front_counts *into, const tp_front_counts *c) {
  into->allocations += c->allocations;
  into->deallocations += c->deallocations;
  into->bytes_allocated += c->bytes_allocated;
  into->bytes_freed += c->bytes_freed;
  into->misses += c->misses;
}

static void unlink_from_pool(tp_pool *pool, tp_thread_cache *tc) {
  if (tc->pool_prev)
    tc->pool_prev->pool_next = tc->pool_next;
  else
    pool->front.caches = tc->pool_next;
  if (tc->pool_next)
    tc->pool_next->pool_prev = tc->pool_prev;
}

/* The key's destructor: a thread that exits gives its caches back. */
static void thread_exit(void *unused) {
  (void)unused;
  tls.exited = true;
  tls.pool = NULL;
  tls.cache = NULL;
  tp_thread_cache *tc = tls.list;
  tls.list = NULL;
  while (tc) {
    tp_thread_cache *next = tc->thread_next;
    pthread_mutex_lock(&registry);
    tp_busy_wait(tc);
    bool dead = tc->dead;
    tp_busy_release(tc);
    if (!dead) {
      tp_pool *pool = tc->pool;
      tp_lock_acquire(&pool->lock);
      tp_busy_wait(tc);
      flush_all(pool, tc);
      if (tc->peak_requested > pool->front.requested_peak)
        pool->front.requested_peak = tc->peak_requested;
      fold_counts(&pool->front.done, &tc->counts);
      unlink_from_pool(pool, tc);
      tp_busy_release(tc);
      tp_lock_release(&pool->lock);
    }
    pthread_mutex_unlock(&registry);
    free_cache(tc);
    tc = next;
  }
}

static void make_key(void) {
  key_made = pthread_key_create(&exit_key, thread_exit) == 0;
}

/* Drops cache `tc` of the calling thread, whose pool is gone. */
__attribute__((noinline, cold)) static void drop_dead(tp_thread_cache *tc) {
  tp_thread_cache **at = &tls.list;
  while (*at != tc)
    at = &(*at)->thread_next;
  *at = tc->thread_next;
  if (tls.cache == tc) {
    tls.cache = NULL;
    tls.pool = NULL;
  }
  free_cache(tc);
}

/* A new cache for `pool`, registered; NULL when the front end is off or
 * host memory ran out (the call then goes to the engine). */
__attribute__((noinline, cold)) static tp_thread_cache *
make_cache(tp_pool *pool) {
  pthread_once(&key_once, make_key);
  if (!key_made || tls.exited)
    return NULL;
  tp_thread_cache *tc = calloc(1, sizeof *tc);
  if (tc)
    tc->notes = calloc(TP_FRONT_NOTES, sizeof *tc->notes);
  if (!tc || !tc->notes) {
    free(tc);
    return NULL;
  }
  tp_lock_acquire(&pool->lock);
  bool on = atomic_load_explicit(&pool->front.on, memory_order_relaxed);
  if (on) {
    tc->pool = pool;
    tc->budget = pool->front.budget;
    tc->pool_next = pool->front.caches;
    if (tc->pool_next)
      tc->pool_next->pool_prev = tc;
    pool->front.caches = tc;
  }
  tp_lock_release(&pool->lock);
  if (!on || pthread_setspecific(exit_key, tc) != 0) {
    if (on) {
      tp_lock_acquire(&pool->lock);
      unlink_from_pool(pool, tc);
      tp_lock_release(&pool->lock);
    }
    free_cache(tc);
    return NULL;
  }
  tc->thread_next = tls.list;
  tls.list = tc;
  return tc;
}

/* The calling thread's cache for `pool`, made if `make`. */
__attribute__((noinline)) static tp_thread_cache *find_cache(tp_pool *pool,
                                                             bool make) {
  for (tp_thread_cache *tc = tls.list; tc; tc = tc->thread_next) {
    if (tc->pool != pool)
      continue;
    tp_busy_wait(tc);
    bool dead = tc->dead;
    tp_busy_release(tc);
    if (dead) {
      /* A pool destroyed at this address before: a new one now. */
      drop_dead(tc);
      break;
    }
    tls.pool = pool;
    tls.cache = tc;
    return tc;
  }
  if (!make || !atomic_load_explicit(&pool->front.on, memory_order_relaxed))
    return NULL;
  tp_thread_cache *tc = make_cache(pool);
  if (tc) {
    tls.pool = pool;
    tls.cache = tc;
  }
  return tc;
}

/* ---- alloc and free ---------------------------------------------------- */

/* Takes `bin`'s next batch from the engine and hands one block out. */
__attribute__((noinline)) static bool refill(tp_pool *pool, tp_thread_cache *tc,
                                             size_t bytes, void **out) {
  uint64_t n = tp_round_request(bytes);
  tp_front_bin *bin = &tc->bins[(n >> 8) - 1];
  bool served = false;
  tp_lock_acquire(&pool->lock);
  tp_busy_wait(tc);
  if (tc->off || tc->dead || n >= pool->config.oversize_threshold)
    goto done;
  if (!bin->blocks) {
    bin->blocks = malloc(TP_FRONT_DEPTH * sizeof *bin->blocks);
    if (!bin->blocks)
      goto done;
  }
  pool->clock++;
  uint32_t want = bin->batch ? bin->batch : 1;
  bin->batch = want * 2 > TP_FRONT_DEPTH ? TP_FRONT_DEPTH : want * 2;
  /* Within the thread's budget, apart from the block handed out now. */
  uint64_t room =
      tc->budget > tc->parked_bytes ? tc->budget - tc->parked_bytes : 0;
  if ((want - 1) * n > room)
    want = (uint32_t)(room / n) + 1;
  bool first_hit = false;
  tp_parked first = {0, NULL};
  for (uint32_t i = 0; i < want; i++) {
    uint32_t b;
    bool hit = false;
    /* A failure leaves the call to the engine, which drains the caches
     * and reports it. Only the block handed out may take new memory or wait
     * on another stream: the rest of the batch comes from free blocks ready
     * for this one, so that speculative blocks never grow the pool or
     * order streams (and every miss is the caller's allocation). */
    if (tp_pool_engine_take(pool, n, bytes, NULL, i > 0, &b, &hit) !=
        TP_SUCCESS)
      break;
    tp_cell *cell = tp_front_cell(pool, b, true);
    if (!cell) {
      tp_ptr_map_take(&pool->map, tp_blk(pool, b)->ptr);
      tp_pool_engine_release(pool, b, NULL);
      break;
    }
    uint64_t w = atomic_load_explicit(&cell->word, memory_order_relaxed);
    atomic_store_explicit(&cell->word, (w & ~(uint64_t)3) | TP_CELL_PARKED,
                          memory_order_relaxed);
    tc->parked_bytes += n;
    tp_parked p = {tp_blk(pool, b)->ptr, cell};
    if (i == 0) {
      first = p;
      first_hit = hit;
    } else {
      bin->blocks[bin->count++] = p;
    }
  }
  tp_pool_note_peaks(pool);
  note_base(pool, tc);
  if (first.cell) {
    hand(tc, first, n, bytes);
    tc->counts.misses += !first_hit;
    *out = (void *)first.ptr;
    served = true;
  }
done:
  tp_busy_release(tc);
  tp_lock_release(&pool->lock);
  return served;
}

bool tp_front_alloc(tp_pool *pool, size_t bytes, void **out, tp_status *st) {
  if (bytes - 1 >= TP_FRONT_MAX_BYTES) /* 0 too: the engine says why */
    return false;
  tp_thread_cache *tc = tls.pool == pool ? tls.cache : find_cache(pool, true);
  if (!tc || !tp_busy_try(tc))
    return false;
  if (tc->off) {
    bool dead = tc->dead;
    tp_busy_release(tc);
    if (dead)
      drop_dead(tc);
    return false;
  }
  uint64_t n = tp_round_request(bytes);
  tp_front_bin *bin = &tc->bins[(n >> 8) - 1];
  if (bin->count == 0) {
    tp_busy_release(tc);
    if (!refill(pool, tc, bytes, out))
      return false;
    *st = TP_SUCCESS;
    return true;
  }
  tp_parked p = bin->blocks[--bin->count];
  hand(tc, p, n, bytes);
  tp_busy_release(tc);
  *out = (void *)p.ptr;
  *st = TP_SUCCESS;
  return true;
}

/* Parks block `ptr` of note `n` in `bin` if its cell is still as handed
 * out (false: the block is not this cache's to take; the engine decides).
 * Under busy, which a free through the engine takes too: no other thread
 * changes the cell meanwhile. */
static inline bool park(tp_thread_cache *tc, tp_front_bin *bin, tp_note *n,
                        uintptr_t ptr) {
  n->ptr = 0;
  if (atomic_load_explicit(&n->cell->word, memory_order_relaxed) != n->word)
    return false;
  atomic_store_explicit(&n->cell->word,
                        (n->word & ~(uint64_t)3) | TP_CELL_PARKED,
                        memory_order_relaxed);
  bin->blocks[bin->count++] = (tp_parked){ptr, n->cell};
  tc->parked_bytes += n->bytes;
  tc->counts.deallocations++;
  tc->counts.bytes_freed += tp_cell_requested(n->word);
  return true;
}

/* A free that finds its bin full or the budget spent: room made under the
 * pool's lock (the oldest half of the bin, or the whole cache), then
 * parked. */
__attribute__((noinline)) static bool
free_making_room(tp_pool *pool, tp_thread_cache *tc, uintptr_t ptr) {
  tp_lock_acquire(&pool->lock);
  tp_busy_wait(tc);
  bool served = false;
  tp_note *n = &tc->notes[note_of(ptr)];
  if (!tc->off && n->ptr == ptr) {
    tp_front_bin *bin = &tc->bins[(n->bytes >> 8) - 1];
    pool->clock++;
    if (tc->parked_bytes + n->bytes > tc->budget)
      flush_all(pool, tc);
    else
      flush_bin(pool, tc, bin, n->bytes, (bin->count + 1) / 2);
    served = park(tc, bin, n, ptr);
  }
  tp_busy_release(tc);
  tp_lock_release(&pool->lock);
  return served;
}

bool tp_front_free(tp_pool *pool, void *ptr, tp_status *st) {
  /* A thread without caches handed nothing out. */
  tp_thread_cache *tc = tls.pool == pool ? tls.cache
                        : tls.list       ? find_cache(pool, false)
                                         : NULL;
  if (!tc || !tp_busy_try(tc))
    return false;
  uintptr_t p = (uintptr_t)ptr;
  tp_note *n = &tc->notes[note_of(p)];
  if (tc->off || n->ptr != p) {
    tp_busy_release(tc);
    return false;
  }
  tp_front_bin *bin = &tc->bins[(n->bytes >> 8) - 1];
  if (bin->count == TP_FRONT_DEPTH ||
      tc->parked_bytes + n->bytes > tc->budget) {
    tp_busy_release(tc);
    if (!free_making_room(pool, tc, p))
      return false;
    *st = TP_SUCCESS;
    return true;
  }
  bool parked = park(tc, bin, n, p);
  tp_busy_release(tc);
  if (parked)
    *st = TP_SUCCESS;
  return parked;
}

/* ---- the pool's side: under its lock ------------------------------------ */

int tp_front_claim(tp_pool *pool, uint32_t b, uint64_t *requested) {
  tp_cell *cell = tp_front_cell(pool, b, false);
  if (!cell)
    return TP_CELL_ENGINE;
  /* The cache that handed it out may be parking it at this moment (a
   * double free across threads): its busy flag decides who is first. A
   * cache gone from the list (its thread exited) frees nothing more. */
  tp_thread_cache *tc;
  for (;;) {
    tp_thread_cache *owner =
        atomic_load_explicit(&cell->owner, memory_order_relaxed);
    tc = pool->front.caches;
    while (tc && tc != owner)
      tc = tc->pool_next;
    if (!tc)
      break;
    tp_busy_wait(tc);
    /* Handed out again meanwhile by another cache: that one's flag. */
    if (atomic_load_explicit(&cell->owner, memory_order_relaxed) == owner)
      break;
    tp_busy_release(tc);
  }
  uint64_t w = atomic_load_explicit(&cell->word, memory_order_relaxed);
  unsigned state = (unsigned)(w & 3u);
  if (state == TP_CELL_HANDED) {
    atomic_store_explicit(&cell->word, (w & ~(uint64_t)3) | TP_CELL_ENGINE,
                          memory_order_relaxed);
    *requested = tp_cell_requested(w);
  }
  if (tc)
    tp_busy_release(tc);
  return (int)state;
}

void tp_front_init(tp_pool *pool) {
  pool->front.budget = pool->config.thread_cache_bytes;
  tp_front_configure(pool);
}

void tp_front_configure(tp_pool *pool) {
  tp_front *f = &pool->front;
  /* A bound on cached bytes is kept exactly by the engine, and the event
   * log sees every call in the order of the pool's lock: both without
   * caches. */
  bool on = f->budget > 0 && pool->config.max_cached_bytes == TP_UNLIMITED &&
            !pool->log;
  atomic_store_explicit(&f->on, on, memory_order_relaxed);
  for (tp_thread_cache *tc = f->caches; tc; tc = tc->pool_next) {
    tp_busy_wait(tc);
    tc->off = !on;
    tc->budget = f->budget;
    if (!on || tc->parked_bytes > tc->budget)
      flush_all(pool, tc);
    tp_busy_release(tc);
  }
}

bool tp_front_drain_all(tp_pool *pool, tp_thread_cache *held) {
  bool any = false;
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    if (tc != held)
      tp_busy_wait(tc);
    any |= tc->parked_bytes > 0;
    flush_all(pool, tc);
    if (tc != held)
      tp_busy_release(tc);
  }
  return any;
}

void tp_front_sum(tp_pool *pool, tp_front_sums *out) {
  memset(out, 0, sizeof *out);
  out->counts = pool->front.done;
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    tp_busy_wait(tc);
    fold_counts(&out->counts, &tc->counts);
    if (tc->peak_requested > out->peak_requested)
      out->peak_requested = tc->peak_requested;
    out->parked_bytes += tc->parked_bytes;
    for (unsigned i = 0; i < TP_FRONT_BINS; i++)
      if (tc->bins[i].count) {
        out->parked_blocks += tc->bins[i].count;
        uint64_t bytes = ((uint64_t)i + 1) << 8;
        if (bytes > out->largest_parked)
          out->largest_parked = bytes;
      }
    tp_busy_release(tc);
  }
}

void tp_front_adjust_stats(tp_pool *pool, tp_pool_stats *s) {
  tp_front_sums f;
  tp_front_sum(pool, &f);
  const tp_front_counts *c = &f.counts;
  s->allocations += c->allocations;
  s->deallocations += c->deallocations;
  s->bytes_allocated += c->bytes_allocated;
  s->bytes_freed += c->bytes_freed;
  s->hits += c->allocations - c->misses;
  s->misses += c->misses;
  s->live_blocks -= f.parked_blocks;
  s->live_bytes -= f.parked_bytes;
  s->cached_blocks += f.parked_blocks;
  s->cached_bytes += f.parked_bytes;
  s->thread_cached_blocks = f.parked_blocks;
  s->thread_cached_bytes = f.parked_bytes;
  s->requested_bytes += c->bytes_allocated - c->bytes_freed;
  if (f.largest_parked > s->largest_free_block)
    s->largest_free_block = f.largest_parked;
  /* Peaks of what callers hold are sampled here and when caches refill
   * (the engine's own peaks count parked blocks as live). */
  if (s->requested_bytes > pool->front.requested_peak)
    pool->front.requested_peak = s->requested_bytes;
  if (f.peak_requested > pool->front.requested_peak)
    pool->front.requested_peak = f.peak_requested;
  if (pool->front.requested_peak > s->requested_bytes_peak)
    s->requested_bytes_peak = pool->front.requested_peak;
  if (s->live_bytes > pool->stats.live_bytes_peak)
    pool->stats.live_bytes_peak = s->live_bytes;
  if (pool->stats.live_bytes_peak > s->live_bytes_peak)
    s->live_bytes_peak = pool->stats.live_bytes_peak;
}

void tp_front_fini(tp_pool *pool, tp_pool_stats *seen) {
  pthread_mutex_lock(&registry);
  tp_lock_acquire(&pool->lock);
  *seen = pool->stats;
  tp_front_adjust_stats(pool, seen);
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    tp_busy_wait(tc);
    tc->dead = true;
    tc->off = true;
    tp_busy_release(tc);
  }
  pool->front.caches = NULL;
  tp_lock_release(&pool->lock);
  pthread_mutex_unlock(&registry);
  tp_front_cells_fini(pool);
}
