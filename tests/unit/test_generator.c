#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "host/host_kernels.h"
#include "tensor/generator_math.h"
#include "tensorpool/generator.h"

/* Known-answer vectors of Philox-4x32-10 published with Random123
 * (kat_vectors): counter, key -> output. */
Test(generator, philox_matches_the_published_known_answers) {
  const uint32_t vectors[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
       0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
       0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int v = 0; v < 3; ++v) {
    uint32_t out[4];
    tp_philox4x32_10(vectors[v], vectors[v] + 4, out);
    for (int i = 0; i < 4; ++i)
      cr_expect_eq(out[i], vectors[v][6 + i], "vector %d word %d: %08x", v, i,
                   out[i]);
  }
}

static tp_layout layout_of(tp_dtype dtype, int rank, const int64_t *ext) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(dtype, rank, ext, &l), TP_SUCCESS);
  return l;
}

Test(generator, arange_per_element_type) {
  tp_generator g = tp_generator_arange(1.5, 0.25);
  int64_t idx[1] = {0};
  cr_expect_eq(tp_gen_value_f64(&g, 10, idx, 1), 4.0);
  cr_expect_eq(tp_gen_value_f32(&g, 3, idx, 1), 2.25f);
  double c[2];
  tp_gen_value_c128(&g, 2, idx, 1, c);
  cr_expect_eq(c[0], 2.0);
  cr_expect_eq(c[1], 0.0);
  tp_generator gi = tp_generator_arange(-5, 3);
  cr_expect_eq(tp_gen_value_i64(&gi, 4, idx, 1), 7);
  /* int32 wraps modulo 2^32. */
  tp_generator big = tp_generator_arange(2147483647.0, 1);
  cr_expect_eq(tp_gen_value_i32(&big, 1, idx, 1), INT32_MIN);
  cr_expect_eq(tp_gen_value_i64(&big, 1, idx, 1), INT64_C(2147483648));
}

Test(generator, affine_in_the_multi_index_and_identity) {
  double coeff[3] = {100, 10, 1};
  tp_generator g = tp_generator_affine(0.5, 3, coeff);
  int64_t idx[3] = {2, 3, 4};
  cr_expect_eq(tp_gen_value_f64(&g, 0, idx, 3), 234.5);
  tp_generator gi = tp_generator_affine(-1, 3, coeff);
  cr_expect_eq(tp_gen_value_i32(&gi, 0, idx, 3), 233);
  tp_generator eye = tp_generator_identity(2.0);
  int64_t diag[3] = {5, 5, 5}, off[3] = {5, 4, 5};
  cr_expect_eq(tp_gen_value_f64(&eye, 0, diag, 3), 2.0);
  cr_expect_eq(tp_gen_value_f64(&eye, 0, off, 3), 0.0);
  cr_expect_eq(tp_gen_value_i64(&eye, 0, diag, 3), 2);
  float c[2];
  tp_gen_value_c64(&eye, 0, diag, 3, c);
  cr_expect_eq(c[0], 2.0f);
  cr_expect_eq(c[1], 0.0f);
}

Test(generator, uniform_stays_in_range_and_has_the_right_mean) {
  tp_generator g = tp_generator_uniform(7, -2.0, 3.0);
  tp_generator gi = tp_generator_uniform(7, -3, 4);
  int64_t idx[1] = {0};
  double sum = 0;
  int seen[7] = {0};
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double v = tp_gen_value_f64(&g, (uint64_t)i, idx, 1);
    cr_assert(v >= -2.0 && v < 3.0, "element %d = %g", i, v);
    sum += v;
    float f = tp_gen_value_f32(&g, (uint64_t)i, idx, 1);
    cr_assert(f >= -2.0f && f < 3.0f);
    int64_t k = tp_gen_value_i64(&gi, (uint64_t)i, idx, 1);
    cr_assert(k >= -3 && k < 4, "element %d = %lld", i, (long long)k);
    seen[k + 3]++;
  }
  /* Mean 0.5, standard error 5/sqrt(12 n) = 0.0032. */
  cr_expect(fabs(sum / n - 0.5) < 0.02, "mean %g", sum / n);
  for (int k = 0; k < 7; ++k)
    cr_expect(fabs(seen[k] / (double)n - 1.0 / 7) < 0.01, "value %d: %d", k - 3,
              seen[k]);
}

