/* The front end's thread caches beyond the lock-free alloc and free
 * (front_fast.h): refills and flushes in batches under the pool's lock,
 * frees from other threads, stopping caches, and the caches' lives (made
 * on a thread's first allocation from a pool, given back when the thread
 * exits, detached when the pool is destroyed). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/asym_fence.h"
#include "core/error.h"
#include "pool/front_fast.h"

bool tp_front_asym;
_Thread_local tp_front_tls tp_front_here = {.pool = TP_FRONT_NO_POOL};

/* Thread exit against pool destroy: both take it before a pool's lock. */
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool key_made;

/* Pool's lock held: a holder stops a cache (its owner out of its fast
 * path, and kept out, until resumed) to touch what the owner touches
 * without the lock. stop first, then one heavy fence for every cache
 * stopped at once, then a wait for each owner to leave. */
static void wait_owner_out(tp_thread_cache *tc) {
  for (unsigned spins = 0;
       atomic_load_explicit(&tc->busy, memory_order_seq_cst); spins++)
    if (spins >= 64)
      sched_yield(); /* the owner was descheduled in its fast path */
}

static void stop_one(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->stop, tc->stop_base | TP_STOP_HELD,
                        memory_order_seq_cst);
  if (tp_front_asym)
    tp_asym_fence_heavy();
  wait_owner_out(tc);
}

static void resume_one(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->stop, tc->stop_base, memory_order_release);
}

static void stop_all(tp_pool *pool) {
  tp_thread_cache *first = pool->front.caches;
  if (!first)
    return;
  for (tp_thread_cache *tc = first; tc; tc = tc->pool_next)
    atomic_store_explicit(&tc->stop, tc->stop_base | TP_STOP_HELD,
                          memory_order_seq_cst);
  if (tp_front_asym)
    tp_asym_fence_heavy();
  for (tp_thread_cache *tc = first; tc; tc = tc->pool_next)
    wait_owner_out(tc);
}

static void resume_all(tp_pool *pool) {
  tp_thread_cache *tc = pool->front.caches;
  while (tc) {
    /* Next first: a cache resumed dead (pool destroy) may be freed by its
     * owner at once. */
    tp_thread_cache *next = tc->pool_next;
    resume_one(tc);
    tc = next;
  }
}

static void *own_lines(size_t bytes);

/* Parks block `q` of the inbox in its bin if the bin and the budget have
 * room (the owner's own call, not a stop: a free on another thread of a
 * block this thread allocates is likely of a size it asks for again). */
static bool park_queued(tp_thread_cache *tc, const tp_queued *q) {
  tp_front_bin *bin = &tc->bins[tp_front_bin_of(q->bytes)];
  if (q->bytes > tc->serves ||
      (bin->count == bin->cap && !tp_front_grow(tc, bin)))
    return false;
  if (!bin->blocks &&
      !(bin->blocks = own_lines(TP_FRONT_DEPTH * sizeof *bin->blocks)))
    return false;
  uint64_t parked = tp_cell_parked_word(q->word);
  atomic_store_explicit(&q->cell->word, parked, memory_order_relaxed);
  bin->blocks[bin->count++] = (tp_parked){q->ptr, q->cell, parked};
  tc->moved_in++;
  return true;
}

/* Pool's lock held, `tc` the caller's or stopped: the blocks other threads
 * freed go back to the engine, or with `park` (the caller's cache) to its
 * bins where they fit. One that is no longer as that free found it was
 * freed on this cache's thread too, meanwhile (and parked here): that
 * later free kept it, and the pool counts the other as a failure. */
static void take_inbox_or_park(tp_pool *pool, tp_thread_cache *tc, bool park) {
  if (!tc->inbox_count)
    return;
  pool->clock++; /* as a flush: the frees came before this call */
  for (uint32_t i = 0; i < tc->inbox_count; i++) {
    tp_queued *q = &tc->inbox[i];
    if (atomic_load_explicit(&q->cell->word, memory_order_relaxed) != q->word) {
      pool->stats.failures++;
      continue;
    }
    tp_front_count_free(pool, tp_cell_requested(q->word));
    if (park && park_queued(tc, q))
      continue;
    atomic_store_explicit(&q->cell->word,
                          (q->word & ~(uint64_t)3) | TP_CELL_ENGINE,
                          memory_order_relaxed);
    uint32_t b = tp_ptr_map_take(&pool->map, q->ptr);
    tp_pool_engine_release(pool, b, NULL);
  }
  pool->front.queued -= tc->inbox_count;
  tc->inbox_count = 0;
  tc->inbox_bytes = 0;
}

