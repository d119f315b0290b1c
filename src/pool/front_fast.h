/* The front end's alloc and free: the common case (a parked block taken
 * or a freed one parked) as the pool's public calls inline it, the rest as
 * alloc_general and free_general in pool.c inline it, false for the engine.
 * What they cannot do without the pool's lock is out of line
 * (front_cache.c). */
#ifndef TP_POOL_FRONT_FAST_H
#define TP_POOL_FRONT_FAST_H

#include "pool/front_internal.h"

/* The calling thread's caches: the last one used, and all of them. */
typedef struct tp_front_tls {
  /* TP_FRONT_NO_POOL when there is no last cache: never a pool's address,
   * and not NULL, so that a NULL handle never matches (the public alloc and
   * free need not test it on their common path). */
  tp_pool *pool;
  tp_thread_cache *cache;
  tp_thread_cache *list;
  bool exited; /* its caches were given back: make no more */
} tp_front_tls;

/* Reached through a TLS descriptor on x86-64 (src/CMakeLists.txt): in the
 * shared library a call that keeps every register (two instructions
 * where the library was loaded with the program), so the public alloc and
 * free spill nothing around it; linked into a program, a plain %fs load.
 * The default model's __tls_get_addr calls cost 22 instructions a pair,
 * and the spills around them. initial-exec failed to load with dlopen from
 * Python (no static TLS left). glibc before 2.40 may clobber vector
 * registers in the descriptor's dynamic path (dlopen; glibc bug 31372):
 * the files that reach this variable are compiled with general registers
 * only. */
extern _Thread_local tp_front_tls tp_front_here
    __attribute__((visibility("hidden")));
#define TP_FRONT_NO_POOL ((tp_pool *)(uintptr_t)1)

/* The calling thread's cache for `pool`, made if `make`. */
tp_thread_cache *tp_front_find_cache(tp_pool *pool, bool make);
/* Drops cache `tc` of the calling thread, whose pool is gone. */
void tp_front_drop_dead(tp_thread_cache *tc);
/* Takes the next batch of `bytes`' bin from the engine and hands one block
 * out. */
bool tp_front_refill(tp_pool *pool, tp_thread_cache *tc, size_t bytes,
                     void **out);
/* A free that finds its bin full, or at its share of a budget with no
 * room left: room made under the pool's lock (the oldest half of the bin;
 * or the shares other bins leave unused, else the whole cache), then
 * parked. False for the engine; true with the free's status in *st. */
bool tp_front_free_making_room(tp_pool *pool, tp_thread_cache *tc,
                               uintptr_t ptr, tp_status *st);
/* The failure of a free whose block's cell says queued: freed on another
 * thread already, so this free is a double free, refused at once (a
 * later look-up under the lock could find the block taken back and handed
 * out again). */
tp_status tp_front_refuse_queued(tp_pool *pool, const void *ptr);

/* Block `ptr`'s note in cache `tc`: its 256-byte granule number g plus
 * the next ten bits of g, (g + (g >> 10)) mod 1024; as a byte offset into
 * the table (32 bytes a note), (ptr >> 3) + (ptr >> 13), masked.
 * - Neighbouring blocks take neighbouring notes: a run of blocks side by
 *   side (a batch a refill carved, the LIFO's top) collides nowhere below
 *   1023 granules, across 256 KiB windows too (the run skips one note at
 *   each), where Fibonacci's hash spread a ring of 8 small blocks over 8
 *   notes far apart and an XOR fold collided at every 128 MiB boundary.
 * - Blocks of one bin side by side (a model over every bin's size and 100
 *   random placements): a run of 8 never loses a note, 16 lose one in
 *   0.7% of placements, 64 in 5.5% (Fibonacci's hash: 0.5%, 1.1% and
 *   8.2%), though at the worst sizes (93 and 186 granules; 1023 = 11 x 93)
 *   only 11 notes serve 64 such blocks (Fibonacci's worst: 24). Blocks
 *   256 MiB apart share a note, and so do most blocks 256 KiB less 256
 *   bytes apart. A shared note costs only a miss (the free goes through
 *   the engine).
 * - Two shifts, an add and a mask: the chain from the freed pointer to
 *   its note's loads is short. On this project's machine, in a loop
 *   shaped as the bench suite's, a ring of 8 to 32 64-byte blocks took
 *   7.8-8.4 ns a pair against 8.7-9.1 with the multiply; three times the
 *   high part (one lea more, 2 cycles) took 8.3-8.5. A subtraction in
 *   place of the add (a drift back) put two neighbouring blocks on one
 *   note every 64 KiB: a ring of 16 took 15 ns. */
