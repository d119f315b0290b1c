/* Device conversion distributed -> replicated through NCCL, run under
 * mpiexec (scripts/bench.sh uses 1, 2 and 4 ranks): tensorpool's
 * tp_allocator_construct_copy (the ranks' agreement check, the result's
 * allocation from the device pool and the all-gather) against a bare
 * ncclAllGather of the same bytes between buffers allocated once with
 * cudaMalloc (the floor: no check, no allocation). Both run on the same
 * stream and are timed with CUDA events; every repetition starts after an
 * MPI_Barrier and its time is the slowest rank's. Rank 0 writes the lines.
 * NCCL cannot put two ranks on one GPU, so with fewer GPUs on a node than
 * ranks there (or none) every rank prints why and exits 0. */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"
#include "tensorpool/mpi.h"

static int my_rank;

/* A failed call on one rank would leave the others waiting in a
 * collective: print it and take the whole job down. */
static void die(const char *file, int line, const char *call, const char *why) {
  fprintf(stderr, "bench_convert_nccl: rank %d: %s:%d: %s: %s\n", my_rank, file,
          line, call, why);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

#define CK(call)                                                               \
  do {                                                                         \
    cudaError_t e_ = (call);                                                   \
    if (e_ != cudaSuccess)                                                     \
      die(__FILE__, __LINE__, #call, cudaGetErrorString(e_));                  \
  } while (0)

#define NK(call)                                                               \
  do {                                                                         \
    ncclResult_t r_ = (call);                                                  \
    if (r_ != ncclSuccess)                                                     \
      die(__FILE__, __LINE__, #call, ncclGetErrorString(r_));                  \
  } while (0)

#define TK(call)                                                               \
  do {                                                                         \
    if ((call) != TP_SUCCESS)                                                  \
      die(__FILE__, __LINE__, #call, tp_last_error());                         \
  } while (0)

#define MK(call)                                                               \
  do {                                                                         \
    if ((call) != MPI_SUCCESS)                                                 \
      die(__FILE__, __LINE__, #call, "MPI call failed");                       \
  } while (0)

typedef struct convert_case {
  tp_allocator *replicated;
  tp_buffer *source; /* distributed, f64, device */
  void *send, *recv; /* the bare all-gather's buffers (cudaMalloc) */
  size_t send_count; /* doubles per rank */
  ncclComm_t nccl;
  cudaStream_t stream;
  cudaEvent_t start, stop;
  int ranks;
} convert_case;

static void convert_once(convert_case *c, int bare) {
  if (bare) {
    NK(ncclAllGather(c->send, c->recv, c->send_count, ncclDouble, c->nccl,
                     c->stream));
    return;
  }
  tp_buffer *out = NULL;
  TK(tp_allocator_construct_copy(c->replicated, c->source, NULL,
                                 (tp_stream)c->stream, &out));
  TK(tp_buffer_destroy(out)); /* stream-ordered: back to the pool */
}

/* `iters` conversions between two events; returns the slowest rank's
 * nanoseconds per conversion (the same value on every rank). */
static double timed_rep(convert_case *c, int bare, int iters) {
  MK(MPI_Barrier(MPI_COMM_WORLD));
  CK(cudaEventRecord(c->start, c->stream));
  for (int i = 0; i < iters; i++)
    convert_once(c, bare);
  CK(cudaEventRecord(c->stop, c->stream));
  CK(cudaEventSynchronize(c->stop));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, c->start, c->stop));
  double ns = (double)ms * 1e6 / iters, slowest = 0;
  MK(MPI_Allreduce(&ns, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  return slowest;
}

static void measure(const bench_opts *opts, convert_case *c, int bare,
                    bench_timing *out) {
  timed_rep(c, bare, 1); /* warm-up: NCCL set-up, the pool's first block */
  double ns = timed_rep(c, bare, 1);
  /* Several conversions per repetition when one is short, so the events'
   * resolution and the barrier do not dominate. */
  double want = (double)opts->batch_ns / 4;
  int iters = ns > 0 && ns < want ? (int)(want / ns) : 1;
  iters = iters > 100 ? 100 : iters;
  double samples[1000];
  int reps = opts->reps > 1000 ? 1000 : opts->reps;
  for (int r = 0; r < reps; r++)
    samples[r] = timed_rep(c, bare, iters);
  bench_summarize(samples, reps, out);
}

/* Whether every rank has room for the source tile, the result and the bare
 * all-gather's two buffers (with an eighth to spare). */
static int fits_everywhere(int device, size_t total, int ranks) {
  size_t free_bytes = 0, device_total = 0;
  TK(tp_device_memory_info(device, &free_bytes, &device_total));
  size_t need = 2 * total + 2 * (total / (size_t)ranks);
  int fits = free_bytes >= need + need / 8, all = 0;
  MK(MPI_Allreduce(&fits, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  return all;
}

/* One result checked before timing: element i of arange(0, 1) is i. */
static void check_result(convert_case *c, int64_t n) {
  tp_buffer *out = NULL;
  TK(tp_allocator_construct_copy(c->replicated, c->source, NULL,
                                 (tp_stream)c->stream, &out));
  const double *data = tp_buffer_data(out);
  double first = -1, last = -1;
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaMemcpy(&first, data, sizeof first, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(&last, data + n - 1, sizeof last, cudaMemcpyDeviceToHost));
  if (first != 0.0 || last != (double)(n - 1)) {
    char why[128];
    snprintf(why, sizeof why, "gathered [0] = %g, [%lld] = %g", first,
             (long long)(n - 1), last);
    die(__FILE__, __LINE__, "check_result", why);
  }
  TK(tp_buffer_destroy(out));
}

static void run_size(const bench_opts *opts, tp_runtime *rt,
                     tp_allocator *distributed, convert_case *c, size_t bytes) {
  /* A whole number of doubles per rank: the bare all-gather splits evenly,
   * and both sides move the same bytes. */
  size_t per_rank = bytes / sizeof(double) / (size_t)c->ranks;
  int64_t n = (int64_t)(per_rank * (size_t)c->ranks);
  size_t total = (size_t)n * sizeof(double);
  tp_layout layout;
  tp_generator gen = tp_generator_arange(0.0, 1.0);
  TK(tp_layout_make(TP_DTYPE_F64, 1, &n, &layout));
  TK(tp_allocator_construct_generator(distributed, &layout, NULL, &gen,
                                      (tp_stream)c->stream, &c->source));
  c->send_count = per_rank;
  CK(cudaMalloc(&c->send, per_rank * sizeof(double)));
  CK(cudaMalloc(&c->recv, total));
  CK(cudaMemsetAsync(c->send, 0, per_rank * sizeof(double), c->stream));
  CK(cudaMemsetAsync(c->recv, 0, total, c->stream));
  check_result(c, n);

  char case_name[64], extra[64];
  snprintf(case_name, sizeof case_name, "dist_to_repl_np%d", c->ranks);
  snprintf(extra, sizeof extra, "\"ranks\":%d", c->ranks);
  for (int bare = 0; bare < 2; bare++) {
    bench_timing t;
    measure(opts, c, bare, &t);
    if (my_rank == 0)
      bench_emit(opts, &(bench_record){"device_convert_nccl", case_name,
                                       bare ? "ncclAllGather" : "tensorpool",
                                       total, 1, 1, 0, t,
                                       bench_gbps(total, t.median_ns), extra});
  }
  CK(cudaStreamSynchronize(c->stream));
  CK(cudaFree(c->send));
  CK(cudaFree(c->recv));
  TK(tp_buffer_destroy(c->source));
  c->source = NULL;
  /* Give the cached results back so the next size finds the memory. */
  tp_pool *pool = NULL;
  TK(tp_runtime_pool(rt, TP_SPACE_DEVICE, &pool));
  CK(cudaStreamSynchronize(c->stream));
  TK(tp_pool_trim(pool, 0));
}

/* 0 when every rank has a GPU of its own; otherwise every rank prints why
 * (all ranks reach the same decision) and the caller exits 0. */
static int skipped(const tp_runtime *rt) {
  int devices = 0;
  TK(tp_device_count(&devices));
  int local = tp_runtime_local_size(rt);
  int mine = devices == 0 || devices < local, any = 0;
  MK(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  if (!any)
    return 0;
  if (devices == 0)
    fprintf(stderr, "bench_convert_nccl: skipped: no CUDA device (rank %d)\n",
            my_rank);
  else if (mine)
    fprintf(stderr,
            "bench_convert_nccl: skipped: NCCL needs one GPU per rank: %d "
            "rank(s) on rank %d's node, %d GPU(s)\n",
            local, my_rank, devices);
  else
    fprintf(stderr, "bench_convert_nccl: skipped: another rank's node has "
                    "fewer GPUs than ranks\n");
  return 1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  bench_opts opts;
  bench_opts_parse(argc, argv, &opts);
  unsetenv("TP_EVENT_LOG");
  convert_case c;
  memset(&c, 0, sizeof c);
  MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c.ranks);

  tp_runtime *rt = NULL;
  TK(tp_runtime_create_mpi(MPI_COMM_WORLD, NULL, &rt));
  if (skipped(rt)) {
    TK(tp_runtime_destroy(rt));
    bench_opts_close(&opts);
    MPI_Finalize();
    return 0;
  }

  int device = tp_runtime_device(rt);
  static char device_name[256];
  struct cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, device));
  snprintf(device_name, sizeof device_name, "%s", prop.name);
  opts.device = device_name;
  CK(cudaSetDevice(device));
  tp_allocator *distributed = NULL;
  TK(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_DISTRIBUTED,
                          &distributed));
  TK(tp_allocator_rebind(distributed, TP_BUFFER_REPLICATED, &c.replicated));
  tp_stream stream = NULL;
  TK(tp_device_stream_create(device, &stream));
  c.stream = (cudaStream_t)stream;
  CK(cudaEventCreate(&c.start));
  CK(cudaEventCreate(&c.stop));

  /* The bare side's own communicator, bootstrapped as tensorpool does. */
  ncclUniqueId id;
  memset(&id, 0, sizeof id);
  if (my_rank == 0)
    NK(ncclGetUniqueId(&id));
  MK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
  NK(ncclCommInitRank(&c.nccl, c.ranks, id, my_rank));

  if (my_rank == 0)
    fprintf(stderr, "bench_convert_nccl: %d ranks, %s, %s mode\n", c.ranks,
            device_name, opts.full ? "full" : "quick");
  size_t top = opts.full ? ((size_t)1 << 30) : ((size_t)256 << 20);
  for (size_t bytes = (size_t)1 << 20; bytes <= top;
       bytes *= opts.full ? 4 : 16) {
    if (!fits_everywhere(device, bytes, c.ranks)) {
      if (my_rank == 0)
        fprintf(stderr,
                "bench_convert_nccl: %zu bytes and up skipped: not enough "
                "device memory on some rank\n",
                bytes);
      break;
    }
    run_size(&opts, rt, distributed, &c, bytes);
  }

  NK(ncclCommDestroy(c.nccl));
  CK(cudaEventDestroy(c.start));
  CK(cudaEventDestroy(c.stop));
  TK(tp_device_stream_destroy(device, stream));
  TK(tp_runtime_destroy(rt));
  TK(tp_device_pools_destroy());
  bench_opts_close(&opts);
  MPI_Finalize();
  return 0;
}
