/* Giving memory back upstream: whole free segments, free tails of growable
 * segments, the cache bounds, and the out-of-memory message. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "pool/pool_blocks.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

static uint64_t popcount_words(const uint64_t *bits, uint64_t words) {
  uint64_t n = 0;
  for (uint64_t i = 0; bits && i < words; i++)
    n += (uint64_t)__builtin_popcountll(bits[i]);
  return n;
}

bool tp_pool_segment_release(tp_pool *pool, uint32_t s) {
  tp_segment *seg = tp_seg(pool, s);
  uint32_t b = seg->first;
  tp_block *blk = tp_blk(pool, b);
  tp_stream stream = tp_pool_slot_stream(pool, blk->slot);
  pool->stats.upstream_puts++;
  uint64_t mark = tp_error_serial();
  tp_status st = pool->space.ops->put(pool->space.ctx, (void *)seg->base,
                                      (size_t)seg->bytes, stream);
  if (st != TP_SUCCESS) {
    pool->refusal =
        tp_fail_callback(st, mark, "space '%s' refused to release %llu bytes",
                         pool->space.name, (unsigned long long)seg->bytes);
    return false;
  }
  if (pool->dv[blk->kind] == b)
    pool->dv[blk->kind] = TP_NIL;
  tp_index_remove(pool, b);
  tp_dirty_unlink(pool, b);
  pool->stats.cached_blocks--;
  pool->stats.cached_bytes -= blk->bytes;
  tp_block_drop(pool, b);
  if (seg->pages)
    pool->stats.decommitted_bytes -=
        popcount_words(seg->pages, seg->page_words) * pool->page;
  if (seg->pages)
    for (uint64_t i = 0; i < seg->page_words; i++)
      seg->pages[i] = 0;
  tp_empty_unlink(pool, s);
  pool->stats.reserved_bytes -= seg->bytes;
  pool->stats.segments--;
  pool->stats.releases++;
  tp_segment_drop(pool, s);
  return true;
}

void tp_segment_cut_tail(tp_pool *pool, uint32_t s, uint64_t keep) {
  tp_segment *seg = tp_seg(pool, s);
  uint32_t t = seg->last;
  tp_block *tail = tp_blk(pool, t);
  uint64_t cut = seg->bytes - keep;
  if (pool->dv[tail->kind] == t)
    pool->dv[tail->kind] = TP_NIL; /* filed again below, or gone */
  tp_index_remove(pool, t);
  tp_dirty_unlink(pool, t);
  if (seg->pages)
    for (uint64_t i = keep / pool->page; i < seg->bytes / pool->page; i++)
      if (seg->pages[i / 64] >> (i % 64) & 1u) {
        pool->stats.decommitted_bytes -= pool->page;
        seg->pages[i / 64] &= ~((uint64_t)1 << (i % 64));
      }
  pool->stats.cached_bytes -= cut;
  pool->stats.reserved_bytes -= cut;
  seg->bytes = keep;
  tail->bytes -= cut;
  if (tail->bytes == 0) {
    /* The tail began where the cut does: its record goes. */
    uint32_t last = tail->prev;
    seg->last = last;
    tp_blk(pool, last)->next = TP_NIL;
    pool->stats.cached_blocks--;
    tp_block_drop(pool, t);
    /* What is left may be one free block (one the tail could not merge
     * with: pending work on another stream): a whole free segment. */
    if (tp_blk(pool, last)->state == TP_BLOCK_FREE &&
        tp_blk(pool, last)->prev == TP_NIL)
      tp_empty_push(pool, s);
  } else {
    tp_index_insert(pool, t);
    tp_dirty_push(pool, t);
  }
}

/* Gives back the free tail of growable segment `s` in place, keeping the
 * page holding the last live byte; the bytes given back, 0 if none. */
static uint64_t shrink_tail(tp_pool *pool, uint32_t s) {
  tp_segment *seg = tp_seg(pool, s);
  uint32_t t = seg->last;
  tp_block *tail = tp_blk(pool, t);
  if (tail->state != TP_BLOCK_FREE || tail->prev == TP_NIL)
    return 0;
  /* Only a tail with no pending work: growing again would hand out the
   * same addresses as new memory, ordered after nothing. */
  if (!tp_pool_slot_ready(pool, tail->slot, tail->u.f.stamp))
    return 0;
  uint64_t keep =
      ((uint64_t)tail->ptr - seg->base + pool->page - 1) & ~(pool->page - 1);
  if (keep >= seg->bytes)
    return 0;
  uint64_t cut = seg->bytes - keep;
  if (pool->space.ops->resize(pool->space.ctx, (void *)seg->base,
                              (size_t)seg->bytes, (size_t)keep,
                              NULL) != TP_SUCCESS)
    return 0;
  tp_segment_cut_tail(pool, s, keep);
  pool->stats.segment_shrinks++;
  return cut;
}

typedef struct candidate {
  uint64_t bytes;
  uint32_t seg;
  bool whole; /* the segment is one free block; else its tail */
} candidate;

static int by_size_descending(const void *a, const void *b) {
  uint64_t x = ((const candidate *)a)->bytes, y = ((const candidate *)b)->bytes;
  return (x < y) - (x > y);
}

void tp_dv_flush_all(tp_pool *pool) {
  /* Merging the quick lists' blocks may make kept blocks: first. */
  tp_quick_flush_all(pool);
  for (unsigned k = 0; k < TP_KINDS; k++)
    tp_dv_flush(pool, k);
}

