/* Host conversion distributed -> replicated through MPI, run under mpiexec
 * (scripts/bench.sh uses 2 and 4 ranks): tensorpool's
 * tp_allocator_construct_copy (the ranks' agreement check, the result's
 * allocation from the host pool and the all-gather of uneven tiles) against
 * a bare MPI_Allgatherv into a buffer allocated once (the floor: no check,
 * no allocation). Every rank runs the same batches; a batch's time is the
 * slowest rank's, and rank 0 writes the lines. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensorpool/allocator.h"
#include "tensorpool/mpi.h"

typedef struct convert_case {
  tp_allocator *replicated;
  tp_buffer *source; /* distributed, f64 */
  double *gathered;  /* the bare all-gather's result */
  int *counts, *displs;
  int rank, ranks;
} convert_case;

static int convert_tensorpool(convert_case *c) {
  tp_buffer *out = NULL;
  tp_status st =
      tp_allocator_construct_copy(c->replicated, c->source, NULL, NULL, &out);
  if (st != TP_SUCCESS) {
    fprintf(stderr, "rank %d: construct_copy: %s\n", c->rank, tp_last_error());
    return 1;
  }
  return tp_buffer_destroy(out) != TP_SUCCESS;
}

static int convert_bare(convert_case *c) {
  const void *mine = tp_buffer_data(c->source);
  return MPI_Allgatherv(mine, c->counts[c->rank], MPI_DOUBLE, c->gathered,
                        c->counts, c->displs, MPI_DOUBLE,
                        MPI_COMM_WORLD) != MPI_SUCCESS;
}

/* Times `iters` conversions on every rank; returns the slowest rank's ns
 * (the same value on every rank), or UINT64_MAX if any rank failed. */
static uint64_t timed_batch(convert_case *c, int bare, uint64_t iters) {
  MPI_Barrier(MPI_COMM_WORLD);
  uint64_t t0 = bench_now_ns();
  int failed = 0;
  for (uint64_t i = 0; i < iters && !failed; i++)
    failed = bare ? convert_bare(c) : convert_tensorpool(c);
  uint64_t ns = failed ? UINT64_MAX : bench_now_ns() - t0, slowest = 0;
  MPI_Allreduce(&ns, &slowest, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

static int measure(const bench_opts *opts, convert_case *c, int bare,
                   bench_timing *out) {
  uint64_t ns = timed_batch(c, bare, 1); /* warm-up and calibration */
  if (ns == UINT64_MAX)
    return 1;
  uint64_t iters = ns ? opts->batch_ns / ns : 1000;
  iters = iters < 1 ? 1 : iters > 1000 ? 1000 : iters;
  double samples[1000];
  int reps = opts->reps > 1000 ? 1000 : opts->reps;
  for (int r = 0; r < reps; r++) {
    ns = timed_batch(c, bare, iters);
    if (ns == UINT64_MAX)
      return 1;
    samples[r] = (double)ns / (double)iters;
  }
  bench_summarize(samples, reps, out);
  return 0;
}

static int run_size(const bench_opts *opts, tp_allocator *distributed,
                    convert_case *c, size_t bytes) {
  /* One extra element per rank but the last: the tiles are uneven. */
  int64_t n = (int64_t)(bytes / sizeof(double)) + c->ranks - 1;
  tp_layout layout;
  tp_generator gen = tp_generator_arange(0.0, 1.0);
  if (tp_layout_make(TP_DTYPE_F64, 1, &n, &layout) != TP_SUCCESS ||
      tp_allocator_construct_generator(distributed, &layout, NULL, &gen, NULL,
                                       &c->source) != TP_SUCCESS) {
    fprintf(stderr, "rank %d: %s\n", c->rank, tp_last_error());
    return 1;
  }
  const tp_tiling *tiling = tp_buffer_tiling(c->source);
  int offset = 0;
  for (int r = 0; r < c->ranks; r++) {
    tp_tile tile;
    if (tp_tiling_tile(tiling, r, &tile) != TP_SUCCESS)
      return 1;
    c->counts[r] = (int)tile.count;
    c->displs[r] = offset;
    offset += c->counts[r];
  }
  c->gathered = malloc((size_t)n * sizeof(double));
  if (!c->gathered)
    return 1;
  memset(c->gathered, 0, (size_t)n * sizeof(double));

  char case_name[64], extra[64];
  snprintf(case_name, sizeof case_name, "dist_to_repl_np%d", c->ranks);
  snprintf(extra, sizeof extra, "\"ranks\":%d", c->ranks);
  int rc = 0;
  for (int bare = 0; bare < 2 && rc == 0; bare++) {
    bench_timing t;
    rc = measure(opts, c, bare, &t);
    if (rc == 0 && c->rank == 0)
      bench_emit(opts, &(bench_record){
                           "host_convert_mpi", case_name,
                           bare ? "MPI_Allgatherv" : "tensorpool",
                           (size_t)n * sizeof(double), 1, 1, 0, t,
                           bench_gbps((size_t)n * sizeof(double), t.median_ns),
                           extra});
  }
  free(c->gathered);
  c->gathered = NULL;
  tp_buffer_destroy(c->source);
  c->source = NULL;
  return rc;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  bench_opts opts;
  bench_opts_parse(argc, argv, &opts);
  unsetenv("TP_EVENT_LOG");
  convert_case c;
  memset(&c, 0, sizeof c);
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c.ranks);
  c.counts = calloc((size_t)c.ranks, sizeof *c.counts);
  c.displs = calloc((size_t)c.ranks, sizeof *c.displs);

  tp_runtime *runtime = NULL;
  tp_allocator *distributed = NULL;
  int rc = 0;
  if (tp_runtime_create_mpi(MPI_COMM_WORLD, NULL, &runtime) != TP_SUCCESS ||
      tp_runtime_allocator(runtime, TP_SPACE_HOST, TP_BUFFER_DISTRIBUTED,
                           &distributed) != TP_SUCCESS ||
      tp_allocator_rebind(distributed, TP_BUFFER_REPLICATED, &c.replicated) !=
          TP_SUCCESS) {
    fprintf(stderr, "rank %d: runtime: %s\n", c.rank, tp_last_error());
    rc = 1;
  }
  if (rc == 0 && c.rank == 0)
    fprintf(stderr, "bench_convert_mpi: %d ranks, %s mode\n", c.ranks,
            opts.full ? "full" : "quick");
  size_t top = opts.full ? ((size_t)256 << 20) : ((size_t)64 << 20);
  for (size_t bytes = (size_t)1 << 20; rc == 0 && bytes <= top;
       bytes *= opts.full ? 4 : 8)
    rc = run_size(&opts, distributed, &c, bytes);

  if (runtime && tp_runtime_destroy(runtime) != TP_SUCCESS)
    fprintf(stderr, "rank %d: tp_runtime_destroy: %s\n", c.rank,
            tp_last_error());
  free(c.counts);
  free(c.displs);
  bench_opts_close(&opts);
  MPI_Finalize();
  return rc;
}
