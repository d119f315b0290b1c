#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <string.h>

#include "block_pattern.h"
#include "pool_model_internal.h"

#define CHECK(t, cond, ...) ((cond) ? true : tp_model_fail((t), __VA_ARGS__))

/* What the model can promise about an allocation before making it. */
typedef enum expect { EXPECT_EITHER, EXPECT_SUCCESS, EXPECT_FAILURE } expect;

static bool single(const tp_model_thread *t) {
  return t->run->options.threads == 1;
}

static uint64_t enqueue(tp_model_thread *t, unsigned s) {
  t->last_seq[s] = tp_sim_enqueue(t->run->sim, t->streams[s]);
  return t->last_seq[s];
}

static unsigned any_stream(tp_model_thread *t) {
  return (unsigned)tp_rng_below(&t->rng, t->stream_count);
}

static size_t draw_size(tp_model_thread *t) {
  const tp_model_options *o = &t->run->options;
  if (o->one_class)
    return (size_t)tp_rng_range(&t->rng, 1, 256);
  if (t->class_count && tp_rng_percent(&t->rng, 10)) {
    /* Class boundaries: exactly a class size seen before, or one byte more. */
    size_t c = t->class_sizes[tp_rng_below(&t->rng, t->class_count)];
    size_t bytes = c + (size_t)tp_rng_below(&t->rng, 2);
    return bytes <= o->max_request ? bytes : c;
  }
  unsigned roll = (unsigned)tp_rng_below(&t->rng, 100);
  size_t top = roll < 60 ? 2048 : roll < 90 ? 65536 : o->max_request;
  if (top > o->max_request)
    top = o->max_request;
  return (size_t)tp_rng_range(&t->rng, 1, top);
}

typedef struct order_ctx {
  tp_model_thread *t;
  tp_stream taker;
  void *block;
  bool owed; /* a wait was owed: counted once per allocation */
} order_ctx;

/* One freed range the new block covers: if its stream has not done the
 * work queued before the free, the pool must have made the taker wait. */
static bool owed_wait(void *vctx, const tp_freed_range *r) {
  order_ctx *c = vctx;
  tp_model_thread *t = c->t;
  if (r->stream == c->taker ||
      tp_sim_completed(t->run->sim, r->stream) >= r->seq)
    return true;
  if (!c->owed)
    t->waits_owed++;
  c->owed = true;
  return CHECK(t, tp_sim_waits_for(t->run->sim, c->taker, r->stream, r->seq),
               "bytes %#" PRIxPTR "..%#" PRIxPTR ", freed on stream %p after "
               "its item %" PRIu64 " (not done), were handed to stream %p in "
               "block %p without making it wait for that item",
               r->lo, r->hi, (void *)r->stream, r->seq, (void *)c->taker,
               c->block);
}

/* After a successful alloc of `ptr` (`usable` bytes) on stream index `s`:
 * every byte of it last freed on another stream whose work up to that free
 * is not done yet makes a wait the pool owed this stream, however blocks
 * were split and merged in between. */
static bool check_ordering(tp_model_thread *t, void *ptr, size_t usable,
                           unsigned s) {
  order_ctx c = {t, t->streams[s], ptr, false};
  return tp_freed_ranges_take(&t->run->ranges, ptr, usable, owed_wait, &c);
}

static bool overlaps_own_block(tp_model_thread *t, void *ptr, size_t usable,
                               const tp_model_block **hit) {
  uintptr_t a = (uintptr_t)ptr;
  for (size_t i = 0; i < t->live_count; ++i) {
    uintptr_t b = (uintptr_t)t->live[i].ptr;
    if (a < b + t->live[i].usable && b < a + usable) {
      *hit = &t->live[i];
      return true;
    }
  }
  return false;
}

static bool step_free(tp_model_thread *t);

/* The size the pool hands out for `bytes` on `stream`: the request
 * rounded up to 256 bytes; with thread caches, on the NULL stream, above
 * 64 KiB up to 256 KiB, a block it fills to more than seven eighths
 * (pool.h); an oversize request may get a block it fills to within an
 * eighth of the block's size, or a segment rounded to pages. */
