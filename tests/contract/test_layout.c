/* tensorpool/layout.h: element types, layouts, tiles, tilings and the
 * scalar store rules (with f16 / bf16 rounding), as the header states. */
#include <float.h>
#include <limits.h>
#include <math.h>

#include "contract.h"

/* ---- Element types ------------------------------------------------------ */

Test(dtype, sizes_and_names) {
  struct {
    tp_dtype t;
    size_t size;
    const char *name;
  } want[] = {{TP_DTYPE_F32, 4, "f32"},  {TP_DTYPE_F64, 8, "f64"},
              {TP_DTYPE_C64, 8, "c64"},  {TP_DTYPE_C128, 16, "c128"},
              {TP_DTYPE_I32, 4, "i32"},  {TP_DTYPE_I64, 8, "i64"},
              {TP_DTYPE_F16, 2, "f16"},  {TP_DTYPE_BF16, 2, "bf16"},
              {TP_DTYPE_I8, 1, "i8"},    {TP_DTYPE_U8, 1, "u8"},
              {TP_DTYPE_BOOL, 1, "bool"}};
  cr_assert_eq(sizeof want / sizeof *want, TP_DTYPE_COUNT);
  for (int i = 0; i < TP_DTYPE_COUNT; i++) {
    cr_expect_eq(want[i].t, (tp_dtype)i, "the enum's values are fixed");
    cr_expect_eq(tp_dtype_size(want[i].t), want[i].size, "%s", want[i].name);
    cr_expect_str_eq(tp_dtype_name(want[i].t), want[i].name);
  }
  int bad[] = {-1, TP_DTYPE_COUNT, 100};
  for (int i = 0; i < 3; i++) {
    cr_expect_eq(tp_dtype_size((tp_dtype)bad[i]), 0);
    cr_expect_str_eq(tp_dtype_name((tp_dtype)bad[i]), "invalid");
  }
}

/* ---- Layouts ------------------------------------------------------------ */

Test(layout, make_fills_the_value_and_zeroes_the_rest) {
  tp_layout l;
  memset(&l, 0x7F, sizeof l);
  int64_t e[3] = {4, 5, 6};
  ct_ok(tp_layout_make(TP_DTYPE_C64, 3, e, &l));
  cr_expect_eq(l.dtype, TP_DTYPE_C64);
  cr_expect_eq(l.ndim, 3);
  for (int k = 0; k < TP_MAX_NDIM; k++)
    cr_expect_eq(l.extents[k], k < 3 ? e[k] : 0, "extent %d", k);
  size_t n = 0, b = 0;
  ct_ok(tp_layout_count(&l, &n));
  ct_ok(tp_layout_bytes(&l, &b));
  cr_expect_eq(n, 120);
  cr_expect_eq(b, 960);

  /* ndim 0: one element; extents may be NULL. */
  tp_layout s;
  ct_ok(tp_layout_make(TP_DTYPE_F64, 0, NULL, &s));
  ct_ok(tp_layout_count(&s, &n));
  cr_expect_eq(n, 1);
  ct_ok(tp_layout_bytes(&s, &b));
  cr_expect_eq(b, 8);

  int64_t eight[TP_MAX_NDIM] = {1, 2, 1, 2, 1, 2, 1, 2};
  ct_ok(tp_layout_make(TP_DTYPE_U8, TP_MAX_NDIM, eight, &l));
  ct_ok(tp_layout_count(&l, &n));
  cr_expect_eq(n, 16);
}

/* "A zero extent makes an empty tensor (0 elements) whatever the other
 * extents are" - even when their product would overflow. */
Test(layout, a_zero_extent_is_empty_whatever_the_others) {
  int64_t e[3] = {INT64_MAX, 0, INT64_MAX};
  tp_layout l;
  ct_ok(tp_layout_make(TP_DTYPE_C128, 3, e, &l));
  size_t n = 1, b = 1;
  ct_ok(tp_layout_count(&l, &n));
  ct_ok(tp_layout_bytes(&l, &b));
  cr_expect_eq(n, 0);
  cr_expect_eq(b, 0);
}

