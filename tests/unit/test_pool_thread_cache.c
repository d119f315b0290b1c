/* The pool's thread caches, as a user sees them: freed small blocks come
 * back to the thread that freed them, the statistics and the limits count
 * what the caches hold, trim, set_limit, destroy and thread exit give it
 * back, frees on other threads and double frees are handled, and
 * thread_cache_bytes = 0 is the engine alone. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/pool.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static tp_pool *pool_with(size_t thread_cache_bytes, size_t limit) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = thread_cache_bytes;
  config.limit = limit;
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS,
               "%s", tp_last_error());
  return pool;
}

static tp_pool_stats stats_of(tp_pool *pool) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  return s;
}

Test(thread_cache, the_default_is_off_and_one_mebibyte_turns_it_on) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  cr_expect_eq(config.thread_cache_bytes, 0);
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &pool), TP_SUCCESS);
  uint64_t v = 1;
  cr_assert_eq(tp_pool_get_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, &v),
               TP_SUCCESS);
  cr_expect_eq(v, 0);
  /* Off, a freed block is the engine's at once. */
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_blocks, 0);
  cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                                     TP_POOL_THREAD_CACHE_DEFAULT),
               TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_expect_gt(stats_of(pool).thread_cached_blocks, 0, "on: parked");
  cr_expect_eq(TP_POOL_THREAD_CACHE_DEFAULT, MiB);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, a_freed_block_comes_back_to_its_thread) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 1024, NULL, &b), TP_SUCCESS);
  cr_expect_eq(a, b, "1000 and 1024 bytes round to the same 1024");
  size_t usable = 0;
  cr_assert_eq(tp_pool_block_size(pool, b, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 1024);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.hits, 1);
  cr_expect_eq(s.misses, 1);
  cr_expect_eq(s.upstream_gets, 1);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* Above 64 KiB a thread's cache holds eight sizes per power of two up to
 * 256 KiB (pool.h): a request gets its size's block, a little larger than
 * the request rounded, which comes back for any request of that size. */
Test(thread_cache, blocks_up_to_256_kib_come_back_in_eight_sizes_per_octave) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *a, *b;
  size_t usable = 0;
  cr_assert_eq(tp_pool_alloc(pool, 64 * KiB + 1, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, a, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 72 * KiB, "64 KiB + 1 gets the 72 KiB size");
  memset(a, 0xab, 64 * KiB + 1);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.requested_bytes, 64 * KiB + 1);
  cr_expect_eq(s.live_bytes, 72 * KiB);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_bytes, 72 * KiB);
  cr_assert_eq(tp_pool_alloc(pool, 70 * KiB, NULL, &b), TP_SUCCESS);
  cr_expect_eq(a, b, "70 KiB is of the same size: the parked block");
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  /* The top size, exactly, and one past it (the engine's, exact). */
  cr_assert_eq(tp_pool_alloc(pool, 256 * KiB, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, a, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 256 * KiB);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 256 * KiB + 1, NULL, &b), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, b, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 256 * KiB + 256, "above 256 KiB: the engine's size");
  s = stats_of(pool);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_bytes, s.thread_cached_bytes,
               "not parked");
  /* Every size in between fills its block to more than seven eighths. */
  for (size_t bytes = 64 * KiB + 1; bytes <= 256 * KiB; bytes += 997) {
    cr_assert_eq(tp_pool_alloc(pool, bytes, NULL, &a), TP_SUCCESS);
    cr_assert_eq(tp_pool_block_size(pool, a, &usable), TP_SUCCESS);
    cr_expect(usable >= bytes && usable - bytes < usable / 8,
              "%zu bytes got a block of %zu", bytes, usable);
    cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  }
  /* On a stream the engine serves it, at the request's own size. */
  tp_stream stream = (tp_stream)(uintptr_t)0x5;
  cr_assert_eq(tp_pool_alloc(pool, 64 * KiB + 1, stream, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, a, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 64 * KiB + 256);
  cr_assert_eq(tp_pool_free(pool, a, stream), TP_SUCCESS);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.reserved_bytes, 0, "trim gives every parked block back");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A size whose cache block would be larger than the budget, or oversize,
 * is the engine's, at the request's own size: the cache never hands out a
 * block it could not park. */
Test(thread_cache, sizes_the_cache_cannot_park_get_the_engines_size) {
  tp_pool *pool = pool_with(64 * KiB, TP_UNLIMITED);
  void *p;
  size_t usable = 0;
  cr_assert_eq(tp_pool_alloc(pool, 64 * KiB + 1, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, p, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 64 * KiB + 256, "not the 72 KiB cache size");
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_assert_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, MiB),
      TP_SUCCESS);
  cr_assert_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_OVERSIZE_THRESHOLD, 100 * KiB),
      TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 97 * KiB, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, p, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 97 * KiB, "below the threshold; its cache size is not");
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

static void park(tp_pool *pool, int count, size_t bytes);

/* A lower oversize threshold takes back the parked blocks it makes
 * oversize. */