Test(generator, uniform_rounding_never_reaches_hi) {
  /* An interval one float wide: most doubles round up to hi in float. */
  float lo = 1.0f, hi = nextafterf(1.0f, 2.0f);
  tp_generator g = tp_generator_uniform(3, lo, hi);
  int64_t idx[1] = {0};
  for (uint64_t i = 0; i < 1000; ++i)
    cr_assert(tp_gen_value_f32(&g, i, idx, 1) < hi);
}

Test(generator, values_depend_on_seed_and_index_only) {
  tp_generator a = tp_generator_normal(11, 0, 1),
               b = tp_generator_normal(12, 0, 1);
  int64_t i1[2] = {0, 5}, i2[2] = {9, 9};
  /* Same linear index, different multi-index arrays: same value. */
  cr_expect_eq(tp_gen_value_f64(&a, 5, i1, 2), tp_gen_value_f64(&a, 5, i2, 2));
  cr_expect_neq(tp_gen_value_f64(&a, 5, i1, 2), tp_gen_value_f64(&b, 5, i1, 2));
  cr_expect_neq(tp_gen_value_f64(&a, 5, i1, 2), tp_gen_value_f64(&a, 6, i1, 2));
}

Test(generator, normal_moments) {
  tp_generator g = tp_generator_normal(99, 1.0, 2.0);
  int64_t idx[1] = {0};
  const int n = 200000;
  double s = 0, s2 = 0, si = 0, si2 = 0;
  for (int i = 0; i < n; ++i) {
    double c[2];
    tp_gen_value_c128(&g, (uint64_t)i, idx, 1, c);
    s += c[0];
    s2 += c[0] * c[0];
    si += c[1];
    si2 += c[1] * c[1];
    cr_assert_eq(c[0], tp_gen_value_f64(&g, (uint64_t)i, idx, 1),
                 "the real part of c128 is the f64 value");
  }
  double mean = s / n, var = s2 / n - mean * mean;
  double mean_i = si / n, var_i = si2 / n - mean_i * mean_i;
  cr_expect(fabs(mean - 1.0) < 0.03, "mean %g", mean);
  cr_expect(fabs(var - 4.0) < 0.08, "variance %g", var);
  cr_expect(fabs(mean_i - 1.0) < 0.03, "imaginary mean %g", mean_i);
  cr_expect(fabs(var_i - 4.0) < 0.08, "imaginary variance %g", var_i);
}

/* Distance in units in the last place of the double nearest `want`. Near
 * zeros of sin and cos (|want| < 2^-40) the exact reduction gives exact
 * zeros while the reference carries its pi's rounding: there an absolute
 * error below 2^-60 counts as exact. */
static double ulps(double got, long double want) {
  if (fabsl(want) < 0x1.0p-40L)
    return fabsl((long double)got - want) < 0x1.0p-60L ? 0.0 : 1e30;
  double w = (double)want;
  double ulp = nextafter(fabs(w), INFINITY) - fabs(w);
  return (double)(fabsl((long double)got - want) / ulp);
}

