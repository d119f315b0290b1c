/* Stream ordering through the simulated space: a block freed on stream S is
 * handed back to S at once, and to another stream T only after T has been
 * made to wait on everything queued on S before the free. */
#include <criterion/criterion.h>
#include <string.h>

#include "support/sim_space.h"
#include "tensorpool/pool.h"

static tp_sim *sim;
static tp_pool *pool;
static tp_stream s1, s2, s3;

static void setup(void) {
  sim = tp_sim_create(SIZE_MAX);
  s1 = tp_sim_stream_create(sim);
  s2 = tp_sim_stream_create(sim);
  s3 = tp_sim_stream_create(sim);
  cr_assert_eq(tp_pool_create(tp_sim_space(sim), NULL, &pool), TP_SUCCESS);
}

static void teardown(void) {
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS, "%s", tp_last_error());
  tp_sim_complete_all(sim);
  cr_expect_eq(tp_sim_destroy(sim), 0, "the pool leaked upstream memory");
}

TestSuite(pool_streams, .init = setup, .fini = teardown);

Test(pool_streams, same_stream_reuse_needs_no_event) {
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 4096, s1, &a), TP_SUCCESS);
  tp_sim_enqueue(sim, s1); /* a kernel using the block, still running */
  cr_assert_eq(tp_pool_free(pool, a, s1), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 4096, s1, &b), TP_SUCCESS);
  cr_expect_eq(a, b);
  tp_sim_counters c = tp_sim_get_counters(sim);
  cr_expect_eq(c.records, 0);
  cr_expect_eq(c.waits, 0);
  cr_expect_eq(c.syncs, 0, "no host wait on the fast path");
  tp_pool_free(pool, b, s1);
}

Test(pool_streams, another_stream_waits_on_the_freeing_stream_first) {
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 4096, s1, &a), TP_SUCCESS);
  uint64_t last_use = tp_sim_enqueue(sim, s1);
  cr_assert_eq(tp_pool_free(pool, a, s1), TP_SUCCESS);
  cr_expect_not(tp_sim_waits_for(sim, s2, s1, last_use));
  cr_expect_eq(tp_sim_get_counters(sim).records, 0, "no event at free");
  cr_assert_eq(tp_pool_alloc(pool, 4096, s2, &b), TP_SUCCESS);
  cr_expect_eq(a, b, "the cached block is taken, not a new one");
  cr_expect(tp_sim_waits_for(sim, s2, s1, last_use),
            "s2 received s1's block without waiting for its last use");
  cr_expect_eq(tp_sim_get_counters(sim).syncs, 0, "no host wait");
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.cross_stream_takes, 1);
  cr_expect_eq(s.upstream_gets, 1);
  tp_pool_free(pool, b, s2);
}

Test(pool_streams, own_stream_blocks_are_preferred_over_others) {
  void *a, *b, *c, *guard;
  tp_pool_alloc(pool, 1024, s1, &a);
  tp_pool_alloc(pool, 1024, s2, &b);
  tp_pool_alloc(pool, 1024, s3, &guard); /* keeps b from the free rest */
  tp_sim_enqueue(sim, s1);               /* both still in use */
  tp_sim_enqueue(sim, s2);
  tp_pool_free(pool, a, s1);
  tp_pool_free(pool, b, s2);
  /* Neighbours with pending work on different streams do not merge. */
  tp_pool_stats st = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &st);
  cr_expect_eq(st.blocks_merged, 0);
  cr_assert_eq(tp_pool_alloc(pool, 1024, s2, &c), TP_SUCCESS);
  cr_expect_eq(c, b);
  cr_expect_eq(tp_sim_get_counters(sim).waits, 0);
  tp_pool_free(pool, c, s2);
  tp_pool_free(pool, guard, s3);
}