static void take_inbox(tp_pool *pool, tp_thread_cache *tc) {
  take_inbox_or_park(pool, tc, false);
}

/* Pool's lock held by the owner of `tc`: what a free on another thread
 * asked of it (its inbox taken back) is done by the caller now, and a
 * stop left by one ends (see TP_STOP_LEFT). Then the inbox, parking what
 * fits if `park`. */
static void owner_takes_inbox(tp_pool *pool, tp_thread_cache *tc, bool park) {
  if (atomic_load_explicit(&tc->stop, memory_order_relaxed) != tc->stop_base)
    atomic_store_explicit(&tc->stop, tc->stop_base, memory_order_release);
  take_inbox_or_park(pool, tc, park);
}

void tp_front_stop(tp_pool *pool) {
  stop_all(pool);
  if (pool->front.queued)
    for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next)
      take_inbox(pool, tc);
}

void tp_front_resume(tp_pool *pool) {
  resume_all(pool);
}

void tp_front_settle(tp_pool *pool) {
  if (!pool->front.queued)
    return;
  tp_front_stop(pool);
  tp_front_resume(pool);
}

/* Pool's lock held, and `tc` the caller's or stopped: the rest of the
 * pool's requested bytes as they are now (other caches that are on left
 * out: unknown without stopping them), and this cache's view of the peak
 * brought up to date. The sum wraps below zero where frees of blocks
 * another live cache handed out are counted and their hand-outs are not:
 * read as signed (see held_base). */
static int64_t note_base(tp_pool *pool, tp_thread_cache *tc) {
  uint64_t freed = tp_front_freed(tc);
  tc->held_base = pool->stats.requested_bytes +
                  tp_front_requested_elsewhere(&pool->front) - tc->noted;
  int64_t held = (int64_t)(tc->held_base + tc->counts.bytes_allocated - freed);
  if (held > (int64_t)tc->peak_requested)
    tc->peak_requested = (uint64_t)held;
  tc->slack = (int64_t)tc->peak_requested - held;
  return held;
}

void tp_front_note_engine_call(tp_pool *pool) {
  tp_thread_cache *tc = tp_front_here.pool == pool ? tp_front_here.cache : NULL;
  if (!tc)
    return;
  /* The caller's own: not in its fast path. */
  owner_takes_inbox(pool, tc, true);
  note_base(pool, tc);
}

void tp_front_reset_peaks(tp_pool *pool) {
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    int64_t held = note_base(pool, tc);
    tc->peak_requested = held > 0 ? (uint64_t)held : 0;
    tc->slack = (int64_t)tc->peak_requested - held;
  }
}

/* Gives the `count` oldest blocks of `bin` back to the engine. Pool's lock
 * held, `tc` the caller's or stopped. */
static void flush_bin(tp_pool *pool, tp_thread_cache *tc, tp_front_bin *bin,
                      uint32_t count) {
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
  tc->moved_in -= count;
}

/* Bin `bin` of `tc` (the caller's or stopped) gives up its share of the
 * budget beyond `cap` blocks (at least its count). */
static void cap_bin(tp_thread_cache *tc, tp_front_bin *bin, uint32_t cap) {
  if (cap < bin->count)
    cap = bin->count;
  if (cap < bin->cap) {
    tc->reserved -= (uint64_t)(bin->cap - cap) * bin->bytes;
    bin->cap = cap;
  }
}

/* Every bin of `tc` gives up the share it leaves unused. */
static void cap_all_to_counts(tp_thread_cache *tc) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++)
    cap_bin(tc, &tc->bins[i], 0);
}

/* The blocks parked in `tc` (the caller's or stopped), in one pass over
 * its bins: how many, their bytes, and the largest's bytes. */
typedef struct parked_sum {
  uint64_t blocks, bytes, largest;
} parked_sum;

