/* The pool engine over device and pinned memory: reuse on a stream, taking
 * another stream's block, limits, the cudaMallocAsync upstream. GPU only. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device_test.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"
#include "tensorpool/pool.h"

static void teardown(void) {
  tp_device_pool_config defaults = TP_DEVICE_POOL_CONFIG_INIT;
  tp_device_pools_configure(&defaults);
  tp_device_pools_destroy();
}

TestSuite(device_pool, .fini = teardown);

/* Copies `count` floats of device memory back and synchronizes. */
static void read_back(void *host, const void *device_ptr, size_t bytes,
                      tp_stream stream) {
  cr_assert_eq(tp_device_memcpy(0, host, device_ptr, bytes, stream), TP_SUCCESS,
               "%s", tp_last_error());
  cr_assert_eq(tp_device_stream_synchronize(0, stream), TP_SUCCESS);
}

Test(device_pool, memory_info_is_plausible) {
  require_device();
  size_t free_bytes = 0, total = 0;
  cr_assert_eq(tp_device_memory_info(0, &free_bytes, &total), TP_SUCCESS);
  cr_expect_gt(total, 0);
  cr_expect_leq(free_bytes, total);
}

Test(device_pool, same_stream_reuses_the_block) {
  require_device();
  tp_pool *pool = NULL;
  cr_assert_eq(tp_device_pool(0, &pool), TP_SUCCESS, "%s", tp_last_error());
  tp_pool *again = NULL;
  cr_assert_eq(tp_device_pool(0, &again), TP_SUCCESS);
  cr_expect_eq(again, pool, "one shared pool per device");
  cr_expect_eq(tp_pool_space(pool)->kind, TP_SPACE_DEVICE);
  tp_stream s = NULL;
  cr_assert_eq(tp_device_stream_create(0, &s), TP_SUCCESS);
  void *p = NULL, *q = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 1000, s, &p), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_eq((uintptr_t)p % 256, 0);
  float seven = 7.0f;
  cr_assert_eq(tp_device_fill_constant(0, p, TP_DTYPE_F32, 250, &seven, s),
               TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, s), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 1000, s, &q), TP_SUCCESS);
  cr_expect_eq(q, p, "a block freed on a stream is reused on it at once");
  float host[250];
  read_back(host, q, sizeof host, s);
  cr_expect_eq(host[249], 7.0f);
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &stats), TP_SUCCESS);
  cr_expect_eq(stats.hits, 1);
  cr_expect_eq(stats.misses, 1);
  cr_expect_eq(stats.cross_stream_takes, 0);
  cr_assert_eq(tp_pool_free(pool, q, s), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_destroy(0, s), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_eq(tp_device_pools_destroy(), TP_SUCCESS, "%s", tp_last_error());
}

Test(device_pool, another_stream_waits_for_the_last_use) {
  require_device();
  tp_pool *pool = NULL;
  cr_assert_eq(tp_device_pool(0, &pool), TP_SUCCESS);
  tp_stream s1 = NULL, s2 = NULL;
  cr_assert_eq(tp_device_stream_create(0, &s1), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_create(0, &s2), TP_SUCCESS);
  const size_t count = 1 << 22; /* long enough to still run at the take */
  void *p = NULL, *q = NULL;
  cr_assert_eq(tp_pool_alloc(pool, count * 4, s1, &p), TP_SUCCESS);
  int32_t value = 12345;
  cr_assert_eq(tp_device_fill_constant(0, p, TP_DTYPE_I32, count, &value, s1),
               TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, s1), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, count * 4, s2, &q), TP_SUCCESS);
  cr_expect_eq(q, p);
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &stats), TP_SUCCESS);
  cr_expect_eq(stats.cross_stream_takes, 1);
  /* s2 was made to wait for s1's fill: its copy sees the whole fill. */
  int32_t *host = malloc(count * 4);
  cr_assert_not_null(host);
  read_back(host, q, count * 4, s2);
  cr_expect_eq(host[0], value);
  cr_expect_eq(host[count - 1], value);
  free(host);
  cr_assert_eq(tp_pool_free(pool, q, s2), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_destroy(0, s1), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_destroy(0, s2), TP_SUCCESS);
}

