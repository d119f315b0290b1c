/* Block and segment records in arrays that double when full, spare records
 * chained through their own storage. The block records come straight from
 * mmap and are handed out in order before any is reused: the part of the
 * array never used stays untouched, so it costs address space, not memory
 * (a pool's own bookkeeping counts in the memory it holds). */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "pool/table_memory.h"

#define TP_INITIAL_BLOCKS 256u
#define TP_INITIAL_SEGMENTS 16u

/* Page aligned (so every block record is one cache line) and zero, with
 * no page touched. */
static tp_block *map_blocks(uint32_t count) {
  return tp_table_map((size_t)count * sizeof(tp_block));
}

static void unmap_blocks(tp_block *blocks, uint32_t count) {
  tp_table_unmap(blocks, (size_t)count * sizeof(tp_block));
}

static void chain_segments(tp_pool *pool, uint32_t from, uint32_t to) {
  for (uint32_t i = to; i-- > from;) {
    pool->segs[i].used = 0;
    pool->segs[i].next_spare = pool->spare_segs;
    pool->spare_segs = i;
  }
}

bool tp_records_init(tp_pool *pool) {
  pool->blocks = map_blocks(TP_INITIAL_BLOCKS);
  pool->segs = calloc(TP_INITIAL_SEGMENTS, sizeof *pool->segs);
  if (!pool->blocks || !pool->segs)
    return false;
  pool->block_cap = TP_INITIAL_BLOCKS;
  pool->seg_cap = TP_INITIAL_SEGMENTS;
  pool->block_fresh = 0;
  pool->spare_blocks = pool->spare_segs = TP_NIL;
  chain_segments(pool, 0, pool->seg_cap);
  for (unsigned k = 0; k < TP_KINDS; k++)
    pool->top[k] = pool->dv[k] = TP_NIL;
  return true;
}

void tp_records_fini(tp_pool *pool) {
  if (pool->segs)
    for (uint32_t s = 0; s < pool->seg_cap; s++)
      free(pool->segs[s].pages);
  unmap_blocks(pool->blocks, pool->block_cap);
  free(pool->segs);
  pool->blocks = NULL;
  pool->segs = NULL;
}

uint32_t tp_block_new_slow(tp_pool *pool) {
  /* No spare record: the next never used one, else a bigger array. */
  if (pool->block_fresh < pool->block_cap)
    return pool->block_fresh++;
  if (pool->block_cap > UINT32_MAX / 2)
    return TP_NIL;
  uint32_t cap = pool->block_cap * 2;
  tp_block *bigger = map_blocks(cap);
  if (!bigger)
    return TP_NIL;
  memcpy(bigger, pool->blocks, (size_t)pool->block_cap * sizeof *bigger);
  unmap_blocks(pool->blocks, pool->block_cap);
  pool->blocks = bigger;
  pool->block_cap = cap;
  return pool->block_fresh++;
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