Test(thread_cache, a_lower_oversize_threshold_takes_larger_blocks_back) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  park(pool, 2, 128 * KiB);
  park(pool, 2, 4 * KiB);
  void *held;
  cr_assert_eq(tp_pool_alloc(pool, 100000, NULL, &held), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_assert_geq(s.thread_cached_bytes, 128 * KiB);
  cr_assert_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_OVERSIZE_THRESHOLD, 64 * KiB),
      TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_gt(s.thread_cached_bytes, 0, "4 KiB blocks stay");
  cr_expect_lt(s.thread_cached_bytes, 64 * KiB, "128 KiB ones go");
  /* One handed out before is not parked at its free either. */
  cr_assert_eq(tp_pool_free(pool, held, NULL), TP_SUCCESS);
  cr_expect_lt(stats_of(pool).thread_cached_bytes, 64 * KiB);
  void *p;
  size_t usable = 0;
  cr_assert_eq(tp_pool_alloc(pool, 128 * KiB, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_block_size(pool, p, &usable), TP_SUCCESS);
  cr_expect_geq(usable, 128 * KiB);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_expect_lt(stats_of(pool).thread_cached_bytes, 64 * KiB,
               "an oversize block is never parked");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* The live peak never reads below what callers held: after a reset (by
 * either call), blocks the cache hands out again without the engine still
 * count. It restarts from the engine's live bytes, parked blocks included
 * (design.md). */
static void live_peak_after_reset(bool by_attribute) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  enum { N = 6 };
  void *p[N];
  size_t held = 0;
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_alloc(pool, (size_t)(i + 1) * 8 * KiB, NULL, &p[i]),
                 TP_SUCCESS);
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_assert_gt(s.thread_cached_bytes, 0);
  if (by_attribute)
    cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK, 0),
                 TP_SUCCESS);
  else
    cr_assert_eq(tp_pool_reset_peaks(pool), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.live_bytes_peak, s.live_bytes + s.thread_cached_bytes);
  /* The parked blocks back to the caller, then all but one freed. */
  for (int i = 0; i < N; i++) {
    cr_assert_eq(tp_pool_alloc(pool, (size_t)(i + 1) * 8 * KiB, NULL, &p[i]),
                 TP_SUCCESS);
    held += (size_t)(i + 1) * 8 * KiB;
  }
  for (int i = 1; i < N; i++)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_geq(s.live_bytes_peak, held, "peak %" PRIu64 " below %zu held",
                s.live_bytes_peak, held);
  uint64_t v = 0;
  cr_assert_eq(tp_pool_get_attribute(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK, &v),
               TP_SUCCESS);
  cr_expect_geq(v, held);
  cr_assert_eq(tp_pool_free(pool, p[0], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, the_live_peak_never_reads_below_what_callers_held) {
  live_peak_after_reset(false);
  live_peak_after_reset(true);
}

/* A block larger than all a thread may park is the engine's at its free:
 * the cache never holds more than thread_cache_bytes. */
Test(thread_cache, a_block_above_the_budget_is_never_parked) {
  tp_pool *pool = pool_with(32 * KiB, TP_UNLIMITED);
  void *small, *big;
  cr_assert_eq(tp_pool_alloc(pool, 8 * KiB, NULL, &small), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 48 * KiB, NULL, &big), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, small, NULL), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_bytes, 8 * KiB);
  cr_assert_eq(tp_pool_free(pool, big, NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_leq(s.thread_cached_bytes, 32 * KiB, "parked %" PRIu64 " bytes",
                s.thread_cached_bytes);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, 2);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

static void alloc_n(tp_pool *pool, size_t bytes, int n, void **out) {
  for (int i = 0; i < n; i++)
    cr_assert_eq(tp_pool_alloc(pool, bytes, NULL, &out[i]), TP_SUCCESS);
}

static void free_n(tp_pool *pool, int n, void **blocks) {
  for (int i = 0; i < n; i++)
    cr_assert_eq(tp_pool_free(pool, blocks[i], NULL), TP_SUCCESS);
}

/* Under a 64 KiB budget: four 16 KiB blocks parked (the whole budget),
 * then three of them taken back into a[0..2], so that one stays parked
 * and the size's share is mostly unused. */
static tp_pool *a_mostly_unused_share(void *a[3]) {
  tp_pool *pool = pool_with(64 * KiB, TP_UNLIMITED);
  void *p[4];
  alloc_n(pool, 16 * KiB, 4, p);
  free_n(pool, 4, p);
  cr_assert_eq(stats_of(pool).thread_cached_bytes, 64 * KiB);
  alloc_n(pool, 16 * KiB, 3, a);
  cr_assert_eq(stats_of(pool).thread_cached_bytes, 16 * KiB);
  return pool;
}

/* A free whose block fits the budget with what the thread has parked is
 * parked, and takes nothing else back: each size holds a share of the
 * budget (design.md), and a size that needs one takes the shares others
 * leave unused, not their parked blocks. Here four 16 KiB blocks were
 * parked (the whole budget) and three went back out to the caller, so
 * their shares are unused when an 8 KiB block is freed. */
Test(thread_cache, a_free_within_the_budget_takes_no_parked_block_back) {
  void *a[3], *b;
  tp_pool *pool = a_mostly_unused_share(a);
  cr_assert_eq(tp_pool_alloc(pool, 8 * KiB, NULL, &b), TP_SUCCESS);
  uint64_t before = stats_of(pool).thread_cached_bytes;
  cr_assert_eq(before, 16 * KiB, "one 16 KiB block still parked");
  cr_assert_leq(before + 8 * KiB, 64 * KiB);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.thread_cached_bytes, before + 8 * KiB,
               "parked %" PRIu64 " bytes, before the free %" PRIu64,
               s.thread_cached_bytes, before);
  free_n(pool, 3, a);
  s = stats_of(pool);
  cr_expect_leq(s.thread_cached_bytes, 64 * KiB);
  cr_expect_eq(s.live_blocks, 0);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* design.md: "a thread over its budget gives back everything", a full
 * size of one that is not its older half: nine 4 KiB frees under a 32 KiB
 * budget park eight (32 KiB), and the ninth, over the budget, gives them
 * all back and parks alone. */
Test(thread_cache, a_free_over_the_budget_gives_everything_back) {
  tp_pool *pool = pool_with(32 * KiB, TP_UNLIMITED);
  void *p[9];
  alloc_n(pool, 4 * KiB, 9, p);
  free_n(pool, 8, p);
  cr_assert_eq(stats_of(pool).thread_cached_bytes, 32 * KiB);
  cr_assert_eq(tp_pool_free(pool, p[8], NULL), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_bytes, 4 * KiB);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A lower budget takes back parked blocks only where they exceed it: the
 * shares a size leaves unused are not parked blocks. */
Test(thread_cache, a_lower_budget_keeps_what_still_fits) {
  void *a[3];
  tp_pool *pool = a_mostly_unused_share(a);
  cr_assert_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 32 * KiB),
      TP_SUCCESS);
  cr_expect_eq(stats_of(pool).thread_cached_bytes, 16 * KiB);
  free_n(pool, 3, a);
  cr_expect_leq(stats_of(pool).thread_cached_bytes, 32 * KiB);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, statistics_count_parked_blocks_as_cached) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  enum { N = 20 };
  void *p[N];
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_alloc(pool, 300 + (size_t)i * 1000, NULL, &p[i]),
                 TP_SUCCESS);
  uint64_t live = 0, requested = 0;
  for (int i = 0; i < N; i++) {
    requested += 300 + (size_t)i * 1000;
    live += (300 + (size_t)i * 1000 + 255) / 256 * 256;
  }
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.allocations, N);
  cr_expect_eq(s.live_blocks, N);
  cr_expect_eq(s.live_bytes, live);
  cr_expect_eq(s.requested_bytes, requested);
  cr_expect_eq(s.bytes_allocated, requested);
  cr_expect_eq(s.hits + s.misses, N);
  for (int i = 0; i < N; i += 2)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
  uint64_t freed = 0, freed_usable = 0;
  for (int i = 0; i < N; i += 2) {
    freed += 300 + (size_t)i * 1000;
    freed_usable += (300 + (size_t)i * 1000 + 255) / 256 * 256;
  }
  tp_pool_stats t = stats_of(pool);
  cr_expect_eq(t.deallocations, N / 2);
  cr_expect_eq(t.bytes_freed, freed);
  cr_expect_eq(t.live_blocks, N / 2);
  cr_expect_eq(t.live_bytes, live - freed_usable);
  cr_expect_eq(t.requested_bytes, requested - freed);
  cr_expect_eq(t.cached_bytes, s.cached_bytes + freed_usable,
               "freed blocks are cached, parked or not");
  cr_expect_eq(t.thread_cached_blocks, s.thread_cached_blocks + N / 2);
  cr_expect_eq(t.thread_cached_bytes, s.thread_cached_bytes + freed_usable);
  cr_expect_eq(t.reserved_bytes, s.reserved_bytes);
  cr_expect_eq(t.reserved_bytes, t.live_bytes + t.cached_bytes);
  uint64_t attr = 0;
  tp_pool_get_attribute(pool, TP_POOL_ATTR_LIVE_BYTES, &attr);
  cr_expect_eq(attr, t.live_bytes);
  tp_pool_get_attribute(pool, TP_POOL_ATTR_CACHED_BYTES, &attr);
  cr_expect_eq(attr, t.cached_bytes);
  cr_expect_geq(t.largest_free_block, 18 * KiB,
                "a parked block is free memory");
  for (int i = 1; i < N; i += 2)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS, "parked blocks are no leak");
}