static parked_sum parked_of(const tp_thread_cache *tc) {
  parked_sum p = {0, 0, 0};
  for (unsigned i = 0; i < TP_FRONT_BINS; i++) {
    const tp_front_bin *bin = &tc->bins[i];
    if (!bin->count)
      continue;
    p.blocks += bin->count;
    p.bytes += (uint64_t)bin->count * bin->bytes;
    if (bin->bytes > p.largest)
      p.largest = bin->bytes;
  }
  return p;
}

/* Gives back every parked block larger than `bytes`, and forgets the
 * notes of those handed out: their frees go to the engine, since the
 * cache could never hand them out again. */
static void flush_above(tp_pool *pool, tp_thread_cache *tc, uint64_t bytes) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++) {
    tp_front_bin *bin = &tc->bins[i];
    if (bin->bytes > bytes) {
      if (bin->count)
        flush_bin(pool, tc, bin, bin->count);
      cap_bin(tc, bin, 0);
      bin->batch = 0;
    }
  }
  for (unsigned i = 0; i < TP_FRONT_NOTES; i++)
    if (tc->notes[i].ptr && tc->notes[i].bin->bytes > bytes)
      tc->notes[i].ptr = 0;
}

/* The largest block a cache of `pool` hands out (its `serves`), the front
 * end on: every block of a cache is parked some time, so none is larger
 * than the budget, and none is oversize (a segment of its own). */
static uint64_t largest_served(const tp_pool *pool) {
  uint64_t most = TP_FRONT_MAX_BYTES;
  if (pool->front.budget < most)
    most = pool->front.budget;
  if (pool->config.oversize_threshold <= most)
    most = pool->config.oversize_threshold ? pool->config.oversize_threshold - 1
                                           : 0;
  return most;
}

static void flush_all(tp_pool *pool, tp_thread_cache *tc) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++) {
    tp_front_bin *bin = &tc->bins[i];
    if (bin->count)
      flush_bin(pool, tc, bin, bin->count);
    cap_bin(tc, bin, 0);
    bin->batch = 0;
  }
}

/* ---- the caches' lives ------------------------------------------------ */

static void free_cache(tp_thread_cache *tc) {
  for (unsigned i = 0; i < TP_FRONT_BINS; i++)
    free(tc->bins[i].blocks);
  free(tc->inbox);
  free(tc);
}

/* Cache `tc`'s counts, its deallocations and bytes freed derived: the
 * bins hold `parked` blocks, which are moved_in + parks - hand-outs, and
 * each park is a deallocation, each hand-out an allocation; the bytes from
 * the slack. Owner, or a stopped cache. */
static tp_front_counts cache_counts(const tp_thread_cache *tc,
                                    uint64_t parked) {
  tp_front_counts c = tc->counts;
  c.bytes_freed = tp_front_freed(tc);
  c.deallocations =
      (uint64_t)((int64_t)parked - tc->moved_in) + tc->counts.allocations;
  return c;
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
  tp_front_here.exited = true;
  tp_front_here.pool = TP_FRONT_NO_POOL;
  tp_front_here.cache = NULL;
  tp_thread_cache *tc = tp_front_here.list;
  tp_front_here.list = NULL;
  while (tc) {
    tp_thread_cache *next = tc->thread_next;
    /* The registry keeps pool destroy (which sets dead) out; the pool's
     * lock keeps its other holders out of this cache. */
    pthread_mutex_lock(&registry);
    if (!tc->dead) {
      tp_pool *pool = tc->pool;
      tp_lock_acquire(&pool->lock);
      take_inbox(pool, tc);
      flush_all(pool, tc);
      if (tc->peak_requested > pool->front.requested_peak)
        pool->front.requested_peak = tc->peak_requested;
      tp_front_counts counts = cache_counts(tc, 0); /* flushed above */
      fold_counts(&pool->front.done, &counts);
      pool->front.noted -= tc->noted; /* counted in done now */
      unlink_from_pool(pool, tc);
      tp_lock_release(&pool->lock);
    }
    pthread_mutex_unlock(&registry);
    free_cache(tc);
    tc = next;
  }
}

static void make_key(void) {
  key_made = pthread_key_create(&exit_key, thread_exit) == 0;
  /* Before the process's first cache: no owner is in a fast path yet. */
  tp_front_asym = tp_asym_fence_available();
}

