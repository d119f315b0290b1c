/* Internal: the per-element values of the generators of
 * include/tensorpool/generator.h, shared by the host fill loops and the CUDA
 * fill kernels so that both give the same bits.
 *
 * Compiles as C11 and as CUDA C++. Only integer operations, the IEEE basic
 * operations (+ - * / sqrt, correctly rounded on both sides) and fma() are
 * used: no libm transcendental, whose results differ between the host libm
 * and CUDA's. The build compiles C with -ffp-contract=off and CUDA with
 * -fmad=false, so no multiply-add is fused unless written as fma() here.
 *
 * Entry points, one per element type; `linear` is the element's global
 * row-major linear index and `index` its `ndim` global indices:
 *   float   tp_gen_value_f32(g, linear, index, ndim)
 *   double  tp_gen_value_f64(g, linear, index, ndim)
 *   void    tp_gen_value_c64(g, linear, index, ndim, float out[2])
 *   void    tp_gen_value_c128(g, linear, index, ndim, double out[2])
 *   int32_t tp_gen_value_i32(g, linear, index, ndim)
 *   int64_t tp_gen_value_i64(g, linear, index, ndim)
 *   uint16_t tp_gen_value_f16(g, linear, index, ndim)   (the bits)
 *   uint16_t tp_gen_value_bf16(g, linear, index, ndim)  (the bits)
 *   int8_t  tp_gen_value_i8(g, linear, index, ndim)
 *   uint8_t tp_gen_value_u8(g, linear, index, ndim)
 *   uint8_t tp_gen_value_bool(g, linear, index, ndim)   (0 or 1)
 *   void    tp_gen_store(g, dtype, linear, index, ndim, void *dst)
 * The generator must have passed tp_generator_check for the layout. */
#ifndef TP_CORE_GENERATOR_MATH_H
#define TP_CORE_GENERATOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tensor/half_float.h"
#include "tensorpool/generator.h"

#ifdef __CUDACC__
#define TP_HD __host__ __device__
#else
#define TP_HD
#endif
/* Loops over the axes run to TP_MAX_NDIM with a test, unrolled in device
 * code, so that a kernel's index array stays in registers. */
#ifdef __CUDA_ARCH__
#define TP_GEN_UNROLL _Pragma("unroll")
#else
#define TP_GEN_UNROLL
#endif

/* ---- Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011). Multipliers and Weyl key increments are the
 * published constants of that paper and of Random123. */
#define TP_PHILOX_M0 0xD2511F53u
#define TP_PHILOX_M1 0xCD9E8D57u
#define TP_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define TP_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

static inline TP_HD void tp_philox4x32_10(const uint32_t counter[4],
                                          const uint32_t key[2],
                                          uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += TP_PHILOX_W0;
      k1 += TP_PHILOX_W1;
    }
    uint64_t p0 = (uint64_t)TP_PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)TP_PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* The four words of element `linear` under `seed`. */
static inline TP_HD void tp_gen_words(uint64_t seed, uint64_t linear,
                                      uint32_t out[4]) {
  uint32_t counter[4] = {(uint32_t)linear, (uint32_t)(linear >> 32), 0u, 0u};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  tp_philox4x32_10(counter, key, out);
}

static inline TP_HD uint64_t tp_gen_join(uint32_t hi, uint32_t lo) {
  return ((uint64_t)hi << 32) | lo;
}

/* [0, 1) with 53 random bits. */
static inline TP_HD double tp_gen_unit(uint64_t bits) {
  return (double)(bits >> 11) * 0x1.0p-53;
}

/* ---- Bits and integers, defined the same on every compiler. */
static inline TP_HD uint64_t tp_gen_f64_bits(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}
static inline TP_HD double tp_gen_f64_from_bits(uint64_t b) {
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
}
static inline TP_HD uint32_t tp_gen_f32_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}
static inline TP_HD float tp_gen_f32_from_bits(uint32_t b) {
  float x;
  memcpy(&x, &b, sizeof x);
  return x;
}

