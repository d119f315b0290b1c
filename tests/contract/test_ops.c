/* tensorpool/ops.h: tp_buffer_clone, tp_axpby per element type (with
 * layout.h's rules for the newer types) and the result's allocator. */
#include <math.h>

#include "contract.h"

typedef struct fixture {
  tp_runtime *rt;
  tp_allocator *local, *repl, *dist;
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = ct_runtime();
  f.local = ct_allocator(f.rt, TP_BUFFER_LOCAL);
  f.repl = ct_allocator(f.rt, TP_BUFFER_REPLICATED);
  f.dist = ct_allocator(f.rt, TP_BUFFER_DISTRIBUTED);
  return f;
}

/* A 1-d buffer of `n` elements of `t` holding `values`. */
static tp_buffer *with(tp_allocator *a, tp_dtype t, size_t n,
                       const void *values) {
  tp_layout l = ct_layout(t, 1, (int64_t)n);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_allocate(a, &l, NULL, NULL, &b));
  ct_ok(tp_buffer_write(b, 0, n * tp_dtype_size(t), values));
  return b;
}

static void axpby_read(tp_scalar alpha, const tp_buffer *x, tp_scalar beta,
                       const tp_buffer *y, void *out, size_t bytes) {
  tp_buffer *r = NULL;
  ct_ok(tp_axpby(alpha, x, beta, y, ct_stream(7), &r));
  cr_expect_eq(tp_buffer_stream(r), ct_stream(7), "the result's stream");
  cr_expect_eq(tp_buffer_allocator(r), tp_buffer_allocator(x));
  ct_ok(tp_buffer_read(r, 0, bytes, out));
  ct_ok(tp_buffer_destroy(r));
}

/* ---- clone ---------------------------------------------------------------*/

/* "A copy of `buffer` from its own allocator, same kind, tiling and
 * space." */