Test(thread_cache, double_free_and_foreign_pointers_are_refused) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *a;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, a, NULL), TP_ERR_INVALID_POINTER);
  cr_expect(strstr(tp_last_error(), "double free") != NULL, "%s",
            tp_last_error());
  size_t usable = 0;
  cr_expect_eq(tp_pool_block_size(pool, a, &usable), TP_ERR_INVALID_POINTER,
               "a parked block is not live");
  int local = 0;
  cr_expect_eq(tp_pool_free(pool, &local, NULL), TP_ERR_INVALID_POINTER);
  cr_expect(strstr(tp_last_error(), "was not allocated by this pool") != NULL,
            "%s", tp_last_error());
  void *b;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &b), TP_SUCCESS);
  cr_expect_eq(b, a);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 1, "the double free handed nothing out twice");
  cr_expect_eq(s.failures, 2);
  void *c;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &c), TP_SUCCESS);
  cr_expect_neq(c, b);
  tp_pool_free(pool, b, NULL);
  tp_pool_free(pool, c, NULL);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* ---- other threads ---- */

typedef struct job {
  tp_pool *pool;
  void *blocks[16];
  int count;
  size_t bytes;
  tp_status status;
} job;

static void *alloc_then_exit(void *arg) {
  job *j = arg;
  for (int i = 0; i < j->count; i++)
    j->status |= tp_pool_alloc(j->pool, j->bytes, NULL, &j->blocks[i]);
  return NULL;
}

