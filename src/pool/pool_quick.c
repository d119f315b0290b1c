/* Deferred coalescing: the lists' memory, merging them, turning them on
 * and off (pool_quick.h). */
#include <stdlib.h>

#include "pool/pool_blocks.h"
#include "pool/pool_quick.h"

bool tp_quick_init(tp_pool *pool) {
  unsigned count = pool->classes.count;
  pool->quick = malloc(count * sizeof *pool->quick);
  pool->quick_words = calloc(pool->class_words, sizeof *pool->quick_words);
  if (!pool->quick || !pool->quick_words)
    return false;
  for (unsigned c = 0; c < count; c++)
    pool->quick[c] = TP_NIL;
  tp_quick_configure(pool);
  return true;
}

void tp_quick_fini(tp_pool *pool) {
  free(pool->quick);
  free(pool->quick_words);
  pool->quick = NULL;
  pool->quick_words = NULL;
}

void tp_quick_flush_all(tp_pool *pool) {
  if (!pool->quick_blocks)
    return;
  pool->quick_large = false;
  for (unsigned w = 0; w < pool->class_words; w++) {
    for (uint64_t bits = pool->quick_words[w]; bits; bits &= bits - 1) {
      unsigned cls = w * 64 + (unsigned)__builtin_ctzll(bits);
      uint32_t b = pool->quick[cls];
      pool->quick[cls] = TP_NIL;
      while (b != TP_NIL) {
        tp_block *blk = tp_blk(pool, b);
        uint32_t next = blk->u.f.next;
        pool->quick_bytes -= blk->bytes;
        pool->quick_blocks--;
        /* A free block from now on (counted so since its free): merged
         * with its free neighbours but those still waiting, which merge
         * when their turn comes. */
        blk->flags &= (uint8_t)~TP_BLOCK_QUICK;
        tp_block_coalesce(pool, b);
        b = next;
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