Test(clone, same_allocator_kind_tiling_and_values) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I32, 2, (int64_t)5, (int64_t)6);
  tp_generator g = tp_generator_arange(-10, 3);
  tp_buffer *src = NULL, *c = NULL;
  ct_ok(tp_allocator_construct_generator(f.dist, &l, NULL, &g, NULL, &src));
  ct_ok(tp_buffer_clone(src, ct_stream(2), &c));
  cr_expect_eq(tp_buffer_allocator(c), f.dist);
  cr_expect_eq(tp_buffer_kind_of(c), TP_BUFFER_DISTRIBUTED);
  cr_expect_eq(tp_buffer_stream(c), ct_stream(2));
  int eq = 0;
  ct_ok(tp_tiling_equal(tp_buffer_tiling(c), tp_buffer_tiling(src), &eq));
  cr_expect_eq(eq, 1);
  cr_expect_neq(tp_buffer_data(c), tp_buffer_data(src));
  int32_t a[30], b[30];
  ct_ok(tp_buffer_read(src, 0, sizeof a, a));
  ct_ok(tp_buffer_read(c, 0, sizeof b, b));
  cr_expect(memcmp(a, b, sizeof a) == 0);
  tp_buffer *out = (tp_buffer *)0x5;
  ct_expect_fail(tp_buffer_clone(NULL, NULL, &out), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_buffer_clone(src, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  cr_expect_eq(out, (tp_buffer *)0x5);
  ct_ok(tp_buffer_destroy(c));
  ct_ok(tp_buffer_destroy(src));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* ---- axpby -------------------------------------------------------------- */

/* f64: IEEE double products and sum, no fused multiply-add (ops.h). */
Test(axpby, f64_and_f32_in_their_own_precision) {
  fixture f = setup();
  double x[4] = {1.0, -2.5, 1e300, 0.1}, y[4] = {3.0, 0.5, 1e300, 0.2};
  tp_buffer *bx = with(f.local, TP_DTYPE_F64, 4, x);
  tp_buffer *by = with(f.local, TP_DTYPE_F64, 4, y);
  double r[4];
  axpby_read(tp_scalar_real(2.0), bx, tp_scalar_real(-3.0), by, r, sizeof r);
  for (int i = 0; i < 4; i++) {
    double p = 2.0 * x[i], q = -3.0 * y[i];
    cr_expect_eq(ct_bits64(r[i]), ct_bits64(p + q), "f64 %d", i);
  }
  /* Integer scalars convert to double (tp_scalar_store). */
  axpby_read(tp_scalar_int(1), bx, tp_scalar_int(1), by, r, sizeof r);
  cr_expect_eq(r[3], 0.1 + 0.2);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  /* f32 in float: (1 + 2^-12)^2 rounds to 1 + 2^-11 in float before 2^-24
   * is added (a tie, kept even); in double the sum would be
   * 1 + 2^-11 + 2^-23. */
  float fx[1] = {1.0f + 0x1p-12f}, fy[1] = {0x1p-24f};
  tp_buffer *gx = with(f.local, TP_DTYPE_F32, 1, fx);
  tp_buffer *gy = with(f.local, TP_DTYPE_F32, 1, fy);
  float fr[1];
  axpby_read(tp_scalar_real(1.0 + 0x1p-12), gx, tp_scalar_real(1.0), gy, fr,
             sizeof fr);
  float p = (1.0f + 0x1p-12f) * fx[0];
  cr_expect_eq(ct_bits32(fr[0]), ct_bits32(p + fy[0]), "%a", (double)fr[0]);
  cr_expect_eq(fr[0], 1.0f + 0x1p-11f);
  ct_ok(tp_buffer_destroy(gx));
  ct_ok(tp_buffer_destroy(gy));
  ct_ok(tp_runtime_destroy(f.rt));
}

Test(axpby, complex_products) {
  fixture f = setup();
  float x[2] = {3, 4}, y[2] = {1, 1};
  tp_buffer *bx = with(f.local, TP_DTYPE_C64, 1, x);
  tp_buffer *by = with(f.local, TP_DTYPE_C64, 1, y);
  float r[2];
  /* (1+2i)(3+4i) + i(1+i) = (-5+10i) + (-1+i) */
  axpby_read(tp_scalar_complex(1, 2), bx, tp_scalar_complex(0, 1), by, r,
             sizeof r);
  cr_expect_eq(r[0], -6.0f);
  cr_expect_eq(r[1], 11.0f);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));
  double dx[2] = {0.5, -1.5}, dy[2] = {2, 0};
  bx = with(f.local, TP_DTYPE_C128, 1, dx);
  by = with(f.local, TP_DTYPE_C128, 1, dy);
  double dr[2];
  /* (2-i)(0.5-1.5i) + 3*2 = (1-1.5) + (-3-0.5)i + 6 */
  axpby_read(tp_scalar_complex(2, -1), bx, tp_scalar_real(3), by, dr,
             sizeof dr);
  cr_expect_eq(dr[0], 5.5);
  cr_expect_eq(dr[1], -3.5);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* "Integers wrap modulo 2^bits"; i8 and u8 modulo 2^8; bool gives (alpha
 * and x) or (beta and y). */
Test(axpby, integers_wrap) {
  fixture f = setup();
  int32_t x32[3] = {1 << 30, INT32_MAX, -7}, y32[3] = {0, 1, 7};
  tp_buffer *bx = with(f.local, TP_DTYPE_I32, 3, x32);
  tp_buffer *by = with(f.local, TP_DTYPE_I32, 3, y32);
  int32_t r32[3];
  axpby_read(tp_scalar_int(2), bx, tp_scalar_int(3), by, r32, sizeof r32);
  cr_expect_eq(r32[0], INT32_MIN);
  cr_expect_eq(r32[1], (int32_t)(uint32_t)(2u * (uint32_t)INT32_MAX + 3u));
  cr_expect_eq(r32[2], 7);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  int64_t x64[2] = {INT64_MAX, INT64_MIN}, y64[2] = {1, -1};
  bx = with(f.local, TP_DTYPE_I64, 2, x64);
  by = with(f.local, TP_DTYPE_I64, 2, y64);
  int64_t r64[2];
  axpby_read(tp_scalar_int(1), bx, tp_scalar_int(1), by, r64, sizeof r64);
  cr_expect_eq(r64[0], INT64_MIN);
  cr_expect_eq(r64[1], INT64_MAX);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  int8_t x8[2] = {100, -100}, y8[2] = {50, 1};
  bx = with(f.local, TP_DTYPE_I8, 2, x8);
  by = with(f.local, TP_DTYPE_I8, 2, y8);
  int8_t r8[2];
  axpby_read(tp_scalar_int(3), bx, tp_scalar_int(-1), by, r8, sizeof r8);
  cr_expect_eq(r8[0], (int8_t)(uint8_t)(300 - 50)); /* 250: -6 */
  cr_expect_eq(r8[1], (int8_t)(uint8_t)(-300 - 1 + 512));
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  uint8_t xu[2] = {100, 255}, yu[2] = {1, 255};
  bx = with(f.local, TP_DTYPE_U8, 2, xu);
  by = with(f.local, TP_DTYPE_U8, 2, yu);
  uint8_t ru[2];
  axpby_read(tp_scalar_int(3), bx, tp_scalar_int(255), by, ru, sizeof ru);
  cr_expect_eq(ru[0], (uint8_t)(300 + 255));
  cr_expect_eq(ru[1], (uint8_t)(3 * 255 + 255 * 255));
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  uint8_t xb[4] = {0, 1, 0, 1}, yb[4] = {0, 0, 1, 1};
  bx = with(f.local, TP_DTYPE_BOOL, 4, xb);
  by = with(f.local, TP_DTYPE_BOOL, 4, yb);
  uint8_t rb[4];
  axpby_read(tp_scalar_int(1), bx, tp_scalar_int(0), by, rb, sizeof rb);
  for (int i = 0; i < 4; i++)
    cr_expect_eq(rb[i], xb[i], "x and not y: %d", i);
  axpby_read(tp_scalar_int(1), bx, tp_scalar_int(1), by, rb, sizeof rb);
  for (int i = 0; i < 4; i++)
    cr_expect_eq(rb[i], xb[i] || yb[i], "x or y: %d", i);
  axpby_read(tp_scalar_int(0), bx, tp_scalar_int(0), by, rb, sizeof rb);
  for (int i = 0; i < 4; i++)
    cr_expect_eq(rb[i], 0);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* layout.h: "f16 and bf16 compute alpha x + beta y in double from the
 * exact values (no fused multiply-add) and round once", alpha and beta
 * being converted to the element type first (ops.h: "alpha and beta
 * convert as tp_scalar_store says"). These values were chosen so that a
 * detour through float would round twice and land one ulp lower
 * (0x4BAA). */
Test(axpby, half_types_round_once) {
  fixture f = setup();
  double a = 0x1.888p-5, x = 0x1.4p+8, b = 0x1.0bp-16, y = 0x1.bc8p-7;
  uint16_t hx[1] = {0x5D00}, hy[1] = {0x22F2}, r[1];
  tp_buffer *bx = with(f.local, TP_DTYPE_F16, 1, hx);
  tp_buffer *by = with(f.local, TP_DTYPE_F16, 1, hy);
  axpby_read(tp_scalar_real(a), bx, tp_scalar_real(b), by, r, sizeof r);
  cr_expect_eq(r[0], 0x4BAB, "0x%04x", r[0]);
  uint16_t want = 0;
  ct_ok(tp_scalar_store(tp_scalar_real(a * x + b * y), TP_DTYPE_F16, &want));
  cr_expect_eq(r[0], want);
  /* alpha is first stored as an f16: 1 + 2^-11 is a tie and becomes 1. */
  uint16_t one[1] = {0x3C00}, tiny[1] = {0x0001};
  tp_buffer *b1 = with(f.local, TP_DTYPE_F16, 1, one);
  tp_buffer *b2 = with(f.local, TP_DTYPE_F16, 1, tiny);
  axpby_read(tp_scalar_real(1.0 + 0x1p-11), b1, tp_scalar_real(1), b2, r,
             sizeof r);
  cr_expect_eq(r[0], 0x3C00, "0x%04x", r[0]);
  ct_ok(tp_buffer_destroy(b1));
  ct_ok(tp_buffer_destroy(b2));
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));

  /* bf16: 1 * 1 + 1 * 2^-8 is a tie (to even: 1); with beta = 1 + 2^-7
   * the sum is 2^-15 above it. */
  uint16_t gx[2] = {0x3F80, 0x3F80}, gy[2] = {0x3B80, 0x3B80};
  bx = with(f.local, TP_DTYPE_BF16, 2, gx);
  by = with(f.local, TP_DTYPE_BF16, 2, gy);
  uint16_t gr[2];
  axpby_read(tp_scalar_real(1), bx, tp_scalar_real(1), by, gr, sizeof gr);
  cr_expect_eq(gr[0], 0x3F80, "0x%04x", gr[0]);
  axpby_read(tp_scalar_real(1), bx, tp_scalar_real(1.0 + 0x1p-7), by, gr,
             sizeof gr);
  cr_expect_eq(gr[0], 0x3F81, "0x%04x", gr[0]);
  ct_ok(tp_buffer_destroy(bx));
  ct_ok(tp_buffer_destroy(by));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* "alpha and beta convert as tp_scalar_store says": what it refuses,
 * tp_axpby refuses, allocating nothing. */
Test(axpby, scalars_the_type_cannot_hold) {
  fixture f = setup();
  int32_t v[2] = {1, 2};
  tp_buffer *x = with(f.local, TP_DTYPE_I32, 2, v);
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer *r = (tp_buffer *)0x5;
  ct_expect_fail(
      tp_axpby(tp_scalar_real(0.5), x, tp_scalar_int(1), x, NULL, &r),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_axpby(tp_scalar_int(1), x, tp_scalar_complex(1, 1), x, NULL, &r),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_axpby(tp_scalar_int((int64_t)1 << 40), x, tp_scalar_int(1),
                          x, NULL, &r),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(r, (tp_buffer *)0x5);
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.allocations, before.allocations);
  ct_ok(tp_buffer_destroy(x));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* "x and y must have the same layout, kind and (distributed) tiling:
 * TP_ERR_MISMATCH otherwise"; nothing is allocated. */
Test(axpby, mismatched_operands) {
  fixture f = setup();
  double v[6] = {1, 2, 3, 4, 5, 6};
  tp_buffer *x = with(f.local, TP_DTYPE_F64, 6, v);
  tp_buffer *shorter = with(f.local, TP_DTYPE_F64, 5, v);
  tp_buffer *repl = with(f.repl, TP_DTYPE_F64, 6, v);
  float fv[6] = {1, 2, 3, 4, 5, 6};
  tp_buffer *single = with(f.local, TP_DTYPE_F32, 6, fv);
  tp_layout l2 = ct_layout(TP_DTYPE_F64, 2, (int64_t)2, (int64_t)3);
  tp_buffer *shaped = NULL;
  ct_ok(tp_allocator_allocate(f.local, &l2, NULL, NULL, &shaped));
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer *r = (tp_buffer *)0x5;
  tp_buffer *others[4] = {shorter, repl, single, shaped};
  for (int i = 0; i < 4; i++) {
    ct_expect_fail(
        tp_axpby(tp_scalar_real(1), x, tp_scalar_real(1), others[i], NULL, &r),
        TP_ERR_MISMATCH, NULL);
    ct_expect_fail(
        tp_axpby(tp_scalar_real(1), others[i], tp_scalar_real(1), x, NULL, &r),
        TP_ERR_MISMATCH, NULL);
  }
  ct_expect_fail(
      tp_axpby(tp_scalar_real(1), NULL, tp_scalar_real(1), x, NULL, &r),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_axpby(tp_scalar_real(1), x, tp_scalar_real(1), x, NULL, NULL),
      TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(r, (tp_buffer *)0x5);
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.allocations, before.allocations);
  double back[6];
  ct_ok(tp_buffer_read(x, 0, sizeof back, back));
  cr_expect(memcmp(back, v, sizeof v) == 0);
  tp_buffer *all[5] = {x, shorter, repl, single, shaped};
  for (int i = 0; i < 5; i++)
    ct_ok(tp_buffer_destroy(all[i]));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* "the first operand (x) when they are in the same kind of space": with
 * one backend per space in a runtime, two runtimes show the tie. */
Test(axpby, result_allocator_of_operands_in_the_same_space) {
  fixture f = setup();
  tp_runtime *other = ct_runtime();
  tp_allocator *theirs = ct_allocator(other, TP_BUFFER_LOCAL);
  double v[3] = {1, 2, 3};
  tp_buffer *x = with(f.local, TP_DTYPE_F64, 3, v);
  tp_buffer *y = with(theirs, TP_DTYPE_F64, 3, v);
  tp_allocator *a = NULL;
  ct_ok(tp_result_allocator(x, y, &a));
  cr_expect_eq(a, f.local);
  ct_ok(tp_result_allocator(y, x, &a));
  cr_expect_eq(a, theirs, "ties go to the first operand");
  /* ops.h: the operands of tp_axpby must come from one runtime (their
   * ranks could differ otherwise): TP_ERR_MISMATCH, nothing allocated. */
  tp_buffer *r = (tp_buffer *)0x5;
  ct_expect_fail(tp_axpby(tp_scalar_real(1), y, tp_scalar_real(1), x, NULL, &r),
                 TP_ERR_MISMATCH, NULL);
  cr_expect_eq(r, (tp_buffer *)0x5);
  ct_expect_fail(tp_result_allocator(NULL, x, &a), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_result_allocator(x, y, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_ok(tp_buffer_destroy(x));
  ct_ok(tp_buffer_destroy(y));
  ct_ok(tp_runtime_destroy(other));
  ct_ok(tp_runtime_destroy(f.rt));
}
