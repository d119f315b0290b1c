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
 * longer than merged ones would.
 *
 * A waiting block is free to the pool's counters but its record still
 * says live, untouched: what the lists need (address, record, bytes, slot,
 * time of the free) is in a small array of nodes the pool keeps hot, and
 * the pointer map's entry carries the block's bytes and request. A free
 * and the allocation that takes the block back touch the map and the
 * nodes only, not the record's cache line (with a hundred thousand live
 * blocks, a miss each). The record learns of the free when the block
 * merges. Neighbours see a live block meanwhile, so nothing merges with
 * it. Inline: the checks run on every alloc and free. */
#ifndef TP_POOL_POOL_QUICK_H
#define TP_POOL_POOL_QUICK_H

#include "pool/pool_internal.h"

/* Quick bytes may be 1/64 of the most live bytes ever (half the page
 * budget's slack, which counts them), at least TP_QUICK_MIN_BYTES; no more
 * than TP_QUICK_MAX_BLOCKS blocks, so that merging them all when full is a
 * short pause. */
#define TP_QUICK_SHIFT 6u
#define TP_QUICK_MIN_BYTES ((uint64_t)64 << 10)

bool tp_quick_init(tp_pool *pool);
void tp_quick_fini(tp_pool *pool);
/* Merges every waiting block (pool_quick.c). */
void tp_quick_flush_all(tp_pool *pool);
/* Turns deferral on or off after the configuration changed: off (merged
 * now) while max_cached_bytes or max_buffers_per_bucket is bounded, bounds
 * the engine keeps exactly at every free. */
void tp_quick_configure(tp_pool *pool);
/* The node of the waiting block at `ptr`, or TP_QUICK_NONE (the error
 * path's double-free check: O(waiting blocks)). */
uint32_t tp_quick_find(const tp_pool *pool, uintptr_t ptr);

static inline uint64_t tp_quick_cap(const tp_pool *pool) {
  uint64_t share = pool->live_high >> TP_QUICK_SHIFT;
  return share > TP_QUICK_MIN_BYTES ? share : TP_QUICK_MIN_BYTES;
}

/* A waiting block of exactly `bytes` that `stream` may take without a
 * wait, off its list: its record index, its address in `*ptr`, counted out
 * of the cache (the caller counts it live); TP_NIL if the head of the
 * class's list is not one. A head of that size waiting for another
 * stream's work means every list merges first: the engine then hands it
 * out as it would have without deferral, ordered by an event, or something
 * else that needs no wait. */
__attribute__((always_inline)) static inline uint32_t
tp_quick_pop(tp_pool *pool, uint64_t bytes, tp_stream stream, uintptr_t *ptr) {
  unsigned cls = tp_size_class_of(&pool->classes, (size_t)bytes);
  uint32_t q = pool->quick[cls];
  if (q == TP_QUICK_NONE)
    return TP_NIL;
  tp_quick_node *node = &pool->quick_nodes[q];
  if (node->units != bytes >> 8)
    return TP_NIL;
  /* A stream slot stays named while a block waits under it: forgetting a
   * stream merges the lists first. */
  if (node->slot != TP_SLOT_READY && pool->slots[node->slot].stream != stream) {
    tp_quick_flush_all(pool);
    return TP_NIL;
  }
  pool->quick_large = false; /* a large block waits alone: this one */
  pool->quick[cls] = node->next;
  if (node->next == TP_QUICK_NONE)
    pool->quick_words[cls / 64] &= ~((uint64_t)1 << (cls % 64));
  node->next = pool->quick_spare;
  pool->quick_spare = q;
  pool->quick_bytes -= bytes;
  pool->quick_blocks--;
  pool->stats.cached_blocks--;
  pool->stats.cached_bytes -= bytes;
  *ptr = node->ptr;
  return node->block;
}

/* Takes the spare head node, files it first on the list of `bytes`'s class
 * and counts `bytes` in as waiting and cached; the node's other fields are
 * the caller's. */
__attribute__((always_inline)) static inline tp_quick_node *
tp_quick_link(tp_pool *pool, uint64_t bytes) {
  unsigned cls = tp_size_class_of(&pool->classes, (size_t)bytes);
  uint32_t q = pool->quick_spare;
  tp_quick_node *node = &pool->quick_nodes[q];
  pool->quick_spare = node->next;
  node->next = pool->quick[cls];
  pool->quick[cls] = q;
  pool->quick_words[cls / 64] |= (uint64_t)1 << (cls % 64);
  pool->quick_bytes += bytes;
  pool->quick_blocks++;
  pool->stats.cached_blocks++;
  pool->stats.cached_bytes += bytes;
  return node;
}

/* Puts back the block of `bytes` just popped (its node the spare head,
 * untouched since), when it could not be handed out after all. */
static inline void tp_quick_unpop(tp_pool *pool, uint64_t bytes) {
  tp_quick_link(pool, bytes);
  pool->quick_large = bytes > tp_quick_cap(pool);
}

/* Files live block `b` of `bytes` at `ptr`, freed on stream slot `slot`,
 * on its class's list (counted out of live by the caller, into the cache
 * here); false when it must merge now (deferral off). */
__attribute__((always_inline)) static inline bool
tp_quick_push(tp_pool *pool, uint32_t b, uintptr_t ptr, uint64_t bytes,
              unsigned slot) {
  /* A node counts 256-byte units in 32 bits: 1 TiB and up merges now. */
  if (!pool->quick_on || bytes >> 40)
    return false;
  uint64_t cap = tp_quick_cap(pool);
  bool large = bytes > cap;
  if (pool->quick_large || pool->quick_bytes + bytes > cap ||
      pool->quick_spare == TP_QUICK_NONE || (large && pool->quick_blocks))
    tp_quick_flush_all(pool);
  pool->quick_large = large;
  tp_quick_node *node = tp_quick_link(pool, bytes);
  node->ptr = ptr;
  node->stamp = pool->clock;
  node->block = b;
  node->units = (uint32_t)(bytes >> 8);
  node->slot = (uint8_t)slot;
  return true;
}

#endif
