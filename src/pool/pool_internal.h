/* Internal layout of a pool, shared by the pool's source files. Every
 * function here is called with the pool's lock held. */
#ifndef TP_POOL_POOL_INTERNAL_H
#define TP_POOL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/lock.h"
#include "pool/block.h"
#include "pool/event_log.h"
#include "pool/front.h"
#include "pool/ptr_map.h"
#include "pool/size_class.h"
#include "tensorpool/pool.h"

/* A block waiting on a quick list (pool_quick.h): all of its free that the
 * lists need, so that its record's line stays untouched until it merges. */
typedef struct tp_quick_node {
  uintptr_t ptr;
  uint64_t stamp; /* pool clock at the free: its pending work's age */
  uint32_t block; /* its record */
  uint32_t units; /* bytes / 256 */
  uint32_t next;  /* the next node of its list, or of the spare nodes */
  uint8_t slot;   /* the stream slot it was freed on */
} tp_quick_node;
#define TP_QUICK_NONE UINT32_MAX
#define TP_QUICK_MAX_BLOCKS 256u

/* Slot 0 holds free blocks with no pending work (their stream was
 * forgotten, synchronized or found idle): any stream may take them without
 * waiting. */
#define TP_SLOT_READY 0u
#define TP_SLOTS (TP_POOL_MAX_STREAMS + 1)

/* Segment sizes where a space cannot grow segments in place (as PyTorch's
 * caching allocator: 2 MiB for small requests, 20 MiB for large ones below
 * 10 MiB, larger requests rounded up to 2 MiB). Requests up to TP_SMALL_MAX
 * are small. */
#define TP_SMALL_MAX ((uint64_t)1 << 20)
#define TP_SMALL_SEGMENT ((uint64_t)2 << 20)
#define TP_LARGE_SEGMENT ((uint64_t)20 << 20)
#define TP_LARGE_ALONE ((uint64_t)10 << 20)
#define TP_SEGMENT_ROUND ((uint64_t)2 << 20)

/* Page release (TP_PAGE_RELEASE_AGED): free ranges of fewer whole-page
 * bytes stay committed (the call would cost more than the memory is
 * worth); above a budget of committed free bytes (live bytes >> shift),
 * ranges older than the short delay go too. */
#define TP_PAGE_RELEASE_MIN ((uint64_t)64 << 10)
#define TP_PAGE_RELEASE_SHORT 16u
#define TP_PAGE_BUDGET_SHIFT 5u

/* The free lists of one size class: one per stream slot, and a bit per
 * non-empty list. */
typedef struct tp_bin {
  uint64_t slot_mask;
  uint32_t heads[TP_SLOTS];
} tp_bin;

/* A two-level segregated index of free blocks (as TLSF): a bit per class
 * holding a free block, and a summary bit per 64-class word, so the first
 * non-empty class at or above any class is found with two bit scans. A
 * free block sits in the class of the largest class size not above its
 * size, so every block of a class at or above a request's class fits it. */
typedef struct tp_free_index {
  uint64_t summary;
  uint64_t *words;
  tp_bin **bins; /* made on first use */
} tp_free_index;

typedef struct tp_stream_slot {
  tp_stream stream;
  tp_event event; /* created on first use, then re-recorded */
  bool has_event;
  /* Free blocks of this slot stamped at or before done_clock have no
   * pending work (an event recorded then was found complete). */
  uint64_t done_clock;
  uint64_t query_after; /* no new readiness query before this clock */
} tp_stream_slot;