static void *free_then_exit(void *arg) {
  job *j = arg;
  for (int i = 0; i < j->count; i++)
    j->status |= tp_pool_free(j->pool, j->blocks[i], NULL);
  return NULL;
}

static void *churn_then_exit(void *arg) {
  job *j = arg;
  alloc_then_exit(j);
  free_then_exit(j);
  return NULL;
}

static void run(void *(*fn)(void *), job *j) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, fn, j), 0);
  pthread_join(t, NULL);
  cr_assert_eq(j->status, TP_SUCCESS, "%s", tp_last_error());
}

Test(thread_cache, a_thread_that_exits_gives_its_cache_back) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  job j = {pool, {0}, 16, 2048, TP_SUCCESS};
  run(churn_then_exit, &j);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.allocations, 16);
  cr_expect_eq(s.deallocations, 16);
  cr_expect_eq(s.cached_blocks, 1, "all merged again in the engine");
  cr_expect_eq(s.free_segments, 1);
  cr_expect_eq(s.largest_free_block, s.reserved_bytes);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, a_block_freed_on_another_thread_is_freed_once) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  job j = {pool, {0}, 16, 512, TP_SUCCESS};
  /* Allocated here (this thread's cache hands them out), freed there. */
  for (int i = 0; i < j.count; i++)
    cr_assert_eq(tp_pool_alloc(pool, j.bytes, NULL, &j.blocks[i]), TP_SUCCESS);
  run(free_then_exit, &j);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, 16);
  cr_expect_eq(s.requested_bytes, 0);
  /* Freed again on the thread that allocated it: a double free. */
  cr_expect_eq(tp_pool_free(pool, j.blocks[3], NULL), TP_ERR_INVALID_POINTER);
  cr_expect(strstr(tp_last_error(), "double free") != NULL ||
                strstr(tp_last_error(), "freed block") != NULL,
            "%s", tp_last_error());
  /* Every block is handed out once: 17 allocations, 17 distinct blocks. */
  void *again[17];
  for (int i = 0; i < 17; i++)
    cr_assert_eq(tp_pool_alloc(pool, 512, NULL, &again[i]), TP_SUCCESS);
  for (int i = 0; i < 17; i++)
    for (int k = 0; k < i; k++)
      cr_assert_neq(again[i], again[k]);
  for (int i = 0; i < 17; i++)
    cr_assert_eq(tp_pool_free(pool, again[i], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A free on another thread waits in the allocating thread's cache until
 * that thread next takes the pool's lock: until then the block must
 * already count as freed, and a second free of it must be refused. */
Test(thread_cache, a_second_free_after_one_on_another_thread_is_refused) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  job j = {pool, {0}, 4, 512, TP_SUCCESS};
  for (int i = 0; i < j.count; i++)
    cr_assert_eq(tp_pool_alloc(pool, j.bytes, NULL, &j.blocks[i]), TP_SUCCESS);
  run(free_then_exit, &j);
  /* No statistics read in between: nothing else took the frees back. */
  size_t usable = 0;
  cr_expect_eq(tp_pool_block_size(pool, j.blocks[0], &usable),
               TP_ERR_INVALID_POINTER, "a block freed elsewhere is not live");
  cr_expect_eq(tp_pool_free(pool, j.blocks[1], NULL), TP_ERR_INVALID_POINTER,
               "freed on another thread, then on the allocating one");
  cr_expect(strstr(tp_last_error(), "double free") != NULL, "%s",
            tp_last_error());
  job again = {pool, {j.blocks[2]}, 1, 512, TP_SUCCESS};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_then_exit, &again), 0);
  pthread_join(t, NULL);
  cr_expect_eq(again.status, TP_ERR_INVALID_POINTER,
               "freed twice on other threads");
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, 4);
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.failures, 2);
  /* Each block once: four new allocations of the size are distinct. */
  void *next[4];
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(tp_pool_alloc(pool, 512, NULL, &next[i]), TP_SUCCESS);
    for (int k = 0; k < i; k++)
      cr_assert_neq(next[i], next[k]);
  }
  for (int i = 0; i < 4; i++)
    cr_assert_eq(tp_pool_free(pool, next[i], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* The same with the allocating thread's bin of that size full: its cache
 * refuses the block itself, by the cell's state, and does not leave the
 * decision to a later look-up under the lock (by then the block could be
 * free in the pool and handed out again). */
Test(thread_cache, a_second_free_with_a_full_bin_is_refused) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *blocks[9];
  for (int i = 0; i < 9; i++)
    cr_assert_eq(tp_pool_alloc(pool, 512, NULL, &blocks[i]), TP_SUCCESS);
  for (int i = 0; i < 8; i++) /* the bin of 512 B holds 8 */
    cr_assert_eq(tp_pool_free(pool, blocks[i], NULL), TP_SUCCESS);
  job j = {pool, {blocks[8]}, 1, 512, TP_SUCCESS};
  run(free_then_exit, &j);
  cr_expect_eq(tp_pool_free(pool, blocks[8], NULL), TP_ERR_INVALID_POINTER);
  cr_expect(strstr(tp_last_error(), "already freed on another thread"), "%s",
            tp_last_error());
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, 9);
  cr_expect_eq(s.failures, 1);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

typedef struct many {
  tp_pool *pool;
  void **blocks;
  int count;
  tp_stream stream;
  tp_status status;
} many;

static void *free_many(void *arg) {
  many *m = arg;
  for (int i = 0; i < m->count; i++)
    m->status |= tp_pool_free(m->pool, m->blocks[i], m->stream);
  return NULL;
}

/* More frees from another thread than the allocating thread's cache holds
 * for it (by count, by bytes, and on a stream, which never waits there):
 * each is still freed exactly once, while the allocating thread is idle,
 * and the allocating thread's cache serves it again afterwards. */
static void free_elsewhere(size_t bytes, int count, tp_stream stream) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *blocks[400];
  cr_assert(count <= 400);
  for (int i = 0; i < count; i++)
    cr_assert_eq(tp_pool_alloc(pool, bytes, NULL, &blocks[i]), TP_SUCCESS);
  uint64_t parked = stats_of(pool).thread_cached_blocks;
  many m = {pool, blocks, count, stream, TP_SUCCESS};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_many, &m), 0);
  pthread_join(t, NULL);
  cr_assert_eq(m.status, TP_SUCCESS, "%s", tp_last_error());
  /* No statistics read in between (a read restarts every cache): the
   * cache, stopped for the frees, must run again by itself, and park a
   * block of a size it never held. */
  void *again;
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(tp_pool_alloc(pool, 768, NULL, &again), TP_SUCCESS);
    cr_assert_eq(tp_pool_free(pool, again, NULL), TP_SUCCESS);
  }
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.thread_cached_blocks, parked + 1,
               "%" PRIu64 " parked, %" PRIu64 " before the frees",
               s.thread_cached_blocks, parked);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, (uint64_t)count + 2);
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.failures, 0);
  for (int i = 0; i < count; i++)
    cr_expect_eq(tp_pool_free(pool, blocks[i], NULL), TP_ERR_INVALID_POINTER);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.reserved_bytes, 0, "everything merged and given back");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* Statistics read as if every free had merged at once, frees on other
 * threads included: reading them twice gives the same figures. */
