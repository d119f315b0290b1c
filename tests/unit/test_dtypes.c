/* The 16-bit floating types and the byte types: conversions against an
 * independent reference, constants, generators and axpby per type. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_kernels.h"
#include "host_runtime_fixture.h"
#include "tensor/generator_math.h"
#include "tensor/half_float.h"
#include "tensorpool/ops.h"
#include "test_rng.h"

TestSuite(dtypes, .init = setup, .fini = teardown);

Test(dtypes, sizes_and_names) {
  cr_expect_eq(tp_dtype_size(TP_DTYPE_F16), 2);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_BF16), 2);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_I8), 1);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_U8), 1);
  cr_expect_eq(tp_dtype_size(TP_DTYPE_BOOL), 1);
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_F16), "f16");
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_BF16), "bf16");
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_I8), "i8");
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_U8), "u8");
  cr_expect_str_eq(tp_dtype_name(TP_DTYPE_BOOL), "bool");
  cr_expect_eq(tp_dtype_size((tp_dtype)TP_DTYPE_COUNT), 0);
}

/* Published encodings (IEEE 754 binary16; bfloat16 = top half of binary32). */
Test(dtypes, f16_and_bf16_known_encodings) {
  struct {
    double x;
    uint16_t f16, bf16;
  } cases[] = {
      {1.0, 0x3C00, 0x3F80},
      {-2.0, 0xC000, 0xC000},
      {0.1, 0x2E66, 0x3DCD},
      {65504.0, 0x7BFF, 0x4780},         /* largest finite f16 */
      {65519.99, 0x7BFF, 0x4780},        /* below the f16 overflow tie */
      {65520.0, 0x7C00, 0x4780},         /* the tie rounds to infinity */
      {0x1.0p-24, 0x0001, 0x3380},       /* smallest f16 subnormal */
      {0x1.0p-25, 0x0000, 0x3300},       /* tie to even: zero */
      {0x1.000001p-25, 0x0001, 0x3300},  /* just above the tie */
      {1.0 + 0x1.0p-11, 0x3C00, 0x3F80}, /* tie: stays even */
      {1.0 + 0x3.0p-11, 0x3C02, 0x3F80}, /* tie: rounds up to even */
      {0x1.ffcp-15, 0x0400, 0x3880},     /* rounds up into the normals */
      {-0.0, 0x8000, 0x8000},
      {INFINITY, 0x7C00, 0x7F80},
      {-INFINITY, 0xFC00, 0xFF80},
      {3.4e38, 0x7C00, 0x7F80},                /* bf16 overflows too */
      {3.3895313892515355e38, 0x7C00, 0x7F7F}, /* largest finite bf16 */
      {1e-300, 0x0000, 0x0000},
      {-1e-300, 0x8000, 0x8000},
      {0x1.0p-133, 0x0000, 0x0001}, /* smallest bf16 subnormal */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    cr_expect_eq(tp_f16_from_double(cases[i].x), cases[i].f16,
                 "f16(%a) = %04x, want %04x", cases[i].x,
                 tp_f16_from_double(cases[i].x), cases[i].f16);
    cr_expect_eq(tp_bf16_from_double(cases[i].x), cases[i].bf16,
                 "bf16(%a) = %04x, want %04x", cases[i].x,
                 tp_bf16_from_double(cases[i].x), cases[i].bf16);
  }
  cr_expect_eq(tp_f16_from_double(NAN), 0x7E00);
  cr_expect_eq(tp_f16_from_double(-NAN), 0xFE00);
  cr_expect_eq(tp_bf16_from_double(NAN), 0x7FC0);
  cr_expect(isnan(tp_f16_to_double(0x7E01)));
  cr_expect_eq(tp_f16_to_double(0x0001), 0x1.0p-24);
  cr_expect_eq(tp_bf16_to_double(0x4049), 3.140625);
}

/* Every finite pattern, decoded and encoded again, is itself. */
Test(dtypes, every_pattern_round_trips) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    double f = tp_f16_to_double((uint16_t)h),
           b = tp_bf16_to_double((uint16_t)h);
    if (!isnan(f))
      cr_assert_eq(tp_f16_from_double(f), h, "f16 %04x -> %a", h, f);
    if (!isnan(b))
      cr_assert_eq(tp_bf16_from_double(b), h, "bf16 %04x -> %a", h, b);
  }
}

/* The reference: the nearest of all finite values of the format (sorted),
 * ties to the even pattern, beyond the largest finite value plus half an
 * ulp infinity. Independent of the bit manipulation under test. */