static bool usable_fits(tp_model_thread *t, size_t bytes, tp_stream stream,
                        size_t usable) {
  const tp_model_options *o = &t->run->options;
  size_t rounded = (bytes + 255) / 256 * 256;
  if (o->config.thread_cache_bytes && !stream && rounded > (64u << 10) &&
      rounded <= (256u << 10) && rounded < o->config.oversize_threshold)
    return usable >= rounded && usable % 256 == 0 &&
           usable - rounded < usable / 8;
  if (rounded < o->config.oversize_threshold)
    return usable == rounded;
  size_t page = o->vm_page ? o->vm_page : 256;
  size_t paged = (rounded + page - 1) / page * page;
  return usable >= rounded &&
         (usable - rounded <= usable / 8 || usable <= paged);
}

static bool do_alloc(tp_model_thread *t, size_t bytes, unsigned s,
                     expect expected) {
  tp_model_state *run = t->run;
  if (t->live_count >= run->options.max_live)
    return step_free(t); /* no room in the model for another block */
  size_t cls = 0, rounded = (bytes + 255) / 256 * 256;
  tp_status st = tp_pool_class_size(run->pool, bytes, &cls);
  if (!CHECK(t, st == TP_SUCCESS && cls >= bytes && cls % 256 == 0,
             "tp_pool_class_size(%zu) gave %d and %zu", bytes, (int)st, cls))
    return false;
  /* Over the limit for sure: live bytes plus this block. Below it the pool
   * may still fail (free memory between live blocks counts against the
   * limit), so success is promised only without a limit. */
  if (single(t) && t->usable_live + rounded > run->limit)
    expected = EXPECT_FAILURE;
  else if (run->limit != TP_UNLIMITED && expected == EXPECT_SUCCESS)
    expected = EXPECT_EITHER;
  void *ptr = NULL;
  st = tp_pool_alloc(run->pool, bytes, t->streams[s], &ptr);
  tp_model_trace(t, "alloc %zu on stream %u: %s %p", bytes, s,
                 tp_status_name(st), ptr);
  if (st != TP_SUCCESS) {
    t->failures++;
    return CHECK(t, st == TP_ERR_OUT_OF_MEMORY,
                 "alloc of %zu failed with %s: %s", bytes, tp_status_name(st),
                 tp_last_error()) &&
           CHECK(t, strstr(tp_last_error(), "tp_pool_alloc") != NULL,
                 "alloc failure message does not name tp_pool_alloc: '%s'",
                 tp_last_error()) &&
           CHECK(t, strstr(tp_last_error(), "largest free block") != NULL,
                 "out-of-memory message without the largest free block: '%s'",
                 tp_last_error()) &&
           CHECK(t, expected != EXPECT_SUCCESS,
                 "alloc of %zu failed with %zu live bytes, limit %zu, "
                 "upstream unbounded: %s",
                 bytes, t->usable_live, run->limit, tp_last_error());
  }
  const tp_model_block *hit = NULL;
  size_t usable = 0;
  if (!CHECK(t, expected != EXPECT_FAILURE,
             "alloc of %zu succeeded although live %zu + %zu exceeds limit "
             "%zu",
             bytes, t->usable_live, rounded, run->limit) ||
      !CHECK(t, ptr && (uintptr_t)ptr % 256 == 0,
             "alloc returned %p, not 256-byte aligned", ptr) ||
      !CHECK(t,
             tp_pool_block_size(run->pool, ptr, &usable) == TP_SUCCESS &&
                 usable_fits(t, bytes, t->streams[s], usable),
             "block_size of a fresh block of %zu bytes on stream %u is %zu",
             bytes, s, usable) ||
      !CHECK(t, !overlaps_own_block(t, ptr, usable, &hit),
             "new block %p (+%zu) overlaps live block %" PRIu64 " at %p", ptr,
             usable, hit ? hit->id : 0, hit ? hit->ptr : NULL) ||
      !CHECK(t, tp_model_block_backed(run, ptr, usable),
             "new block %p (+%zu) lies on pages given back and not committed "
             "again",
             ptr, usable) ||
      !check_ordering(t, ptr, usable, s))
    return false;
  tp_model_block b = {ptr, bytes, usable, atomic_fetch_add(&run->next_id, 1),
                      s};
  tp_pattern_fill(ptr, bytes, b.id);
  enqueue(t, s); /* the block's first use */
  t->live[t->live_count++] = b;
  t->allocations++;
  t->bytes_allocated += bytes;
  t->requested_live += bytes;
  t->usable_live += usable;
  tp_model_note_class(t, cls);
  return true;
}

