/* tensorpool/generator.h: every generator's documented formula, per element
 * type, recomputed here from the header's words (Philox-4x32-10 included),
 * and tp_generator_check's rules. */
#include <float.h>
#include <math.h>

#include "contract.h"

/* ---- The reference: Philox-4x32-10 (Salmon et al., SC'11) -------------- */

/* key = seed (low word first), counter = (linear, 0) as two 64-bit halves,
 * each low word first; gives w0..w3. generator.h's "w0:w1" is the 64-bit
 * value with w0 in the high half. */
static void philox(uint64_t seed, uint64_t linear, uint32_t w[4]) {
  uint32_t c[4] = {(uint32_t)linear, (uint32_t)(linear >> 32), 0, 0};
  uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t n[4] = {(uint32_t)(p1 >> 32) ^ c[1] ^ k[0], (uint32_t)p1,
                     (uint32_t)(p0 >> 32) ^ c[3] ^ k[1], (uint32_t)p0};
    memcpy(c, n, sizeof c);
  }
  memcpy(w, c, sizeof c);
}

static uint64_t join(uint32_t hi, uint32_t lo) {
  return (uint64_t)hi << 32 | lo;
}

/* UNIFORM f64: u = (w >> 11) * 2^-53; v = lo + (hi - lo) * u, and the
 * largest double below hi if rounding reached hi. */
static double uniform_part(double lo, double hi, uint64_t w) {
  double u = (double)(w >> 11) * 0x1p-53;
  double v = lo + (hi - lo) * u;
  return v < hi ? v : nextafter(hi, -INFINITY);
}

/* ---- Filling through the host allocator --------------------------------- */

typedef struct filled {
  tp_runtime *rt;
  tp_buffer *b;
  unsigned char *bytes;
  size_t n; /* elements */
} filled;

static filled fill(tp_dtype dtype, const tp_generator *gen, int ndim,
                   const int64_t *extents) {
  filled f = {0};
  f.rt = ct_runtime();
  tp_layout l;
  ct_ok(tp_layout_make(dtype, ndim, extents, &l));
  ct_ok(tp_layout_count(&l, &f.n));
  ct_ok(tp_allocator_construct_generator(ct_allocator(f.rt, TP_BUFFER_LOCAL),
                                         &l, NULL, gen, NULL, &f.b));
  size_t bytes = f.n * tp_dtype_size(dtype);
  f.bytes = malloc(bytes + 1);
  ct_ok(tp_buffer_read(f.b, 0, bytes, f.bytes));
  return f;
}

static void done(filled *f) {
  free(f->bytes);
  ct_ok(tp_buffer_destroy(f->b));
  ct_ok(tp_runtime_destroy(f->rt));
}

static double f64_at(const filled *f, size_t i) {
  double d;
  memcpy(&d, f->bytes + 8 * i, 8);
  return d;
}
static float f32_at(const filled *f, size_t i) {
  float x;
  memcpy(&x, f->bytes + 4 * i, 4);
  return x;
}
static int64_t i64_at(const filled *f, size_t i) {
  int64_t x;
  memcpy(&x, f->bytes + 8 * i, 8);
  return x;
}
static int32_t i32_at(const filled *f, size_t i) {
  int32_t x;
  memcpy(&x, f->bytes + 4 * i, 4);
  return x;
}
static uint16_t u16_at(const filled *f, size_t i) {
  uint16_t x;
  memcpy(&x, f->bytes + 2 * i, 2);
  return x;
}

/* f16/bf16 of a double, by tp_scalar_store (whose rounding test_layout.c
 * checks against hand-computed bits). */
static uint16_t half_of(double v, tp_dtype t) {
  uint16_t h = 0;
  ct_ok(tp_scalar_store(tp_scalar_real(v), t, &h));
  return h;
}

static const int64_t SHAPE[2] = {3, 5};

/* ---- ARANGE ------------------------------------------------------------- */

/* "f64: in double. f32: computed in double, rounded once to float.
 * c64/c128: the real part as f32/f64, imaginary part 0." */