/* Drops cache `tc` of the calling thread, whose pool is gone. */
__attribute__((noinline, cold)) void tp_front_drop_dead(tp_thread_cache *tc) {
  tp_thread_cache **at = &tp_front_here.list;
  while (*at != tc)
    at = &(*at)->thread_next;
  *at = tc->thread_next;
  if (tp_front_here.cache == tc) {
    tp_front_here.cache = NULL;
    tp_front_here.pool = TP_FRONT_NO_POOL;
  }
  free_cache(tc);
}

/* Zeroed memory of whole cache lines of its own: a cache's parts never
 * share a line with another thread's (false sharing would put the lines
 * its owner writes at every call in other threads' way). */
static void *own_lines(size_t bytes) {
  size_t rounded = (bytes + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, rounded);
  if (p)
    memset(p, 0, rounded);
  return p;
}

/* A new cache for `pool`, registered; NULL when the front end is off or
 * host memory ran out (the call then goes to the engine). */
__attribute__((noinline, cold)) static tp_thread_cache *
make_cache(tp_pool *pool) {
  pthread_once(&key_once, make_key);
  if (!key_made || tp_front_here.exited)
    return NULL;
  tp_thread_cache *tc = own_lines(sizeof *tc);
  if (!tc)
    return NULL;
  for (unsigned i = 0; i < TP_FRONT_BINS; i++)
    tc->bins[i].bytes = tp_front_bin_bytes(i);
  tc->stop_base = tp_front_asym ? 0 : TP_STOP_SYMMETRIC;
  atomic_store_explicit(&tc->stop, tc->stop_base, memory_order_relaxed);
  tp_lock_acquire(&pool->lock);
  bool on = atomic_load_explicit(&pool->front.on, memory_order_relaxed);
  if (on) {
    tc->pool = pool;
    tc->budget = pool->front.budget;
    tc->serves = largest_served(pool);
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
  tc->thread_next = tp_front_here.list;
  tp_front_here.list = tc;
  return tc;
}

/* The calling thread's cache for `pool`, made if `make`. */
__attribute__((noinline)) tp_thread_cache *tp_front_find_cache(tp_pool *pool,
                                                               bool make) {
  for (tp_thread_cache *tc = tp_front_here.list; tc; tc = tc->thread_next) {
    if (tc->pool != pool)
      continue;
    /* Set by pool destroy while it had the cache stopped. (A request to
     * take the inbox back, or a stop left, is this thread's to end: no
     * wait for it; `dead` is set only while a stop is held.) */
    while (!tp_owner_enter_unless(tc, TP_STOP_HELD))
      sched_yield();
    bool dead = tc->dead;
    tp_owner_leave(tc);
    if (dead) {
      /* A pool destroyed at this address before: a new one now. */
      tp_front_drop_dead(tc);
      break;
    }
    tp_front_here.pool = pool;
    tp_front_here.cache = tc;
    return tc;
  }
  if (!make || !atomic_load_explicit(&pool->front.on, memory_order_relaxed))
    return NULL;
  tp_thread_cache *tc = make_cache(pool);
  if (tc) {
    tp_front_here.pool = pool;
    tp_front_here.cache = tc;
  }
  return tc;
}

/* ---- alloc and free ---------------------------------------------------- */

static tp_status queued_twice(tp_pool *pool, const void *ptr) {
  return tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_free: pool '%s': double free of %p (already freed "
                 "on another thread)",
                 pool->name, ptr);
}

/* Takes `bin`'s next batch from the engine and hands one block out. */
__attribute__((noinline)) bool
tp_front_refill(tp_pool *pool, tp_thread_cache *tc, size_t bytes, void **out) {
  unsigned which = tp_front_bin_of(tp_round_request(bytes));
  uint64_t n = tp_front_bin_bytes(which); /* above 64 KiB, more than asked */
  tp_front_bin *bin = &tc->bins[which];
  bool served = false;
  tp_lock_acquire(&pool->lock); /* the cache is the caller's: no flag */
  if (n > tc->serves)           /* changed since the caller looked */
    goto done;
  /* Other threads' frees first: parked, and one of them may be next. */
  owner_takes_inbox(pool, tc, true);
  if (bin->count) {
    note_base(pool, tc);
    tp_front_hand(tc, bin->blocks[--bin->count], bin, bytes);
    *out = (void *)bin->blocks[bin->count].ptr;
    served = true;
    goto done;
  }
  if (!bin->blocks) {
    bin->blocks = own_lines(TP_FRONT_DEPTH * sizeof *bin->blocks);
    if (!bin->blocks)
      goto done;
  }
  pool->clock++;
  uint32_t want = bin->batch ? bin->batch : 1;
  bin->batch = want * 2 > TP_FRONT_DEPTH ? TP_FRONT_DEPTH : want * 2;
  /* Within the bin's share of the thread's budget and what the budget has
   * left, apart from the block handed out now (the bin is empty); the
   * shares other bins leave unused are given up first if that is short. */
  if ((uint64_t)bin->cap + (tc->budget - tc->reserved) / n < want - 1)
    cap_all_to_counts(tc);
  uint64_t room = bin->cap + (tc->budget - tc->reserved) / n;
  if (want - 1 > room)
    want = (uint32_t)room + 1;
  bool first_hit = false;
  tp_parked first = {0, NULL, 0};
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
    uint64_t parked = tp_cell_parked_word(w);
    atomic_store_explicit(&cell->word, parked, memory_order_relaxed);
    /* Its owner from now until it leaves this cache (hand-outs and parks
     * keep it): a free on another thread finds the inbox by it. */
    atomic_store_explicit(&cell->owner, tc, memory_order_relaxed);
    tc->moved_in++; /* the first, handed out below, too */
    tp_parked p = {tp_blk(pool, b)->ptr, cell, parked};
    if (i == 0) {
      first = p;
      first_hit = hit;
    } else {
      bin->blocks[bin->count++] = p;
    }
  }
  /* The share for what entered, and for the block handed out to come
   * back, where the budget has room. */
  while (bin->cap < bin->count + 1 && tp_front_grow(tc, bin))
    ;
  tp_pool_note_peaks(pool);
  note_base(pool, tc);
  if (first.cell) {
    tp_front_hand(tc, first, bin, bytes);
    tc->counts.misses += !first_hit;
    *out = (void *)first.ptr;
    served = true;
  }
done:
  tp_lock_release(&pool->lock);
  return served;
}

