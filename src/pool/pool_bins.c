/* Free lists per (size class, stream slot): O(1) push and pop, with a bit
 * per slot so that finding a non-empty list is one instruction. */
#include <stdlib.h>

#include "pool/pool_internal.h"

tp_bin *tp_pool_bin(tp_pool *pool, unsigned cls) {
  if (!pool->bins[cls]) {
    pool->bins[cls] = calloc(1, sizeof(tp_bin));
    if (pool->bins[cls])
      pool->bins[cls]->cls = cls;
  }
  return pool->bins[cls];
}

int tp_pool_next_cached_class(const tp_pool *pool, unsigned first,
                              unsigned last) {
  for (unsigned word = first / 64; word <= last / 64; word++) {
    uint64_t bits = pool->cached_classes[word];
    if (word == first / 64)
      bits &= ~(uint64_t)0 << (first % 64);
    if (bits) {
      unsigned c = word * 64 + (unsigned)__builtin_ctzll(bits);
      return c <= last ? (int)c : -1;
    }
  }
  return -1;
}

void tp_pool_bin_push(tp_pool *pool, tp_bin *bin, tp_block *block,
                      unsigned slot) {
  block->state = TP_BLOCK_CACHED;
  block->slot = (uint8_t)slot;
  block->next = bin->heads[slot];
  bin->heads[slot] = block;
  bin->stream_mask |= (uint64_t)1 << slot;
  pool->cached_classes[bin->cls / 64] |= (uint64_t)1 << (bin->cls % 64);
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
  if (!bin->stream_mask)
    pool->cached_classes[bin->cls / 64] &= ~((uint64_t)1 << (bin->cls % 64));
  block->next = NULL;
  bin->cached--;
  pool->stats.cached_blocks--;
  pool->stats.cached_bytes -= block->bytes;
  return block;
}
