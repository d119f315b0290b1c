/* Shrinking a pool on request: trim and the hard limit. */
#include "core/error.h"
#include "pool/pool_internal.h"

tp_status tp_pool_trim(tp_pool *pool, size_t target_cached_bytes) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_trim: NULL pool");
  pthread_mutex_lock(&pool->lock);
  pool->clock++;
  uint64_t puts_before = pool->stats.upstream_puts;
  uint64_t releases_before = pool->stats.releases;
  tp_pool_release_cached(pool, target_cached_bytes, false);
  /* What stays free between live blocks keeps its addresses, not its
   * pages. */
  if (pool->stats.cached_bytes > target_cached_bytes)
    tp_pages_decommit_all(pool);
  tp_status st = TP_SUCCESS;
  if (pool->stats.upstream_puts - puts_before >
      pool->stats.releases - releases_before)
    st = tp_fail(TP_ERR_INTERNAL,
                 "tp_pool_trim: pool '%s': upstream refused a release; %llu "
                 "cached bytes remain above the target of %zu",
                 pool->name, (unsigned long long)pool->stats.cached_bytes,
                 target_cached_bytes);
  if (pool->log)
    tp_event_log_write(pool->log, "trim", pool->name, NULL, target_cached_bytes,
                       NULL, st);
  pthread_mutex_unlock(&pool->lock);
  return st;
}

/* Releases cached memory until reserved bytes are at most `limit`; the
 * status says whether it got there (nothing else changes). */
static bool release_to(tp_pool *pool, uint64_t limit) {
  if (pool->stats.reserved_bytes <= limit)
    return true;
  tp_pool_release_cached(pool, limit - pool->stats.live_bytes, false);
  tp_pages_decommit_all(pool);
  return pool->stats.reserved_bytes <= limit;
}

tp_status tp_pool_set_limit(tp_pool *pool, size_t limit) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_set_limit: NULL pool");
  if (limit == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_pool_set_limit: pool '%s': a limit of 0 bytes allows "
                   "no allocation (use TP_UNLIMITED for no limit)",
                   pool->name);
  pthread_mutex_lock(&pool->lock);
  pool->clock++;
  tp_status st = TP_SUCCESS;
  if (pool->stats.live_bytes > limit) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_set_limit: pool '%s': %llu bytes are live, more "
                 "than the new limit of %zu bytes; the limit stays %zu",
                 pool->name, (unsigned long long)pool->stats.live_bytes, limit,
                 pool->config.limit);
  } else if (!release_to(pool, limit)) {
    st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_set_limit: pool '%s': %llu bytes stay reserved "
                 "(%llu live, %llu free between them that cannot be given "
                 "back), more than the new limit of %zu bytes; the limit "
                 "stays %zu",
                 pool->name, (unsigned long long)pool->stats.reserved_bytes,
                 (unsigned long long)pool->stats.live_bytes,
                 (unsigned long long)pool->stats.cached_bytes, limit,
                 pool->config.limit);
  } else {
    pool->config.limit = limit;
  }
  pthread_mutex_unlock(&pool->lock);
  return st;
}
