/* The fixture shared by the host allocator and buffer tests: one runtime
 * (one process), the host allocators of each kind, small layouts, and the
 * host pool's statistics. Header-only: Criterion's asserts belong in the
 * test executables, not in tp_test_support.
 *
 * With TP_TEST_PRETEND_DEVICE set (tests/CMakeLists.txt runs these tests
 * again that way) the runtime has the tests' pretend device
 * (pretend_device.h), whose memory the host cannot read: the tests must
 * hold with and without a device, as on a GPU machine. */
#ifndef TP_TEST_HOST_RUNTIME_FIXTURE_H
#define TP_TEST_HOST_RUNTIME_FIXTURE_H

#include <criterion/criterion.h>

#include "pretend_device.h"
#include "tensorpool/allocator.h"

static tp_runtime *rt;

static void setup(void) {
  int pretend = tp_pretend_device_from_env();
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS, "%s", tp_last_error());
  /* A pretend run that silently got no device would prove nothing. */
  if (pretend)
    cr_assert(tp_runtime_has_backend(rt, TP_SPACE_DEVICE),
              "TP_TEST_PRETEND_DEVICE is set but the runtime has no device");
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
