/* Versioned structs: the library reads and writes only the fields the
 * caller's struct_size covers, and refuses a struct that was never
 * initialized with its INIT macro. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "tensorpool/allocator.h"
#include "tensorpool/pool.h"

Test(versioned, an_uninitialized_config_is_refused_before_anything_happens) {
  tp_pool_config config;
  memset(&config, 0, sizeof config);
  tp_pool *pool = (tp_pool *)0x1;
  cr_expect_eq(tp_pool_create(tp_host_space(), &config, &pool),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_POOL_CONFIG_INIT"), "%s",
                     tp_last_error());
  cr_expect_null(pool, "the out-pointer is cleared, no pool was made");

  tp_runtime_config rc;
  memset(&rc, 0, sizeof rc);
  tp_runtime *rt = NULL;
  cr_expect_eq(tp_runtime_create(&rc, &rt), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_RUNTIME_CONFIG_INIT"));
  cr_expect_null(rt);
}

Test(versioned, an_older_config_is_read_only_as_far_as_it_goes) {
  /* A caller built when the struct ended before `limit`: whatever lies
   * beyond its struct_size is not the caller's and must not be read. */
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.struct_size = offsetof(tp_pool_config, limit);
  config.limit = 1; /* garbage as far as that caller is concerned */
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS,
               "%s", tp_last_error());
  void *p = NULL;
  cr_expect_eq(tp_pool_alloc(pool, 1 << 20, NULL, &p), TP_SUCCESS,
               "the default (no limit) applies: %s", tp_last_error());
  tp_pool_free(pool, p, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(versioned, an_older_output_struct_is_written_only_as_far_as_it_goes) {
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &pool), TP_SUCCESS);
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &p), TP_SUCCESS);
  tp_pool_stats s;
  memset(&s, 0xA5, sizeof s);
  s.struct_size = offsetof(tp_pool_stats, bytes_allocated);
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  cr_expect_eq(s.struct_size, offsetof(tp_pool_stats, bytes_allocated));
  cr_expect_eq(s.allocations, 1);
  cr_expect_eq(s.deallocations, 0);
  uint64_t untouched;
  memset(&untouched, 0xA5, sizeof untouched);
  cr_expect_eq(s.bytes_allocated, untouched, "beyond struct_size: untouched");
  cr_expect_eq(s.live_blocks, untouched);

  tp_pool_stats blank;
  memset(&blank, 0, sizeof blank);
  cr_expect_eq(tp_pool_get_stats(pool, &blank), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_POOL_STATS_INIT"));
  cr_expect_eq(blank.allocations, 0, "nothing written");
  tp_pool_free(pool, p, NULL);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(versioned, a_space_table_without_struct_size_is_refused) {
  tp_space_ops ops = *tp_host_space()->ops;
  ops.struct_size = 0;
  tp_space space = *tp_host_space();
  space.ops = &ops;
  tp_pool *pool = NULL;
  cr_expect_eq(tp_pool_create(&space, NULL, &pool), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_SPACE_OPS_INIT"));
}
