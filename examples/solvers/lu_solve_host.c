/* An LU solve with LAPACK on tensorpool buffers, on the host: the pattern of
 * cusolver_lu_solve.c (generators build the system, the solver's workspace
 * comes from the pool, the residual is checked) with nothing but a CPU.
 *
 *   A = U(-1, 1) + n I (diagonally dominant: well conditioned), b = U(-1, 1)
 *   A = P L U (LAPACKE_dgetrf), then x from L U x = P^T b (dgetrs)
 *   |A x - b|_inf / (|A|_inf |x|_inf n eps) must be small. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    tp_status st_ = (call);                                                    \
    if (st_ != TP_SUCCESS) {                                                   \
      fprintf(stderr, "%s failed: %s: %s\n", #call, tp_status_name(st_),       \
              tp_last_error());                                                \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

enum { N = 500 };

int main(void) {
  tp_runtime *rt;
  CHECK(tp_runtime_create(NULL, &rt));
  tp_allocator *host;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &host));

  /* The system, from generators. */
  tp_layout square, vector;
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, (int64_t[]){N, N}, &square));
  CHECK(tp_layout_make(TP_DTYPE_F64, 1, (int64_t[]){N}, &vector));
  tp_generator noise = tp_generator_uniform(7, -1.0, 1.0);
  tp_generator eye = tp_generator_identity(1.0);
  tp_generator rhs = tp_generator_uniform(8, -1.0, 1.0);
  tp_buffer *u, *id, *a, *b;
  CHECK(
      tp_allocator_construct_generator(host, &square, NULL, &noise, NULL, &u));
  CHECK(tp_allocator_construct_generator(host, &square, NULL, &eye, NULL, &id));
  CHECK(tp_allocator_construct_generator(host, &vector, NULL, &rhs, NULL, &b));
  CHECK(tp_axpby(tp_scalar_real(1.0), u, tp_scalar_real(N), id, NULL, &a));

  /* The solver overwrites its inputs: factor a copy of A, solve in a copy
   * of b. The pivots are the solver's workspace, taken from the pool. */
  tp_buffer *lu, *x;
  CHECK(tp_buffer_clone(a, NULL, &lu));
  CHECK(tp_buffer_clone(b, NULL, &x));
  tp_pool *pool;
  CHECK(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  lapack_int *ipiv;
  CHECK(tp_pool_alloc(pool, N * sizeof *ipiv, NULL, (void **)&ipiv));
  lapack_int info =
      LAPACKE_dgetrf(LAPACK_ROW_MAJOR, N, N, tp_buffer_data(lu), N, ipiv);
  if (info == 0)
    info = LAPACKE_dgetrs(LAPACK_ROW_MAJOR, 'N', N, 1, tp_buffer_data(lu), N,
                          ipiv, tp_buffer_data(x), 1);
  CHECK(tp_pool_free(pool, ipiv, NULL));
  if (info != 0) {
    fprintf(stderr, "LAPACKE: info %d\n", (int)info);
    return 1;
  }

  /* The residual, against the untouched A and b. */
  const double *av = tp_buffer_data(a), *bv = tp_buffer_data(b),
               *xv = tp_buffer_data(x);
  double residual = 0.0, norm_a = 0.0, norm_x = 0.0;
  for (int i = 0; i < N; ++i) {
    double r = -bv[i], row = 0.0;
    for (int j = 0; j < N; ++j) {
      r += av[i * N + j] * xv[j];
      row += fabs(av[i * N + j]);
    }
    residual = fmax(residual, fabs(r));
    norm_a = fmax(norm_a, row);
    norm_x = fmax(norm_x, fabs(xv[i]));
  }
  double scaled = residual / (norm_a * norm_x * N * DBL_EPSILON);
  printf("LAPACKE LU solve, n = %d: |Ax - b| = %.3g, scaled residual %.3g\n", N,
         residual, scaled);

  tp_buffer *all[] = {u, id, a, b, lu, x};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    CHECK(tp_buffer_destroy(all[i]));
  CHECK(tp_runtime_destroy(rt));
  /* A backward-stable solve gives a scaled residual of order 1. */
  return scaled < 10.0 ? 0 : 1;
}
