/* Block and segment records in arrays that double when full, spare records
 * chained through their own storage. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"

#define TP_INITIAL_BLOCKS 256u
#define TP_INITIAL_SEGMENTS 16u

/* Cache-line aligned, so that every block record is one line. */
static void *aligned_array(size_t count, size_t size) {
  void *p = NULL;
  if (posix_memalign(&p, 64, count * size) != 0)
    return NULL;
  memset(p, 0, count * size);
  return p;
}

static void chain_blocks(tp_pool *pool, uint32_t from, uint32_t to) {
  for (uint32_t i = to; i-- > from;) {
    pool->blocks[i].state = TP_BLOCK_SPARE;
    pool->blocks[i].u.spare_next = pool->spare_blocks;
    pool->spare_blocks = i;
  }
}

static void chain_segments(tp_pool *pool, uint32_t from, uint32_t to) {
  for (uint32_t i = to; i-- > from;) {
    pool->segs[i].used = 0;
    pool->segs[i].next_spare = pool->spare_segs;
    pool->spare_segs = i;
  }
}

bool tp_records_init(tp_pool *pool) {
  pool->blocks = aligned_array(TP_INITIAL_BLOCKS, sizeof *pool->blocks);
  pool->segs = calloc(TP_INITIAL_SEGMENTS, sizeof *pool->segs);
  if (!pool->blocks || !pool->segs)
    return false;
  pool->block_cap = TP_INITIAL_BLOCKS;
  pool->seg_cap = TP_INITIAL_SEGMENTS;
  pool->spare_blocks = pool->spare_segs = TP_NIL;
  chain_blocks(pool, 0, pool->block_cap);
  chain_segments(pool, 0, pool->seg_cap);
  for (unsigned k = 0; k < TP_KINDS; k++)
    pool->top[k] = pool->dv[k] = TP_NIL;
  return true;
}

void tp_records_fini(tp_pool *pool) {
  if (pool->segs)
    for (uint32_t s = 0; s < pool->seg_cap; s++)
      free(pool->segs[s].pages);
  free(pool->blocks);
  free(pool->segs);
  pool->blocks = NULL;
  pool->segs = NULL;
}

uint32_t tp_block_new_slow(tp_pool *pool) {
  if (pool->block_cap > UINT32_MAX / 2)
    return TP_NIL;
  uint32_t cap = pool->block_cap * 2;
  tp_block *bigger = aligned_array(cap, sizeof *bigger);
  if (!bigger)
    return TP_NIL;
  memcpy(bigger, pool->blocks, pool->block_cap * sizeof *bigger);
  free(pool->blocks);
  pool->blocks = bigger;
  chain_blocks(pool, pool->block_cap, cap);
  pool->block_cap = cap;
  return tp_block_new(pool);
}

uint32_t tp_segment_new(tp_pool *pool) {
  if (pool->spare_segs == TP_NIL) {
    if (pool->seg_cap > UINT32_MAX / 2)
      return TP_NIL;
    uint32_t cap = pool->seg_cap * 2;
    tp_segment *bigger = realloc(pool->segs, cap * sizeof *bigger);
    if (!bigger)
      return TP_NIL;
    memset(bigger + pool->seg_cap, 0, (cap - pool->seg_cap) * sizeof *bigger);
    pool->segs = bigger;
    chain_segments(pool, pool->seg_cap, cap);
    pool->seg_cap = cap;
  }
  uint32_t s = pool->spare_segs;
  tp_segment *seg = &pool->segs[s];
  pool->spare_segs = seg->next_spare;
  uint64_t *pages = seg->pages; /* kept for reuse, cleared when sized */
  uint64_t words = seg->page_words;
  memset(seg, 0, sizeof *seg);
  seg->pages = pages;
  seg->page_words = words;
  seg->used = 1;
  seg->first = seg->last = TP_NIL;
  return s;
}

void tp_segment_drop(tp_pool *pool, uint32_t s) {
  tp_segment *seg = &pool->segs[s];
  if (seg->page_words > 1024) {
    /* A large page map is not worth keeping for whatever comes next. */
    free(seg->pages);
    seg->pages = NULL;
    seg->page_words = 0;
  }
  if (seg->empty)
    tp_empty_unlink(pool, s);
  for (unsigned k = 0; k < TP_KINDS; k++)
    if (pool->top[k] == s)
      pool->top[k] = TP_NIL;
  seg->used = 0;
  seg->next_spare = pool->spare_segs;
  pool->spare_segs = s;
}
