/* Helpers shared by the device tests: skipping without a GPU, and checking
 * messages. */
#ifndef TP_TESTS_DEVICE_TEST_H
#define TP_TESTS_DEVICE_TEST_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tensorpool/device.h"

/* The failure message contains `fragment`. */
#define expect_message(fragment)                                               \
  cr_expect_not_null(strstr(tp_last_error(), fragment), "message was: %s",     \
                     tp_last_error())

/* TP_TEST_REQUIRE_DEVICE=1 in the environment (scripts/gpu_check.sh sets
 * it): a test that needs a GPU fails without one instead of skipping, so that
 * a run on the GPU machine cannot pass by skipping everything. */
static inline int device_required(void) {
  const char *value = getenv("TP_TEST_REQUIRE_DEVICE");
  return value != NULL && strcmp(value, "1") == 0;
}

/* Skips the calling test, saying why, when there is no usable GPU (fails
 * instead under TP_TEST_REQUIRE_DEVICE=1). */
#define require_device()                                                       \
  do {                                                                         \
    int device_count_ = 0;                                                     \
    cr_assert_eq(tp_device_count(&device_count_), TP_SUCCESS);                 \
    if (device_count_ == 0 && device_required())                               \
      cr_assert_fail("no CUDA device here (tp_device_count gave 0) but "       \
                     "TP_TEST_REQUIRE_DEVICE=1: this test must run on a GPU"); \
    if (device_count_ == 0)                                                    \
      cr_skip_test("no CUDA device here (tp_device_count gave 0): this test "  \
                   "needs a GPU");                                             \
  } while (0)

/* Skips the calling test when a GPU is present (for no-device paths). */
#define require_no_device()                                                    \
  do {                                                                         \
    int device_count_ = 0;                                                     \
    cr_assert_eq(tp_device_count(&device_count_), TP_SUCCESS);                 \
    if (device_count_ > 0)                                                     \
      cr_skip_test("a CUDA device is present: the no-device path cannot be "   \
                   "exercised here");                                          \
  } while (0)

#endif