void tp_pool_promote_idle(tp_pool *pool) {
  tp_dv_flush_all(pool);
  /* Streams found idle make their free blocks ready, and merging them may
   * leave more whole segments. */
  uint64_t rest = pool->used_slots & ~(uint64_t)1;
  bool promoted = false;
  while (rest) {
    unsigned s = (unsigned)__builtin_ctzll(rest);
    rest &= rest - 1;
    pool->slots[s].query_after = 0;
    promoted |= tp_pool_slot_ready(pool, s, pool->clock);
  }
  if (promoted)
    tp_pool_promote_ready(pool);
}

tp_status tp_pool_release_cached(tp_pool *pool, uint64_t target, bool sync) {
  if (pool->stats.cached_bytes <= target)
    return TP_SUCCESS;
  tp_pool_promote_idle(pool);
  size_t count = 0;
  for (uint32_t s = 0; s < pool->seg_cap; s++)
    count += tp_seg(pool, s)->used;
  candidate *list = malloc((count ? count : 1) * sizeof *list);
  if (!list)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "pool '%s': no host memory to list %zu segments", pool->name,
                   count);
  size_t n = 0;
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    if (!seg->used)
      continue;
    tp_block *last = tp_blk(pool, seg->last);
    if (seg->empty)
      list[n++] = (candidate){seg->bytes, s, true};
    else if (pool->can_resize && last->state == TP_BLOCK_FREE)
      list[n++] = (candidate){last->bytes, s, false};
  }
  qsort(list, n, sizeof *list, by_size_descending);
  uint64_t released_slots = 0;
  tp_status refused = TP_SUCCESS;
  for (size_t i = 0; i < n && pool->stats.cached_bytes > target; i++) {
    tp_segment *seg = tp_seg(pool, list[i].seg);
    unsigned slot = tp_blk(pool, seg->last)->slot;
    bool done = list[i].whole ? tp_pool_segment_release(pool, list[i].seg)
                              : shrink_tail(pool, list[i].seg) > 0;
    /* A cut tail may leave one free block (its neighbour, kept apart by
     * another stream's pending work): now a whole free segment. */
    if (done && !list[i].whole && seg->empty &&
        pool->stats.cached_bytes > target) {
      unsigned left = tp_blk(pool, seg->last)->slot;
      if (tp_pool_segment_release(pool, list[i].seg))
        released_slots |= (uint64_t)1 << left;
    }
    if (done)
      released_slots |= (uint64_t)1 << slot;
    else if (list[i].whole && refused == TP_SUCCESS)
      refused = pool->refusal; /* the others may still go */
  }
  free(list);
  /* Stream-ordered releases complete only after their streams' work: wait,
   * so that a retried upstream request can really use that memory. */
  released_slots &= ~(uint64_t)1;
  while (sync && released_slots) {
    unsigned s = (unsigned)__builtin_ctzll(released_slots);
    released_slots &= released_slots - 1;
    pool->space.ops->stream_sync(pool->space.ctx, pool->slots[s].stream);
  }
  return refused;
}

void tp_pool_apply_cache_bounds(tp_pool *pool, uint32_t s) {
  const tp_pool_config *c = &pool->config;
  if (tp_seg(pool, s)->empty && c->max_buffers_per_bucket != TP_UNLIMITED) {
    /* Whole free segments of this one's size class beyond the bound. */
    const tp_size_classes *sc = &pool->classes;
    uint64_t bytes = tp_seg(pool, s)->bytes;
    unsigned cls = tp_size_class_of(sc, (size_t)bytes);
    size_t same = 0;
    for (uint32_t e = 0; e < pool->seg_cap; e++)
      same += tp_seg(pool, e)->used && tp_seg(pool, e)->empty &&
              tp_size_class_of(sc, (size_t)tp_seg(pool, e)->bytes) == cls;
    if (same > c->max_buffers_per_bucket) {
      tp_dv_flush(pool, tp_seg(pool, s)->kind);
      tp_pool_segment_release(pool, s); /* the byte bound still applies */
    }
  }
  if (pool->stats.cached_bytes > c->max_cached_bytes)
    tp_pool_release_cached(pool, c->max_cached_bytes, false);
}

tp_status tp_pool_out_of_memory(tp_pool *pool, size_t requested, uint64_t bytes,
                                const char *why) {
  const tp_pool_stats *s = &pool->stats;
  char limit[48];
  if (pool->config.limit == TP_UNLIMITED)
    snprintf(limit, sizeof limit, "no limit");
  else
    snprintf(limit, sizeof limit, "limit %zu bytes", pool->config.limit);
  /* What the space said when it refused, after the pool's figures. */
  char said[sizeof pool->upstream_said + 24] = "";
  if (pool->upstream_said[0])
    snprintf(said, sizeof said, "; the space said: %s", pool->upstream_said);
  pool->upstream_said[0] = '\0';
  uint64_t largest = 0;
  for (unsigned k = 0; k < TP_KINDS; k++) {
    uint64_t l = tp_index_largest(pool, k);
    largest = l > largest ? l : largest;
  }
  return tp_fail(
      TP_ERR_OUT_OF_MEMORY,
      "tp_pool_alloc: pool '%s' on %s cannot serve %zu bytes (a block of "
      "%llu bytes): %s; live %llu bytes, cached %llu bytes, reserved %llu "
      "bytes, %s; %llu segments, %llu free bytes inside them "
      "(largest free block %llu bytes), %llu of them in %llu whole free "
      "segments%s",
      pool->name, pool->space.name, requested, (unsigned long long)bytes, why,
      (unsigned long long)s->live_bytes, (unsigned long long)s->cached_bytes,
      (unsigned long long)s->reserved_bytes, limit,
      (unsigned long long)s->segments, (unsigned long long)s->cached_bytes,
      (unsigned long long)largest, (unsigned long long)s->free_segment_bytes,
      (unsigned long long)s->free_segments, said);
}