Test(arange, floating_types) {
  tp_generator g = tp_generator_arange(0.1, 0.7);
  filled f = fill(TP_DTYPE_F64, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq(ct_bits64(f64_at(&f, i)), ct_bits64(0.1 + 0.7 * (double)i),
                 "f64 element %zu", i);
  done(&f);
  f = fill(TP_DTYPE_F32, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq(ct_bits32(f32_at(&f, i)),
                 ct_bits32((float)(0.1 + 0.7 * (double)i)), "f32 element %zu",
                 i);
  done(&f);
  f = fill(TP_DTYPE_C64, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++) {
    cr_expect_eq(ct_bits32(f32_at(&f, 2 * i)),
                 ct_bits32((float)(0.1 + 0.7 * (double)i)));
    cr_expect_eq(ct_bits32(f32_at(&f, 2 * i + 1)), 0u);
  }
  done(&f);
  f = fill(TP_DTYPE_C128, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++) {
    cr_expect_eq(ct_bits64(f64_at(&f, 2 * i)),
                 ct_bits64(0.1 + 0.7 * (double)i));
    cr_expect_eq(ct_bits64(f64_at(&f, 2 * i + 1)), 0u);
  }
  done(&f);
}

/* f16 and bf16: "the f64 value of every generator, rounded once". */
Test(arange, half_types_round_the_double_once) {
  tp_generator g = tp_generator_arange(-1.0, 0.1);
  tp_dtype ts[2] = {TP_DTYPE_F16, TP_DTYPE_BF16};
  for (int k = 0; k < 2; k++) {
    filled f = fill(ts[k], &g, 2, SHAPE);
    for (size_t i = 0; i < f.n; i++)
      cr_expect_eq(u16_at(&f, i), half_of(-1.0 + 0.1 * (double)i, ts[k]),
                   "%s element %zu", tp_dtype_name(ts[k]), i);
    done(&f);
  }
}

/* "i64: start + step * linear in int64 arithmetic, wrapping modulo 2^64;
 * i32: the same, then truncated to the low 32 bits". */
Test(arange, integers_wrap) {
  tp_generator g = tp_generator_arange(9e18, 1e17);
  filled f = fill(TP_DTYPE_I64, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++) {
    uint64_t want =
        (uint64_t)9000000000000000000ull + (uint64_t)100000000000000000ull * i;
    cr_expect_eq((uint64_t)i64_at(&f, i), want, "i64 element %zu", i);
  }
  cr_expect_lt(i64_at(&f, 14), 0, "the sum passed 2^63 and wrapped");
  done(&f);
  g = tp_generator_arange(2147483000.0, 100.0);
  f = fill(TP_DTYPE_I32, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++) {
    uint64_t v = (uint64_t)2147483000 + 100 * (uint64_t)i;
    cr_expect_eq((uint32_t)i32_at(&f, i), (uint32_t)v, "i32 element %zu", i);
  }
  done(&f);
}

/* i8, u8: "the int64 value ... wrapped to its low 8 bits"; bool: "1 where
 * that int64 value is nonzero (so arange(0, 1) gives 0, 1, 1, ...)". */
Test(arange, small_integers_and_bool) {
  tp_generator g = tp_generator_arange(120, 1);
  filled f = fill(TP_DTYPE_I8, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq((int8_t)f.bytes[i], (int8_t)(uint8_t)(120 + i), "i8 %zu", i);
  done(&f);
  g = tp_generator_arange(250, 1);
  f = fill(TP_DTYPE_U8, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq(f.bytes[i], (uint8_t)(250 + i), "u8 %zu", i);
  done(&f);
  g = tp_generator_arange(0, 1);
  f = fill(TP_DTYPE_BOOL, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq(f.bytes[i], i == 0 ? 0 : 1, "bool %zu", i);
  done(&f);
  g = tp_generator_arange(1, -1); /* 1, 0, -1, -2, ...: 1, 0, 1, 1, ... */
  f = fill(TP_DTYPE_BOOL, &g, 2, SHAPE);
  for (size_t i = 0; i < f.n; i++)
    cr_expect_eq(f.bytes[i], i == 1 ? 0 : 1, "bool %zu", i);
  done(&f);
}

/* ---- AFFINE ------------------------------------------------------------- */

/* "v = offset + sum_k coeff[k] * index[k], summed in axis order". */
Test(affine, floating_sum_in_axis_order) {
  double coeff[3] = {0.1, 0.7, 1e-17};
  const int64_t shape3[3] = {4, 3, 5};
  tp_generator g = tp_generator_affine(0.3, 3, coeff);
  filled f = fill(TP_DTYPE_F64, &g, 3, shape3);
  size_t i = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 5; c++, i++) {
        double v = 0.3;
        v += 0.1 * a;
        v += 0.7 * b;
        v += 1e-17 * c;
        cr_expect_eq(ct_bits64(f64_at(&f, i)), ct_bits64(v), "(%d,%d,%d)", a, b,
                     c);
      }
  done(&f);
  f = fill(TP_DTYPE_F32, &g, 3, shape3);
  i = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 5; c++, i++) {
        double v = 0.3;
        v += 0.1 * a;
        v += 0.7 * b;
        v += 1e-17 * c;
        cr_expect_eq(ct_bits32(f32_at(&f, i)), ct_bits32((float)v));
      }
  done(&f);
}

/* Integer affine: int64 arithmetic wrapping modulo 2^64; a NULL coeff is
 * all zeros. */
Test(affine, integers_wrap_and_null_coefficients) {
  double coeff[2] = {4611686018427387904.0 /* 2^62 */, -3};
  tp_generator g = tp_generator_affine(5, 2, coeff);
  filled f = fill(TP_DTYPE_I64, &g, 2, SHAPE);
  size_t i = 0;
  for (uint64_t a = 0; a < 3; a++)
    for (uint64_t b = 0; b < 5; b++, i++)
      cr_expect_eq((uint64_t)i64_at(&f, i),
                   5u + ((uint64_t)1 << 62) * a - 3u * b, "(%d,%d)", (int)a,
                   (int)b);
  done(&f);
  g = tp_generator_affine(-7, 2, NULL);
  f = fill(TP_DTYPE_I32, &g, 2, SHAPE);
  for (i = 0; i < f.n; i++)
    cr_expect_eq(i32_at(&f, i), -7);
  done(&f);
}

/* ---- IDENTITY ----------------------------------------------------------- */

/* "v = diagonal where all indices are equal (every element of a 0-d or 1-d
 * tensor), 0 elsewhere; complex: imaginary 0". */
Test(identity, where_all_indices_are_equal) {
  tp_generator g = tp_generator_identity(2.5);
  const int64_t cube[3] = {2, 3, 2};
  filled f = fill(TP_DTYPE_F64, &g, 3, cube);
  size_t i = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 2; c++, i++)
        cr_expect_eq(f64_at(&f, i), a == b && b == c ? 2.5 : 0.0, "(%d,%d,%d)",
                     a, b, c);
  done(&f);
  const int64_t line[1] = {4};
  f = fill(TP_DTYPE_F32, &g, 1, line);
  for (i = 0; i < 4; i++)
    cr_expect_eq(f32_at(&f, i), 2.5f);
  done(&f);
  f = fill(TP_DTYPE_F64, &g, 0, NULL);
  cr_expect_eq(f64_at(&f, 0), 2.5);
  done(&f);
  const int64_t sq[2] = {3, 3};
  f = fill(TP_DTYPE_C128, &g, 2, sq);
  for (i = 0; i < 9; i++) {
    cr_expect_eq(f64_at(&f, 2 * i), i % 4 == 0 ? 2.5 : 0.0);
    cr_expect_eq(ct_bits64(f64_at(&f, 2 * i + 1)), 0u);
  }
  done(&f);
  /* bool: identity(1) is the identity matrix. */
  tp_generator one = tp_generator_identity(1);
  f = fill(TP_DTYPE_BOOL, &one, 2, sq);
  for (i = 0; i < 9; i++)
    cr_expect_eq(f.bytes[i], i % 4 == 0 ? 1 : 0);
  done(&f);
  tp_generator m = tp_generator_identity(-3);
  f = fill(TP_DTYPE_I64, &m, 2, sq);
  for (i = 0; i < 9; i++)
    cr_expect_eq(i64_at(&f, i), i % 4 == 0 ? -3 : 0);
  done(&f);
}

/* ---- UNIFORM ------------------------------------------------------------ */

static const double CT_PI = 3.14159265358979323846;
static const uint64_t SEED = 0x0123456789ABCDEFull;

Test(uniform, f64_and_f32_follow_the_formula) {
  tp_generator g = tp_generator_uniform(SEED, -2.0, 3.0);
  const int64_t n[1] = {1000};
  filled f = fill(TP_DTYPE_F64, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    double want = uniform_part(-2.0, 3.0, join(w[0], w[1]));
    cr_assert_eq(ct_bits64(f64_at(&f, i)), ct_bits64(want),
                 "f64 element %zu: %a, wanted %a", i, f64_at(&f, i), want);
  }
  done(&f);
  f = fill(TP_DTYPE_F32, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    float want = (float)uniform_part(-2.0, 3.0, join(w[0], w[1]));
    if (want >= 3.0f)
      want = nextafterf(3.0f, -INFINITY);
    cr_assert_eq(ct_bits32(f32_at(&f, i)), ct_bits32(want), "f32 %zu", i);
    cr_assert_lt(f32_at(&f, i), 3.0f);
  }
  done(&f);
}

/* "c64/c128: real from w0:w1, imaginary from w2:w3". */
Test(uniform, complex_parts_are_independent_draws) {
  tp_generator g = tp_generator_uniform(7, 0.0, 1.0);
  const int64_t n[1] = {200};
  filled f = fill(TP_DTYPE_C128, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(7, i, w);
    cr_assert_eq(ct_bits64(f64_at(&f, 2 * i)),
                 ct_bits64(uniform_part(0.0, 1.0, join(w[0], w[1]))));
    cr_assert_eq(ct_bits64(f64_at(&f, 2 * i + 1)),
                 ct_bits64(uniform_part(0.0, 1.0, join(w[2], w[3]))));
  }
  done(&f);
  f = fill(TP_DTYPE_C64, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(7, i, w);
    cr_assert_eq(f32_at(&f, 2 * i),
                 (float)uniform_part(0.0, 1.0, join(w[0], w[1])));
    cr_assert_eq(f32_at(&f, 2 * i + 1),
                 (float)uniform_part(0.0, 1.0, join(w[2], w[3])));
  }
  done(&f);
}

/* f32: "rounded once to float (and below hi)": with hi one float ulp above
 * lo, every value is lo. */
Test(uniform, f32_stays_below_hi) {
  tp_generator g = tp_generator_uniform(3, 1.0, (double)nextafterf(1.0f, 2.0f));
  const int64_t n[1] = {500};
  filled f = fill(TP_DTYPE_F32, &g, 1, n);
  for (size_t i = 0; i < f.n; i++)
    cr_assert_eq(f32_at(&f, i), 1.0f, "element %zu reached hi", i);
  done(&f);
}

/* "i32/i64: v = lo + (w0:w1 mod (hi-lo)) in [lo, hi)". */
Test(uniform, integers_take_the_modulo) {
  tp_generator g = tp_generator_uniform(SEED, -5, 1000);
  const int64_t n[1] = {1000};
  filled f = fill(TP_DTYPE_I64, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq(i64_at(&f, i), -5 + (int64_t)(join(w[0], w[1]) % 1005),
                 "i64 %zu", i);
  }
  done(&f);
  f = fill(TP_DTYPE_I32, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq(i32_at(&f, i), -5 + (int32_t)(join(w[0], w[1]) % 1005));
  }
  done(&f);
}

/* generator.h (tp_generator_check): "uniform's exclusive hi may be one past
 * the largest value": the whole range of the type. For i64 that range is
 * 2^64 wide, one more than hi - lo can hold. */
Test(uniform, the_whole_range_of_the_integer_types) {
  tp_generator g =
      tp_generator_uniform(SEED, -9223372036854775808.0, 9223372036854775808.0);
  const int64_t n[1] = {300};
  filled f = fill(TP_DTYPE_I64, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq((uint64_t)i64_at(&f, i),
                 join(w[0], w[1]) + ((uint64_t)1 << 63), "i64 %zu", i);
  }
  done(&f);
  g = tp_generator_uniform(SEED, -2147483648.0, 2147483648.0);
  f = fill(TP_DTYPE_I32, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    int64_t want =
        INT32_MIN + (int64_t)(join(w[0], w[1]) % ((uint64_t)1 << 32));
    cr_assert_eq(i32_at(&f, i), (int32_t)want, "i32 %zu", i);
  }
  done(&f);
}

/* bool: "uniform(seed, 0, 2) fair coin flips"; i8/u8 wrap the int64 value
 * (here never needed: values lie in [lo, hi)). */
Test(uniform, small_integers_and_coin_flips) {
  tp_generator g = tp_generator_uniform(SEED, 0, 2);
  const int64_t n[1] = {4000};
  filled f = fill(TP_DTYPE_BOOL, &g, 1, n);
  size_t ones = 0;
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq(f.bytes[i], (uint8_t)(join(w[0], w[1]) % 2), "bool %zu", i);
    ones += f.bytes[i];
  }
  cr_expect(ones > 1800 && ones < 2200, "%zu ones in 4000 flips", ones);
  done(&f);
  g = tp_generator_uniform(SEED, -128, 128);
  f = fill(TP_DTYPE_I8, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq((int8_t)f.bytes[i],
                 (int8_t)(-128 + (int)(join(w[0], w[1]) % 256)));
  }
  done(&f);
  g = tp_generator_uniform(SEED, 10, 20);
  f = fill(TP_DTYPE_U8, &g, 1, n);
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    cr_assert_eq(f.bytes[i], (uint8_t)(10 + join(w[0], w[1]) % 10));
  }
  done(&f);
}

