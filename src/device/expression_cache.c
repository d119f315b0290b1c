/* Expression kernels compiled with NVRTC, once per (canonical text, dtype,
 * ndim, architecture), kept in a cache.
 *
 * Locking: one mutex guards the list and the counters only; it is never
 * held while NVRTC runs or while a module loads. The first thread to ask
 * for a key inserts it as "compiling" and compiles without the lock; a
 * thread asking for the same key meanwhile waits on that entry's condition
 * variable (so the key compiles once); threads asking for other keys, or
 * for keys already compiled, only take the mutex for the list search. A
 * failed compilation is not cached: its waiters get its status and
 * message, the next request compiles again.
 *
 * Code: a cubin for the device's own architecture (no JIT by the driver,
 * no dependence on the driver's PTX version); PTX for the newest
 * architecture NVRTC knows only when the device's is newer than NVRTC
 * (the driver then compiles it forward). Modules are loaded with the
 * runtime's context-independent cudaLibraryLoadData, so one load serves
 * every device of that architecture and no driver-API library is linked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
#include "device/device_guard.h"
#include "device/expression_kernel.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"

void (*tp_expression_compile_hook)(const char *canonical);

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tp_expression_cache_stats cache_stats;

#if TP_HAVE_CUDA

#include <nvrtc.h>

#include "device/cuda_check.h"

enum { COMPILING, READY, FAILED };

typedef struct cache_entry {
  struct cache_entry *next;
  char *canonical;
  tp_dtype dtype;
  int ndim;
  int arch;
  int state;   /* under cache_lock */
  int waiters; /* threads waiting on `done`, under cache_lock */
  pthread_cond_t done;
  tp_status status; /* FAILED: the compilation's status and message */
  char *message;
  char *binary; /* READY: cubin or PTX */
  size_t binary_size;
  int is_cubin;
  int target; /* the architecture compiled for */
  pthread_mutex_t load_lock;
  cudaLibrary_t library; /* NULL until first launched */
  cudaKernel_t kernel32, kernel64;
} cache_entry;

static cache_entry *cache_head;

static cache_entry *find(const char *canonical, tp_dtype dtype, int ndim,
                         int arch) {
  for (cache_entry *e = cache_head; e; e = e->next)
    if (e->dtype == dtype && e->ndim == ndim && e->arch == arch &&
        strcmp(e->canonical, canonical) == 0)
      return e;
  return NULL;
}

static void entry_free(cache_entry *e) {
  pthread_cond_destroy(&e->done);
  pthread_mutex_destroy(&e->load_lock);
  free(e->canonical);
  free(e->message);
  free(e->binary);
  free(e);
}

/* Failure of an NVRTC call other than a compile error. */
static tp_status nvrtc_fail(const char *caller, const char *what,
                            nvrtcResult res) {
  return tp_fail(TP_ERR_CUDA, "%s: %s: %s", caller, what,
                 nvrtcGetErrorString(res));
}

/* The architecture to compile for: `arch` itself if NVRTC knows it (a
 * cubin), else the newest it knows below it (PTX). */
static tp_status choose_target(const char *caller, int arch, int *target,
                               int *cubin) {
  int count = 0;
  nvrtcResult res = nvrtcGetNumSupportedArchs(&count);
  if (res != NVRTC_SUCCESS)
    return nvrtc_fail(caller, "nvrtcGetNumSupportedArchs", res);
  int *archs = count > 0 ? malloc((size_t)count * sizeof *archs) : NULL;
  if (!archs)
    return tp_fail(TP_ERR_CUDA, "%s: NVRTC knows no architecture", caller);
  res = nvrtcGetSupportedArchs(archs);
  if (res != NVRTC_SUCCESS) {
    free(archs);
    return nvrtc_fail(caller, "nvrtcGetSupportedArchs", res);
  }
  int best = -1, lowest = archs[0];
  *cubin = 0;
  for (int k = 0; k < count; ++k) {
    if (archs[k] == arch)
      *cubin = 1;
    if (archs[k] <= arch && archs[k] > best)
      best = archs[k];
    if (archs[k] < lowest)
      lowest = archs[k];
  }
  free(archs);
  if (best < 0)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: compute capability %d.%d is older than any this NVRTC "
                   "compiles for (the oldest is %d.%d)",
                   caller, arch / 10, arch % 10, lowest / 10, lowest % 10);
  *target = best;
  return TP_SUCCESS;
}

