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
  o.config.max_cached_bytes = 256 * 1024;
  o.config.max_buffers_per_bucket = 3;
  o.config.divisions = 2;
  run_seeds(o, SEEDS);
}

Test(pool_model, one_class_splits_and_merges_small_blocks) {
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
  o.config.max_cached_bytes = 512 * 1024;
  o.config.max_buffers_per_bucket = 4;
  run_seeds(o, SEEDS);
}

/* Segments that grow and shrink in place and free pages given back after
 * a few calls, pages coming back on first touch (as the host space). */
Test(pool_model, growable_segments_give_back_pages) {
  tp_model_options o = tp_model_options_default(0);
  o.vm_page = 4096;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 8;
  o.config.max_cached_bytes = 512 * 1024;
  o.max_request = 256 * 1024;
  o.recreate_streams = true;
  run_seeds(o, SEEDS);
  /* Seeds that found a tail cut leaving a segment of one free block (its
   * neighbour kept apart by another stream's work) neither flagged whole
   * nor given back under max_cached_bytes. */
  static const uint64_t found[] = {38, 107};
  run_seeds(o, found, sizeof found / sizeof found[0]);
}

/* The same where pages must be committed before use (as device granules of
 * a VMM space), under a limit, with upstream failures. */
Test(pool_model, pages_are_committed_before_use_under_a_limit) {
  tp_model_options o = tp_model_options_default(0);
  o.vm_page = 65536;
  o.vm_commit = true;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 4;
  o.config.limit = 4 * 1024 * 1024;
  o.max_request = 512 * 1024;
  o.vary_limit = true;
  o.inject_failures = true;
  run_seeds(o, SEEDS);
}

/* Freed blocks wait unmerged on the pool's quick lists across many steps
 * (statistics, which merge them, are read every 64 steps): hits of their
 * own size and stream, other streams' requests that merge them first, the
 * lists filling up, large blocks that wait one call; on plain segments, on
 * growable ones with pages given back, and under a limit with failures. */
Test(pool_model, quick_lists_across_steps) {
  tp_model_options o = tp_model_options_default(0);
  o.exact_every = 64;
  o.max_request = 256 * 1024;
  o.max_live = 96;
  run_seeds(o, SEEDS);
}

Test(pool_model, quick_lists_on_growable_segments) {
  tp_model_options o = tp_model_options_default(0);
  o.exact_every = 64;
  o.vm_page = 4096;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 8;
  o.max_request = 512 * 1024;
  o.recreate_streams = true;
  run_seeds(o, SEEDS);
}

Test(pool_model, quick_lists_under_a_limit_with_failures) {
  tp_model_options o = tp_model_options_default(0);
  o.exact_every = 64;
  o.vmm_granule = 16384;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 4;
  o.config.limit = 3 * 1024 * 1024;
  o.max_request = 256 * 1024;
  o.vary_limit = true;
  o.inject_failures = true;
  run_seeds(o, SEEDS);
}

/* Requests above the threshold get a segment each, reused whole. */
Test(pool_model, oversize_blocks_are_never_split) {
  tp_model_options o = tp_model_options_default(0);
  o.config.oversize_threshold = 32 * 1024;
  o.max_request = 160 * 1024;
  o.vm_page = 4096;
  run_seeds(o, SEEDS);
}

Test(pool_model, four_threads_on_growable_segments) {
  tp_model_options o = tp_model_options_default(0);
  o.threads = 4;
  o.streams = 2;
  o.steps = 4000;
  o.max_live = 24;
  o.sync_every = 200;
  o.vm_page = 4096;
  o.vm_commit = true;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 16;
  run_seeds(o, SEEDS);
}

/* The pool on the VMM space's logic over a simulated driver: granules
 * mapped as segments grow, given back once their stream is done, taken back
 * or mapped again on use; every driver rule checked. */
Test(pool_model, vmm_space_maps_and_unmaps_granules) {
  tp_model_options o = tp_model_options_default(0);
  o.vmm_granule = 16384;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 8;
  o.max_request = 128 * 1024;
  o.recreate_streams = true;
  run_seeds(o, SEEDS);
}

Test(pool_model, vmm_space_under_a_limit_and_device_exhaustion) {
  tp_model_options o = tp_model_options_default(0);
  o.vmm_granule = 16384;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 4;
  o.config.limit = 3 * 1024 * 1024;
  o.max_request = 256 * 1024;
  o.vary_limit = true;
  o.inject_failures = true;
  run_seeds(o, SEEDS);
}

/* The NULL stream among the streams: requests of up to 256 KiB there go
 * through the pool's thread caches (turned on here), checked as exactly as
 * the rest. */
Test(pool_model, thread_cache_on_the_null_stream) {
  tp_model_options o = tp_model_options_default(0);
  o.null_stream = true;
  o.config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  o.max_request = 320 * 1024; /* the wide bins, and past them */
  run_seeds(o, SEEDS);
}

Test(pool_model, thread_cache_with_a_varying_limit_and_failures) {
  tp_model_options o = tp_model_options_default(0);
  o.null_stream = true;
  o.config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  o.vary_limit = true;
  o.inject_failures = true;
  o.config.limit = 2 * 1024 * 1024;
  o.max_request = 256 * 1024;
  run_seeds(o, SEEDS);
}

Test(pool_model, thread_cache_over_growable_segments_with_pages_given_back) {
  tp_model_options o = tp_model_options_default(0);
  o.null_stream = true;
  o.config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  o.max_request = 256 * 1024;
  o.vm_page = 4096;
  o.config.page_release = TP_PAGE_RELEASE_AGED;
  o.config.page_release_delay = 8;
  run_seeds(o, SEEDS);
}
