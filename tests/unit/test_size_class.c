/* Size classes: every request fits its class, waste stays under 1/divisions,
 * classes are 256-byte multiples, and sizes past the largest class fail. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "pool/size_class.h"
#include "tensorpool/pool.h"

Test(size_class, rejects_divisions_that_are_not_powers_of_two) {
  tp_size_classes sc;
  cr_expect_not(tp_size_classes_init(&sc, 0));
  cr_expect_not(tp_size_classes_init(&sc, 3));
  cr_expect_not(tp_size_classes_init(&sc, 32));
  cr_expect(tp_size_classes_init(&sc, 1));
  cr_expect(tp_size_classes_init(&sc, 16));
}

static void check_divisions(unsigned d) {
  tp_size_classes sc;
  cr_assert(tp_size_classes_init(&sc, d));
  size_t previous = 0;
  /* Every class is larger than the previous one, 256-aligned, and the
   * class of its own size is itself. */
  for (unsigned c = 0; c < sc.count; c++) {
    size_t bytes = tp_size_class_bytes(&sc, c);
    cr_assert_gt(bytes, previous, "d=%u class %u", d, c);
    cr_assert_eq(bytes % 256, 0);
    cr_assert_eq(tp_size_class_of(&sc, bytes), c, "d=%u class %u", d, c);
    cr_assert_eq(tp_size_class_of(&sc, previous + 1), c, "d=%u class %u", d, c);
    previous = bytes;
  }
  cr_assert_eq(previous, sc.max_bytes);
  /* Waste bound: for requests above d units, class < request * (1 + 1/d). */
  for (size_t bytes = 1; bytes < ((size_t)1 << 40); bytes = bytes * 3 / 2 + 7) {
    size_t cls_bytes = tp_size_class_bytes(&sc, tp_size_class_of(&sc, bytes));
    cr_assert_geq(cls_bytes, bytes);
    if (bytes > (size_t)d * 256)
      cr_assert_leq((double)cls_bytes, (double)bytes * (1.0 + 1.0 / d),
                    "d=%u bytes=%zu class=%zu", d, bytes, cls_bytes);
  }
}

Test(size_class, classes_are_monotone_aligned_and_bounded_in_waste) {
  for (unsigned d = 1; d <= 16; d *= 2)
    check_divisions(d);
}

Test(size_class, default_pool_classes_match_the_documented_examples) {
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &pool), TP_SUCCESS);
  size_t got;
  const size_t cases[][2] = {{1, 256},     {256, 256},        {257, 512},
                             {1024, 1024}, {1025, 1280},      {1281, 1536},
                             {5000, 5120}, {1000000, 1048576}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_eq(tp_pool_class_size(pool, cases[i][0], &got), TP_SUCCESS);
    cr_expect_eq(got, cases[i][1], "%zu -> %zu, expected %zu", cases[i][0], got,
                 cases[i][1]);
  }
  cr_expect_eq(tp_pool_class_size(pool, SIZE_MAX, &got), TP_ERR_OVERFLOW);
  cr_expect_eq(tp_pool_class_size(pool, SIZE_MAX - 255, &got), TP_ERR_OVERFLOW);
  cr_expect_eq(tp_pool_class_size(pool, 0, &got), TP_ERR_INVALID_ARGUMENT);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}
