/* Growing the pool on a miss: extending a growable segment in place, or
 * taking a new segment, within the limit, with the release-and-retry path
 * when upstream runs dry. */
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "pool/pool_blocks.h"
#include "pool/pool_internal.h"

static uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

/* The granule segment sizes are rounded to. */
static uint64_t granule(const tp_pool *pool) {
  return pool->page > TP_ALIGNMENT ? pool->page : TP_ALIGNMENT;
}

/* What a new segment for a request of `bytes` should hold. A space that
 * grows segments gets exactly what is asked (it grows later); others get
 * the fixed sizes of pool_internal.h. Never more than the limit leaves. */
static uint64_t segment_bytes(const tp_pool *pool, unsigned kind,
                              uint64_t bytes) {
  uint64_t size = bytes;
  if (kind == TP_KIND_SMALL && !pool->can_resize)
    size = TP_SMALL_SEGMENT;
  else if (kind == TP_KIND_LARGE && !pool->can_resize)
    size = bytes < TP_LARGE_ALONE ? TP_LARGE_SEGMENT
                                  : round_up(bytes, TP_SEGMENT_ROUND);
  uint64_t g = granule(pool);
  size = round_up(size, g);
  uint64_t room = pool->config.limit - pool->stats.reserved_bytes;
  if (size > room)
    size = room / g * g;
  uint64_t least = round_up(bytes, g);
  return size < least ? least : size;
}

/* A new segment of `size` bytes from upstream, as one free block (ready: no
 * work is queued on new memory). */
static tp_status new_segment(tp_pool *pool, unsigned kind, uint64_t size,
                             uint64_t incoming, uint32_t *out_block) {
  tp_pages_hold_budget(pool, incoming); /* new pages come into use */
  uint32_t s = tp_segment_new(pool);
  uint32_t b = s == TP_NIL ? TP_NIL : tp_block_new(pool);
  if (b == TP_NIL) {
    if (s != TP_NIL)
      tp_segment_drop(pool, s);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pool_alloc: pool '%s': no host memory for records",
                   pool->name);
  }
  void *ptr = NULL;
  const tp_space_ops *ops = pool->space.ops;
  uint64_t mark = tp_error_serial();
  tp_status st = ops->get(pool->space.ctx, (size_t)size, &ptr);
  /* The space is a callback table: keep its own message, or say it set
   * none (an exhausted upstream gets the pool's message from the caller,
   * which ends with this). */
  if (st == TP_ERR_OUT_OF_MEMORY)
    snprintf(pool->upstream_said, sizeof pool->upstream_said, "%s",
             tp_error_serial() != mark
                 ? tp_last_error()
                 : "nothing (its get failed without a message)");
  if (st != TP_SUCCESS && st != TP_ERR_OUT_OF_MEMORY)
    st = tp_fail_callback(st, mark,
                          "tp_pool_alloc: pool '%s': upstream get of %llu "
                          "bytes",
                          pool->name, (unsigned long long)size);
  tp_segment *seg = tp_seg(pool, s);
  seg->bytes = size;
  /* The page map once upstream gave the memory: a refused request may be
   * huge. */
  if (st == TP_SUCCESS && !tp_pages_fit_segment(pool, s)) {
    ops->put(pool->space.ctx, ptr, (size_t)size, NULL);
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_alloc: pool '%s': no host memory for a page map",
                 pool->name);
  }
  if (st == TP_SUCCESS && (uintptr_t)ptr % granule(pool) != 0) {
    ops->put(pool->space.ctx, ptr, (size_t)size, NULL);
    st = tp_fail(TP_ERR_INTERNAL,
                 "tp_pool_alloc: space '%s' returned %p, not aligned to %llu "
                 "bytes",
                 pool->space.name, ptr, (unsigned long long)granule(pool));
  }
  if (st != TP_SUCCESS) {
    tp_block_drop(pool, b);
    tp_segment_drop(pool, s);
    return st;
  }
  seg = tp_seg(pool, s);
  seg->base = (uintptr_t)ptr;
  seg->kind = (uint8_t)kind;
  seg->first = seg->last = b;
  tp_block *blk = tp_blk(pool, b);
  blk->ptr = (uintptr_t)ptr;
  blk->bytes = size;
  blk->prev = blk->next = TP_NIL;
  blk->seg = s;
  blk->kind = (uint8_t)kind;
  blk->state = TP_BLOCK_FREE;
  blk->flags = 0; /* records are reused uncleared */
  blk->slot = TP_SLOT_READY;
  blk->u.f.stamp = pool->clock;
  tp_index_insert(pool, b);
  pool->stats.cached_blocks++;
  pool->stats.cached_bytes += size;
  pool->stats.reserved_bytes += size;
  pool->stats.upstream_gets++;
  pool->stats.segments++;
  if (pool->can_resize && kind != TP_KIND_OVERSIZE)
    pool->top[kind] = s;
  *out_block = b;
  return TP_SUCCESS;
}

