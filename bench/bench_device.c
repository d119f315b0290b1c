/* Device suites (built with CUDA, run when a GPU is present; without one
 * they print why and exit 0):
 *   device_alloc_free  alloc+free per pair, 256 B to 1 GiB
 *   device_live        1 KiB pairs with 1k to 100k blocks live
 *   device_streams     1 to 8 streams: alloc, a short kernel, free
 *   device_fill        constant, arange, affine, identity, uniform, normal
 *                      and expression fills against cudaMemsetAsync,
 *                      thrust::fill and the copy ceiling, each with the
 *                      target fraction of the ceiling that issue 10 sets
 *                      (reported, never asserted)
 *   pinned_alloc_free  the pinned pool against cudaHostAlloc/cudaFreeHost
 * tensorpool's device pool (tp_device_pool) against cudaMalloc/cudaFree,
 * cudaMallocAsync on the device's default pool, and cudaMallocFromPoolAsync
 * on a created pool that keeps its memory (release threshold UINT64_MAX).
 * Allocation costs are host time (what the caller waits for), with the
 * stream synchronized at the end of each batch; fills are timed with CUDA
 * events. */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_kernels.h"
#include "harness.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"

#define DEVICE 0

/* Prints a failed CUDA call and returns 1 from the calling function. */
#define CK(call)                                                               \
  do {                                                                         \
    cudaError_t e_ = (call);                                                   \
    if (e_ != cudaSuccess) {                                                   \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,            \
              cudaGetErrorString(e_));                                         \
      return 1;                                                                \
    }                                                                          \
  } while (0)

/* Same for a tensorpool call. */
#define TK(call)                                                               \
  do {                                                                         \
    tp_status s_ = (call);                                                     \
    if (s_ != TP_SUCCESS) {                                                    \
      fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,        \
              tp_status_name(s_), tp_last_error());                            \
      return 1;                                                                \
    }                                                                          \
  } while (0)

typedef enum dev_impl {
  IMPL_POOL,
  IMPL_MALLOC,
  IMPL_ASYNC_DEFAULT,
  IMPL_ASYNC_POOL,
  IMPL_COUNT
} dev_impl;

static const char *const impl_names[IMPL_COUNT] = {
    "tensorpool", "cudaMalloc", "cudaMallocAsync", "cudaMallocAsync:pool"};

typedef struct dev_env {
  tp_pool *pool;      /* tensorpool's shared device pool */
  tp_pool *pinned;    /* tensorpool's shared pinned pool */
  cudaMemPool_t keep; /* created pool, release threshold UINT64_MAX */
  cudaStream_t streams[8];
} dev_env;

static int dev_alloc(dev_env *env, dev_impl impl, size_t bytes, cudaStream_t s,
                     void **out) {
  switch (impl) {
  case IMPL_POOL: TK(tp_pool_alloc(env->pool, bytes, s, out)); break;
  case IMPL_MALLOC: CK(cudaMalloc(out, bytes)); break;
  case IMPL_ASYNC_DEFAULT: CK(cudaMallocAsync(out, bytes, s)); break;
  case IMPL_ASYNC_POOL:
    CK(cudaMallocFromPoolAsync(out, bytes, env->keep, s));
    break;
  default: return 1;
  }
  return 0;
}

static int dev_free(dev_env *env, dev_impl impl, void *p, cudaStream_t s) {
  switch (impl) {
  case IMPL_POOL: TK(tp_pool_free(env->pool, p, s)); break;
  case IMPL_MALLOC: CK(cudaFree(p)); break;
  case IMPL_ASYNC_DEFAULT:
  case IMPL_ASYNC_POOL: CK(cudaFreeAsync(p, s)); break;
  default: return 1;
  }
  return 0;
}

/* ---- alloc+free per pair ---- */

typedef struct pair_ctx {
  dev_env *env;
  dev_impl impl;
  size_t bytes;
} pair_ctx;

