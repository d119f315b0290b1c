#include <math.h>
#include <string.h>

#include "core/error.h"
#include "tensor/half_float.h"
#include "tensorpool/layout.h"

tp_scalar tp_scalar_real(double value) {
  tp_scalar s = {value, 0.0, 0, 0};
  return s;
}

tp_scalar tp_scalar_complex(double re, double im) {
  tp_scalar s = {re, im, 0, 0};
  return s;
}

tp_scalar tp_scalar_int(int64_t value) {
  tp_scalar s = {(double)value, 0.0, value, 1};
  return s;
}

/* The range of an integer element type. */
static void integer_range(tp_dtype dtype, int64_t *lo, int64_t *hi) {
  switch (dtype) {
  case TP_DTYPE_I32: *lo = INT32_MIN, *hi = INT32_MAX; return;
  case TP_DTYPE_I8: *lo = INT8_MIN, *hi = INT8_MAX; return;
  case TP_DTYPE_U8: *lo = 0, *hi = UINT8_MAX; return;
  default: *lo = INT64_MIN, *hi = INT64_MAX; return;
  }
}

/* The scalar as an integer of `dtype` if it is exactly one. */
static tp_status scalar_integer(tp_scalar value, tp_dtype dtype, int64_t *out) {
  if (value.integral) {
    *out = value.i;
  } else if (value.im != 0.0 || !(value.re == floor(value.re)) ||
             value.re < -0x1.0p63 || value.re >= 0x1.0p63) {
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_scalar_store: %g%+gi is not an integer for %s", value.re,
                   value.im, tp_dtype_name(dtype));
  } else {
    *out = (int64_t)value.re;
  }
  int64_t lo, hi;
  integer_range(dtype, &lo, &hi);
  if (*out < lo || *out > hi)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_scalar_store: %lld does not fit %s (%lld..%lld)",
                   (long long)*out, tp_dtype_name(dtype), (long long)lo,
                   (long long)hi);
  return TP_SUCCESS;
}

static int is_real_dtype(tp_dtype dtype) {
  return dtype == TP_DTYPE_F32 || dtype == TP_DTYPE_F64 ||
         dtype == TP_DTYPE_F16 || dtype == TP_DTYPE_BF16 ||
         dtype == TP_DTYPE_BOOL;
}

tp_status tp_scalar_store(tp_scalar value, tp_dtype dtype, void *dst) {
  if (!dst)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_scalar_store: NULL dst");
  double re = value.integral ? (double)value.i : value.re;
  if (is_real_dtype(dtype) && value.im != 0.0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_scalar_store: %g%+gi has an imaginary part; %s is real",
                   value.re, value.im, tp_dtype_name(dtype));
  switch (dtype) {
  case TP_DTYPE_F32: {
    float v = (float)re;
    memcpy(dst, &v, sizeof v);
    return TP_SUCCESS;
  }
  case TP_DTYPE_F64: memcpy(dst, &re, sizeof re); return TP_SUCCESS;
  case TP_DTYPE_C64: {
    float v[2] = {(float)re, (float)value.im};
    memcpy(dst, v, sizeof v);
    return TP_SUCCESS;
  }
  case TP_DTYPE_C128: {
    double v[2] = {re, value.im};
    memcpy(dst, v, sizeof v);
    return TP_SUCCESS;
  }
  case TP_DTYPE_F16:
  case TP_DTYPE_BF16: {
    uint16_t v = dtype == TP_DTYPE_F16 ? tp_f16_from_double(re)
                                       : tp_bf16_from_double(re);
    memcpy(dst, &v, sizeof v);
    return TP_SUCCESS;
  }
  case TP_DTYPE_BOOL: {
    /* Nonzero is true: an integer scalar by its integer, else by re. */
    uint8_t v = value.integral ? value.i != 0 : value.re != 0.0;
    memcpy(dst, &v, sizeof v);
    return TP_SUCCESS;
  }
  case TP_DTYPE_I32:
  case TP_DTYPE_I64:
  case TP_DTYPE_I8:
  case TP_DTYPE_U8: {
    int64_t v = 0;
    tp_status st = scalar_integer(value, dtype, &v);
    if (st != TP_SUCCESS)
      return st;
    if (dtype == TP_DTYPE_I64) {
      memcpy(dst, &v, sizeof v);
    } else if (dtype == TP_DTYPE_I32) {
      int32_t w = (int32_t)v;
      memcpy(dst, &w, sizeof w);
    } else if (dtype == TP_DTYPE_I8) {
      int8_t w = (int8_t)v;
      memcpy(dst, &w, sizeof w);
    } else {
      uint8_t w = (uint8_t)v;
      memcpy(dst, &w, sizeof w);
    }
    return TP_SUCCESS;
  }
  }
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_scalar_store: unknown element type %d", (int)dtype);
}