/* A free that finds its bin full or the budget spent: room made under the
 * pool's lock (the oldest half of the bin, or the whole cache), then
 * parked. */
__attribute__((noinline)) bool tp_front_free_making_room(tp_pool *pool,
                                                         tp_thread_cache *tc,
                                                         uintptr_t ptr,
                                                         tp_status *st) {
  tp_lock_acquire(&pool->lock); /* the cache is the caller's: no flag */
  bool handled = false;
  tp_note *n = tp_note_at(tc, ptr);
  if (!tc->off && n->ptr == ptr) {
    /* Checked before the inbox is taken back: a block queued there is a
     * double free now, not a free block of the engine's. */
    uint64_t w = atomic_load_explicit(&n->cell->word, memory_order_relaxed);
    /* A note is only ever of a bin within `serves`, so within the budget
     * (configure forgets the others): after flush_all the block fits. */
    tp_front_bin *bin = n->bin;
    if (w == n->word) {
      owner_takes_inbox(pool, tc, false);
      pool->clock++;
      if (bin->count == bin->cap && !tp_front_grow(tc, bin)) {
        /* Unused shares given up, what is reserved is what is parked:
         * over the budget with this block, everything goes (after which
         * it fits: see above); else a full bin gives its older half back
         * (its cap stays); else the budget has room for the share. */
        cap_all_to_counts(tc);
        if (tc->reserved + bin->bytes > tc->budget) {
          flush_all(pool, tc);
          tp_front_grow(tc, bin);
        } else if (bin->count == TP_FRONT_DEPTH) {
          flush_bin(pool, tc, bin, (bin->count + 1) / 2);
        } else {
          tp_front_grow(tc, bin);
        }
      }
      tp_front_park(tc, bin, n, ptr);
      *st = TP_SUCCESS;
      handled = true;
    } else {
      n->ptr = 0;
      if (w == ((n->word & ~(uint64_t)3) | TP_CELL_QUEUED)) {
        pool->stats.failures++;
        *st = queued_twice(pool, (const void *)ptr);
        handled = true;
      }
    }
  }
  tp_lock_release(&pool->lock);
  return handled;
}