static inline tp_note *tp_note_at(tp_thread_cache *tc, uintptr_t ptr) {
  uintptr_t off = ((ptr >> 3) + (ptr >> 13)) & TP_FRONT_NOTE_MASK;
  /* An index, not a byte pointer: gcc then adds the offset to `tc` and
   * reaches the note's fields with displacements (from a byte pointer it
   * made a three-part lea, a cycle longer). */
  return &tc->notes[off / sizeof(tp_note)];
}

/* Hands parked block `p` of bin `bin` (of `bytes` bytes) to the caller:
 * its cell as handed out (in the generation its park started), and a note
 * to find it at its free. */
static inline void tp_front_hand(tp_thread_cache *tc, tp_parked p,
                                 tp_front_bin *bin, size_t requested) {
  uint64_t word = tp_cell_handed_word(p.word, requested);
  /* Its owner, `tc`, was set when a refill brought it here. */
  atomic_store_explicit(&p.cell->word, word, memory_order_relaxed);
  tp_note *n = tp_note_at(tc, p.ptr);
  n->ptr = p.ptr;
  n->cell = p.cell;
  n->word = word;
  n->bin = bin;
  tc->counts.allocations++;
  tc->counts.bytes_allocated += requested;
  int64_t slack = tc->slack - (int64_t)requested;
  if (slack < 0) {
    tc->peak_requested += (uint64_t)-slack; /* a new peak */
    slack = 0;
  }
  tc->slack = slack;
}

/* Parks block `ptr` of note `n` in `bin`: the caller found its cell as
 * handed out. Everything is read before the first store, which the
 * compiler cannot tell apart from the note and the bin, so that nothing
 * the caller's checks read is read again. A plain store: a handed-out cell
 * changes only on this thread, while a lock holder has the cache stopped,
 * or to queued by a free on another thread (if that compare-and-swap
 * lands between the caller's load and this store, both frees return; the
 * inbox's entry no longer matches when it is taken back, and is
 * dropped). */
static inline void tp_front_park(tp_thread_cache *tc, tp_front_bin *bin,
                                 tp_note *n, uintptr_t ptr) {
  tp_cell *cell = n->cell;
  uint64_t word = n->word;
  uint32_t count = bin->count;
  n->ptr = 0;
  uint64_t parked = tp_cell_parked_word(word);
  atomic_store_explicit(&cell->word, parked, memory_order_relaxed);
  bin->blocks[count] = (tp_parked){ptr, cell, parked};
  bin->count = count + 1;
  /* Deallocations are not counted here (the bins' counts tell them), nor
   * the bytes freed (the slack tells them). */
  tc->slack += (int64_t)tp_cell_requested(word);
}

/* A parked block of bin `b` (blocks of `n` bytes) for a request of
 * `bytes`, handed out from cache `tc` of the calling thread into *out;
 * false (nothing done) when the cache is stopped, does not serve `n`
 * bytes, or has the bin empty. No call, so that the public function that
 * inlines it keeps its arguments in registers on this path. `fast`: the
 * public alloc's way in (tp_owner_enter_fast), which fails where owners
 * need a full fence; the general path then comes here with false. */
__attribute__((always_inline)) static inline bool
tp_front_take_parked(tp_thread_cache *tc, size_t bytes, uint64_t n, size_t b,
                     void **out, bool fast) {
  if (!(fast ? tp_owner_enter_fast(tc) : tp_owner_enter(tc)))
    return false;
  tp_front_bin *bin = &tc->bins[b];
  if (n > tc->serves || bin->count == 0) {
    tp_owner_leave(tc);
    return false;
  }
  tp_parked p = bin->blocks[--bin->count];
  tp_front_hand(tc, p, bin, bytes);
  tp_owner_leave(tc);
  *out = (void *)p.ptr;
  return true;
}

/* Both false when the call is for the engine (nothing done); true with the
 * call's status in *st otherwise. No lock held. A request of `bytes`
 * served by bin `b` of blocks of `n` bytes: a parked block, else a refill.
 * Always inlined (gcc -O2 kept it out of line for its two callers): a call
 * would save six registers and pass the status through memory on every
 * refill and every wide bin's hit. */
