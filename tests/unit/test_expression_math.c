/* The expression language's own math functions (src/tensor/expression_math.h,
 * run by the host evaluator and by the NVRTC kernels alike): within 1 ulp
 * of the exact value, measured against the x86 long double functions
 * (64-bit significands, so their own error is far below a double's ulp),
 * and the C99 special values (Annex F) as the C library gives them. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tensor/expression_math.h"
#include "test_rng.h"

/* |got - want| in units in the last place of the double nearest to want
 * (subnormal results: of the smallest subnormal). */
static double ulps(double got, long double want) {
  double w = (double)want;
  if (isnan(w))
    return isnan(got) ? 0.0 : 1e30;
  if (isinf(w))
    return got == w ? 0.0 : 1e30;
  if (w == 0.0)
    return got == 0.0 ? 0.0 : 1e30;
  int e;
  frexp(w, &e);
  double ulp = ldexp(1.0, e - 53);
  if (ulp < 0x1.0p-1074)
    ulp = 0x1.0p-1074;
  return (double)(fabsl((long double)got - want) / ulp);
}

static double uniform(tp_rng *rng, double lo, double hi) {
  return lo + (hi - lo) * (double)(tp_rng_next(rng) >> 11) * 0x1.0p-53;
}

typedef double (*unary)(double);
typedef long double (*reference)(long double);

/* The worst error over n points of [lo, hi] (log-spaced magnitudes of both
 * signs when `log_spaced`). */
static double worst(unary f, reference r, double lo, double hi, int log_spaced,
                    int n, double *where) {
  tp_rng rng = tp_rng_make(12345);
  double bad = 0.0;
  for (int k = 0; k < n; ++k) {
    double x = log_spaced ? exp(uniform(&rng, log(lo), log(hi)))
                          : uniform(&rng, lo, hi);
    if (log_spaced && (tp_rng_next(&rng) & 1))
      x = -x;
    double u = ulps(f(x), r(x));
    if (u > bad) {
      bad = u;
      *where = x;
    }
  }
  return bad;
}

static long double ref_exp2(long double x) {
  return exp2l(x);
}
static long double ref_log2(long double x) {
  return log2l(x);
}
static long double ref_log10(long double x) {
  return log10l(x);
}