Test(thread_cache, statistics_merge_frees_from_other_threads) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *blocks[8];
  for (int i = 0; i < 8; i++)
    cr_assert_eq(tp_pool_alloc(pool, 4 * KiB, NULL, &blocks[i]), TP_SUCCESS);
  many m = {pool, blocks, 8, NULL, TP_SUCCESS};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_many, &m), 0);
  pthread_join(t, NULL);
  cr_assert_eq(m.status, TP_SUCCESS, "%s", tp_last_error());
  tp_pool_stats first = stats_of(pool), second = stats_of(pool);
  cr_expect_eq(first.live_blocks, 0);
  cr_expect_eq(first.cached_blocks, 1, "all eight merged into one");
  cr_expect_eq(first.free_segments, 1);
  cr_expect_eq(first.largest_free_block, first.reserved_bytes);
  cr_expect_eq(second.cached_blocks, first.cached_blocks);
  cr_expect_eq(second.largest_free_block, first.largest_free_block);
  cr_expect_eq(second.free_segments, first.free_segments);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, many_frees_on_another_thread_by_count) {
  free_elsewhere(256, 400, NULL);
}

Test(thread_cache, many_frees_on_another_thread_by_bytes) {
  free_elsewhere(256 * KiB, 80, NULL); /* 20 MiB: over 16 budgets */
}

/* Blocks freed on another thread serve the allocating thread's next
 * requests of their size, with no new memory. */
