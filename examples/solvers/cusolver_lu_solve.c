/* An LU solve with cuSOLVER on tensorpool device buffers.
 *
 * The system is built on the device by the library's generators
 * (A = U(-1, 1) + n I, b = U(-1, 1)); cuSOLVER runs on a stream of the
 * runtime's device, and its workspace, pivots and info word are blocks of
 * the device pool taken on that stream and given back on it (no host wait
 * before reuse). The residual |A x - b| is checked on the host, from copies
 * made by the library's conversions. Exits 77 without a GPU. */
#include <cusolverDn.h>
#include <float.h>
#include <math.h>

#include "device_common.h"
#include "tensorpool/device.h"
#include "tensorpool/ops.h"

#define CHECK_CUSOLVER(call)                                                   \
  do {                                                                         \
    cusolverStatus_t s_ = (call);                                              \
    if (s_ != CUSOLVER_STATUS_SUCCESS) {                                       \
      fprintf(stderr, "%s failed: cuSOLVER status %d\n", #call, (int)s_);      \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

enum { N = 1024 };

int main(void) {
  tp_runtime *rt;
  CHECK(tp_runtime_create(NULL, &rt));
  tp_allocator *device = device_allocator_or_skip(rt, "cusolver_lu_solve");
  tp_allocator *host;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &host));
  int dev = tp_runtime_device(rt);
  tp_stream stream;
  CHECK(tp_device_stream_create(dev, &stream));

  tp_layout square, vector;
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, (int64_t[]){N, N}, &square));
  CHECK(tp_layout_make(TP_DTYPE_F64, 1, (int64_t[]){N}, &vector));
  tp_generator noise = tp_generator_uniform(7, -1.0, 1.0);
  tp_generator eye = tp_generator_identity(1.0);
  tp_generator rhs = tp_generator_uniform(8, -1.0, 1.0);
  tp_buffer *u, *id, *a, *b, *lu, *x;
  CHECK(tp_allocator_construct_generator(device, &square, NULL, &noise, stream,
                                         &u));
  CHECK(tp_allocator_construct_generator(device, &square, NULL, &eye, stream,
                                         &id));
  CHECK(tp_allocator_construct_generator(device, &vector, NULL, &rhs, stream,
                                         &b));
  CHECK(tp_axpby(tp_scalar_real(1.0), u, tp_scalar_real(N), id, stream, &a));
  CHECK(tp_buffer_clone(a, stream, &lu)); /* getrf overwrites it */
  CHECK(tp_buffer_clone(b, stream, &x));  /* getrs overwrites it */

  cusolverDnHandle_t solver;
  CHECK_CUSOLVER(cusolverDnCreate(&solver));
  CHECK_CUSOLVER(cusolverDnSetStream(solver, stream));
  int lwork = 0;
  CHECK_CUSOLVER(
      cusolverDnDgetrf_bufferSize(solver, N, N, tp_buffer_data(lu), N, &lwork));
  tp_pool *pool;
  CHECK(tp_runtime_pool(rt, TP_SPACE_DEVICE, &pool));
  double *work;
  int *ipiv, *info;
  CHECK(tp_pool_alloc(pool, (size_t)lwork * sizeof *work, stream,
                      (void **)&work));
  CHECK(tp_pool_alloc(pool, N * sizeof *ipiv, stream, (void **)&ipiv));
  CHECK(tp_pool_alloc(pool, sizeof *info, stream, (void **)&info));

  /* cuSOLVER is column-major: it sees our row-major A as A^T. Factor that,
   * then solve with its transpose, which is A. */
  CHECK_CUSOLVER(
      cusolverDnDgetrf(solver, N, N, tp_buffer_data(lu), N, work, ipiv, info));
  CHECK_CUSOLVER(cusolverDnDgetrs(solver, CUBLAS_OP_T, N, 1, tp_buffer_data(lu),
                                  N, ipiv, tp_buffer_data(x), N, info));
  int info_host = -1;
  CHECK(tp_device_memcpy(dev, &info_host, info, sizeof info_host, stream));
  /* The workspace goes back to the pool ordered after the solve. */
  CHECK(tp_pool_free(pool, work, stream));
  CHECK(tp_pool_free(pool, ipiv, stream));
  CHECK(tp_pool_free(pool, info, stream));

  /* Host copies through the library's conversions, then the residual. */
  tp_buffer *ha, *hb, *hx;
  CHECK(tp_allocator_construct_copy(host, a, NULL, stream, &ha));
  CHECK(tp_allocator_construct_copy(host, b, NULL, stream, &hb));
  CHECK(tp_allocator_construct_copy(host, x, NULL, stream, &hx));
  CHECK(tp_device_stream_synchronize(dev, stream));
  if (info_host != 0) {
    fprintf(stderr, "cuSOLVER: info %d\n", info_host);
    return 1;
  }
  const double *av = tp_buffer_data(ha), *bv = tp_buffer_data(hb),
               *xv = tp_buffer_data(hx);
  double residual = 0.0, norm_a = 0.0, norm_x = 0.0;
  for (int i = 0; i < N; ++i) {
    double r = -bv[i], row = 0.0;
    for (int j = 0; j < N; ++j) {
      r += av[(size_t)i * N + j] * xv[j];
      row += fabs(av[(size_t)i * N + j]);
    }
    residual = fmax(residual, fabs(r));
    norm_a = fmax(norm_a, row);
    norm_x = fmax(norm_x, fabs(xv[i]));
  }
  double scaled = residual / (norm_a * norm_x * N * DBL_EPSILON);
  printf("cuSOLVER LU solve on device %d, n = %d, workspace %d doubles from "
         "the pool: |Ax - b| = %.3g, scaled residual %.3g\n",
         dev, N, lwork, residual, scaled);

  CHECK_CUSOLVER(cusolverDnDestroy(solver));
  tp_buffer *all[] = {u, id, a, b, lu, x, ha, hb, hx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    CHECK(tp_buffer_destroy(all[i]));
  CHECK(tp_device_stream_destroy(dev, stream));
  CHECK(tp_runtime_destroy(rt));
  return scaled < 10.0 ? 0 : 1;
}
