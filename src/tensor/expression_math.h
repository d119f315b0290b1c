/* Internal: the math of the expression language (docs/expressions.md),
 * written once as portable code (tensor/portable_code.h) so that the host
 * evaluator (expression_eval.c) and the NVRTC kernels (the source generated
 * in src/device/expression_source.c) run the same operations in the same
 * order and give the same bits. Only the IEEE basic operations, sqrt and fma
 * (correctly rounded on both sides, no contraction: -ffp-contract=off here,
 * --fmad=false in NVRTC) and floor, ceil, trunc, round and fmod (exact) are
 * used; every transcendental function is the library's own:
 *   exp, exp2, expm1    x = k ln2 + r, Taylor series of exp(r) to r^13
 *   log, log2, log10    log m = 2 atanh((m-1)/(m+1)) with double-doubles
 *   pow                 exp(y log|x|) with y log|x| as a double-double
 *   sin, cos, tan       Cody-Waite reduction below 2^20, Payne-Hanek above
 *   atan, asin, acos,   atan(i/8) + atan(u), |u| <= 1/16, double-doubles
 *   atan2
 *   sinh, cosh, tanh    Taylor series near 0, exp or expm1 as double-doubles
 * Each is within 1 ulp of the exact value (measured worst cases in
 * docs/expressions.md; the unit test checks the bound). The constants are
 * derived by scripts/expression_constants.py. */
#ifndef TP_TENSOR_EXPRESSION_MATH_H
#define TP_TENSOR_EXPRESSION_MATH_H

#include <math.h>

#include "tensor/half_float.h"
#include "tensor/portable_code.h"

