/* Traffic with upstream: growing on a miss (with the release-and-retry path
 * on exhaustion) and giving cached blocks back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "pool/pool_internal.h"

static tp_block *new_record(tp_pool *pool) {
  tp_block *b = pool->spare_records;
  if (b) {
    pool->spare_records = b->next;
    return b;
  }
  return malloc(sizeof *b);
}

void tp_pool_record_free(tp_pool *pool, tp_block *block) {
  block->next = pool->spare_records;
  pool->spare_records = block;
}

bool tp_pool_release_block(tp_pool *pool, tp_block *block, tp_stream stream) {
  pool->stats.upstream_puts++;
  uint64_t mark = tp_error_serial();
  tp_status st =
      pool->space.ops->put(pool->space.ctx, block->ptr, block->bytes, stream);
  if (st != TP_SUCCESS) {
    pool->refusal =
        tp_fail_callback(st, mark, "space '%s' refused to release %zu bytes",
                         pool->space.name, block->bytes);
    return false;
  }
  tp_ptr_map_remove(&pool->map, block);
  pool->stats.reserved_bytes -= block->bytes;
  pool->stats.releases++;
  tp_pool_record_free(pool, block);
  return true;
}

tp_status tp_pool_release_cached(tp_pool *pool, size_t target, bool sync) {
  uint64_t released_slots = 0;
  for (unsigned c = pool->classes.count; c-- > 0;) {
    tp_bin *bin = pool->bins[c];
    while (bin && bin->stream_mask && pool->stats.cached_bytes > target) {
      unsigned s = (unsigned)__builtin_ctzll(bin->stream_mask);
      tp_block *b = tp_pool_bin_pop(pool, bin, s);
      tp_stream stream = s == TP_SLOT_READY ? NULL : pool->slots[s].stream;
      if (!tp_pool_release_block(pool, b, stream)) {
        tp_pool_bin_push(pool, bin, b, s); /* keep what upstream refused */
        return pool->refusal;
      }
      released_slots |= (uint64_t)1 << s;
    }
    if (pool->stats.cached_bytes <= target)
      break;
  }
  /* Stream-ordered puts complete only after their streams' work: wait, so
   * that a retried upstream request can really use that memory. */
  released_slots &= ~(uint64_t)1;
  while (sync && released_slots) {
    unsigned s = (unsigned)__builtin_ctzll(released_slots);
    released_slots &= released_slots - 1;
    pool->space.ops->stream_sync(pool->space.ctx, pool->slots[s].stream);
  }
  return TP_SUCCESS;
}

static tp_status out_of_memory(tp_pool *pool, size_t requested, size_t bytes,
                               const char *why) {
  const tp_pool_stats *s = &pool->stats;
  char limit[32];
  if (pool->config.limit == TP_UNLIMITED)
    snprintf(limit, sizeof limit, "none");
  else
    snprintf(limit, sizeof limit, "%zu", pool->config.limit);
  return tp_fail(TP_ERR_OUT_OF_MEMORY,
                 "tp_pool_alloc: pool '%s' on %s cannot serve %zu bytes "
                 "(class of %zu bytes): %s; live %zu bytes, cached %zu bytes, "
                 "reserved %zu bytes, limit %s bytes",
                 pool->name, pool->space.name, requested, bytes, why,
                 s->live_bytes, s->cached_bytes, s->reserved_bytes, limit);
}

tp_status tp_pool_upstream_get(tp_pool *pool, unsigned cls, size_t requested,
                               tp_block **out) {
  size_t bytes = tp_size_class_bytes(&pool->classes, cls);
  size_t limit = pool->config.limit;
  if (bytes > limit - pool->stats.live_bytes)
    return out_of_memory(pool, requested, bytes, "over the pool's limit");
  if (bytes > limit - pool->stats.reserved_bytes)
    tp_pool_release_cached(pool, limit - bytes - pool->stats.live_bytes, false);
  if (bytes > limit - pool->stats.reserved_bytes)
    return out_of_memory(pool, requested, bytes,
                         "over the pool's limit after releasing the cache");

  tp_block *record = new_record(pool);
  if (!record)
    return tp_fail(
        TP_ERR_OUT_OF_MEMORY,
        "tp_pool_alloc: pool '%s': no host memory for a block record",
        pool->name);
  void *ptr = NULL;
  const tp_space_ops *ops = pool->space.ops;
  uint64_t mark = tp_error_serial();
  tp_status st = ops->get(pool->space.ctx, bytes, &ptr);
  if (st == TP_ERR_OUT_OF_MEMORY && pool->stats.cached_bytes > 0) {
    /* Cached blocks of other classes may be what upstream is missing. */
    tp_pool_release_cached(pool, 0, true);
    mark = tp_error_serial();
    st = ops->get(pool->space.ctx, bytes, &ptr);
  }
  if (st != TP_SUCCESS) {
    tp_pool_record_free(pool, record);
    if (st == TP_ERR_OUT_OF_MEMORY)
      return out_of_memory(pool, requested, bytes,
                           "upstream is exhausted even after releasing the "
                           "cache");
    /* The space is a callback table: keep its own message, if any. */
    return tp_fail_callback(st, mark,
                            "tp_pool_alloc: pool '%s': upstream get of %zu "
                            "bytes",
                            pool->name, bytes);
  }
  if ((uintptr_t)ptr % TP_ALIGNMENT != 0) {
    ops->put(pool->space.ctx, ptr, bytes, NULL);
    tp_pool_record_free(pool, record);
    return tp_fail(
        TP_ERR_INTERNAL,
        "tp_pool_alloc: space '%s' returned %p, not 256-byte aligned",
        pool->space.name, ptr);
  }
  pool->stats.upstream_gets++;
  pool->stats.reserved_bytes += bytes;
  record->ptr = ptr;
  record->bytes = bytes;
  record->cls = cls;
  record->next = NULL;
  tp_ptr_map_insert(&pool->map, record);
  *out = record;
  return TP_SUCCESS;
}