struct tp_pool {
  tp_lock lock;
  tp_space space;
  tp_pool_config config; /* page_release resolved from DEFAULT */
  char name[64];
  tp_size_classes classes;
  unsigned class_words;
  /* Records, addressed by index; spare ones chained. */
  tp_block *blocks;
  uint32_t block_cap, spare_blocks;
  uint32_t block_fresh; /* records from here on were never used */
  tp_segment *segs;
  uint32_t seg_cap, spare_segs;
  uint32_t top[TP_KINDS]; /* the segment to grow, per kind (TP_NIL) */
  /* Per kind, one free block kept out of the index (TP_NIL if none): the
   * last block freed or split, which the next request of its class or
   * below usually takes again. Searches weigh it as if it were indexed, so
   * the fit is the same; the alloc-free pairs that cut and re-merge it
   * skip the index's list moves. Slow paths file it first. */
  uint32_t dv[TP_KINDS];
  tp_free_index index[TP_KINDS];
  /* Deferred coalescing (pool_quick.h): per size class, a LIFO of freed
   * blocks not merged yet, as nodes (index into quick_nodes, chained by
   * next); a bit per class with one; spare nodes chained; their bytes and
   * count. */
  uint32_t *quick;
  uint64_t *quick_words;
  tp_quick_node *quick_nodes;
  uint32_t quick_spare;
  uint64_t quick_bytes;
  uint32_t quick_blocks;
  bool quick_on;       /* no cache bound configured */
  bool quick_large;    /* the one block waiting is above the lists' bound */
  tp_ptr_map map;      /* live blocks */
  uint64_t used_slots; /* bit s set: slots[s] names a stream (bit 0: ready) */
  tp_stream_slot slots[TP_SLOTS];
  unsigned last_slot; /* lookup cache: the slot found last */
  /* The space's virtual memory (tp_space_ops' optional entries). */
  uint64_t page; /* page_bytes, 0 without */
  bool can_resize, can_decommit;
  bool aging; /* page_release is AGED and the space can decommit */
  /* Free blocks whose pages may be committed, newest first. */
  uint32_t dirty_head, dirty_tail;
  uint64_t dirty_bytes; /* whole-page bytes inside them */
  uint64_t live_high;   /* the most live bytes ever: the aging budget's base */
  uint64_t clock;       /* pool calls so far: the age of free blocks */
  /* The slot and stamp of the free block the allocation in progress was cut
   * from: where it goes back if it cannot be handed out after all. */
  unsigned taken_slot;
  uint64_t taken_stamp;
  /* The bytes by which the allocation in progress grew a segment (0: none):
   * given back if the block cannot be handed out after all. */
  uint64_t grown_bytes;
  tp_pool_stats stats;
  tp_event_log *log;
  /* Set by tp_pool_claim_limit (src/pool/pool_owner.h): the public call
   * that sets this pool's limit instead of tp_pool_set_limit. NULL: the
   * pool's user owns the limit. */
  const char *limit_owner;
  /* What the space's put returned when it last refused a release (its
   * message set with tp_fail_callback): reported by trim and set_limit. */
  tp_status refusal;
  /* The message the space set when its get last failed with
   * TP_ERR_OUT_OF_MEMORY in the allocation in progress ("" if none): the
   * out-of-memory message ends with it. */
  char upstream_said[160];
  tp_front front; /* per-thread caches (pool/front.h) */
};

static inline tp_block *tp_blk(tp_pool *pool, uint32_t i) {
  return &pool->blocks[i];
}
static inline tp_segment *tp_seg(tp_pool *pool, uint32_t i) {
  return &pool->segs[i];
}

/* Records (pool_records.c). New ones may move the arrays: take pointers
 * into them only after. TP_NIL when host memory ran out. */
bool tp_records_init(tp_pool *pool);
void tp_records_fini(tp_pool *pool);
uint32_t tp_block_new_slow(tp_pool *pool);
/* A spare record (its fields not cleared), or TP_NIL without memory. */
static inline uint32_t tp_block_new(tp_pool *pool) {
  uint32_t b = pool->spare_blocks;
  if (b == TP_NIL)
    return tp_block_new_slow(pool);
  pool->spare_blocks = pool->blocks[b].u.spare_next;
  return b;
}
static inline void tp_block_drop(tp_pool *pool, uint32_t b) {
  pool->blocks[b].state = TP_BLOCK_SPARE;
  pool->blocks[b].u.spare_next = pool->spare_blocks;
  pool->spare_blocks = b;
}
uint32_t tp_segment_new(tp_pool *pool);
void tp_segment_drop(tp_pool *pool, uint32_t s);
/* Segments that are one free block: a flag and two counters (trim and the
 * cache bounds walk the segments). */
static inline void tp_empty_push(tp_pool *pool, uint32_t s) {
  tp_segment *seg = &pool->segs[s];
  if (seg->empty)
    return;
  seg->empty = 1;
  pool->stats.free_segments++;
  pool->stats.free_segment_bytes += seg->bytes;
}
static inline void tp_empty_unlink(tp_pool *pool, uint32_t s) {
  tp_segment *seg = &pool->segs[s];
  if (!seg->empty)
    return;
  seg->empty = 0;
  pool->stats.free_segments--;
  pool->stats.free_segment_bytes -= seg->bytes;
}