/* Extends the segment last grown for `kind` so that its free tail holds
 * `bytes`; returns that tail, or TP_NIL when it cannot (no such segment,
 * the limit, its reservation, a failed wait). */
static uint32_t grow_top(tp_pool *pool, unsigned kind, uint64_t bytes,
                         tp_stream stream) {
  uint32_t s = pool->top[kind];
  if (s == TP_NIL)
    return TP_NIL;
  tp_dv_flush(pool, kind); /* the tail may be the kept block */
  tp_segment *seg = tp_seg(pool, s);
  uint32_t t = seg->last;
  tp_block *tail = tp_blk(pool, t);
  bool tail_free = tail->state == TP_BLOCK_FREE;
  uint64_t have = tail_free ? tail->bytes : 0;
  if (have >= bytes)
    return TP_NIL; /* it fits: the search missed it (a class below) */
  uint64_t delta = round_up(bytes - have, granule(pool));
  if (delta > pool->config.limit - pool->stats.reserved_bytes)
    return TP_NIL;
  if (tail_free) {
    /* Where the block goes back if it cannot be handed out after all. */
    pool->taken_slot = tail->slot;
    pool->taken_stamp = tail->u.f.stamp;
  }
  if (tail_free && tail->slot != TP_SLOT_READY) {
    /* The tail may still be in use on its stream: the new block starts in
     * it, so the requesting stream waits as for any cross-stream take. */
    int own = tp_pool_slot_find(pool, stream);
    if (own != (int)tail->slot &&
        tail->u.f.stamp > pool->slots[tail->slot].done_clock) {
      if (tp_pool_slot_order_after(pool, tail->slot, stream) != TP_SUCCESS)
        return TP_NIL;
      pool->stats.cross_stream_takes++;
    }
  }
  tp_pages_hold_budget(pool, bytes); /* new pages come into use */
  /* Everything that can fail on the host side first, then the space. */
  uint32_t fresh = tail_free ? t : tp_block_new(pool);
  if (fresh == TP_NIL)
    return TP_NIL;
  seg = tp_seg(pool, s);
  uint64_t old_bytes = seg->bytes;
  void *base = (void *)seg->base;
  const tp_space_ops *ops = pool->space.ops;
  if (ops->resize(pool->space.ctx, base, (size_t)old_bytes,
                  (size_t)(old_bytes + delta), NULL) != TP_SUCCESS) {
    if (!tail_free)
      tp_block_drop(pool, fresh);
    return TP_NIL;
  }
  /* The page map grows only once the space did (a refused request may be
   * huge), and without host memory for it the growth is undone. */
  seg->bytes = old_bytes + delta;
  bool fits = tp_pages_fit_segment(pool, s);
  seg->bytes = old_bytes;
  if (!fits) {
    ops->resize(pool->space.ctx, base, (size_t)(old_bytes + delta),
                (size_t)old_bytes, NULL);
    if (!tail_free)
      tp_block_drop(pool, fresh);
    return TP_NIL;
  }
  tp_empty_unlink(pool, s); /* about to be used, and its size changes */
  seg->bytes = old_bytes + delta;
  if (tail_free) {
    /* Off the dirty list while its size changes, then back (its old pages
     * stay committed: aging must see them). */
    tp_dirty_unlink(pool, t);
    tp_index_remove(pool, t);
    tp_blk(pool, t)->bytes += delta;
    tp_index_insert(pool, t);
    tp_dirty_push(pool, t);
  } else {
    tp_block *blk = tp_blk(pool, fresh);
    blk->ptr = seg->base + old_bytes;
    blk->bytes = delta;
    blk->prev = t;
    blk->next = TP_NIL;
    blk->seg = s;
    blk->kind = (uint8_t)kind;
    blk->state = TP_BLOCK_FREE;
    blk->flags = 0; /* records are reused uncleared */
    blk->slot = TP_SLOT_READY;
    blk->u.f.stamp = pool->clock;
    tp_blk(pool, t)->next = fresh;
    seg->last = fresh;
    tp_index_insert(pool, fresh);
    pool->stats.cached_blocks++;
  }
  pool->stats.cached_bytes += delta;
  pool->stats.reserved_bytes += delta;
  pool->stats.segment_grows++;
  pool->grown_bytes = delta;
  return fresh;
}

