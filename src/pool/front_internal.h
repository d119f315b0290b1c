/* Internal layout of the front end's thread caches, shared by its files. */
#ifndef TP_POOL_FRONT_INTERNAL_H
#define TP_POOL_FRONT_INTERNAL_H

#include "pool/front.h"
#include "pool/pool_internal.h"

#define TP_FRONT_CELL_CHUNK 4096u
/* Notes of handed-out blocks per cache (a power of two): a block whose
 * note was overwritten is freed through the engine, correctly, only
 * slower. */
#define TP_FRONT_NOTES 1024u

_Static_assert(TP_FRONT_EXACT_BYTES == (size_t)1 << 16 &&
                   TP_FRONT_MAX_BYTES == TP_FRONT_EXACT_BYTES << 2,
               "the bins' arithmetic below: 2^16, then two powers of two");

/* The bin of rounded size `n` (1..TP_FRONT_MAX_BYTES), and the bytes of
 * the blocks a bin holds (a block's size maps back to its bin). */
static inline unsigned tp_front_bin_of(uint64_t n) {
  if (n <= TP_FRONT_EXACT_BYTES)
    return (unsigned)(n >> 8) - 1;
  /* Above 2^top, steps of 2^(top - 3): (n - 1) >> shift is 8..15. */
  unsigned top = 63u - (unsigned)__builtin_clzll(n - 1);
  unsigned shift = top - 3u;
  return TP_FRONT_EXACT_BINS + (top - 16u) * TP_FRONT_WIDE_STEPS +
         (unsigned)((n - 1) >> shift) - TP_FRONT_WIDE_STEPS;
}
static inline uint64_t tp_front_bin_bytes(unsigned bin) {
  if (bin < TP_FRONT_EXACT_BINS)
    return ((uint64_t)bin + 1) << 8;
  unsigned wide = bin - TP_FRONT_EXACT_BINS;
  unsigned shift = 13u + wide / TP_FRONT_WIDE_STEPS;
  return ((uint64_t)(wide % TP_FRONT_WIDE_STEPS) + TP_FRONT_WIDE_STEPS + 1)
         << shift;
}

static inline uint64_t tp_cell_requested(uint64_t w) {
  return (w >> 2) & (((uint64_t)1 << 30) - 1);
}

/* A parked block: its cell, and the cell's word as parked (it changes only
 * when the block leaves the bin), so that a hand-out need not read it. */
typedef struct tp_parked {
  uintptr_t ptr;
  tp_cell *cell;
  uint64_t word;
} tp_parked;

/* Blocks a cache may hold in its inbox, and bytes in budgets: more, and
 * the freeing thread empties the inbox itself, which costs it a heavy fence
 * (tens of microseconds where the owner runs on another core). A burst of
 * frees while the owner is idle (a consumer catching up with its producer)
 * fills an inbox of large blocks at once; a few budgets' worth keeps the
 * fences to one per 256 small blocks or 16 budgets of large ones. */
#define TP_FRONT_INBOX 256u
#define TP_FRONT_INBOX_BUDGETS 16u

/* A block this cache handed out, freed on another thread: `word` is its
 * cell's word as that free queued it. */
typedef struct tp_queued {
  uintptr_t ptr;
  tp_cell *cell;
  uint64_t word;
  uint64_t bytes;
} tp_queued;

typedef struct tp_front_bin {
  uint32_t count;
  /* The blocks it may hold (count <= cap <= TP_FRONT_DEPTH): its share of
   * the cache's budget, so that a park checks the bin alone (see
   * `reserved`). */
  uint32_t cap;
  uint32_t batch;    /* blocks the next refill takes: doubles up to DEPTH */
  tp_parked *blocks; /* TP_FRONT_DEPTH, made on first use */
  uint64_t bytes;    /* of each block: tp_front_bin_bytes */
} tp_front_bin;

/* A block this cache handed out: freed on the same thread, it is found
 * here without the pool's lock. `word` is its cell as handed out; `bin`
 * the bin it goes back to (kept, not computed from its size at the free:
 * the size is the bin's; its address, not its index, so that the free
 * need not compute it). */
