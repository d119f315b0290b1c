/* Device count, memory figures, and the device guard. */
#include "tensorpool/device.h"

#include "core/error.h"
#include "device/cuda_check.h"
#include "device/device_guard.h"
#include "device/device_query.h"

#if TP_HAVE_CUDA

#include <cudaTypedefs.h>
#include <pthread.h>
#include <string.h>

tp_status tp_device_count(int *count) {
  if (!count)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_count: NULL out-pointer");
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (tp_cuda_error_means_no_gpu(err)) {
      *count = 0;
      return TP_SUCCESS;
    }
    return tp_cuda_fail(err, "tp_device_count: cudaGetDeviceCount");
  }
  *count = n;
  return TP_SUCCESS;
}

tp_status tp_device_check(const char *caller, int device) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return tp_fail(TP_ERR_NO_DEVICE,
                   "%s: no CUDA device for device %d (cudaGetDeviceCount: "
                   "%s: %s)",
                   caller, device, cudaGetErrorName(err),
                   cudaGetErrorString(err));
  }
  if (n == 0)
    return tp_fail(TP_ERR_NO_DEVICE,
                   "%s: no CUDA device present (asked for device %d)", caller,
                   device);
  if (device < 0 || device >= n)
    return tp_fail(TP_ERR_NO_DEVICE,
                   "%s: device %d out of range: %d device(s), ids 0..%d",
                   caller, device, n, n - 1);
  return TP_SUCCESS;
}

/* The driver's cuCtxGetCurrent and cuCtxSetCurrent, looked up once through
 * the runtime (no driver library is linked, so binaries still start on
 * machines without a driver). NULL when the lookup failed: the guard then
 * falls back to cudaGetDevice / cudaSetDevice. */
static PFN_cuCtxGetCurrent_v4000 ctx_get_current;
static PFN_cuCtxSetCurrent_v4000 ctx_set_current;
static pthread_once_t ctx_api_once = PTHREAD_ONCE_INIT;

static void *driver_entry(const char *symbol) {
  void *fn = NULL;
  enum cudaDriverEntryPointQueryResult found =
      cudaDriverEntryPointSymbolNotFound;
  /* Both symbols exist since CUDA 4.0; asking for the 12.0 ABI works with
   * every driver a CUDA 13 runtime accepts. */
  cudaError_t err = cudaGetDriverEntryPointByVersion(symbol, &fn, 12000,
                                                     cudaEnableDefault, &found);
  if (err != cudaSuccess || found != cudaDriverEntryPointSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  return fn;
}

static void load_ctx_api(void) {
  void *get = driver_entry("cuCtxGetCurrent");
  void *set = driver_entry("cuCtxSetCurrent");
  if (get && set) {
    ctx_get_current = (PFN_cuCtxGetCurrent_v4000)get;
    ctx_set_current = (PFN_cuCtxSetCurrent_v4000)set;
  }
}

/* The calling thread's current context through the driver: *known = 0 when
 * the driver entry points are not there. */
static void current_context(CUcontext *ctx, int *known) {
  pthread_once(&ctx_api_once, load_ctx_api);
  *ctx = NULL;
  *known = 0;
  if (!ctx_get_current)
    return;
  if (ctx_get_current(ctx) != CUDA_SUCCESS) {
    *ctx = NULL;
    return;
  }
  *known = 1;
}

tp_status tp_device_current(int *device) {
  CUcontext ctx;
  int known;
  current_context(&ctx, &known);
  *device = -1;
  if (known && !ctx)
    return TP_SUCCESS; /* the thread never chose a device */
  /* A context is current (or we cannot tell): cudaGetDevice names its
   * device without creating anything. */
  cudaError_t err = cudaGetDevice(device);
  if (err != cudaSuccess) {
    *device = -1;
    return tp_cuda_fail(err, "tp_device_current: cudaGetDevice");
  }
  return TP_SUCCESS;
}

tp_status tp_device_switch(const char *caller, int device,
                           tp_device_guard *guard) {
  guard->previous_context = NULL;
  guard->previous_device = -1;
  guard->switched = 0;
  guard->by_context = 0;
  CUcontext ctx;
  int known;
  current_context(&ctx, &known);
  cudaError_t err;
  if (!known || ctx) {
    /* Something is current: nothing to do when it is `device` already. */
    err = cudaGetDevice(&guard->previous_device);
    if (err != cudaSuccess)
      return tp_fail_context(tp_cuda_fail(err, "cudaGetDevice"), "%s", caller);
    if (guard->previous_device == device)
      return TP_SUCCESS;
  }
  err = cudaSetDevice(device);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaSetDevice"), "%s: device %d",
                           caller, device);
  guard->switched = 1;
  guard->by_context = known;
  guard->previous_context = ctx;
  return TP_SUCCESS;
}