__attribute__((noinline, cold)) tp_status
tp_front_refuse_queued(tp_pool *pool, const void *ptr) {
  tp_lock_acquire(&pool->lock);
  pool->stats.failures++;
  tp_lock_release(&pool->lock);
  return queued_twice(pool, ptr);
}

/* ---- the pool's side: under its lock ------------------------------------ */

/* The cache of `pool` at `owner`, if it is still the pool's (its thread
 * has not exited). Pool's lock held. */
static tp_thread_cache *listed(tp_pool *pool, tp_thread_cache *owner) {
  tp_thread_cache *tc = pool->front.caches;
  while (tc && tc != owner)
    tc = tc->pool_next;
  return tc;
}

/* Pool's lock held: queues block `ptr` in `tc`'s inbox if there is room,
 * marking its cell queued by a compare-and-swap from `*word`, as handed
 * out, since `tc`'s thread may be parking the block at this moment (a
 * double free): false with the cell's word now in `*word` if it changed,
 * or with `*word` as it was if there is no room. */
static bool queue(tp_thread_cache *tc, uintptr_t ptr, tp_cell *cell,
                  uint64_t *word, uint64_t bytes) {
  /* Full: the caller stops the cache (a heavy fence) to take it back. */
  if (tc->inbox_count == TP_FRONT_INBOX ||
      (tc->inbox_bytes + bytes) / TP_FRONT_INBOX_BUDGETS > tc->budget)
    return false; /* (divided: a budget near 2^64 must not wrap) */
  if (!tc->inbox) {
    tc->inbox = malloc(TP_FRONT_INBOX * sizeof *tc->inbox);
    if (!tc->inbox)
      return false;
  }
  uint64_t queued = (*word & ~(uint64_t)3) | TP_CELL_QUEUED;
  if (!atomic_compare_exchange_strong_explicit(&cell->word, word, queued,
                                               memory_order_relaxed,
                                               memory_order_relaxed))
    return false;
  tc->inbox[tc->inbox_count++] = (tp_queued){ptr, cell, queued, bytes};
  tc->inbox_bytes += bytes;
  /* Half full: the owner, if it is busy with the pool, takes it back on
   * its next call, long before a free finds it full. */
  if (tc->inbox_count >= TP_FRONT_INBOX / 2 || tc->inbox_bytes >= tc->budget)
    atomic_store_explicit(
        &tc->stop,
        atomic_load_explicit(&tc->stop, memory_order_relaxed) |
            TP_STOP_TAKE_INBOX,
        memory_order_relaxed);
  return true;
}

int tp_front_claim(tp_pool *pool, uint32_t b, uintptr_t ptr, uint64_t bytes,
                   tp_stream stream, uint64_t *requested) {
  tp_cell *cell = tp_front_cell(pool, b, false);
  if (!cell)
    return TP_CELL_ENGINE;
  uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
  /* Handed out by a cache: only that cache's thread changes the cell now
   * (it may be parking the block at this moment, if the caller frees it
   * twice). Its inbox, for the NULL stream, lets it take the block back
   * when it next holds this lock; another stream's free, or a full inbox,
   * stops the cache to decide here, and leaves it stopped: the owner is
   * likely idle (a full inbox) and more such frees likely to follow, each
   * then decided here without a heavy fence. */
  tp_thread_cache *stopped = NULL;
  tp_thread_cache *mine =
      tp_front_here.pool == pool ? tp_front_here.cache : NULL;
  while ((w & 3u) == TP_CELL_HANDED) {
    tp_thread_cache *tc =
        listed(pool, atomic_load_explicit(&cell->owner, memory_order_relaxed));
    if (!tc || tc == mine)
      break; /* its cache is gone, or the caller's: nothing races */
    if (atomic_load_explicit(&tc->stop, memory_order_relaxed) & TP_STOP_LEFT)
      break; /* stopped still: nothing races either */
    uint64_t seen = w;
    if (stream == NULL && queue(tc, ptr, cell, &w, bytes)) {
      pool->front.queued++;
      return TP_CELL_QUEUED;
    }
    if (w != seen)
      continue; /* changed on the owner's thread: decide again */
    stop_one(tc);
    stopped = tc;
    take_inbox(pool, tc);
    w = atomic_load_explicit(&cell->word, memory_order_relaxed);
    break;
  }
  unsigned state = (unsigned)(w & 3u);
  if (state == TP_CELL_HANDED) {
    atomic_store_explicit(&cell->word, (w & ~(uint64_t)3) | TP_CELL_ENGINE,
                          memory_order_relaxed);
    *requested = tp_cell_requested(w);
  }
  if (stopped)
    atomic_store_explicit(&stopped->stop, stopped->stop_base | TP_STOP_LEFT,
                          memory_order_relaxed);
  /* Queued already: freed before, as parked. */
  return state == TP_CELL_QUEUED ? TP_CELL_PARKED : (int)state;
}