static bool step_alloc(tp_model_thread *t) {
  expect e = EXPECT_EITHER;
  if (t->run->options.config.limit == TP_UNLIMITED || single(t))
    if (!t->run->capacity_bounded)
      e = EXPECT_SUCCESS; /* the limit check in do_alloc may still refuse */
  return do_alloc(t, draw_size(t), any_stream(t), e);
}

static bool step_free(tp_model_thread *t) {
  tp_model_state *run = t->run;
  size_t k = (size_t)tp_rng_below(&t->rng, t->live_count);
  tp_model_block b = t->live[k];
  size_t usable = 0;
  if (!tp_model_check_block_bytes(t, &b) ||
      !CHECK(t,
             tp_pool_block_size(run->pool, b.ptr, &usable) == TP_SUCCESS &&
                 usable == b.usable,
             "block_size of live block %" PRIu64 " is %zu, was %zu", b.id,
             usable, b.usable))
    return false;
  /* Mostly freed where it was used; sometimes its last use moved to another
   * stream, which the free then names. */
  unsigned s = tp_rng_percent(&t->rng, 80) ? b.home : any_stream(t);
  if (s != b.home || tp_rng_percent(&t->rng, 50))
    enqueue(t, s);
  if (!CHECK(t,
             tp_freed_ranges_put(&run->ranges, b.ptr, b.usable, t->streams[s],
                                 t->last_seq[s]),
             "out of host memory for the freed ranges"))
    return false;
  tp_status st = tp_pool_free(run->pool, b.ptr, t->streams[s]);
  tp_model_trace(t,
                 "free block %" PRIu64 " %p (%zu) on stream %u after item "
                 "%" PRIu64 ": %s",
                 b.id, b.ptr, b.requested, s, t->last_seq[s],
                 tp_status_name(st));
  if (st != TP_SUCCESS) {
    tp_freed_ranges_drop(&run->ranges, b.ptr);
    return tp_model_fail(t, "free of live block %" PRIu64 " failed: %s: %s",
                         b.id, tp_status_name(st), tp_last_error());
  }
  t->live[k] = t->live[--t->live_count];
  t->deallocations++;
  t->bytes_freed += b.requested;
  t->requested_live -= b.requested;
  t->usable_live -= b.usable;
  if (!single(t) || run->options.config.max_cached_bytes == TP_UNLIMITED)
    return true;
  /* The cache bound holds after a free, as far as whole free segments can
   * make it hold. (Unbounded, the statistics are not read here: reading
   * them merges what waits on the quick lists.) */
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  tp_pool_get_stats(run->pool, &stats);
  return CHECK(t,
               stats.cached_bytes <= run->options.config.max_cached_bytes ||
                   stats.free_segments == 0,
               "after a free, %" PRIu64 " bytes cached > max_cached_bytes "
               "%zu with %" PRIu64 " whole free segments kept",
               stats.cached_bytes, run->options.config.max_cached_bytes,
               stats.free_segments);
}

static bool step_complete(tp_model_thread *t) {
  tp_model_state *run = t->run;
  if (tp_rng_percent(&t->rng, 10)) {
    tp_sim_complete_all(run->sim);
    tp_model_trace(t, "complete all streams");
    return true;
  }
  unsigned s = any_stream(t);
  uint64_t done = tp_sim_completed(run->sim, t->streams[s]);
  if (t->last_seq[s] > done) {
    uint64_t seq = tp_rng_range(&t->rng, done + 1, t->last_seq[s]);
    tp_sim_complete(run->sim, t->streams[s], seq);
    tp_model_trace(t, "complete stream %u to item %" PRIu64, s, seq);
  }
  return true;
}