/* The largest double below finite x. */
static inline TP_HD double tp_gen_below_f64(double x) {
  uint64_t b = tp_gen_f64_bits(x);
  if (x > 0.0)
    return tp_gen_f64_from_bits(b - 1);
  if (x == 0.0)
    return -tp_gen_f64_from_bits(1); /* -denormal min */
  return tp_gen_f64_from_bits(b + 1);
}
static inline TP_HD float tp_gen_below_f32(float x) {
  uint32_t b = tp_gen_f32_bits(x);
  if (x > 0.0f)
    return tp_gen_f32_from_bits(b - 1);
  if (x == 0.0f)
    return -tp_gen_f32_from_bits(1);
  return tp_gen_f32_from_bits(b + 1);
}

/* Two's complement reinterpretation without implementation-defined casts. */
static inline TP_HD int64_t tp_gen_u64_to_i64(uint64_t u) {
  if (u <= (uint64_t)INT64_MAX)
    return (int64_t)u;
  return -(int64_t)(~u) - 1;
}
static inline TP_HD int32_t tp_gen_u32_to_i32(uint32_t u) {
  if (u <= (uint32_t)INT32_MAX)
    return (int32_t)u;
  return -(int32_t)(~u) - 1;
}

/* ---- Elementary functions from + - * / and fma only. */

/* Natural log of a positive normal x, within 2 ulp: x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.1716,
 * and the atanh series up to s^21 (next term below 2^-60 relative). ln 2 is
 * split in a high part with trailing zeros (e * hi is exact for |e| < 2^11)
 * and a low part: fdlibm's ln2_hi/ln2_lo. */
static inline TP_HD double tp_gen_log(double x) {
  const double ln2_hi = 6.93147180369123816490e-01; /* 0x3FE62E42FEE00000 */
  const double ln2_lo = 1.90821492927058770002e-10; /* 0x3DEA39EF35793C76 */
  uint64_t b = tp_gen_f64_bits(x);
  int e = (int)((b >> 52) & 0x7ff) - 1023;
  double m = tp_gen_f64_from_bits((b & 0x000FFFFFFFFFFFFFull) |
                                  0x3FF0000000000000ull); /* [1, 2) */
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  double s = (m - 1.0) / (m + 1.0);
  double z = s * s;
  double p = 1.0 / 21.0;
  p = fma(p, z, 1.0 / 19.0);
  p = fma(p, z, 1.0 / 17.0);
  p = fma(p, z, 1.0 / 15.0);
  p = fma(p, z, 1.0 / 13.0);
  p = fma(p, z, 1.0 / 11.0);
  p = fma(p, z, 1.0 / 9.0);
  p = fma(p, z, 1.0 / 7.0);
  p = fma(p, z, 1.0 / 5.0);
  p = fma(p, z, 1.0 / 3.0);
  double two_s = 2.0 * s;
  double log_m = fma(two_s * z, p, two_s);
  double de = (double)e;
  return fma(de, ln2_hi, fma(de, ln2_lo, log_m));
}

/* sin and cos of 2 pi u for u in [0, 1), within 2 ulp. The reduction is
 * exact in u: 4u = k + f with integer k and f in [-1/2, 1/2], so the angle
 * is k pi/2 + x with x = f pi/2 in [-pi/4, pi/4] (one rounding); then Taylor
 * polynomials up to x^17 (sin) and x^16 (cos), whose first omitted terms are
 * below 2^-60. */
