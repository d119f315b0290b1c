/* libtensorpool_torch.so: tensorpool's stream-ordered device pools as
 * PyTorch's CUDA allocator, through
 *
 *   torch.cuda.memory.CUDAPluggableAllocator(path, "tp_torch_alloc",
 *                                            "tp_torch_free")
 *
 * Each device gets the process-wide shared pool of tensorpool (the pool a
 * runtime on that device allocates from), configured once, at the first
 * allocation, from TP_TORCH_ALLOC_CONF (torch_conf.h). A block freed on the
 * stream it was allocated on is reused on that stream at once; PyTorch
 * passes that stream to free. (PyTorch's record_stream has no hook in a
 * pluggable allocator: a block used on another stream must be synchronized
 * by the caller before it is freed, as with any pluggable allocator.)
 *
 * The library links tensorpool statically: it has its own pools, and
 * exports only the tp_torch_* functions. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tensorpool/device.h"
#include "tensorpool/pool.h"
#include "torch_conf.h"

#define TP_TORCH_API __attribute__((visibility("default")))

/* Exported: for PyTorch and for drivers that read the figures (ctypes). */
TP_TORCH_API void *tp_torch_alloc(size_t size, int device, tp_stream stream);
TP_TORCH_API void tp_torch_free(void *ptr, size_t size, int device,
                                tp_stream stream);
TP_TORCH_API int tp_torch_pool_stats(int device, tp_pool_stats *out);
TP_TORCH_API int tp_torch_reset_peaks(int device);
TP_TORCH_API void tp_torch_print_stats(void);

/* Devices a process can use: more than PyTorch sees on one node. */
#define TP_TORCH_MAX_DEVICES 64

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int configured; /* 1: the configuration was read and applied */
static tp_torch_conf conf;
static tp_pool_config pool_config = TP_POOL_CONFIG_INIT;
/* Pools used so far, for the printout at exit. Threads racing on a
 * device's first allocation all store the same pointer (tp_device_pool
 * gives one pool per device), which then lives until exit. */
static tp_pool *_Atomic used[TP_TORCH_MAX_DEVICES];

static void print_line(void *user, const char *line) {
  (void)user;
  fprintf(stderr, "tensorpool_torch: %s\n", line);
}

void tp_torch_print_stats(void) {
  for (int d = 0; d < TP_TORCH_MAX_DEVICES; ++d)
    if (used[d])
      tp_pool_print_stats(used[d], print_line, NULL);
}

static void configure(void) {
  char error[256];
  if (tp_torch_conf_parse(getenv("TP_TORCH_ALLOC_CONF"), &conf, error,
                          sizeof error) != 0) {
    fprintf(stderr,
            "tensorpool_torch: TP_TORCH_ALLOC_CONF: %s; every allocation "
            "will fail\n",
            error);
    return;
  }
  pool_config.limit = conf.limit;
  pool_config.max_cached_bytes = conf.max_cached;
  pool_config.max_buffers_per_bucket = conf.max_cached_blocks;
  pool_config.divisions = conf.divisions;
  pool_config.event_log_path = conf.event_log[0] ? conf.event_log : NULL;
  tp_device_pool_config device_config = TP_DEVICE_POOL_CONFIG_INIT;
  device_config.pool = &pool_config;
  device_config.upstream = conf.upstream;
  if (tp_device_pools_configure(&device_config) != TP_SUCCESS) {
    fprintf(stderr, "tensorpool_torch: %s\n", tp_last_error());
    return;
  }
  if (conf.print_stats)
    atexit(tp_torch_print_stats);
  configured = 1;
}

/* The pool of `device`, or NULL (with the reason on stderr). */
static tp_pool *pool_of(int device) {
  pthread_once(&once, configure);
  if (!configured)
    return NULL;
  if (device < 0 || device >= TP_TORCH_MAX_DEVICES) {
    fprintf(stderr, "tensorpool_torch: device %d is out of range\n", device);
    return NULL;
  }
  tp_pool *pool = used[device];
  if (pool)
    return pool;
  if (tp_device_pool(device, &pool) != TP_SUCCESS) {
    fprintf(stderr, "tensorpool_torch: %s\n", tp_last_error());
    return NULL;
  }
  used[device] = pool;
  return pool;
}

void *tp_torch_alloc(size_t size, int device, tp_stream stream) {
  if (size == 0)
    return NULL; /* PyTorch's own allocator gives no memory for 0 bytes */
  tp_pool *pool = pool_of(device);
  if (!pool)
    return NULL;
  void *ptr = NULL;
  if (tp_pool_alloc(pool, size, stream, &ptr) != TP_SUCCESS) {
    /* PyTorch turns NULL into its out-of-memory error; say why here. */
    fprintf(stderr, "tensorpool_torch: %s\n", tp_last_error());
    return NULL;
  }
  return ptr;
}

void tp_torch_free(void *ptr, size_t size, int device, tp_stream stream) {
  (void)size;
  if (!ptr)
    return;
  tp_pool *pool = pool_of(device);
  if (!pool || tp_pool_free(pool, ptr, stream) != TP_SUCCESS)
    fprintf(stderr, "tensorpool_torch: free of %p on device %d: %s\n", ptr,
            device, tp_last_error());
}

int tp_torch_pool_stats(int device, tp_pool_stats *out) {
  tp_pool *pool = pool_of(device);
  return pool ? (int)tp_pool_get_stats(pool, out) : (int)TP_ERR_NO_DEVICE;
}

int tp_torch_reset_peaks(int device) {
  tp_pool *pool = pool_of(device);
  return pool ? (int)tp_pool_reset_peaks(pool) : (int)TP_ERR_NO_DEVICE;
}
