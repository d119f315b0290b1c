/* Deferred coalescing: the lists' memory, merging them, turning them on
 * and off (pool_quick.h). */
#include <stdlib.h>

#include "pool/pool_blocks.h"
#include "pool/pool_quick.h"

bool tp_quick_init(tp_pool *pool) {
  unsigned count = pool->classes.count;
  pool->quick = malloc(count * sizeof *pool->quick);
  pool->quick_words = calloc(pool->class_words, sizeof *pool->quick_words);
  pool->quick_nodes = malloc(TP_QUICK_MAX_BLOCKS * sizeof *pool->quick_nodes);
  if (!pool->quick || !pool->quick_words || !pool->quick_nodes)
    return false;
  for (unsigned c = 0; c < count; c++)
    pool->quick[c] = TP_QUICK_NONE;
  /* Spare nodes chained in order. */
  for (uint32_t i = 0; i < TP_QUICK_MAX_BLOCKS; i++)
    pool->quick_nodes[i].next =
        i + 1 < TP_QUICK_MAX_BLOCKS ? i + 1 : TP_QUICK_NONE;
  pool->quick_spare = 0;
  tp_quick_configure(pool);
  return true;
}

void tp_quick_fini(tp_pool *pool) {
  free(pool->quick);
  free(pool->quick_words);
  free(pool->quick_nodes);
  pool->quick = NULL;
  pool->quick_words = NULL;
  pool->quick_nodes = NULL;
}

uint32_t tp_quick_find(const tp_pool *pool, uintptr_t ptr) {
  for (unsigned w = 0; w < pool->class_words; w++)
    for (uint64_t bits = pool->quick_words[w]; bits; bits &= bits - 1) {
      unsigned cls = w * 64 + (unsigned)__builtin_ctzll(bits);
      for (uint32_t q = pool->quick[cls]; q != TP_QUICK_NONE;
           q = pool->quick_nodes[q].next)
        if (pool->quick_nodes[q].ptr == ptr)
          return q;
    }
  return TP_QUICK_NONE;
}

/* The free that waited, done now: the record learns the block is free
 * (counted so since its free, but in its segment's live count), then it
 * merges with its free neighbours (those still waiting are live to it:
 * they merge when their turn comes). */
static void merge_waiting(tp_pool *pool, const tp_quick_node *node) {
  tp_block *blk = tp_blk(pool, node->block);
  blk->state = TP_BLOCK_FREE;
  blk->slot = node->slot;
  blk->flags &= TP_BLOCK_DECOMMITTED;
  blk->u.f.stamp = node->stamp;
  tp_seg(pool, blk->seg)->live--;
  tp_block_coalesce(pool, node->block);
}

void tp_quick_flush_all(tp_pool *pool) {
  if (!pool->quick_blocks)
    return;
  pool->quick_large = false;
  for (unsigned w = 0; w < pool->class_words; w++) {
    for (uint64_t bits = pool->quick_words[w]; bits; bits &= bits - 1) {
      unsigned cls = w * 64 + (unsigned)__builtin_ctzll(bits);
      uint32_t q = pool->quick[cls];
      pool->quick[cls] = TP_QUICK_NONE;
      while (q != TP_QUICK_NONE) {
        tp_quick_node *node = &pool->quick_nodes[q];
        uint32_t next = node->next;
        pool->quick_bytes -= (uint64_t)node->units << 8;
        pool->quick_blocks--;
        merge_waiting(pool, node);
        node->next = pool->quick_spare;
        pool->quick_spare = q;
        q = next;
      }
    }
    pool->quick_words[w] = 0;
  }
}

void tp_quick_configure(tp_pool *pool) {
  const tp_pool_config *c = &pool->config;
  pool->quick_on = c->max_cached_bytes == TP_UNLIMITED &&
                   c->max_buffers_per_bucket == TP_UNLIMITED;
  if (!pool->quick_on)
    tp_quick_flush_all(pool);
}