/* NVRTC's log, at most `limit` characters (malloc'ed, or NULL). */
static char *program_log(nvrtcProgram program, size_t limit) {
  size_t size = 0;
  char *log = NULL;
  if (nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0 ||
      !(log = malloc(size + 1)))
    return NULL;
  if (nvrtcGetProgramLog(program, log) != NVRTC_SUCCESS) {
    free(log);
    return NULL;
  }
  log[size < limit ? size : limit] = '\0';
  return log;
}

/* Compiles the kernels of `e` into e->binary (no lock held). The source is
 * generated from the tree, so a compile error is the library's fault:
 * TP_ERR_INTERNAL with the start of NVRTC's log. */
static tp_status compile(const char *caller, const tp_expression *e,
                         cache_entry *entry) {
  int target = 0, cubin = 0;
  tp_status st = choose_target(caller, entry->arch, &target, &cubin);
  if (st != TP_SUCCESS)
    return st;
  char *source = NULL;
  st = tp_expression_cuda_source(e, entry->dtype, &source);
  if (st != TP_SUCCESS)
    return st;
  if (tp_expression_compile_hook)
    tp_expression_compile_hook(e->canonical);
  nvrtcProgram program;
  nvrtcResult res =
      nvrtcCreateProgram(&program, source, "tp_expression.cu", 0, NULL, NULL);
  free(source);
  if (res != NVRTC_SUCCESS)
    return nvrtc_fail(caller, "nvrtcCreateProgram", res);
  char arch_option[48];
  snprintf(arch_option, sizeof arch_option, "--gpu-architecture=%s_%d",
           cubin ? "sm" : "compute", target);
  /* No fused multiply-add: the host evaluator rounds every operation. */
  const char *options[] = {arch_option, "--fmad=false", "--std=c++17",
                           "--diag-suppress=177"};
  res = nvrtcCompileProgram(program, 4, options);
  if (res != NVRTC_SUCCESS) {
    char *log = program_log(program, 2000);
    st = tp_fail(res == NVRTC_ERROR_COMPILATION ? TP_ERR_INTERNAL : TP_ERR_CUDA,
                 "%s: NVRTC did not compile the kernel generated for \"%s\" "
                 "(%s, ndim %d, %s): %s: %s",
                 caller, e->canonical, tp_dtype_name(entry->dtype), e->ndim,
                 arch_option, nvrtcGetErrorString(res), log ? log : "(no log)");
    free(log);
    nvrtcDestroyProgram(&program);
    return st;
  }
  size_t size = 0;
  res = cubin ? nvrtcGetCUBINSize(program, &size)
              : nvrtcGetPTXSize(program, &size);
  char *binary = res == NVRTC_SUCCESS ? malloc(size ? size : 1) : NULL;
  if (res == NVRTC_SUCCESS && !binary) {
    nvrtcDestroyProgram(&program);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory for %zu bytes of code", caller, size);
  }
  if (res == NVRTC_SUCCESS)
    res = cubin ? nvrtcGetCUBIN(program, binary) : nvrtcGetPTX(program, binary);
  nvrtcDestroyProgram(&program);
  if (res != NVRTC_SUCCESS) {
    free(binary);
    return nvrtc_fail(caller, cubin ? "nvrtcGetCUBIN" : "nvrtcGetPTX", res);
  }
  entry->binary = binary;
  entry->binary_size = size;
  entry->is_cubin = cubin;
  entry->target = target;
  return TP_SUCCESS;
}

