/* Streams of a device and copies between spaces, so that users and tests
 * need no CUDA header for the common steps. */
#include "core/error.h"
#include "device/device_guard.h"
#include "device/device_pools.h"

/* The checks of tp_device_memcpy that need no device, the same in every
 * build; *nothing = 1 when there is nothing to copy. */
static tp_status check_memcpy(void *dst, const void *src, size_t bytes,
                              int *nothing) {
  *nothing = bytes == 0;
  if (bytes == 0)
    return TP_SUCCESS;
  if (!dst || !src)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_memcpy: NULL pointer (dst %p, src %p) for %zu "
                   "bytes",
                   dst, src, bytes);
  return TP_SUCCESS;
}

#if TP_HAVE_CUDA

#include "device/cuda_check.h"

tp_status tp_device_stream_create(int device, tp_stream *out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_stream_create: NULL out-pointer");
  tp_device_guard guard;
  tp_status st = tp_device_enter("tp_device_stream_create", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaStream_t stream = NULL;
  cudaError_t err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaStreamCreateWithFlags"),
                           "tp_device_stream_create: device %d", device);
  *out = stream;
  return TP_SUCCESS;
}

tp_status tp_device_stream_destroy(int device, tp_stream stream) {
  if (!stream)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_stream_destroy: the NULL (default) stream "
                   "cannot be destroyed");
  tp_device_guard guard;
  tp_status st = tp_device_enter("tp_device_stream_destroy", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  /* The pools must stop handing the stream's blocks out under its name
   * before the handle can be reused by a new stream. */
  st = tp_device_pools_forget_stream(device, stream);
  if (st != TP_SUCCESS) {
    tp_device_leave(&guard);
    return tp_fail_context(st, "tp_device_stream_destroy: device %d", device);
  }
  cudaError_t err = cudaStreamDestroy((cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaStreamDestroy"),
                           "tp_device_stream_destroy: device %d", device);
  return TP_SUCCESS;
}

tp_status tp_device_stream_synchronize(int device, tp_stream stream) {
  tp_device_guard guard;
  tp_status st =
      tp_device_enter("tp_device_stream_synchronize", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = cudaStreamSynchronize((cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaStreamSynchronize"),
                           "tp_device_stream_synchronize: device %d", device);
  return TP_SUCCESS;
}

tp_status tp_device_memcpy(int device, void *dst, const void *src, size_t bytes,
                           tp_stream stream) {
  int nothing;
  tp_status st = check_memcpy(dst, src, bytes, &nothing);
  if (st != TP_SUCCESS || nothing)
    return st;
  tp_device_guard guard;
  st = tp_device_enter("tp_device_memcpy", device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err =
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaMemcpyAsync"),
                           "tp_device_memcpy: %zu bytes from %p to %p on "
                           "device %d",
                           bytes, src, dst, device);
  return TP_SUCCESS;
}

#else /* no CUDA in this build */

tp_status tp_device_stream_create(int device, tp_stream *out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_stream_create: NULL out-pointer");
  return tp_device_check("tp_device_stream_create", device);
}

tp_status tp_device_stream_destroy(int device, tp_stream stream) {
  if (!stream)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_stream_destroy: the NULL (default) stream "
                   "cannot be destroyed");
  return tp_device_check("tp_device_stream_destroy", device);
}

tp_status tp_device_stream_synchronize(int device, tp_stream stream) {
  (void)stream;
  return tp_device_check("tp_device_stream_synchronize", device);
}

tp_status tp_device_memcpy(int device, void *dst, const void *src, size_t bytes,
                           tp_stream stream) {
  (void)stream;
  int nothing;
  tp_status st = check_memcpy(dst, src, bytes, &nothing);
  if (st != TP_SUCCESS || nothing)
    return st;
  return tp_device_check("tp_device_memcpy", device);
}

#endif
