/* Generators: index-based fills. The value of every element depends only on
 * the generator and the element's global index (its linear index in the
 * row-major tensor and its multi-index), never on the tiling, the number of
 * ranks or the backend, so every way of building a tensor gives the same
 * bits. The per-element functions live in src/tensor/generator_math.h and are
 * shared by the host loops and the CUDA kernels.
 *
 * What each generator gives, per element type:
 *
 *   ARANGE   v = start + step * linear.
 *            f64: in double. f32: computed in double, rounded once to float.
 *            c64/c128: the real part as f32/f64, imaginary part 0.
 *            i64: start + step * linear in int64 arithmetic, wrapping modulo
 *            2^64; i32: the same, then truncated to the low 32 bits (two's
 *            complement). Integer types need integral start and step.
 *   AFFINE   v = offset + sum_k coeff[k] * index[k], summed in axis order,
 *            with the same per-type rules as ARANGE.
 *   IDENTITY v = diagonal where all indices are equal (every element of a
 *            0-d or 1-d tensor), 0 elsewhere; complex: imaginary 0.
 *   UNIFORM  Philox-4x32-10 with key = seed and counter = (linear, 0) gives
 *            four 32-bit words w0..w3 per element.
 *            f64: u = (w0:w1 >> 11) * 2^-53 in [0,1); v = lo + (hi-lo)*u,
 *            and the largest double below hi if rounding reached hi.
 *            f32: the same in double, rounded once to float (and below hi).
 *            c64/c128: real from w0:w1, imaginary from w2:w3, each as above.
 *            i32/i64: v = lo + (w0:w1 mod (hi-lo)) in [lo, hi); integral
 *            lo < hi required (the modulo bias is below (hi-lo)/2^64).
 *   NORMAL   Box-Muller on the same words: u1 = (1 + (w0:w1 >> 11)) * 2^-53
 *            in (0,1], u2 = (w2:w3 >> 11) * 2^-53 in [0,1),
 *            r = sqrt(-2 log u1), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2);
 *            v = mean + stddev * z0; complex: real from z0, imaginary from
 *            z1 (each part N(mean, stddev^2)). log, sin and cos are the
 *            library's own (fma polynomials, within 2 ulp of the exact
 *            value), so host and device agree bit for bit. Not for integers.
 *
 * The newer element types (tensorpool/layout.h):
 *   f16, bf16  the f64 value of every generator, rounded once to nearest
 *              even (as f32 is from the double); UNIFORM keeps the values
 *              below hi in the type, and needs lo and hi to round to finite
 *              values with lo < hi there.
 *   i8, u8     the int64 value of the integer rules above, wrapped to its
 *              low 8 bits (two's complement for i8).
 *   bool       1 where that int64 value is nonzero, else 0 (so arange(0, 1)
 *              gives 0, 1, 1, ..., identity(1) the identity matrix and
 *              uniform(seed, 0, 2) fair coin flips).
 *   For these three the values (start, offset, diagonal, lo, hi - 1) must
 *   lie in the type's range (i8: -128..127, u8: 0..255, bool: 0..1) and
 *   steps and coefficients within +-128 (i8), +-255 (u8) or +-1 (bool).
 *
 * Everything here is host computation on values: no stream, never
 * collective, never blocks, any thread.
 */
#ifndef TENSORPOOL_GENERATOR_H
#define TENSORPOOL_GENERATOR_H

#include <stdint.h>

#include "tensorpool/layout.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef enum tp_generator_kind {
  TP_GENERATOR_ARANGE = 0,
  TP_GENERATOR_AFFINE = 1,
  TP_GENERATOR_IDENTITY = 2,
  TP_GENERATOR_UNIFORM = 3,
  TP_GENERATOR_NORMAL = 4
} tp_generator_kind;

/* A tagged description; build it with the helpers below. */
typedef struct tp_generator {
  tp_generator_kind kind;
  union {
    struct {
      double start, step;
    } arange;
    struct {
      double offset;
      double coeff[TP_MAX_NDIM];
    } affine;
    struct {
      double diagonal;
    } identity;
    struct {
      double lo, hi;
      uint64_t seed;
    } uniform;
    struct {
      double mean, stddev;
      uint64_t seed;
    } normal;
    /* Room for the parameters of later kinds: the union's size (128 bytes)
     * is part of the 1.x ABI. The constructors zero it. */
    uint64_t reserved[16];
  } p;
} tp_generator;

/* Constructors (pure, any thread): the generator with the given
 * parameters, checked only when used (tp_generator_check). */
tp_generator tp_generator_arange(double start, double step);
/* `coeff` holds `ndim` coefficients (NULL: all 0). */
tp_generator tp_generator_affine(double offset, int ndim, const double *coeff);
tp_generator tp_generator_identity(double diagonal);
tp_generator tp_generator_uniform(uint64_t seed, double lo, double hi);
tp_generator tp_generator_normal(uint64_t seed, double mean, double stddev);

/* Whether `gen` can fill a tensor of `layout`: a known kind, finite
 * parameters, lo < hi, stddev >= 0, no NORMAL for integers, and for integer
 * types every parameter an integer the type holds (i32: -2^31 .. 2^31-1;
 * uniform's exclusive hi may be one past the largest value), since an
 * arange from 1e10 would otherwise fill an i32 tensor with wrapped values.
 * TP_ERR_INVALID_ARGUMENT with the reason otherwise. Pure; any thread. */
tp_status tp_generator_check(const tp_generator *gen, const tp_layout *layout);

/* "arange", "affine", "identity", "uniform", "normal" or "invalid" (pure),
 * named for its enum as tp_space_kind_name and tp_buffer_kind_name are. */
const char *tp_generator_kind_name(tp_generator_kind kind);

TP_END_DECLS

#endif