static int run_pairs(void *vctx, uint64_t iters, uint64_t *ns) {
  pair_ctx *c = vctx;
  cudaStream_t s = c->env->streams[0];
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    void *p = NULL;
    if (dev_alloc(c->env, c->impl, c->bytes, s, &p) ||
        dev_free(c->env, c->impl, p, s))
      return 1;
  }
  CK(cudaStreamSynchronize(s));
  *ns = bench_now_ns() - t0;
  return 0;
}

static void suite_alloc_free(const bench_opts *opts, dev_env *env) {
  for (size_t bytes = 256; bytes <= ((size_t)1 << 30);
       bytes *= opts->full ? 4 : 16) {
    for (int k = 0; k < IMPL_COUNT; k++) {
      pair_ctx c = {env, (dev_impl)k, bytes};
      bench_timing t;
      if (bench_measure(opts, run_pairs, &c, 1, 1000000, &t) == 0)
        bench_emit(opts, &(bench_record){"device_alloc_free", "alloc_free",
                                         impl_names[k], bytes, 1, 1, 0, t, -1.0,
                                         NULL});
    }
  }
}

/* ---- pairs with many blocks live ---- */

static void suite_live(const bench_opts *opts, dev_env *env) {
  static const size_t counts[] = {1000, 10000, 100000};
  static const size_t sizes[] = {256, 1024, 4096, 512, 2048};
  cudaStream_t s = env->streams[0];
  for (size_t l = 0; l < sizeof counts / sizeof counts[0]; l++) {
    void **live = calloc(counts[l], sizeof *live);
    if (!live)
      return;
    for (int k = 0; k < IMPL_COUNT; k++) {
      size_t made = 0;
      for (; made < counts[l]; made++)
        if (dev_alloc(env, (dev_impl)k, sizes[made % 5], s, &live[made]))
          break;
      if (made == counts[l]) {
        pair_ctx c = {env, (dev_impl)k, 1024};
        bench_timing t;
        if (bench_measure(opts, run_pairs, &c, 1, 1000000, &t) == 0)
          bench_emit(opts,
                     &(bench_record){"device_live", "pair_1KiB", impl_names[k],
                                     1024, 1, 1, counts[l], t, -1.0, NULL});
      }
      for (size_t i = 0; i < made; i++)
        dev_free(env, (dev_impl)k, live[i], s);
      cudaStreamSynchronize(s);
    }
    free(live);
  }
}

/* ---- several streams: alloc, short kernel, free ---- */

typedef struct streams_ctx {
  dev_env *env;
  dev_impl impl;
  int nstreams;
} streams_ctx;

static int run_streams(void *vctx, uint64_t iters, uint64_t *ns) {
  streams_ctx *c = vctx;
  const size_t bytes = (size_t)1 << 20;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    cudaStream_t s = c->env->streams[i % (uint64_t)c->nstreams];
    void *p = NULL;
    if (dev_alloc(c->env, c->impl, bytes, s, &p))
      return 1;
    CK((cudaError_t)bench_touch_pages(p, bytes, s));
    if (dev_free(c->env, c->impl, p, s))
      return 1;
  }
  for (int k = 0; k < c->nstreams; k++)
    CK(cudaStreamSynchronize(c->env->streams[k]));
  *ns = bench_now_ns() - t0;
  return 0;
}

static void suite_streams(const bench_opts *opts, dev_env *env) {
  static const int counts[] = {1, 2, 4, 8};
  for (size_t n = 0; n < 4; n++) {
    for (int k = 0; k < IMPL_COUNT; k++) {
      streams_ctx c = {env, (dev_impl)k, counts[n]};
      bench_timing t;
      if (bench_measure(opts, run_streams, &c, 64, 1000000, &t) == 0)
        bench_emit(opts,
                   &(bench_record){"device_streams", "alloc_kernel_free_1MiB",
                                   impl_names[k], (size_t)1 << 20, 1, counts[n],
                                   0, t, -1.0,
                                   "\"note\":\"ns per alloc+kernel+free, "
                                   "streams taken round robin\""});
    }
  }
}

