/* Giving back the physical pages of free ranges inside segments, and taking
 * them back: a bit per page per segment says which pages are given back, so
 * the space is asked only for what changes, and the counts stay exact. The
 * dirty list holds free blocks whose pages may still be committed, newest
 * first, for the aging policy. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "pool/pool_internal.h"
#include "pool/pool_quick.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tp_dirty_push_slow(tp_pool *pool, uint32_t b) {
  tp_block *blk = tp_blk(pool, b);
  blk->aged_at = (uint32_t)pool->clock;
  uint64_t inside = tp_pages_inside(pool, blk->ptr, blk->bytes);
  if (inside < TP_PAGE_RELEASE_MIN)
    return; /* too small to be worth a call */
  blk->flags |= TP_BLOCK_DIRTY;
  blk->u.f.dprev = TP_NIL;
  blk->u.f.dnext = pool->dirty_head;
  if (pool->dirty_head != TP_NIL)
    tp_blk(pool, pool->dirty_head)->u.f.dprev = b;
  else
    pool->dirty_tail = b;
  pool->dirty_head = b;
  pool->dirty_bytes += inside;
}

void tp_dirty_unlink_slow(tp_pool *pool, uint32_t b) {
  tp_block *blk = tp_blk(pool, b);
  if (blk->u.f.dprev != TP_NIL)
    tp_blk(pool, blk->u.f.dprev)->u.f.dnext = blk->u.f.dnext;
  else
    pool->dirty_head = blk->u.f.dnext;
  if (blk->u.f.dnext != TP_NIL)
    tp_blk(pool, blk->u.f.dnext)->u.f.dprev = blk->u.f.dprev;
  else
    pool->dirty_tail = blk->u.f.dprev;
  blk->flags &= (uint8_t)~TP_BLOCK_DIRTY;
  pool->dirty_bytes -= tp_pages_inside(pool, blk->ptr, blk->bytes);
}

void tp_dirty_hand_over(tp_pool *pool, uint32_t from, uint32_t to) {
  tp_block *f = tp_blk(pool, from), *t = tp_blk(pool, to);
  uint32_t prev = f->u.f.dprev, next = f->u.f.dnext;
  t->u.f.dprev = prev;
  t->u.f.dnext = next;
  if (prev != TP_NIL)
    tp_blk(pool, prev)->u.f.dnext = to;
  else
    pool->dirty_head = to;
  if (next != TP_NIL)
    tp_blk(pool, next)->u.f.dprev = to;
  else
    pool->dirty_tail = to;
  t->aged_at = f->aged_at;
  t->flags |= TP_BLOCK_DIRTY;
  f->flags &= (uint8_t)~TP_BLOCK_DIRTY;
  /* The byte count follows the blocks' sizes, which the caller changes. */
  pool->dirty_bytes -= tp_pages_inside(pool, f->ptr, f->bytes);
  pool->dirty_bytes += tp_pages_inside(pool, t->ptr, t->bytes);
}

bool tp_pages_fit_segment(tp_pool *pool, uint32_t s) {
  if (!pool->can_decommit)
    return true;
  tp_segment *seg = tp_seg(pool, s);
  uint64_t pages = (seg->bytes + pool->page - 1) / pool->page;
  uint64_t words = (pages + 63) / 64;
  if (words > seg->page_words) {
    uint64_t *bigger = realloc(seg->pages, words * sizeof *bigger);
    if (!bigger)
      return false;
    memset(bigger + seg->page_words, 0,
           (words - seg->page_words) * sizeof *bigger);
    seg->pages = bigger;
    seg->page_words = words;
  }
  return true;
}

static bool bit(const uint64_t *bits, uint64_t i) {
  return bits[i / 64] >> (i % 64) & 1u;
}

/* Sets or clears bits [from, to), a word at a time where it can. */
static void set_bits(uint64_t *bits, uint64_t from, uint64_t to, bool on) {
  while (from < to) {
    uint64_t w = from / 64, lo = from % 64;
    uint64_t n = to - from < 64 - lo ? to - from : 64 - lo;
    uint64_t mask = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << lo;
    if (on)
      bits[w] |= mask;
    else
      bits[w] &= ~mask;
    from += n;
  }
}

/* The end of the run of pages from `i` whose bit equals `value`, below
 * `end`. Whole words are skipped at once. */
static uint64_t run_end(const uint64_t *bits, uint64_t i, uint64_t end,
                        bool value) {
  uint64_t full = value ? ~(uint64_t)0 : 0;
  while (i < end) {
    if (i % 64 == 0 && i + 64 <= end && bits[i / 64] == full) {
      i += 64;
      continue;
    }
    if (bit(bits, i) != value)
      break;
    i++;
  }
  return i;
}

