/* Expression kernels compiled with NVRTC, once per (expression, dtype, ndim,
 * architecture), kept in a cache under one lock. Compiling under the lock
 * serializes compilations, which is what makes "compiled once" hold when
 * several threads ask for the same new expression. Kernels are loaded with
 * the runtime's context-independent cudaLibraryLoadData, so one load serves
 * every device of that architecture and no driver-API library is linked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
#include "device/device_guard.h"
#include "device/expression.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_expression_cache_stats cache_stats;

#if TP_HAVE_CUDA

#include <nvrtc.h>

#include "device/cuda_check.h"

typedef struct cache_entry {
  struct cache_entry *next;
  char *expression;
  tp_dtype dtype;
  int ndim;
  int arch;
  char *ptx;
  cudaLibrary_t library; /* NULL until first launched */
  cudaKernel_t kernel;
} cache_entry;

static cache_entry *cache_head;

static cache_entry *find(const char *expression, tp_dtype dtype, int ndim,
                         int arch) {
  for (cache_entry *e = cache_head; e; e = e->next)
    if (e->dtype == dtype && e->ndim == ndim && e->arch == arch &&
        strcmp(e->expression, expression) == 0)
      return e;
  return NULL;
}

/* Failure of an NVRTC call other than a compile error. */
static tp_status nvrtc_fail(const char *caller, const char *what,
                            nvrtcResult res) {
  return tp_fail(TP_ERR_CUDA, "%s: %s: %s", caller, what,
                 nvrtcGetErrorString(res));
}

/* Compiles the source into PTX (malloc'ed) in *ptx. */
static tp_status compile(const char *caller, const char *expression,
                         tp_dtype dtype, int ndim, int arch, char **ptx) {
  char *source = NULL;
  tp_status st = tp_expression_source(expression, dtype, ndim, &source);
  if (st != TP_SUCCESS)
    return st;
  nvrtcProgram program;
  nvrtcResult res =
      nvrtcCreateProgram(&program, source, "tp_expression.cu", 0, NULL, NULL);
  free(source);
  if (res != NVRTC_SUCCESS)
    return nvrtc_fail(caller, "nvrtcCreateProgram", res);
  char arch_option[40];
  snprintf(arch_option, sizeof arch_option, "--gpu-architecture=compute_%d",
           arch);
  /* No fused multiply-add, as in the library's own kernels. */
  const char *options[] = {arch_option, "--fmad=false", "--std=c++17"};
  res = nvrtcCompileProgram(program, 3, options);
  if (res != NVRTC_SUCCESS) {
    size_t log_size = 0;
    char *log = NULL;
    if (nvrtcGetProgramLogSize(program, &log_size) == NVRTC_SUCCESS &&
        log_size > 0 && (log = malloc(log_size + 1)) != NULL &&
        nvrtcGetProgramLog(program, log) == NVRTC_SUCCESS)
      log[log_size] = '\0';
    if (res == NVRTC_ERROR_COMPILATION)
      st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: \"%s\" (%s, ndim %d) does not compile: %s", caller,
                   expression, tp_dtype_name(dtype), ndim,
                   log ? log : "(no compiler log)");
    else
      st = tp_fail(TP_ERR_CUDA, "%s: nvrtcCompileProgram: %s: %s", caller,
                   nvrtcGetErrorString(res), log ? log : "(no log)");
    free(log);
    nvrtcDestroyProgram(&program);
    return st;
  }
  size_t ptx_size = 0;
  res = nvrtcGetPTXSize(program, &ptx_size);
  char *text = res == NVRTC_SUCCESS ? malloc(ptx_size) : NULL;
  if (res == NVRTC_SUCCESS && !text) {
    nvrtcDestroyProgram(&program);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory for %zu bytes of PTX", caller, ptx_size);
  }
  if (res == NVRTC_SUCCESS)
    res = nvrtcGetPTX(program, text);
  nvrtcDestroyProgram(&program);
  if (res != NVRTC_SUCCESS) {
    free(text);
    return nvrtc_fail(caller, "nvrtcGetPTX", res);
  }
  *ptx = text;
  return TP_SUCCESS;
}

/* The entry, compiled now if absent (lock held). */
static tp_status lookup(const char *caller, const char *expression,
                        tp_dtype dtype, int ndim, int arch, cache_entry **out) {
  cache_entry *e = find(expression, dtype, ndim, arch);
  if (e) {
    cache_stats.hits++;
    *out = e;
    return TP_SUCCESS;
  }
  cache_stats.compiles++;
  char *ptx = NULL;
  tp_status st = compile(caller, expression, dtype, ndim, arch, &ptx);
  if (st != TP_SUCCESS) {
    cache_stats.failures++;
    return st;
  }
  e = calloc(1, sizeof *e);
  char *copy = e ? malloc(strlen(expression) + 1) : NULL;
  if (!copy) {
    free(e);
    free(ptx);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for a cache entry",
                   caller);
  }
  strcpy(copy, expression);
  e->expression = copy;
  e->dtype = dtype;
  e->ndim = ndim;
  e->arch = arch;
  e->ptx = ptx;
  e->next = cache_head;
  cache_head = e;
  cache_stats.entries++;
  *out = e;
  return TP_SUCCESS;
}