Test(generator, own_log_and_sincos_are_within_two_ulp) {
  /* References in long double (64-bit mantissa on x86), so that their own
   * rounding is far below a double ulp. */
  const long double two_pi = 6.283185307179586476925286766559005768L;
  double worst_log = 0, worst_sin = 0, worst_cos = 0;
  for (int i = 1; i <= 100000; ++i) {
    double x = (double)i * 0x1.0p-17 * 1.37; /* (0, 1.05] */
    double tiny = ldexp(1.0 + i * 1e-6, -(i % 53));
    worst_log = fmax(worst_log, ulps(tp_gen_log(x), logl(x)));
    worst_log = fmax(worst_log, ulps(tp_gen_log(tiny), logl(tiny)));
    double u = (double)(i - 1) / 100000.0, s, c;
    tp_gen_sincos_2pi(u, &s, &c);
    /* 2 pi u = k pi/2 + f pi/2 exactly, with 4u = k + f: reduce the
     * reference the same exact way, so that only the rounding of the
     * reduced angle and the polynomials are measured. */
    int k = (int)(4 * u + 0.5);
    long double r = (long double)(4 * u - k) * (two_pi / 4);
    long double sr = sinl(r), cr = cosl(r);
    long double want_s = k % 4 == 0   ? sr
                         : k % 4 == 1 ? cr
                         : k % 4 == 2 ? -sr
                                      : -cr;
    long double want_c = k % 4 == 0   ? cr
                         : k % 4 == 1 ? -sr
                         : k % 4 == 2 ? -cr
                                      : sr;
    worst_sin = fmax(worst_sin, ulps(s, want_s));
    worst_cos = fmax(worst_cos, ulps(c, want_c));
  }
  cr_expect(worst_log <= 2, "log: %g ulp", worst_log);
  cr_expect(worst_sin <= 2, "sin: %g ulp", worst_sin);
  cr_expect(worst_cos <= 2, "cos: %g ulp", worst_cos);
}

/* Filling a tensor tile by tile gives the same bytes as filling it whole. */
Test(generator, every_tiling_gives_the_same_bits) {
  int64_t ext[3] = {7, 3, 5};
  double coeff[3] = {1, -1, 1};
  tp_generator gens[6] = {
      tp_generator_arange(1, 1),        tp_generator_affine(1, 3, coeff),
      tp_generator_identity(1),         tp_generator_uniform(5, 0, 2),
      tp_generator_uniform(5, -4, 9.5), tp_generator_normal(5, 0, 1)};
  int tested[TP_DTYPE_COUNT] = {0};
  for (int t = 0; t < TP_DTYPE_COUNT; ++t)
    for (int k = 0; k < 6; ++k) {
      tp_dtype dtype = (tp_dtype)t;
      tp_layout l = layout_of(dtype, 3, ext);
      if (tp_generator_check(&gens[k], &l) != TP_SUCCESS)
        continue;
      tested[t]++;
      size_t elem = tp_dtype_size(dtype), n = 7 * 3 * 5;
      unsigned char whole[105 * 16], tiled[105 * 16];
      tp_tile all;
      tp_layout_whole_tile(&l, &all);
      cr_assert_eq(
          tp_host_fill_generator(NULL, whole, &l, &all, &gens[k], NULL),
          TP_SUCCESS);
      int64_t rows[4] = {2, 0, 4, 1};
      tp_tiling *tiling;
      cr_assert_eq(tp_tiling_create(&l, 4, rows, &tiling), TP_SUCCESS);
      for (int p = 0; p < 4; ++p) {
        tp_tile tile;
        tp_tiling_tile(tiling, p, &tile);
        cr_assert_eq(tp_host_fill_generator(NULL, tiled + tile.first * elem, &l,
                                            &tile, &gens[k], NULL),
                     TP_SUCCESS);
      }
      tp_tiling_destroy(tiling);
      cr_expect_eq(memcmp(whole, tiled, n * elem), 0, "%s %s",
                   tp_dtype_name(dtype), tp_generator_kind_name(gens[k].kind));
    }
  for (int t = 0; t < TP_DTYPE_COUNT; ++t)
    cr_expect_geq(tested[t], 4, "%s: only %d generators apply",
                  tp_dtype_name((tp_dtype)t), tested[t]);
}