typedef struct {
  double value[0x8000];
  uint16_t bits[0x8000];
  int count;
  double overflow; /* largest finite + half an ulp */
} positive_values;

static void collect(positive_values *pv, int bf) {
  pv->count = 0;
  for (uint32_t h = 0; h < 0x8000u; ++h) {
    double v =
        bf ? tp_bf16_to_double((uint16_t)h) : tp_f16_to_double((uint16_t)h);
    if (isfinite(v)) {
      pv->value[pv->count] = v;
      pv->bits[pv->count++] = (uint16_t)h; /* increasing with h */
    }
  }
  double top = pv->value[pv->count - 1];
  pv->overflow = top + (top - pv->value[pv->count - 2]) / 2;
}

static uint16_t reference(const positive_values *pv, double x) {
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  if (a >= pv->overflow)
    return sign | (uint16_t)(pv->bits[pv->count - 1] + 1); /* infinity */
  int lo = 0, hi = pv->count - 1; /* value[lo] <= a < value[hi] */
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (pv->value[mid] <= a)
      lo = mid;
    else
      hi = mid;
  }
  double dl = a - pv->value[lo], dh = pv->value[hi] - a;
  int pick = dl < dh ? lo : dh < dl ? hi : (pv->bits[lo] & 1) ? hi : lo;
  return sign | pv->bits[pick];
}

Test(dtypes, conversion_from_double_rounds_to_nearest_even) {
  static positive_values f16, bf16;
  collect(&f16, 0);
  collect(&bf16, 1);
  tp_rng rng = tp_rng_make(2024);
  for (int i = 0; i < 400000; ++i) {
    /* Random bits over the interesting exponent range, and exact midpoints
     * between neighbours (where ties decide). */
    double x;
    if (i % 4 == 3) {
      const positive_values *pv = i % 8 == 3 ? &f16 : &bf16;
      int k = (int)(tp_rng_next(&rng) % (uint64_t)(pv->count - 1));
      x = (pv->value[k] + pv->value[k + 1]) / 2;
    } else {
      uint64_t bits = tp_rng_next(&rng);
      int e = (int)(tp_rng_next(&rng) % 320) - 160 + 1023;
      bits = (bits & 0x800FFFFFFFFFFFFFull) | ((uint64_t)e << 52);
      memcpy(&x, &bits, sizeof x);
    }
    cr_assert_eq(tp_f16_from_double(x), reference(&f16, x),
                 "f16(%a): %04x, want %04x", x, tp_f16_from_double(x),
                 reference(&f16, x));
    cr_assert_eq(tp_bf16_from_double(x), reference(&bf16, x),
                 "bf16(%a): %04x, want %04x", x, tp_bf16_from_double(x),
                 reference(&bf16, x));
  }
}

Test(dtypes, scalar_store_per_type) {
  uint16_t h;
  cr_expect_eq(tp_scalar_store(tp_scalar_real(1.0 / 3), TP_DTYPE_F16, &h),
               TP_SUCCESS);
  cr_expect_eq(h, 0x3555);
  cr_expect_eq(tp_scalar_store(tp_scalar_int(-3), TP_DTYPE_BF16, &h),
               TP_SUCCESS);
  cr_expect_eq(h, 0xC040);
  cr_expect_eq(tp_scalar_store(tp_scalar_complex(1, 2), TP_DTYPE_F16, &h),
               TP_ERR_INVALID_ARGUMENT);
  int8_t i8;
  cr_expect_eq(tp_scalar_store(tp_scalar_int(-128), TP_DTYPE_I8, &i8),
               TP_SUCCESS);
  cr_expect_eq(i8, -128);
  cr_expect_eq(tp_scalar_store(tp_scalar_real(127), TP_DTYPE_I8, &i8),
               TP_SUCCESS);
  cr_expect_eq(i8, 127);
  cr_expect_eq(tp_scalar_store(tp_scalar_int(128), TP_DTYPE_I8, &i8),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "does not fit i8"));
  cr_expect_eq(tp_scalar_store(tp_scalar_real(0.5), TP_DTYPE_I8, &i8),
               TP_ERR_INVALID_ARGUMENT);
  uint8_t u8;
  cr_expect_eq(tp_scalar_store(tp_scalar_int(255), TP_DTYPE_U8, &u8),
               TP_SUCCESS);
  cr_expect_eq(u8, 255);
  cr_expect_eq(tp_scalar_store(tp_scalar_int(-1), TP_DTYPE_U8, &u8),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_scalar_store(tp_scalar_int(256), TP_DTYPE_U8, &u8),
               TP_ERR_INVALID_ARGUMENT);
  uint8_t b = 7;
  cr_expect_eq(tp_scalar_store(tp_scalar_real(0.0), TP_DTYPE_BOOL, &b),
               TP_SUCCESS);
  cr_expect_eq(b, 0);
  cr_expect_eq(tp_scalar_store(tp_scalar_real(-0.25), TP_DTYPE_BOOL, &b),
               TP_SUCCESS);
  cr_expect_eq(b, 1);
  cr_expect_eq(tp_scalar_store(tp_scalar_int(256), TP_DTYPE_BOOL, &b),
               TP_SUCCESS);
  cr_expect_eq(b, 1, "nonzero, even when its low byte is 0");
  cr_expect_eq(tp_scalar_store(tp_scalar_real(NAN), TP_DTYPE_BOOL, &b),
               TP_SUCCESS);
  cr_expect_eq(b, 1);
  cr_expect_eq(tp_scalar_store(tp_scalar_complex(0, 1), TP_DTYPE_BOOL, &b),
               TP_ERR_INVALID_ARGUMENT);
}