Test(expression_math, every_function_within_one_ulp) {
  const struct {
    const char *name;
    unary f;
    reference r;
    double lo, hi;
    int log_spaced;
  } cases[] = {
      {"exp", tp_xm_exp, expl, -745.0, 709.7, 0},
      {"exp", tp_xm_exp, expl, -1.0, 1.0, 0},
      {"exp2", tp_xm_exp2, ref_exp2, -1074.0, 1023.9, 0},
      {"expm1", tp_xm_expm1, expm1l, 1e-300, 700.0, 1},
      {"log", tp_xm_log, logl, 1e-320, 1e308, 1},
      {"log", tp_xm_log, logl, 0.5, 2.0, 0},
      {"log2", tp_xm_log2, ref_log2, 1e-320, 1e308, 1},
      {"log10", tp_xm_log10, ref_log10, 1e-320, 1e308, 1},
      {"sin", tp_xm_sin, sinl, -10.0, 10.0, 0},
      {"sin", tp_xm_sin, sinl, 1e-10, 1e300, 1},
      {"cos", tp_xm_cos, cosl, -10.0, 10.0, 0},
      {"cos", tp_xm_cos, cosl, 1e-10, 1e300, 1},
      {"tan", tp_xm_tan, tanl, -10.0, 10.0, 0},
      {"tan", tp_xm_tan, tanl, 1e-10, 1e300, 1},
      {"asin", tp_xm_asin, asinl, -1.0, 1.0, 0},
      {"acos", tp_xm_acos, acosl, -1.0, 1.0, 0},
      {"acos", tp_xm_acos, acosl, 1e-20, 1.0, 1},
      {"atan", tp_xm_atan, atanl, 1e-300, 1e300, 1},
      {"sinh", tp_xm_sinh, sinhl, 1e-300, 710.0, 1},
      {"cosh", tp_xm_cosh, coshl, -30.0, 30.0, 0},
      {"cosh", tp_xm_cosh, coshl, 1e-300, 710.0, 1},
      {"tanh", tp_xm_tanh, tanhl, 1e-300, 30.0, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    double where = 0.0;
    double bad = worst(cases[c].f, cases[c].r, cases[c].lo, cases[c].hi,
                       cases[c].log_spaced, 40000, &where);
    cr_expect_leq(bad, 1.0, "%s on [%g, %g]: %.3f ulp at %a", cases[c].name,
                  cases[c].lo, cases[c].hi, bad, where);
  }
}

Test(expression_math, pow_and_atan2_within_one_ulp) {
  tp_rng rng = tp_rng_make(99);
  double bad_pow = 0.0, bad_atan2 = 0.0;
  for (int k = 0; k < 100000; ++k) {
    double x, y;
    switch (k % 4) {
    case 0:
      x = exp(uniform(&rng, -700.0, 700.0));
      y = uniform(&rng, -3.0, 3.0);
      break;
    case 1:
      x = uniform(&rng, 0.0, 4.0);
      y = uniform(&rng, -300.0, 300.0);
      break;
    case 2:
      x = 1.0 + uniform(&rng, -0.5, 0.5);
      y = uniform(&rng, -2000.0, 2000.0);
      break;
    default: /* results near the ends of the range */
      x = exp(uniform(&rng, -5.0, 5.0));
      y = uniform(&rng, -700.0, 700.0) / log(x);
      break;
    }
    long double want = powl(x, y);
    if (isfinite((double)want) && (double)want != 0.0)
      bad_pow = fmax(bad_pow, ulps(tp_xm_pow(x, y), want));
    double a = uniform(&rng, -5.0, 5.0), b = uniform(&rng, -5.0, 5.0);
    if (k % 3 == 0)
      a *= 1e-5;
    bad_atan2 = fmax(bad_atan2, ulps(tp_xm_atan2(a, b), atan2l(a, b)));
  }
  cr_expect_leq(bad_pow, 1.0, "pow: %.3f ulp", bad_pow);
  cr_expect_leq(bad_atan2, 1.0, "atan2: %.3f ulp", bad_atan2);
}

static int same(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Zeros with their signs, infinities, NaN, the ends of the ranges: as C99
 * Annex F specifies, hence as the C library computes. */
Test(expression_math, special_values_as_c99_says) {
  const double v[] = {0.0,      -0.0,      1.0,   -1.0,   0.5,
                      -0.5,     2.0,       -2.0,  3.0,    -3.0,
                      INFINITY, -INFINITY, NAN,   1e-310, -1e-310,
                      1e300,    -1e300,    710.0, -746.0, 0x1.0p1023};
  const size_t n = sizeof v / sizeof v[0];
  const struct {
    const char *name;
    unary f;
    double (*libm)(double);
  } f1[] = {{"exp", tp_xm_exp, exp},       {"exp2", tp_xm_exp2, exp2},
            {"expm1", tp_xm_expm1, expm1}, {"log", tp_xm_log, log},
            {"log2", tp_xm_log2, log2},    {"log10", tp_xm_log10, log10},
            {"sin", tp_xm_sin, sin},       {"cos", tp_xm_cos, cos},
            {"tan", tp_xm_tan, tan},       {"asin", tp_xm_asin, asin},
            {"acos", tp_xm_acos, acos},    {"atan", tp_xm_atan, atan},
            {"sinh", tp_xm_sinh, sinh},    {"cosh", tp_xm_cosh, cosh},
            {"tanh", tp_xm_tanh, tanh}};
  for (size_t f = 0; f < sizeof f1 / sizeof f1[0]; ++f)
    for (size_t k = 0; k < n; ++k) {
      double got = f1[f].f(v[k]), want = f1[f].libm(v[k]);
      /* Finite results of finite arguments are the accuracy test's
       * business; here only exact special results must agree. */
      if (isfinite(want) && want != 0.0 && fabs(want) != 1.0 && !isnan(want))
        continue;
      cr_expect(same(got, want), "%s(%a) = %a, C library %a", f1[f].name, v[k],
                got, want);
    }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double got = tp_xm_pow(v[i], v[j]), want = pow(v[i], v[j]);
      if (!(isfinite(want) && want != 0.0 && fabs(want) != 1.0))
        cr_expect(same(got, want), "pow(%a, %a) = %a, C library %a", v[i], v[j],
                  got, want);
      got = tp_xm_atan2(v[i], v[j]);
      want = atan2(v[i], v[j]);
      if (!(isfinite(want) && want != 0.0))
        cr_expect(same(got, want), "atan2(%a, %a) = %a, C library %a", v[i],
                  v[j], got, want);
    }
}

/* The constants of scripts/expression_constants.py, checked against the
 * long double values they split. */
Test(expression_math, constants_are_what_they_claim) {
  const long double ln2 = 0.693147180559945309417232121458176568L;
  const long double pi = 3.141592653589793238462643383279502884L;
  cr_expect_lt(fabsl((long double)0x1.62e42fefa3800p-1 +
                     (long double)0x1.ef35793c76000p-45 +
                     (long double)0x1.cc01f97b57a08p-87 - ln2),
               1e-19L);
  cr_expect_lt(fabsl((long double)0x1.921fb54400000p+0 +
                     (long double)0x1.0b4611a600000p-34 +
                     (long double)0x1.3198a2e037073p-69 - pi / 2),
               1e-19L);
  /* The first 64 bits of 2/pi (words 0 and 1). */
  uint64_t top = ((uint64_t)0xA2F9836Eu << 32) | 0x4E441529u;
  cr_expect_lt(fabsl(ldexpl((long double)top, -64) - 2 / pi), 1e-19L);
}