Test(pool_streams, neighbours_merge_once_their_stream_is_idle) {
  void *a, *b, *guard;
  tp_pool_alloc(pool, 1024, s1, &a);
  tp_pool_alloc(pool, 1024, s2, &b);
  tp_pool_alloc(pool, 1024, s3, &guard);
  uint64_t use = tp_sim_enqueue(sim, s1);
  tp_sim_enqueue(sim, s2);
  tp_pool_free(pool, a, s1);
  tp_pool_free(pool, b, s2);
  tp_pool_stats st = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &st);
  cr_expect_eq(st.blocks_merged, 0, "s1 and s2 both busy");
  /* s1 finishes: a trim finds it idle (an event query, no host wait), and
   * a's range merges into b's under s2. */
  tp_sim_complete(sim, s1, use);
  cr_assert_eq(tp_pool_trim(pool, SIZE_MAX), TP_SUCCESS);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  tp_pool_get_stats(pool, &st);
  cr_expect_geq(st.blocks_merged, 1);
  cr_expect_eq(tp_sim_get_counters(sim).syncs, 0, "no host wait");
  /* The merged range still waits on s2 for whoever takes it. */
  void *c;
  cr_assert_eq(tp_pool_alloc(pool, 2048, s3, &c), TP_SUCCESS);
  cr_expect_eq(c, a);
  cr_expect(tp_sim_waits_for(sim, s3, s2, 1));
  tp_pool_free(pool, c, s3);
  tp_pool_free(pool, guard, s3);
}

Test(pool_streams, one_event_per_stream_is_created_and_reused) {
  void *a, *b;
  for (int i = 0; i < 5; i++) {
    tp_pool_alloc(pool, 2048, s1, &a);
    tp_sim_enqueue(sim, s1);
    tp_pool_free(pool, a, s1);
    tp_pool_alloc(pool, 2048, s2, &b); /* takes s1's block */
    cr_assert_eq(a, b);
    tp_sim_enqueue(sim, s2);
    tp_pool_free(pool, b, s1); /* its last use was ordered onto s1 by caller */
  }
  tp_sim_counters c = tp_sim_get_counters(sim);
  cr_expect_eq(c.events_created, 1);
  cr_expect_eq(c.records, 5);
  cr_expect_eq(c.waits, 5);
}

Test(pool_streams, forgotten_stream_blocks_serve_anyone_without_waiting) {
  void *a, *b;
  tp_pool_alloc(pool, 8192, s1, &a);
  tp_sim_enqueue(sim, s1);
  tp_pool_free(pool, a, s1);
  cr_assert_eq(tp_pool_forget_stream(pool, s1), TP_SUCCESS);
  cr_expect_eq(tp_sim_get_counters(sim).syncs, 1, "forget waits once");
  cr_expect_eq(tp_sim_completed(sim, s1), 1);
  tp_sim_stream_destroy(sim, s1);
  cr_assert_eq(tp_pool_alloc(pool, 8192, s2, &b), TP_SUCCESS);
  cr_expect_eq(a, b);
  cr_expect_eq(tp_sim_get_counters(sim).waits, 0, "no wait on a dead stream");
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.streams_forgotten, 1);
  tp_pool_free(pool, b, s2);
}

Test(pool_streams, a_forgotten_stream_used_again_is_a_new_stream) {
  void *a, *b;
  tp_pool_alloc(pool, 512, s1, &a);
  tp_pool_free(pool, a, s1);
  cr_assert_eq(tp_pool_forget_stream(pool, s1), TP_SUCCESS);
  /* The same handle in use again (CUDA may reuse a destroyed stream's
   * address): it registers anew, and its blocks are ordered as before. */
  cr_assert_eq(tp_pool_alloc(pool, 512, s1, &a), TP_SUCCESS);
  uint64_t use = tp_sim_enqueue(sim, s1);
  cr_assert_eq(tp_pool_free(pool, a, s1), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 512, s3, &b), TP_SUCCESS);
  cr_expect_eq(a, b);
  cr_expect(tp_sim_waits_for(sim, s3, s1, use));
  tp_pool_free(pool, b, s3);
  /* Forgetting a stream the pool does not know is harmless. */
  cr_expect_eq(tp_pool_forget_stream(pool, s2), TP_SUCCESS);
  cr_expect_eq(tp_pool_forget_stream(NULL, s2), TP_ERR_INVALID_ARGUMENT);
}

Test(pool_streams, more_streams_than_slots_still_work) {
  enum { N = TP_POOL_MAX_STREAMS + 5 };
  tp_stream streams[N];
  void *blocks[N];
  for (int i = 0; i < N; i++) {
    streams[i] = tp_sim_stream_create(sim);
    cr_assert_eq(tp_pool_alloc(pool, 256, streams[i], &blocks[i]), TP_SUCCESS);
    tp_sim_enqueue(sim, streams[i]);
  }
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_free(pool, blocks[i], streams[i]), TP_SUCCESS);
  /* The frees past the slots waited for their stream instead. */
  cr_expect_eq(tp_sim_get_counters(sim).syncs, N - TP_POOL_MAX_STREAMS);
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_alloc(pool, 256, streams[i], &blocks[i]), TP_SUCCESS);
  for (int i = 0; i < N; i++)
    tp_pool_free(pool, blocks[i], streams[i]);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.upstream_gets, 1, "all in one small segment");
}