/* f16/bf16: "the f64 value ... rounded once to nearest even; UNIFORM keeps
 * the values below hi in the type". */
Test(uniform, half_types_stay_below_hi) {
  tp_dtype ts[2] = {TP_DTYPE_F16, TP_DTYPE_BF16};
  for (int k = 0; k < 2; k++) {
    tp_generator g = tp_generator_uniform(SEED, 1.0, 2.0);
    const int64_t n[1] = {3000};
    filled f = fill(ts[k], &g, 1, n);
    uint16_t hi = half_of(2.0, ts[k]), lo = half_of(1.0, ts[k]);
    int below_edge = 0;
    for (size_t i = 0; i < f.n; i++) {
      uint32_t w[4];
      philox(SEED, i, w);
      uint16_t want = half_of(uniform_part(1.0, 2.0, join(w[0], w[1])), ts[k]);
      if (want >= hi) /* positive values: bits order as values */
        want = (uint16_t)(hi - 1);
      else
        below_edge++;
      cr_assert_eq(u16_at(&f, i), want, "%s %zu", tp_dtype_name(ts[k]), i);
      cr_assert(u16_at(&f, i) >= lo && u16_at(&f, i) < hi);
    }
    cr_expect_gt(below_edge, 0);
    done(&f);
  }
}

