/* The VMM space's logic on the host: a pool over vmm_space.c with a
 * simulated driver (tests/support/sim_vmm.c, which refuses any call CUDA's
 * driver would refuse) and the simulated space's streams and events.
 * Granule bookkeeping, mapping on growth, giving back free granules once
 * their stream's work is done (never waiting for it), taking a pending
 * give-back back, and running out of device memory. The CUDA table itself
 * (vmm_cuda.c) runs only on a GPU: see tests/device. */
#include <criterion/criterion.h>
#include <string.h>

#include "device/vmm_space.h"
#include "pool/pool_internal.h"
#include "sim_space.h"
#include "sim_vmm.h"
#include "tensorpool/device.h"
#include "tensorpool/pool.h"

#define KiB ((size_t)1 << 10)
#define GRANULE (64 * KiB)

static tp_sim *sim;
static tp_sim_vmm *drv;
static tp_space *space;
static tp_pool *pool;
static tp_stream s1, s2;

static void make(size_t capacity, tp_page_release policy) {
  sim = tp_sim_create(SIZE_MAX);
  drv = tp_sim_vmm_create(GRANULE, capacity);
  s1 = tp_sim_stream_create(sim);
  s2 = tp_sim_stream_create(sim);
  tp_vmm_space_settings vs = {GRANULE, 16 * GRANULE, TP_SPACE_OTHER, -1,
                              "vmm-test"};
  cr_assert_eq(tp_vmm_space_create_with(tp_sim_vmm_driver(drv),
                                        tp_sim_space(sim), &vs, &space),
               TP_SUCCESS, "%s", tp_last_error());
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.page_release = policy;
  c.page_release_delay = 1u << 30; /* only what a test asks for */
  cr_assert_eq(tp_pool_create(space, &c, &pool), TP_SUCCESS, "%s",
               tp_last_error());
}

static void finish(void) {
  char why[512];
  cr_expect_eq(tp_pool_validate(pool, why, sizeof why), 0, "%s", why);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_vmm_space_destroy_with(space), TP_SUCCESS, "%s",
               tp_last_error());
  tp_sim_vmm_counters c = tp_sim_vmm_get_counters(drv);
  cr_expect_eq(c.violations, 0, "the space broke a driver rule");
  cr_expect_eq(tp_sim_vmm_destroy(drv), 0, "granules or addresses leaked");
  tp_sim_complete_all(sim);
  cr_expect_eq(tp_sim_destroy(sim), 0);
}

static tp_vmm_counts counts(void) {
  tp_vmm_counts v;
  cr_assert(tp_vmm_space_counts(space, &v));
  return v;
}

Test(pool_vmm, granules_are_mapped_as_the_segment_grows) {
  make(SIZE_MAX, TP_PAGE_RELEASE_AGED);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 100 * KiB, s1, &a), TP_SUCCESS);
  tp_vmm_counts v = counts();
  cr_expect_eq(v.segments, 1);
  cr_expect_eq(v.mapped_bytes, 2 * GRANULE, "what the request needs");
  cr_expect_eq(v.reserved_bytes, 16 * GRANULE, "addresses for growth");
  cr_expect(tp_sim_vmm_mapped(drv, a, 100 * KiB));
  memset(a, 0x11, 100 * KiB);
  /* The next block does not fit: the segment grows in place. */
  cr_assert_eq(tp_pool_alloc(pool, 300 * KiB, s1, &b), TP_SUCCESS);
  cr_expect_eq((char *)b, (char *)a + 100 * KiB, "right after, same segment");
  v = counts();
  cr_expect_eq(v.segments, 1);
  cr_expect_eq(v.mapped_bytes, 7 * GRANULE);
  cr_expect(tp_sim_vmm_mapped(drv, b, 300 * KiB));
  memset(b, 0x22, 300 * KiB);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.segment_grows, 1);
  cr_expect_eq(s.reserved_bytes, 7 * GRANULE);
  tp_pool_free(pool, a, s1);
  tp_pool_free(pool, b, s1);
  finish();
}