static bool step_trim(tp_model_thread *t) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(t->run->pool, &s);
  unsigned roll = (unsigned)tp_rng_below(&t->rng, 3);
  size_t target = roll == 0 ? 0
                  : roll == 1
                      ? s.cached_bytes / 2
                      : (size_t)tp_rng_below(&t->rng, 2 * s.cached_bytes + 1);
  tp_status st = tp_pool_trim(t->run->pool, target);
  tp_model_trace(t, "trim to %zu (cached %zu): %s", target, s.cached_bytes,
                 tp_status_name(st));
  if (!CHECK(t, st == TP_SUCCESS, "trim to %zu failed: %s", target,
             tp_last_error()))
    return false;
  if (!single(t))
    return true; /* others may cache blocks again at once */
  /* Free memory between live blocks stays; whole free segments go while
   * more than the target is cached (those of streams with pending work
   * stay too: they are not one free block yet). */
  tp_pool_get_stats(t->run->pool, &s);
  return CHECK(t, s.cached_bytes <= target || s.free_segments == 0,
               "after trim to %zu, %zu bytes are still cached, %zu of them "
               "in %zu whole free segments",
               target, s.cached_bytes, s.free_segment_bytes, s.free_segments);
}

static bool step_forget(tp_model_thread *t) {
  tp_model_state *run = t->run;
  unsigned s = any_stream(t);
  tp_status st = tp_pool_forget_stream(run->pool, t->streams[s]);
  tp_model_trace(t, "forget stream %u: %s", s, tp_status_name(st));
  t->forgets++;
  /* A stream with no cached blocks needs no wait, so completion is not
   * checked here: the ordering check at each later take covers the blocks
   * that stream freed. */
  if (!CHECK(t, st == TP_SUCCESS, "forget_stream failed: %s", tp_last_error()))
    return false;
  if (single(t) && run->options.recreate_streams && t->streams[s] &&
      tp_rng_percent(&t->rng, 50)) {
    /* The caller may now destroy the stream; a new one may get its handle. */
    tp_freed_ranges_forget_stream(&run->ranges, t->streams[s]);
    tp_sim_stream_destroy(run->sim, t->streams[s]);
    t->streams[s] = tp_sim_stream_create(run->sim);
    t->last_seq[s] = 0;
    tp_model_trace(t, "destroyed stream %u and made a new one", s);
  }
  return true;
}

static bool step_set_limit(tp_model_thread *t) {
  tp_model_state *run = t->run;
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(run->pool, &s);
  size_t max = run->options.max_request;
  unsigned roll = (unsigned)tp_rng_below(&t->rng, 4);
  size_t limit = roll == 0 ? TP_UNLIMITED
                 : roll == 1
                     ? s.live_bytes + (size_t)tp_rng_below(&t->rng, 4 * max)
                 : roll == 2 ? s.reserved_bytes
                             : s.live_bytes - (s.live_bytes > 0);
  tp_status st = tp_pool_set_limit(run->pool, limit);
  tp_model_trace(t, "set_limit %zu (live %zu, reserved %zu): %s", limit,
                 s.live_bytes, s.reserved_bytes, tp_status_name(st));
  if (limit == 0) /* as at creation: a limit that allows nothing */
    return CHECK(t, st == TP_ERR_INVALID_ARGUMENT,
                 "set_limit 0 gave %s, not invalid argument",
                 tp_status_name(st));
  if (limit < s.live_bytes)
    return CHECK(t, st == TP_ERR_OUT_OF_MEMORY,
                 "set_limit %zu below live %zu gave %s, not out of memory",
                 limit, s.live_bytes, tp_status_name(st));
  tp_pool_stats after = TP_POOL_STATS_INIT;
  tp_pool_get_stats(run->pool, &after);
  if (st == TP_ERR_OUT_OF_MEMORY)
    /* Free memory between live blocks cannot go back: refused, and the
     * limit in force stays. */
    return CHECK(t, limit < s.reserved_bytes && after.reserved_bytes > limit,
                 "set_limit %zu refused though reserved %zu (now %zu) fits: "
                 "%s",
                 limit, s.reserved_bytes, after.reserved_bytes,
                 tp_last_error());
  if (!CHECK(t, st == TP_SUCCESS, "set_limit %zu (live %zu) failed: %s", limit,
             s.live_bytes, tp_last_error()) ||
      !CHECK(t, after.reserved_bytes <= limit,
             "set_limit %zu succeeded with %zu bytes reserved", limit,
             after.reserved_bytes))
    return false;
  run->limit = limit;
  return true;
}

