/* out = alpha x + beta y, one element per thread iteration (grid-stride).
 * Each element is read before it is written, by the same thread, so out
 * may alias x or y. */
#include <stdint.h>
#include <string.h>

#include "axpby.h"
#include "launch_grid.h"
#include "tensor/half_float.h"

namespace {

template <typename T> struct real_op {
  __device__ static T apply(T a, T x, T b, T y) { return a * x + b * y; }
};

/* Integers in unsigned arithmetic, so that they wrap. */
template <typename T, typename U> struct integer_op {
  __device__ static T apply(T a, T x, T b, T y) {
    U v = (U)a * (U)x + (U)b * (U)y;
    T r;
    memcpy(&r, &v, sizeof r);
    return r;
  }
};

/* f16 (BF = false) and bf16 bits: in double from the exact values, rounded
 * once, as src/host/host_axpby.c does. */
template <bool BF> struct half_op {
  __device__ static double value(uint16_t h) {
    return BF ? tp_bf16_to_double(h) : tp_f16_to_double(h);
  }
  __device__ static uint16_t apply(uint16_t a, uint16_t x, uint16_t b,
                                   uint16_t y) {
    double v = value(a) * value(x) + value(b) * value(y);
    return BF ? tp_bf16_from_double(v) : tp_f16_from_double(v);
  }
};

/* (alpha and x) or (beta and y), nonzero bytes being true. */
struct bool_op {
  __device__ static uint8_t apply(uint8_t a, uint8_t x, uint8_t b, uint8_t y) {
    return (a && x) || (b && y);
  }
};

template <typename T, typename Op>
__global__ void axpby_kernel(size_t n, T a, const T *x, T b, const T *y,
                             T *out) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += stride)
    out[i] = Op::apply(a, x[i], b, y[i]);
}

/* Complex (re, im) pairs with complex products, as on the host. */
template <typename R>
__global__ void axpby_complex_kernel(size_t n, R ar, R ai, const R *x, R br,
                                     R bi, const R *y, R *out) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    R xr = x[2 * i], xi = x[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];
    out[2 * i] = (ar * xr - ai * xi) + (br * yr - bi * yi);
    out[2 * i + 1] = (ar * xi + ai * xr) + (br * yi + bi * yr);
  }
}

template <typename T, typename Op>
cudaError_t launch_real(size_t n, const void *alpha, const void *x,
                        const void *beta, const void *y, void *out,
                        cudaStream_t stream) {
  T a, b;
  memcpy(&a, alpha, sizeof a);
  memcpy(&b, beta, sizeof b);
  unsigned blocks = 1;
  cudaError_t err = tp_fill_blocks(n, &blocks);
  if (err != cudaSuccess)
    return err;
  axpby_kernel<T, Op><<<blocks, TP_FILL_THREADS, 0, stream>>>(
      n, a, static_cast<const T *>(x), b, static_cast<const T *>(y),
      static_cast<T *>(out));
  return cudaGetLastError();
}

template <typename R>
cudaError_t launch_complex(size_t n, const void *alpha, const void *x,
                           const void *beta, const void *y, void *out,
                           cudaStream_t stream) {
  R a[2], b[2];
  memcpy(a, alpha, sizeof a);
  memcpy(b, beta, sizeof b);
  unsigned blocks = 1;
  cudaError_t err = tp_fill_blocks(n, &blocks);
  if (err != cudaSuccess)
    return err;
  axpby_complex_kernel<R><<<blocks, TP_FILL_THREADS, 0, stream>>>(
      n, a[0], a[1], static_cast<const R *>(x), b[0], b[1],
      static_cast<const R *>(y), static_cast<R *>(out));
  return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t tp_kernel_axpby(tp_dtype dtype, size_t count,
                                       const void *alpha, const void *x,
                                       const void *beta, const void *y,
                                       void *out, cudaStream_t stream) {
  if (count == 0)
    return cudaSuccess;
  switch (dtype) {
  case TP_DTYPE_F32:
    return launch_real<float, real_op<float>>(count, alpha, x, beta, y, out,
                                              stream);
  case TP_DTYPE_F64:
    return launch_real<double, real_op<double>>(count, alpha, x, beta, y, out,
                                                stream);
  case TP_DTYPE_C64:
    return launch_complex<float>(count, alpha, x, beta, y, out, stream);
  case TP_DTYPE_C128:
    return launch_complex<double>(count, alpha, x, beta, y, out, stream);
  case TP_DTYPE_I32:
    return launch_real<int32_t, integer_op<int32_t, uint32_t>>(
        count, alpha, x, beta, y, out, stream);
  case TP_DTYPE_I64:
    return launch_real<int64_t, integer_op<int64_t, uint64_t>>(
        count, alpha, x, beta, y, out, stream);
  case TP_DTYPE_F16:
    return launch_real<uint16_t, half_op<false>>(count, alpha, x, beta, y, out,
                                                 stream);
  case TP_DTYPE_BF16:
    return launch_real<uint16_t, half_op<true>>(count, alpha, x, beta, y, out,
                                                stream);
  case TP_DTYPE_I8: /* the same bits as u8: two's complement wraps alike */
  case TP_DTYPE_U8:
    return launch_real<uint8_t, integer_op<uint8_t, uint8_t>>(
        count, alpha, x, beta, y, out, stream);
  case TP_DTYPE_BOOL:
    return launch_real<uint8_t, bool_op>(count, alpha, x, beta, y, out, stream);
  }
  return cudaErrorInvalidValue;
}