/* Bad arguments: TP_ERR_INVALID_ARGUMENT, sizes not representable:
 * TP_ERR_OVERFLOW; *out untouched either way (nothing happens before the
 * check). */
Test(layout, make_refuses_bad_input_before_writing) {
  tp_layout l, sentinel;
  memset(&sentinel, 0x3C, sizeof sentinel);
  int64_t e[TP_MAX_NDIM + 1] = {2, 3, 4, 5, 6, 7, 8, 9, 10};
#define REFUSED(call, status)                                                  \
  do {                                                                         \
    l = sentinel;                                                              \
    ct_expect_fail(call, status, NULL);                                        \
    cr_expect(memcmp(&l, &sentinel, sizeof l) == 0, "%s wrote *out", #call);   \
  } while (0)
  REFUSED(tp_layout_make((tp_dtype)-1, 1, e, &l), TP_ERR_INVALID_ARGUMENT);
  REFUSED(tp_layout_make((tp_dtype)TP_DTYPE_COUNT, 1, e, &l),
          TP_ERR_INVALID_ARGUMENT);
  REFUSED(tp_layout_make(TP_DTYPE_F32, -1, e, &l), TP_ERR_INVALID_ARGUMENT);
  REFUSED(tp_layout_make(TP_DTYPE_F32, TP_MAX_NDIM + 1, e, &l),
          TP_ERR_INVALID_ARGUMENT);
  REFUSED(tp_layout_make(TP_DTYPE_F32, 2, NULL, &l), TP_ERR_INVALID_ARGUMENT);
  int64_t neg[2] = {3, -1};
  REFUSED(tp_layout_make(TP_DTYPE_F32, 2, neg, &l), TP_ERR_INVALID_ARGUMENT);
  ct_expect_fail(tp_layout_make(TP_DTYPE_F32, 1, e, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  /* Counts: 2^62 * 4 elements overflow size_t. */
  int64_t big[2] = {(int64_t)1 << 62, 4};
  REFUSED(tp_layout_make(TP_DTYPE_U8, 2, big, &l), TP_ERR_OVERFLOW);
  /* Bytes: 2^60 doubles are 2^63 bytes: in size_t, but not in int64_t. */
  int64_t bytes63[1] = {(int64_t)1 << 60};
  REFUSED(tp_layout_make(TP_DTYPE_F64, 1, bytes63, &l), TP_ERR_OVERFLOW);
  /* 2^59 doubles are 2^62 bytes: representable in both. */
  int64_t bytes62[1] = {(int64_t)1 << 59};
  ct_ok(tp_layout_make(TP_DTYPE_F64, 1, bytes62, &l));
#undef REFUSED
}

/* "a layout not made by tp_layout_make may overflow: TP_ERR_OVERFLOW". */
Test(layout, count_and_bytes_check_hand_made_layouts) {
  tp_layout l = {.dtype = TP_DTYPE_I64, .ndim = 2};
  l.extents[0] = (int64_t)1 << 62;
  l.extents[1] = 8;
  size_t n = 3;
  ct_expect_fail(tp_layout_count(&l, &n), TP_ERR_OVERFLOW, NULL);
  cr_expect_eq(n, 3);
  l.extents[1] = 2; /* 2^63 elements fit size_t; 2^66 bytes do not */
  ct_expect_fail(tp_layout_bytes(&l, &n), TP_ERR_OVERFLOW, NULL);
  cr_expect_eq(n, 3);
  ct_expect_fail(tp_layout_count(NULL, &n), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_layout_count(&l, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_layout_bytes(NULL, &n), TP_ERR_INVALID_ARGUMENT, NULL);
}

Test(layout, equal_compares_dtype_ndim_and_extents) {
  tp_layout a = ct_layout(TP_DTYPE_F32, 2, (int64_t)3, (int64_t)4);
  tp_layout b = ct_layout(TP_DTYPE_F32, 2, (int64_t)3, (int64_t)4);
  tp_layout c = ct_layout(TP_DTYPE_I32, 2, (int64_t)3, (int64_t)4);
  tp_layout d = ct_layout(TP_DTYPE_F32, 2, (int64_t)4, (int64_t)3);
  tp_layout e = ct_layout(TP_DTYPE_F32, 3, (int64_t)3, (int64_t)4, (int64_t)1);
  int eq = -1;
  ct_ok(tp_layout_equal(&a, &b, &eq));
  cr_expect_eq(eq, 1);
  ct_ok(tp_layout_equal(&a, &c, &eq));
  cr_expect_eq(eq, 0);
  ct_ok(tp_layout_equal(&a, &d, &eq));
  cr_expect_eq(eq, 0);
  ct_ok(tp_layout_equal(&a, &e, &eq));
  cr_expect_eq(eq, 0);
  ct_expect_fail(tp_layout_equal(NULL, &b, &eq), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_layout_equal(&a, &b, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
}

Test(layout, the_whole_tile) {
  tp_layout l = ct_layout(TP_DTYPE_I32, 3, (int64_t)2, (int64_t)3, (int64_t)4);
  tp_tile t;
  memset(&t, 0x55, sizeof t);
  ct_ok(tp_layout_whole_tile(&l, &t));
  cr_expect_eq(t.part, 0);
  cr_expect_eq(t.first, 0);
  cr_expect_eq(t.count, 24);
  for (int k = 0; k < 3; k++) {
    cr_expect_eq(t.offsets[k], 0);
    cr_expect_eq(t.extents[k], l.extents[k]);
  }
  tp_layout s = ct_layout(TP_DTYPE_I32, 0);
  ct_ok(tp_layout_whole_tile(&s, &t));
  cr_expect_eq(t.count, 1, "a 0-d tensor is one element");
  ct_expect_fail(tp_layout_whole_tile(NULL, &t), TP_ERR_INVALID_ARGUMENT, NULL);
}

/* ---- Tilings ------------------------------------------------------------ */

/* "the first (extent % parts) parts get one more row"; every tile is one
 * contiguous range of global linear indices. */
Test(tiling, block_split_gives_the_first_parts_one_more_row) {
  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)10, (int64_t)3);
  tp_tiling *t = NULL;
  ct_ok(tp_tiling_create_block(&l, 4, &t));
  cr_expect_eq(tp_tiling_parts(t), 4);
  int eq = 0;
  ct_ok(tp_layout_equal(tp_tiling_layout(t), &l, &eq));
  cr_expect_eq(eq, 1);
  int64_t want_rows[4] = {3, 3, 2, 2}, want_first[4] = {0, 3, 6, 8};
  for (int p = 0; p < 4; p++) {
    int64_t first = -1, rows = -1;
    ct_ok(tp_tiling_rows(t, p, &first, &rows));
    cr_expect_eq(rows, want_rows[p], "part %d", p);
    cr_expect_eq(first, want_first[p], "part %d", p);
    tp_tile tile;
    ct_ok(tp_tiling_tile(t, p, &tile));
    cr_expect_eq(tile.part, p);
    cr_expect_eq(tile.offsets[0], want_first[p]);
    cr_expect_eq(tile.offsets[1], 0);
    cr_expect_eq(tile.extents[0], want_rows[p]);
    cr_expect_eq(tile.extents[1], 3);
    cr_expect_eq(tile.first, want_first[p] * 3);
    cr_expect_eq(tile.count, (size_t)(want_rows[p] * 3));
  }
  tp_tile tile;
  ct_expect_fail(tp_tiling_tile(t, 4, &tile), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_tiling_tile(t, -1, &tile), TP_ERR_INVALID_ARGUMENT, NULL);
  int64_t a, b;
  ct_expect_fail(tp_tiling_rows(t, 4, &a, &b), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_tiling_destroy(t));
}

/* "Parts may outnumber the rows of axis 0: the extra parts own nothing";
 * "A 0-d tensor (one element) goes to part 0". */
Test(tiling, extra_parts_own_nothing_and_0d_goes_to_part_0) {
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)2, (int64_t)5);
  tp_tiling *t = NULL;
  ct_ok(tp_tiling_create_block(&l, 5, &t));
  size_t total = 0;
  for (int p = 0; p < 5; p++) {
    tp_tile tile;
    ct_ok(tp_tiling_tile(t, p, &tile));
    cr_expect_eq(tile.count, p < 2 ? 5u : 0u, "part %d", p);
    total += tile.count;
  }
  cr_expect_eq(total, 10);
  ct_ok(tp_tiling_destroy(t));

  tp_layout s = ct_layout(TP_DTYPE_F64, 0);
  ct_ok(tp_tiling_create_block(&s, 3, &t));
  for (int p = 0; p < 3; p++) {
    tp_tile tile;
    ct_ok(tp_tiling_tile(t, p, &tile));
    cr_expect_eq(tile.count, p == 0 ? 1u : 0u, "part %d", p);
  }
  ct_ok(tp_tiling_destroy(t));
}

Test(tiling, part_counts_are_bounded) {
  tp_layout l = ct_layout(TP_DTYPE_F32, 1, (int64_t)100);
  tp_tiling *t = (tp_tiling *)0x5;
  int bad[] = {0, -1, TP_MAX_PARTS + 1, INT_MAX};
  for (int i = 0; i < 4; i++) {
    t = (tp_tiling *)0x5;
    ct_expect_fail(tp_tiling_create_block(&l, bad[i], &t),
                   TP_ERR_INVALID_ARGUMENT, NULL);
    cr_expect_eq(t, (tp_tiling *)0x5, "parts %d wrote *out", bad[i]);
  }
  ct_ok(tp_tiling_create_block(&l, TP_MAX_PARTS, &t));
  cr_expect_eq(tp_tiling_parts(t), TP_MAX_PARTS);
  tp_tile tile;
  ct_ok(tp_tiling_tile(t, TP_MAX_PARTS - 1, &tile));
  cr_expect_eq(tile.count, 0);
  ct_ok(tp_tiling_destroy(t));
}

/* Uneven: "part p gets rows[p] rows of axis 0 (>= 0, summing to the extent
 * of axis 0; for a 0-d tensor, to 1)". */
Test(tiling, uneven_rows_and_their_checks) {
  tp_layout l = ct_layout(TP_DTYPE_I64, 2, (int64_t)7, (int64_t)2);
  int64_t rows[4] = {0, 5, 0, 2};
  tp_tiling *t = NULL;
  ct_ok(tp_tiling_create(&l, 4, rows, &t));
  int64_t first, n;
  ct_ok(tp_tiling_rows(t, 3, &first, &n));
  cr_expect_eq(first, 5);
  cr_expect_eq(n, 2);
  tp_tile tile;
  ct_ok(tp_tiling_tile(t, 1, &tile));
  cr_expect_eq(tile.first, 0);
  cr_expect_eq(tile.count, 10);
  ct_ok(tp_tiling_tile(t, 0, &tile));
  cr_expect_eq(tile.count, 0);

  /* The same split written as a block split is equal; others are not. */
  tp_tiling *c = NULL;
  ct_ok(tp_tiling_clone(t, &c));
  int eq = -1;
  ct_ok(tp_tiling_equal(t, c, &eq));
  cr_expect_eq(eq, 1);
  tp_tiling *b = NULL;
  ct_ok(tp_tiling_create_block(&l, 4, &b));
  ct_ok(tp_tiling_equal(t, b, &eq));
  cr_expect_eq(eq, 0);
  int64_t block_rows[4] = {2, 2, 2, 1};
  tp_tiling *u = NULL;
  ct_ok(tp_tiling_create(&l, 4, block_rows, &u));
  ct_ok(tp_tiling_equal(u, b, &eq));
  cr_expect_eq(eq, 1);
  tp_layout other = ct_layout(TP_DTYPE_F64, 2, (int64_t)7, (int64_t)2);
  tp_tiling *o = NULL;
  ct_ok(tp_tiling_create(&other, 4, block_rows, &o));
  ct_ok(tp_tiling_equal(u, o, &eq));
  cr_expect_eq(eq, 0, "tilings of different layouts are not equal");
  ct_expect_fail(tp_tiling_equal(NULL, o, &eq), TP_ERR_INVALID_ARGUMENT, NULL);

  int64_t short_sum[4] = {1, 1, 1, 1}, negative[4] = {4, 4, -1, 0};
  tp_tiling *x = (tp_tiling *)0x5;
  ct_expect_fail(tp_tiling_create(&l, 4, short_sum, &x),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_tiling_create(&l, 4, negative, &x), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_tiling_create(&l, 4, NULL, &x), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_tiling_create(NULL, 4, rows, &x), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  cr_expect_eq(x, (tp_tiling *)0x5);

  tp_layout s = ct_layout(TP_DTYPE_I64, 0);
  int64_t one[2] = {0, 1};
  tp_tiling *z = NULL;
  ct_ok(tp_tiling_create(&s, 2, one, &z));
  ct_ok(tp_tiling_tile(z, 1, &tile));
  cr_expect_eq(tile.count, 1);
  int64_t two[2] = {1, 1};
  ct_expect_fail(tp_tiling_create(&s, 2, two, &x), TP_ERR_INVALID_ARGUMENT,
                 NULL);

  tp_tiling *all[] = {t, c, b, u, o, z};
  for (int i = 0; i < 6; i++)
    ct_ok(tp_tiling_destroy(all[i]));
}

/* layout.h: "Accessors given NULL return 0 (tp_tiling_parts) or NULL
 * (tp_tiling_layout)"; destroy(NULL) does nothing. */
Test(tiling, accessor_sentinels) {
  tp_set_last_error(TP_ERR_CUDA, "marker");
  cr_expect_eq(tp_tiling_parts(NULL), 0);
  cr_expect_null(tp_tiling_layout(NULL));
  cr_expect_str_eq(tp_last_error(), "marker", "an accessor set a message");
  ct_ok(tp_tiling_destroy(NULL));
  tp_tiling *t = NULL;
  ct_expect_fail(tp_tiling_clone(NULL, &t), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_tiling_create_block(NULL, 1, &t), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  tp_layout l = ct_layout(TP_DTYPE_F32, 1, (int64_t)3);
  ct_expect_fail(tp_tiling_create_block(&l, 1, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
}

/* ---- Scalars ------------------------------------------------------------ */

static uint16_t store16(tp_scalar v, tp_dtype t) {
  uint16_t out = 0xDEAD;
  tp_status st = tp_scalar_store(v, t, &out);
  cr_assert_eq(st, TP_SUCCESS, "%s: %s", tp_dtype_name(t), tp_last_error());
  return out;
}

/* layout.h: f16 "from a double, rounded once to nearest, ties to even;
 * overflow gives infinity, tiny values gradual underflow, NaN the quiet NaN
 * (f16 0x7E00 ...) with its sign". The 2^-40 cases tell one rounding from
 * two (through float, the tie would be seen and rounded to even). */
Test(scalar, f16_rounds_once_to_nearest_even) {
  struct {
    double v;
    uint16_t bits;
  } c[] = {{1.0, 0x3C00},
           {-2.0, 0xC000},
           {0.0, 0x0000},
           {-0.0, 0x8000},
           {0.1, 0x2E66},
           {1.0 / 3.0, 0x3555},
           {65504.0, 0x7BFF},
           {65519.0, 0x7BFF},
           {65520.0, 0x7C00}, /* the tie above the largest: to infinity */
           {1e6, 0x7C00},
           {-1e6, 0xFC00},
           {INFINITY, 0x7C00},
           {-INFINITY, 0xFC00},
           {0x1p-14, 0x0400},   /* the smallest normal */
           {0x1p-24, 0x0001},   /* the smallest subnormal */
           {0x1p-25, 0x0000},   /* half of it: a tie, to even (0) */
           {0x1.8p-24, 0x0002}, /* 1.5 ulp: a tie, to even (2) */
           {0x1p-25 + 0x1p-40, 0x0001},
           {1.0 + 0x1p-11, 0x3C00},           /* tie: to even */
           {1.0 + 0x1.8p-10, 0x3C02},         /* tie: to even */
           {1.0 + 0x1p-11 + 0x1p-40, 0x3C01}, /* above the tie: up */
           {-(1.0 + 0x1p-11 + 0x1p-40), 0xBC01}};
  for (size_t i = 0; i < sizeof c / sizeof *c; i++)
    cr_expect_eq(store16(tp_scalar_real(c[i].v), TP_DTYPE_F16), c[i].bits,
                 "f16 of %a: 0x%04x, wanted 0x%04x", c[i].v,
                 store16(tp_scalar_real(c[i].v), TP_DTYPE_F16), c[i].bits);
  cr_expect_eq(store16(tp_scalar_real(NAN), TP_DTYPE_F16), 0x7E00);
  cr_expect_eq(store16(tp_scalar_real(-NAN), TP_DTYPE_F16), 0xFE00);
}

Test(scalar, bf16_rounds_once_to_nearest_even) {
  struct {
    double v;
    uint16_t bits;
  } c[] = {{1.0, 0x3F80},
           {-0.0, 0x8000},
           {0.1, 0x3DCD},
           {1.0 + 0x1p-8, 0x3F80},           /* tie: to even */
           {1.0 + 0x1.8p-7, 0x3F82},         /* tie: to even */
           {1.0 + 0x1p-8 + 0x1p-40, 0x3F81}, /* one rounding, not two */
           {0x1.fep127, 0x7F7F},             /* the largest bf16 */
           {(double)FLT_MAX, 0x7F80},        /* above the last tie: infinity */
           {DBL_MAX, 0x7F80},
           {-DBL_MAX, 0xFF80},
           {0x1p-133, 0x0001}, /* the smallest subnormal */
           {0x1p-134, 0x0000}, /* a tie: to even */
           {0x1p-149, 0x0000}};
  for (size_t i = 0; i < sizeof c / sizeof *c; i++)
    cr_expect_eq(store16(tp_scalar_real(c[i].v), TP_DTYPE_BF16), c[i].bits,
                 "bf16 of %a: 0x%04x, wanted 0x%04x", c[i].v,
                 store16(tp_scalar_real(c[i].v), TP_DTYPE_BF16), c[i].bits);
  cr_expect_eq(store16(tp_scalar_real(NAN), TP_DTYPE_BF16), 0x7FC0);
  cr_expect_eq(store16(tp_scalar_real(-NAN), TP_DTYPE_BF16), 0xFFC0);
}

/* "f32 rounds re to nearest even"; "an integer scalar converts to double
 * first"; complex types take re and im. */
Test(scalar, floating_stores) {
  float f = 0;
  ct_ok(tp_scalar_store(tp_scalar_real(1.0 + 0x1p-24), TP_DTYPE_F32, &f));
  cr_expect_eq(ct_bits32(f), 0x3F800000u, "tie to even");
  ct_ok(tp_scalar_store(tp_scalar_real(1.0 + 0x1.8p-23), TP_DTYPE_F32, &f));
  cr_expect_eq(ct_bits32(f), 0x3F800002u, "tie to even");
  ct_ok(tp_scalar_store(tp_scalar_real(0.1), TP_DTYPE_F32, &f));
  cr_expect_eq(f, 0.1f);

  double d = 0;
  ct_ok(
      tp_scalar_store(tp_scalar_int(((int64_t)1 << 53) + 1), TP_DTYPE_F64, &d));
  cr_expect_eq(d, 9007199254740992.0, "integer scalars convert to double");
  ct_ok(tp_scalar_store(tp_scalar_int(-7), TP_DTYPE_F64, &d));
  cr_expect_eq(d, -7.0);

  float c64[2] = {9, 9};
  ct_ok(tp_scalar_store(tp_scalar_complex(1.5, -2.25), TP_DTYPE_C64, c64));
  cr_expect_eq(c64[0], 1.5f);
  cr_expect_eq(c64[1], -2.25f);
  ct_ok(tp_scalar_store(tp_scalar_int(3), TP_DTYPE_C64, c64));
  cr_expect_eq(c64[0], 3.0f);
  cr_expect_eq(c64[1], 0.0f);
  double c128[2] = {9, 9};
  ct_ok(tp_scalar_store(tp_scalar_complex(0.1, 0.2), TP_DTYPE_C128, c128));
  cr_expect_eq(c128[0], 0.1);
  cr_expect_eq(c128[1], 0.2);
  ct_ok(tp_scalar_store(tp_scalar_real(4.0), TP_DTYPE_C128, c128));
  cr_expect_eq(c128[1], 0.0);
}

/* "a real type (bool included) refuses a non-zero imaginary part". */
Test(scalar, real_types_refuse_an_imaginary_part) {
  tp_dtype real[] = {TP_DTYPE_F32, TP_DTYPE_F64, TP_DTYPE_I32,
                     TP_DTYPE_I64, TP_DTYPE_F16, TP_DTYPE_BF16,
                     TP_DTYPE_I8,  TP_DTYPE_U8,  TP_DTYPE_BOOL};
  for (size_t i = 0; i < sizeof real / sizeof *real; i++) {
    unsigned char dst[16];
    memset(dst, 0xA5, sizeof dst);
    ct_expect_fail(tp_scalar_store(tp_scalar_complex(1.0, 0.5), real[i], dst),
                   TP_ERR_INVALID_ARGUMENT, NULL);
    for (int k = 0; k < 16; k++)
      cr_assert_eq(dst[k], 0xA5, "%s: dst written on refusal",
                   tp_dtype_name(real[i]));
    ct_ok(tp_scalar_store(tp_scalar_complex(1.0, 0.0), real[i], dst));
  }
}

/* "integer types take i, or re when it is integral, and refuse what is
 * outside their range (i8: -128..127, u8: 0..255)". */
Test(scalar, integer_stores_and_ranges) {
  int32_t i32 = 0;
  ct_ok(tp_scalar_store(tp_scalar_real(7.0), TP_DTYPE_I32, &i32));
  cr_expect_eq(i32, 7);
  ct_ok(tp_scalar_store(tp_scalar_real(-0.0), TP_DTYPE_I32, &i32));
  cr_expect_eq(i32, 0);
  ct_ok(tp_scalar_store(tp_scalar_int(INT32_MIN), TP_DTYPE_I32, &i32));
  cr_expect_eq(i32, INT32_MIN);
  int64_t i64 = 0;
  ct_ok(tp_scalar_store(tp_scalar_int(INT64_MIN), TP_DTYPE_I64, &i64));
  cr_expect_eq(i64, INT64_MIN);
  ct_ok(tp_scalar_store(tp_scalar_int(INT64_MAX), TP_DTYPE_I64, &i64));
  cr_expect_eq(i64, INT64_MAX, "integer scalars are exact in 64 bits");
  ct_ok(tp_scalar_store(tp_scalar_real(-9223372036854775808.0), TP_DTYPE_I64,
                        &i64));
  cr_expect_eq(i64, INT64_MIN);
  int8_t i8 = 0;
  ct_ok(tp_scalar_store(tp_scalar_int(-128), TP_DTYPE_I8, &i8));
  cr_expect_eq(i8, -128);
  ct_ok(tp_scalar_store(tp_scalar_real(127.0), TP_DTYPE_I8, &i8));
  cr_expect_eq(i8, 127);
  uint8_t u8 = 0;
  ct_ok(tp_scalar_store(tp_scalar_int(255), TP_DTYPE_U8, &u8));
  cr_expect_eq(u8, 255);

  struct {
    tp_scalar v;
    tp_dtype t;
  } bad[] = {{tp_scalar_real(7.5), TP_DTYPE_I32},
             {tp_scalar_real(NAN), TP_DTYPE_I32},
             {tp_scalar_real(INFINITY), TP_DTYPE_I64},
             {tp_scalar_int((int64_t)INT32_MAX + 1), TP_DTYPE_I32},
             {tp_scalar_real(2147483648.0), TP_DTYPE_I32},
             {tp_scalar_real(9223372036854775808.0), TP_DTYPE_I64},
             {tp_scalar_int(128), TP_DTYPE_I8},
             {tp_scalar_int(-129), TP_DTYPE_I8},
             {tp_scalar_real(-1.0), TP_DTYPE_U8},
             {tp_scalar_int(256), TP_DTYPE_U8},
             {tp_scalar_real(0.5), TP_DTYPE_U8}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int64_t dst = 0x1122334455667788;
    ct_expect_fail(tp_scalar_store(bad[i].v, bad[i].t, &dst),
                   TP_ERR_INVALID_ARGUMENT, NULL);
    cr_expect_eq(dst, 0x1122334455667788, "case %zu wrote dst", i);
  }
}

/* "bool stores 1 for a nonzero value and 0 for zero" (NaN included,
 * layout.h's conversion rules). */
Test(scalar, bool_stores_one_for_nonzero) {
  struct {
    tp_scalar v;
    uint8_t b;
  } c[] = {{tp_scalar_int(0), 0},         {tp_scalar_int(1), 1},
           {tp_scalar_int(-5), 1},        {tp_scalar_int(256), 1},
           {tp_scalar_real(0.0), 0},      {tp_scalar_real(-0.0), 0},
           {tp_scalar_real(0.25), 1},     {tp_scalar_real(NAN), 1},
           {tp_scalar_real(-INFINITY), 1}};
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    uint8_t b = 0xEE;
    ct_ok(tp_scalar_store(c[i].v, TP_DTYPE_BOOL, &b));
    cr_expect_eq(b, c[i].b, "case %zu", i);
  }
}

Test(scalar, bad_dtype_or_destination) {
  double d = 1;
  ct_expect_fail(
      tp_scalar_store(tp_scalar_real(1), (tp_dtype)TP_DTYPE_COUNT, &d),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_scalar_store(tp_scalar_real(1), (tp_dtype)-1, &d),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(d, 1);
  ct_expect_fail(tp_scalar_store(tp_scalar_real(1), TP_DTYPE_F64, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
}

/* tp_scalar_int is "exact in 64 bits" and marked integral. */
Test(scalar, constructors) {
  tp_scalar i = tp_scalar_int(INT64_MIN + 1);
  cr_expect_eq(i.integral, 1);
  cr_expect_eq(i.i, INT64_MIN + 1);
  tp_scalar r = tp_scalar_real(2.5);
  cr_expect_eq(r.integral, 0);
  cr_expect_eq(r.re, 2.5);
  cr_expect_eq(r.im, 0.0);
  tp_scalar c = tp_scalar_complex(1.0, -3.0);
  cr_expect_eq(c.integral, 0);
  cr_expect_eq(c.re, 1.0);
  cr_expect_eq(c.im, -3.0);
}
