/* Internal: the 16-bit floating types f16 (IEEE 754 binary16) and bf16
 * (bfloat16: the top half of a binary32), as bit patterns, converted from
 * and to double with integer operations only, so that the host, the CUDA
 * kernels and the NVRTC expression kernels give the same bits (no reliance
 * on a compiler's half types or on a hardware conversion's rounding).
 *
 * From double: round to nearest, ties to even, in one step (no intermediate
 * float, so no double rounding); a magnitude at or above the largest finite
 * value plus half an ulp becomes infinity; results below the smallest
 * normal are rounded as subnormals (gradual underflow), down to signed zero;
 * NaN becomes the quiet NaN with the sign kept (f16 0x7E00, bf16 0x7FC0),
 * its payload dropped. To double: exact.
 *
 * The code is portable code (tensor/portable_code.h): TP_HALF_FLOAT_CODE
 * expands to it, TP_HALF_FLOAT_TEXT is the same as a string for NVRTC. */
#ifndef TP_TENSOR_HALF_FLOAT_H
#define TP_TENSOR_HALF_FLOAT_H

#include "tensor/portable_code.h"

/* tp_half_round(x, frac, bias): one 16-bit format with `frac` fraction bits,
 * exponent bias `bias` and an exponent field of 16 - 1 - frac bits.
 * Normal results: q holds the implicit bit, so adding (field - 1) << frac
 * gives the right field, also when rounding carried into the next binade.
 * Subnormal results: q is the whole pattern (q = 1 << frac is the smallest
 * normal). */
#define TP_HALF_FLOAT_CODE(EMIT)                                               \
  EMIT(                                                                        \
      TP_PORTABLE uint16_t tp_half_round(double x, int frac, int bias) {       \
        uint64_t b = tp_bits_of(x);                                            \
        uint16_t sign = (uint16_t)((b >> 48) & 0x8000u);                       \
        int e = (int)((b >> 52) & 0x7FF);                                      \
        uint64_t m = b & 0x000FFFFFFFFFFFFFull;                                \
        int max_field = (1 << (15 - frac)) - 1;                                \
        uint16_t inf = (uint16_t)(sign | (max_field << frac));                 \
        if (e == 0x7FF)                                                        \
          return m ? (uint16_t)(inf | (1u << (frac - 1))) : inf;               \
        if (e == 0)                                                            \
          return sign;                                                         \
        uint64_t sig = m | (1ull << 52);                                       \
        int field = e - 1023 + bias;                                           \
        if (field >= max_field)                                                \
          return inf;                                                          \
        int shift = 52 - frac + (field < 1 ? 1 - field : 0);                   \
        if (shift > 53)                                                        \
          return sign;                                                         \
        uint64_t q = sig >> shift;                                             \
        uint64_t rest = sig & ((1ull << shift) - 1);                           \
        uint64_t half = 1ull << (shift - 1);                                   \
        if (rest > half || (rest == half && (q & 1)))                          \
          ++q;                                                                 \
        uint64_t bits = field >= 1 ? ((uint64_t)(field - 1) << frac) + q : q;  \
        if (bits >= ((uint64_t)max_field << frac))                             \
          return inf;                                                          \
        return (uint16_t)(sign | bits);                                        \
      }                                                                        \
                                                                               \
      TP_PORTABLE double tp_half_value(uint16_t h, int frac, int bias) {       \
        int max_field = (1 << (15 - frac)) - 1;                                \
        int field = (h >> frac) & max_field;                                   \
        uint64_t f = h & ((1u << frac) - 1);                                   \
        uint64_t b = (uint64_t)(h & 0x8000u) << 48;                            \
        if (field == max_field) {                                              \
          b |= 0x7FF0000000000000ull | (f << (52 - frac));                     \
        } else if (field != 0) {                                               \
          b |= ((uint64_t)(field - bias + 1023) << 52) | (f << (52 - frac));   \
        } else if (f != 0) {                                                   \
          int e = 1 - bias - frac;                                             \
          while (!(f & (1ull << frac))) {                                      \
            f <<= 1;                                                           \
            --e;                                                               \
          }                                                                    \
          b |= ((uint64_t)(e + frac + 1023) << 52) |                           \
               ((f & ((1ull << frac) - 1)) << (52 - frac));                    \
        }                                                                      \
        return tp_double_of(b);                                                \
      }                                                                        \
                                                                               \
      TP_PORTABLE uint16_t tp_f16_from_double(double x) {                      \
        return tp_half_round(x, 10, 15);                                       \
      } TP_PORTABLE uint16_t tp_bf16_from_double(double x) {                   \
        return tp_half_round(x, 7, 127);                                       \
      } TP_PORTABLE double tp_f16_to_double(uint16_t h) {                      \
        return tp_half_value(h, 10, 15);                                       \
      } TP_PORTABLE double tp_bf16_to_double(uint16_t h) {                     \
        return tp_half_value(h, 7, 127);                                       \
      }                                                                        \
                                                                               \
      TP_PORTABLE uint16_t tp_half_below(uint16_t h) {                         \
        if (h == 0x0000u || h == 0x8000u)                                      \
          return 0x8001u;                                                      \
        return (h & 0x8000u) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);          \
      })

TP_HALF_FLOAT_CODE(TP_PORTABLE_EMIT)

/* The same code as text, for the NVRTC expression kernels. */
#define TP_HALF_FLOAT_TEXT TP_HALF_FLOAT_CODE(TP_PORTABLE_TEXT)

/* tp_half_below(h): the largest value of the format below the finite value
 * whose bits are h (-smallest subnormal below a zero). */

#endif
