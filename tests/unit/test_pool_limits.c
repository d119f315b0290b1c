/* Bounds: the hard limit on reserved bytes, the cache bounds, trim, and the
 * release-and-retry path when upstream runs dry. The simulated space has no
 * virtual memory here: segments are 2 MiB for small requests and 20 MiB for
 * large ones (pool_internal.h), cut to what a limit leaves. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "support/sim_space.h"
#include "tensorpool/pool.h"

#define MiB ((size_t)1 << 20)

#define expect_message(fragment)                                               \
  cr_expect_not_null(strstr(tp_last_error(), fragment), "message was: %s",     \
                     tp_last_error())

static tp_sim *sim;

static void setup(void) {
  sim = tp_sim_create(SIZE_MAX);
}
static void teardown(void) {
  tp_sim_complete_all(sim);
  cr_expect_eq(tp_sim_destroy(sim), 0, "upstream memory leaked");
}
TestSuite(pool_limits, .init = setup, .fini = teardown);

static tp_pool *pool_with(tp_pool_config config) {
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(tp_sim_space(sim), &config, &pool), TP_SUCCESS,
               "%s", tp_last_error());
  return pool;
}

static tp_pool_stats stats_of(tp_pool *pool) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  return s;
}

Test(pool_limits, hard_limit_refuses_with_the_numbers) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = 10000;
  c.name = "capped";
  tp_pool *pool = pool_with(c);
  void *a, *b;
  /* The segment is cut to what the limit allows: 9984 bytes. */
  cr_assert_eq(tp_pool_alloc(pool, 8192, NULL, &a), TP_SUCCESS);
  cr_expect_eq(tp_pool_alloc(pool, 4096, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  expect_message("pool 'capped'");
  expect_message("cannot serve 4096 bytes");
  expect_message("live 8192 bytes, cached 1792 bytes, reserved 9984 bytes, "
                 "limit 10000 bytes; 1 segments, 1792 free bytes inside them "
                 "(largest free block 1792 bytes)");
  cr_expect_eq(tp_sim_get_counters(sim).gets, 1, "upstream not even asked");
  /* What fits still works, in the free rest of the segment. */
  cr_expect_eq(tp_pool_alloc(pool, 1024, NULL, &b), TP_SUCCESS);
  cr_expect_eq(tp_sim_get_counters(sim).gets, 1);
  tp_pool_free(pool, a, NULL);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, limit_gives_back_whole_free_segments_before_failing) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = 4 * MiB;
  tp_pool *pool = pool_with(c);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 512 * 1024, NULL, &a), TP_SUCCESS);
  tp_pool_free(pool, a, NULL); /* a whole free small segment of 2 MiB */
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.free_segments, 1);
  cr_expect_eq(s.reserved_bytes, 2 * MiB);
  /* 3 MiB is large: it cannot use the small segment, and a large one fits
   * the limit only once the free small one is given back. */
  cr_assert_eq(tp_pool_alloc(pool, 3 * MiB, NULL, &b), TP_SUCCESS, "%s",
               tp_last_error());
  s = stats_of(pool);
  cr_expect_eq(s.releases, 1);
  cr_expect_eq(s.segments, 1);
  cr_expect_leq(s.reserved_bytes, 4 * MiB);
  cr_expect_leq(s.reserved_bytes_peak, 4 * MiB);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits,
     set_limit_below_what_cannot_go_is_refused_and_changes_nothing) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  void *a, *b;
  tp_pool_alloc(pool, 4096, NULL, &a);
  tp_pool_alloc(pool, 4096, NULL, &b);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_set_limit(pool, 2048), TP_ERR_OUT_OF_MEMORY);
  expect_message("4096 bytes are live");
  /* a keeps its 2 MiB segment: its free rest cannot go back. */
  cr_expect_eq(tp_pool_set_limit(pool, 4096), TP_ERR_OUT_OF_MEMORY);
  expect_message("the limit stays");
  uint64_t limit = 0;
  tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit);
  cr_expect_eq(limit, UINT64_MAX, "unchanged: no limit");
  tp_pool_free(pool, a, NULL);
  /* Now the segment is whole and free: it goes, and the limit holds. */
  cr_expect_eq(tp_pool_set_limit(pool, 4096), TP_SUCCESS, "%s",
               tp_last_error());
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.cached_bytes, 0, "cache released to meet the limit");
  cr_expect_eq(s.reserved_bytes, 0);
  /* A segment is cut to the limit: small requests still work. */
  cr_expect_eq(tp_pool_alloc(pool, 256, NULL, &a), TP_SUCCESS);
  cr_expect_eq(tp_pool_alloc(pool, 8192, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  cr_expect_leq(stats_of(pool).reserved_bytes, 4096);
  tp_pool_free(pool, a, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, upstream_exhaustion_releases_cache_waits_and_retries) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  tp_stream s = tp_sim_stream_create(sim);
  tp_sim_set_capacity(sim, 16384);
  void *a, *b;
  /* A 2 MiB segment does not fit upstream: the pool asks for just the
   * request instead. */
  cr_assert_eq(tp_pool_alloc(pool, 14336, s, &a), TP_SUCCESS, "%s",
               tp_last_error());
  tp_sim_counters sc = tp_sim_get_counters(sim);
  cr_expect_eq(sc.failed_gets, 1);
  cr_expect_eq(sc.bytes_out, 14336);
  tp_sim_enqueue(sim, s); /* still in use on s */
  tp_pool_free(pool, a, s);
  /* 15000 does not fit the free segment: the pool gives it back, waits for
   * s so the memory is really free, and retries with the request's size. */
  cr_assert_eq(tp_pool_alloc(pool, 15000, NULL, &b), TP_SUCCESS, "%s",
               tp_last_error());
  sc = tp_sim_get_counters(sim);
  cr_expect_eq(sc.syncs, 1);
  cr_expect_eq(sc.puts, 1);
  cr_expect_eq(sc.bytes_out, 15104);
  tp_pool_free(pool, b, NULL);
  /* Now nothing can help: the message gives the numbers. */
  cr_expect_eq(tp_pool_alloc(pool, 32768, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  expect_message("upstream is exhausted even after releasing the cache");
  expect_message("largest free block");
  tp_pool_stats st = stats_of(pool);
  cr_expect_eq(st.failures, 1);
  cr_expect_eq(st.reserved_bytes, 0, "the free segment went too");
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, max_cached_bytes_gives_back_whole_free_segments) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_cached_bytes = 3000;
  tp_pool *pool = pool_with(c);
  void *p[4];
  for (int i = 0; i < 4; i++)
    tp_pool_alloc(pool, 1024, NULL, &p[i]);
  for (int i = 0; i < 3; i++)
    tp_pool_free(pool, p[i], NULL);
  /* Free bytes between live blocks stay: nothing could go back. */
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.releases, 0);
  cr_expect_gt(s.cached_bytes, 3000);
  tp_pool_free(pool, p[3], NULL);
  s = stats_of(pool);
  cr_expect_eq(s.releases, 1, "the whole free segment went back");
  cr_expect_eq(s.cached_bytes, 0);
  cr_expect_eq(s.reserved_bytes, 0);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, max_buffers_per_bucket_bounds_free_segments_per_class) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_buffers_per_bucket = 1;
  tp_pool *pool = pool_with(c);
  void *a, *b, *d;
  /* Two 1 MiB blocks fill one 2 MiB small segment; a third takes another. */
  tp_pool_alloc(pool, MiB, NULL, &a);
  tp_pool_alloc(pool, MiB, NULL, &b);
  tp_pool_alloc(pool, MiB, NULL, &d);
  cr_expect_eq(stats_of(pool).segments, 2);
  tp_pool_free(pool, a, NULL);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(stats_of(pool).free_segments, 1, "one free segment is kept");
  tp_pool_free(pool, d, NULL);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.free_segments, 1, "a second one of that size is not");
  cr_expect_eq(s.releases, 1);
  cr_expect_eq(s.reserved_bytes, 2 * MiB);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, trim_gives_back_whole_free_segments_largest_first) {
  /* Without thread caches: the small block's segment is free at once. */
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = 0;
  tp_pool *pool = pool_with(config);
  void *small, *large, *kept;
  tp_pool_alloc(pool, 12 * MiB, NULL, &kept); /* its own 12 MiB segment */
  tp_pool_alloc(pool, 4096, NULL, &small);    /* a 2 MiB small one */
  tp_pool_alloc(pool, 2 * MiB, NULL, &large); /* a 20 MiB large one */
  tp_pool_free(pool, small, NULL);
  tp_pool_free(pool, large, NULL);
  tp_pool_stats s = stats_of(pool);
  cr_expect_eq(s.free_segments, 2);
  cr_expect_eq(s.free_segment_bytes, 22 * MiB);
  cr_assert_eq(tp_pool_trim(pool, 4 * MiB), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.free_segments, 1, "the 20 MiB segment went first");
  cr_expect_eq(s.free_segment_bytes, 2 * MiB);
  cr_expect_eq(s.reserved_bytes, 14 * MiB);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  s = stats_of(pool);
  cr_expect_eq(s.free_segments, 0);
  cr_expect_eq(s.cached_bytes, 0);
  cr_expect_eq(s.live_blocks, 1, "trim never touches live blocks");
  cr_expect_eq(s.reserved_bytes, 12 * MiB);
  tp_pool_free(pool, kept, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, destroy_with_live_blocks_returns_all_memory) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  void *a, *b;
  tp_pool_alloc(pool, 3000, NULL, &a);
  tp_pool_alloc(pool, 5000, NULL, &b);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_ERR_LEAK);
  expect_message("1 live blocks (3000 bytes requested)");
  /* teardown checks that the sim got every byte back */
}

