/* Device calls with bad input, and without a device: each returns its status
 * and a message naming the call. Most of these run on any machine. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

#include "device_test.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"

Test(device_errors, count_needs_an_out_pointer) {
  cr_expect_eq(tp_device_count(NULL), TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_count");
}

Test(device_errors, calls_without_a_device_say_so) {
  require_no_device();
  size_t free_bytes = 1, total = 1;
  cr_expect_eq(tp_device_memory_info(0, &free_bytes, &total), TP_ERR_NO_DEVICE);
  expect_message("tp_device_memory_info");
  expect_message("no CUDA device");
  cr_expect_eq(free_bytes, 1, "out-pointers untouched on failure");

  tp_pool *pool = NULL;
  cr_expect_eq(tp_device_pool(0, &pool), TP_ERR_NO_DEVICE);
  expect_message("tp_device_pool");
  cr_expect_null(pool);
  cr_expect_eq(tp_pinned_pool(0, &pool), TP_ERR_NO_DEVICE);
  expect_message("tp_pinned_pool");

  tp_space *space = NULL;
  cr_expect_eq(tp_device_space_create(0, NULL, &space), TP_ERR_NO_DEVICE);
  expect_message("tp_device_space_create");
  cr_expect_eq(tp_pinned_space_create(0, &space), TP_ERR_NO_DEVICE);
  expect_message("tp_pinned_space_create");
  cr_expect_null(space);

  tp_stream stream = NULL;
  cr_expect_eq(tp_device_stream_create(0, &stream), TP_ERR_NO_DEVICE);
  expect_message("tp_device_stream_create");
  cr_expect_eq(tp_device_stream_synchronize(0, NULL), TP_ERR_NO_DEVICE);
  expect_message("tp_device_stream_synchronize");

  char a[16] = {0}, b[16] = {0};
  cr_expect_eq(tp_device_memcpy(0, a, b, sizeof a, NULL), TP_ERR_NO_DEVICE);
  expect_message("tp_device_memcpy");

  float dst[4] = {0}, one = 1.0f;
  cr_expect_eq(tp_device_fill_constant(0, dst, TP_DTYPE_F32, 4, &one, NULL),
               TP_ERR_NO_DEVICE);
  expect_message("tp_device_fill_constant");
  cr_expect_eq(dst[0], 0.0f, "nothing was written");
}

Test(device_errors, device_id_out_of_range) {
  int count = 0;
  cr_assert_eq(tp_device_count(&count), TP_SUCCESS);
  size_t free_bytes = 0, total = 0;
  cr_expect_eq(tp_device_memory_info(count + 3, &free_bytes, &total),
               TP_ERR_NO_DEVICE);
  expect_message("tp_device_memory_info");
  char id[16];
  snprintf(id, sizeof id, "%d", count + 3);
  expect_message(id);
  cr_expect_eq(tp_device_memory_info(-1, &free_bytes, &total),
               TP_ERR_NO_DEVICE);
  expect_message("-1");
  tp_pool *pool = NULL;
  cr_expect_eq(tp_device_pool(count, &pool), TP_ERR_NO_DEVICE);
  cr_expect_null(pool);
  tp_stream stream = NULL;
  cr_expect_eq(tp_device_stream_create(-2, &stream), TP_ERR_NO_DEVICE);
  expect_message("-2");
}

Test(device_errors, null_out_pointers) {
  size_t value = 0;
  cr_expect_eq(tp_device_memory_info(0, NULL, &value), TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL");
  cr_expect_eq(tp_device_pool(0, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_device_space_create(0, NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pinned_space_create(0, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_device_stream_create(0, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_device_expression_cache_stats(NULL), TP_ERR_INVALID_ARGUMENT);
}

Test(device_errors, bad_configurations) {
  tp_device_space_config space_config = TP_DEVICE_SPACE_CONFIG_INIT;
  space_config.upstream = (tp_device_upstream)7;
  tp_space *space = NULL;
  cr_expect_eq(tp_device_space_create(0, &space_config, &space),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("upstream 7");
  cr_expect_null(space);

  tp_device_pool_config pool_config = TP_DEVICE_POOL_CONFIG_INIT;
  pool_config.upstream = (tp_device_upstream)-1;
  cr_expect_eq(tp_device_pools_configure(&pool_config),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_pools_configure");
  cr_expect_eq(tp_device_pools_configure(NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_device_space_destroy((tp_space *)tp_host_space()),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("is not a device space");
  cr_expect_eq(tp_pinned_space_destroy((tp_space *)tp_host_space()),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("is not a pinned space");
}

/* The same argument checks with and without CUDA in the build, before the
 * device check: bad input is TP_ERR_INVALID_ARGUMENT everywhere. */