Test(device_pool, limit_smaller_than_the_request) {
  require_device();
  tp_pool_config pool_config = TP_POOL_CONFIG_INIT;
  pool_config.limit = (size_t)1 << 20;
  tp_device_pool_config config = TP_DEVICE_POOL_CONFIG_INIT;
  config.pool = &pool_config;
  cr_assert_eq(tp_device_pools_configure(&config), TP_SUCCESS);
  tp_pool *pool = NULL;
  cr_assert_eq(tp_device_pool(0, &pool), TP_SUCCESS);
  void *kept = NULL, *p = (void *)0x1;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &kept), TP_SUCCESS);
  cr_expect_eq(tp_pool_alloc(pool, (size_t)2 << 20, NULL, &p),
               TP_ERR_OUT_OF_MEMORY);
  expect_message("2097152");
  cr_expect_eq(p, (void *)0x1, "out-pointer untouched");
  /* The pool and the live block are intact. */
  size_t size = 0;
  cr_expect_eq(tp_pool_block_size(pool, kept, &size), TP_SUCCESS);
  cr_expect_geq(size, 4096);
  void *small = NULL;
  cr_expect_eq(tp_pool_alloc(pool, 1000, NULL, &small), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, small, NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, kept, NULL), TP_SUCCESS);
}

Test(device_pool, async_upstream_serves_and_releases) {
  require_device();
  tp_device_space_config space_config = TP_DEVICE_SPACE_CONFIG_INIT;
  space_config.upstream = TP_DEVICE_UPSTREAM_MALLOC_ASYNC;
  tp_space *space = NULL;
  tp_status st = tp_device_space_create(0, &space_config, &space);
  if (st == TP_ERR_NOT_SUPPORTED)
    cr_skip_test("device 0 has no cudaMallocAsync pools: %s", tp_last_error());
  cr_assert_eq(st, TP_SUCCESS, "%s", tp_last_error());
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(space, NULL, &pool), TP_SUCCESS);
  tp_stream s = NULL;
  cr_assert_eq(tp_device_stream_create(0, &s), TP_SUCCESS);
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 3 << 20, s, &p), TP_SUCCESS, "%s",
               tp_last_error());
  double pi = 3.25;
  cr_assert_eq(
      tp_device_fill_constant(0, p, TP_DTYPE_F64, (3 << 20) / 8, &pi, s),
      TP_SUCCESS);
  double back = 0;
  read_back(&back, (char *)p + (3 << 20) - 8, 8, s);
  cr_expect_eq(back, 3.25);
  cr_assert_eq(tp_pool_free(pool, p, s), TP_SUCCESS);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS, "%s", tp_last_error());
  tp_pool_stats stats = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &stats), TP_SUCCESS);
  cr_expect_eq(stats.upstream_gets, 1);
  cr_expect_eq(stats.upstream_puts, 1);
  cr_expect_eq(stats.reserved_bytes, 0);
  cr_assert_eq(tp_pool_forget_stream(pool, s), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
  cr_expect_eq(tp_device_stream_destroy(0, s), TP_SUCCESS);
  cr_expect_eq(tp_device_space_destroy(space), TP_SUCCESS);
}

Test(device_pool, pinned_memory_round_trip) {
  require_device();
  tp_pool *pinned = NULL, *device = NULL;
  cr_assert_eq(tp_pinned_pool(0, &pinned), TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_device_pool(0, &device), TP_SUCCESS);
  cr_expect_eq(tp_pool_space(pinned)->kind, TP_SPACE_PINNED);
  tp_stream s = NULL;
  cr_assert_eq(tp_device_stream_create(0, &s), TP_SUCCESS);
  const size_t n = 4096;
  int64_t *host = NULL, *dev = NULL;
  cr_assert_eq(tp_pool_alloc(pinned, n * 8, s, (void **)&host), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(device, n * 8, s, (void **)&dev), TP_SUCCESS);
  for (size_t i = 0; i < n; ++i)
    host[i] = (int64_t)(i * 3) - 7;
  cr_assert_eq(tp_device_memcpy(0, dev, host, n * 8, s), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_synchronize(0, s), TP_SUCCESS);
  memset(host, 0, n * 8);
  read_back(host, dev, n * 8, s);
  for (size_t i = 0; i < n; ++i)
    cr_assert_eq(host[i], (int64_t)(i * 3) - 7, "element %zu", i);
  cr_assert_eq(tp_pool_free(pinned, host, s), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(device, dev, s), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_destroy(0, s), TP_SUCCESS);
  cr_expect_eq(tp_device_pools_destroy(), TP_SUCCESS);
}

Test(device_pool, destroy_reports_live_blocks) {
  require_device();
  tp_pool *pool = NULL;
  cr_assert_eq(tp_device_pool(0, &pool), TP_SUCCESS);
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 512, NULL, &p), TP_SUCCESS);
  cr_expect_eq(tp_device_pools_destroy(), TP_ERR_LEAK);
  /* A fresh pool is created on the next request. */
  tp_pool *fresh = NULL;
  cr_expect_eq(tp_device_pool(0, &fresh), TP_SUCCESS);
}
