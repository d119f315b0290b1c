/* Stream slots: which streams free blocks wait on, the one event per stream
 * that orders a cross-stream take or finds a stream idle, and making free
 * blocks ready. */
#include <stdlib.h>

#include "core/error.h"
#include "pool/pool_blocks.h"
#include "pool/pool_internal.h"

/* Calls between two readiness queries of one busy stream: a query costs a
 * record and a query on the device. */
#define TP_QUERY_INTERVAL 16u

int tp_pool_slot_find_slow(tp_pool *pool, tp_stream stream) {
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

int tp_pool_slot_acquire_slow(tp_pool *pool, tp_stream stream) {
  int found = tp_pool_slot_find(pool, stream);
  if (found >= 0)
    return found;
  uint64_t free_slots = ~pool->used_slots;
  if (!free_slots)
    return -1;
  unsigned s = (unsigned)__builtin_ctzll(free_slots);
  pool->used_slots |= (uint64_t)1 << s;
  pool->slots[s] = (tp_stream_slot){stream, NULL, false, 0, 0};
  pool->last_slot = s;
  return (int)s;
}

tp_stream tp_pool_slot_stream(const tp_pool *pool, unsigned slot) {
  return slot == TP_SLOT_READY ? NULL : pool->slots[slot].stream;
}

/* Records the slot's event on its stream now: it captures everything
 * queued there so far. */
static tp_status record_now(tp_pool *pool, unsigned slot) {
  tp_stream_slot *from = &pool->slots[slot];
  const tp_space_ops *ops = pool->space.ops;
  if (!from->has_event) {
    tp_status st = ops->event_create(pool->space.ctx, &from->event);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "pool '%s': creating a stream's event",
                             pool->name);
    from->has_event = true;
  }
  return ops->event_record(pool->space.ctx, from->event, from->stream);
}

tp_status tp_pool_slot_order_after(tp_pool *pool, unsigned slot,
                                   tp_stream waiter) {
  /* Recorded now, the event covers everything already queued on the old
   * stream, the block's last use included; no event was needed at free. */
  tp_status st = record_now(pool, slot);
  if (st == TP_SUCCESS)
    st = pool->space.ops->stream_wait(pool->space.ctx, waiter,
                                      pool->slots[slot].event);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "pool '%s': ordering a stream after another",
                           pool->name);
  return TP_SUCCESS;
}

bool tp_pool_slot_ready(tp_pool *pool, unsigned slot, uint64_t stamp) {
  if (slot == TP_SLOT_READY)
    return true;
  tp_stream_slot *s = &pool->slots[slot];
  if (stamp <= s->done_clock)
    return true;
  if (pool->clock < s->query_after)
    return false;
  bool done = false;
  if (record_now(pool, slot) != TP_SUCCESS ||
      pool->space.ops->event_query(pool->space.ctx, s->event, &done) !=
          TP_SUCCESS)
    done = false;
  if (!done) {
    s->query_after = pool->clock + TP_QUERY_INTERVAL;
    return false;
  }
  /* Everything queued before now is done: every block freed so far. */
  s->done_clock = pool->clock;
  return true;
}

int tp_pool_merged_slot_slow(tp_pool *pool, unsigned a, uint64_t a_stamp,
                             unsigned b, uint64_t b_stamp) {
  if (tp_pool_slot_ready(pool, a, a_stamp))
    return (int)b;
  if (tp_pool_slot_ready(pool, b, b_stamp))
    return (int)a;
  return -1;
}

void tp_pool_promote_ready(tp_pool *pool) {
  tp_dv_flush_all(pool);
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    tp_segment *seg = tp_seg(pool, s);
    if (!seg->used)
      continue;
    for (uint32_t b = seg->first; b != TP_NIL; b = tp_blk(pool, b)->next) {
      tp_block *blk = tp_blk(pool, b);
      if (blk->state == TP_BLOCK_FREE && blk->slot != TP_SLOT_READY &&
          tp_pool_slot_ready(pool, blk->slot, blk->u.f.stamp)) {
        bool indexed = blk->flags & TP_BLOCK_INDEXED;
        tp_index_remove(pool, b);
        blk->slot = TP_SLOT_READY;
        if (indexed)
          tp_index_insert(pool, b);
      }
    }
    /* Merge what may merge now: coalescing merges a block with both
     * neighbours until nothing changes, so the walk goes on after what it
     * returns. */
    for (uint32_t b = seg->first; b != TP_NIL; b = tp_blk(pool, b)->next)
      if (tp_blk(pool, b)->state == TP_BLOCK_FREE)
        b = tp_block_coalesce(pool, b);
  }
}

void tp_pool_make_all_ready(tp_pool *pool) {
  uint64_t rest = pool->used_slots & ~(uint64_t)1;
  while (rest) {
    unsigned s = (unsigned)__builtin_ctzll(rest);
    rest &= rest - 1;
    if (pool->space.ops->stream_sync(pool->space.ctx, pool->slots[s].stream) ==
        TP_SUCCESS)
      pool->slots[s].done_clock = pool->clock;
  }
  tp_pool_promote_ready(pool);
}

static void drop_slot(tp_pool *pool, unsigned s) {
  if (pool->slots[s].has_event)
    pool->space.ops->event_destroy(pool->space.ctx, pool->slots[s].event);
  pool->slots[s] = (tp_stream_slot){NULL, NULL, false, 0, 0};
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
  tp_lock_acquire(&pool->lock);
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
      pool->slots[s].done_clock = pool->clock;
      /* Its free blocks become ready (and merge) before the handle goes:
       * it must never be passed on again. */
      tp_pool_promote_ready(pool);
      drop_slot(pool, s);
      pool->stats.streams_forgotten++;
    }
  }
  if (pool->log)
    tp_event_log_write(pool->log, "forget", pool->name, NULL, 0, stream, st);
  tp_lock_release(&pool->lock);
  return st;
}