/* Loads the entry's PTX (lock held). */
static tp_status load(const char *caller, cache_entry *e) {
  if (e->kernel)
    return TP_SUCCESS;
  cudaLibrary_t library = NULL;
  cudaError_t err =
      cudaLibraryLoadData(&library, e->ptx, NULL, NULL, 0, NULL, NULL, 0);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaLibraryLoadData"),
                           "%s: \"%s\"", caller, e->expression);
  cudaKernel_t kernel = NULL;
  err = cudaLibraryGetKernel(&kernel, library, TP_EXPRESSION_KERNEL_NAME);
  if (err != cudaSuccess) {
    tp_status st = tp_cuda_fail(err, "cudaLibraryGetKernel");
    (void)cudaLibraryUnload(library);
    return tp_fail_context(st, "%s: \"%s\"", caller, e->expression);
  }
  e->library = library;
  e->kernel = kernel;
  return TP_SUCCESS;
}

tp_status tp_expression_kernel(const char *caller, const char *expression,
                               tp_dtype dtype, int ndim, int arch, int load_it,
                               void **kernel) {
  tp_status st = tp_expression_check(caller, expression, ndim);
  if (st != TP_SUCCESS)
    return st;
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", caller,
                   (int)dtype);
  pthread_mutex_lock(&cache_lock);
  cache_entry *e = NULL;
  st = lookup(caller, expression, dtype, ndim, arch, &e);
  if (st == TP_SUCCESS && load_it)
    st = load(caller, e);
  if (kernel)
    *kernel = st == TP_SUCCESS && load_it ? (void *)e->kernel : NULL;
  pthread_mutex_unlock(&cache_lock);
  return st;
}

/* Compute capability of the current device as 10 * major + minor, or 90
 * (this project's target, Hopper) when there is no device. */
static int current_arch(void) {
  int count = 0, device = 0, major = 0, minor = 0;
  if (tp_device_count(&count) != TP_SUCCESS || count == 0)
    return 90;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor,
                             device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor,
                             device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 90;
  }
  return 10 * major + minor;
}

tp_status tp_device_expression_compile(const char *expression, tp_dtype dtype,
                                       int ndim) {
  return tp_expression_kernel("tp_device_expression_compile", expression, dtype,
                              ndim, current_arch(), 0, NULL);
}

tp_status tp_device_expression_cache_clear(void) {
  tp_status first = TP_SUCCESS;
  pthread_mutex_lock(&cache_lock);
  while (cache_head) {
    cache_entry *e = cache_head;
    cache_head = e->next;
    if (e->library) {
      cudaError_t err = cudaLibraryUnload(e->library);
      if (err != cudaSuccess && first == TP_SUCCESS)
        first = tp_cuda_fail(err, "tp_device_expression_cache_clear: "
                                  "cudaLibraryUnload");
    }
    free(e->expression);
    free(e->ptx);
    free(e);
  }
  cache_stats.entries = 0;
  pthread_mutex_unlock(&cache_lock);
  return first;
}

#else /* no CUDA in this build */

tp_status tp_expression_kernel(const char *caller, const char *expression,
                               tp_dtype dtype, int ndim, int arch, int load_it,
                               void **kernel) {
  (void)dtype, (void)arch, (void)load_it;
  if (kernel)
    *kernel = NULL;
  tp_status st = tp_expression_check(caller, expression, ndim);
  if (st != TP_SUCCESS)
    return st;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "%s: tensorpool was built without CUDA (no NVRTC)", caller);
}

tp_status tp_device_expression_compile(const char *expression, tp_dtype dtype,
                                       int ndim) {
  return tp_expression_kernel("tp_device_expression_compile", expression, dtype,
                              ndim, 90, 0, NULL);
}

tp_status tp_device_expression_cache_clear(void) {
  return TP_SUCCESS;
}

#endif

tp_status tp_device_expression_cache_stats(tp_expression_cache_stats *out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_expression_cache_stats: NULL out-pointer");
  pthread_mutex_lock(&cache_lock);
  tp_expression_cache_stats s = cache_stats;
  pthread_mutex_unlock(&cache_lock);
  s.struct_size = sizeof s;
  return tp_versioned_write("tp_device_expression_cache_stats",
                            "TP_EXPRESSION_CACHE_STATS_INIT", out, &s,
                            sizeof s);
}