/* The free index (pool_index.c). */
bool tp_index_init(tp_pool *pool);
void tp_index_fini(tp_pool *pool);
/* The first class at or above `cls` of `kind` with a free block, or -1. */
int tp_index_find(const tp_pool *pool, unsigned kind, unsigned cls);
/* The largest free block of `kind` (0 if none): scans the top class. */
uint64_t tp_index_largest(tp_pool *pool, unsigned kind);
/* Insert, remove and the class of a free block: pool_index.h (inline). */

/* Blocks: take, release, coalesce, the kept block (pool_blocks.h,
 * inline). Files the kept blocks in the index, for the paths that walk or
 * release free blocks. */
void tp_dv_flush_all(tp_pool *pool);

/* Stream slots (pool_streams.c). */
int tp_pool_slot_find_slow(tp_pool *pool, tp_stream stream);
/* The slot of `stream`, or -1; the slot found last is checked inline. */
static inline int tp_pool_slot_find(tp_pool *pool, tp_stream stream) {
  unsigned last = pool->last_slot;
  if (last != TP_SLOT_READY && pool->slots[last].stream == stream &&
      (pool->used_slots >> last & 1u))
    return (int)last;
  return tp_pool_slot_find_slow(pool, stream);
}
/* Finds or registers; -1 when every slot is taken. */
int tp_pool_slot_acquire_slow(tp_pool *pool, tp_stream stream);
static inline int tp_pool_slot_acquire(tp_pool *pool, tp_stream stream) {
  unsigned last = pool->last_slot;
  if (last != TP_SLOT_READY && pool->slots[last].stream == stream &&
      (pool->used_slots >> last & 1u))
    return (int)last;
  return tp_pool_slot_acquire_slow(pool, stream);
}
tp_stream tp_pool_slot_stream(const tp_pool *pool, unsigned slot);
/* Makes `waiter` wait for the work queued so far on slot `slot`'s stream. */
tp_status tp_pool_slot_order_after(tp_pool *pool, unsigned slot,
                                   tp_stream waiter);
/* Whether a free block of `slot` stamped at `stamp` has no pending work:
 * the ready slot, or an event recorded on the slot's stream now is found
 * complete (queried at most every few calls per slot). */
bool tp_pool_slot_ready(tp_pool *pool, unsigned slot, uint64_t stamp);
/* The slot of the block merged from free blocks filed under slots a and b
 * (freed at a_stamp, b_stamp), or -1 when both may have pending work on
 * different streams. */
int tp_pool_merged_slot_slow(tp_pool *pool, unsigned a, uint64_t a_stamp,
                             unsigned b, uint64_t b_stamp);
static inline int tp_pool_merged_slot(tp_pool *pool, unsigned a,
                                      uint64_t a_stamp, unsigned b,
                                      uint64_t b_stamp) {
  if (a == b || a == TP_SLOT_READY)
    return (int)b;
  if (b == TP_SLOT_READY)
    return (int)a;
  return tp_pool_merged_slot_slow(pool, a, a_stamp, b, b_stamp);
}
/* Files every free block whose slot is found idle under the ready slot and
 * merges what can merge, segment by segment (O(blocks): for trim, limits
 * and forgetting a stream). */
void tp_pool_promote_ready(tp_pool *pool);
/* The same after waiting for every stream: for the paths that need memory
 * back before failing. */
void tp_pool_make_all_ready(tp_pool *pool);
void tp_pool_slots_fini(tp_pool *pool);

/* The engine's alloc and free (pool.c), for the caller's calls and the
 * front end's refills and flushes. Take: a live block of at least `bytes`
 * on `stream` (`requested` for messages and the record), counted live in
 * the engine only; `hit` whether it was free memory; with `cached_only`,
 * free memory that needs no wait on another stream, or nothing
 * (TP_ERR_OUT_OF_MEMORY, no message set). Release: live
 * block `b`, already out of the pointer map, freed on `stream`. */
tp_status tp_pool_engine_take(tp_pool *pool, size_t bytes, size_t requested,
                              tp_stream stream, bool cached_only, uint32_t *out,
                              bool *hit);
void tp_pool_engine_release(tp_pool *pool, uint32_t b, tp_stream stream);