/* Upstream trouble: failing gets just before an alloc, or a capacity. */
static bool step_inject(tp_model_thread *t) {
  tp_model_state *run = t->run;
  if (tp_rng_percent(&t->rng, 30)) {
    tp_sim_counters c = tp_sim_get_counters(run->sim);
    run->capacity_bounded = tp_rng_percent(&t->rng, 50);
    size_t cap = run->capacity_bounded
                     ? c.bytes_out + (size_t)tp_rng_below(
                                         &t->rng, 4 * run->options.max_request)
                     : SIZE_MAX;
    tp_sim_set_capacity(run->sim, cap);
    if (run->vmm) {
      tp_sim_vmm_counters vc = tp_sim_vmm_get_counters(run->vmm);
      tp_sim_vmm_set_capacity(
          run->vmm, run->capacity_bounded ? vc.mapped_bytes + cap - c.bytes_out
                                          : SIZE_MAX);
    }
    tp_model_trace(t, "upstream capacity %zu (out %zu)", cap, c.bytes_out);
    return true;
  }
  unsigned count = (unsigned)tp_rng_range(&t->rng, 1, 3);
  tp_sim_fail_next_gets(run->sim, count);
  tp_model_trace(t, "next %u upstream gets fail", count);
  /* One failure is absorbed by the pool's single retry, which it makes
   * after releasing its cache (with nothing cached a retry could not help).
   * Promised only when the limit will not make the pool release cached
   * blocks first, which could leave nothing to release at the retry. */
  size_t bytes = draw_size(t), cls = 0;
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(run->pool, &s);
  tp_pool_class_size(run->pool, bytes, &cls);
  expect e = count == 1 && !run->capacity_bounded && s.cached_bytes > 0 &&
                     s.reserved_bytes + cls <= run->limit
                 ? EXPECT_SUCCESS
                 : EXPECT_EITHER;
  bool ok = do_alloc(t, bytes, any_stream(t), e);
  tp_sim_fail_next_gets(run->sim, 0); /* unused failures must not linger */
  return ok;
}

static bool expect_free_refused(tp_model_thread *t, void *ptr,
                                const char *what) {
  tp_status st = tp_pool_free(t->run->pool, ptr, t->streams[any_stream(t)]);
  tp_model_trace(t, "free %s %p: %s", what, ptr, tp_status_name(st));
  if (st != TP_SUCCESS)
    t->failures++;
  return CHECK(t, st == TP_ERR_INVALID_POINTER,
               "free of %s %p gave %s, not invalid pointer", what, ptr,
               tp_status_name(st)) &&
         CHECK(t, strstr(tp_last_error(), "tp_pool_free") != NULL,
               "free failure message does not name tp_pool_free: '%s'",
               tp_last_error());
}

static bool is_live_start(const tp_model_thread *t, const void *ptr) {
  for (size_t i = 0; i < t->live_count; ++i)
    if (t->live[i].ptr == ptr)
      return true;
  return false;
}

