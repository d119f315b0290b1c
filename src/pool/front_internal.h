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
#define TP_FRONT_NOTE_SHIFT 54u /* 64 - log2(TP_FRONT_NOTES) */

static inline uint64_t tp_cell_requested(uint64_t w) {
  return (w >> 2) & (((uint64_t)1 << 30) - 1);
}

typedef struct tp_parked {
  uintptr_t ptr;
  tp_cell *cell;
} tp_parked;

/* Blocks a cache may hold in its inbox: more, and the freeing thread
 * empties the inbox itself. */
#define TP_FRONT_INBOX 256u

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
  uint32_t batch;    /* blocks the next refill takes: doubles up to DEPTH */
  tp_parked *blocks; /* TP_FRONT_DEPTH, made on first use */
} tp_front_bin;

/* A block this cache handed out: freed on the same thread, it is found
 * here without the pool's lock. `word` is its cell as handed out. */
typedef struct tp_note {
  uintptr_t ptr;
  tp_cell *cell;
  uint64_t word;
  uint64_t bytes;
} tp_note;

struct tp_thread_cache {
  /* The owner is in its fast path (it alone writes this) / a holder of the
   * pool's lock wants the cache (holders alone write that): see
   * tp_owner_enter, and stop_all in front_cache.c. */
  atomic_int busy;
  atomic_int stop;
  /* Below: the owner's while it is in its fast path or holds the pool's
   * lock; a holder of the pool's lock's while the cache is stopped. */
  bool off;  /* the pool's front end is off: calls go to the engine */
  bool dead; /* the pool was destroyed: the owner frees this cache */
  tp_pool *pool;
  uint64_t budget;
  uint64_t parked_bytes; /* blocks: the bins' counts */
  tp_front_counts counts;
  /* The requested bytes the pool's callers hold, seen from this thread:
   * the rest of the pool's (engine and caches gone) when this thread last
   * held the pool's lock, plus what this cache handed out and took back
   * since; the most since, exact while this thread is the only one using
   * the pool. */
  uint64_t held_requested, peak_requested;
  tp_note *notes;
  tp_front_bin bins[TP_FRONT_BINS];
  /* Under the pool's lock: frees from other threads (TP_FRONT_INBOX, made
   * on first use), taken back by the owner when it next holds the lock or
   * by a lock holder that stops the cache. */
  tp_queued *inbox;
  uint32_t inbox_count;
  uint64_t inbox_bytes;
  /* The pool's list (under the pool's lock) and the thread's (owner). */
  tp_thread_cache *pool_prev, *pool_next;
  tp_thread_cache *thread_next;
};

/* The cell of record `b`: NULL if it has none yet and `make` is false, or
 * without host memory. */
tp_cell *tp_front_cell(tp_pool *pool, uint32_t b, bool make);

/* Whether owners enter with a plain store (heavy fences on the other side)
 * or a full fence: set before the process's first cache is made. */
extern bool tp_front_asym;

/* The owner's way into its cache, without the pool's lock: false (nothing
 * to undo) while a lock holder has it stopped, and the call goes to the
 * engine, which waits for the lock. The store of busy must be seen before
 * the load of stop (Dekker): with asymmetric fences the lock holder's
 * heavy fence orders the owner's store, so it costs the owner nothing. */
static inline bool tp_owner_enter(tp_thread_cache *tc) {
  if (tp_front_asym) {
    atomic_store_explicit(&tc->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
  } else {
    atomic_store_explicit(&tc->busy, 1, memory_order_seq_cst);
  }
  if (atomic_load_explicit(&tc->stop, memory_order_seq_cst)) {
    atomic_store_explicit(&tc->busy, 0, memory_order_release);
    return false;
  }
  return true;
}
static inline void tp_owner_leave(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->busy, 0, memory_order_release);
}

void tp_front_cells_fini(tp_pool *pool);

#endif
