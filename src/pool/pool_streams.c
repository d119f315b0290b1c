/* Stream slots: which streams hold cached blocks, and the one event per
 * stream that orders a cross-stream take. */
#include "core/error.h"
#include "pool/pool_internal.h"

int tp_pool_slot_find(tp_pool *pool, tp_stream stream) {
  unsigned last = pool->last_slot;
  if (last != TP_SLOT_READY && (pool->used_slots >> last & 1u) &&
      pool->slots[last].stream == stream)
    return (int)last;
  uint64_t rest = pool->used_slots & ~(uint64_t)1;
  while (rest) {
    unsigned s = (unsigned)__builtin_ctzll(rest);
    rest &= rest - 1;
    if (pool->slots[s].stream == stream) {
      pool->last_slot = s;
      return (int)s;
    }
  }
  return -1;
}

int tp_pool_slot_acquire(tp_pool *pool, tp_stream stream) {
  int found = tp_pool_slot_find(pool, stream);
  if (found >= 0)
    return found;
  uint64_t free_slots = ~pool->used_slots;
  if (!free_slots)
    return -1;
  unsigned s = (unsigned)__builtin_ctzll(free_slots);
  pool->used_slots |= (uint64_t)1 << s;
  pool->slots[s].stream = stream;
  pool->slots[s].has_event = false;
  pool->last_slot = s;
  return (int)s;
}

tp_status tp_pool_slot_order_after(tp_pool *pool, unsigned slot,
                                   tp_stream waiter) {
  tp_stream_slot *from = &pool->slots[slot];
  const tp_space_ops *ops = pool->space.ops;
  if (!from->has_event) {
    tp_status st = ops->event_create(pool->space.ctx, &from->event);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "pool '%s': creating a stream's event",
                             pool->name);
    from->has_event = true;
  }
  /* Recorded now, the event covers everything already queued on the old
   * stream, the block's last use included; no event was needed at free. */
  tp_status st = ops->event_record(pool->space.ctx, from->event, from->stream);
  if (st == TP_SUCCESS)
    st = ops->stream_wait(pool->space.ctx, waiter, from->event);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "pool '%s': ordering a stream after another",
                           pool->name);
  return TP_SUCCESS;
}

static void drop_slot(tp_pool *pool, unsigned s) {
  if (pool->slots[s].has_event)
    pool->space.ops->event_destroy(pool->space.ctx, pool->slots[s].event);
  pool->slots[s].has_event = false;
  pool->slots[s].stream = NULL;
  pool->used_slots &= ~((uint64_t)1 << s);
}

void tp_pool_slots_fini(tp_pool *pool) {
  uint64_t rest = pool->used_slots & ~(uint64_t)1;
  while (rest) {
    unsigned s = (unsigned)__builtin_ctzll(rest);
    rest &= rest - 1;
    drop_slot(pool, s);
  }
}

tp_status tp_pool_forget_stream(tp_pool *pool, tp_stream stream) {
  if (!pool)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_forget_stream: NULL pool");
  pthread_mutex_lock(&pool->lock);
  int found = tp_pool_slot_find(pool, stream);
  tp_status st = TP_SUCCESS;
  if (found > 0) {
    unsigned s = (unsigned)found;
    /* One wait now, so that its blocks need no event ever after. */
    st = pool->space.ops->stream_sync(pool->space.ctx, stream);
    if (st != TP_SUCCESS) {
      tp_fail_context(st,
                      "tp_pool_forget_stream: pool '%s': waiting for the "
                      "stream",
                      pool->name);
    } else {
      for (unsigned c = 0; c < pool->classes.count; c++) {
        tp_bin *bin = pool->bins[c];
        if (!bin || !(bin->stream_mask >> s & 1u))
          continue;
        tp_block *b;
        while ((b = tp_pool_bin_pop(pool, bin, s))) {
          b->stream = NULL; /* the handle may die: never pass it on again */
          tp_pool_bin_push(pool, bin, b, TP_SLOT_READY);
        }
      }
      drop_slot(pool, s);
      pool->stats.streams_forgotten++;
    }
  }
  if (pool->log)
    tp_event_log_write(pool->log, "forget", pool->name, NULL, 0, stream, st);
  pthread_mutex_unlock(&pool->lock);
  return st;
}