Test(dtypes, a_constant_of_every_new_type_fills_a_tensor) {
  struct {
    tp_dtype dtype;
    tp_scalar value;
    uint16_t bits; /* the element, little end first */
  } cases[] = {{TP_DTYPE_F16, tp_scalar_real(-1.5), 0xBE00},
               {TP_DTYPE_BF16, tp_scalar_real(1e10), 0x5015},
               {TP_DTYPE_I8, tp_scalar_int(-2), 0xFE},
               {TP_DTYPE_U8, tp_scalar_int(200), 0xC8},
               {TP_DTYPE_BOOL, tp_scalar_real(3), 0x01}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    tp_layout l = matrix(cases[c].dtype, 3, 5);
    tp_buffer *buf;
    cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                              cases[c].value, NULL, &buf),
                 TP_SUCCESS, "%s", tp_last_error());
    const unsigned char *d = tp_buffer_data(buf);
    size_t elem = tp_dtype_size(cases[c].dtype);
    for (int i = 0; i < 15; ++i) {
      uint16_t got = d[i * elem];
      if (elem == 2)
        memcpy(&got, d + i * elem, 2);
      cr_expect_eq(got, cases[c].bits, "%s element %d: %x",
                   tp_dtype_name(cases[c].dtype), i, got);
    }
    tp_buffer_destroy(buf);
  }
}

static tp_layout vector(tp_dtype dtype, int64_t n) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(dtype, 1, &n, &l), TP_SUCCESS);
  return l;
}

/* Fills a 1-d tensor of n elements on the host with `gen`. */
static void fill(tp_dtype dtype, const tp_generator *gen, int64_t n,
                 void *out) {
  tp_layout l = vector(dtype, n);
  cr_assert_eq(tp_generator_check(gen, &l), TP_SUCCESS, "%s", tp_last_error());
  tp_tile t;
  cr_assert_eq(tp_layout_whole_tile(&l, &t), TP_SUCCESS);
  cr_assert_eq(tp_host_fill_generator(NULL, out, &l, &t, gen, NULL),
               TP_SUCCESS);
}