typedef struct tp_note {
  uintptr_t ptr;
  tp_cell *cell;
  uint64_t word;
  struct tp_front_bin *bin;
} tp_note;
/* The notes' byte offsets within their table (tp_note_at). */
#define TP_FRONT_NOTE_MASK ((uintptr_t)(TP_FRONT_NOTES - 1) * sizeof(tp_note))
_Static_assert(sizeof(tp_note) == 32,
               "tp_note_at: a 256-byte granule's note at ptr >> 3");
_Static_assert(TP_FRONT_NOTES == 1024,
               "tp_note_at: the next ten bits of the granule at ptr >> 13");

struct tp_thread_cache {
  /* The owner is in its fast path (it alone writes this) / a holder of the
   * pool's lock wants the cache (holders alone write that): see
   * tp_owner_enter, and stop_all in front_cache.c. */
  atomic_int busy;
  atomic_int stop;
  /* What `stop` holds when no lock holder stops it: TP_STOP_SYMMETRIC
   * and TP_STOP_OFF, or neither. */
  int stop_base;
  /* Below: the owner's while it is in its fast path or holds the pool's
   * lock; a holder of the pool's lock's while the cache is stopped. */
  bool off;  /* the pool's front end is off: calls go to the engine */
  bool dead; /* the pool was destroyed: the owner frees this cache */
  tp_pool *pool;
  uint64_t budget;
  /* The largest block it hands out: below the pool's oversize threshold,
   * within the budget (a larger one could never be parked), 0 when off. */
  uint64_t serves;
  /* The bins' shares of the budget: the sum of cap * bytes, never above
   * `budget`, so the blocks parked (count <= cap) are never either. A
   * share grows when a park finds its bin at its cap and the budget has
   * room (tp_front_grow), and shrinks only under the pool's lock (unused
   * shares given up when a park needs room, flushes), so that the common
   * alloc and free keep no count of parked bytes. */
  uint64_t reserved;
  /* Its calls' counts, but for deallocations and bytes_freed: a free
   * that parks keeps one count (`slack`) where it kept three, and
   * cache_counts (front_cache.c) derives those two, from the bins' counts
   * and `moved_in`, and from `slack`. */
  tp_front_counts counts;
  /* Blocks that entered the bins other than by a park, less those that
   * left them other than by a hand-out: the bins hold moved_in + parks -
   * hand-outs. */
  int64_t moved_in;
  /* The requested bytes the pool's callers hold, seen from this thread:
   * the rest of the pool's (engine and caches gone) when this thread last
   * held the pool's lock, as `held_base`, plus what this cache handed out
   * (bytes_allocated) and took back since; the most since as
   * `peak_requested`, exact while this thread is the only one using the
   * pool. Kept as `slack`, the peak less what callers hold (never below
   * zero): a hand-out takes from it, and raises the peak by what it takes
   * beyond it; a park adds to it. That one count serves both, and the
   * bytes freed follow from it (tp_front_freed). What callers hold is
   * signed: the rest leaves other live caches' hand-outs out but counts
   * the frees of those that went through the engine, so it can fall below
   * zero, and must not read as a huge peak then. */
  uint64_t held_base;
  uint64_t peak_requested; /* never below zero */
  int64_t slack;
  /* While it is off: what callers hold of its hand-outs (bytes handed out
   * less taken back), as counted in the pool's front.noted; 0 while on. */
  uint64_t noted;
  tp_front_bin bins[TP_FRONT_BINS];
  /* Under the pool's lock: frees from other threads (TP_FRONT_INBOX, made
   * on first use), taken back by the owner when it next holds the lock
   * (asked to by TP_STOP_TAKE_INBOX once half full) or by a lock holder
   * that stops the cache. */
  tp_queued *inbox;
  uint32_t inbox_count;
  uint64_t inbox_bytes;
  /* The pool's list (under the pool's lock) and the thread's (owner). */
  tp_thread_cache *pool_prev, *pool_next;
  tp_thread_cache *thread_next;
  /* In the cache itself, not behind a pointer: the common alloc and free
   * address a note from the cache without loading a pointer first. */
  tp_note notes[TP_FRONT_NOTES];
};

/* The cell of record `b`: NULL if it has none yet and `make` is false, or
 * without host memory. */
tp_cell *tp_front_cell(tp_pool *pool, uint32_t b, bool make);

