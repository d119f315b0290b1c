/* Internal layout of the front end's thread caches, shared by its files. */
#ifndef TP_POOL_FRONT_INTERNAL_H
#define TP_POOL_FRONT_INTERNAL_H

#include <sched.h>

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
  atomic_int busy;
  /* Everything below is guarded by busy. */
  bool off;  /* the pool's front end is off: calls go to the engine */
  bool dead; /* the pool was destroyed: the owner frees this cache */
  tp_pool *pool;
  uint64_t budget;
  uint64_t parked_bytes; /* blocks: the bins' counts */
  tp_front_counts counts;
  /* The requested bytes the pool's callers hold, seen from this thread:
   * the rest of the pool's (engine and caches gone) when this thread last
   * held the pool's lock, plus this cache's own; the most since, exact
   * while this thread is the only one using the pool. */
  uint64_t base_requested, peak_requested;
  tp_note *notes;
  tp_front_bin bins[TP_FRONT_BINS];
  /* The pool's list (under the pool's lock) and the thread's (owner). */
  tp_thread_cache *pool_prev, *pool_next;
  tp_thread_cache *thread_next;
};

/* The cell of record `b`: NULL if it has none yet and `make` is false, or
 * without host memory. */
tp_cell *tp_front_cell(tp_pool *pool, uint32_t b, bool make);

/* busy: a cache's own lock. Its owner only tries it (taken: the call goes
 * to the engine); the pool's lock holders wait for it, briefly: the owner
 * holds it for a few instructions, unless descheduled there. */
static inline bool tp_busy_try(tp_thread_cache *tc) {
  return !atomic_exchange_explicit(&tc->busy, 1, memory_order_acquire);
}
static inline void tp_busy_release(tp_thread_cache *tc) {
  atomic_store_explicit(&tc->busy, 0, memory_order_release);
}
static inline void tp_busy_wait(tp_thread_cache *tc) {
  for (unsigned spins = 0; !tp_busy_try(tc); spins++)
    if (spins >= 64)
      sched_yield();
}
void tp_front_cells_fini(tp_pool *pool);

#endif
