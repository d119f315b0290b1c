/* Pool attributes after creation: settings read and changed under the lock,
 * counters read (as cudaMemPoolGetAttribute / SetAttribute). */
#include <inttypes.h>

#include "core/error.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

static const char *attr_name(tp_pool_attr attr) {
  switch (attr) {
  case TP_POOL_ATTR_MAX_CACHED_BYTES: return "max_cached_bytes";
  case TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET: return "max_buffers_per_bucket";
  case TP_POOL_ATTR_LIMIT: return "limit";
  case TP_POOL_ATTR_PAGE_RELEASE: return "page_release";
  case TP_POOL_ATTR_PAGE_RELEASE_DELAY: return "page_release_delay";
  case TP_POOL_ATTR_OVERSIZE_THRESHOLD: return "oversize_threshold";
  case TP_POOL_ATTR_RESERVED_BYTES: return "reserved_bytes";
  case TP_POOL_ATTR_RESERVED_BYTES_PEAK: return "reserved_bytes_peak";
  case TP_POOL_ATTR_LIVE_BYTES: return "live_bytes";
  case TP_POOL_ATTR_LIVE_BYTES_PEAK: return "live_bytes_peak";
  case TP_POOL_ATTR_CACHED_BYTES: return "cached_bytes";
  case TP_POOL_ATTR_DECOMMITTED_BYTES: return "decommitted_bytes";
  case TP_POOL_ATTR_THREAD_CACHE_BYTES: return "thread_cache_bytes";
  }
  return NULL;
}

static uint64_t as_u64(size_t v) {
  return v == TP_UNLIMITED ? UINT64_MAX : (uint64_t)v;
}

static size_t as_size(uint64_t v) {
  return v >= (uint64_t)SIZE_MAX ? TP_UNLIMITED : (size_t)v;
}

tp_status tp_pool_get_attribute(tp_pool *pool, tp_pool_attr attr,
                                uint64_t *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_get_attribute: NULL %s",
                   pool ? "out-pointer" : "pool");
  if (!attr_name(attr))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_get_attribute: pool '%s': %d is not a "
                   "tp_pool_attr",
                   pool->name, (int)attr);
  tp_lock_acquire(&pool->lock);
  const tp_pool_config *c = &pool->config;
  /* Parked blocks are cached, and frees in threads' inboxes done. */
  bool front =
      attr == TP_POOL_ATTR_LIVE_BYTES || attr == TP_POOL_ATTR_CACHED_BYTES;
  if (front)
    tp_front_stop(pool);
  tp_pool_stats seen = pool->stats;
  if (front) {
    tp_front_adjust_stats(pool, &seen);
    tp_front_resume(pool);
  }
  const tp_pool_stats *s = &seen;
  uint64_t v = 0;
  switch (attr) {
  case TP_POOL_ATTR_MAX_CACHED_BYTES: v = as_u64(c->max_cached_bytes); break;
  case TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET:
    v = as_u64(c->max_buffers_per_bucket);
    break;
  case TP_POOL_ATTR_LIMIT: v = as_u64(c->limit); break;
  case TP_POOL_ATTR_PAGE_RELEASE: v = (uint64_t)c->page_release; break;
  case TP_POOL_ATTR_PAGE_RELEASE_DELAY:
    v = as_u64(c->page_release_delay);
    break;
  case TP_POOL_ATTR_OVERSIZE_THRESHOLD:
    v = as_u64(c->oversize_threshold);
    break;
  case TP_POOL_ATTR_RESERVED_BYTES: v = s->reserved_bytes; break;
  case TP_POOL_ATTR_RESERVED_BYTES_PEAK: v = s->reserved_bytes_peak; break;
  case TP_POOL_ATTR_LIVE_BYTES: v = s->live_bytes; break;
  case TP_POOL_ATTR_LIVE_BYTES_PEAK: v = s->live_bytes_peak; break;
  case TP_POOL_ATTR_CACHED_BYTES: v = s->cached_bytes; break;
  case TP_POOL_ATTR_DECOMMITTED_BYTES: v = s->decommitted_bytes; break;
  case TP_POOL_ATTR_THREAD_CACHE_BYTES: v = pool->front.budget; break;
  }
  tp_lock_release(&pool->lock);
  *out = v;
  return TP_SUCCESS;
}

/* Checks a value before anything changes: the message names what is
 * wrong. */