__attribute__((always_inline)) static inline bool
tp_front_alloc_from(tp_pool *pool, size_t bytes, uint64_t n, size_t b,
                    void **out, tp_status *st) {
  tp_thread_cache *tc = tp_front_here.pool == pool
                            ? tp_front_here.cache
                            : tp_front_find_cache(pool, true);
  if (!tc)
    return false;
  if (tp_front_take_parked(tc, bytes, n, b, out, false)) {
    *st = TP_SUCCESS;
    return true;
  }
  if (!tp_owner_enter(tc))
    return false;
  /* No block parked for it: the bin is empty (a refill), or the cache does
   * not serve `n` bytes (off, or dead: a destroyed pool's cache serves
   * none), or it was stopped (if it runs again now with the bin not empty,
   * the engine serves this call). */
  bool dead = tc->dead;
  bool refill = !dead && n <= tc->serves && tc->bins[b].count == 0;
  tp_owner_leave(tc);
  if (dead) {
    tp_front_drop_dead(tc); /* frees it */
    return false;
  }
  if (!refill || !tp_front_refill(pool, tc, bytes, out))
    return false;
  *st = TP_SUCCESS;
  return true;
}

/* For 1 <= bytes <= TP_FRONT_EXACT_BYTES: a bin per rounded size. */
static inline bool tp_front_alloc(tp_pool *pool, size_t bytes, void **out,
                                  tp_status *st) {
  uint64_t n = tp_round_request(bytes);
  return tp_front_alloc_from(pool, bytes, n, (size_t)(n >> 8) - 1, out, st);
}

/* For TP_FRONT_EXACT_BYTES < bytes <= TP_FRONT_MAX_BYTES: the caller keeps
 * it out of line, so that the common sizes pay nothing for it. */
static inline bool tp_front_alloc_wide(tp_pool *pool, size_t bytes, void **out,
                                       tp_status *st) {
  unsigned b = tp_front_bin_of(tp_round_request(bytes));
  return tp_front_alloc_from(pool, bytes, tp_front_bin_bytes(b), b, out, st);
}

/* Parks block `ptr`, freed on the calling thread, in its cache `tc`, as
 * the common free does; false (nothing done) for anything else: a stopped
 * or off cache, a block it did not hand out or whose cell says otherwise,
 * a bin at its cap (its share of the budget: the general path grows it),
 * or owners that need a full fence to enter (tp_owner_enter_fast). No
 * call, as tp_front_take_parked. */
__attribute__((always_inline)) static inline bool
tp_front_park_freed(tp_thread_cache *tc, uintptr_t ptr) {
  if (!tp_owner_enter_fast(tc))
    return false;
  tp_note *n = tp_note_at(tc, ptr);
  tp_front_bin *bin = n->bin;
  /* Not off: TP_STOP_OFF would have kept it out. */
  if (n->ptr != ptr ||
      atomic_load_explicit(&n->cell->word, memory_order_relaxed) != n->word ||
      bin->count == bin->cap) {
    tp_owner_leave(tc);
    return false;
  }
  tp_front_park(tc, bin, n, ptr);
  tp_owner_leave(tc);
  return true;
}

static inline bool tp_front_free(tp_pool *pool, void *ptr, tp_status *st) {
  /* A thread without caches handed nothing out. */
  tp_thread_cache *tc = tp_front_here.pool == pool ? tp_front_here.cache
                        : tp_front_here.list ? tp_front_find_cache(pool, false)
                                             : NULL;
  if (!tc || !tp_owner_enter(tc))
    return false;
  uintptr_t p = (uintptr_t)ptr;
  tp_note *n = tp_note_at(tc, p);
  if (tc->off || n->ptr != p) {
    tp_owner_leave(tc);
    return false;
  }
  uint64_t w = atomic_load_explicit(&n->cell->word, memory_order_relaxed);
  if (w != n->word) {
    /* Not as handed out: not this cache's to park. The same hand-out
     * queued (same generation) is a free on another thread of this very
     * block; anything else (a note outlived by its block, whose record,
     * and so cell, may serve another block now) the engine decides. */
    n->ptr = 0;
    tp_owner_leave(tc);
    if (w != ((n->word & ~(uint64_t)3) | TP_CELL_QUEUED))
      return false;
    *st = tp_front_refuse_queued(pool, ptr);
    return true;
  }
  tp_front_bin *bin = n->bin;
  if (bin->count == bin->cap && !tp_front_grow(tc, bin)) {
    tp_owner_leave(tc);
    return tp_front_free_making_room(pool, tc, p, st);
  }
  tp_front_park(tc, bin, n, p);
  tp_owner_leave(tc);
  *st = TP_SUCCESS;
  return true;
}

#endif
