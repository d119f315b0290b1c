#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/layout.h"

Test(layout, element_sizes_and_names) {
  cr_expect_eq(tp_dtype_size(TP_DTYPE_F32), 4);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_F64), 8);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_C64), 8);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_C128), 16);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_I32), 4);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_I64), 8);
  cr_expect_eq(tp_dtype_size((tp_dtype)42), 0);
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_C128), "c128");
  cr_expect_str_eq(tp_dtype_name((tp_dtype)42), "invalid");
}

Test(layout, counts_and_bytes_of_every_rank_up_to_eight) {
  int64_t ext[TP_MAX_NDIM] = {2, 3, 1, 4, 2, 1, 3, 2};
  size_t expect = 1;
  for (int rank = 0; rank <= TP_MAX_NDIM; ++rank) {
    tp_layout l;
    cr_assert_eq(tp_layout_make(TP_DTYPE_C64, rank, ext, &l), TP_SUCCESS);
    size_t n, b;
    cr_assert_eq(tp_layout_count(&l, &n), TP_SUCCESS);
    cr_assert_eq(tp_layout_bytes(&l, &b), TP_SUCCESS);
    cr_expect_eq(n, expect, "rank %d", rank);
    cr_expect_eq(b, expect * 8);
    if (rank < TP_MAX_NDIM)
      expect *= (size_t)ext[rank];
  }
}

Test(layout, rank_zero_is_one_element_and_needs_no_extents) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 0, NULL, &l), TP_SUCCESS);
  size_t n;
  tp_layout_count(&l, &n);
  cr_expect_eq(n, 1);
}

Test(layout, zero_extents_make_an_empty_tensor) {
  int64_t ext[3] = {4, 0, 5};
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F32, 3, ext, &l), TP_SUCCESS);
  size_t n, b;
  tp_layout_count(&l, &n);
  tp_layout_bytes(&l, &b);
  cr_expect_eq(n, 0);
  cr_expect_eq(b, 0);
}

Test(layout, a_zero_extent_is_empty_even_when_the_others_overflow) {
  /* 2^40 * 2^40 elements would overflow, but with a 0 extent there are
   * none, whichever axis the 0 is on. */
  int64_t big = (int64_t)1 << 40;
  int64_t first[3] = {0, big, big}, middle[3] = {big, 0, big},
          last[3] = {big, big, 0};
  const int64_t *cases[3] = {first, middle, last};
  for (int c = 0; c < 3; ++c) {
    tp_layout l;
    cr_assert_eq(tp_layout_make(TP_DTYPE_C128, 3, cases[c], &l), TP_SUCCESS,
                 "case %d: %s", c, tp_last_error());
    size_t n = 1, b = 1;
    cr_expect_eq(tp_layout_count(&l, &n), TP_SUCCESS);
    cr_expect_eq(tp_layout_bytes(&l, &b), TP_SUCCESS);
    cr_expect_eq(n, 0, "case %d", c);
    cr_expect_eq(b, 0, "case %d", c);
    /* It splits into empty tiles like any empty tensor. */
    tp_tiling *t;
    cr_assert_eq(tp_tiling_create_block(&l, 3, &t), TP_SUCCESS);
    for (int p = 0; p < 3; ++p) {
      tp_tile tile;
      cr_assert_eq(tp_tiling_tile(t, p, &tile), TP_SUCCESS);
      cr_expect_eq(tile.count, 0, "case %d part %d", c, p);
    }
    tp_tiling_destroy(t);
  }
}

Test(layout, bad_arguments_are_refused_and_leave_out_untouched) {
  int64_t ext[2] = {3, 4};
  tp_layout l;
  memset(&l, 0x5a, sizeof l);
  tp_layout before = l;
  cr_expect_eq(tp_layout_make(TP_DTYPE_F32, 2, ext, NULL),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_layout_make(TP_DTYPE_F32, 2, NULL, &l),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "NULL extents"));
  cr_expect_eq(tp_layout_make(TP_DTYPE_F32, -1, ext, &l),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_layout_make(TP_DTYPE_F32, TP_MAX_NDIM + 1, ext, &l),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "ndim 9"));
  cr_expect_eq(tp_layout_make((tp_dtype)17, 2, ext, &l),
               TP_ERR_INVALID_ARGUMENT);
  int64_t negative[2] = {3, -4};
  cr_expect_eq(tp_layout_make(TP_DTYPE_F32, 2, negative, &l),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "negative"));
  cr_expect_eq(memcmp(&l, &before, sizeof l), 0);
  size_t n;
  cr_expect_eq(tp_layout_count(NULL, &n), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_layout_bytes(&l, NULL), TP_ERR_INVALID_ARGUMENT);
}

