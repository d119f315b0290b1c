/* A GEMM with cuBLAS on tensorpool device buffers, cuBLAS's workspace taken
 * from the device pool (cublasSetWorkspace) instead of cuBLAS allocating
 * its own.
 *
 * C = A B with A (m x k) and B (k x n) from generators on the device. The
 * generators give the same bits on the host, so the reference is computed
 * on the host from host-generated copies, not from device results. Exits
 * 77 without a GPU. */
#include <cublas_v2.h>
#include <math.h>

#include "device_common.h"
#include "tensorpool/device.h"

#define CHECK_CUBLAS(call)                                                     \
  do {                                                                         \
    cublasStatus_t s_ = (call);                                                \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                         \
      fprintf(stderr, "%s failed: cuBLAS status %d\n", #call, (int)s_);        \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

enum { M = 384, K = 256, NCOLS = 320 };
/* cuBLAS's advice for Hopper: 32 MiB of workspace. */
#define WORKSPACE_BYTES ((size_t)32 << 20)

int main(void) {
  tp_runtime *rt;
  CHECK(tp_runtime_create(NULL, &rt));
  tp_allocator *device = device_allocator_or_skip(rt, "cublas_gemm");
  tp_allocator *host;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &host));
  int dev = tp_runtime_device(rt);
  tp_stream stream;
  CHECK(tp_device_stream_create(dev, &stream));

  tp_layout la, lb, lc;
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, (int64_t[]){M, K}, &la));
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, (int64_t[]){K, NCOLS}, &lb));
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, (int64_t[]){M, NCOLS}, &lc));
  tp_generator ga = tp_generator_uniform(11, -1.0, 1.0);
  tp_generator gb = tp_generator_normal(12, 0.0, 1.0);
  tp_buffer *a, *b, *c, *ha, *hb;
  CHECK(tp_allocator_construct_generator(device, &la, NULL, &ga, stream, &a));
  CHECK(tp_allocator_construct_generator(device, &lb, NULL, &gb, stream, &b));
  CHECK(tp_allocator_allocate(device, &lc, NULL, stream, &c));
  CHECK(tp_allocator_construct_generator(host, &la, NULL, &ga, NULL, &ha));
  CHECK(tp_allocator_construct_generator(host, &lb, NULL, &gb, NULL, &hb));

  cublasHandle_t blas;
  CHECK_CUBLAS(cublasCreate(&blas));
  CHECK_CUBLAS(cublasSetStream(blas, stream));
  tp_pool *pool;
  CHECK(tp_runtime_pool(rt, TP_SPACE_DEVICE, &pool));
  void *workspace;
  CHECK(tp_pool_alloc(pool, WORKSPACE_BYTES, stream, &workspace));
  CHECK_CUBLAS(cublasSetWorkspace(blas, workspace, WORKSPACE_BYTES));

  /* Row-major C = A B is column-major C^T = B^T A^T: swap the operands. */
  const double one = 1.0, zero = 0.0;
  CHECK_CUBLAS(cublasDgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, NCOLS, M, K, &one,
                           tp_buffer_data(b), NCOLS, tp_buffer_data(a), K,
                           &zero, tp_buffer_data(c), NCOLS));
  tp_buffer *hc;
  CHECK(tp_allocator_construct_copy(host, c, NULL, stream, &hc));
  CHECK(tp_device_stream_synchronize(dev, stream));
  /* cuBLAS is done with the workspace (the stream is idle): detach it. */
  CHECK_CUBLAS(cublasSetWorkspace(blas, NULL, 0));
  CHECK(tp_pool_free(pool, workspace, stream));

  const double *av = tp_buffer_data(ha), *bv = tp_buffer_data(hb),
               *cv = tp_buffer_data(hc);
  double worst = 0.0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < NCOLS; ++j) {
      double want = 0.0, scale = 0.0;
      for (int l = 0; l < K; ++l) {
        want += av[i * K + l] * bv[l * NCOLS + j];
        scale += fabs(av[i * K + l] * bv[l * NCOLS + j]);
      }
      worst = fmax(worst, fabs(cv[i * NCOLS + j] - want) / scale);
    }
  printf("cuBLAS DGEMM %dx%dx%d on device %d, 32 MiB workspace from the "
         "pool: worst relative error %.3g\n",
         M, K, NCOLS, dev, worst);

  CHECK_CUBLAS(cublasDestroy(blas));
  tp_buffer *all[] = {a, b, c, ha, hb, hc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    CHECK(tp_buffer_destroy(all[i]));
  CHECK(tp_device_stream_destroy(dev, stream));
  CHECK(tp_runtime_destroy(rt));
  /* Summation order differs from the host loop: K roundings at most. */
  return worst < 1e-13 ? 0 : 1;
}
