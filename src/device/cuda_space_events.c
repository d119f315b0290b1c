/* Stream-ordering primitives of the CUDA spaces: thin wrappers over CUDA
 * events, each run with the space's device current (an event belongs to the
 * device it was created on, and the NULL stream means the current device's
 * default stream). */
#include "device/cuda_space.h"

#if TP_HAVE_CUDA

#include "device/cuda_check.h"
#include "device/device_guard.h"

tp_status tp_cuda_event_create(void *ctx, tp_event *out) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("event_create", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaEvent_t event = NULL;
  /* Timing is never read; without it record and query are cheaper. */
  cudaError_t err = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaEventCreateWithFlags"),
                           "event_create on %s", s->name);
  atomic_fetch_add(&s->outstanding, 1);
  *out = event;
  return TP_SUCCESS;
}

tp_status tp_cuda_event_destroy(void *ctx, tp_event event) {
  tp_cuda_space *s = ctx;
  cudaError_t err = cudaEventDestroy((cudaEvent_t)event);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaEventDestroy"),
                           "event_destroy on %s", s->name);
  atomic_fetch_sub(&s->outstanding, 1);
  return TP_SUCCESS;
}

tp_status tp_cuda_event_record(void *ctx, tp_event event, tp_stream stream) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("event_record", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaEventRecord"),
                           "event_record on %s (stream %p)", s->name, stream);
  return TP_SUCCESS;
}

tp_status tp_cuda_stream_wait(void *ctx, tp_stream stream, tp_event event) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("stream_wait", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err =
      cudaStreamWaitEvent((cudaStream_t)stream, (cudaEvent_t)event, 0);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaStreamWaitEvent"),
                           "stream_wait on %s (stream %p)", s->name, stream);
  return TP_SUCCESS;
}

tp_status tp_cuda_event_query(void *ctx, tp_event event, bool *done) {
  tp_cuda_space *s = ctx;
  cudaError_t err = cudaEventQuery((cudaEvent_t)event);
  if (err == cudaSuccess) {
    *done = true;
    return TP_SUCCESS;
  }
  if (err == cudaErrorNotReady) { /* not a failure: the work is queued */
    *done = false;
    return TP_SUCCESS;
  }
  return tp_fail_context(tp_cuda_fail(err, "cudaEventQuery"),
                         "event_query on %s", s->name);
}

tp_status tp_cuda_stream_sync(void *ctx, tp_stream stream) {
  tp_cuda_space *s = ctx;
  tp_device_guard guard;
  tp_status st = tp_device_switch("stream_sync", s->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = cudaStreamSynchronize((cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaStreamSynchronize"),
                           "stream_sync on %s (stream %p)", s->name, stream);
  return TP_SUCCESS;
}

#endif /* TP_HAVE_CUDA */
