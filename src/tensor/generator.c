#include "tensorpool/generator.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "tensor/half_float.h"

/* The generator's parameter union is part of the ABI (generator.h). */
_Static_assert(sizeof(((tp_generator *)0)->p) == 128,
               "tp_generator's parameters must stay 128 bytes");

tp_generator tp_generator_arange(double start, double step) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = TP_GENERATOR_ARANGE;
  g.p.arange.start = start;
  g.p.arange.step = step;
  return g;
}

tp_generator tp_generator_affine(double offset, int ndim, const double *coeff) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = TP_GENERATOR_AFFINE;
  g.p.affine.offset = offset;
  for (int k = 0; coeff && k < ndim && k < TP_MAX_NDIM; ++k)
    g.p.affine.coeff[k] = coeff[k];
  return g;
}

tp_generator tp_generator_identity(double diagonal) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = TP_GENERATOR_IDENTITY;
  g.p.identity.diagonal = diagonal;
  return g;
}

tp_generator tp_generator_uniform(uint64_t seed, double lo, double hi) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = TP_GENERATOR_UNIFORM;
  g.p.uniform.lo = lo;
  g.p.uniform.hi = hi;
  g.p.uniform.seed = seed;
  return g;
}

tp_generator tp_generator_normal(uint64_t seed, double mean, double stddev) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = TP_GENERATOR_NORMAL;
  g.p.normal.mean = mean;
  g.p.normal.stddev = stddev;
  g.p.normal.seed = seed;
  return g;
}

const char *tp_generator_name(tp_generator_kind kind) {
  switch (kind) {
  case TP_GENERATOR_ARANGE: return "arange";
  case TP_GENERATOR_AFFINE: return "affine";
  case TP_GENERATOR_IDENTITY: return "identity";
  case TP_GENERATOR_UNIFORM: return "uniform";
  case TP_GENERATOR_NORMAL: return "normal";
  }
  return "invalid";
}

static int is_integer_dtype(tp_dtype dtype) {
  return dtype == TP_DTYPE_I32 || dtype == TP_DTYPE_I64 ||
         dtype == TP_DTYPE_I8 || dtype == TP_DTYPE_U8 || dtype == TP_DTYPE_BOOL;
}

/* The 8-bit integer types (i8, u8, bool): values (start, offset, diagonal,
 * lo, hi - 1) must lie in the type's range, steps and coefficients within
 * +-(the type's largest magnitude), so that every parameter means what it
 * says in the type; the elements are then computed in int64 and wrapped
 * (i8, u8) or tested for nonzero (bool). */
static int is_small_integer_dtype(tp_dtype dtype) {
  return dtype == TP_DTYPE_I8 || dtype == TP_DTYPE_U8 || dtype == TP_DTYPE_BOOL;
}

static tp_status check_small(tp_dtype dtype, const char *kind, const char *what,
                             double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: %s %s = %g does not fit %s (%g..%g)",
                   kind, what, v, tp_dtype_name(dtype), lo, hi);
  return TP_SUCCESS;
}

static tp_status check_small_integer(const tp_generator *gen, tp_dtype dtype) {
  double lo = dtype == TP_DTYPE_I8 ? -128.0 : 0.0;
  double hi = dtype == TP_DTYPE_I8 ? 127.0 : dtype == TP_DTYPE_U8 ? 255.0 : 1.0;
  double step = dtype == TP_DTYPE_I8 ? 128.0 : hi; /* largest magnitude */
  tp_status st = TP_SUCCESS;
  switch (gen->kind) {
  case TP_GENERATOR_ARANGE:
    st = check_small(dtype, "arange", "start", gen->p.arange.start, lo, hi);
    if (st == TP_SUCCESS)
      st =
          check_small(dtype, "arange", "step", gen->p.arange.step, -step, step);
    return st;
  case TP_GENERATOR_AFFINE:
    st = check_small(dtype, "affine", "offset", gen->p.affine.offset, lo, hi);
    for (int k = 0; st == TP_SUCCESS && k < TP_MAX_NDIM; ++k)
      st = check_small(dtype, "affine", "coefficient", gen->p.affine.coeff[k],
                       -step, step);
    return st;
  case TP_GENERATOR_IDENTITY:
    return check_small(dtype, "identity", "diagonal", gen->p.identity.diagonal,
                       lo, hi);
  case TP_GENERATOR_UNIFORM:
    st = check_small(dtype, "uniform", "lo", gen->p.uniform.lo, lo, hi);
    if (st == TP_SUCCESS)
      st = check_small(dtype, "uniform", "hi", gen->p.uniform.hi, lo + 1.0,
                       hi + 1.0);
    return st;
  case TP_GENERATOR_NORMAL: break; /* refused for every integer type */
  }
  return TP_SUCCESS;
}