/* ---- NORMAL ------------------------------------------------------------- */

/* Box-Muller on the same words; the library's own log, sin and cos are
 * within 2 ulp of the exact value, so libm's give the same values to about
 * 1e-14 relative (far from r = 0). Complex: imaginary from z1. */
Test(normal, box_muller_on_the_same_words) {
  tp_generator g = tp_generator_normal(SEED, 1.5, 2.0);
  const int64_t n[1] = {20000};
  filled f = fill(TP_DTYPE_C128, &g, 1, n);
  double sum = 0, sum2 = 0;
  for (size_t i = 0; i < f.n; i++) {
    uint32_t w[4];
    philox(SEED, i, w);
    double u1 = (double)(1 + (join(w[0], w[1]) >> 11)) * 0x1p-53;
    double u2 = (double)(join(w[2], w[3]) >> 11) * 0x1p-53;
    double r = sqrt(-2 * log(u1));
    double z0 = r * cos(2 * CT_PI * u2), z1 = r * sin(2 * CT_PI * u2);
    double re = f64_at(&f, 2 * i), im = f64_at(&f, 2 * i + 1);
    cr_assert_float_eq(re, 1.5 + 2.0 * z0, 1e-12 * (1 + fabs(re)), "re %zu", i);
    cr_assert_float_eq(im, 1.5 + 2.0 * z1, 1e-12 * (1 + fabs(im)), "im %zu", i);
    sum += re;
    sum2 += re * re;
  }
  double mean = sum / (double)f.n, var = sum2 / (double)f.n - mean * mean;
  cr_expect_float_eq(mean, 1.5, 0.06);
  cr_expect_float_eq(var, 4.0, 0.2);
  done(&f);

  /* The real types take z0, the same bits as the complex real part. */
  filled r = fill(TP_DTYPE_F64, &g, 1, n);
  filled c = fill(TP_DTYPE_C128, &g, 1, n);
  for (size_t i = 0; i < r.n; i++)
    cr_assert_eq(ct_bits64(f64_at(&r, i)), ct_bits64(f64_at(&c, 2 * i)));
  done(&r);
  done(&c);
}