static tp_status check_value(tp_pool *pool, tp_pool_attr attr, uint64_t value) {
  static const char fn[] = "tp_pool_set_attribute";
  switch (attr) {
  case TP_POOL_ATTR_LIMIT:
    if (value == 0)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: pool '%s': a limit of 0 bytes allows no "
                     "allocation (use TP_UNLIMITED for no limit)",
                     fn, pool->name);
    return TP_SUCCESS;
  case TP_POOL_ATTR_PAGE_RELEASE:
    if (value > TP_PAGE_RELEASE_AGED)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: pool '%s': %" PRIu64 " is not a tp_page_release", fn,
                     pool->name, value);
    return TP_SUCCESS;
  case TP_POOL_ATTR_RESERVED_BYTES_PEAK:
  case TP_POOL_ATTR_LIVE_BYTES_PEAK:
    if (value != 0)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: pool '%s': %s can only be reset (set to 0), not set "
                     "to %" PRIu64,
                     fn, pool->name, attr_name(attr), value);
    return TP_SUCCESS;
  case TP_POOL_ATTR_RESERVED_BYTES:
  case TP_POOL_ATTR_LIVE_BYTES:
  case TP_POOL_ATTR_CACHED_BYTES:
  case TP_POOL_ATTR_DECOMMITTED_BYTES:
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: pool '%s': %s is read-only",
                   fn, pool->name, attr_name(attr));
  default: return TP_SUCCESS;
  }
}

tp_status tp_pool_set_attribute(tp_pool *pool, tp_pool_attr attr,
                                uint64_t value) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_set_attribute: NULL pool");
  if (!attr_name(attr))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_set_attribute: pool '%s': %d is not a "
                   "tp_pool_attr",
                   pool->name, (int)attr);
  tp_status st = check_value(pool, attr, value);
  if (st != TP_SUCCESS)
    return st;
  if (attr == TP_POOL_ATTR_LIMIT)
    return tp_pool_set_limit(pool, as_size(value));
  tp_lock_acquire(&pool->lock);
  /* Blocks waiting unmerged (frees in threads' inboxes first) merge under
   * the setting they were freed with. */
  tp_front_settle(pool);
  tp_quick_flush_all(pool);
  tp_pool_config *c = &pool->config;
  tp_pool_stats *s = &pool->stats;
  switch (attr) {
  case TP_POOL_ATTR_MAX_CACHED_BYTES:
    c->max_cached_bytes = as_size(value);
    tp_front_configure(pool); /* off under a bound: drained */
    tp_pool_release_cached(pool, c->max_cached_bytes, false);
    break;
  case TP_POOL_ATTR_THREAD_CACHE_BYTES:
    c->thread_cache_bytes = as_size(value);
    pool->front.budget = c->thread_cache_bytes;
    tp_front_configure(pool);
    break;
  case TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET:
    c->max_buffers_per_bucket = as_size(value);
    /* At once, as a lower max_cached_bytes: whole free segments beyond the
     * new bound go (those the merge above just made whole too). */
    for (uint32_t seg = 0; seg < pool->seg_cap; seg++)
      if (tp_seg(pool, seg)->used && tp_seg(pool, seg)->empty)
        tp_pool_apply_cache_bounds(pool, seg);
    break;
  case TP_POOL_ATTR_PAGE_RELEASE:
    c->page_release = (tp_page_release)value;
    if (c->page_release == TP_PAGE_RELEASE_DEFAULT)
      c->page_release = pool->can_decommit ? TP_PAGE_RELEASE_AGED
                                           : TP_PAGE_RELEASE_ON_PRESSURE;
    pool->aging = c->page_release == TP_PAGE_RELEASE_AGED && pool->can_decommit;
    /* Without aging nothing leaves the dirty list: empty it. */
    if (!pool->aging)
      while (pool->dirty_head != TP_NIL)
        tp_dirty_unlink(pool, pool->dirty_head);
    break;
  case TP_POOL_ATTR_PAGE_RELEASE_DELAY:
    c->page_release_delay = as_size(value);
    break;
  case TP_POOL_ATTR_OVERSIZE_THRESHOLD:
    c->oversize_threshold = as_size(value);
    tp_front_configure(pool); /* the caches hold no oversize block */
    break;
  case TP_POOL_ATTR_RESERVED_BYTES_PEAK:
    s->reserved_bytes_peak = s->reserved_bytes;
    break;
  case TP_POOL_ATTR_LIVE_BYTES_PEAK:
    /* The engine's figure, parked blocks included, as tp_pool_reset_peaks:
     * the peak never reads below what callers held. */
    s->live_bytes_peak = s->live_bytes;
    break;
  default: break;
  }
  tp_quick_configure(pool);
  tp_lock_release(&pool->lock);
  return TP_SUCCESS;
}