Test(generator, check_refuses_what_a_type_cannot_hold) {
  int64_t ext[1] = {4};
  tp_layout f = layout_of(TP_DTYPE_F32, 1, ext),
            i = layout_of(TP_DTYPE_I32, 1, ext);
  tp_generator g = tp_generator_normal(1, 0, 1);
  cr_expect_eq(tp_generator_check(&g, &f), TP_SUCCESS);
  cr_expect_eq(tp_generator_check(&g, &i), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "integer"));
  g = tp_generator_normal(1, 0, -1);
  cr_expect_eq(tp_generator_check(&g, &f), TP_ERR_INVALID_ARGUMENT);
  g = tp_generator_arange(0.5, 1);
  cr_expect_eq(tp_generator_check(&g, &f), TP_SUCCESS);
  cr_expect_eq(tp_generator_check(&g, &i), TP_ERR_INVALID_ARGUMENT);
  g = tp_generator_arange(NAN, 1);
  cr_expect_eq(tp_generator_check(&g, &f), TP_ERR_INVALID_ARGUMENT);
  g = tp_generator_uniform(1, 2, 2);
  cr_expect_eq(tp_generator_check(&g, &f), TP_ERR_INVALID_ARGUMENT);
  int64_t one[1] = {1};
  tp_layout d = layout_of(TP_DTYPE_F64, 1, one);
  g = tp_generator_uniform(1, -1.7e308, 1.7e308); /* width overflows */
  cr_expect_eq(tp_generator_check(&g, &d), TP_ERR_INVALID_ARGUMENT);
  g = tp_generator_uniform(1, 0, 1e300); /* fine in f64, not in f32 */
  cr_expect_eq(tp_generator_check(&g, &d), TP_SUCCESS);
  cr_expect_eq(tp_generator_check(&g, &f), TP_ERR_INVALID_ARGUMENT);
  g = tp_generator_uniform(1, 0, 3e9);
  cr_expect_eq(tp_generator_check(&g, &i), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "i32"));
  g = tp_generator_arange(0, 1);
  g.kind = (tp_generator_kind)77;
  cr_expect_eq(tp_generator_check(&g, &f), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_generator_check(NULL, &f), TP_ERR_INVALID_ARGUMENT);
  cr_expect_str_eq(tp_generator_kind_name(TP_GENERATOR_UNIFORM), "uniform");
}

/* Every generator's integer parameters against every integer type's range:
 * the largest and smallest values the type holds pass, one step outside
 * fails, naming the type. */
typedef struct int_type_case {
  tp_dtype dtype;
  double min, max;     /* held by the type (as doubles, exact) */
  double below, above; /* the nearest doubles outside */
} int_type_case;

static tp_generator with_parameter(int which, double v) {
  double coeff[3] = {1, 1, 1};
  switch (which) {
  case 0: return tp_generator_arange(v, 1);
  case 1: return tp_generator_arange(0, v);
  case 2: return tp_generator_affine(v, 3, coeff);
  case 3: coeff[2] = v; return tp_generator_affine(0, 3, coeff);
  default: return tp_generator_identity(v);
  }
}

static const char *parameter_name[5] = {"arange start", "arange step",
                                        "affine offset", "affine coefficient",
                                        "identity diagonal"};

