/* Bounds: the hard limit on reserved bytes, the cache bounds, trim, and the
 * release-and-retry path when upstream runs dry. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "support/sim_space.h"
#include "tensorpool/pool.h"

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

Test(pool_limits, hard_limit_refuses_with_the_numbers) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = 10000;
  c.name = "capped";
  tp_pool *pool = pool_with(c);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 8192, NULL, &a), TP_SUCCESS);
  cr_expect_eq(tp_pool_alloc(pool, 4096, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  expect_message("pool 'capped'");
  expect_message("cannot serve 4096 bytes");
  expect_message("live 8192 bytes, cached 0 bytes, reserved 8192 bytes, "
                 "limit 10000 bytes");
  cr_expect_eq(tp_sim_get_counters(sim).gets, 1, "upstream not even asked");
  /* What fits still works. */
  cr_expect_eq(tp_pool_alloc(pool, 1024, NULL, &b), TP_SUCCESS);
  tp_pool_free(pool, a, NULL);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, limit_releases_cache_of_other_classes_before_failing) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = 16384;
  tp_pool *pool = pool_with(c);
  void *a, *b;
  /* 14336 is more than twice 4096: the cached block cannot serve it. */
  cr_assert_eq(tp_pool_alloc(pool, 14336, NULL, &a), TP_SUCCESS);
  tp_pool_free(pool, a, NULL); /* cached: reserved stays 14336 */
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &b), TP_SUCCESS, "%s",
               tp_last_error());
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.releases, 1);
  cr_expect_eq(s.reserved_bytes, 4096);
  cr_expect_leq(s.reserved_bytes_peak, 16384);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, set_limit_below_live_bytes_is_refused_and_changes_nothing) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  void *a, *b;
  tp_pool_alloc(pool, 4096, NULL, &a);
  tp_pool_alloc(pool, 4096, NULL, &b);
  tp_pool_free(pool, b, NULL);
  cr_expect_eq(tp_pool_set_limit(pool, 2048), TP_ERR_OUT_OF_MEMORY);
  expect_message("4096 bytes are live");
  cr_expect_eq(tp_pool_set_limit(pool, 4096), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cached_bytes, 0, "cache released to meet the limit");
  cr_expect_eq(tp_pool_alloc(pool, 256, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  tp_pool_free(pool, a, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, upstream_exhaustion_releases_cache_waits_and_retries) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  tp_stream s = tp_sim_stream_create(sim);
  tp_sim_set_capacity(sim, 16384);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 14336, s, &a), TP_SUCCESS);
  tp_sim_enqueue(sim, s); /* still in use on s */
  tp_pool_free(pool, a, s);
  /* 4096 does not fit next to the cached 14336 (too big to serve it): the
   * pool gives the cached block back, waits for s so the memory is really
   * free, and retries. */
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &b), TP_SUCCESS, "%s",
               tp_last_error());
  tp_sim_counters sc = tp_sim_get_counters(sim);
  cr_expect_eq(sc.failed_gets, 1);
  cr_expect_eq(sc.syncs, 1);
  cr_expect_eq(sc.bytes_out, 4096);
  tp_pool_free(pool, b, NULL);
  /* Now nothing can help: the message gives the numbers. */
  cr_expect_eq(tp_pool_alloc(pool, 32768, NULL, &b), TP_ERR_OUT_OF_MEMORY);
  expect_message("upstream is exhausted even after releasing the cache");
  tp_pool_stats st = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &st);
  cr_expect_eq(st.failures, 1);
  cr_expect_eq(st.reserved_bytes, 0);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, max_pool_size_bounds_the_cache) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_pool_size = 3000;
  tp_pool *pool = pool_with(c);
  void *p[4];
  for (int i = 0; i < 4; i++)
    tp_pool_alloc(pool, 1024, NULL, &p[i]);
  for (int i = 0; i < 4; i++)
    tp_pool_free(pool, p[i], NULL);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cached_bytes, 2048);
  cr_expect_eq(s.releases, 2);
  cr_expect_eq(s.reserved_bytes, 2048);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, max_buffers_per_bucket_bounds_each_class) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_buffers_per_bucket = 2;
  tp_pool *pool = pool_with(c);
  void *small[5], *big[5];
  for (int i = 0; i < 5; i++) {
    tp_pool_alloc(pool, 256, NULL, &small[i]);
    tp_pool_alloc(pool, 65536, NULL, &big[i]);
  }
  for (int i = 0; i < 5; i++) {
    tp_pool_free(pool, small[i], NULL);
    tp_pool_free(pool, big[i], NULL);
  }
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cached_blocks, 4);
  cr_expect_eq(s.cached_bytes, 2 * 256 + 2 * 65536);
  cr_expect_eq(s.releases, 6);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_limits, trim_releases_down_to_the_target_largest_first) {
  tp_pool *pool = pool_with((tp_pool_config)TP_POOL_CONFIG_INIT);
  void *a, *b, *c;
  tp_pool_alloc(pool, 1 << 20, NULL, &a);
  tp_pool_alloc(pool, 1 << 12, NULL, &b);
  tp_pool_alloc(pool, 1 << 12, NULL, &c);
  tp_pool_free(pool, a, NULL);
  tp_pool_free(pool, b, NULL);
  cr_assert_eq(tp_pool_trim(pool, 1 << 13), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cached_bytes, 1 << 12, "the 1 MiB block went first");
  cr_expect_eq(s.reserved_bytes, 1 << 13);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cached_bytes, 0);
  cr_expect_eq(s.live_blocks, 1, "trim never touches live blocks");
  tp_pool_free(pool, c, NULL);
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
