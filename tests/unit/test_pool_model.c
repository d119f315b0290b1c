/* Randomized model-based tests of the pool engine: long seeded sequences of
 * pool calls on the simulated space, each step checked against the reference
 * model in tests/support/pool_model.c. A failure names its seed; set
 * TP_MODEL_SEED=<seed> to replay exactly that sequence in every test. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "pool_model.h"
#include "sim_space.h"

#define MESSAGE_CAPACITY 8192

static void run_seeds(tp_model_options options, const uint64_t *seeds,
                      size_t count) {
  static char message[MESSAGE_CAPACITY];
  uint64_t replay = tp_model_seed(0);
  if (replay) {
    seeds = &replay;
    count = 1;
  }
  for (size_t i = 0; i < count; ++i) {
    options.seed = seeds[i];
    bool ok = tp_model_run(&options, message, sizeof message);
    cr_assert(ok, "%s", message);
  }
}

static const uint64_t seeds[] = {1, 2, 0x5eed, 20261121};
#define SEEDS seeds, sizeof seeds / sizeof seeds[0]

Test(pool_model, unbounded_pool_on_four_streams) {
  run_seeds(tp_model_options_default(0), SEEDS);
}

Test(pool_model, bounded_cache_evicts_within_its_bounds) {
  tp_model_options o = tp_model_options_default(0);
  o.config.max_pool_size = 256 * 1024;
  o.config.max_buffers_per_bucket = 3;
  o.config.divisions = 2;
  run_seeds(o, SEEDS);
}

Test(pool_model, one_class_keeps_at_most_max_buffers_per_bucket) {
  tp_model_options o = tp_model_options_default(0);
  o.one_class = true;
  o.streams = 3;
  o.config.max_buffers_per_bucket = 2;
  o.config.divisions = 1;
  run_seeds(o, SEEDS);
}

Test(pool_model, limits_and_upstream_failures) {
  tp_model_options o = tp_model_options_default(0);
  o.config.limit = 1024 * 1024;
  o.config.divisions = 8;
  o.vary_limit = true;
  o.inject_failures = true;
  o.recreate_streams = true;
  run_seeds(o, SEEDS);
}

Test(pool_model, more_streams_than_the_pool_tracks) {
  tp_model_options o = tp_model_options_default(0);
  o.streams = TP_POOL_MAX_STREAMS + 7;
  o.config.divisions = 16;
  o.recreate_streams = true;
  o.max_request = 8192;
  run_seeds(o, SEEDS);
}

Test(pool_model, four_threads_with_a_shared_stream) {
  tp_model_options o = tp_model_options_default(0);
  o.threads = 4;
  o.streams = 2;
  o.steps = 6000;
  o.max_live = 24;
  o.sync_every = 200;
  run_seeds(o, SEEDS);
}

Test(pool_model, four_threads_under_a_limit_and_small_cache) {
  tp_model_options o = tp_model_options_default(0);
  o.threads = 4;
  o.streams = 2;
  o.steps = 6000;
  o.max_live = 24;
  o.sync_every = 200;
  o.config.limit = 2 * 1024 * 1024;
  o.config.max_pool_size = 512 * 1024;
  o.config.max_buffers_per_bucket = 4;
  run_seeds(o, SEEDS);
}

/* The smallest case behind the model's block-size check, kept as a fixed
 * sequence: a cached block of a larger class may serve a request, but only
 * up to twice the request's class (pool.h), including among the small
 * classes that are spaced linearly (256, 512, 768, 1024, ... bytes). */
Test(pool_model, larger_cached_block_serves_at_most_twice_the_class) {
  for (unsigned divisions = 1; divisions <= 16; divisions *= 2) {
    tp_sim *sim = tp_sim_create(SIZE_MAX);
    tp_stream s = tp_sim_stream_create(sim);
    tp_pool_config config = TP_POOL_CONFIG_INIT;
    config.divisions = divisions;
    tp_pool *pool = NULL;
    cr_assert_eq(tp_pool_create(tp_sim_space(sim), &config, &pool), TP_SUCCESS);
    for (size_t big = 512; big <= 8192; big += 256) {
      void *p = NULL, *q = NULL;
      size_t cls = 0, usable = 0;
      cr_assert_eq(tp_pool_alloc(pool, big, s, &p), TP_SUCCESS);
      cr_assert_eq(tp_pool_free(pool, p, s), TP_SUCCESS);
      cr_assert_eq(tp_pool_alloc(pool, 100, s, &q), TP_SUCCESS);
      cr_assert_eq(tp_pool_class_size(pool, 100, &cls), TP_SUCCESS);
      cr_assert_eq(tp_pool_block_size(pool, q, &usable), TP_SUCCESS);
      cr_assert(usable <= 2 * cls,
                "divisions %u: a 100-byte request (class %zu) was served "
                "with a cached block of %zu bytes",
                divisions, cls, usable);
      cr_assert_eq(tp_pool_free(pool, q, s), TP_SUCCESS);
      cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
    }
    cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
    tp_sim_complete_all(sim);
    cr_assert_eq(tp_sim_destroy(sim), 0);
  }
}