Test(thread_cache, blocks_freed_elsewhere_come_back_to_their_thread) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *blocks[3], *back[3];
  for (int i = 0; i < 3; i++)
    cr_assert_eq(tp_pool_alloc(pool, 4 * KiB, NULL, &blocks[i]), TP_SUCCESS);
  tp_pool_stats before = stats_of(pool);
  many m = {pool, blocks, 3, NULL, TP_SUCCESS};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_many, &m), 0);
  pthread_join(t, NULL);
  cr_assert_eq(m.status, TP_SUCCESS, "%s", tp_last_error());
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(tp_pool_alloc(pool, 4 * KiB, NULL, &back[i]), TP_SUCCESS);
    bool found = false;
    for (int j = 0; j < 3; j++)
      found |= back[i] == blocks[j];
    cr_expect(found, "allocation %d got %p, none of the blocks freed", i,
              back[i]);
  }
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.upstream_gets, before.upstream_gets);
  cr_expect_eq(s.live_blocks, 3);
  cr_expect_eq(s.deallocations, 3);
  cr_expect_eq(s.requested_bytes, 12 * KiB);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(tp_pool_free(pool, back[i], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, frees_on_another_thread_and_stream) {
  free_elsewhere(1024, 24, (tp_stream)0x10);
}

Test(thread_cache, blocks_of_an_exited_thread_are_freed_elsewhere) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  job j = {pool, {0}, 16, 8192, TP_SUCCESS};
  run(alloc_then_exit, &j);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 16);
  cr_expect_eq(s.live_bytes, 16 * 8192);
  for (int i = 0; i < j.count; i++)
    cr_assert_eq(tp_pool_free(pool, j.blocks[i], NULL), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, 16);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A thread keeps a note of each block its cache handed out, until it
 * frees it. When that block is freed elsewhere, goes back to the engine
 * and is handed out again by another thread's cache (with a park and a
 * hand-out in between), the first thread's old note must no longer match
 * the block: a free of it there goes to the engine, never into the first
 * thread's cache, which does not own it. The cell's generation tells the
 * two hand-outs apart. */
static void *alloc_free_alloc_then_exit(void *arg) {
  job *j = arg;
  j->status |= tp_pool_alloc(j->pool, j->bytes, NULL, &j->blocks[0]);
  j->status |= tp_pool_free(j->pool, j->blocks[0], NULL);
  j->status |= tp_pool_alloc(j->pool, j->bytes, NULL, &j->blocks[1]);
  return NULL;
}

Test(thread_cache, an_old_note_does_not_match_a_later_hand_out_elsewhere) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *x = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 64, NULL, &x), TP_SUCCESS);
  /* Freed on another thread: queued for this thread's cache, then given
   * to the engine by the statistics' stop (the queue is taken back there,
   * not parked). */
  job freer = {pool, {x}, 1, 64, TP_SUCCESS};
  run(free_then_exit, &freer);
  tp_pool_stats s = stats_of(pool);
  cr_assert_eq(s.live_blocks, 0);
  cr_assert_eq(s.thread_cached_blocks, 0);
  /* A third thread's cache takes it from the engine, parks it and hands
   * it out again; that thread then passes it here. */
  job other = {pool, {0}, 0, 64, TP_SUCCESS};
  run(alloc_free_alloc_then_exit, &other);
  cr_assert_eq(other.blocks[0], x, "set-up: the engine hands the block back");
  cr_assert_eq(other.blocks[1], x, "set-up: the cache hands the block back");
  cr_assert_eq(tp_pool_free(pool, x, NULL), TP_SUCCESS, "%s", tp_last_error());
  s = stats_of(pool);
  cr_expect_eq(s.thread_cached_blocks, 0,
               "the block went to this thread's cache, which did not hand "
               "it out last");
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.allocations, 3);
  cr_expect_eq(s.deallocations, 3);
  cr_expect_eq(s.requested_bytes, 0);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A cache keeps 1024 notes: a thread holding more blocks than that (3000
 * small ones here, whatever their addresses, and 256 KiB ones among them)
 * has notes overwritten. Each such block's free goes through the engine:
 * it must still succeed, count, and refuse a second free. */
Test(thread_cache, blocks_whose_notes_were_overwritten_are_freed_once) {
  enum { SMALL = 3000, LARGE = 24 };
  tp_pool *pool = pool_with(8 * MiB, TP_UNLIMITED);
  static void *p[SMALL + LARGE];
  for (int i = 0; i < SMALL; i++)
    cr_assert_eq(tp_pool_alloc(pool, 64 + (size_t)(i % 3) * 256, NULL, &p[i]),
                 TP_SUCCESS);
  for (int i = SMALL; i < SMALL + LARGE; i++)
    cr_assert_eq(tp_pool_alloc(pool, 256 * KiB, NULL, &p[i]), TP_SUCCESS);
  /* Every other one from the end, then the rest from the start: frees in
   * an order unlike the hand-outs'. */
  for (int i = SMALL + LARGE - 1; i >= 0; i -= 2)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS, "block %d: %s", i,
                 tp_last_error());
  for (int i = (SMALL + LARGE) % 2; i < SMALL + LARGE; i += 2)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS, "block %d: %s", i,
                 tp_last_error());
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.allocations, SMALL + LARGE);
  cr_expect_eq(s.deallocations, SMALL + LARGE);
  cr_expect_eq(s.failures, 0);
  for (int i = 0; i < SMALL + LARGE; i += 97) {
    cr_expect_eq(tp_pool_free(pool, p[i], NULL), TP_ERR_INVALID_POINTER,
                 "block %d freed twice", i);
    cr_expect(strstr(tp_last_error(), "double free") != NULL, "%s",
              tp_last_error());
  }
  s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0, "a double free handed nothing out");
  cr_expect_eq(s.deallocations, SMALL + LARGE);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* ---- draining ---- */