Test(pool_vmm, free_granules_go_once_their_stream_is_done) {
  make(SIZE_MAX, TP_PAGE_RELEASE_AGED);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 64 * KiB, s1, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 640 * KiB, s1, &b), TP_SUCCESS);
  uint64_t use = tp_sim_enqueue(sim, s1); /* b still in use on s1 */
  cr_assert_eq(tp_pool_free(pool, b, s1), TP_SUCCESS);
  /* Trim gives the free granules back: an event on s1, no host wait. */
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cr_expect_eq(tp_sim_get_counters(sim).syncs, 0, "the host did not wait");
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_geq(s.decommitted_bytes, 9 * GRANULE);
  tp_vmm_counts v = counts();
  cr_expect_eq(v.pending_bytes, s.decommitted_bytes, "waiting for s1");
  cr_expect(tp_sim_vmm_mapped(drv, b, 640 * KiB), "still in use: mapped");
  /* s1 finishes: the next call of the space unmaps them. */
  tp_sim_complete(sim, s1, use);
  v = counts();
  cr_expect_eq(v.pending_bytes, 0);
  cr_expect_eq(v.mapped_bytes, s.reserved_bytes - s.decommitted_bytes);
  cr_expect_not(tp_sim_vmm_mapped(drv, (char *)b + GRANULE, GRANULE));
  /* Used again: mapped again before the pool hands it out. */
  void *c;
  cr_assert_eq(tp_pool_alloc(pool, 640 * KiB, s2, &c), TP_SUCCESS);
  cr_expect(tp_sim_vmm_mapped(drv, c, 640 * KiB));
  memset(c, 0x33, 640 * KiB);
  tp_pool_get_stats(pool, &s);
  cr_expect_geq(s.page_reuse_bytes, 9 * GRANULE);
  tp_pool_free(pool, a, s1);
  tp_pool_free(pool, c, s2);
  finish();
}

Test(pool_vmm, a_commit_takes_back_a_pending_give_back) {
  make(SIZE_MAX, TP_PAGE_RELEASE_AGED);
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 64 * KiB, s1, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 512 * KiB, s1, &b), TP_SUCCESS);
  tp_sim_enqueue(sim, s1);
  tp_pool_free(pool, b, s1);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  uint64_t unmaps = tp_sim_vmm_get_counters(drv).unmaps;
  /* Taken again on s1 before s1 finished: nothing is unmapped at all. */
  void *c;
  cr_assert_eq(tp_pool_alloc(pool, 512 * KiB, s1, &c), TP_SUCCESS);
  cr_expect_eq(c, b);
  tp_sim_complete_all(sim);
  tp_vmm_counts v = counts();
  cr_expect_geq(v.decommits_cancelled, 7);
  cr_expect_eq(tp_sim_vmm_get_counters(drv).unmaps, unmaps);
  cr_expect(tp_sim_vmm_mapped(drv, c, 512 * KiB));
  tp_pool_free(pool, a, s1);
  tp_pool_free(pool, c, s1);
  finish();
}

Test(pool_vmm, device_memory_exhaustion_gives_back_free_granules_first) {
  /* Six granules of device memory in all. */
  make(6 * GRANULE, TP_PAGE_RELEASE_ON_PRESSURE);
  void *a, *b, *c;
  cr_assert_eq(tp_pool_alloc(pool, 4 * GRANULE, s1, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, GRANULE, s1, &b), TP_SUCCESS);
  tp_pool_free(pool, a, s1); /* four granules free, still mapped */
  /* Five more granules: only one is left, so the pool gives back the four
   * free ones (after waiting for s1, as it must before failing) and gets
   * what it needs. */
  cr_assert_eq(tp_pool_alloc(pool, 5 * GRANULE, s2, &c), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect(tp_sim_vmm_mapped(drv, c, 5 * GRANULE));
  tp_sim_vmm_counters d = tp_sim_vmm_get_counters(drv);
  cr_expect_leq(d.handles_alive, 6);
  /* And a request nothing can help fails with the figures. */
  void *e;
  cr_expect_eq(tp_pool_alloc(pool, 4 * GRANULE, s2, &e), TP_ERR_OUT_OF_MEMORY);
  cr_expect_not_null(strstr(tp_last_error(), "largest free block"), "%s",
                     tp_last_error());
  tp_pool_free(pool, b, s1);
  tp_pool_free(pool, c, s2);
  finish();
}

Test(pool_vmm, destroying_a_space_under_a_pool_is_refused) {
  make(SIZE_MAX, TP_PAGE_RELEASE_AGED);
  void *a;
  cr_assert_eq(tp_pool_alloc(pool, 1000, s1, &a), TP_SUCCESS);
  cr_expect_eq(tp_vmm_space_destroy_with(space), TP_ERR_BUSY);
  cr_expect_not_null(strstr(tp_last_error(), "nothing was done"));
  cr_expect(tp_sim_vmm_mapped(drv, a, 1000), "the segment is intact");
  tp_pool_free(pool, a, s1);
  finish();
}

/* The public entry: arguments first, then the device (none here, or the
 * build has no CUDA). */
Test(pool_vmm, device_vmm_space_without_a_gpu) {
  cr_expect_eq(tp_device_vmm_space_create(0, NULL), TP_ERR_INVALID_ARGUMENT);
  int count = 0;
  tp_device_count(&count);
  tp_space *s = (tp_space *)1;
  tp_status st = tp_device_vmm_space_create(count, &s);
  cr_expect_eq(st, TP_ERR_NO_DEVICE, "device %d of %d: %s", count, count,
               tp_status_name(st));
  cr_expect_null(s);
  cr_expect_eq(tp_device_vmm_space_destroy(NULL), TP_SUCCESS);
}