Test(pool_streams, released_memory_returns_only_after_the_streams_work) {
  void *a;
  tp_pool_alloc(pool, 4096, s1, &a);
  tp_sim_enqueue(sim, s1);
  tp_pool_free(pool, a, s1);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  tp_sim_counters c = tp_sim_get_counters(sim);
  cr_expect_eq(c.puts, 1);
  cr_expect_eq(c.bytes_pending, (size_t)2 << 20,
               "its segment put before the stream's work ended");
  cr_expect_eq(c.syncs, 0, "trim does not wait on the host");
  tp_sim_complete_all(sim);
  cr_expect_eq(tp_sim_get_counters(sim).bytes_out, 0);
}

/* A simulated space whose stream waits fail while `sync_fails` is set. */
static tp_space_ops failing_sync_ops;
static tp_space failing_sync_space;
static const tp_space *sim_of_failing;
static bool sync_fails;

static tp_status failing_sync(void *ctx, tp_stream stream) {
  if (sync_fails)
    return tp_set_last_error(TP_ERR_CUDA, "the test's stream wait failed");
  return sim_of_failing->ops->stream_sync(ctx, stream);
}

/* With every slot taken, a free on a further stream waits for it; when that
 * wait fails, the block's last use may still run: the free fails, the block
 * stays live, and no other stream is handed its memory. */
Test(pool_streams_untracked, a_failed_wait_keeps_the_block_live) {
  tp_sim *fsim = tp_sim_create(SIZE_MAX);
  sim_of_failing = tp_sim_space(fsim);
  failing_sync_ops = *sim_of_failing->ops;
  failing_sync_ops.stream_sync = failing_sync;
  failing_sync_space = *sim_of_failing;
  failing_sync_space.ops = &failing_sync_ops;
  sync_fails = false;
  tp_pool *p = NULL;
  cr_assert_eq(tp_pool_create(&failing_sync_space, NULL, &p), TP_SUCCESS);
  enum { N = TP_POOL_MAX_STREAMS + 1 };
  tp_stream streams[N];
  void *blocks[N];
  for (int i = 0; i < N; i++) {
    streams[i] = tp_sim_stream_create(fsim);
    cr_assert_eq(tp_pool_alloc(p, 256, streams[i], &blocks[i]), TP_SUCCESS);
    tp_sim_enqueue(fsim, streams[i]);
  }
  for (int i = 0; i < N - 1; i++)
    cr_assert_eq(tp_pool_free(p, blocks[i], streams[i]), TP_SUCCESS);
  tp_pool_stats before = TP_POOL_STATS_INIT, after = TP_POOL_STATS_INIT;
  tp_pool_get_stats(p, &before);

  sync_fails = true;
  void *last = blocks[N - 1];
  cr_expect_eq(tp_pool_free(p, last, streams[N - 1]), TP_ERR_CUDA);
  cr_expect(strstr(tp_last_error(), "the block stays live"), "%s",
            tp_last_error());
  cr_expect(strstr(tp_last_error(), "the test's stream wait failed"), "%s",
            tp_last_error());
  size_t usable = 0;
  cr_expect_eq(tp_pool_block_size(p, last, &usable), TP_SUCCESS,
               "the block is still live");
  tp_pool_get_stats(p, &after);
  cr_expect_eq(after.live_blocks, before.live_blocks);
  cr_expect_eq(after.deallocations, before.deallocations);
  cr_expect_eq(after.failures, before.failures + 1);
  /* Another stream asking for the same size never gets that block. */
  void *other = NULL;
  cr_assert_eq(tp_pool_alloc(p, 256, streams[0], &other), TP_SUCCESS);
  cr_expect_neq(other, last);
  cr_expect_eq(tp_pool_free(p, other, streams[0]), TP_SUCCESS);

  /* Once the stream can be waited for, the same free succeeds. */
  sync_fails = false;
  cr_expect_eq(tp_pool_free(p, last, streams[N - 1]), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_eq(tp_pool_destroy(p), TP_SUCCESS, "%s", tp_last_error());
  tp_sim_complete_all(fsim);
  cr_expect_eq(tp_sim_destroy(fsim), 0);
}