static inline TP_HD void tp_gen_sincos_2pi(double u, double *sin_out,
                                           double *cos_out) {
  double t = 4.0 * u;
  int k = (int)(t + 0.5);
  double f = t - (double)k;
  double x = f * 1.5707963267948966; /* pi/2 */
  double z = x * x;
  double ps = -1.0 / 355687428096000.0;   /* -1/17! */
  ps = fma(ps, z, 1.0 / 1307674368000.0); /* 1/15! */
  ps = fma(ps, z, -1.0 / 6227020800.0);   /* -1/13! */
  ps = fma(ps, z, 1.0 / 39916800.0);      /* 1/11! */
  ps = fma(ps, z, -1.0 / 362880.0);       /* -1/9! */
  ps = fma(ps, z, 1.0 / 5040.0);          /* 1/7! */
  ps = fma(ps, z, -1.0 / 120.0);          /* -1/5! */
  ps = fma(ps, z, 1.0 / 6.0);             /* 1/3! */
  double s = fma(-(x * z), ps, x);
  double pc = 1.0 / 20922789888000.0;    /* 1/16! */
  pc = fma(pc, z, -1.0 / 87178291200.0); /* -1/14! */
  pc = fma(pc, z, 1.0 / 479001600.0);    /* 1/12! */
  pc = fma(pc, z, -1.0 / 3628800.0);     /* -1/10! */
  pc = fma(pc, z, 1.0 / 40320.0);        /* 1/8! */
  pc = fma(pc, z, -1.0 / 720.0);         /* -1/6! */
  pc = fma(pc, z, 1.0 / 24.0);           /* 1/4! */
  pc = fma(pc, z, -0.5);                 /* -1/2! */
  double c = fma(z, pc, 1.0);
  switch (k & 3) {
  case 0:
    *sin_out = s;
    *cos_out = c;
    break;
  case 1:
    *sin_out = c;
    *cos_out = -s;
    break;
  case 2:
    *sin_out = -s;
    *cos_out = -c;
    break;
  default:
    *sin_out = -c;
    *cos_out = s;
    break;
  }
}

/* ---- Generators in double: real and imaginary parts. */

static inline TP_HD double tp_gen_uniform_part(const tp_generator *g,
                                               uint64_t bits) {
  double lo = g->p.uniform.lo, hi = g->p.uniform.hi;
  double v = lo + (hi - lo) * tp_gen_unit(bits);
  return v < hi ? v : tp_gen_below_f64(hi);
}

static inline TP_HD void tp_gen_pair(const tp_generator *g, uint64_t linear,
                                     const int64_t *index, int ndim, double *re,
                                     double *im) {
  *im = 0.0;
  switch (g->kind) {
  case TP_GENERATOR_ARANGE:
    *re = g->p.arange.start + g->p.arange.step * (double)linear;
    return;
  case TP_GENERATOR_AFFINE: {
    double v = g->p.affine.offset;
    TP_GEN_UNROLL
    for (int k = 0; k < TP_MAX_NDIM; ++k)
      if (k < ndim)
        v = v + g->p.affine.coeff[k] * (double)index[k];
    *re = v;
    return;
  }
  case TP_GENERATOR_IDENTITY: {
    int diagonal = 1;
    TP_GEN_UNROLL
    for (int k = 1; k < TP_MAX_NDIM; ++k)
      if (k < ndim && index[k] != index[0])
        diagonal = 0;
    *re = diagonal ? g->p.identity.diagonal : 0.0;
    return;
  }
  case TP_GENERATOR_UNIFORM: {
    uint32_t w[4];
    tp_gen_words(g->p.uniform.seed, linear, w);
    *re = tp_gen_uniform_part(g, tp_gen_join(w[0], w[1]));
    *im = tp_gen_uniform_part(g, tp_gen_join(w[2], w[3]));
    return;
  }
  case TP_GENERATOR_NORMAL: {
    uint32_t w[4];
    tp_gen_words(g->p.normal.seed, linear, w);
    double u1 = (double)((tp_gen_join(w[0], w[1]) >> 11) + 1) * 0x1.0p-53;
    double u2 = tp_gen_unit(tp_gen_join(w[2], w[3]));
    double r = sqrt(-2.0 * tp_gen_log(u1));
    double sn, cs;
    tp_gen_sincos_2pi(u2, &sn, &cs);
    *re = g->p.normal.mean + g->p.normal.stddev * (r * cs);
    *im = g->p.normal.mean + g->p.normal.stddev * (r * sn);
    return;
  }
  }
  *re = 0.0;
}

/* Rounds a double part to float, keeping uniform values below hi. */
static inline TP_HD float tp_gen_to_f32(const tp_generator *g, double v) {
  float f = (float)v;
  if (g->kind == TP_GENERATOR_UNIFORM) {
    float hi = (float)g->p.uniform.hi;
    if (f >= hi)
      f = tp_gen_below_f32(hi);
  }
  return f;
}