/* ---- fill bandwidth ---- */

typedef enum fill_kind {
  FILL_CONSTANT,
  FILL_ARANGE,
  FILL_AFFINE,
  FILL_IDENTITY,
  FILL_UNIFORM,
  FILL_NORMAL,
  FILL_EXPRESSION,      /* index arithmetic only */
  FILL_EXPRESSION_MATH, /* with the library's sin */
  FILL_MEMSET,
  FILL_THRUST,
  FILL_COPY,
  FILL_KINDS
} fill_kind;

/* Case name, implementation, and the fraction of the copy ceiling issue 10
 * asks of tensorpool's fills (-1: a peer). */
static const struct {
  const char *name, *impl;
  double target;
} fill_cases[FILL_KINDS] = {
    [FILL_CONSTANT] = {"constant", "tensorpool", 0.90},
    [FILL_ARANGE] = {"arange", "tensorpool", 0.85},
    [FILL_AFFINE] = {"affine", "tensorpool", 0.85},
    [FILL_IDENTITY] = {"identity", "tensorpool", 0.85},
    [FILL_UNIFORM] = {"uniform", "tensorpool", 0.70},
    [FILL_NORMAL] = {"normal", "tensorpool", 0.70},
    [FILL_EXPRESSION] = {"expression_index", "tensorpool", 0.70},
    [FILL_EXPRESSION_MATH] = {"expression_sin", "tensorpool", 0.70},
    [FILL_MEMSET] = {"constant", "cudaMemsetAsync", -1.0},
    [FILL_THRUST] = {"constant", "thrust::fill", -1.0},
    [FILL_COPY] = {"copy", "ceiling", -1.0},
};

typedef struct fill_ctx {
  fill_kind kind;
  void *dst, *src;
  size_t bytes;
  cudaStream_t stream;
  cudaEvent_t start, stop;
  tp_layout layout; /* f32 [count / 1024, 1024] */
  tp_tile tile;
} fill_ctx;

static int fill_once(fill_ctx *c, uint64_t i) {
  size_t count = c->bytes / sizeof(float);
  float value = (float)(i % 7) + 1.0f;
  tp_generator g;
  double coeff[2] = {1024.0, 1.0};
  switch (c->kind) {
  case FILL_CONSTANT:
    TK(tp_device_fill_constant(DEVICE, c->dst, TP_DTYPE_F32, count, &value,
                               c->stream));
    return 0;
  case FILL_ARANGE: g = tp_generator_arange((double)i, 1.0); break;
  case FILL_AFFINE: g = tp_generator_affine((double)i, 2, coeff); break;
  case FILL_IDENTITY: g = tp_generator_identity((double)i); break;
  case FILL_UNIFORM: g = tp_generator_uniform(1234 + i, 0.0, 1.0); break;
  case FILL_NORMAL: g = tp_generator_normal(1234 + i, 0.0, 1.0); break;
  case FILL_EXPRESSION:
  case FILL_EXPRESSION_MATH:
    /* The same text every time: one compilation, then cached kernels. */
    TK(tp_device_fill_expression(DEVICE, c->dst, &c->layout, &c->tile,
                                 c->kind == FILL_EXPRESSION
                                     ? "i0 * 0.5 - i1 + 3"
                                     : "sin(1e-3 * i1) + i0",
                                 c->stream));
    return 0;
  case FILL_MEMSET:
    CK(cudaMemsetAsync(c->dst, (int)(i % 7) + 1, c->bytes, c->stream));
    return 0;
  case FILL_THRUST:
    return bench_thrust_fill_f32(c->dst, count, value, c->stream) != 0;
  case FILL_COPY:
    CK(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice,
                       c->stream));
    return 0;
  default: return 1;
  }
  TK(tp_device_fill_generator(DEVICE, c->dst, &c->layout, &c->tile, &g,
                              c->stream));
  return 0;
}