Test(dtypes, generators_on_the_byte_types_wrap_or_test_nonzero) {
  int8_t i8[6];
  tp_generator g = tp_generator_arange(100, 10);
  fill(TP_DTYPE_I8, &g, 6, i8);
  int8_t want_i8[6] = {100, 110, 120, -126, -116, -106};
  cr_expect_arr_eq(i8, want_i8, sizeof i8);
  uint8_t u8[8];
  g = tp_generator_arange(252, 1);
  fill(TP_DTYPE_U8, &g, 8, u8);
  uint8_t want_u8[8] = {252, 253, 254, 255, 0, 1, 2, 3};
  cr_expect_arr_eq(u8, want_u8, sizeof u8);
  g = tp_generator_arange(255, -1); /* a negative step counts down */
  fill(TP_DTYPE_U8, &g, 3, u8);
  cr_expect(u8[0] == 255 && u8[1] == 254 && u8[2] == 253);
  uint8_t b[4];
  g = tp_generator_arange(0, 1);
  fill(TP_DTYPE_BOOL, &g, 4, b);
  uint8_t want_b[4] = {0, 1, 1, 1};
  cr_expect_arr_eq(b, want_b, sizeof b);
  /* identity on a 3x3 bool matrix */
  int64_t ext[2] = {3, 3};
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_BOOL, 2, ext, &l), TP_SUCCESS);
  tp_tile t;
  tp_layout_whole_tile(&l, &t);
  g = tp_generator_identity(1);
  uint8_t eye[9];
  cr_assert_eq(tp_host_fill_generator(NULL, eye, &l, &t, &g, NULL), TP_SUCCESS);
  for (int i = 0; i < 9; ++i)
    cr_expect_eq(eye[i], i % 4 == 0);
  /* uniform: every value of [lo, hi) appears, nothing else */
  uint8_t r[4096];
  int seen[256] = {0};
  g = tp_generator_uniform(9, 250, 256);
  fill(TP_DTYPE_U8, &g, 4096, r);
  for (int i = 0; i < 4096; ++i) {
    cr_assert(r[i] >= 250, "%d", r[i]);
    seen[r[i]]++;
  }
  for (int v = 250; v < 256; ++v)
    cr_expect_gt(seen[v], 500, "u8 value %d seen %d times", v, seen[v]);
  g = tp_generator_uniform(9, 0, 2);
  fill(TP_DTYPE_BOOL, &g, 4096, r);
  int ones = 0;
  for (int i = 0; i < 4096; ++i) {
    cr_assert(r[i] <= 1);
    ones += r[i];
  }
  cr_expect(ones > 1800 && ones < 2300, "%d ones of 4096", ones);
}

Test(dtypes, generators_on_the_half_types_round_once_from_double) {
  uint16_t h[64];
  tp_generator g = tp_generator_arange(-3.0, 0.1);
  fill(TP_DTYPE_F16, &g, 64, h);
  for (int i = 0; i < 64; ++i)
    cr_expect_eq(h[i], tp_f16_from_double(-3.0 + 0.1 * i), "f16 element %d", i);
  fill(TP_DTYPE_BF16, &g, 64, h);
  for (int i = 0; i < 64; ++i)
    cr_expect_eq(h[i], tp_bf16_from_double(-3.0 + 0.1 * i), "bf16 element %d",
                 i);
  /* An interval one f16 wide: rounding must never reach hi. */
  double lo = 1.0, hi = tp_f16_to_double(0x3C01);
  g = tp_generator_uniform(5, lo, hi);
  uint16_t u[1000];
  fill(TP_DTYPE_F16, &g, 1000, u);
  for (int i = 0; i < 1000; ++i)
    cr_assert_eq(u[i], 0x3C00, "element %d = %04x", i, u[i]);
  g = tp_generator_normal(3, 0, 1);
  fill(TP_DTYPE_BF16, &g, 1000, u);
  double sum = 0, sum2 = 0;
  for (int i = 0; i < 1000; ++i) {
    double v = tp_bf16_to_double(u[i]);
    sum += v;
    sum2 += v * v;
  }
  cr_expect(fabs(sum / 1000) < 0.15 && fabs(sum2 / 1000 - 1) < 0.2,
            "mean %g, second moment %g", sum / 1000, sum2 / 1000);
}

