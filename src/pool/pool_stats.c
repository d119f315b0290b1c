/* Reading, resetting and printing a pool's statistics. */
#include <inttypes.h>
#include <stdio.h>

#include "core/error.h"
#include "core/versioned.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

tp_status tp_pool_get_stats(tp_pool *pool, tp_pool_stats *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_get_stats: NULL %s",
                   pool ? "out-pointer" : "pool");
  tp_lock_acquire(&pool->lock);
  /* Figures as if every free had merged at once: with the threads' caches
   * stopped, frees waiting in their inboxes reach the engine, then blocks
   * waiting on the quick lists (those included) merge. */
  tp_front_stop(pool);
  tp_quick_flush_all(pool);
  tp_pool_stats s = pool->stats;
  s.largest_free_block = 0;
  for (unsigned k = 0; k < TP_KINDS; k++) {
    uint64_t l = tp_index_largest(pool, k);
    if (l > s.largest_free_block)
      s.largest_free_block = l;
  }
  tp_front_adjust_stats(pool, &s);
  tp_front_resume(pool);
  tp_lock_release(&pool->lock);
  s.struct_size = sizeof s;
  s.hit_rate = s.allocations ? (double)s.hits / (double)s.allocations : 0.0;
  return tp_versioned_write("tp_pool_get_stats", "TP_POOL_STATS_INIT", out, &s,
                            sizeof s);
}

tp_status tp_pool_reset_peaks(tp_pool *pool) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_reset_peaks: NULL pool");
  tp_lock_acquire(&pool->lock);
  tp_pool_stats *s = &pool->stats;
  /* Requested bytes to what callers hold now (blocks parked in threads'
   * caches are not theirs: each cache keeps its own figure of what they
   * hold). Live bytes to the engine's figure, parked blocks included: a
   * cache hands them out again without the engine, which would not see
   * callers' bytes grow back to it, and the peak must never read below
   * what callers held. */
  tp_front_stop(pool);
  tp_pool_stats seen = *s;
  tp_front_adjust_stats(pool, &seen);
  s->live_bytes_peak = s->live_bytes;
  s->requested_bytes_peak = seen.requested_bytes;
  pool->front.requested_peak = seen.requested_bytes;
  tp_front_reset_peaks(pool);
  tp_front_resume(pool);
  s->reserved_bytes_peak = s->reserved_bytes;
  s->committed_bytes_peak = s->reserved_bytes - s->decommitted_bytes;
  tp_lock_release(&pool->lock);
  return TP_SUCCESS;
}

tp_status tp_pool_print_stats(tp_pool *pool, tp_print_fn print, void *user) {
  if (!pool || !print)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_print_stats: NULL %s",
                   pool ? "print function" : "pool");
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  char line[256];
#define TP_LINE(...)                                                           \
  do {                                                                         \
    snprintf(line, sizeof line, __VA_ARGS__);                                  \
    print(user, line);                                                         \
  } while (0)
  TP_LINE("pool '%s' on %s", pool->name, pool->space.name);
  TP_LINE("  allocations %llu (hits %llu, misses %llu, hit rate %.1f%%), "
          "deallocations %llu, failures %llu",
          (unsigned long long)s.allocations, (unsigned long long)s.hits,
          (unsigned long long)s.misses, 100.0 * s.hit_rate,
          (unsigned long long)s.deallocations, (unsigned long long)s.failures);
  TP_LINE("  bytes allocated %llu, freed %llu",
          (unsigned long long)s.bytes_allocated,
          (unsigned long long)s.bytes_freed);
  TP_LINE("  live %" PRIu64 " blocks, %" PRIu64 " bytes (requested %" PRIu64
          "); peak %" PRIu64 " (requested %" PRIu64 ")",
          s.live_blocks, s.live_bytes, s.requested_bytes, s.live_bytes_peak,
          s.requested_bytes_peak);
  TP_LINE("  cached %" PRIu64 " blocks, %" PRIu64 " bytes; reserved %" PRIu64
          " bytes, peak %" PRIu64,
          s.cached_blocks, s.cached_bytes, s.reserved_bytes,
          s.reserved_bytes_peak);
  TP_LINE("  upstream gets %llu, puts %llu; releases %llu; cross-stream takes "
          "%llu; streams forgotten %llu",
          (unsigned long long)s.upstream_gets,
          (unsigned long long)s.upstream_puts, (unsigned long long)s.releases,
          (unsigned long long)s.cross_stream_takes,
          (unsigned long long)s.streams_forgotten);
  TP_LINE("  segments %" PRIu64 " (%" PRIu64 " whole free, %" PRIu64
          " bytes); largest free block %" PRIu64 " bytes; splits %" PRIu64
          ", merges %" PRIu64 ", grows %" PRIu64 ", shrinks %" PRIu64,
          s.segments, s.free_segments, s.free_segment_bytes,
          s.largest_free_block, s.free_blocks_split, s.blocks_merged,
          s.segment_grows, s.segment_shrinks);
  TP_LINE("  pages given back: %" PRIu64 " bytes now; %" PRIu64
          " calls, %" PRIu64 " bytes in all, %" PRIu64
          " bytes used again, %.3f ms; committed peak %" PRIu64 " bytes",
          s.decommitted_bytes, s.page_releases, s.page_release_bytes,
          s.page_reuse_bytes, (double)s.page_release_ns / 1e6,
          s.committed_bytes_peak);
#undef TP_LINE
  return TP_SUCCESS;
}