/* Wrong calls: each must fail with its status and change nothing else. */
static bool step_bad_call(tp_model_thread *t) {
  tp_model_state *run = t->run;
  tp_stream stream = t->streams[any_stream(t)];
  void *ptr = NULL;
  tp_status st;
  switch (tp_rng_below(&t->rng, 8)) {
  case 0:
    st = tp_pool_alloc(run->pool, 0, stream, &ptr);
    tp_model_trace(t, "alloc 0 bytes: %s", tp_status_name(st));
    t->failures += st != TP_SUCCESS;
    return CHECK(t, st == TP_ERR_INVALID_ARGUMENT, "alloc of 0 bytes gave %s",
                 tp_status_name(st));
  case 1: {
    /* Sizes no class can hold: refused before anything is asked upstream. */
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 255, SIZE_MAX / 2 + 2};
    size_t bytes = huge[tp_rng_below(&t->rng, 3)];
    st = tp_pool_alloc(run->pool, bytes, stream, &ptr);
    tp_model_trace(t, "alloc %zu bytes: %s", bytes, tp_status_name(st));
    t->failures += st != TP_SUCCESS;
    return CHECK(t, st == TP_ERR_OUT_OF_MEMORY || st == TP_ERR_OVERFLOW,
                 "alloc of %zu bytes gave %s", bytes, tp_status_name(st));
  }
  case 7: {
    /* 64 TiB: a valid class that the limit, or upstream, must refuse. The
     * sim's upstream is bounded for the call so that no real host allocator
     * (which a sanitizer may abort in) is asked for it. */
    size_t bytes = (size_t)1 << 46;
    bool bound = single(t) && !run->capacity_bounded;
    if (!bound && run->limit >= bytes)
      return true;
    if (bound)
      tp_sim_set_capacity(run->sim, tp_sim_get_counters(run->sim).bytes_out +
                                        ((size_t)1 << 30));
    st = tp_pool_alloc(run->pool, bytes, stream, &ptr);
    if (bound)
      tp_sim_set_capacity(run->sim, SIZE_MAX);
    tp_model_trace(t, "alloc %zu bytes: %s", bytes, tp_status_name(st));
    t->failures += st != TP_SUCCESS;
    return CHECK(t, st == TP_ERR_OUT_OF_MEMORY, "alloc of %zu bytes gave %s",
                 bytes, tp_status_name(st));
  }
  case 2:
    return expect_free_refused(t, run->foreign + 256 * tp_rng_below(&t->rng, 8),
                               "foreign pointer");
  case 3: {
    if (!t->live_count)
      return true;
    const tp_model_block *b = &t->live[tp_rng_below(&t->rng, t->live_count)];
    size_t offset = (size_t)tp_rng_range(&t->rng, 1, b->usable - 1);
    size_t usable = 0;
    return expect_free_refused(t, (char *)b->ptr + offset,
                               "interior pointer") &&
           CHECK(t,
                 tp_pool_block_size(run->pool, b->ptr, &usable) == TP_SUCCESS &&
                     usable == b->usable,
                 "block %" PRIu64 " changed after a refused interior free",
                 b->id) &&
           tp_model_check_block_bytes(t, b);
  }
  case 4: {
    /* Double free: an address freed before that is not a live block now.
     * Only with one thread: elsewhere another thread may own it again. */
    if (!single(t) || !t->live_count)
      return true;
    void *freed = t->live[tp_rng_below(&t->rng, t->live_count)].ptr;
    if (!step_free(t))
      return false;
    return is_live_start(t, freed) ||
           expect_free_refused(t, freed, "freed pointer");
  }
  case 5:
    st = tp_pool_free(run->pool, NULL, stream);
    tp_model_trace(t, "free NULL: %s", tp_status_name(st));
    return CHECK(t, st == TP_SUCCESS, "free(NULL) gave %s", tp_status_name(st));
  default: {
    size_t usable = 0;
    st = tp_pool_block_size(run->pool, run->foreign, &usable);
    tp_model_trace(t, "block_size of a foreign pointer: %s",
                   tp_status_name(st));
    return CHECK(t, st == TP_ERR_INVALID_POINTER,
                 "block_size of a foreign pointer gave %s", tp_status_name(st));
  }
  }
}

static bool step_reset_peaks(tp_model_thread *t) {
  tp_status st = tp_pool_reset_peaks(t->run->pool);
  tp_model_trace(t, "reset peaks: %s", tp_status_name(st));
  memset(&t->run->previous, 0, sizeof t->run->previous);
  return CHECK(t, st == TP_SUCCESS, "reset_peaks failed: %s", tp_last_error());
}

bool tp_model_step(tp_model_thread *t) {
  const tp_model_options *o = &t->run->options;
  t->step++;
  unsigned roll = (unsigned)tp_rng_below(&t->rng, 100);
  if (t->live_count >= o->max_live && roll < 40)
    roll += 40; /* full: free instead */
  if (roll < 40 || (t->live_count == 0 && roll < 75))
    return step_alloc(t);
  if (roll < 75)
    return step_free(t);
  if (roll < 80) {
    unsigned s = any_stream(t);
    tp_model_trace(t, "work on stream %u: item %" PRIu64, s, enqueue(t, s));
    return true;
  }
  if (roll < 87)
    return step_complete(t);
  if (roll < 89)
    return step_trim(t);
  if (roll < 91)
    return step_forget(t);
  if (roll < 93)
    return o->vary_limit && single(t) ? step_set_limit(t) : true;
  if (roll < 95)
    return o->inject_failures && single(t) ? step_inject(t) : true;
  if (roll < 99)
    return step_bad_call(t);
  if (single(t) && tp_rng_percent(&t->rng, 50))
    return step_reset_peaks(t);
  if (!t->live_count)
    return true;
  return tp_model_check_block_bytes(
      t, &t->live[tp_rng_below(&t->rng, t->live_count)]);
}

bool tp_model_free_all(tp_model_thread *t) {
  while (t->live_count)
    if (!step_free(t))
      return false;
  return true;
}