/* The entry of the key, READY, or the failure of its compilation. */
static tp_status lookup(const char *caller, const tp_expression *e,
                        tp_dtype dtype, int arch, cache_entry **out) {
  pthread_mutex_lock(&cache_lock);
  cache_entry *entry = find(e->canonical, dtype, e->ndim, arch);
  if (entry) {
    cache_stats.hits++;
    if (entry->state == READY) {
      pthread_mutex_unlock(&cache_lock);
      *out = entry;
      return TP_SUCCESS;
    }
    /* Being compiled by another thread: wait for it (the lock is released
     * while waiting). */
    entry->waiters++;
    while (entry->state == COMPILING)
      pthread_cond_wait(&entry->done, &cache_lock);
    entry->waiters--;
    if (entry->state == READY) {
      pthread_mutex_unlock(&cache_lock);
      *out = entry;
      return TP_SUCCESS;
    }
    tp_status st =
        tp_fail(entry->status, "%s",
                entry->message ? entry->message : "compilation failed");
    if (entry->waiters == 0)
      entry_free(entry); /* already out of the list */
    pthread_mutex_unlock(&cache_lock);
    return st;
  }
  entry = calloc(1, sizeof *entry);
  char *canonical = entry ? malloc(strlen(e->canonical) + 1) : NULL;
  if (!canonical) {
    free(entry);
    pthread_mutex_unlock(&cache_lock);
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for a cache entry",
                   caller);
  }
  strcpy(canonical, e->canonical);
  entry->canonical = canonical;
  entry->dtype = dtype;
  entry->ndim = e->ndim;
  entry->arch = arch;
  entry->state = COMPILING;
  pthread_cond_init(&entry->done, NULL);
  pthread_mutex_init(&entry->load_lock, NULL);
  entry->next = cache_head;
  cache_head = entry;
  cache_stats.compiles++;
  pthread_mutex_unlock(&cache_lock);

  tp_status st = compile(caller, e, entry);

  pthread_mutex_lock(&cache_lock);
  if (st == TP_SUCCESS) {
    entry->state = READY;
    cache_stats.entries++;
  } else {
    entry->state = FAILED;
    entry->status = st;
    const char *message = tp_last_error();
    entry->message = malloc(strlen(message) + 1);
    if (entry->message)
      strcpy(entry->message, message);
    cache_stats.failures++;
    for (cache_entry **p = &cache_head; *p; p = &(*p)->next)
      if (*p == entry) {
        *p = entry->next;
        break;
      }
  }
  pthread_cond_broadcast(&entry->done);
  if (st != TP_SUCCESS && entry->waiters == 0)
    entry_free(entry);
  pthread_mutex_unlock(&cache_lock);
  if (st != TP_SUCCESS)
    return st;
  *out = entry;
  return TP_SUCCESS;
}

/* Loads the entry's code once (its own lock, not the cache's). */
static tp_status load(const char *caller, cache_entry *e) {
  pthread_mutex_lock(&e->load_lock);
  tp_status st = TP_SUCCESS;
  if (!e->library) {
    cudaLibrary_t library = NULL;
    cudaError_t err =
        cudaLibraryLoadData(&library, e->binary, NULL, NULL, 0, NULL, NULL, 0);
    if (err == cudaSuccess)
      err =
          cudaLibraryGetKernel(&e->kernel32, library, TP_EXPRESSION_KERNEL_32);
    if (err == cudaSuccess)
      err =
          cudaLibraryGetKernel(&e->kernel64, library, TP_EXPRESSION_KERNEL_64);
    if (err == cudaSuccess) {
      e->library = library;
    } else {
      st = tp_fail_context(tp_cuda_fail(err, "loading an expression kernel"),
                           "%s: \"%s\"", caller, e->canonical);
      if (library)
        (void)cudaLibraryUnload(library);
    }
  }
  pthread_mutex_unlock(&e->load_lock);
  return st;
}