/* Allocates and frees `count` blocks of `bytes`: they stay parked. */
static void park(tp_pool *pool, int count, size_t bytes) {
  void *p[64];
  cr_assert(count <= 64);
  for (int i = 0; i < count; i++)
    cr_assert_eq(tp_pool_alloc(pool, bytes, NULL, &p[i]), TP_SUCCESS);
  for (int i = 0; i < count; i++)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
}

Test(thread_cache, trim_takes_parked_blocks_back) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  park(pool, 8, 16 * KiB);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.free_segments, 0, "parked blocks are live to the engine");
  cr_expect_gt(s.cached_bytes, 0);
  cr_expect_geq(s.thread_cached_bytes, 16 * KiB);
  cr_expect_eq(s.thread_cached_bytes % (16 * KiB), 0);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.thread_cached_bytes, 0);
  cr_expect_eq(s.cached_bytes, 0);
  cr_expect_eq(s.reserved_bytes, 0);
  cr_expect_eq(s.segments, 0);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, set_limit_takes_parked_blocks_back) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  void *kept;
  cr_assert_eq(tp_pool_alloc(pool, 256, NULL, &kept), TP_SUCCESS);
  park(pool, 8, 32 * KiB);
  cr_expect_gt(stats_of(pool).cached_bytes, 0);
  cr_assert_eq(tp_pool_set_limit(pool, 4 * KiB), TP_SUCCESS, "%s",
               tp_last_error());
  tp_pool_stats s = stats_of(pool);
  cr_expect_leq(s.reserved_bytes, 4 * KiB);
  cr_assert_eq(tp_pool_free(pool, kept, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, the_limit_counts_parked_bytes_and_reclaims_them) {
  /* 2 MiB: the small segment. Parked blocks fill it; a large request
   * needs them back (out-of-memory recovery drains the caches). */
  tp_pool *pool = pool_with(MiB, 2 * MiB);
  park(pool, 16, 64 * KiB);
  tp_pool_stats s = stats_of(pool);
  cr_expect_leq(s.reserved_bytes, 2 * MiB);
  cr_expect_eq(s.reserved_bytes, s.live_bytes + s.cached_bytes);
  void *big;
  cr_assert_eq(tp_pool_alloc(pool, 1536 * KiB, NULL, &big), TP_SUCCESS, "%s",
               tp_last_error());
  s = stats_of(pool);
  cr_expect_leq(s.reserved_bytes, 2 * MiB);
  cr_assert_eq(tp_pool_free(pool, big, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, destroy_counts_only_what_callers_hold_as_leaked) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  park(pool, 8, 1024);
  void *live;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &live), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(pool), TP_ERR_LEAK);
  cr_expect(strstr(tp_last_error(), "1 live blocks (1000 bytes requested)") !=
                NULL,
            "%s", tp_last_error());
}

Test(thread_cache, a_new_pool_after_a_destroyed_one_starts_clean) {
  for (int round = 0; round < 4; round++) {
    tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
    park(pool, 4, 4096);
    tp_pool_stats s = stats_of(pool);
    cr_expect_eq(s.allocations, 4);
    cr_expect_eq(s.live_blocks, 0);
    cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
  }
}

/* ---- off ---- */