Test(dtypes, generator_check_refuses_what_the_byte_types_cannot_hold) {
  struct {
    tp_dtype dtype;
    tp_generator gen;
    const char *message;
  } refused[] = {
      {TP_DTYPE_I8, tp_generator_arange(128, 1), "does not fit i8"},
      {TP_DTYPE_I8, tp_generator_arange(0, 129), "step"},
      {TP_DTYPE_U8, tp_generator_arange(-1, 1), "does not fit u8"},
      {TP_DTYPE_U8, tp_generator_identity(256), "diagonal"},
      {TP_DTYPE_U8, tp_generator_uniform(1, 0, 257), "hi"},
      {TP_DTYPE_BOOL, tp_generator_identity(2), "does not fit bool"},
      {TP_DTYPE_BOOL, tp_generator_uniform(1, 0, 3), "hi"},
      {TP_DTYPE_BOOL, tp_generator_normal(1, 0, 1), "integer"},
      {TP_DTYPE_I8, tp_generator_arange(0.5, 1), "integer"},
      {TP_DTYPE_F16, tp_generator_uniform(1, 0, 1e6), "does not fit f16"},
      {TP_DTYPE_BF16, tp_generator_uniform(1, 1.0, 1.001), "bf16"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; ++i) {
    tp_layout l = vector(refused[i].dtype, 4);
    cr_expect_eq(tp_generator_check(&refused[i].gen, &l),
                 TP_ERR_INVALID_ARGUMENT, "case %zu", i);
    cr_expect_not_null(strstr(tp_last_error(), refused[i].message),
                       "case %zu: %s", i, tp_last_error());
  }
  tp_layout b = vector(TP_DTYPE_BOOL, 4);
  tp_generator ok = tp_generator_uniform(1, 0, 2);
  cr_expect_eq(tp_generator_check(&ok, &b), TP_SUCCESS);
  tp_layout f = vector(TP_DTYPE_F16, 4);
  ok = tp_generator_normal(1, 0, 1);
  cr_expect_eq(tp_generator_check(&ok, &f), TP_SUCCESS);
}

Test(dtypes, axpby_per_new_type) {
  /* f16: 0.5 x + 2 y rounded once; bf16 the same; i8 wraps; bool is
   * (alpha and x) or (beta and y). */
  struct {
    tp_dtype dtype;
    tp_scalar alpha, beta;
  } cases[] = {
      {TP_DTYPE_F16, tp_scalar_real(0.5), tp_scalar_real(2)},
      {TP_DTYPE_BF16, tp_scalar_real(0.5), tp_scalar_real(2)},
      {TP_DTYPE_I8, tp_scalar_int(3), tp_scalar_int(-1)},
      {TP_DTYPE_U8, tp_scalar_int(3), tp_scalar_int(1)},
      {TP_DTYPE_BOOL, tp_scalar_int(1), tp_scalar_int(0)},
  };
  uint64_t live_before = stats().live_blocks;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    tp_dtype dtype = cases[c].dtype;
    tp_layout l = vector(dtype, 40);
    tp_generator gx = dtype == TP_DTYPE_BOOL ? tp_generator_uniform(1, 0, 2)
                                             : tp_generator_arange(0, 1);
    tp_generator gy = dtype == TP_DTYPE_BOOL ? tp_generator_uniform(2, 0, 2)
                      : dtype == TP_DTYPE_U8 ? tp_generator_arange(200, 1)
                                             : tp_generator_arange(-20, 1);
    tp_buffer *x, *y, *r;
    cr_assert_eq(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l,
                                                  NULL, &gx, NULL, &x),
                 TP_SUCCESS, "%s", tp_last_error());
    cr_assert_eq(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l,
                                                  NULL, &gy, NULL, &y),
                 TP_SUCCESS, "%s", tp_last_error());
    cr_assert_eq(tp_axpby(cases[c].alpha, x, cases[c].beta, y, NULL, &r),
                 TP_SUCCESS, "%s", tp_last_error());
    const unsigned char *xd = tp_buffer_data(x), *yd = tp_buffer_data(y),
                        *rd = tp_buffer_data(r);
    for (int i = 0; i < 40; ++i) {
      if (dtype == TP_DTYPE_F16 || dtype == TP_DTYPE_BF16) {
        uint16_t hx, hy, hr;
        memcpy(&hx, xd + 2 * i, 2);
        memcpy(&hy, yd + 2 * i, 2);
        memcpy(&hr, rd + 2 * i, 2);
        int bf = dtype == TP_DTYPE_BF16;
        double vx = bf ? tp_bf16_to_double(hx) : tp_f16_to_double(hx);
        double vy = bf ? tp_bf16_to_double(hy) : tp_f16_to_double(hy);
        double want = 0.5 * vx + 2.0 * vy;
        cr_expect_eq(hr,
                     bf ? tp_bf16_from_double(want) : tp_f16_from_double(want),
                     "%s element %d", tp_dtype_name(dtype), i);
      } else if (dtype == TP_DTYPE_I8) {
        int8_t want = (int8_t)(uint8_t)(3 * i - (i - 20));
        cr_expect_eq((int8_t)rd[i], want, "i8 element %d", i);
      } else if (dtype == TP_DTYPE_U8) {
        uint8_t want = (uint8_t)(3 * i + (200 + i) % 256);
        cr_expect_eq(rd[i], want, "u8 element %d", i);
      } else {
        cr_expect_eq(rd[i], xd[i], "bool element %d: x or (0 and y)", i);
      }
    }
    tp_buffer_destroy(x);
    tp_buffer_destroy(y);
    tp_buffer_destroy(r);
  }
  cr_expect_eq(stats().live_blocks, live_before, "every buffer went back");
}
