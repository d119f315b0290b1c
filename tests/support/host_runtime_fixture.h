/* The fixture shared by the host allocator and buffer tests: one runtime
 * (one process), the host allocators of each kind, small layouts, and the
 * host pool's statistics. Header-only: Criterion's asserts belong in the
 * test executables, not in tp_test_support. */
#ifndef TP_TEST_HOST_RUNTIME_FIXTURE_H
#define TP_TEST_HOST_RUNTIME_FIXTURE_H

#include <criterion/criterion.h>

#include "tensorpool/allocator.h"

static tp_runtime *rt;

static void setup(void) {
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
}
static void teardown(void) {
  cr_assert_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}

static tp_allocator *host(tp_buffer_kind kind) {
  tp_allocator *a;
  cr_assert_eq(tp_runtime_allocator(rt, TP_SPACE_HOST, kind, &a), TP_SUCCESS);
  return a;
}

static tp_layout matrix(tp_dtype dtype, int64_t rows, int64_t cols) {
  int64_t ext[2] = {rows, cols};
  tp_layout l;
  cr_assert_eq(tp_layout_make(dtype, 2, ext, &l), TP_SUCCESS);
  return l;
}

static tp_pool_stats stats(void) {
  tp_pool *pool;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_HOST, &pool), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  return s;
}

#endif