Test(thread_cache, zero_bytes_is_the_engine_alone) {
  tp_pool *pool = pool_with(0, TP_UNLIMITED);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 2048, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 2048, NULL, &b), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.thread_cached_blocks, 0);
  cr_expect_eq(s.cached_blocks, 1, "merged at once");
  cr_expect_eq(s.free_segments, 1);
  cr_expect_eq(s.blocks_merged, 1);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, turning_it_off_drains_the_caches) {
  tp_pool *pool = pool_with(MiB, TP_UNLIMITED);
  park(pool, 8, 2048);
  cr_expect_eq(stats_of(pool).free_segments, 0);
  cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0),
               TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.free_segments, 1);
  cr_expect_eq(s.cached_blocks, 1);
  /* Off now: a free goes straight back to the engine. */
  park(pool, 2, 2048);
  s = stats_of(pool);
  cr_expect_eq(s.cached_blocks, 1);
  cr_expect_eq(s.free_segments, 1);
  cr_assert_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, MiB),
      TP_SUCCESS);
  park(pool, 2, 2048);
  cr_expect_eq(stats_of(pool).free_segments, 0, "on again");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, a_bound_on_cached_bytes_turns_it_off) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.max_cached_bytes = 64 * KiB;
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS);
  park(pool, 8, 2048);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.cached_blocks, 1, "freed into the engine and merged");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache, a_budget_bounds_what_one_thread_parks) {
  tp_pool *pool = pool_with(64 * KiB, TP_UNLIMITED);
  enum { N = 32 };
  void *p[N];
  for (int i = 0; i < N; i++)
    cr_assert_eq(
        tp_pool_alloc(pool, (size_t)(i % 8 + 1) * 4 * KiB, NULL, &p[i]),
        TP_SUCCESS);
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_free(pool, p[i], NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_gt(s.thread_cached_bytes, 0);
  cr_expect_leq(s.thread_cached_bytes, 64 * KiB);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cr_expect_eq(stats_of(pool).reserved_bytes, 0);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* On one thread the peaks of what callers hold are exact with the caches
 * on, even when every call of the peak is a cache hit between two reads. */
Test(thread_cache, peaks_on_one_thread_are_exact) {
  tp_pool *pool = pool_with(TP_POOL_THREAD_CACHE_DEFAULT, TP_UNLIMITED);
  void *a = NULL, *b = NULL;
  for (int warm = 0; warm < 4; warm++) {
    cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &a), TP_SUCCESS);
    cr_assert_eq(tp_pool_alloc(pool, 3000, NULL, &b), TP_SUCCESS);
    cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
    cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  }
  cr_assert_eq(tp_pool_reset_peaks(pool), TP_SUCCESS);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.requested_bytes_peak, 0);
  cr_expect_gt(s.thread_cached_blocks, 0, "the blocks are parked");
  uint64_t hits = s.hits;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 3000, NULL, &b), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 900, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.hits, hits + 3, "served by the cache");
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.requested_bytes_peak, 4000);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* Another thread's cache hands out blocks and stays alive; this thread
 * frees them (through that cache's inbox, counted as the pool's); then a
 * third thread, whose view of what callers hold leaves the live cache's
 * hand-outs out but not those frees, allocates. Its view is below zero:
 * the peak must not read it as a huge number. */
typedef struct hand_out_and_wait {
  tp_pool *pool;
  void *blocks[64];
  pthread_barrier_t handed, done;
} hand_out_and_wait;

static void *hand_out_then_wait(void *arg) {
  hand_out_and_wait *h = arg;
  for (int i = 0; i < 64; i++)
    cr_assert_eq(tp_pool_alloc(h->pool, 1000, NULL, &h->blocks[i]), TP_SUCCESS);
  pthread_barrier_wait(&h->handed);
  pthread_barrier_wait(&h->done); /* its cache stays live meanwhile */
  return NULL;
}

static void *alloc_free_twice(void *arg) {
  tp_pool *pool = arg;
  for (int i = 0; i < 2; i++) {
    void *p = NULL;
    cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &p), TP_SUCCESS);
    cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  }
  return NULL;
}

Test(thread_cache, the_peak_stays_within_what_was_allocated_across_threads) {
  hand_out_and_wait h = {
      .pool = pool_with(TP_POOL_THREAD_CACHE_DEFAULT, TP_UNLIMITED)};
  pthread_barrier_init(&h.handed, NULL, 2);
  pthread_barrier_init(&h.done, NULL, 2);
  pthread_t a, c;
  cr_assert_eq(pthread_create(&a, NULL, hand_out_then_wait, &h), 0);
  pthread_barrier_wait(&h.handed);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(tp_pool_free(h.pool, h.blocks[i], NULL), TP_SUCCESS);
  tp_pool_stats s = stats_of(h.pool);
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.requested_bytes_peak, 64000);
  cr_assert_eq(pthread_create(&c, NULL, alloc_free_twice, h.pool), 0);
  cr_assert_eq(pthread_join(c, NULL), 0);
  s = stats_of(h.pool);
  cr_expect_eq(s.requested_bytes, 0);
  cr_expect_eq(s.bytes_allocated, 66000);
  cr_expect_eq(s.requested_bytes_peak, 64000,
               "peak %" PRIu64 " (64000 held at once at most)",
               s.requested_bytes_peak);
  cr_assert_eq(tp_pool_reset_peaks(h.pool), TP_SUCCESS);
  cr_assert_eq(pthread_create(&c, NULL, alloc_free_twice, h.pool), 0);
  cr_assert_eq(pthread_join(c, NULL), 0);
  s = stats_of(h.pool);
  cr_expect_leq(s.requested_bytes_peak, 1000,
                "after a reset, peak %" PRIu64 " (1000 held at most)",
                s.requested_bytes_peak);
  pthread_barrier_wait(&h.done);
  cr_assert_eq(pthread_join(a, NULL), 0);
  pthread_barrier_destroy(&h.handed);
  pthread_barrier_destroy(&h.done);
  cr_expect_eq(tp_pool_destroy(h.pool), TP_SUCCESS);
}