tp_status tp_expression_kernels(const char *caller, const tp_expression *e,
                                tp_dtype dtype, int arch, int load_it,
                                void **kernel32, void **kernel64) {
  if (kernel32)
    *kernel32 = NULL;
  if (kernel64)
    *kernel64 = NULL;
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", caller,
                   (int)dtype);
  cache_entry *entry = NULL;
  tp_status st = lookup(caller, e, dtype, arch, &entry);
  if (st == TP_SUCCESS && load_it) {
    st = load(caller, entry);
    if (st == TP_SUCCESS && kernel32)
      *kernel32 = (void *)entry->kernel32;
    if (st == TP_SUCCESS && kernel64)
      *kernel64 = (void *)entry->kernel64;
  }
  return st;
}

tp_status tp_expression_cached_binary(const tp_expression *e, tp_dtype dtype,
                                      int arch, int *is_cubin, int *target,
                                      size_t *bytes) {
  pthread_mutex_lock(&cache_lock);
  cache_entry *entry = find(e->canonical, dtype, e->ndim, arch);
  tp_status st = TP_SUCCESS;
  if (entry && entry->state == READY) {
    *is_cubin = entry->is_cubin;
    *target = entry->target;
    *bytes = entry->binary_size;
  } else {
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_expression_cached_binary: \"%s\" is not cached for %s, "
                 "ndim %d, architecture %d",
                 e->canonical, tp_dtype_name(dtype), e->ndim, arch);
  }
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
  static const char caller[] = "tp_device_expression_compile";
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", caller,
                   (int)dtype);
  tp_expression *e = NULL;
  tp_status st = tp_expression_parse_for(caller, expression, ndim, &e);
  if (st != TP_SUCCESS)
    return st;
  st = tp_expression_kernels(caller, e, dtype, current_arch(), 0, NULL, NULL);
  tp_expression_free(e);
  return st;
}

tp_status tp_device_expression_cache_clear(void) {
  tp_status first = TP_SUCCESS;
  pthread_mutex_lock(&cache_lock);
  /* Entries being compiled stay: their compiling thread owns them. */
  cache_entry **p = &cache_head;
  while (*p) {
    cache_entry *e = *p;
    if (e->state != READY) {
      p = &e->next;
      continue;
    }
    *p = e->next;
    if (e->library) {
      cudaError_t err = cudaLibraryUnload(e->library);
      if (err != cudaSuccess && first == TP_SUCCESS)
        first = tp_cuda_fail(err, "tp_device_expression_cache_clear: "
                                  "cudaLibraryUnload");
    }
    entry_free(e);
    cache_stats.entries--;
  }
  pthread_mutex_unlock(&cache_lock);
  return first;
}

#else /* no CUDA in this build */

tp_status tp_expression_kernels(const char *caller, const tp_expression *e,
                                tp_dtype dtype, int arch, int load_it,
                                void **kernel32, void **kernel64) {
  (void)e, (void)dtype, (void)arch, (void)load_it;
  if (kernel32)
    *kernel32 = NULL;
  if (kernel64)
    *kernel64 = NULL;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "%s: tensorpool was built without CUDA (no NVRTC)", caller);
}

tp_status tp_expression_cached_binary(const tp_expression *e, tp_dtype dtype,
                                      int arch, int *is_cubin, int *target,
                                      size_t *bytes) {
  (void)e, (void)dtype, (void)arch, (void)is_cubin, (void)target, (void)bytes;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "tp_expression_cached_binary: built without CUDA");
}

tp_status tp_device_expression_compile(const char *expression, tp_dtype dtype,
                                       int ndim) {
  static const char caller[] = "tp_device_expression_compile";
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", caller,
                   (int)dtype);
  tp_expression *e = NULL;
  tp_status st = tp_expression_parse_for(caller, expression, ndim, &e);
  if (st != TP_SUCCESS)
    return st;
  tp_expression_free(e);
  return tp_expression_kernels(caller, NULL, dtype, 90, 0, NULL, NULL);
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