/* "Values depend only on the generator and the element's global index": a
 * larger tensor starts with the same values, and the same generator gives
 * the same bits again; another seed gives others. */
Test(normal, values_depend_on_the_index_only) {
  tp_generator g = tp_generator_normal(99, 0, 1);
  const int64_t small[1] = {10}, big[2] = {5, 7};
  filled a = fill(TP_DTYPE_F64, &g, 1, small);
  filled b = fill(TP_DTYPE_F64, &g, 2, big);
  cr_expect(memcmp(a.bytes, b.bytes, 10 * 8) == 0);
  tp_generator h = tp_generator_normal(100, 0, 1);
  filled c = fill(TP_DTYPE_F64, &h, 1, small);
  cr_expect(memcmp(a.bytes, c.bytes, 10 * 8) != 0);
  done(&a);
  done(&b);
  done(&c);
}

/* ---- Constructors and checks -------------------------------------------- */

/* "the union's size (128 bytes) is part of the 1.x ABI. The constructors
 * zero it." */
Test(generator_abi, constructors_zero_the_union) {
  cr_expect_eq(sizeof(((tp_generator *)0)->p), 128);
  double c3[3] = {1, 2, 3};
  tp_generator gs[5] = {tp_generator_arange(1, 2),
                        tp_generator_affine(1, 3, c3), tp_generator_identity(4),
                        tp_generator_uniform(5, 0, 1),
                        tp_generator_normal(6, 0, 1)};
  size_t used[5] = {16, 8 + 3 * 8, 8, 24, 24};
  tp_generator_kind kinds[5] = {TP_GENERATOR_ARANGE, TP_GENERATOR_AFFINE,
                                TP_GENERATOR_IDENTITY, TP_GENERATOR_UNIFORM,
                                TP_GENERATOR_NORMAL};
  const char *names[5] = {"arange", "affine", "identity", "uniform", "normal"};
  for (int k = 0; k < 5; k++) {
    cr_expect_eq(gs[k].kind, kinds[k]);
    cr_expect_str_eq(tp_generator_kind_name(kinds[k]), names[k]);
    const unsigned char *u = (const unsigned char *)&gs[k].p;
    for (size_t i = used[k]; i < 128; i++)
      cr_assert_eq(u[i], 0, "%s: byte %zu of the union", names[k], i);
  }
  cr_expect_eq(gs[1].p.affine.offset, 1);
  cr_expect_eq(gs[1].p.affine.coeff[2], 3);
  cr_expect_eq(gs[1].p.affine.coeff[3], 0);
  cr_expect_eq(gs[3].p.uniform.seed, 5);
  cr_expect_str_eq(tp_generator_kind_name((tp_generator_kind)5), "invalid");
  cr_expect_str_eq(tp_generator_kind_name((tp_generator_kind)-1), "invalid");
}