void tp_pages_decommit_block(tp_pool *pool, uint32_t b) {
  tp_dirty_unlink(pool, b);
  tp_block *blk = tp_blk(pool, b);
  tp_segment *seg = tp_seg(pool, blk->seg);
  uint64_t page = pool->page;
  uint64_t inside = tp_pages_inside(pool, blk->ptr, blk->bytes);
  if (!inside || !seg->pages)
    return;
  uint64_t lo = (((uint64_t)blk->ptr + page - 1) & ~(page - 1)) - seg->base;
  uint64_t first = lo / page, end = first + inside / page;
  tp_stream stream = tp_pool_slot_stream(pool, blk->slot);
  uint64_t t0 = now_ns();
  for (uint64_t i = first; i < end;) {
    uint64_t stop = run_end(seg->pages, i, end, false);
    if (stop > i) {
      void *at = (void *)(seg->base + i * page);
      uint64_t bytes = (stop - i) * page;
      if (pool->space.ops->decommit(pool->space.ctx, at, (size_t)bytes,
                                    stream) != TP_SUCCESS)
        break; /* keep them: committed memory is still correct memory */
      set_bits(seg->pages, i, stop, true);
      pool->stats.decommitted_bytes += bytes;
      pool->stats.page_releases++;
      pool->stats.page_release_bytes += bytes;
      blk->flags |= TP_BLOCK_DECOMMITTED;
    }
    i = run_end(seg->pages, stop, end, true);
  }
  pool->stats.page_release_ns += now_ns() - t0;
}

bool tp_pages_commit_slow(tp_pool *pool, uint32_t b) {
  /* b is live but not counted yet: it is what comes in. */
  tp_pages_hold_budget(pool, tp_blk(pool, b)->bytes);
  tp_block *blk = tp_blk(pool, b);
  tp_segment *seg = tp_seg(pool, blk->seg);
  uint64_t page = pool->page;
  /* Every page the block touches, boundary pages included. */
  uint64_t first = ((uint64_t)blk->ptr - seg->base) / page;
  uint64_t end =
      ((uint64_t)blk->ptr + blk->bytes - seg->base + page - 1) / page;
  /* Timed only where the space does something (host pages need nothing:
   * they come back on first touch). */
  tp_status (*commit)(void *, void *, size_t) = pool->space.ops->commit;
  uint64_t t0 = commit ? now_ns() : 0;
  bool ok = true;
  for (uint64_t i = run_end(seg->pages, first, end, false); i < end;) {
    uint64_t stop = run_end(seg->pages, i, end, true);
    uint64_t bytes = (stop - i) * page;
    uint64_t mark = commit ? tp_error_serial() : 0;
    if (commit && commit(pool->space.ctx, (void *)(seg->base + i * page),
                         (size_t)bytes) != TP_SUCCESS) {
      /* For the out-of-memory message, if the retry fails too (the
       * caller clears it if the retry succeeds). */
      snprintf(pool->upstream_said, sizeof pool->upstream_said, "%s",
               tp_error_serial() != mark
                   ? tp_last_error()
                   : "nothing (its commit failed without a message)");
      ok = false;
      break;
    }
    set_bits(seg->pages, i, stop, false);
    pool->stats.decommitted_bytes -= bytes;
    pool->stats.page_reuse_bytes += bytes;
    i = run_end(seg->pages, stop, end, false);
  }
  if (commit)
    pool->stats.page_release_ns += now_ns() - t0;
  if (ok)
    blk->flags &= (uint8_t)~TP_BLOCK_DECOMMITTED;
  return ok;
}

/* Whether dirty block `b` is old enough to give its pages back. */
static bool is_old(const tp_pool *pool, uint32_t b) {
  uint32_t age = (uint32_t)pool->clock - pool->blocks[b].aged_at;
  bool over_budget = tp_pages_over_budget(pool, 0);
  return age >= pool->config.page_release_delay ||
         (over_budget && age >= TP_PAGE_RELEASE_SHORT);
}

void tp_pages_age_block_slow(tp_pool *pool, uint32_t b) {
  if (is_old(pool, b))
    tp_pages_decommit_block(pool, b);
}

void tp_pages_age_slow(tp_pool *pool) {
  /* A few per call, so that a burst of frees is caught up with soon. */
  for (int k = 0; k < 4 && pool->dirty_tail != TP_NIL; k++) {
    uint32_t b = pool->dirty_tail;
    if (!is_old(pool, b))
      return;
    tp_pages_decommit_block(pool, b);
  }
}

void tp_pages_hold_budget_slow(tp_pool *pool, uint64_t incoming) {
  while (pool->dirty_tail != TP_NIL && tp_pages_over_budget(pool, incoming))
    tp_pages_decommit_block(pool, pool->dirty_tail);
}

void tp_pages_decommit_all(tp_pool *pool) {
  if (!pool->can_decommit || pool->config.page_release == TP_PAGE_RELEASE_NEVER)
    return;
  tp_quick_flush_all(pool); /* merged, their pages can go too */
  for (uint32_t s = 0; s < pool->seg_cap; s++) {
    if (!tp_seg(pool, s)->used)
      continue;
    for (uint32_t b = tp_seg(pool, s)->first; b != TP_NIL;
         b = tp_blk(pool, b)->next)
      if (tp_blk(pool, b)->state == TP_BLOCK_FREE)
        tp_pages_decommit_block(pool, b);
  }
}