/* Rounds a double part to f16 (bf16 when `bf`) bits, keeping uniform values
 * below hi as for float. */
static inline TP_HD uint16_t tp_gen_to_half(const tp_generator *g, double v,
                                            int bf) {
  uint16_t h = bf ? tp_bf16_from_double(v) : tp_f16_from_double(v);
  if (g->kind == TP_GENERATOR_UNIFORM) {
    uint16_t hi = bf ? tp_bf16_from_double(g->p.uniform.hi)
                     : tp_f16_from_double(g->p.uniform.hi);
    double got = bf ? tp_bf16_to_double(h) : tp_f16_to_double(h);
    double top = bf ? tp_bf16_to_double(hi) : tp_f16_to_double(hi);
    if (got >= top)
      h = tp_half_below(hi);
  }
  return h;
}

/* ---- Integers: int64 arithmetic, wrapping modulo 2^64. */

static inline TP_HD uint64_t tp_gen_wrap(double integral) {
  /* Integral and in [-2^63, 2^63] by tp_generator_check. 2^63, the
   * exclusive hi of an i64 uniform, has no int64_t: converting it would be
   * undefined in C (and saturate to 2^63 - 1 on the device), so it goes
   * through uint64_t, which holds it exactly. */
  if (integral >= 0x1.0p63)
    return (uint64_t)integral;
  return (uint64_t)(int64_t)integral;
}

static inline TP_HD uint64_t tp_gen_integer_bits(const tp_generator *g,
                                                 uint64_t linear,
                                                 const int64_t *index,
                                                 int ndim) {
  switch (g->kind) {
  case TP_GENERATOR_ARANGE:
    return tp_gen_wrap(g->p.arange.start) +
           tp_gen_wrap(g->p.arange.step) * linear;
  case TP_GENERATOR_AFFINE: {
    uint64_t v = tp_gen_wrap(g->p.affine.offset);
    TP_GEN_UNROLL
    for (int k = 0; k < TP_MAX_NDIM; ++k)
      if (k < ndim)
        v += tp_gen_wrap(g->p.affine.coeff[k]) * (uint64_t)index[k];
    return v;
  }
  case TP_GENERATOR_IDENTITY: {
    int diagonal = 1;
    TP_GEN_UNROLL
    for (int k = 1; k < TP_MAX_NDIM; ++k)
      if (k < ndim && index[k] != index[0])
        diagonal = 0;
    return diagonal ? tp_gen_wrap(g->p.identity.diagonal) : 0;
  }
  case TP_GENERATOR_UNIFORM: {
    uint32_t w[4];
    tp_gen_words(g->p.uniform.seed, linear, w);
    /* hi is exclusive and may be 2^63, one past INT64_MAX (the check
     * allows it), which int64_t cannot hold: its bits are 2^63. hi - lo
     * modulo 2^64 is then the width of [lo, hi), except for the whole
     * range [-2^63, 2^63), whose 2^64 values wrap to 0: every word is
     * then a value of its own. */
    uint64_t lo = tp_gen_wrap(g->p.uniform.lo);
    uint64_t hi = g->p.uniform.hi >= 9223372036854775808.0
                      ? (uint64_t)1 << 63
                      : tp_gen_wrap(g->p.uniform.hi);
    uint64_t range = hi - lo, x = tp_gen_join(w[0], w[1]);
    return lo + (range == 0 ? x : x % range);
  }
  case TP_GENERATOR_NORMAL: break; /* refused by tp_generator_check */
  }
  return 0;
}

/* ---- Entry points. */

static inline TP_HD double tp_gen_value_f64(const tp_generator *g,
                                            uint64_t linear,
                                            const int64_t *index, int ndim) {
  double re, im;
  tp_gen_pair(g, linear, index, ndim, &re, &im);
  return re;
}

static inline TP_HD float tp_gen_value_f32(const tp_generator *g,
                                           uint64_t linear,
                                           const int64_t *index, int ndim) {
  return tp_gen_to_f32(g, tp_gen_value_f64(g, linear, index, ndim));
}

