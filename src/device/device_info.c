/* Device count, memory figures, and the device guard. */
#include "tensorpool/device.h"

#include "core/error.h"
#include "device/cuda_check.h"
#include "device/device_guard.h"

#if TP_HAVE_CUDA

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

tp_status tp_device_switch(const char *caller, int device,
                           tp_device_guard *guard) {
  guard->previous = -1;
  guard->switched = 0;
  cudaError_t err = cudaGetDevice(&guard->previous);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaGetDevice"), "%s", caller);
  if (guard->previous != device) {
    err = cudaSetDevice(device);
    if (err != cudaSuccess)
      return tp_fail_context(tp_cuda_fail(err, "cudaSetDevice"),
                             "%s: device %d", caller, device);
    guard->switched = 1;
  }
  return TP_SUCCESS;
}

tp_status tp_device_enter(const char *caller, int device,
                          tp_device_guard *guard) {
  guard->previous = -1;
  guard->switched = 0;
  tp_status st = tp_device_check(caller, device);
  if (st != TP_SUCCESS)
    return st;
  return tp_device_switch(caller, device, guard);
}

void tp_device_leave(tp_device_guard *guard) {
  if (guard->switched) {
    /* Restoring a device that was valid a moment ago cannot fail in a way
     * the caller could act on; the result is deliberately not reported. */
    (void)cudaSetDevice(guard->previous);
    guard->switched = 0;
  }
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

tp_status tp_device_enter(const char *caller, int device,
                          tp_device_guard *guard) {
  guard->previous = -1;
  guard->switched = 0;
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
