/* A thread cache's `stop` word once every lock holder has let it go: its
 * `stop_base`, nothing more and nothing less. Where owners need a full
 * fence to enter (no membarrier, or TP_ASYM_FENCE=off), stop_base is
 * TP_STOP_SYMMETRIC, which keeps the public calls' inline path (a plain
 * store, no fence) out of the cache; a holder that cleared it would let
 * that path race the next stop, which no test can see happen, so this
 * checks the word itself after every kind of stop: statistics, trim,
 * limits, peaks, a free on another thread (the inbox), and one on another
 * stream (a stop left in place). While the pool's caches are off, the word
 * holds TP_STOP_OFF too, which keeps the inline free (which does not read
 * `off`) out; back on, it must not. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pool/front_fast.h"
#include "tensorpool/pool.h"

#define OTHER_STREAM ((tp_stream)(uintptr_t)0x5170)

static void expect_base(tp_pool *pool, int extra, const char *after) {
  cr_assert_eq(tp_front_here.pool, pool, "this thread's cache is the pool's");
  tp_thread_cache *tc = tp_front_here.cache;
  int expected = (tp_front_asym ? 0 : TP_STOP_SYMMETRIC) | extra;
  cr_expect_eq(tc->stop_base, expected);
  cr_expect_eq(atomic_load(&tc->stop), expected, "after %s: stop %d", after,
               atomic_load(&tc->stop));
}

static void expect_open(tp_pool *pool, const char *after) {
  expect_base(pool, 0, after);
}

static void cycle(tp_pool *pool) {
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 64, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
}

/* A pool with caches, this thread's cache made, and a 64 B block live in
 * *live (its note in the cache). */
static tp_pool *pool_with_a_live_block(void **live) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS);
  cycle(pool);
  cr_assert_eq(tp_pool_alloc(pool, 64, NULL, live), TP_SUCCESS);
  return pool;
}

typedef struct elsewhere {
  tp_pool *pool;
  void *ptr;
  tp_stream stream;
} elsewhere;

static void *free_it(void *arg) {
  elsewhere *e = arg;
  cr_assert_eq(tp_pool_free(e->pool, e->ptr, e->stream), TP_SUCCESS);
  return NULL;
}

static void free_on_another_thread(tp_pool *pool, tp_stream stream) {
  elsewhere e = {pool, NULL, stream};
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &e.ptr), TP_SUCCESS);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_it, &e), 0);
  cr_assert_eq(pthread_join(t, NULL), 0);
}

static void every_kind_of_stop(void) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS);
  cycle(pool);
  expect_open(pool, "the cache was made");
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  expect_open(pool, "tp_pool_get_stats");
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cycle(pool);
  expect_open(pool, "tp_pool_trim");
  cr_assert_eq(tp_pool_set_limit(pool, (size_t)1 << 30), TP_SUCCESS);
  expect_open(pool, "tp_pool_set_limit");
  cr_assert_eq(tp_pool_reset_peaks(pool), TP_SUCCESS);
  expect_open(pool, "tp_pool_reset_peaks");
  cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0),
               TP_SUCCESS);
  expect_base(pool, TP_STOP_OFF, "the caches turned off");
  cycle(pool); /* the engine's, both */
  expect_base(pool, TP_STOP_OFF, "a call while off");
  cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                                     TP_POOL_THREAD_CACHE_DEFAULT),
               TP_SUCCESS);
  expect_open(pool, "the caches turned on again");
  cycle(pool);
  free_on_another_thread(pool, NULL); /* queued in this cache's inbox */
  cycle(pool);
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  expect_open(pool, "a free on another thread, taken back");
  free_on_another_thread(pool, OTHER_STREAM); /* a stop left in place */
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 2000, NULL, &p), TP_SUCCESS);
  expect_open(pool, "a free on another stream, then this thread's call");
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_forget_stream(pool, OTHER_STREAM), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(thread_cache_stop, back_to_its_base_after_every_stop) {
  every_kind_of_stop();
}

/* A block handed out while the caches were on and freed on its thread
 * after they went off goes to the engine: the inline free does not read
 * `off`. Turning caches off forgets their notes too (flush_above), so this
 * passes without TP_STOP_OFF in the mask as well; the dead cache below is
 * where TP_STOP_OFF alone keeps the inline path out. */
static void free_after_off(void) {
  void *p = NULL;
  tp_pool *pool = pool_with_a_live_block(&p);
  cr_assert_eq(tp_pool_set_attribute(pool, TP_POOL_ATTR_MAX_CACHED_BYTES,
                                     (uint64_t)1 << 30),
               TP_SUCCESS);
  expect_base(pool, TP_STOP_OFF, "a bound on cached bytes");
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  cr_expect_eq(s.thread_cached_blocks, 0, "%llu blocks parked while off",
               (unsigned long long)s.thread_cached_blocks);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.deallocations, s.allocations);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A destroyed pool's cache stays with its thread until the thread's next
 * call finds it dead, with its notes, whose cells were the pool's: a pool
 * made later at the same address must not lead the inline free to them,
 * and TP_STOP_OFF is what keeps it out. */
Test(thread_cache_stop, a_destroyed_pools_cache_is_shut_to_the_inline_path) {
  void *p = NULL;
  tp_pool *pool = pool_with_a_live_block(&p);
  tp_thread_cache *tc = tp_front_here.cache;
  /* Destroyed with `p` live, so that its note is there. */
  cr_assert_eq(tp_pool_destroy(pool), TP_ERR_LEAK);
  cr_assert_eq(tp_front_here.cache, tc, "kept until the thread's next call");
  cr_expect(tc->dead);
  int stop = atomic_load(&tc->stop);
  cr_expect(stop & TP_STOP_OFF, "stop %d", stop);
  cr_expect_not(tp_owner_enter_fast(tc), "the inline path entered");
}

Test(thread_cache_stop, a_free_after_the_caches_went_off_is_the_engines) {
  free_after_off();
}

Test(thread_cache_stop, a_free_after_off_with_full_fences) {
  cr_assert_eq(setenv("TP_ASYM_FENCE", "off", 1), 0);
  free_after_off();
}

/* Criterion runs each test in a process of its own, so the environment is
 * read afresh when this one makes its first cache. */
Test(thread_cache_stop, back_to_its_base_with_full_fences) {
  cr_assert_eq(setenv("TP_ASYM_FENCE", "off", 1), 0);
  every_kind_of_stop();
  cr_expect_not(tp_front_asym, "TP_ASYM_FENCE=off was read");
}