Test(generator, integer_parameters_must_fit_the_element_type) {
  int_type_case types[2] = {
      {TP_DTYPE_I32, -0x1.0p31, 0x1.0p31 - 1, -0x1.0p31 - 1, 0x1.0p31},
      /* The doubles next to +-2^63: 2^63 - 1024 is the largest below. */
      {TP_DTYPE_I64, -0x1.0p63, 0x1.0p63 - 1024, -0x1.0p63 - 2048, 0x1.0p63}};
  int64_t ext[3] = {2, 2, 2};
  for (int t = 0; t < 2; ++t) {
    tp_layout l = layout_of(types[t].dtype, 3, ext);
    const char *name = tp_dtype_name(types[t].dtype);
    for (int p = 0; p < 5; ++p) {
      tp_generator ok_low = with_parameter(p, types[t].min),
                   ok_high = with_parameter(p, types[t].max),
                   low = with_parameter(p, types[t].below),
                   high = with_parameter(p, types[t].above),
                   fraction = with_parameter(p, 0.5);
      cr_expect_eq(tp_generator_check(&ok_low, &l), TP_SUCCESS, "%s %s: %s",
                   name, parameter_name[p], tp_last_error());
      cr_expect_eq(tp_generator_check(&ok_high, &l), TP_SUCCESS, "%s %s: %s",
                   name, parameter_name[p], tp_last_error());
      cr_expect_eq(tp_generator_check(&low, &l), TP_ERR_INVALID_ARGUMENT,
                   "%s %s below the type", name, parameter_name[p]);
      cr_expect_eq(tp_generator_check(&high, &l), TP_ERR_INVALID_ARGUMENT,
                   "%s %s above the type", name, parameter_name[p]);
      cr_expect_not_null(strstr(tp_last_error(), name), "%s", tp_last_error());
      cr_expect_eq(tp_generator_check(&fraction, &l), TP_ERR_INVALID_ARGUMENT,
                   "%s %s = 0.5", name, parameter_name[p]);
    }
    /* uniform: lo from the type's smallest value, hi (exclusive) up to one
     * past its largest. */
    double past = types[t].dtype == TP_DTYPE_I32 ? 0x1.0p31 : 0x1.0p63;
    tp_generator whole = tp_generator_uniform(3, types[t].min, past);
    cr_expect_eq(tp_generator_check(&whole, &l), TP_SUCCESS, "%s: %s", name,
                 tp_last_error());
    tp_generator low = tp_generator_uniform(3, types[t].below, 0);
    cr_expect_eq(tp_generator_check(&low, &l), TP_ERR_INVALID_ARGUMENT,
                 "%s uniform lo", name);
    double beyond = types[t].dtype == TP_DTYPE_I32 ? 0x1.0p31 + 1 : 0x1.0p64;
    tp_generator high = tp_generator_uniform(3, 0, beyond);
    cr_expect_eq(tp_generator_check(&high, &l), TP_ERR_INVALID_ARGUMENT,
                 "%s uniform hi", name);
    tp_generator fraction = tp_generator_uniform(3, 0.5, 4);
    cr_expect_eq(tp_generator_check(&fraction, &l), TP_ERR_INVALID_ARGUMENT,
                 "%s uniform lo = 0.5", name);
    /* normal has no integer form at all. */
    tp_generator normal = tp_generator_normal(3, 0, 1);
    cr_expect_eq(tp_generator_check(&normal, &l), TP_ERR_INVALID_ARGUMENT,
                 "%s normal", name);
  }
  /* The example of the issue: an arange from 1e10 would fill i32 with
   * wrapped values. */
  tp_layout i32 = layout_of(TP_DTYPE_I32, 3, ext);
  tp_generator from_1e10 = tp_generator_arange(1e10, 1);
  cr_expect_eq(tp_generator_check(&from_1e10, &i32), TP_ERR_INVALID_ARGUMENT);
}

/* The parameter union has a fixed size (room for later kinds) and the
 * constructors leave no stray bytes in it. */
Test(generator, parameter_room_is_fixed_and_zeroed) {
  cr_expect_eq(sizeof(((tp_generator *)0)->p), 128);
  tp_generator g = tp_generator_arange(1, 2);
  for (int k = 2; k < 16; ++k)
    cr_expect_eq(g.p.reserved[k], 0, "word %d", k);
  g = tp_generator_normal(7, 1, 2);
  for (int k = 3; k < 16; ++k)
    cr_expect_eq(g.p.reserved[k], 0, "word %d", k);
}
