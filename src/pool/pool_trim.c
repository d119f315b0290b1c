/* Shrinking a pool on request: trim and the hard limit. */
#include "core/error.h"
#include "pool/pool_internal.h"
#include "pool/pool_owner.h"

tp_status tp_pool_trim(tp_pool *pool, size_t target_cached_bytes) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_trim: NULL pool");
  tp_lock_acquire(&pool->lock);
  pool->clock++;
  tp_front_drain_all(pool); /* threads' caches first */
  tp_status st = tp_pool_release_cached(pool, target_cached_bytes, false);
  /* What stays free between live blocks keeps its addresses, not its
   * pages. */
  if (pool->stats.cached_bytes > target_cached_bytes)
    tp_pages_decommit_all(pool);
  /* Upstream's refusal is its status (out of memory, a CUDA error...), not
   * a broken invariant of the pool. */
  if (st != TP_SUCCESS)
    st = tp_fail_context(st,
                         "tp_pool_trim: pool '%s': %llu cached bytes remain "
                         "above the target of %zu",
                         pool->name,
                         (unsigned long long)pool->stats.cached_bytes,
                         target_cached_bytes);
  if (pool->log)
    tp_event_log_write(pool->log, "trim", pool->name, NULL, target_cached_bytes,
                       NULL, st);
  tp_lock_release(&pool->lock);
  return st;
}

void tp_pool_claim_limit(tp_pool *pool, const char *owner) {
  pool->limit_owner = owner;
}

tp_status tp_pool_set_limit(tp_pool *pool, size_t limit) {
  if (pool && pool->limit_owner)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_pool_set_limit: pool '%s' belongs to a runtime: its "
                   "limit is the runtime's budget; set it with %s",
                   pool->name, pool->limit_owner);
  return tp_pool_set_owned_limit(pool, limit);
}

/* The reserved bytes left if every segment with nothing live and every
 * free tail went back: what stays whatever is released. Optimistic (free
 * blocks with pending work may not merge yet, a space may refuse), so a
 * limit below it can be refused before anything is released. */
static uint64_t reserved_floor(tp_pool *pool) {
  /* As the release will see them: idle streams' blocks ready and merged. */
  tp_pool_promote_idle(pool);
  uint64_t floor = 0;
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    /* A whole free segment goes; free blocks that cannot merge yet
     * (pending work on two streams) keep theirs. */
    if (!seg->used || seg->empty)
      continue;
    tp_block *last = tp_blk(pool, seg->last);
    /* A free tail shrinks only once its work is done (shrink_tail). */
    if (pool->can_resize && last->state == TP_BLOCK_FREE &&
        last->prev != TP_NIL &&
        tp_pool_slot_ready(pool, last->slot, last->u.f.stamp))
      floor += ((uint64_t)last->ptr - seg->base + pool->page - 1) &
               ~(pool->page - 1);
    else
      floor += seg->bytes;
  }
  return floor;
}

tp_status tp_pool_set_owned_limit(tp_pool *pool, size_t limit) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_set_limit: NULL pool");
  if (limit == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_set_limit: pool '%s': a limit of 0 bytes allows "
                   "no allocation (use TP_UNLIMITED for no limit)",
                   pool->name);
  tp_lock_acquire(&pool->lock);
  pool->clock++;
  tp_status st = TP_SUCCESS;
  /* Blocks parked in threads' caches count against the limit as cached:
   * they go back first. */
  tp_front_drain_all(pool);
  uint64_t floor = 0;
  if (pool->stats.live_bytes > limit) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_set_limit: pool '%s': %llu bytes are live, more "
                 "than the new limit of %zu bytes; the limit stays %zu",
                 pool->name, (unsigned long long)pool->stats.live_bytes, limit,
                 pool->config.limit);
  } else if (pool->stats.reserved_bytes > limit &&
             (floor = reserved_floor(pool)) > limit) {
    /* Refused before anything is released: the limit could not be met. */
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_set_limit: pool '%s': at least %llu bytes stay "
                 "reserved (%llu live, the rest free between them, which "
                 "cannot be given back), more than the new limit of %zu "
                 "bytes; the limit stays %zu",
                 pool->name, (unsigned long long)floor,
                 (unsigned long long)pool->stats.live_bytes, limit,
                 pool->config.limit);
  } else if (pool->stats.reserved_bytes > limit) {
    /* Whole free segments and free tails go back; what stays free between
     * live blocks keeps its addresses, which count against the limit. */
    st = tp_pool_release_cached(pool, limit - pool->stats.live_bytes, false);
    tp_pages_decommit_all(pool);
    if (st != TP_SUCCESS)
      st = tp_fail_context(st,
                           "tp_pool_set_limit: pool '%s': the limit stays %zu",
                           pool->name, pool->config.limit);
    else if (pool->stats.reserved_bytes > limit)
      st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "tp_pool_set_limit: pool '%s': %llu bytes stay reserved "
                   "(%llu live, %llu free between them that cannot be given "
                   "back), more than the new limit of %zu bytes; the limit "
                   "stays %zu",
                   pool->name, (unsigned long long)pool->stats.reserved_bytes,
                   (unsigned long long)pool->stats.live_bytes,
                   (unsigned long long)pool->stats.cached_bytes, limit,
                   pool->config.limit);
    else
      pool->config.limit = limit;
  } else {
    pool->config.limit = limit;
  }
  tp_lock_release(&pool->lock);
  return st;
}