void tp_pool_undo_grow(tp_pool *pool, uint32_t s) {
  uint64_t delta = pool->grown_bytes;
  pool->grown_bytes = 0;
  if (!delta)
    return;
  tp_segment *seg = tp_seg(pool, s);
  uint32_t t = seg->last;
  tp_block *tail = tp_blk(pool, t);
  /* The grown bytes are the end of the free tail (the block went back into
   * it); no work was ever queued on them. */
  if (tail->state != TP_BLOCK_FREE || tail->bytes < delta)
    return;
  tp_dv_flush(pool, tail->kind);
  uint64_t old_bytes = seg->bytes - delta;
  if (pool->space.ops->resize(pool->space.ctx, (void *)seg->base,
                              (size_t)seg->bytes, (size_t)old_bytes,
                              NULL) != TP_SUCCESS)
    return; /* kept: free memory like any other */
  bool empty = seg->empty;
  tp_empty_unlink(pool, s); /* its bytes change */
  tp_segment_cut_tail(pool, s, old_bytes);
  if (empty)
    tp_empty_push(pool, s);
  pool->stats.segment_grows--; /* as if it never grew */
}

tp_status tp_pool_upstream_alloc(tp_pool *pool, unsigned kind, uint64_t bytes,
                                 size_t requested, tp_stream stream,
                                 uint32_t *out) {
  pool->upstream_said[0] = '\0';
  uint64_t limit = pool->config.limit;
  if (bytes > limit - pool->stats.live_bytes)
    return tp_pool_out_of_memory(pool, requested, bytes,
                                 "over the pool's limit");
  uint32_t tail = TP_NIL;
  if (pool->can_resize && kind != TP_KIND_OVERSIZE)
    tail = grow_top(pool, kind, bytes, stream);
  if (tail == TP_NIL) {
    uint64_t size = segment_bytes(pool, kind, bytes);
    uint64_t least = round_up(bytes, granule(pool));
    if (size > limit - pool->stats.reserved_bytes &&
        least <= limit - pool->stats.live_bytes) {
      /* Make room: free memory of other sizes is what the limit lacks. */
      tp_pool_release_cached(pool, limit - pool->stats.live_bytes - least,
                             false);
      size = segment_bytes(pool, kind, bytes);
    }
    if (size > limit - pool->stats.reserved_bytes)
      return tp_pool_out_of_memory(
          pool, requested, bytes,
          "over the pool's limit after releasing the cache");
    tp_status st = new_segment(pool, kind, size, bytes, &tail);
    if (st == TP_ERR_OUT_OF_MEMORY && pool->stats.cached_bytes > 0) {
      /* Free memory anywhere may be what upstream is missing: wait for the
       * streams, merge, give back whole segments, tails and free pages,
       * then retry once with what the request needs and no more. */
      tp_pool_make_all_ready(pool);
      tp_pool_release_cached(pool, 0, true);
      tp_pages_decommit_all(pool);
      if (least <= limit - pool->stats.reserved_bytes)
        st = new_segment(pool, kind, least, bytes, &tail);
    } else if (st == TP_ERR_OUT_OF_MEMORY && size > least) {
      /* Upstream may still have the request's size, if not a segment's. */
      st = new_segment(pool, kind, least, bytes, &tail);
    }
    if (st == TP_ERR_OUT_OF_MEMORY)
      return tp_pool_out_of_memory(pool, requested, bytes,
                                   "upstream is exhausted even after "
                                   "releasing the cache");
    if (st != TP_SUCCESS) {
      /* new_segment's message says what failed; what an earlier get said
       * must not surface in a later, unrelated out-of-memory message. */
      pool->upstream_said[0] = '\0';
      return st;
    }
  }
  pool->upstream_said[0] = '\0'; /* served after all */
  uint32_t b = tp_block_take(pool, tail, bytes);
  if (b == TP_NIL)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pool_alloc: pool '%s': no host memory for a record",
                   pool->name);
  *out = b;
  return TP_SUCCESS;
}