/* Upstream (pool_upstream.c). */
/* A live block of `bytes` (rounded) for a request of `requested` on
 * `stream`, from a grown or a new segment. */
tp_status tp_pool_upstream_alloc(tp_pool *pool, unsigned kind, uint64_t bytes,
                                 size_t requested, tp_stream stream,
                                 uint32_t *out);
/* After the space resized segment `s` to `keep` bytes (less than it has,
 * all of the cut inside its free tail): the tail, page bits and counters
 * follow. */
void tp_segment_cut_tail(tp_pool *pool, uint32_t s, uint64_t keep);
/* Gives segment `s` (one free block) back upstream; false (segment kept) if
 * put failed, with the put's status in pool->refusal and its message set. */
bool tp_pool_segment_release(tp_pool *pool, uint32_t s);
/* After a failed allocation whose block went back free: shrinks the segment
 * it grew (pool->grown_bytes) back to its size before, so that the failure
 * leaves the pool as it was. */
void tp_pool_undo_grow(tp_pool *pool, uint32_t s);
/* Files the free blocks of streams found idle under the ready slot and
 * merges what then can (the kept blocks filed first): what trim, limits and
 * releases see as whole free segments. */
void tp_pool_promote_idle(tp_pool *pool);
/* Gives back whole free segments and free tails, largest first, until at
 * most `target` cached bytes stay or nothing can go. With `sync`, waits for
 * the streams of what it released (so upstream really has it back). Returns
 * the status of the first put upstream refused (that segment is kept, the
 * others still go), else TP_SUCCESS. */
tp_status tp_pool_release_cached(tp_pool *pool, uint64_t target, bool sync);
/* After a free into segment `s`: applies the cache bounds (free segments
 * per size class when `s` became one free block, then max_cached_bytes). */
void tp_pool_apply_cache_bounds(tp_pool *pool, uint32_t s);
tp_status tp_pool_out_of_memory(tp_pool *pool, size_t requested, uint64_t bytes,
                                const char *why);

/* Pages (pool_pages.c). The checks that usually say "nothing to do" are
 * inline: they run on every alloc and free. */
void tp_dirty_push_slow(tp_pool *pool, uint32_t b);
void tp_dirty_unlink_slow(tp_pool *pool, uint32_t b);
static inline void tp_dirty_unlink(tp_pool *pool, uint32_t b) {
  if (pool->blocks[b].flags & TP_BLOCK_DIRTY)
    tp_dirty_unlink_slow(pool, b);
}
/* Puts free block `b` at the head of the dirty list, aged from now, when
 * the aging policy applies and it holds enough whole pages; a block already
 * on the list keeps its place and age. */
static inline void tp_dirty_push(tp_pool *pool, uint32_t b) {
  if (pool->aging && !(pool->blocks[b].flags & TP_BLOCK_DIRTY) &&
      pool->blocks[b].bytes >= TP_PAGE_RELEASE_MIN)
    tp_dirty_push_slow(pool, b);
}
/* Gives the dirty-list place and age of `from` to `to`, which is not on
 * the list; `from` leaves it. */
void tp_dirty_hand_over(tp_pool *pool, uint32_t from, uint32_t to);
/* Whole-page bytes strictly inside [ptr, ptr + bytes). */
static inline uint64_t tp_pages_inside(const tp_pool *pool, uintptr_t ptr,
                                       uint64_t bytes) {
  uint64_t page = pool->page;
  if (!page)
    return 0;
  uint64_t lo = ((uint64_t)ptr + page - 1) & ~(page - 1);
  uint64_t hi = ((uint64_t)ptr + bytes) & ~(page - 1);
  return hi > lo ? hi - lo : 0;
}
/* Gives back the pages inside free block `b` not given back yet. */
void tp_pages_decommit_block(tp_pool *pool, uint32_t b);
/* Commits the pages of live block `b` given back before; false if the
 * space could not (the block is still live: the caller undoes). */
bool tp_pages_commit_slow(tp_pool *pool, uint32_t b);
static inline bool tp_pages_commit_block(tp_pool *pool, uint32_t b) {
  return !(pool->blocks[b].flags & TP_BLOCK_DECOMMITTED) ||
         tp_pages_commit_slow(pool, b);
}
/* Gives back the pages of free block `b` if the aging policy says they are
 * old (called before a young neighbour merges into it, which would make
 * the whole merged block look young). */
