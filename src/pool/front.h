/* The pool's front end: small per-thread caches of blocks in front of the
 * engine, so that the common alloc and free on the NULL stream take no lock
 * and touch no line another thread writes.
 *
 * A thread's cache for a pool holds, per size up to TP_FRONT_MAX_BYTES
 * (below), a short LIFO of blocks ("parked"). To the engine a
 * parked block and one the cache handed out are both live; the pool's
 * statistics count parked blocks as cached. Each block record index has a
 * state word ("cell", in chunks that never move, so a thread may touch its
 * cell without the pool's lock) saying whether the engine, a cache
 * (parked) or a caller (handed out by a cache) holds the block. A cell
 * handed out by a cache changes only on that cache's thread or while the
 * cache is stopped, so of two frees of one block only one finds it handed
 * out; the other is a double free. A free on another thread leaves the
 * block in the cache's inbox (under the pool's lock), and the cache's
 * thread (or a lock holder that stops the cache) takes it back from there;
 * a full inbox stops the cache and leaves it stopped until its thread's
 * next call.
 *
 * Locks: a cache's fields are its owner's while it is in its fast path
 * (`busy`, a plain store) and a holder of the pool's lock's while it has
 * the cache stopped (`stop`, then a heavy fence, then a wait for busy to
 * clear): the owner never waits; stopped, its calls go to the engine. A
 * process-wide registry lock comes before the pool's lock (thread exit
 * against pool destroy). */
#ifndef TP_POOL_FRONT_H
#define TP_POOL_FRONT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/pool.h"

/* Requests up to this many bytes are cached per thread. Up to
 * TP_FRONT_EXACT_BYTES each rounded size (256-byte steps) has its own bin;
 * above, eight bins per power of two (TP_FRONT_WIDE_STEPS), each holding
 * blocks of its largest size, so a request gets a block up to 1/8 larger
 * than its rounded size: 256 bins of 256 bytes would cover only 64 KiB,
 * and sizes this large are few in a program. */
#define TP_FRONT_EXACT_BYTES ((size_t)64 << 10)
#define TP_FRONT_MAX_BYTES ((size_t)256 << 10)
#define TP_FRONT_EXACT_BINS (TP_FRONT_EXACT_BYTES >> 8)
#define TP_FRONT_WIDE_STEPS 8u
#define TP_FRONT_BINS (TP_FRONT_EXACT_BINS + 2u * TP_FRONT_WIDE_STEPS)
/* Blocks parked per size at most. */
#define TP_FRONT_DEPTH 8u

/* The state of a block record's cell (its low two bits); bits 2..31 hold
 * the requested bytes of a handed-out block, bits 32..63 a generation
 * counted up at each park (and so between any two hand-outs: only a
 * parked block is handed out), so that a cache's stale note of a block it
 * once handed out never matches the cell again. */
enum {
  TP_CELL_ENGINE = 0,
  TP_CELL_PARKED = 1,
  TP_CELL_HANDED = 2,
  TP_CELL_QUEUED = 3 /* freed on another thread: in its cache's inbox */
};

/* The word of a cell whose word was `w` as its block is parked: the next
 * generation, no requested bytes, so that a hand-out is one add. */
static inline uint64_t tp_cell_parked_word(uint64_t w) {
  return ((w >> 32) + 1) << 32 | TP_CELL_PARKED;
}
/* The word of a block parked as `parked`, handed out for `requested`
 * bytes (< 2^30: cached blocks are far smaller). */
static inline uint64_t tp_cell_handed_word(uint64_t parked,
                                           uint64_t requested) {
  return parked + (requested << 2) + (TP_CELL_HANDED - TP_CELL_PARKED);
}

typedef struct tp_thread_cache tp_thread_cache;

/* A block record's cell: its state word, and the cache whose refill last
 * took it in (whose inbox a free on another thread goes to). */
typedef struct tp_cell {
  _Alignas(64) _Atomic uint64_t word;
  _Atomic(tp_thread_cache *) owner;
} tp_cell;

/* Counters of the callers' calls the front end served (adds to the
 * engine's). */
typedef struct tp_front_counts {
  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, misses;
} tp_front_counts;