static int run_fill(void *vctx, uint64_t iters, uint64_t *ns) {
  fill_ctx *c = vctx;
  CK(cudaEventRecord(c->start, c->stream));
  for (uint64_t i = 0; i < iters; i++)
    if (fill_once(c, i))
      return 1;
  CK(cudaEventRecord(c->stop, c->stream));
  CK(cudaEventSynchronize(c->stop));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, c->start, c->stop));
  *ns = (uint64_t)((double)ms * 1e6);
  return 0;
}

static int suite_fill(const bench_opts *opts, dev_env *env) {
  size_t free_bytes = 0, total = 0;
  TK(tp_device_memory_info(DEVICE, &free_bytes, &total));
  fill_ctx c;
  memset(&c, 0, sizeof c);
  c.stream = env->streams[0];
  CK(cudaEventCreate(&c.start));
  CK(cudaEventCreate(&c.stop));
  for (size_t bytes = (size_t)1 << 20; bytes <= ((size_t)4 << 30);
       bytes *= opts->full ? 4 : 16) {
    if (bytes > free_bytes / 3) {
      fprintf(stderr, "bench_device: fill of %zu bytes skipped: %zu free\n",
              bytes, free_bytes);
      break;
    }
    c.bytes = bytes;
    if (tp_pool_alloc(env->pool, bytes, c.stream, &c.dst) != TP_SUCCESS ||
        tp_pool_alloc(env->pool, bytes, c.stream, &c.src) != TP_SUCCESS) {
      fprintf(stderr, "bench_device: %s\n", tp_last_error());
      break;
    }
    int64_t extents[2] = {(int64_t)(bytes / sizeof(float) / 1024), 1024};
    TK(tp_layout_make(TP_DTYPE_F32, 2, extents, &c.layout));
    TK(tp_layout_whole_tile(&c.layout, &c.tile));
    CK(cudaMemsetAsync(c.src, 0, bytes, c.stream));

    /* The ceiling: a device-to-device copy moves 2 x bytes (read and
     * write); a fill only writes, so it may reach that whole traffic. */
    bench_timing ceiling;
    c.kind = FILL_COPY;
    if (bench_measure(opts, run_fill, &c, 1, 100000, &ceiling) != 0)
      break;
    double ceiling_gbps = bench_gbps(2 * bytes, ceiling.median_ns);
    bench_emit(opts, &(bench_record){"device_fill", "copy", "ceiling", bytes, 1,
                                     1, 0, ceiling, ceiling_gbps,
                                     "\"note\":\"device copy: read+write "
                                     "bytes per second\""});
    for (int f = FILL_CONSTANT; f < FILL_COPY; f++) {
      c.kind = (fill_kind)f;
      bench_timing t;
      if (bench_measure(opts, run_fill, &c, 1, 100000, &t) != 0)
        continue;
      double gbps = bench_gbps(bytes, t.median_ns);
      char extra[128];
      if (fill_cases[f].target > 0)
        snprintf(extra, sizeof extra,
                 "\"fraction_of_ceiling\":%.4f,\"target\":%.2f",
                 gbps / ceiling_gbps, fill_cases[f].target);
      else
        snprintf(extra, sizeof extra, "\"fraction_of_ceiling\":%.4f",
                 gbps / ceiling_gbps);
      bench_emit(opts, &(bench_record){"device_fill", fill_cases[f].name,
                                       fill_cases[f].impl, bytes, 1, 1, 0, t,
                                       gbps, extra});
    }
    tp_pool_free(env->pool, c.dst, c.stream);
    tp_pool_free(env->pool, c.src, c.stream);
  }
  CK(cudaStreamSynchronize(c.stream));
  /* Give the fill buffers back so later suites start from a small pool. */
  TK(tp_pool_trim(env->pool, 0));
  cudaEventDestroy(c.start);
  cudaEventDestroy(c.stop);
  return 0;
}