void tp_pages_age_block_slow(tp_pool *pool, uint32_t b);
static inline void tp_pages_age_block(tp_pool *pool, uint32_t b) {
  if (pool->blocks[b].flags & TP_BLOCK_DIRTY)
    tp_pages_age_block_slow(pool, b);
}
/* Policy after each call: decommits free ranges grown old. */
void tp_pages_age_slow(tp_pool *pool);
static inline void tp_pages_age(tp_pool *pool) {
  /* Nothing is old before TP_PAGE_RELEASE_SHORT calls. */
  uint32_t tail = pool->dirty_tail;
  if (tail != TP_NIL && (uint32_t)pool->clock - pool->blocks[tail].aged_at >=
                            TP_PAGE_RELEASE_SHORT)
    tp_pages_age_slow(pool);
}
/* Before new pages come into use (committing given-back pages, growing a
 * segment, a new segment): gives back the pages of the oldest free ranges
 * while live bytes and committed free ones together exceed the most live
 * bytes ever by more than 1/32 (page release policy AGED). Free memory is
 * kept while the program is below its peak, and given back as it nears it:
 * the memory held stays within 1/32 of the peak of what is live. */
void tp_pages_hold_budget_slow(tp_pool *pool, uint64_t incoming);
/* Whether `incoming` more live bytes would take live and committed free
 * bytes together more than 1/32 above the live high (the new one, if they
 * make one). */
static inline bool tp_pages_over_budget(const tp_pool *pool,
                                        uint64_t incoming) {
  uint64_t live = pool->stats.live_bytes + incoming;
  uint64_t high = live > pool->live_high ? live : pool->live_high;
  /* Blocks waiting on the quick lists are committed free memory too. */
  return live + pool->dirty_bytes + pool->quick_bytes >
         high + (high >> TP_PAGE_BUDGET_SHIFT);
}
static inline void tp_pages_hold_budget(tp_pool *pool, uint64_t incoming) {
  if (tp_pages_over_budget(pool, incoming))
    tp_pages_hold_budget_slow(pool, incoming);
}
/* Gives back the pages of every free block (pressure paths). */
void tp_pages_decommit_all(tp_pool *pool);
/* Page bitmap of a segment sized for its bytes; false without memory. */
bool tp_pages_fit_segment(tp_pool *pool, uint32_t s);

static inline void tp_pool_note_peaks(tp_pool *pool) {
  tp_pool_stats *s = &pool->stats;
  if (s->live_bytes > s->live_bytes_peak)
    s->live_bytes_peak = s->live_bytes;
  if (s->live_bytes > pool->live_high)
    pool->live_high = s->live_bytes;
  /* With what threads hold from caches, as far as the lock holder knows,
   * so that one thread's peak through the engine stays exact while blocks
   * of exited threads' caches, or of caches turned off, are live. Both
   * figures are at most what callers hold; the second, read as signed,
   * falls below the first where live caches' blocks were freed through
   * the engine (their frees counted, their hand-outs not): the larger. */
  int64_t with_caches = (int64_t)(s->requested_bytes +
                                  tp_front_requested_elsewhere(&pool->front));
  uint64_t requested = with_caches > (int64_t)s->requested_bytes
                           ? (uint64_t)with_caches
                           : s->requested_bytes;
  if (requested > s->requested_bytes_peak)
    s->requested_bytes_peak = requested;
  if (s->reserved_bytes > s->reserved_bytes_peak)
    s->reserved_bytes_peak = s->reserved_bytes;
  uint64_t committed = s->reserved_bytes - s->decommitted_bytes;
  if (committed > s->committed_bytes_peak)
    s->committed_bytes_peak = committed;
}

/* The bytes of a request: rounded up to 256. */
static inline uint64_t tp_round_request(size_t bytes) {
  return ((uint64_t)bytes + TP_ALIGNMENT - 1) & ~(uint64_t)(TP_ALIGNMENT - 1);
}

/* Internal consistency of every record, list, index and counter, for the
 * tests (pool_check.c): 0, or -1 with what is wrong in `message`. Takes the
 * lock. */
int tp_pool_validate(tp_pool *pool, char *message, size_t capacity);
int tp_pool_validate_locked(tp_pool *pool, char *message, size_t capacity);
/* Every segment's blocks on stderr, one line each (tests, debugging). */
void tp_pool_debug_dump(tp_pool *pool);

#endif
