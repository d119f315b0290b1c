/* The free index's O(1) operations, inline: they run on every alloc and
 * free. See tp_free_index in pool_internal.h. */
#ifndef TP_POOL_POOL_INDEX_H
#define TP_POOL_POOL_INDEX_H

#include "pool/pool_internal.h"

/* The list heads of a class, made on first use; NULL without memory. */
tp_bin *tp_index_make_bin(tp_free_index *ix, unsigned cls);

/* The class whose lists hold a free block of `bytes`: the largest class
 * size not above it (the request classes round up; this rounds down). */
static inline unsigned tp_index_class_of_free(const tp_pool *pool,
                                              uint64_t bytes) {
  const tp_size_classes *sc = &pool->classes;
  if (bytes >= sc->max_bytes)
    return sc->count - 1;
  /* For a multiple of 256: the class one unit up rounds to the first class
   * size above `bytes`; the one before it is the floor. */
  return tp_size_class_of(sc, (size_t)bytes + TP_ALIGNMENT) - 1;
}

/* Files free block `b` under class `cls` (its class of free) and its
 * slot. Without host memory for the class's list heads the block stays out
 * of the index: it still merges and goes back with its segment. */
static inline void tp_index_insert_at(tp_pool *pool, uint32_t b, unsigned cls) {
  tp_block *blk = tp_blk(pool, b);
  tp_free_index *ix = &pool->index[blk->kind];
  tp_bin *bin = ix->bins[cls];
  if (!bin && !(bin = tp_index_make_bin(ix, cls))) {
    blk->flags &= (uint8_t)~TP_BLOCK_INDEXED;
    return;
  }
  unsigned slot = blk->slot;
  uint32_t head = bin->heads[slot];
  blk->cls = (uint16_t)cls;
  blk->flags |= TP_BLOCK_INDEXED;
  blk->u.f.prev = TP_NIL;
  blk->u.f.next = head;
  if (head != TP_NIL)
    tp_blk(pool, head)->u.f.prev = b;
  bin->heads[slot] = b;
  bin->slot_mask |= (uint64_t)1 << slot;
  ix->words[cls / 64] |= (uint64_t)1 << (cls % 64);
  ix->summary |= (uint64_t)1 << (cls / 64);
}

static inline void tp_index_insert(tp_pool *pool, uint32_t b) {
  tp_index_insert_at(pool, b,
                     tp_index_class_of_free(pool, tp_blk(pool, b)->bytes));
}

static inline void tp_index_remove(tp_pool *pool, uint32_t b) {
  tp_block *blk = tp_blk(pool, b);
  if (!(blk->flags & TP_BLOCK_INDEXED))
    return;
  tp_free_index *ix = &pool->index[blk->kind];
  unsigned cls = blk->cls, slot = blk->slot;
  tp_bin *bin = ix->bins[cls];
  uint32_t prev = blk->u.f.prev, next = blk->u.f.next;
  if (prev != TP_NIL)
    tp_blk(pool, prev)->u.f.next = next;
  else
    bin->heads[slot] = next;
  if (next != TP_NIL)
    tp_blk(pool, next)->u.f.prev = prev;
  blk->flags &= (uint8_t)~TP_BLOCK_INDEXED;
  if (bin->heads[slot] != TP_NIL)
    return;
  bin->slot_mask &= ~((uint64_t)1 << slot);
  if (bin->slot_mask)
    return;
  ix->words[cls / 64] &= ~((uint64_t)1 << (cls % 64));
  if (!ix->words[cls / 64])
    ix->summary &= ~((uint64_t)1 << (cls / 64));
}

#endif
