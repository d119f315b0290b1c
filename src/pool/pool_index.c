/* The free index: per segment kind, a two-level bitmap over the size
 * classes and, per class, one doubly linked list per stream slot. Insert,
 * remove and find are O(1): a few bit operations and list links. */
#include <stdlib.h>

#include "pool/pool_index.h"
#include "pool/pool_internal.h"

bool tp_index_init(tp_pool *pool) {
  unsigned count = pool->classes.count;
  pool->class_words = (count + 63) / 64;
  if (pool->class_words > 64)
    return false; /* the summary word would not cover every word */
  for (unsigned k = 0; k < TP_KINDS; k++) {
    tp_free_index *ix = &pool->index[k];
    ix->summary = 0;
    ix->words = calloc(pool->class_words, sizeof *ix->words);
    ix->bins = calloc(count, sizeof *ix->bins);
    if (!ix->words || !ix->bins)
      return false;
  }
  return true;
}

void tp_index_fini(tp_pool *pool) {
  for (unsigned k = 0; k < TP_KINDS; k++) {
    tp_free_index *ix = &pool->index[k];
    if (ix->bins)
      for (unsigned c = 0; c < pool->classes.count; c++)
        free(ix->bins[c]);
    free(ix->bins);
    free(ix->words);
    ix->bins = NULL;
    ix->words = NULL;
  }
}

tp_bin *tp_index_make_bin(tp_free_index *ix, unsigned cls) {
  tp_bin *bin = malloc(sizeof *bin);
  if (!bin)
    return NULL;
  bin->slot_mask = 0;
  for (unsigned s = 0; s < TP_SLOTS; s++)
    bin->heads[s] = TP_NIL;
  ix->bins[cls] = bin;
  return bin;
}

int tp_index_find(const tp_pool *pool, unsigned kind, unsigned cls) {
  const tp_free_index *ix = &pool->index[kind];
  unsigned w = cls / 64;
  if (w >= pool->class_words)
    return -1;
  uint64_t bits = ix->words[w] & (~(uint64_t)0 << (cls % 64));
  if (bits)
    return (int)(w * 64 + (unsigned)__builtin_ctzll(bits));
  uint64_t above = w + 1 < 64 ? ix->summary & (~(uint64_t)0 << (w + 1)) : 0;
  if (!above)
    return -1;
  w = (unsigned)__builtin_ctzll(above);
  return (int)(w * 64 + (unsigned)__builtin_ctzll(ix->words[w]));
}

uint64_t tp_index_largest(tp_pool *pool, unsigned kind) {
  tp_free_index *ix = &pool->index[kind];
  uint64_t kept =
      pool->dv[kind] == TP_NIL ? 0 : tp_blk(pool, pool->dv[kind])->bytes;
  if (!ix->summary)
    return kept;
  unsigned w = 63u - (unsigned)__builtin_clzll(ix->summary);
  unsigned cls = w * 64 + 63u - (unsigned)__builtin_clzll(ix->words[w]);
  tp_bin *bin = ix->bins[cls];
  uint64_t largest = kept;
  for (uint64_t mask = bin->slot_mask; mask; mask &= mask - 1) {
    unsigned s = (unsigned)__builtin_ctzll(mask);
    for (uint32_t b = bin->heads[s]; b != TP_NIL; b = tp_blk(pool, b)->u.f.next)
      if (tp_blk(pool, b)->bytes > largest)
        largest = tp_blk(pool, b)->bytes;
  }
  return largest;
}