/* Whether owners enter with a plain store (heavy fences on the other side)
 * or a full fence: set before the process's first cache is made. */
extern bool tp_front_asym __attribute__((visibility("hidden")));

/* `stop`, written only under the pool's lock: a lock holder has the cache
 * stopped (HELD); asks its owner to take its inbox back (TAKE_INBOX: the
 * owner's next call goes to the engine, which does); or stopped it and left
 * it stopped (LEFT), so that later lock holders may decide its blocks' frees
 * without a heavy fence each, until the owner's next call, which goes to the
 * engine, lets it run again. */
enum { TP_STOP_HELD = 1, TP_STOP_TAKE_INBOX = 2, TP_STOP_LEFT = 4 };
/* Not a stop: set for a cache's whole life where owners need a full fence
 * to enter (no heavy fence in this process), so that the public alloc and
 * free, which enter with a plain store, never find the cache open and take
 * the general path, which fences. Every store of `stop` keeps it
 * (`stop_base`). */
enum { TP_STOP_SYMMETRIC = 8 };
/* Not a stop either: set while the cache is off (`off`, a dead cache's
 * too), so that the public free's inline path need not read `off`: it
 * never enters, and the general path, which reads it, sends the call to
 * the engine. Kept in `stop_base`, as TP_STOP_SYMMETRIC is. */
enum { TP_STOP_OFF = 16 };

/* The owner's way into its cache, without the pool's lock: false (nothing
 * to undo) while `stop` has any of `bits`, and the call goes to the
 * engine, which waits for the lock. The store of busy must be seen before
 * the load of stop (Dekker): with asymmetric fences the lock holder's
 * heavy fence orders the owner's store, so it costs the owner nothing. */
static inline bool tp_owner_enter_unless(tp_thread_cache *tc, int bits) {
  if (__builtin_expect(tp_front_asym, 1)) {
    atomic_store_explicit(&tc->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
  } else {
    atomic_store_explicit(&tc->busy, 1, memory_order_seq_cst);
  }
  if (atomic_load_explicit(&tc->stop, memory_order_seq_cst) & bits) {
    atomic_store_explicit(&tc->busy, 0, memory_order_release);
    return false;
  }
  return true;
}
/* The general path's way in: any of them sends the call to the engine. */
static inline bool tp_owner_enter(tp_thread_cache *tc) {
  return tp_owner_enter_unless(tc, TP_STOP_HELD | TP_STOP_TAKE_INBOX |
                                       TP_STOP_LEFT);
}
/* The public alloc and free's way in: the plain store alone, with no look
 * at tp_front_asym; where a full fence is needed, TP_STOP_SYMMETRIC keeps
 * the cache shut to it. A store of busy seen late then costs a lock holder
 * a few spins, nothing else: the caller touches nothing of the cache. */
static inline bool tp_owner_enter_fast(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->busy, 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&tc->stop, memory_order_seq_cst) &
      (TP_STOP_HELD | TP_STOP_TAKE_INBOX | TP_STOP_LEFT | TP_STOP_SYMMETRIC |
       TP_STOP_OFF)) {
    atomic_store_explicit(&tc->busy, 0, memory_order_release);
    return false;
  }
  return true;
}
static inline void tp_owner_leave(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->busy, 0, memory_order_release);
}

/* The requested bytes cache `tc` took back (its bytes_freed): what
 * callers hold is peak - slack, and held_base + bytes_allocated - freed.
 * Unsigned arithmetic, which wraps. Owner, or a stopped cache. */
static inline uint64_t tp_front_freed(const tp_thread_cache *tc) {
  return tc->held_base + tc->counts.bytes_allocated - tc->peak_requested +
         (uint64_t)tc->slack;
}

/* Bin `bin` of cache `tc` (its owner's, in its fast path or holding the
 * pool's lock, or stopped) at its cap: one more block's share of the
 * budget, if the budget has room; false otherwise. */
static inline bool tp_front_grow(tp_thread_cache *tc, tp_front_bin *bin) {
  if (bin->cap == TP_FRONT_DEPTH || tc->reserved + bin->bytes > tc->budget)
    return false;
  bin->cap++;
  tc->reserved += bin->bytes;
  return true;
}

void tp_front_cells_fini(tp_pool *pool);

#endif