Test(layout, overflowing_extents_are_an_overflow) {
  tp_layout l;
  int64_t count_overflow[3] = {INT64_C(1) << 32, INT64_C(1) << 32, 2};
  cr_expect_eq(tp_layout_make(TP_DTYPE_F64, 3, count_overflow, &l),
               TP_ERR_OVERFLOW);
  cr_expect_not_null(strstr(tp_last_error(), "axis"));
  /* The element count fits, the byte size does not. */
  int64_t byte_overflow[2] = {INT64_C(1) << 31, INT64_C(1) << 30};
  cr_expect_eq(tp_layout_make(TP_DTYPE_C128, 2, byte_overflow, &l),
               TP_ERR_OVERFLOW);
  cr_expect_not_null(strstr(tp_last_error(), "byte size"));
  int64_t huge[1] = {INT64_MAX};
  cr_expect_eq(tp_layout_make(TP_DTYPE_I32, 1, huge, &l), TP_ERR_OVERFLOW);
  /* A layout filled by hand is checked too. */
  tp_layout hand;
  memset(&hand, 0, sizeof hand);
  hand.dtype = TP_DTYPE_F64;
  hand.ndim = 2;
  hand.extents[0] = hand.extents[1] = INT64_C(1) << 40;
  size_t n;
  cr_expect_eq(tp_layout_count(&hand, &n), TP_ERR_OVERFLOW);
}

Test(layout, equality_compares_type_rank_and_extents) {
  int64_t a[2] = {3, 4}, b[2] = {3, 5};
  tp_layout la, lb, lc;
  tp_layout_make(TP_DTYPE_F32, 2, a, &la);
  tp_layout_make(TP_DTYPE_F32, 2, b, &lb);
  tp_layout_make(TP_DTYPE_F64, 2, a, &lc);
  int same;
  tp_layout_equal(&la, &la, &same);
  cr_expect(same);
  tp_layout_equal(&la, &lb, &same);
  cr_expect(!same);
  tp_layout_equal(&la, &lc, &same);
  cr_expect(!same);
}

static tp_layout matrix(int64_t rows, int64_t cols) {
  int64_t ext[2] = {rows, cols};
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, ext, &l), TP_SUCCESS);
  return l;
}

Test(tiling, block_split_gives_the_first_parts_one_more_row) {
  tp_layout l = matrix(10, 3);
  tp_tiling *t;
  cr_assert_eq(tp_tiling_create_block(&l, 4, &t), TP_SUCCESS);
  cr_expect_eq(tp_tiling_parts(t), 4);
  int64_t expect_rows[4] = {3, 3, 2, 2}, first = 0;
  for (int p = 0; p < 4; ++p) {
    tp_tile tile;
    cr_assert_eq(tp_tiling_tile(t, p, &tile), TP_SUCCESS);
    cr_expect_eq(tile.part, p);
    cr_expect_eq(tile.offsets[0], first);
    cr_expect_eq(tile.offsets[1], 0);
    cr_expect_eq(tile.extents[0], expect_rows[p]);
    cr_expect_eq(tile.extents[1], 3);
    cr_expect_eq(tile.first, first * 3);
    cr_expect_eq(tile.count, (size_t)expect_rows[p] * 3);
    first += expect_rows[p];
  }
  tp_tiling_destroy(t);
}

Test(tiling, more_parts_than_rows_leaves_parts_empty) {
  tp_layout l = matrix(2, 5);
  tp_tiling *t;
  cr_assert_eq(tp_tiling_create_block(&l, 4, &t), TP_SUCCESS);
  tp_tile tile;
  tp_tiling_tile(t, 3, &tile);
  cr_expect_eq(tile.count, 0);
  cr_expect_eq(tile.extents[0], 0);
  tp_tiling_destroy(t);
}