/* Integer generators take their parameters as int64: integral doubles in
 * [-2^63, 2^63), so the conversion in generator_math.h is defined. */
static tp_status check_integral(const char *kind, const char *what, double v) {
  if (!(v == floor(v)) || v < -0x1.0p63 || v >= 0x1.0p63)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: %s %s = %g must be an integer in "
                   "[-2^63, 2^63) for an integer element type",
                   kind, what, v);
  return TP_SUCCESS;
}

static tp_status check_finite(const char *kind, const char *what, double v) {
  if (!isfinite(v))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: %s %s = %g is not finite", kind, what,
                   v);
  return TP_SUCCESS;
}

static tp_status check_parameter(const char *kind, const char *what, double v,
                                 int integral) {
  tp_status st = check_finite(kind, what, v);
  if (st == TP_SUCCESS && integral)
    st = check_integral(kind, what, v);
  return st;
}

static tp_status check_uniform(const tp_generator *gen, tp_dtype dtype) {
  double lo = gen->p.uniform.lo, hi = gen->p.uniform.hi;
  int integral = is_integer_dtype(dtype);
  tp_status st = check_parameter("uniform", "lo", lo, integral);
  if (st == TP_SUCCESS)
    st = check_parameter("uniform", "hi", hi, integral);
  if (st != TP_SUCCESS)
    return st;
  if (!(lo < hi) || !isfinite(hi - lo))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: uniform needs lo < hi with a finite "
                   "width, got [%g, %g)",
                   lo, hi);
  if ((dtype == TP_DTYPE_F32 || dtype == TP_DTYPE_C64) &&
      (!isfinite((float)lo) || !isfinite((float)hi) ||
       !((float)lo < (float)hi)))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: uniform [%g, %g) does not fit %s or "
                   "is empty there",
                   lo, hi, tp_dtype_name(dtype));
  if (dtype == TP_DTYPE_F16 || dtype == TP_DTYPE_BF16) {
    /* In the type's own rounding (half_float.h), as for f32 above. */
    int bf = dtype == TP_DTYPE_BF16;
    double lo16 = bf ? tp_bf16_to_double(tp_bf16_from_double(lo))
                     : tp_f16_to_double(tp_f16_from_double(lo));
    double hi16 = bf ? tp_bf16_to_double(tp_bf16_from_double(hi))
                     : tp_f16_to_double(tp_f16_from_double(hi));
    if (!isfinite(lo16) || !isfinite(hi16) || !(lo16 < hi16))
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_generator_check: uniform [%g, %g) does not fit %s or "
                     "is empty there",
                     lo, hi, tp_dtype_name(dtype));
  }
  if (dtype == TP_DTYPE_I32 && (lo < INT32_MIN || hi > 0x1.0p31))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: uniform [%g, %g) does not fit i32", lo,
                   hi);
  return TP_SUCCESS;
}

tp_status tp_generator_check(const tp_generator *gen, const tp_layout *layout) {
  if (!gen || !layout)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_generator_check: NULL %s",
                   !gen ? "generator" : "layout");
  if (tp_dtype_size(layout->dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: unknown element type %d",
                   (int)layout->dtype);
  int integral = is_integer_dtype(layout->dtype);
  tp_status st = TP_SUCCESS;
  if (is_small_integer_dtype(layout->dtype) &&
      (st = check_small_integer(gen, layout->dtype)) != TP_SUCCESS)
    return st;
  switch (gen->kind) {
  case TP_GENERATOR_ARANGE:
    st = check_parameter("arange", "start", gen->p.arange.start, integral);
    if (st == TP_SUCCESS)
      st = check_parameter("arange", "step", gen->p.arange.step, integral);
    return st;
  case TP_GENERATOR_AFFINE:
    st = check_parameter("affine", "offset", gen->p.affine.offset, integral);
    for (int k = 0; st == TP_SUCCESS && k < TP_MAX_NDIM; ++k)
      st = check_parameter("affine", "coefficient", gen->p.affine.coeff[k],
                           integral);
    return st;
  case TP_GENERATOR_IDENTITY:
    return check_parameter("identity", "diagonal", gen->p.identity.diagonal,
                           integral);
  case TP_GENERATOR_UNIFORM: return check_uniform(gen, layout->dtype);
  case TP_GENERATOR_NORMAL:
    if (integral)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_generator_check: normal cannot fill the integer "
                     "type %s",
                     tp_dtype_name(layout->dtype));
    st = check_finite("normal", "mean", gen->p.normal.mean);
    if (st == TP_SUCCESS)
      st = check_finite("normal", "stddev", gen->p.normal.stddev);
    if (st == TP_SUCCESS && gen->p.normal.stddev < 0.0)
      st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: normal stddev = %g is negative",
                   gen->p.normal.stddev);
    return st;
  }
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_generator_check: unknown generator kind %d",
                 (int)gen->kind);
}