Test(device_errors, memcpy_checks_its_arguments_before_the_device) {
  char buffer[8] = {0};
  cr_expect_eq(tp_device_memcpy(0, NULL, buffer, 4, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL pointer");
  cr_expect_eq(tp_device_memcpy(-5, buffer, NULL, 4, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_memcpy");
  cr_expect_eq(tp_device_memcpy(-5, NULL, NULL, 0, NULL), TP_SUCCESS,
               "zero bytes is nothing to do");
  int count = 0;
  cr_assert_eq(tp_device_count(&count), TP_SUCCESS);
  cr_expect_eq(tp_device_memcpy(count, buffer, buffer + 4, 4, NULL),
               TP_ERR_NO_DEVICE);
}

Test(device_errors, pools_configure_refuses_a_limit_of_zero) {
  tp_pool_config pool = TP_POOL_CONFIG_INIT;
  pool.limit = 0;
  tp_device_pool_config config = TP_DEVICE_POOL_CONFIG_INIT;
  config.pool = &pool;
  cr_expect_eq(tp_device_pools_configure(&config), TP_ERR_INVALID_ARGUMENT);
  expect_message("limit of 0");
  pool.limit = TP_UNLIMITED;
  cr_expect_eq(tp_device_pools_configure(&config), TP_SUCCESS);
}

Test(device_errors, default_stream_cannot_be_destroyed) {
  cr_expect_eq(tp_device_stream_destroy(0, NULL), TP_ERR_INVALID_ARGUMENT);
  expect_message("default");
}

Test(device_errors, fill_arguments_checked_before_the_device) {
  float one = 1.0f;
  float storage[8];
  cr_expect_eq(tp_device_fill_constant(0, storage, (tp_dtype)42, 4, &one, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("dtype 42");
  cr_expect_eq(tp_device_fill_constant(0, NULL, TP_DTYPE_F32, 4, &one, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL destination");
  cr_expect_eq(tp_device_fill_constant(0, storage, TP_DTYPE_F32, 4, NULL, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL value");
  char *misaligned = (char *)storage + 2;
  cr_expect_eq(
      tp_device_fill_constant(0, misaligned, TP_DTYPE_F32, 2, &one, NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("not aligned");
}

Test(device_errors, generator_fill_checks_layout_tile_and_generator) {
  int64_t extents[2] = {4, 5};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  double storage[20];
  tp_generator gen = tp_generator_arange(0.0, 1.0);
  cr_expect_eq(tp_device_fill_generator(0, storage, NULL, &tile, &gen, NULL),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_device_fill_generator(0, storage, &layout, &tile, NULL, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL generator");
  tp_tile outside = tile;
  outside.offsets[1] = 2; /* 2 + 5 > 5 */
  cr_expect_eq(
      tp_device_fill_generator(0, storage, &layout, &outside, &gen, NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("axis 1");
  tp_tile miscounted = tile;
  miscounted.count = 19;
  cr_expect_eq(
      tp_device_fill_generator(0, storage, &layout, &miscounted, &gen, NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("count 19");
  tp_generator bad = tp_generator_uniform(1, 2.0, 1.0); /* lo > hi */
  cr_expect_eq(tp_device_fill_generator(0, storage, &layout, &tile, &bad, NULL),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_fill_generator");
}