/* pool.h's attributes, as cudaMemPoolSet/GetAttribute: each setting reads
 * back as set and takes effect at once; counters are read-only; a bad
 * attribute or value changes nothing. */
Test(pool_limits, attributes_read_back_apply_at_once_and_refuse_bad_input) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  static const tp_pool_attr rw[] = {
      TP_POOL_ATTR_MAX_CACHED_BYTES, TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET,
      TP_POOL_ATTR_PAGE_RELEASE_DELAY, TP_POOL_ATTR_OVERSIZE_THRESHOLD};
  for (size_t i = 0; i < sizeof rw / sizeof rw[0]; i++) {
    uint64_t v = 0;
    cr_expect_eq(tp_pool_set_attribute(pool, rw[i], 12345 + i), TP_SUCCESS,
                 "%s", tp_last_error());
    cr_expect_eq(tp_pool_get_attribute(pool, rw[i], &v), TP_SUCCESS);
    cr_expect_eq(v, 12345 + i, "attribute %d", (int)rw[i]);
  }
  cr_expect_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_CACHED_BYTES, UINT64_MAX),
      TP_SUCCESS);
  cr_expect_eq(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_OVERSIZE_THRESHOLD, UINT64_MAX),
      TP_SUCCESS);
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET,
                                     UINT64_MAX),
               TP_SUCCESS);

  /* A lower cache bound gives back the whole free segments above it. */
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  uint64_t cached = 0;
  tp_pool_get_attribute(pool, TP_POOL_ATTR_CACHED_BYTES, &cached);
  cr_expect_gt(cached, 0);
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_CACHED_BYTES, 0),
               TP_SUCCESS);
  tp_pool_get_attribute(pool, TP_POOL_ATTR_CACHED_BYTES, &cached);
  cr_expect_eq(cached, 0, "given back at once");
  uint64_t reserved = 1;
  tp_pool_get_attribute(pool, TP_POOL_ATTR_RESERVED_BYTES, &reserved);
  cr_expect_eq(reserved, 0);

  /* The limit through the attribute is tp_pool_set_limit. */
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIMIT, 8 * MiB),
               TP_SUCCESS);
  uint64_t limit = 0;
  tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit);
  cr_expect_eq(limit, 8 * MiB);
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIMIT, 0),
               TP_ERR_INVALID_ARGUMENT);

  /* Read-only counters, unknown attributes, bad values: refused, nothing
   * changed. */
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_RESERVED_BYTES, 5),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("reserved");
  cr_expect_eq(tp_pool_set_attribute(pool, (tp_pool_attr)99, 5),
               TP_ERR_INVALID_ARGUMENT);
  uint64_t untouched = 77;
  cr_expect_eq(tp_pool_get_attribute(pool, (tp_pool_attr)99, &untouched),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(untouched, 77);
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_PAGE_RELEASE, 42),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK, 3),
               TP_ERR_INVALID_ARGUMENT, "a peak can only be reset");
  cr_expect_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK, 0),
               TP_SUCCESS);
  cr_expect_eq(tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, NULL),
               TP_ERR_INVALID_ARGUMENT);
  tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit);
  cr_expect_eq(limit, 8 * MiB, "the refusals changed nothing");
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}