/* ---- pinned host memory ---- */

typedef struct pinned_ctx {
  dev_env *env;
  int bare; /* 1: cudaHostAlloc/cudaFreeHost */
  size_t bytes;
} pinned_ctx;

static int run_pinned(void *vctx, uint64_t iters, uint64_t *ns) {
  pinned_ctx *c = vctx;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    void *p = NULL;
    if (c->bare) {
      CK(cudaHostAlloc(&p, c->bytes, cudaHostAllocPortable));
      CK(cudaFreeHost(p));
    } else {
      TK(tp_pool_alloc(c->env->pinned, c->bytes, NULL, &p));
      TK(tp_pool_free(c->env->pinned, p, NULL));
    }
  }
  *ns = bench_now_ns() - t0;
  return 0;
}

static void suite_pinned(const bench_opts *opts, dev_env *env) {
  for (size_t bytes = 4096; bytes <= ((size_t)64 << 20);
       bytes *= opts->full ? 4 : 16) {
    for (int bare = 0; bare < 2; bare++) {
      pinned_ctx c = {env, bare, bytes};
      bench_timing t;
      if (bench_measure(opts, run_pinned, &c, 1, 1000000, &t) == 0)
        bench_emit(opts, &(bench_record){"pinned_alloc_free", "alloc_free",
                                         bare ? "cudaHostAlloc" : "tensorpool",
                                         bytes, 1, 1, 0, t, -1.0, NULL});
    }
  }
}

static char device_name[256];

static int set_up(dev_env *env) {
  memset(env, 0, sizeof *env);
  struct cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, DEVICE));
  snprintf(device_name, sizeof device_name, "%s", prop.name);
  CK(cudaSetDevice(DEVICE));
  TK(tp_device_pool(DEVICE, &env->pool));
  TK(tp_pinned_pool(DEVICE, &env->pinned));
  for (int k = 0; k < 8; k++) {
    tp_stream s = NULL;
    TK(tp_device_stream_create(DEVICE, &s));
    env->streams[k] = (cudaStream_t)s;
  }
  struct cudaMemPoolProps props;
  memset(&props, 0, sizeof props);
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = DEVICE;
  CK(cudaMemPoolCreate(&env->keep, &props));
  uint64_t keep_all = UINT64_MAX;
  CK(cudaMemPoolSetAttribute(env->keep, cudaMemPoolAttrReleaseThreshold,
                             &keep_all));
  return 0;
}

static int tear_down(dev_env *env) {
  for (int k = 0; k < 8; k++)
    TK(tp_device_stream_destroy(DEVICE, env->streams[k]));
  CK(cudaMemPoolDestroy(env->keep));
  TK(tp_device_pools_destroy());
  return 0;
}

int main(int argc, char **argv) {
  bench_opts opts;
  bench_opts_parse(argc, argv, &opts);
  unsetenv("TP_EVENT_LOG");
  int count = 0;
  if (tp_device_count(&count) != TP_SUCCESS || count == 0) {
    fprintf(stderr, "bench_device: skipped: no CUDA device here (%s)\n",
            count == 0 ? "tp_device_count reports 0" : tp_last_error());
    bench_opts_close(&opts);
    return 0;
  }
  dev_env env;
  if (set_up(&env) != 0)
    return 1;
  opts.device = device_name;
  fprintf(stderr, "bench_device: %s, %s mode\n", device_name,
          opts.full ? "full" : "quick");
  suite_alloc_free(&opts, &env);
  suite_live(&opts, &env);
  suite_streams(&opts, &env);
  if (suite_fill(&opts, &env) != 0)
    fprintf(stderr, "bench_device: the fill suite stopped early\n");
  suite_pinned(&opts, &env);
  fprintf(stderr, "bench_device: NCCL conversions are measured by "
                  "bench_convert_nccl under mpiexec (scripts/bench.sh)\n");
  int rc = tear_down(&env);
  bench_opts_close(&opts);
  return rc;
}
