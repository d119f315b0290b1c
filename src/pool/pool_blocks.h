/* Splitting and merging blocks inside a segment through the boundary links
 * of their records: the body of every alloc and free, inline so that the
 * fast paths are one function each. */
#ifndef TP_POOL_POOL_BLOCKS_H
#define TP_POOL_POOL_BLOCKS_H

#include "pool/pool_index.h"
#include "pool/pool_internal.h"

/* Re-files free block `b` (in the index or not) under `slot` and its
 * current size, leaving it where it is when neither changed. */
__attribute__((always_inline)) static inline void
tp_refile(tp_pool *pool, uint32_t b, unsigned slot) {
  tp_block *blk = tp_blk(pool, b);
  unsigned cls = tp_index_class_of_free(pool, blk->bytes);
  if (blk->flags & TP_BLOCK_INDEXED) {
    if (blk->slot == slot && blk->cls == cls)
      return;
    tp_index_remove(pool, b);
  }
  blk->slot = (uint8_t)slot;
  tp_index_insert_at(pool, b, cls);
}

static inline uint32_t tp_block_take(tp_pool *pool, uint32_t b,
                                     uint64_t bytes) {
  /* The records' base in a local: stores through it cannot then make the
   * compiler reload it (it is only moved by tp_block_new). */
  tp_block *B = pool->blocks;
  uint64_t rest = B[b].bytes - bytes;
  unsigned kind = B[b].kind;
  if (rest == 0 || kind == TP_KIND_OVERSIZE) {
    /* The whole block (an oversize block is never split). */
    if (pool->dv[kind] == b)
      pool->dv[kind] = TP_NIL;
    tp_empty_unlink(pool, B[b].seg);
    tp_index_remove(pool, b);
    tp_dirty_unlink(pool, b);
    pool->stats.cached_blocks--;
    pool->stats.cached_bytes -= B[b].bytes;
    B[b].state = TP_BLOCK_LIVE;
    B[b].flags &= TP_BLOCK_DECOMMITTED;
    return b;
  }
  uint32_t a = tp_block_new(pool);
  if (a == TP_NIL)
    return TP_NIL;
  B = pool->blocks;
  tp_block *blk = &B[b], *live = &B[a];
  uint32_t seg = blk->seg, prev = blk->prev;
  tp_empty_unlink(pool, seg);
  /* The front becomes the live block and the rest keeps b's record, so
   * that the rest usually stays in its list: the class of a large free
   * block rarely changes when a small request is cut from it. */
  live->ptr = blk->ptr;
  live->bytes = bytes;
  live->seg = seg;
  live->kind = (uint8_t)kind;
  live->state = TP_BLOCK_LIVE;
  live->flags = blk->flags & TP_BLOCK_DECOMMITTED;
  live->prev = prev;
  live->next = b;
  if (prev != TP_NIL)
    B[prev].next = a;
  else
    pool->segs[seg].first = a;
  blk->prev = a;
  uint8_t flags = blk->flags;
  if (flags & TP_BLOCK_DIRTY) {
    uint64_t inside = tp_pages_inside(pool, blk->ptr, blk->bytes);
    pool->dirty_bytes -= inside - tp_pages_inside(pool, blk->ptr + bytes, rest);
  }
  blk->ptr += bytes;
  blk->bytes = rest;
  if (flags & TP_BLOCK_INDEXED)
    tp_refile(pool, b, blk->slot);
  pool->stats.cached_bytes -= bytes;
  pool->stats.free_blocks_split++;
  return a;
}

/* Absorbs free block `victim` into its free neighbour `into` (adjacent, in
 * either order); `victim`'s record goes back to the spares. */
static inline void tp_absorb(tp_pool *pool, uint32_t into, uint32_t victim) {
  tp_index_remove(pool, victim);
  tp_block *B = pool->blocks;
  tp_block *to = &B[into], *v = &B[victim];
  /* The merged block's pages are as old as the larger part's: it keeps that
   * part's place on the dirty list (a small young part merged in goes back
   * with it, early, which costs little), or leaves it for coalesce to put
   * at the head. The byte count is redone after the merge. */
  bool keep_into = (to->flags & TP_BLOCK_DIRTY) && to->bytes >= v->bytes;
  bool keep_victim =
      !keep_into && (v->flags & TP_BLOCK_DIRTY) && v->bytes >= to->bytes;
  if (!keep_into)
    tp_dirty_unlink(pool, into);
  if (keep_victim)
    tp_dirty_hand_over(pool, victim, into);
  else
    tp_dirty_unlink(pool, victim);
  if (to->flags & TP_BLOCK_DIRTY)
    pool->dirty_bytes -= tp_pages_inside(pool, to->ptr, to->bytes);
  if (v->ptr < to->ptr) { /* victim before: take over its front */
    uint32_t prev = v->prev;
    to->ptr = v->ptr;
    to->prev = prev;
    if (prev != TP_NIL)
      B[prev].next = into;
    else
      pool->segs[v->seg].first = into;
  } else {
    uint32_t next = v->next;
    to->next = next;
    if (next != TP_NIL)
      B[next].prev = into;
    else
      pool->segs[v->seg].last = into;
  }
  to->bytes += v->bytes;
  to->flags |= v->flags & TP_BLOCK_DECOMMITTED;
  if (to->flags & TP_BLOCK_DIRTY)
    pool->dirty_bytes += tp_pages_inside(pool, to->ptr, to->bytes);
  pool->stats.cached_blocks--;
  pool->stats.blocks_merged++;
  tp_block_drop(pool, victim);
}

