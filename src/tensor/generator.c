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

const char *tp_generator_kind_name(tp_generator_kind kind) {
  switch (kind) {
  case TP_GENERATOR_ARANGE: return "arange";
  case TP_GENERATOR_AFFINE: return "affine";
  case TP_GENERATOR_IDENTITY: return "identity";
  case TP_GENERATOR_UNIFORM: return "uniform";
  case TP_GENERATOR_NORMAL: return "normal";
  }
  return "invalid";
}

/* The values an integer element type holds: [lo, hi_excl) as doubles (both
 * powers of two, so exact) and [min, max] for messages. Returns 0 for a
 * floating type. */
typedef struct int_range {
  double lo, hi_excl;
  long long min, max;
} int_range;

static int integer_range(tp_dtype dtype, int_range *out) {
  switch (dtype) {
  case TP_DTYPE_I32:
    *out = (int_range){-0x1.0p31, 0x1.0p31, INT32_MIN, INT32_MAX};
    return 1;
  case TP_DTYPE_I64:
    *out = (int_range){-0x1.0p63, 0x1.0p63, INT64_MIN, INT64_MAX};
    return 1;
  case TP_DTYPE_I8: *out = (int_range){-0x1.0p7, 0x1.0p7, -128, 127}; return 1;
  case TP_DTYPE_U8: *out = (int_range){0.0, 0x1.0p8, 0, 255}; return 1;
  case TP_DTYPE_BOOL: *out = (int_range){0.0, 2.0, 0, 1}; return 1;
  default: return 0;
  }
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

static int is_integer_dtype(tp_dtype dtype) {
  int_range r;
  return integer_range(dtype, &r);
}

/* Integer generators take their parameters as values of the element type
 * (the header promises they fit): integral doubles in the type's range, so
 * the conversion in generator_math.h is defined and nothing wraps before
 * the documented arithmetic. */
static tp_status check_integral(const char *kind, const char *what, double v,
                                tp_dtype dtype) {
  int_range r;
  integer_range(dtype, &r);
  /* The 8-bit types' ranges were checked by check_small_integer, whose
   * steps may be negative even for u8; here they need only be integral. */
  int ranged = !is_small_integer_dtype(dtype);
  if (!(v == floor(v)) || (ranged && (v < r.lo || v >= r.hi_excl)))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: %s %s = %.17g must be an integer in "
                   "%lld..%lld for %s",
                   kind, what, v, r.min, r.max, tp_dtype_name(dtype));
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
                                 tp_dtype dtype) {
  tp_status st = check_finite(kind, what, v);
  if (st == TP_SUCCESS && is_integer_dtype(dtype))
    st = check_integral(kind, what, v, dtype);
  return st;
}

static tp_status check_uniform(const tp_generator *gen, tp_dtype dtype) {
  double lo = gen->p.uniform.lo, hi = gen->p.uniform.hi;
  tp_status st = check_finite("uniform", "lo", lo);
  if (st == TP_SUCCESS)
    st = check_finite("uniform", "hi", hi);
  if (st != TP_SUCCESS)
    return st;
  int_range r;
  if (integer_range(dtype, &r) &&
      (lo != floor(lo) || hi != floor(hi) || lo < r.lo || hi > r.hi_excl))
    /* hi is exclusive: it may be one past the type's largest value. */
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_generator_check: uniform [%.17g, %.17g) needs integral "
                   "bounds with lo >= %lld and hi <= %lld + 1 for %s",
                   lo, hi, r.min, r.max, tp_dtype_name(dtype));
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
  tp_dtype dtype = layout->dtype;
  int integral = is_integer_dtype(dtype);
  tp_status st = TP_SUCCESS;
  if (is_small_integer_dtype(layout->dtype) &&
      (st = check_small_integer(gen, layout->dtype)) != TP_SUCCESS)
    return st;
  switch (gen->kind) {
  case TP_GENERATOR_ARANGE:
    st = check_parameter("arange", "start", gen->p.arange.start, dtype);
    if (st == TP_SUCCESS)
      st = check_parameter("arange", "step", gen->p.arange.step, dtype);
    return st;
  case TP_GENERATOR_AFFINE:
    st = check_parameter("affine", "offset", gen->p.affine.offset, dtype);
    for (int k = 0; st == TP_SUCCESS && k < TP_MAX_NDIM; ++k)
      st = check_parameter("affine", "coefficient", gen->p.affine.coeff[k],
                           dtype);
    return st;
  case TP_GENERATOR_IDENTITY:
    return check_parameter("identity", "diagonal", gen->p.identity.diagonal,
                           dtype);
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