Test(tiling, uneven_rows_and_their_checks) {
  tp_layout l = matrix(7, 2);
  int64_t rows[3] = {0, 5, 2};
  tp_tiling *t;
  cr_assert_eq(tp_tiling_create(&l, 3, rows, &t), TP_SUCCESS);
  int64_t first, n;
  tp_tiling_rows(t, 2, &first, &n);
  cr_expect_eq(first, 5);
  cr_expect_eq(n, 2);
  tp_tile tile;
  tp_tiling_tile(t, 0, &tile);
  cr_expect_eq(tile.count, 0);
  cr_expect_eq(tp_tiling_tile(t, 3, &tile), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_tiling_tile(t, -1, &tile), TP_ERR_INVALID_ARGUMENT);

  tp_tiling *clone;
  cr_assert_eq(tp_tiling_clone(t, &clone), TP_SUCCESS);
  int same;
  tp_tiling_equal(t, clone, &same);
  cr_expect(same);
  tp_tiling *block;
  tp_tiling_create_block(&l, 3, &block);
  tp_tiling_equal(t, block, &same);
  cr_expect(!same);
  tp_tiling_destroy(block);
  tp_tiling_destroy(clone);
  tp_tiling_destroy(t);

  tp_tiling *bad = (tp_tiling *)0x1;
  int64_t short_rows[3] = {1, 1, 1}, negative[3] = {-1, 6, 2};
  cr_expect_eq(tp_tiling_create(&l, 3, short_rows, &bad),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "sum to 3"));
  cr_expect_eq(tp_tiling_create(&l, 3, negative, &bad),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_tiling_create(&l, 0, rows, &bad), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_tiling_create(&l, 3, NULL, &bad), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_tiling_create_block(NULL, 3, &bad), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(bad, (tp_tiling *)0x1, "out is untouched on failure");
}

Test(tiling, part_counts_past_the_maximum_are_refused_with_the_bound) {
  tp_layout l = matrix(4, 4);
  tp_tiling *t = (tp_tiling *)0x1;
  cr_expect_eq(tp_tiling_create_block(&l, INT_MAX, &t),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_MAX_PARTS"), "%s",
                     tp_last_error());
  cr_expect_eq(tp_tiling_create_block(&l, TP_MAX_PARTS + 1, &t),
               TP_ERR_INVALID_ARGUMENT);
  int64_t rows[1] = {4};
  cr_expect_eq(tp_tiling_create(&l, TP_MAX_PARTS + 1, rows, &t),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(t, (tp_tiling *)0x1, "out is untouched on failure");
  /* The bound itself is allowed: parts past the rows own nothing. */
  cr_assert_eq(tp_tiling_create_block(&l, TP_MAX_PARTS, &t), TP_SUCCESS);
  cr_expect_eq(tp_tiling_parts(t), TP_MAX_PARTS);
  tp_tile tile;
  cr_assert_eq(tp_tiling_tile(t, TP_MAX_PARTS - 1, &tile), TP_SUCCESS);
  cr_expect_eq(tile.count, 0);
  tp_tiling_destroy(t);
}

Test(tiling, rank_zero_tensor_goes_to_part_zero) {
  tp_layout l;
  tp_layout_make(TP_DTYPE_I64, 0, NULL, &l);
  tp_tiling *t;
  cr_assert_eq(tp_tiling_create_block(&l, 3, &t), TP_SUCCESS);
  tp_tile tile;
  tp_tiling_tile(t, 0, &tile);
  cr_expect_eq(tile.count, 1);
  tp_tiling_tile(t, 1, &tile);
  cr_expect_eq(tile.count, 0);
  tp_tiling_destroy(t);
}

Test(tiling, tiles_cover_the_tensor_exactly_once) {
  int64_t ext[3] = {13, 2, 3};
  tp_layout l;
  tp_layout_make(TP_DTYPE_I32, 3, ext, &l);
  int64_t rows[5] = {4, 0, 6, 0, 3};
  tp_tiling *t;
  cr_assert_eq(tp_tiling_create(&l, 5, rows, &t), TP_SUCCESS);
  int64_t next = 0;
  for (int p = 0; p < 5; ++p) {
    tp_tile tile;
    tp_tiling_tile(t, p, &tile);
    cr_expect_eq(tile.first, next, "part %d starts where the last ended", p);
    next += (int64_t)tile.count;
  }
  cr_expect_eq(next, 13 * 2 * 3);
  tp_tiling_destroy(t);
}