tp_status tp_device_enter(const char *caller, int device,
                          tp_device_guard *guard) {
  guard->previous_context = NULL;
  guard->previous_device = -1;
  guard->switched = 0;
  guard->by_context = 0;
  tp_status st = tp_device_check(caller, device);
  if (st != TP_SUCCESS)
    return st;
  return tp_device_switch(caller, device, guard);
}

void tp_device_leave(tp_device_guard *guard) {
  if (!guard->switched)
    return;
  /* Restoring what was current a moment ago cannot fail in a way the
   * caller could act on; the result is deliberately not reported. A NULL
   * context unbinds the one the switch made current, so a thread that had
   * chosen nothing is left with nothing chosen. */
  if (guard->by_context)
    (void)ctx_set_current((CUcontext)guard->previous_context);
  else
    (void)cudaSetDevice(guard->previous_device);
  guard->switched = 0;
}

tp_status tp_device_uuid(int device, unsigned char uuid[16]) {
  tp_status st = tp_device_check("tp_device_uuid", device);
  if (st != TP_SUCCESS)
    return st;
  struct cudaDeviceProp prop;
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaGetDeviceProperties"),
                           "tp_device_uuid: device %d", device);
  memcpy(uuid, prop.uuid.bytes, 16);
  return TP_SUCCESS;
}

tp_status tp_device_memory_info(int device, size_t *free_bytes,
                                size_t *total_bytes) {
  if (!free_bytes || !total_bytes)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_memory_info: NULL out-pointer (free %p, total "
                   "%p)",
                   (void *)free_bytes, (void *)total_bytes);
  tp_device_guard guard;
  tp_status st = tp_device_enter("tp_device_memory_info", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  size_t free_now = 0, total = 0;
  cudaError_t err = cudaMemGetInfo(&free_now, &total);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaMemGetInfo"),
                           "tp_device_memory_info: device %d", device);
  *free_bytes = free_now;
  *total_bytes = total;
  return TP_SUCCESS;
}

#else /* no CUDA in this build */

tp_status tp_device_count(int *count) {
  if (!count)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_count: NULL out-pointer");
  *count = 0;
  return TP_SUCCESS;
}

tp_status tp_device_check(const char *caller, int device) {
  return tp_fail(TP_ERR_NO_DEVICE,
                 "%s: no CUDA device for device %d: tensorpool was built "
                 "without CUDA",
                 caller, device);
}

tp_status tp_device_current(int *device) {
  *device = -1;
  return TP_SUCCESS;
}

tp_status tp_device_uuid(int device, unsigned char uuid[16]) {
  (void)uuid;
  return tp_device_check("tp_device_uuid", device);
}

tp_status tp_device_enter(const char *caller, int device,
                          tp_device_guard *guard) {
  guard->previous_context = NULL;
  guard->previous_device = -1;
  guard->switched = 0;
  guard->by_context = 0;
  return tp_device_check(caller, device);
}

tp_status tp_device_switch(const char *caller, int device,
                           tp_device_guard *guard) {
  return tp_device_enter(caller, device, guard);
}

void tp_device_leave(tp_device_guard *guard) {
  guard->switched = 0;
}

tp_status tp_device_memory_info(int device, size_t *free_bytes,
                                size_t *total_bytes) {
  if (!free_bytes || !total_bytes)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_memory_info: NULL out-pointer (free %p, total "
                   "%p)",
                   (void *)free_bytes, (void *)total_bytes);
  return tp_device_check("tp_device_memory_info", device);
}

#endif