#define TP_EXPRESSION_MATH_CODE(EMIT)                                          \
  EMIT(                                                                        \
      TP_PORTABLE_TABLE double tp_xm_atan_table[18] =                          \
          {                                                                    \
              0x0.0p+0,                                                        \
              0x0.0p+0,                                                        \
              0x1.fd5ba9aac2f6ep-4,                                            \
              -0x1.cd37686760c17p-59,                                          \
              0x1.f5b75f92c80ddp-3,                                            \
              0x1.8ab6e3cf7afbdp-57,                                           \
              0x1.6f61941e4def1p-2,                                            \
              -0x1.c63aae6f6e918p-56,                                          \
              0x1.dac670561bb4fp-2,                                            \
              0x1.a2b7f222f65e2p-56,                                           \
              0x1.1e00babdefeb4p-1,                                            \
              -0x1.928df287a668fp-58,                                          \
              0x1.4978fa3269ee1p-1,                                            \
              0x1.2419a87f2a458p-56,                                           \
              0x1.700a7c5784634p-1,                                            \
              -0x1.8c34d25aadef6p-56,                                          \
              0x1.921fb54442d18p-1,                                            \
              0x1.1a62633145c07p-55,                                           \
          };                                                                   \
                                                                               \
      TP_PORTABLE_TABLE uint32_t tp_xm_two_over_pi[40] =                       \
          {                                                                    \
              0xA2F9836Eu, 0x4E441529u, 0xFC2757D1u, 0xF534DDC0u, 0xDB629599u, \
              0x3C439041u, 0xFE5163ABu, 0xDEBBC561u, 0xB7246E3Au, 0x424DD2E0u, \
              0x06492EEAu, 0x09D1921Cu, 0xFE1DEB1Cu, 0xB129A73Eu, 0xE88235F5u, \
              0x2EBB4484u, 0xE99C7026u, 0xB45F7E41u, 0x3991D639u, 0x835339F4u, \
              0x9C845F8Bu, 0xBDF9283Bu, 0x1FF897FFu, 0xDE05980Fu, 0xEF2F118Bu, \
              0x5A0A6D1Fu, 0x6D367ECFu, 0x27CB09B7u, 0x4F463F66u, 0x9E5FEA2Du, \
              0x7527BAC7u, 0xEBE5F17Bu, 0x3D0739F7u, 0x8A5292EAu, 0x6BFB5FB1u, \
              0x1F8D5D08u, 0x56033046u, 0xFC7B6BABu, 0xF0CFBC20u, 0x9AF4361Du, \
          };                                                                   \
                                                                               \
      /* ---- bits, special values, integers */                                \
                                                                               \
      TP_PORTABLE double tp_xm_nan(void) {                                     \
        return tp_double_of(0x7FF8000000000000ull);                            \
      } TP_PORTABLE double tp_xm_inf(void) {                                   \
        return tp_double_of(0x7FF0000000000000ull);                            \
      } TP_PORTABLE int tp_xm_isnan(double x) {                                \
        return x != x;                                                         \
      } TP_PORTABLE int tp_xm_isinf(double x) {                                \
        return (tp_bits_of(x) & 0x7FFFFFFFFFFFFFFFull) ==                      \
               0x7FF0000000000000ull;                                          \
      } TP_PORTABLE int tp_xm_signbit(double x) {                              \
        return (int)(tp_bits_of(x) >> 63);                                     \
      } TP_PORTABLE double tp_xm_fabs(double x) {                              \
        return tp_double_of(tp_bits_of(x) & 0x7FFFFFFFFFFFFFFFull);            \
      } TP_PORTABLE double tp_xm_copysign(double x, double s) {                \
        return tp_double_of((tp_bits_of(x) & 0x7FFFFFFFFFFFFFFFull) |          \
                            (tp_bits_of(s) & 0x8000000000000000ull));          \
      } /* 2^k for -1022 <= k <= 1023. */                                      \
      TP_PORTABLE double tp_xm_pow2(int k) {                                   \
        return tp_double_of((uint64_t)(k + 1023) << 52);                       \
      } /* v 2^k, rounded once, for v in [0.5, 2] and -1100 <= k <= 1100. */   \
      TP_PORTABLE double tp_xm_scale(double v, int k) {                        \
        if (k > 1023)                                                          \
          return v * tp_xm_pow2(k - 1023) * 0x1.0p1023;                        \
        if (k < -1000)                                                         \
          return v * tp_xm_pow2(k + 200) * 0x1.0p-200;                         \
        return v * tp_xm_pow2(k);                                              \
      }                                                                        \
                                                                               \
      /* Two's complement wrapping, defined the same in C and C++. */          \
      TP_PORTABLE int64_t tp_xm_wrap(uint64_t u) {                             \
        return u <= 0x7FFFFFFFFFFFFFFFull ? (int64_t)u : -(int64_t)(~u) - 1;   \
      } TP_PORTABLE int64_t tp_xm_iadd(int64_t a, int64_t b) {                 \
        return tp_xm_wrap((uint64_t)a + (uint64_t)b);                          \
      } TP_PORTABLE int64_t tp_xm_isub(int64_t a, int64_t b) {                 \
        return tp_xm_wrap((uint64_t)a - (uint64_t)b);                          \
      } TP_PORTABLE int64_t tp_xm_imul(int64_t a, int64_t b) {                 \
        return tp_xm_wrap((uint64_t)a * (uint64_t)b);                          \
      } TP_PORTABLE int64_t tp_xm_ineg(int64_t a) {                            \
        return tp_xm_wrap(0 - (uint64_t)a);                                    \
      } TP_PORTABLE int64_t tp_xm_idiv(int64_t a, int64_t b) {                 \
        if (b == 0)                                                            \
          return 0;                                                            \
        if (b == -1)                                                           \
          return tp_xm_ineg(a);                                                \
        return a / b;                                                          \
      } TP_PORTABLE int64_t tp_xm_imod(int64_t a, int64_t b) {                 \
        if (b == 0 || b == -1)                                                 \
          return 0;                                                            \
        return a % b;                                                          \
      } TP_PORTABLE int64_t tp_xm_iabs(int64_t a) {                            \
        return a < 0 ? tp_xm_ineg(a) : a;                                      \
      } TP_PORTABLE int64_t tp_xm_imin(int64_t a, int64_t b) {                 \
        return a < b ? a : b;                                                  \
      } TP_PORTABLE int64_t tp_xm_imax(int64_t a, int64_t b) {                 \
        return a > b ? a : b;                                                  \
      } TP_PORTABLE double tp_xm_real(int64_t a) {                             \
        return (double)a;                                                      \
      } /* Toward zero; NaN gives 0, out of range the nearest end. */          \
      TP_PORTABLE int64_t tp_xm_to_int(double x) {                             \
        if (x != x)                                                            \
          return 0;                                                            \
        if (x >= 0x1.0p63)                                                     \
          return 0x7FFFFFFFFFFFFFFFll;                                         \
        if (x <= -0x1.0p63)                                                    \
          return -0x7FFFFFFFFFFFFFFFll - 1;                                    \
        return (int64_t)x;                                                     \
      }                                                                        \
                                                                               \
      /* ---- exact real functions */                                          \
                                                                               \
      TP_PORTABLE double tp_xm_min(double a, double b) {                       \
        if (a != a)                                                            \
          return b;                                                            \
        if (b != b)                                                            \
          return a;                                                            \
        return a < b ? a : b;                                                  \
      } TP_PORTABLE double tp_xm_max(double a, double b) {                     \
        if (a != a)                                                            \
          return b;                                                            \
        if (b != b)                                                            \
          return a;                                                            \
        return a > b ? a : b;                                                  \
      } TP_PORTABLE double tp_xm_floor(double x) {                             \
        return floor(x);                                                       \
      } TP_PORTABLE double tp_xm_ceil(double x) {                              \
        return ceil(x);                                                        \
      } TP_PORTABLE double tp_xm_trunc(double x) {                             \
        return trunc(x);                                                       \
      } TP_PORTABLE double tp_xm_round(double x) {                             \
        return round(x);                                                       \
      } TP_PORTABLE double tp_xm_sqrt(double x) {                              \
        return sqrt(x);                                                        \
      } TP_PORTABLE double tp_xm_fma(double a, double b, double c) {           \
        return fma(a, b, c);                                                   \
      } TP_PORTABLE double tp_xm_fmod(double a, double b) {                    \
        return fmod(a, b);                                                     \
      }                                                                        \
                                                                               \
      /* ---- error-free transformations (Knuth's two-sum, Dekker's fast       \
       * two-sum, the fma two-product): hi + *lo is the exact result. */       \
                                                                               \
      TP_PORTABLE double tp_xm_two_sum(double a, double b, double *lo) {       \
        double s = a + b;                                                      \
        double bb = s - a;                                                     \
        *lo = (a - (s - bb)) + (b - bb);                                       \
        return s;                                                              \
      } TP_PORTABLE double tp_xm_fast_two_sum(double a, double b,              \
                                              double *lo) {                    \
        double s = a + b;                                                      \
        *lo = b - (s - a);                                                     \
        return s;                                                              \
      } TP_PORTABLE double tp_xm_two_prod(double a, double b, double *lo) {    \
        double p = a * b;                                                      \
        *lo = fma(a, b, -p);                                                   \
        return p;                                                              \
      }                                                                        \
                                                                               \
      /* ---- exp: x = k ln2 + r, |r| <= ln2/2, with ln2 in three parts of     \
       * which the first two have 42 bits (k ln2_1 and k ln2_2 exact for |k| < \
       * 2^11); r as hi + lo; exp(r) by its Taylor series to r^13 (the first   \
       * term left out is below 2^-61 relative). */                            \
                                                                               \
      TP_PORTABLE double tp_xm_exp_poly(double r) {                            \
        double q = 0x1.6124613a86d09p-33;                                      \
        q = fma(q, r, 0x1.1eed8eff8d898p-29);                                  \
        q = fma(q, r, 0x1.ae64567f544e4p-26);                                  \
        q = fma(q, r, 0x1.27e4fb7789f5cp-22);                                  \
        q = fma(q, r, 0x1.71de3a556c734p-19);                                  \
        q = fma(q, r, 0x1.a01a01a01a01ap-16);                                  \
        q = fma(q, r, 0x1.a01a01a01a01ap-13);                                  \
        q = fma(q, r, 0x1.6c16c16c16c17p-10);                                  \
        q = fma(q, r, 0x1.1111111111111p-7);                                   \
        q = fma(q, r, 0x1.5555555555555p-5);                                   \
        q = fma(q, r, 0x1.5555555555555p-3);                                   \
        q = fma(q, r, 0x1.0000000000000p-1);                                   \
        return q;                                                              \
      }                                                                        \
                                                                               \
      /* k and r = rh + *rl with x + xl = k ln2 + r. */                        \
      TP_PORTABLE double tp_xm_exp_reduce(double x, double xl, int *k,         \
                                          double *rl) {                        \
        double kd = floor(x * 0x1.71547652b82fep+0 + 0.5);                     \
        double t = x - kd * 0x1.62e42fefa3800p-1;                              \
        double e;                                                              \
        double rh = tp_xm_two_sum(t, -kd * 0x1.ef35793c76000p-45, &e);         \
        *rl = e + (xl - kd * 0x1.cc01f97b57a08p-87);                           \
        *k = (int)kd;                                                          \
        return rh;                                                             \
      }                                                                        \
                                                                               \
      /* exp(r) - 1 - rh for r = rh + rl, |r| <= ln2/2 + small, |rl| < 2^-40:  \
       * (exp(rh) - 1 - rh) + exp(rh) rl (rl^2 is below 2^-80). */             \
      TP_PORTABLE double tp_xm_exp_tail(double rh, double rl) {                \
        double q = tp_xm_exp_poly(rh);                                         \
        double zl;                                                             \
        double z = tp_xm_two_prod(rh, rh, &zl);                                \
        double zq = fma(z, q, zl * q);                                         \
        return zq + rl * ((1.0 + rh) + zq);                                    \
      }                                                                        \
                                                                               \
      /* exp(x + xl) = 2^k (hi + *lo), for finite |x| <= 746, |xl| < 2^-40. */ \
      TP_PORTABLE double tp_xm_exp_parts(double x, double xl, int *k,          \
                                         double *lo) {                         \
        double rl;                                                             \
        double rh = tp_xm_exp_reduce(x, xl, k, &rl);                           \
        double p = tp_xm_exp_tail(rh, rl);                                     \
        double e;                                                              \
        double a = tp_xm_fast_two_sum(1.0, rh, &e);                            \
        return tp_xm_fast_two_sum(a, e + p, lo);                               \
      }                                                                        \
                                                                               \
      /* exp(x + xl) for |xl| < 2^-40. */                                      \
      TP_PORTABLE double tp_xm_exp_dd(double x, double xl) {                   \
        if (x != x)                                                            \
          return x;                                                            \
        if (x > 710.0)                                                         \
          return tp_xm_inf();                                                  \
        if (x < -746.0)                                                        \
          return 0.0;                                                          \
        int k;                                                                 \
        double lo;                                                             \
        double hi = tp_xm_exp_parts(x, xl, &k, &lo);                           \
        return tp_xm_scale(hi + lo, k);                                        \
      }                                                                        \
                                                                               \
      /* exp(x) as hi + *lo, for |x| <= 700 (normal results, exact scaling).   \
       */                                                                      \
      TP_PORTABLE double tp_xm_exp_pair(double x, double *lo) {                \
        int k;                                                                 \
        double hi = tp_xm_exp_parts(x, 0.0, &k, lo);                           \
        double scale = tp_xm_pow2(k);                                          \
        *lo *= scale;                                                          \
        return hi * scale;                                                     \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_exp(double x) { return tp_xm_exp_dd(x, 0.0); }  \
                                                                               \
      TP_PORTABLE double tp_xm_exp2(double x) {                                \
        if (x != x)                                                            \
          return x;                                                            \
        if (x > 1025.0)                                                        \
          return tp_xm_inf();                                                  \
        if (x < -1076.0)                                                       \
          return 0.0;                                                          \
        double lo;                                                             \
        double hi = tp_xm_two_prod(x, 0x1.62e42fefa39efp-1, &lo);              \
        lo += x * 0x1.abc9e3b39803fp-56;                                       \
        return tp_xm_exp_dd(hi, lo);                                           \
      }                                                                        \
                                                                               \
      /* expm1(x) as hi + *lo, for finite x in [-40, 709]. */                  \
      TP_PORTABLE double tp_xm_expm1_pair(double x, double *lo) {              \
        if (tp_xm_fabs(x) < 0x1.62e42fefa39efp-2) {                            \
          double q = 0x1.93974a8c07c9dp-37;                                    \
          q = fma(q, x, 0x1.6124613a86d09p-33);                                \
          q = fma(q, x, 0x1.1eed8eff8d898p-29);                                \
          q = fma(q, x, 0x1.ae64567f544e4p-26);                                \
          q = fma(q, x, 0x1.27e4fb7789f5cp-22);                                \
          q = fma(q, x, 0x1.71de3a556c734p-19);                                \
          q = fma(q, x, 0x1.a01a01a01a01ap-16);                                \
          q = fma(q, x, 0x1.a01a01a01a01ap-13);                                \
          q = fma(q, x, 0x1.6c16c16c16c17p-10);                                \
          q = fma(q, x, 0x1.1111111111111p-7);                                 \
          q = fma(q, x, 0x1.5555555555555p-5);                                 \
          q = fma(q, x, 0x1.5555555555555p-3);                                 \
          q = fma(q, x, 0x1.0000000000000p-1);                                 \
          double zl;                                                           \
          double z = tp_xm_two_prod(x, x, &zl);                                \
          return tp_xm_fast_two_sum(x, fma(z, q, zl * q), lo);                 \
        }                                                                      \
        int k;                                                                 \
        double rl;                                                             \
        double rh = tp_xm_exp_reduce(x, 0.0, &k, &rl);                         \
        double p = tp_xm_exp_tail(rh, rl);                                     \
        double ul;                                                             \
        double uh = tp_xm_two_sum(rh, p, &ul);                                 \
        double two_k = tp_xm_pow2(k);                                          \
        double e1;                                                             \
        double s1 = tp_xm_two_sum(two_k, -1.0, &e1);                           \
        double e2;                                                             \
        double s2 = tp_xm_two_sum(s1, two_k * uh, &e2);                        \
        return tp_xm_fast_two_sum(s2, e1 + e2 + two_k * ul, lo);               \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_expm1(double x) {                               \
        if (x != x || x == 0.0)                                                \
          return x;                                                            \
        if (x > 709.0)                                                         \
          return x > 710.0 ? tp_xm_inf() : tp_xm_exp(x);                       \
        if (x < -40.0)                                                         \
          return -1.0;                                                         \
        double lo;                                                             \
        double hi = tp_xm_expm1_pair(x, &lo);                                  \
        return hi + lo;                                                        \
      }                                                                        \
                                                                               \
      /* ---- log: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s)    \
       * with s = (m-1)/(m+1), |s| < 0.1716: 2s + 2s^3/3 + 2s^5 (1/5 + s^2/7 + \
       * ...); s, s^3 and 2s^3/3 carried as double-doubles, the rest (below    \
       * 2^-14) in double up to s^25 (the first term left out is below 2^-68). \
       * ln2 is split with 42 bits in its high part so that e ln2_hi is exact. \
       * The result is hi + *lo with an error near 2^-67 absolute. x positive  \
       * and finite. */                                                        \
      TP_PORTABLE double tp_xm_log_dd(double x, double *lo) {                  \
        uint64_t b = tp_bits_of(x);                                            \
        int e = 0;                                                             \
        if (b < 0x0010000000000000ull) {                                       \
          x *= 0x1.0p54;                                                       \
          b = tp_bits_of(x);                                                   \
          e = -54;                                                             \
        }                                                                      \
        e += (int)(b >> 52) - 1023;                                            \
        double m =                                                             \
            tp_double_of((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull); \
        if (m > 0x1.6a09e667f3bcdp+0) {                                        \
          m *= 0.5;                                                            \
          e += 1;                                                              \
        }                                                                      \
        double f = m - 1.0;                                                    \
        double gl;                                                             \
        double g = tp_xm_two_sum(m, 1.0, &gl);                                 \
        double sh = f / g;                                                     \
        double sl = (fma(-sh, g, f) - sh * gl) / g;                            \
        double zl;                                                             \
        double z = tp_xm_two_prod(sh, sh, &zl);                                \
        double cl;                                                             \
        double c = tp_xm_two_prod(z, sh, &cl);                                 \
        cl += zl * sh + 3.0 * z * sl;                                          \
        double tl;                                                             \
        double t = tp_xm_two_prod(c, 0x1.5555555555555p-1, &tl);               \
        tl += c * 0x1.5555555555555p-55 + cl * 0x1.5555555555555p-1;           \
        double q = 1.0 / 25.0;                                                 \
        q = fma(q, z, 1.0 / 23.0);                                             \
        q = fma(q, z, 1.0 / 21.0);                                             \
        q = fma(q, z, 1.0 / 19.0);                                             \
        q = fma(q, z, 1.0 / 17.0);                                             \
        q = fma(q, z, 1.0 / 15.0);                                             \
        q = fma(q, z, 1.0 / 13.0);                                             \
        q = fma(q, z, 1.0 / 11.0);                                             \
        q = fma(q, z, 1.0 / 9.0);                                              \
        q = fma(q, z, 1.0 / 7.0);                                              \
        q = fma(q, z, 1.0 / 5.0);                                              \
        double rest = 2.0 * (c * z) * q + 2.0 * z * z * sl;                    \
        double de = (double)e;                                                 \
        double a1, a2;                                                         \
        double a = tp_xm_two_sum(de * 0x1.62e42fefa3800p-1, 2.0 * sh, &a1);    \
        a = tp_xm_two_sum(a, t, &a2);                                          \
        double low =                                                           \
            a1 + a2 + (de * 0x1.ef35793c76730p-45 + (2.0 * sl + (tl + rest))); \
        return tp_xm_fast_two_sum(a, low, lo);                                 \
      }                                                                        \
                                                                               \
      /* NaN, negative, zero and infinity as C99 says; else log_dd's high      \
         part. */                                                              \
      TP_PORTABLE int tp_xm_log_special(double x, double *out) {               \
        if (x != x) {                                                          \
          *out = x;                                                            \
          return 1;                                                            \
        }                                                                      \
        if (x < 0.0) {                                                         \
          *out = tp_xm_nan();                                                  \
          return 1;                                                            \
        }                                                                      \
        if (x == 0.0) {                                                        \
          *out = -tp_xm_inf();                                                 \
          return 1;                                                            \
        }                                                                      \
        if (tp_xm_isinf(x)) {                                                  \
          *out = x;                                                            \
          return 1;                                                            \
        }                                                                      \
        return 0;                                                              \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_log(double x) {                                 \
        double out, lo;                                                        \
        if (tp_xm_log_special(x, &out))                                        \
          return out;                                                          \
        return tp_xm_log_dd(x, &lo);                                           \
      }                                                                        \
                                                                               \
      /* log x times a double-double constant c = ch + cl. */                  \
      TP_PORTABLE double tp_xm_log_times(double x, double ch, double cl) {     \
        double out, lo;                                                        \
        if (tp_xm_log_special(x, &out))                                        \
          return out;                                                          \
        double hi = tp_xm_log_dd(x, &lo);                                      \
        double pl;                                                             \
        double ph = tp_xm_two_prod(hi, ch, &pl);                               \
        return ph + (pl + (hi * cl + lo * ch));                                \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_log2(double x) {                                \
        return tp_xm_log_times(x, 0x1.71547652b82fep+0,                        \
                               0x1.777d0ffda0d24p-56);                         \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_log10(double x) {                               \
        return tp_xm_log_times(x, 0x1.bcb7b1526e50ep-2,                        \
                               0x1.95355baaafad3p-57);                         \
      }                                                                        \
                                                                               \
      /* ---- pow: the special cases of C99 (F.9.4.4), then exp(y log|x|) with \
       * y log|x| as a double-double. */                                       \
                                                                               \
      TP_PORTABLE int tp_xm_is_integer(double y) {                             \
        return !tp_xm_isinf(y) && floor(y) == y;                               \
      } TP_PORTABLE int tp_xm_is_odd(double y) {                               \
        return tp_xm_is_integer(y) && tp_xm_fabs(y) < 0x1.0p53 &&              \
               floor(y * 0.5) != y * 0.5;                                      \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_pow(double x, double y) {                       \
        if (y == 0.0 || x == 1.0)                                              \
          return 1.0;                                                          \
        if (x != x || y != y)                                                  \
          return tp_xm_nan();                                                  \
        double ax = tp_xm_fabs(x);                                             \
        if (tp_xm_isinf(y)) {                                                  \
          if (ax == 1.0)                                                       \
            return 1.0;                                                        \
          return (ax < 1.0) == (y > 0.0) ? 0.0 : tp_xm_inf();                  \
        }                                                                      \
        int negative = tp_xm_signbit(x);                                       \
        if (negative && x != 0.0 && !tp_xm_isinf(x) && !tp_xm_is_integer(y))   \
          return tp_xm_nan();                                                  \
        double sign = negative && tp_xm_is_odd(y) ? -1.0 : 1.0;                \
        if (ax == 0.0)                                                         \
          return y < 0.0 ? sign * tp_xm_inf() : sign * 0.0;                    \
        if (tp_xm_isinf(ax))                                                   \
          return y < 0.0 ? sign * 0.0 : sign * tp_xm_inf();                    \
        double ll;                                                             \
        double lh = tp_xm_log_dd(ax, &ll);                                     \
        double wl;                                                             \
        double wh = tp_xm_two_prod(y, lh, &wl);                                \
        if (wh > 710.0)                                                        \
          return sign * tp_xm_inf();                                           \
        if (wh < -746.0)                                                       \
          return sign * 0.0;                                                   \
        wl += y * ll;                                                          \
        return sign * tp_xm_exp_dd(wh, wl);                                    \
      }                                                                        \
                                                                               \
      /* ---- hyperbolic functions: Taylor series near zero, exp as a          \
       * double-double in the middle, exp(|x| - ln2) beyond 22 (where e^-|x|   \
       * is below 2^-63 relative). */                                          \
                                                                               \
      TP_PORTABLE double tp_xm_exp_minus_ln2(double ax) {                      \
        double l;                                                              \
        double h = tp_xm_two_sum(ax, -0x1.62e42fefa39efp-1, &l);               \
        return tp_xm_exp_dd(h, l - 0x1.abc9e3b39803fp-56);                     \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_sinh(double x) {                                \
        double ax = tp_xm_fabs(x);                                             \
        if (!(ax >= 0x1.0p-28))                                                \
          return x;                                                            \
        double r;                                                              \
        if (ax < 1.0) {                                                        \
          double z = x * x;                                                    \
          double s = 0x1.952c77030ad4ap-49;                                    \
          s = fma(s, z, 0x1.ae7f3e733b81fp-41);                                \
          s = fma(s, z, 0x1.6124613a86d09p-33);                                \
          s = fma(s, z, 0x1.ae64567f544e4p-26);                                \
          s = fma(s, z, 0x1.71de3a556c734p-19);                                \
          s = fma(s, z, 0x1.a01a01a01a01ap-13);                                \
          s = fma(s, z, 0x1.1111111111111p-7);                                 \
          s = fma(s, z, 0x1.5555555555555p-3);                                 \
          return x + x * z * s;                                                \
        }                                                                      \
        if (ax < 22.0) {                                                       \
          double el;                                                           \
          double eh = tp_xm_exp_pair(ax, &el);                                 \
          double e;                                                            \
          double h = tp_xm_two_sum(eh, -1.0 / eh, &e);                         \
          r = 0.5 * (h + (e + el));                                            \
        } else {                                                               \
          r = tp_xm_exp_minus_ln2(ax);                                         \
        }                                                                      \
        return tp_xm_copysign(r, x);                                           \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_cosh(double x) {                                \
        double ax = tp_xm_fabs(x);                                             \
        if (ax != ax)                                                          \
          return ax;                                                           \
        if (ax < 22.0) {                                                       \
          double el;                                                           \
          double eh = tp_xm_exp_pair(ax, &el);                                 \
          double e;                                                            \
          double h = tp_xm_two_sum(eh, 1.0 / eh, &e);                          \
          return 0.5 * (h + (e + el));                                         \
        }                                                                      \
        return tp_xm_exp_minus_ln2(ax);                                        \
      }                                                                        \
                                                                               \
      /* tanh = t / (t + 2) with t = expm1(2|x|) as a double-double. */        \
      TP_PORTABLE double tp_xm_tanh(double x) {                                \
        double ax = tp_xm_fabs(x);                                             \
        if (!(ax >= 0x1.0p-28))                                                \
          return x;                                                            \
        if (ax > 22.0)                                                         \
          return tp_xm_copysign(1.0, x);                                       \
        double tl;                                                             \
        double th = tp_xm_expm1_pair(2.0 * ax, &tl);                           \
        double dl;                                                             \
        double dh = tp_xm_two_sum(2.0, th, &dl);                               \
        dl += tl;                                                              \
        double q = th / dh;                                                    \
        double r = q + (fma(-q, dh, th) + (tl - q * dl)) / dh;                 \
        return tp_xm_copysign(r, x);                                           \
      }                                                                        \
                                                                               \
      /* ---- sin, cos, tan: x = k pi/2 + r, |r| <= pi/4 (a little more after  \
       * rounding), r = hi + lo. Below 2^20: Cody and Waite's reduction with   \
       * pi/2 in three parts (33, 33 and 53 bits: k times the first two is     \
       * exact). Above: Payne and Hanek's, with 2/pi to 1280 bits. */          \
                                                                               \
      TP_PORTABLE int tp_xm_clz64(uint64_t v) {                                \
        int n = 0;                                                             \
        if (!(v >> 32)) {                                                      \
          n += 32;                                                             \
          v <<= 32;                                                            \
        }                                                                      \
        if (!(v >> 48)) {                                                      \
          n += 16;                                                             \
          v <<= 16;                                                            \
        }                                                                      \
        if (!(v >> 56)) {                                                      \
          n += 8;                                                              \
          v <<= 8;                                                             \
        }                                                                      \
        if (!(v >> 60)) {                                                      \
          n += 4;                                                              \
          v <<= 4;                                                             \
        }                                                                      \
        if (!(v >> 62)) {                                                      \
          n += 2;                                                              \
          v <<= 2;                                                             \
        }                                                                      \
        if (!(v >> 63))                                                        \
          n += 1;                                                              \
        return n;                                                              \
      }                                                                        \
                                                                               \
      /* 32 bits of 2/pi from bit position pos on (bit j weighs 2^-j;          \
       * positions below 1 are the zeros in front of the point). */            \
      TP_PORTABLE uint32_t tp_xm_two_over_pi_bits(int pos) {                   \
        if (pos <= -31)                                                        \
          return 0;                                                            \
        if (pos <= 0)                                                          \
          return tp_xm_two_over_pi[0] >> (1 - pos);                            \
        int i = (pos - 1) >> 5, sh = (pos - 1) & 31;                           \
        uint32_t w = tp_xm_two_over_pi[i] << sh;                               \
        if (sh)                                                                \
          w |= tp_xm_two_over_pi[i + 1] >> (32 - sh);                          \
        return w;                                                              \
      }                                                                        \
                                                                               \
      /* |x| >= 2^20, finite. With x = m 2^e (m a 53-bit integer), x 2/pi / 4  \
       * = m F mod 1 where F = frac(2^(e-2) 2/pi) holds the bits of 2/pi from  \
       * position e-1 on (the earlier ones give multiples of 4): 224 bits of   \
       * F, 224 bits of the fraction m F. Its top two bits are k mod 4, the    \
       * rest f in [0, 1) (taken as f - 1 when above 1/2, k + 1), and r = f    \
       * pi/2. */                                                              \
      TP_PORTABLE int tp_xm_reduce_large(double x, double *hi, double *lo) {   \
        uint64_t b = tp_bits_of(x);                                            \
        int e = (int)((b >> 52) & 0x7FF) - 1075;                               \
        uint64_t m = (b & 0x000FFFFFFFFFFFFFull) | 0x0010000000000000ull;      \
        uint64_t ml = m & 0xFFFFFFFFull, mh = m >> 32;                         \
        uint32_t f[9];                                                         \
        for (int t = 0; t < 7; ++t)                                            \
          f[t] = tp_xm_two_over_pi_bits(e - 1 + 32 * t);                       \
        f[7] = 0;                                                              \
        f[8] = 0;                                                              \
        uint32_t g[7];                                                         \
        uint64_t carry = 0;                                                    \
        for (int j = 6; j >= 0; --j) {                                         \
          uint64_t p0 = ml * f[j], p1 = ml * f[j + 1];                         \
          uint64_t q1 = mh * f[j + 1], q2 = mh * f[j + 2];                     \
          uint64_t acc = carry + (p0 & 0xFFFFFFFFull) + (p1 >> 32) +           \
                         (q1 & 0xFFFFFFFFull) + (q2 >> 32);                    \
          g[j] = (uint32_t)acc;                                                \
          carry = acc >> 32;                                                   \
        }                                                                      \
        int k = (int)(g[0] >> 30);                                             \
        uint64_t w[4];                                                         \
        w[0] = ((uint64_t)g[0] << 34) | ((uint64_t)g[1] << 2) | (g[2] >> 30);  \
        w[1] = ((uint64_t)g[2] << 34) | ((uint64_t)g[3] << 2) | (g[4] >> 30);  \
        w[2] = ((uint64_t)g[4] << 34) | ((uint64_t)g[5] << 2) | (g[6] >> 30);  \
        w[3] = (uint64_t)g[6] << 34;                                           \
        double sign = 1.0;                                                     \
        if (w[0] >> 63) {                                                      \
          k += 1;                                                              \
          sign = -1.0;                                                         \
          int c = 1;                                                           \
          for (int i = 3; i >= 0; --i) {                                       \
            w[i] = ~w[i] + (uint64_t)c;                                        \
            c = c && w[i] == 0;                                                \
          }                                                                    \
        }                                                                      \
        int shift = 0;                                                         \
        while (w[0] == 0 && shift < 128) {                                     \
          w[0] = w[1];                                                         \
          w[1] = w[2];                                                         \
          w[2] = w[3];                                                         \
          w[3] = 0;                                                            \
          shift += 64;                                                         \
        }                                                                      \
        if (w[0] == 0) {                                                       \
          *hi = 0.0;                                                           \
          *lo = 0.0;                                                           \
        } else {                                                               \
          int z = tp_xm_clz64(w[0]);                                           \
          uint64_t top = z ? (w[0] << z) | (w[1] >> (64 - z)) : w[0];          \
          uint64_t next = z ? (w[1] << z) | (w[2] >> (64 - z)) : w[1];         \
          int n = z + shift;                                                   \
          double ah = (double)(top >> 11) * tp_xm_pow2(-53 - n);               \
          double al = (double)(((top & 0x7FFull) << 42) | (next >> 22)) *      \
                      tp_xm_pow2(-106 - n);                                    \
          double pl;                                                           \
          double ph = tp_xm_two_prod(ah, 0x1.921fb54442d18p+0, &pl);           \
          pl += ah * 0x1.1a62633145c07p-54 + al * 0x1.921fb54442d18p+0;        \
          ph = tp_xm_fast_two_sum(ph, pl, &pl);                                \
          *hi = sign * ph;                                                     \
          *lo = sign * pl;                                                     \
        }                                                                      \
        if (tp_xm_signbit(x)) {                                                \
          *hi = -*hi;                                                          \
          *lo = -*lo;                                                          \
          k = -k;                                                              \
        }                                                                      \
        return k & 3;                                                          \
      }                                                                        \
                                                                               \
      TP_PORTABLE int tp_xm_reduce(double x, double *hi, double *lo) {         \
        double ax = tp_xm_fabs(x);                                             \
        if (ax <= 0x1.921fb54442d18p-1) {                                      \
          *hi = x;                                                             \
          *lo = 0.0;                                                           \
          return 0;                                                            \
        }                                                                      \
        if (ax >= 0x1.0p20)                                                    \
          return tp_xm_reduce_large(x, hi, lo);                                \
        double kd = floor(x * 0x1.45f306dc9c883p-1 + 0.5);                     \
        double t = x - kd * 0x1.921fb54400000p+0;                              \
        double e;                                                              \
        double h = tp_xm_two_sum(t, -kd * 0x1.0b4611a600000p-34, &e);          \
        double l = e - kd * 0x1.3198a2e037073p-69;                             \
        *hi = tp_xm_two_sum(h, l, lo);                                         \
        return (int)((int64_t)kd & 3);                                         \
      }                                                                        \
                                                                               \
      /* sin(h + l) for |h| <= pi/4 + small, as hi + *lo: Taylor to h^17 (the  \
       * first term left out is below 2^-63 relative), plus l cos h ~ l (1 -   \
       * h^2/2). */                                                            \
      TP_PORTABLE double tp_xm_sin_kernel(double h, double l, double *lo) {    \
        double z = h * h;                                                      \
        double s = 0x1.952c77030ad4ap-49;                                      \
        s = fma(s, z, -0x1.ae7f3e733b81fp-41);                                 \
        s = fma(s, z, 0x1.6124613a86d09p-33);                                  \
        s = fma(s, z, -0x1.ae64567f544e4p-26);                                 \
        s = fma(s, z, 0x1.71de3a556c734p-19);                                  \
        s = fma(s, z, -0x1.a01a01a01a01ap-13);                                 \
        s = fma(s, z, 0x1.1111111111111p-7);                                   \
        s = fma(s, z, -0x1.5555555555555p-3);                                  \
        return tp_xm_fast_two_sum(h, h * z * s + l * (1.0 - 0.5 * z), lo);     \
      }                                                                        \
                                                                               \
      /* cos(h + l), same range, as hi + *lo: 1 - h^2/2 with h^2 exact and the \
       * rounding of 1 - h^2/2 recovered, Taylor to h^16 (first term left out  \
       * below 2^-58), minus l sin h ~ l h. */                                 \
      TP_PORTABLE double tp_xm_cos_kernel(double h, double l, double *lo) {    \
        double zl;                                                             \
        double z = tp_xm_two_prod(h, h, &zl);                                  \
        double c = 0x1.ae7f3e733b81fp-45;                                      \
        c = fma(c, z, -0x1.93974a8c07c9dp-37);                                 \
        c = fma(c, z, 0x1.1eed8eff8d898p-29);                                  \
        c = fma(c, z, -0x1.27e4fb7789f5cp-22);                                 \
        c = fma(c, z, 0x1.a01a01a01a01ap-16);                                  \
        c = fma(c, z, -0x1.6c16c16c16c17p-10);                                 \
        c = fma(c, z, 0x1.5555555555555p-5);                                   \
        double w = 0.5 * z;                                                    \
        double r = 1.0 - w;                                                    \
        double residual = (1.0 - r) - w;                                       \
        return tp_xm_fast_two_sum(                                             \
            r, residual + (z * z * c - (0.5 * zl + h * l)), lo);               \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_sin(double x) {                                 \
        if (tp_xm_isinf(x))                                                    \
          return tp_xm_nan();                                                  \
        if (x != x || x == 0.0)                                                \
          return x;                                                            \
        double h, l, lo;                                                       \
        int k = tp_xm_reduce(x, &h, &l);                                       \
        double v = (k & 1) ? tp_xm_cos_kernel(h, l, &lo)                       \
                           : tp_xm_sin_kernel(h, l, &lo);                      \
        return (k & 2) ? -(v + lo) : v + lo;                                   \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_cos(double x) {                                 \
        if (tp_xm_isinf(x))                                                    \
          return tp_xm_nan();                                                  \
        if (x != x)                                                            \
          return x;                                                            \
        double h, l, lo;                                                       \
        int k = tp_xm_reduce(x, &h, &l);                                       \
        double v = (k & 1) ? tp_xm_sin_kernel(h, l, &lo)                       \
                           : tp_xm_cos_kernel(h, l, &lo);                      \
        return ((k + 1) & 2) ? -(v + lo) : v + lo;                             \
      }                                                                        \
                                                                               \
      /* sin / cos (or -cos / sin) as a double-double quotient. */             \
      TP_PORTABLE double tp_xm_tan(double x) {                                 \
        if (tp_xm_isinf(x))                                                    \
          return tp_xm_nan();                                                  \
        if (x != x || x == 0.0)                                                \
          return x;                                                            \
        double h, l, sl, cl;                                                   \
        int k = tp_xm_reduce(x, &h, &l);                                       \
        double sh = tp_xm_sin_kernel(h, l, &sl);                               \
        double ch = tp_xm_cos_kernel(h, l, &cl);                               \
        if (k & 1) {                                                           \
          double t = sh, tl = sl;                                              \
          sh = -ch;                                                            \
          sl = -cl;                                                            \
          ch = t;                                                              \
          cl = tl;                                                             \
        }                                                                      \
        double q = sh / ch;                                                    \
        return q + (fma(-q, ch, sh) + (sl - q * cl)) / ch;                     \
      }                                                                        \
                                                                               \
      /* ---- inverse trigonometric functions: atan(t), 0 <= t <= 1 (t = th +  \
       * tl), as atan(c) + atan(u) with c = i/8 the nearest eighth and u = (t  \
       * - c) / (1 + t c), |u| <= 1/16, u as a double-double; atan(u) by its   \
       * Taylor series to u^15 (first term left out below 2^-64 relative);     \
       * atan(i/8) from the table as double-doubles. Result hi + *lo. */       \
      TP_PORTABLE double tp_xm_atan01(double th, double tl, double *lo) {      \
        int i = (int)(th * 8.0 + 0.5);                                         \
        double c = (double)i * 0.125;                                          \
        double nl;                                                             \
        double nh = tp_xm_two_sum(th - c, tl, &nl);                            \
        double dpl;                                                            \
        double dp = tp_xm_two_prod(th, c, &dpl);                               \
        double dl;                                                             \
        double dh = tp_xm_fast_two_sum(1.0, dp, &dl);                          \
        dl += dpl + tl * c;                                                    \
        double uh = nh / dh;                                                   \
        double ul = (fma(-uh, dh, nh) + (nl - uh * dl)) / dh;                  \
        double z = uh * uh;                                                    \
        double p = -1.0 / 15.0;                                                \
        p = fma(p, z, 1.0 / 13.0);                                             \
        p = fma(p, z, -1.0 / 11.0);                                            \
        p = fma(p, z, 1.0 / 9.0);                                              \
        p = fma(p, z, -1.0 / 7.0);                                             \
        p = fma(p, z, 1.0 / 5.0);                                              \
        p = fma(p, z, -1.0 / 3.0);                                             \
        double tail = uh * z * p + ul;                                         \
        double e;                                                              \
        double s = tp_xm_two_sum(tp_xm_atan_table[2 * i], uh, &e);             \
        return tp_xm_fast_two_sum(s, e + (tp_xm_atan_table[2 * i + 1] + tail), \
                                  lo);                                         \
      }                                                                        \
                                                                               \
      /* The angle of the point (x, y) with x, y >= 0 as double-doubles, not   \
       * both zero, finite: in [0, pi/2], as hi + *lo. The smaller coordinate  \
       * is divided by the larger. */                                          \
      TP_PORTABLE double tp_xm_angle(double yh, double yl, double xh,          \
                                     double xl, double *lo) {                  \
        if (yh <= xh) {                                                        \
          double th = yh / xh;                                                 \
          double tl = (fma(-th, xh, yh) + (yl - th * xl)) / xh;                \
          return tp_xm_atan01(th, tl, lo);                                     \
        }                                                                      \
        double th = xh / yh;                                                   \
        double tl = (fma(-th, yh, xh) + (xl - th * yl)) / yh;                  \
        double al;                                                             \
        double a = tp_xm_atan01(th, tl, &al);                                  \
        double e;                                                              \
        double h = tp_xm_two_sum(0x1.921fb54442d18p+0, -a, &e);                \
        return tp_xm_fast_two_sum(h, e + (0x1.1a62633145c07p-54 - al), lo);    \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_atan(double x) {                                \
        if (x != x)                                                            \
          return x;                                                            \
        double ax = tp_xm_fabs(x);                                             \
        if (ax < 0x1.0p-27)                                                    \
          return x;                                                            \
        if (tp_xm_isinf(x))                                                    \
          return tp_xm_copysign(0x1.921fb54442d18p+0, x);                      \
        double lo;                                                             \
        return tp_xm_copysign(tp_xm_angle(ax, 0.0, 1.0, 0.0, &lo), x);         \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_atan2(double y, double x) {                     \
        if (x != x || y != y)                                                  \
          return tp_xm_nan();                                                  \
        double ax = tp_xm_fabs(x), ay = tp_xm_fabs(y);                         \
        int left = tp_xm_signbit(x);                                           \
        double r;                                                              \
        if (tp_xm_isinf(ax) && tp_xm_isinf(ay)) {                              \
          r = left ? 0x1.2d97c7f3321d2p+1 : 0x1.921fb54442d18p-1;              \
        } else if (tp_xm_isinf(ax)) {                                          \
          r = left ? 0x1.921fb54442d18p+1 : 0.0;                               \
        } else if (tp_xm_isinf(ay) || ax == 0.0) {                             \
          r = ay == 0.0 ? (left ? 0x1.921fb54442d18p+1 : 0.0)                  \
                        : 0x1.921fb54442d18p+0;                                \
        } else if (ay == 0.0) {                                                \
          r = left ? 0x1.921fb54442d18p+1 : 0.0;                               \
        } else {                                                               \
          double al;                                                           \
          double a = tp_xm_angle(ay, 0.0, ax, 0.0, &al);                       \
          if (left) {                                                          \
            double e;                                                          \
            double h = tp_xm_two_sum(0x1.921fb54442d18p+1, -a, &e);            \
            a = h + (e + (0x1.1a62633145c07p-53 - al));                        \
          }                                                                    \
          r = a;                                                               \
        }                                                                      \
        return tp_xm_copysign(r, y);                                           \
      }                                                                        \
                                                                               \
      /* sqrt(1 - x^2) for 0 <= x <= 1 as hi + *lo: (1 - x)(1 + x) as a        \
       * double-double, then its square root with one correction. */           \
      TP_PORTABLE double tp_xm_cosine_of(double x, double *lo) {               \
        double al;                                                             \
        double a = tp_xm_two_sum(1.0, -x, &al);                                \
        double bl;                                                             \
        double b = tp_xm_two_sum(1.0, x, &bl);                                 \
        double dl;                                                             \
        double d = tp_xm_two_prod(a, b, &dl);                                  \
        dl += a * bl + al * b;                                                 \
        double s = sqrt(d);                                                    \
        *lo = (fma(-s, s, d) + dl) / (2.0 * s);                                \
        return s;                                                              \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_asin(double x) {                                \
        double ax = tp_xm_fabs(x);                                             \
        if (!(ax <= 1.0))                                                      \
          return tp_xm_nan();                                                  \
        if (ax < 0x1.0p-27)                                                    \
          return x;                                                            \
        if (ax == 1.0)                                                         \
          return tp_xm_copysign(0x1.921fb54442d18p+0, x);                      \
        double sl;                                                             \
        double s = tp_xm_cosine_of(ax, &sl);                                   \
        double lo;                                                             \
        return tp_xm_copysign(tp_xm_angle(ax, 0.0, s, sl, &lo), x);            \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_xm_acos(double x) {                                \
        double ax = tp_xm_fabs(x);                                             \
        if (!(ax <= 1.0))                                                      \
          return tp_xm_nan();                                                  \
        if (x == 1.0)                                                          \
          return 0.0;                                                          \
        if (x == -1.0)                                                         \
          return 0x1.921fb54442d18p+1;                                         \
        double sl;                                                             \
        double s = tp_xm_cosine_of(ax, &sl);                                   \
        double al;                                                             \
        double a = tp_xm_angle(s, sl, ax, 0.0, &al);                           \
        if (!tp_xm_signbit(x))                                                 \
          return a;                                                            \
        double e;                                                              \
        double h = tp_xm_two_sum(0x1.921fb54442d18p+1, -a, &e);                \
        return h + (e + (0x1.1a62633145c07p-53 - al));                         \
      }                                                                        \
                                                                               \
      /* ---- the value stored in an element (tp_dtype codes): NaN canonical   \
       * (positive quiet), f32 and f64 as their IEEE bits, f16 and bf16        \
       * rounded once (half_float.h), integers truncated toward zero           \
       * (tp_xm_to_int) and wrapped to their width, bool 1 for nonzero.        \
       * Complex types: the real part's bits (the imaginary part is 0). The    \
       * element's bits, low bytes first. */                                   \
      TP_PORTABLE uint64_t tp_xm_store_real(double v, int dtype) {             \
        switch (dtype) {                                                       \
        case 0:                                                                \
        case 2: return v != v ? 0x7FC00000u : tp_bits_of_float((float)v);      \
        case 1:                                                                \
        case 3: return v != v ? 0x7FF8000000000000ull : tp_bits_of(v);         \
        case 6: return tp_f16_from_double(v != v ? tp_xm_nan() : v);           \
        case 7: return tp_bf16_from_double(v != v ? tp_xm_nan() : v);          \
        case 10: return v != 0.0;                                              \
        default: return (uint64_t)tp_xm_to_int(v);                             \
        }                                                                      \
      }                                                                        \
                                                                               \
      TP_PORTABLE uint64_t tp_xm_store_int(int64_t v, int dtype) {             \
        switch (dtype) {                                                       \
        case 4:                                                                \
        case 5:                                                                \
        case 8:                                                                \
        case 9: return (uint64_t)v;                                            \
        case 10: return v != 0;                                                \
        default: return tp_xm_store_real((double)v, dtype);                    \
        }                                                                      \
      })

TP_EXPRESSION_MATH_CODE(TP_PORTABLE_EMIT)

/* The same code as text, for the NVRTC expression kernels. */
#define TP_EXPRESSION_MATH_TEXT TP_EXPRESSION_MATH_CODE(TP_PORTABLE_TEXT)

#endif
