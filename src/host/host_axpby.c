/* out = alpha x + beta y on the host, per element type. Integers are
 * computed in unsigned arithmetic so that they wrap instead of overflowing
 * (undefined for signed types). f16 and bf16 are computed in double from
 * the exact values and rounded once (tensor/half_float.h), the same
 * operations in the same order as kernels/axpby.cu. bool is
 * (alpha and x) or (beta and y), each nonzero byte being true. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "host/host_kernels.h"
#include "tensor/half_float.h"

static void axpby_f32(size_t n, float a, const float *x, float b,
                      const float *y, float *out) {
  for (size_t i = 0; i < n; ++i)
    out[i] = a * x[i] + b * y[i];
}

static void axpby_f64(size_t n, double a, const double *x, double b,
                      const double *y, double *out) {
  for (size_t i = 0; i < n; ++i)
    out[i] = a * x[i] + b * y[i];
}

/* Complex numbers as (re, im) pairs: (a x + b y) with complex products. */
static void axpby_c64(size_t n, const float *a, const float *x, const float *b,
                      const float *y, float *out) {
  for (size_t i = 0; i < n; ++i) {
    float xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];
    out[2 * i] = (a[0] * xr - a[1] * xi) + (b[0] * yr - b[1] * yi);
    out[2 * i + 1] = (a[0] * xi + a[1] * xr) + (b[0] * yi + b[1] * yr);
  }
}

static void axpby_c128(size_t n, const double *a, const double *x,
                       const double *b, const double *y, double *out) {
  for (size_t i = 0; i < n; ++i) {
    double xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];
    out[2 * i] = (a[0] * xr - a[1] * xi) + (b[0] * yr - b[1] * yi);
    out[2 * i + 1] = (a[0] * xi + a[1] * xr) + (b[0] * yi + b[1] * yr);
  }
}

static void axpby_i32(size_t n, uint32_t a, const int32_t *x, uint32_t b,
                      const int32_t *y, int32_t *out) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t v = a * (uint32_t)x[i] + b * (uint32_t)y[i];
    memcpy(&out[i], &v, sizeof v);
  }
}

static void axpby_i64(size_t n, uint64_t a, const int64_t *x, uint64_t b,
                      const int64_t *y, int64_t *out) {
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = a * (uint64_t)x[i] + b * (uint64_t)y[i];
    memcpy(&out[i], &v, sizeof v);
  }
}

static void axpby_half(size_t n, uint16_t a, const uint16_t *x, uint16_t b,
                       const uint16_t *y, uint16_t *out, int bf) {
  double da = bf ? tp_bf16_to_double(a) : tp_f16_to_double(a);
  double db = bf ? tp_bf16_to_double(b) : tp_f16_to_double(b);
  for (size_t i = 0; i < n; ++i) {
    double dx = bf ? tp_bf16_to_double(x[i]) : tp_f16_to_double(x[i]);
    double dy = bf ? tp_bf16_to_double(y[i]) : tp_f16_to_double(y[i]);
    double v = da * dx + db * dy;
    out[i] = bf ? tp_bf16_from_double(v) : tp_f16_from_double(v);
  }
}

static void axpby_u8(size_t n, uint8_t a, const uint8_t *x, uint8_t b,
                     const uint8_t *y, uint8_t *out) {
  for (size_t i = 0; i < n; ++i)
    out[i] = (uint8_t)((unsigned)a * x[i] + (unsigned)b * y[i]);
}

static void axpby_bool(size_t n, uint8_t a, const uint8_t *x, uint8_t b,
                       const uint8_t *y, uint8_t *out) {
  for (size_t i = 0; i < n; ++i)
    out[i] = (a && x[i]) || (b && y[i]);
}

tp_status tp_host_axpby(tp_backend *backend, tp_dtype dtype, size_t count,
                        const void *alpha, const void *x, const void *beta,
                        const void *y, void *out, tp_stream stream) {
  (void)backend;
  (void)stream;
  if (count == 0)
    return TP_SUCCESS;
  if (!alpha || !x || !beta || !y || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_host_axpby: NULL operand");
  switch (dtype) {
  case TP_DTYPE_F32: {
    float a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_f32(count, a, x, b, y, out);
    return TP_SUCCESS;
  }
  case TP_DTYPE_F64: {
    double a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_f64(count, a, x, b, y, out);
    return TP_SUCCESS;
  }
  case TP_DTYPE_C64:
    axpby_c64(count, alpha, x, beta, y, out);
    return TP_SUCCESS;
  case TP_DTYPE_C128:
    axpby_c128(count, alpha, x, beta, y, out);
    return TP_SUCCESS;
  case TP_DTYPE_I32: {
    int32_t a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_i32(count, (uint32_t)a, x, (uint32_t)b, y, out);
    return TP_SUCCESS;
  }
  case TP_DTYPE_I64: {
    int64_t a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_i64(count, (uint64_t)a, x, (uint64_t)b, y, out);
    return TP_SUCCESS;
  }
  case TP_DTYPE_F16:
  case TP_DTYPE_BF16: {
    uint16_t a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_half(count, a, x, b, y, out, dtype == TP_DTYPE_BF16);
    return TP_SUCCESS;
  }
  case TP_DTYPE_I8: /* the same bits as u8: two's complement wraps alike */
  case TP_DTYPE_U8: {
    uint8_t a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_u8(count, a, x, b, y, out);
    return TP_SUCCESS;
  }
  case TP_DTYPE_BOOL: {
    uint8_t a, b;
    memcpy(&a, alpha, sizeof a);
    memcpy(&b, beta, sizeof b);
    axpby_bool(count, a, x, b, y, out);
    return TP_SUCCESS;
  }
  }
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_host_axpby: unknown element type %d", (int)dtype);
}