static tp_status check(tp_generator g, tp_dtype t) {
  int64_t e[2] = {3, 3};
  tp_layout l;
  tp_status st = tp_layout_make(t, 2, e, &l);
  cr_assert_eq(st, TP_SUCCESS);
  return tp_generator_check(&g, &l);
}

#define ACCEPTS(g, t)                                                          \
  cr_expect_eq(check(g, t), TP_SUCCESS, "%s on %s: %s", #g, tp_dtype_name(t),  \
               tp_last_error())
#define REFUSES(g, t)                                                          \
  do {                                                                         \
    tp_set_last_error(TP_SUCCESS, "%s", "");                                   \
    cr_expect_eq(check(g, t), TP_ERR_INVALID_ARGUMENT, "%s on %s accepted",    \
                 #g, tp_dtype_name(t));                                        \
    cr_expect_gt(strlen(tp_last_error()), 0, "%s: no reason given", #g);       \
  } while (0)

/* "a known kind, finite parameters, lo < hi, stddev >= 0, no NORMAL for
 * integers". */
Test(generator_check, general_rules) {
  tp_generator bad_kind = tp_generator_arange(0, 1);
  bad_kind.kind = (tp_generator_kind)17;
  REFUSES(bad_kind, TP_DTYPE_F64);
  REFUSES(tp_generator_arange(NAN, 1), TP_DTYPE_F64);
  REFUSES(tp_generator_arange(0, INFINITY), TP_DTYPE_F32);
  double inf_coeff[2] = {1, INFINITY};
  REFUSES(tp_generator_affine(0, 2, inf_coeff), TP_DTYPE_F64);
  REFUSES(tp_generator_identity(NAN), TP_DTYPE_F64);
  REFUSES(tp_generator_uniform(1, 1, 1), TP_DTYPE_F64);
  REFUSES(tp_generator_uniform(1, 2, 1), TP_DTYPE_F64);
  REFUSES(tp_generator_uniform(1, 0, INFINITY), TP_DTYPE_F64);
  REFUSES(tp_generator_normal(1, 0, -1), TP_DTYPE_F64);
  REFUSES(tp_generator_normal(1, NAN, 1), TP_DTYPE_F64);
  ACCEPTS(tp_generator_normal(1, 0, 0), TP_DTYPE_F64);
  tp_dtype ints[5] = {TP_DTYPE_I32, TP_DTYPE_I64, TP_DTYPE_I8, TP_DTYPE_U8,
                      TP_DTYPE_BOOL};
  for (int i = 0; i < 5; i++)
    REFUSES(tp_generator_normal(1, 0, 1), ints[i]);
  ACCEPTS(tp_generator_normal(1, 0, 1), TP_DTYPE_F16);
  ACCEPTS(tp_generator_normal(1, 0, 1), TP_DTYPE_C64);

  tp_generator g = tp_generator_arange(0, 1);
  tp_layout l = ct_layout(TP_DTYPE_F32, 1, (int64_t)3);
  ct_expect_fail(tp_generator_check(NULL, &l), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_generator_check(&g, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
}

/* "for integer types every parameter an integer the type holds (i32:
 * -2^31 .. 2^31-1; uniform's exclusive hi may be one past the largest
 * value), since an arange from 1e10 would otherwise fill an i32 tensor with
 * wrapped values". */
Test(generator_check, integer_parameters) {
  REFUSES(tp_generator_arange(1e10, 1), TP_DTYPE_I32);
  REFUSES(tp_generator_arange(0.5, 1), TP_DTYPE_I32);
  REFUSES(tp_generator_arange(0, 0.5), TP_DTYPE_I64);
  REFUSES(tp_generator_arange(2147483648.0, 1), TP_DTYPE_I32);
  REFUSES(tp_generator_arange(0, 2147483648.0), TP_DTYPE_I32);
  ACCEPTS(tp_generator_arange(-2147483648.0, 2147483647.0), TP_DTYPE_I32);
  ACCEPTS(tp_generator_arange(1e10, 1), TP_DTYPE_I64);
  REFUSES(tp_generator_arange(9223372036854775808.0, 1), TP_DTYPE_I64);
  ACCEPTS(tp_generator_arange(-9223372036854775808.0, 1), TP_DTYPE_I64);
  double half[2] = {1, 0.5}, big[2] = {1, 1e10};
  REFUSES(tp_generator_affine(0, 2, half), TP_DTYPE_I64);
  REFUSES(tp_generator_affine(0, 2, big), TP_DTYPE_I32);
  REFUSES(tp_generator_affine(0.5, 2, NULL), TP_DTYPE_I32);
  REFUSES(tp_generator_identity(0.5), TP_DTYPE_I32);
  ACCEPTS(tp_generator_uniform(1, -2147483648.0, 2147483648.0), TP_DTYPE_I32);
  REFUSES(tp_generator_uniform(1, 0, 2147483649.0), TP_DTYPE_I32);
  REFUSES(tp_generator_uniform(1, 0.5, 10), TP_DTYPE_I32);
  ACCEPTS(
      tp_generator_uniform(1, -9223372036854775808.0, 9223372036854775808.0),
      TP_DTYPE_I64);
}

/* "For these three the values (start, offset, diagonal, lo, hi - 1) must
 * lie in the type's range (i8: -128..127, u8: 0..255, bool: 0..1) and
 * steps and coefficients within +-128 (i8), +-255 (u8) or +-1 (bool)." */
Test(generator_check, small_integer_ranges) {
  ACCEPTS(tp_generator_arange(127, -128), TP_DTYPE_I8);
  ACCEPTS(tp_generator_arange(-128, 128), TP_DTYPE_I8);
  REFUSES(tp_generator_arange(128, 1), TP_DTYPE_I8);
  REFUSES(tp_generator_arange(-129, 1), TP_DTYPE_I8);
  REFUSES(tp_generator_arange(0, 129), TP_DTYPE_I8);
  REFUSES(tp_generator_arange(0, -129), TP_DTYPE_I8);
  ACCEPTS(tp_generator_arange(255, -255), TP_DTYPE_U8);
  REFUSES(tp_generator_arange(256, 1), TP_DTYPE_U8);
  REFUSES(tp_generator_arange(-1, 1), TP_DTYPE_U8);
  REFUSES(tp_generator_arange(0, 256), TP_DTYPE_U8);
  ACCEPTS(tp_generator_arange(1, -1), TP_DTYPE_BOOL);
  REFUSES(tp_generator_arange(2, 1), TP_DTYPE_BOOL);
  REFUSES(tp_generator_arange(-1, 1), TP_DTYPE_BOOL);
  REFUSES(tp_generator_arange(0, 2), TP_DTYPE_BOOL);
  double c_i8[2] = {128, -128}, c_bad[2] = {1, 129};
  ACCEPTS(tp_generator_affine(0, 2, c_i8), TP_DTYPE_I8);
  REFUSES(tp_generator_affine(0, 2, c_bad), TP_DTYPE_I8);
  REFUSES(tp_generator_affine(300, 2, NULL), TP_DTYPE_U8);
  ACCEPTS(tp_generator_identity(1), TP_DTYPE_BOOL);
  REFUSES(tp_generator_identity(2), TP_DTYPE_BOOL);
  REFUSES(tp_generator_identity(-129), TP_DTYPE_I8);
  ACCEPTS(tp_generator_uniform(1, 0, 2), TP_DTYPE_BOOL);
  REFUSES(tp_generator_uniform(1, 0, 3), TP_DTYPE_BOOL);
  REFUSES(tp_generator_uniform(1, -1, 1), TP_DTYPE_BOOL);
  ACCEPTS(tp_generator_uniform(1, 0, 256), TP_DTYPE_U8);
  REFUSES(tp_generator_uniform(1, 0, 257), TP_DTYPE_U8);
  ACCEPTS(tp_generator_uniform(1, -128, 128), TP_DTYPE_I8);
  REFUSES(tp_generator_uniform(1, -129, 0), TP_DTYPE_I8);
}

/* f16/bf16 uniform "needs lo and hi to round to finite values with lo < hi
 * there". */
Test(generator_check, half_type_uniform_bounds) {
  REFUSES(tp_generator_uniform(1, 0, 1e6), TP_DTYPE_F16);
  ACCEPTS(tp_generator_uniform(1, 0, 65504), TP_DTYPE_F16);
  REFUSES(tp_generator_uniform(1, 1.0, 1.0001), TP_DTYPE_F16);
  ACCEPTS(tp_generator_uniform(1, 0, 1e6), TP_DTYPE_BF16);
  REFUSES(tp_generator_uniform(1, 1.0, 1.001), TP_DTYPE_BF16);
  REFUSES(tp_generator_uniform(1, -1e300, 0), TP_DTYPE_BF16);
}

/* allocator.h: "the generator is checked (tp_generator_check) before
 * anything is allocated"; on failure *out is untouched. */
Test(generator_check, construct_refuses_before_allocating) {
  tp_runtime *rt = ct_runtime();
  tp_allocator *a = ct_allocator(rt, TP_BUFFER_LOCAL);
  tp_layout l = ct_layout(TP_DTYPE_I32, 2, (int64_t)100, (int64_t)100);
  tp_pool_stats before = ct_host_stats(rt);
  tp_generator g = tp_generator_arange(1e10, 1);
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_construct_generator(a, &l, NULL, &g, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  ct_expect_fail(tp_allocator_construct_generator(a, &l, NULL, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  tp_pool_stats after = ct_host_stats(rt);
  cr_expect_eq(after.allocations, before.allocations);
  cr_expect_eq(after.reserved_bytes, before.reserved_bytes);
  ct_ok(tp_runtime_destroy(rt));
}
