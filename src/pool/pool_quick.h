/* Deferred coalescing: the freed blocks that the next requests of their
 * size will most likely ask for again wait, unmerged, in one LIFO per size
 * class ("quick lists", as dlmalloc's fast bins), so that a free and the
 * allocation that follows it skip the merge and the split that would undo
 * each other. Bounded in bytes and blocks; merged all at once when full,
 * before the pool takes memory it has not used yet (the free tail of a
 * growable segment, or upstream), and before anything that walks free
 * blocks or reports them (trim, limits, page release, streams, statistics).
 * A block waits under the stream slot it was freed on and is handed out
 * only to that stream, or to any when it has no pending work: other
 * streams see it once merged, ordered by the engine's event as any free
 * block. A block above the lists' bound waits alone and only until the
 * next call: freed and allocated again at once (a workspace in a loop), it
 * skips the merge and the split too, and its pages stay committed no
 * longer than merged ones would. Inline: the checks run on every alloc and
 * free. */
#ifndef TP_POOL_POOL_QUICK_H
#define TP_POOL_POOL_QUICK_H

#include "pool/pool_internal.h"

/* Quick bytes may be 1/64 of the most live bytes ever (half the page
 * budget's slack, which counts them), at least TP_QUICK_MIN_BYTES; no more
 * than TP_QUICK_MAX_BLOCKS blocks, so that merging them all when full is a
 * short pause. */
#define TP_QUICK_SHIFT 6u
#define TP_QUICK_MIN_BYTES ((uint64_t)64 << 10)
#define TP_QUICK_MAX_BLOCKS 256u

bool tp_quick_init(tp_pool *pool);
void tp_quick_fini(tp_pool *pool);
/* Merges every waiting block (pool_quick.c). */
void tp_quick_flush_all(tp_pool *pool);
/* Turns deferral on or off after the configuration changed: off (merged
 * now) while max_cached_bytes or max_buffers_per_bucket is bounded, bounds
 * the engine keeps exactly at every free. */
void tp_quick_configure(tp_pool *pool);

static inline uint64_t tp_quick_cap(const tp_pool *pool) {
  uint64_t share = pool->live_high >> TP_QUICK_SHIFT;
  return share > TP_QUICK_MIN_BYTES ? share : TP_QUICK_MIN_BYTES;
}

/* A waiting block of exactly `bytes` that `stream` may take without a
 * wait, out of its list, live and counted out of the cache (its flags but
 * the page flag cleared); TP_NIL if the head of the class's list is not
 * one. A head of that size waiting for another stream's work means every
 * list merges first: the engine then hands it out as it would have without
 * deferral, ordered by an event, or something else that needs no wait. */
__attribute__((always_inline)) static inline uint32_t
tp_quick_pop(tp_pool *pool, uint64_t bytes, tp_stream stream) {
  unsigned cls = tp_size_class_of(&pool->classes, (size_t)bytes);
  uint32_t b = pool->quick[cls];
  if (b == TP_NIL)
    return TP_NIL;
  tp_block *blk = &pool->blocks[b];
  if (blk->bytes != bytes)
    return TP_NIL;
  /* A stream slot stays named while a block waits under it: forgetting a
   * stream merges the lists first. */
  if (blk->slot != TP_SLOT_READY && pool->slots[blk->slot].stream != stream) {
    tp_quick_flush_all(pool);
    return TP_NIL;
  }
  uint32_t next = blk->u.f.next;
  pool->quick_large = false; /* a large block waits alone: this one */
  pool->quick[cls] = next;
  if (next == TP_NIL)
    pool->quick_words[cls / 64] &= ~((uint64_t)1 << (cls % 64));
  pool->quick_bytes -= bytes;
  pool->quick_blocks--;
  pool->stats.cached_blocks--;
  pool->stats.cached_bytes -= bytes;
  /* Where it goes back if it cannot be handed out after all. */
  pool->taken_slot = blk->slot;
  pool->taken_stamp = blk->u.f.stamp;
  blk->state = TP_BLOCK_LIVE;
  blk->flags &= TP_BLOCK_DECOMMITTED;
  return b;
}

/* Files live block `b`, freed on stream slot `slot`, on its class's list
 * (its engine counters as the caller's release left them: counted out of
 * live, into nothing yet); false when it must merge now (deferral off, or
 * an oversize block). */
__attribute__((always_inline)) static inline bool
tp_quick_push(tp_pool *pool, uint32_t b, unsigned slot) {
  tp_block *blk = &pool->blocks[b];
  uint64_t bytes = blk->bytes, cap = tp_quick_cap(pool);
  if (!pool->quick_on || blk->kind == TP_KIND_OVERSIZE)
    return false;
  bool large = bytes > cap;
  if (pool->quick_large || pool->quick_bytes + bytes > cap ||
      pool->quick_blocks == TP_QUICK_MAX_BLOCKS ||
      (large && pool->quick_blocks)) {
    tp_quick_flush_all(pool);
    blk = &pool->blocks[b];
  }
  pool->quick_large = large;
  unsigned cls = tp_size_class_of(&pool->classes, (size_t)bytes);
  blk->state = TP_BLOCK_FREE;
  blk->slot = (uint8_t)slot;
  blk->flags = (uint8_t)((blk->flags & TP_BLOCK_DECOMMITTED) | TP_BLOCK_QUICK);
  blk->u.f.stamp = pool->clock;
  blk->u.f.next = pool->quick[cls];
  pool->quick[cls] = b;
  pool->quick_words[cls / 64] |= (uint64_t)1 << (cls % 64);
  pool->quick_bytes += bytes;
  pool->quick_blocks++;
  pool->stats.cached_blocks++;
  pool->stats.cached_bytes += bytes;
  pool->segs[blk->seg].live--;
  return true;
}

#endif