bool tp_front_is_free(tp_pool *pool, uint32_t b) {
  tp_cell *cell = tp_front_cell(pool, b, false);
  if (!cell)
    return false;
  /* Parked and unparked only under the pool's lock (refills, flushes) or
   * by a hand-out, which a concurrent query may miss either way. */
  uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
  if ((w & 3u) == TP_CELL_PARKED)
    return true;
  return (w & 3u) == TP_CELL_QUEUED;
}

void tp_front_init(tp_pool *pool) {
  pool->front.budget = pool->config.thread_cache_bytes;
  tp_front_configure(pool);
}

/* Stopped cache `tc` off or on: `off`, and its stop's base, which the
 * resume stores (TP_STOP_OFF). Off, what its callers hold of its
 * hand-outs changes only by frees through the engine, which `done`
 * counts, so it joins the pool's front.noted; on, its own parks would
 * lower it unseen, and it leaves. */
static void set_off(tp_pool *pool, tp_thread_cache *tc, bool off) {
  uint64_t mine = off ? tc->counts.bytes_allocated - tp_front_freed(tc) : 0;
  pool->front.noted += mine - tc->noted;
  tc->noted = mine;
  tc->off = off;
  tc->stop_base =
      off ? tc->stop_base | TP_STOP_OFF : tc->stop_base & ~TP_STOP_OFF;
}

void tp_front_configure(tp_pool *pool) {
  tp_front *f = &pool->front;
  /* A bound on cached bytes is kept exactly by the engine, and the event
   * log sees every call in the order of the pool's lock: both without
   * caches. */
  bool on = f->budget > 0 && pool->config.max_cached_bytes == TP_UNLIMITED &&
            !pool->log;
  atomic_store_explicit(&f->on, on, memory_order_relaxed);
  stop_all(pool);
  for (tp_thread_cache *tc = f->caches; tc; tc = tc->pool_next) {
    take_inbox(pool, tc);
    set_off(pool, tc, !on);
    tc->budget = f->budget;
    tc->serves = on ? largest_served(pool) : 0;
    cap_all_to_counts(tc); /* reserved: what is parked */
    if (tc->reserved > tc->budget)
      flush_all(pool, tc);
    flush_above(pool, tc, tc->serves);
  }
  resume_all(pool);
}

bool tp_front_drain_all(tp_pool *pool) {
  bool any = false;
  stop_all(pool);
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    any |= parked_of(tc).blocks > 0 || tc->inbox_count > 0;
    take_inbox(pool, tc);
    flush_all(pool, tc);
  }
  resume_all(pool);
  return any;
}

void tp_front_sum(tp_pool *pool, tp_front_sums *out) {
  memset(out, 0, sizeof *out);
  out->counts = pool->front.done;
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    parked_sum parked = parked_of(tc);
    tp_front_counts counts = cache_counts(tc, parked.blocks);
    fold_counts(&out->counts, &counts);
    if (tc->peak_requested > out->peak_requested)
      out->peak_requested = tc->peak_requested;
    out->parked_blocks += parked.blocks;
    out->parked_bytes += parked.bytes;
    if (parked.largest > out->largest_parked)
      out->largest_parked = parked.largest;
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
  tp_front_stop(pool);
  *seen = pool->stats;
  tp_front_adjust_stats(pool, seen);
  for (tp_thread_cache *tc = pool->front.caches; tc; tc = tc->pool_next) {
    tc->dead = true;
    set_off(pool, tc, true);
    tc->serves = 0;
  }
  resume_all(pool); /* their owners find them dead */
  pool->front.caches = NULL;
  tp_lock_release(&pool->lock);
  pthread_mutex_unlock(&registry);
  tp_front_cells_fini(pool);
}