typedef struct tp_front {
  /* Whether threads without a cache for the pool make one: read without
   * the lock by them, so on a line of its own. */
  _Alignas(64) atomic_bool on;
  char pad[63];
  uint64_t budget;         /* thread_cache_bytes */
  tp_thread_cache *caches; /* every thread's cache for this pool */
  tp_front_counts done;    /* of caches gone, and of blocks freed here */
  uint64_t queued;         /* blocks in the caches' inboxes */
  uint64_t requested_peak; /* sampled: see tp_front_note_peak */
  /* What callers hold of the hand-outs of live caches that are off (each
   * one's `noted`: fixed while it is off, since only the engine, which
   * counts in `done`, then takes its blocks back). Unsigned, wrapping;
   * with `done`, tp_front_requested_elsewhere. */
  uint64_t noted;
  tp_cell **cells; /* chunks of TP_FRONT_CELL_CHUNK */
  uint32_t cell_chunks;
} tp_front;

/* The requested bytes callers hold of blocks the caches handed out, as
 * far as the pool's lock holder knows without stopping caches: those of
 * caches gone or off (and of their blocks freed through the engine). A
 * cache that is on may have handed out more, or parked some, unseen: left
 * out, never counted high. The engine's figure plus this is what its
 * requested peak follows, so that a peak reached through the engine
 * counts what exited threads, and threads whose caches were turned off,
 * hold from caches. Pool's lock held. */
static inline uint64_t tp_front_requested_elsewhere(const tp_front *f) {
  return f->done.bytes_allocated - f->done.bytes_freed + f->noted;
}

/* The rest with the pool's lock held. */
void tp_front_init(tp_pool *pool);
/* Whether caches are on follows the config; off drains them. */
void tp_front_configure(tp_pool *pool);
/* For tp_pool_destroy, without the lock held: the statistics as the
 * caller sees them into `seen`, then every cache detached (their threads
 * free them) and the cells freed. */
void tp_front_fini(tp_pool *pool, tp_pool_stats *seen);
/* Gives every parked block back to the engine. False if nothing was
 * parked. */
bool tp_front_drain_all(tp_pool *pool);
/* For live block `b` at `ptr` of `bytes` (rounded) found by a free on
 * `stream`: TP_CELL_ENGINE (an engine block), TP_CELL_PARKED (a double
 * free: parked or queued already), TP_CELL_HANDED after taking it back
 * from the front end, with its requested bytes (the engine frees it), or
 * TP_CELL_QUEUED: handed out by another thread's cache, and now in that
 * cache's inbox (the free is done). */
int tp_front_claim(tp_pool *pool, uint32_t b, uintptr_t ptr, uint64_t bytes,
                   tp_stream stream, uint64_t *requested);
/* Whether live block `b` is free to the caller: parked in a cache or
 * queued in an inbox. */
bool tp_front_is_free(tp_pool *pool, uint32_t b);
/* Every cache of `pool` stopped (one heavy fence), and the blocks queued in
 * their inboxes back in the engine: what the caches hold stays as it is
 * until tp_front_resume. The sums, the statistics' adjustment and the
 * peaks' reset below need the caches stopped. */
void tp_front_stop(tp_pool *pool);
void tp_front_resume(tp_pool *pool);
/* Blocks queued in inboxes go back to the engine (wherever every free
 * must have happened), the caches stopped for it only if any wait. */
void tp_front_settle(tp_pool *pool);
void tp_front_count_free(tp_pool *pool, size_t requested);

/* The sums over every cache (stopped), taken at once. */
typedef struct tp_front_sums {
  tp_front_counts counts;
  uint64_t parked_blocks, parked_bytes;
  uint64_t largest_parked; /* bytes of the largest parked block */
  uint64_t peak_requested; /* the most any cache saw callers hold */
} tp_front_sums;
/* Pool's lock held: the calling thread's cache (if it has one for `pool`)
 * notes the pool's requested bytes, for exact peaks on one thread. */
void tp_front_note_engine_call(tp_pool *pool);
/* Pool's lock held, caches stopped: every cache's peak restarts from what
 * it sees now. */
void tp_front_reset_peaks(tp_pool *pool);
void tp_front_sum(tp_pool *pool, tp_front_sums *out);
/* The engine's statistics as the caller sees them, the caches stopped:
 * parked blocks cached, the front end's calls counted. */
void tp_front_adjust_stats(tp_pool *pool, tp_pool_stats *s);

#endif
