/* The idealised one-arena allocator of replay_bound.h. Plain arrays and
 * linear scans: it runs once per log, off the clock. */
#include "replay_bound.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "replay_mem.h"

#define GRANULE 256u

typedef struct range {
  uint64_t at, bytes;
} range;

typedef struct arena {
  range *free; /* free ranges below top, sorted by address, never adjacent */
  size_t nfree, cap;
  uint64_t top, high_water;
} arena;

static uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

/* Smallest free range that holds `bytes`, lowest address among equals; else
 * the top of the arena. */
static uint64_t place(arena *a, uint64_t bytes) {
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < a->nfree; i++)
    if (a->free[i].bytes >= bytes &&
        (best == SIZE_MAX || a->free[i].bytes < a->free[best].bytes))
      best = i;
  if (best == SIZE_MAX) {
    uint64_t at = a->top;
    a->top += bytes;
    if (a->top > a->high_water)
      a->high_water = a->top;
    return at;
  }
  uint64_t at = a->free[best].at;
  a->free[best].at += bytes;
  a->free[best].bytes -= bytes;
  if (a->free[best].bytes == 0) {
    memmove(&a->free[best], &a->free[best + 1],
            (a->nfree - best - 1) * sizeof *a->free);
    a->nfree--;
  }
  return at;
}

static void release(arena *a, uint64_t at, uint64_t bytes) {
  size_t lo = 0, hi = a->nfree; /* first range above `at` */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (a->free[mid].at < at)
      lo = mid + 1;
    else
      hi = mid;
  }
  bool join_prev = lo > 0 && a->free[lo - 1].at + a->free[lo - 1].bytes == at;
  bool join_next = lo < a->nfree && at + bytes == a->free[lo].at;
  if (join_prev) {
    a->free[lo - 1].bytes += bytes;
    if (join_next) {
      a->free[lo - 1].bytes += a->free[lo].bytes;
      memmove(&a->free[lo], &a->free[lo + 1],
              (a->nfree - lo - 1) * sizeof *a->free);
      a->nfree--;
    }
    lo--;
  } else if (join_next) {
    a->free[lo].at = at;
    a->free[lo].bytes += bytes;
  } else {
    memmove(&a->free[lo + 1], &a->free[lo], (a->nfree - lo) * sizeof *a->free);
    a->free[lo] = (range){at, bytes};
    a->nfree++;
  }
  /* A free range that reaches the top gives it back to the arena. */
  if (a->free[lo].at + a->free[lo].bytes == a->top) {
    a->top = a->free[lo].at;
    a->nfree--; /* it was the last range */
  }
}

/* Live-block counts per page of `page` bytes, over the arena's high water. */
typedef struct pages {
  uint32_t *refs;
  uint64_t page, count, in_use, peak;
} pages;

static void pages_add(pages *p, uint64_t at, uint64_t bytes, int delta) {
  for (uint64_t i = at / p->page; i <= (at + bytes - 1) / p->page; i++) {
    if (delta > 0 && p->refs[i]++ == 0)
      p->in_use++;
    else if (delta < 0 && --p->refs[i] == 0)
      p->in_use--;
  }
  if (p->in_use > p->peak)
    p->peak = p->in_use;
}

/* One pass over the log; with `pg` (two of them), page counts as well. */
static int run(const replay_log *log, arena *a, uint64_t *at, uint64_t *sizes,
               pages *pg, uint64_t *peak_requested) {
  uint64_t requested = 0;
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *ev = &log->events[i];
    if (ev->op == REPLAY_ALLOC && ev->size > 0) {
      if (a->nfree + 1 >= a->cap)
        return -1;
      uint64_t bytes = round_up(ev->size, GRANULE);
      at[ev->slot] = place(a, bytes);
      sizes[ev->slot] = ev->size;
      requested += ev->size;
      if (requested > *peak_requested)
        *peak_requested = requested;
      for (int k = 0; pg && k < 2; k++)
        pages_add(&pg[k], at[ev->slot], ev->size, +1);
    } else if (ev->op == REPLAY_FAIL_ALLOC && ev->size > 0) {
      /* Replayed without a limit it succeeds and is freed at once (as
       * replay_run does): it counts for a moment. */
      if (a->nfree + 1 >= a->cap)
        return -1;
      uint64_t bytes = round_up(ev->size, GRANULE);
      uint64_t where = place(a, bytes);
      if (requested + ev->size > *peak_requested)
        *peak_requested = requested + ev->size;
      for (int k = 0; pg && k < 2; k++)
        pages_add(&pg[k], where, ev->size, +1);
      for (int k = 0; pg && k < 2; k++)
        pages_add(&pg[k], where, ev->size, -1);
      release(a, where, bytes);
    } else if (ev->op == REPLAY_FREE && ev->slot != REPLAY_NO_SLOT &&
               sizes[ev->slot]) {
      uint64_t bytes = round_up(sizes[ev->slot], GRANULE);
      for (int k = 0; pg && k < 2; k++)
        pages_add(&pg[k], at[ev->slot], sizes[ev->slot], -1);
      release(a, at[ev->slot], bytes);
      requested -= sizes[ev->slot];
      sizes[ev->slot] = 0;
    }
  }
  return 0;
}

int replay_bound_compute(const replay_log *log, replay_bound *out) {
  memset(out, 0, sizeof *out);
  size_t slots = log->slots ? log->slots : 1;
  arena a = {0};
  a.cap = slots + 2; /* free ranges never outnumber the blocks plus one */
  a.free = replay_mem_alloc(a.cap * sizeof *a.free);
  uint64_t *at = replay_mem_alloc(slots * sizeof *at);
  uint64_t *sizes = replay_mem_alloc(slots * sizeof *sizes);
  pages pg[2] = {{NULL, 4096, 0, 0, 0}, {NULL, (uint64_t)2 << 20, 0, 0, 0}};
  uint64_t peak = 0;
  int rc = a.free && at && sizes ? run(log, &a, at, sizes, NULL, &peak) : -1;
  uint64_t high_water = a.high_water;
  if (rc == 0 && peak > 0) {
    /* Second pass, with the arena's extent known: count pages. */
    for (int k = 0; k < 2 && rc == 0; k++) {
      pg[k].count = high_water / pg[k].page + 2;
      pg[k].refs = replay_mem_alloc(pg[k].count * sizeof *pg[k].refs);
      rc = pg[k].refs ? 0 : -1;
    }
    a.nfree = 0;
    a.top = 0;
    a.high_water = 0;
    memset(sizes, 0, slots * sizeof *sizes);
    uint64_t again = 0;
    if (rc == 0)
      rc = run(log, &a, at, sizes, pg, &again);
    if (rc == 0) {
      out->arena = (double)high_water / (double)peak;
      out->pages = (double)(pg[0].peak * pg[0].page) / (double)peak;
      out->granules = (double)(pg[1].peak * pg[1].page) / (double)peak;
    }
  }
  for (int k = 0; k < 2; k++)
    replay_mem_free(pg[k].refs, pg[k].count * sizeof *pg[k].refs);
  replay_mem_free(a.free, a.cap * sizeof *a.free);
  replay_mem_free(at, slots * sizeof *at);
  replay_mem_free(sizes, slots * sizeof *sizes);
  return rc;
}
