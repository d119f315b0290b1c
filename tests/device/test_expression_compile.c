/* NVRTC expressions: compile errors, indices beyond the rank and the cache.
 * Compiling to PTX needs no GPU, so these run on any CUDA build. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>

#include "device_test.h"
#include "tensorpool/device_fill.h"

static tp_expression_cache_stats stats_now(void) {
  tp_expression_cache_stats s = TP_EXPRESSION_CACHE_STATS_INIT;
  cr_assert_eq(tp_device_expression_cache_stats(&s), TP_SUCCESS);
  return s;
}

#if TP_HAVE_CUDA
#define require_nvrtc()
#else
#define require_nvrtc()                                                        \
  cr_skip_test("built without CUDA: NVRTC is not available")
#endif

Test(expression, compiles_and_is_cached_once) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  cr_assert_eq(
      tp_device_expression_compile("sin(0.1*i0) + i1", TP_DTYPE_F32, 2),
      TP_SUCCESS, "%s", tp_last_error());
  tp_expression_cache_stats first = stats_now();
  cr_expect_eq(first.compiles, before.compiles + 1);
  cr_expect_eq(first.entries, before.entries + 1);
  cr_assert_eq(
      tp_device_expression_compile("sin(0.1*i0) + i1", TP_DTYPE_F32, 2),
      TP_SUCCESS);
  tp_expression_cache_stats second = stats_now();
  cr_expect_eq(second.compiles, first.compiles, "the same key compiles once");
  cr_expect_eq(second.hits, first.hits + 1);
}

Test(expression, key_includes_type_and_rank) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_F64, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_I32, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_C128, 2),
               TP_SUCCESS);
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.compiles, before.compiles + 3);
  cr_expect_eq(after.entries, before.entries + 3);
  cr_expect_eq(after.hits, before.hits);
}

Test(expression, every_type_compiles) {
  require_nvrtc();
  for (int d = 0; d < TP_DTYPE_COUNT; ++d)
    cr_expect_eq(tp_device_expression_compile("exp(-0.5*i0*i0) * i2 + i1 % 3",
                                              (tp_dtype)d, 3),
                 TP_SUCCESS, "%s: %s", tp_dtype_name((tp_dtype)d),
                 tp_last_error());
}

Test(expression, compile_error_carries_the_log) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  cr_expect_eq(
      tp_device_expression_compile("sin(0.1*i0) + nosuch(i1)", TP_DTYPE_F64, 2),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("does not compile");
  expect_message("nosuch");
  expect_message("undefined");
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.failures, before.failures + 1);
  cr_expect_eq(after.entries, before.entries, "failures are not cached");
  /* The cache still works after a failure. */
  cr_expect_eq(tp_device_expression_compile("i0 * 2.5", TP_DTYPE_F64, 2),
               TP_SUCCESS);
}

Test(expression, index_beyond_rank_rejected_before_compiling) {
  tp_expression_cache_stats before = stats_now();
  cr_expect_eq(
      tp_device_expression_compile("sin(0.1*i0) + i3", TP_DTYPE_F32, 2),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("i3");
  expect_message("2 dimensions");
  cr_expect_eq(tp_device_expression_compile("i0", TP_DTYPE_F32, 0),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("0 dimensions");
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.compiles, before.compiles, "no compiler was run");
}

Test(expression, names_that_only_look_like_indices_are_fine) {
  require_nvrtc();
  /* 1e3 and 0x1f are numbers, not index names; i10 is an index beyond
   * rank 2 even though it starts with i1. */
  cr_expect_eq(tp_device_expression_compile("i1 * 1e3 + 0x1f", TP_DTYPE_F64, 2),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_device_expression_compile("i0 + i10", TP_DTYPE_F64, 2),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("i10");
}

Test(expression, not_a_single_expression) {
  cr_expect_eq(tp_device_expression_compile("i0; }", TP_DTYPE_F32, 1),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("single expression");
  cr_expect_eq(tp_device_expression_compile("   ", TP_DTYPE_F32, 1),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("empty");
  cr_expect_eq(tp_device_expression_compile(NULL, TP_DTYPE_F32, 1),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(
      tp_device_expression_compile("i0", TP_DTYPE_F32, TP_MAX_NDIM + 1),
      TP_ERR_INVALID_ARGUMENT);
}

Test(expression, unknown_dtype) {
  require_nvrtc();
  cr_expect_eq(tp_device_expression_compile("i0", (tp_dtype)99, 1),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("dtype 99");
}

Test(expression, fill_checks_the_rank_without_a_device) {
  int64_t extents[2] = {3, 3};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F32, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  float storage[9];
  cr_expect_eq(
      tp_device_fill_expression(0, storage, &layout, &tile, "i0 + i2", NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_fill_expression");
  expect_message("i2");
}

enum { THREADS = 4 };

static void *compile_same(void *arg) {
  (void)arg;
  tp_status st =
      tp_device_expression_compile("cos(i0 * 0.25) * 7", TP_DTYPE_F64, 1);
  return (void *)(intptr_t)st;
}

Test(expression, concurrent_requests_compile_once) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; ++t)
    cr_assert_eq(pthread_create(&threads[t], NULL, compile_same, NULL), 0);
  for (int t = 0; t < THREADS; ++t) {
    void *result = NULL;
    pthread_join(threads[t], &result);
    cr_expect_eq((tp_status)(intptr_t)result, TP_SUCCESS);
  }
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.compiles, before.compiles + 1);
  cr_expect_eq(after.hits, before.hits + THREADS - 1);
}

Test(expression, clear_forgets_the_kernels) {
  require_nvrtc();
  cr_assert_eq(tp_device_expression_compile("i0 - 1", TP_DTYPE_I64, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_cache_clear(), TP_SUCCESS);
  tp_expression_cache_stats cleared = stats_now();
  cr_expect_eq(cleared.entries, 0);
  cr_assert_eq(tp_device_expression_compile("i0 - 1", TP_DTYPE_I64, 1),
               TP_SUCCESS);
  cr_expect_eq(stats_now().compiles, cleared.compiles + 1);
}