/* Merges the free neighbour `n` of free block `cur` (filed under `*slot`)
 * when the merged block's pending work stays on one stream; returns the
 * survivor, or TP_NIL when they may not merge. */
static inline uint32_t tp_merge_pair(tp_pool *pool, uint32_t cur, uint32_t n,
                                     unsigned *slot, bool cur_filed) {
  tp_block *B = pool->blocks;
  uint64_t n_stamp = B[n].u.f.stamp, cur_stamp = B[cur].u.f.stamp;
  int merged = tp_pool_merged_slot(pool, B[n].slot, n_stamp, *slot, cur_stamp);
  if (merged < 0)
    return TP_NIL;
  *slot = (unsigned)merged;
  /* An old free block about to take a young neighbour in gives its own
   * pages back first: merged, it would look young as a whole. */
  tp_pages_age_block(pool, n);
  B = pool->blocks;
  /* The kept block survives, else one already filed in the index (which
   * keeps its place when its class and slot do not change). */
  uint32_t kept = pool->dv[B[n].kind];
  uint32_t survivor = kept == cur || kept == n ? kept : cur_filed ? cur : n;
  tp_absorb(pool, survivor, survivor == cur ? n : cur);
  /* As young as its youngest part: its pending work is done only once that
   * part's is. */
  pool->blocks[survivor].u.f.stamp = n_stamp > cur_stamp ? n_stamp : cur_stamp;
  return survivor;
}

__attribute__((always_inline)) static inline uint32_t
tp_block_coalesce(tp_pool *pool, uint32_t b) {
  uint32_t cur = b;
  unsigned slot = pool->blocks[b].slot;
  /* Again while something merged: the merged block has new neighbours,
   * and may share a slot with one it could not merge with before. */
  for (bool merged = true; merged;) {
    merged = false;
    tp_block *B = pool->blocks;
    uint32_t p = B[cur].prev;
    if (p != TP_NIL && B[p].state == TP_BLOCK_FREE) {
      uint32_t m =
          tp_merge_pair(pool, cur, p, &slot, B[cur].flags & TP_BLOCK_INDEXED);
      if (m != TP_NIL) {
        cur = m;
        merged = true;
      }
    }
    uint32_t n = B[cur].next;
    if (n != TP_NIL && B[n].state == TP_BLOCK_FREE) {
      uint32_t m =
          tp_merge_pair(pool, cur, n, &slot, B[cur].flags & TP_BLOCK_INDEXED);
      if (m != TP_NIL) {
        cur = m;
        merged = true;
      }
    }
  }
  tp_block *blk = &pool->blocks[cur];
  blk->u.f.stamp = pool->clock;
  uint32_t *kept = &pool->dv[blk->kind];
  if (*kept == TP_NIL || *kept == cur) {
    /* It becomes (or stays) the kept block: out of the index. */
    tp_index_remove(pool, cur);
    blk->slot = (uint8_t)slot;
    *kept = cur;
  } else {
    tp_refile(pool, cur, slot);
  }
  tp_dirty_push(pool, cur);
  if (blk->prev == TP_NIL && blk->next == TP_NIL)
    tp_empty_push(pool, blk->seg);
  return cur;
}

/* Files kind `kind`'s kept block in the index. */
static inline void tp_dv_flush(tp_pool *pool, unsigned kind) {
  uint32_t b = pool->dv[kind];
  if (b == TP_NIL)
    return;
  pool->dv[kind] = TP_NIL;
  tp_refile(pool, b, tp_blk(pool, b)->slot);
}

__attribute__((always_inline)) static inline uint32_t
tp_block_release(tp_pool *pool, uint32_t b, unsigned slot) {
  tp_block *blk = tp_blk(pool, b);
  blk->state = TP_BLOCK_FREE;
  blk->slot = (uint8_t)slot;
  /* A live block's pages are committed, but one handed back after its
   * commit failed still has pages given back. */
  blk->flags &= TP_BLOCK_DECOMMITTED;
  blk->u.f.stamp = pool->clock;
  pool->stats.cached_blocks++;
  pool->stats.cached_bytes += blk->bytes;
  tp_seg(pool, blk->seg)->live--;
  return tp_block_coalesce(pool, b);
}

#endif
