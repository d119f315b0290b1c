/* Free lists per (size class, stream slot): O(1) push and pop, with a bit
 * per slot so that finding a non-empty list is one instruction. */
#include <stdlib.h>

#include "core/pool_internal.h"

tp_bin *tp_pool_bin(tp_pool *pool, unsigned cls) {
  if (!pool->bins[cls])
    pool->bins[cls] = calloc(1, sizeof(tp_bin));
  return pool->bins[cls];
}

void tp_pool_bin_push(tp_pool *pool, tp_bin *bin, tp_block *block,
                      unsigned slot) {
  block->state = TP_BLOCK_CACHED;
  block->slot = (uint8_t)slot;
  block->next = bin->heads[slot];
  bin->heads[slot] = block;
  bin->stream_mask |= (uint64_t)1 << slot;
  bin->cached++;
  pool->stats.cached_blocks++;
  pool->stats.cached_bytes += block->bytes;
}

tp_block *tp_pool_bin_pop(tp_pool *pool, tp_bin *bin, unsigned slot) {
  tp_block *block = bin->heads[slot];
  if (!block)
    return NULL;
  bin->heads[slot] = block->next;
  if (!block->next)
    bin->stream_mask &= ~((uint64_t)1 << slot);
  block->next = NULL;
  bin->cached--;
  pool->stats.cached_blocks--;
  pool->stats.cached_bytes -= block->bytes;
  return block;
}