static inline TP_HD void tp_gen_value_c128(const tp_generator *g,
                                           uint64_t linear,
                                           const int64_t *index, int ndim,
                                           double out[2]) {
  tp_gen_pair(g, linear, index, ndim, &out[0], &out[1]);
}

static inline TP_HD void tp_gen_value_c64(const tp_generator *g,
                                          uint64_t linear, const int64_t *index,
                                          int ndim, float out[2]) {
  double re, im;
  tp_gen_pair(g, linear, index, ndim, &re, &im);
  out[0] = tp_gen_to_f32(g, re);
  out[1] = tp_gen_to_f32(g, im);
}

static inline TP_HD int64_t tp_gen_value_i64(const tp_generator *g,
                                             uint64_t linear,
                                             const int64_t *index, int ndim) {
  return tp_gen_u64_to_i64(tp_gen_integer_bits(g, linear, index, ndim));
}

static inline TP_HD int32_t tp_gen_value_i32(const tp_generator *g,
                                             uint64_t linear,
                                             const int64_t *index, int ndim) {
  return tp_gen_u32_to_i32(
      (uint32_t)tp_gen_integer_bits(g, linear, index, ndim));
}

static inline TP_HD uint16_t tp_gen_value_f16(const tp_generator *g,
                                              uint64_t linear,
                                              const int64_t *index, int ndim) {
  return tp_gen_to_half(g, tp_gen_value_f64(g, linear, index, ndim), 0);
}

static inline TP_HD uint16_t tp_gen_value_bf16(const tp_generator *g,
                                               uint64_t linear,
                                               const int64_t *index, int ndim) {
  return tp_gen_to_half(g, tp_gen_value_f64(g, linear, index, ndim), 1);
}

/* i8 and u8: the low 8 bits of the int64 value; bool: 1 if it is nonzero. */
static inline TP_HD int8_t tp_gen_value_i8(const tp_generator *g,
                                           uint64_t linear,
                                           const int64_t *index, int ndim) {
  uint8_t low = (uint8_t)tp_gen_integer_bits(g, linear, index, ndim);
  return low <= 127 ? (int8_t)low : (int8_t)(-(int)(uint8_t)~low - 1);
}

static inline TP_HD uint8_t tp_gen_value_u8(const tp_generator *g,
                                            uint64_t linear,
                                            const int64_t *index, int ndim) {
  return (uint8_t)tp_gen_integer_bits(g, linear, index, ndim);
}

static inline TP_HD uint8_t tp_gen_value_bool(const tp_generator *g,
                                              uint64_t linear,
                                              const int64_t *index, int ndim) {
  return tp_gen_integer_bits(g, linear, index, ndim) != 0;
}

/* Writes the value of one element of `dtype` at `dst` (which need not be
 * aligned). */
static inline TP_HD void tp_gen_store(const tp_generator *g, tp_dtype dtype,
                                      uint64_t linear, const int64_t *index,
                                      int ndim, void *dst) {
  switch (dtype) {
  case TP_DTYPE_F32: {
    float v = tp_gen_value_f32(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_F64: {
    double v = tp_gen_value_f64(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_C64: {
    float v[2];
    tp_gen_value_c64(g, linear, index, ndim, v);
    memcpy(dst, v, sizeof v);
    return;
  }
  case TP_DTYPE_C128: {
    double v[2];
    tp_gen_value_c128(g, linear, index, ndim, v);
    memcpy(dst, v, sizeof v);
    return;
  }
  case TP_DTYPE_I32: {
    int32_t v = tp_gen_value_i32(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_I64: {
    int64_t v = tp_gen_value_i64(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_F16:
  case TP_DTYPE_BF16: {
    uint16_t v = dtype == TP_DTYPE_F16
                     ? tp_gen_value_f16(g, linear, index, ndim)
                     : tp_gen_value_bf16(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_I8: {
    int8_t v = tp_gen_value_i8(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  case TP_DTYPE_U8:
  case TP_DTYPE_BOOL: {
    uint8_t v = dtype == TP_DTYPE_U8
                    ? tp_gen_value_u8(g, linear, index, ndim)
                    : tp_gen_value_bool(g, linear, index, ndim);
    memcpy(dst, &v, sizeof v);
    return;
  }
  }
}

#endif
