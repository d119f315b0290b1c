/* The backend entries the device and pinned backends share: kernels,
 * copies and synchronization on the backend's device. */
#include <stdlib.h>

#include "core/error.h"
#include "device/cuda_backend.h"
#include "device/device_guard.h"
#include "device/device_pools.h"
#include "device/expression_kernel.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"

tp_status tp_cuda_backend_fill_constant(tp_backend *backend, void *dst,
                                        size_t count, tp_dtype dtype,
                                        const void *value, tp_stream stream) {
  if (count == 0)
    return TP_SUCCESS;
  return tp_device_fill_constant(backend->device, dst, dtype, count, value,
                                 stream);
}

tp_status tp_cuda_backend_fill_generator(tp_backend *backend, void *dst,
                                         const tp_layout *layout,
                                         const tp_tile *tile,
                                         const tp_generator *generator,
                                         tp_stream stream) {
  if (tile && tile->count == 0)
    return TP_SUCCESS;
  return tp_device_fill_generator(backend->device, dst, layout, tile, generator,
                                  stream);
}

tp_status
tp_cuda_backend_fill_expression(tp_backend *backend, void *dst,
                                const tp_layout *layout, const tp_tile *tile,
                                const struct tp_expression *expression,
                                tp_stream stream) {
  if (tile && tile->count == 0)
    return TP_SUCCESS;
  return tp_expression_fill_device("tp_cuda_backend_fill_expression",
                                   backend->device, dst, layout, tile,
                                   expression, stream);
}

tp_status tp_cuda_backend_copy(tp_backend *backend, void *dst, const void *src,
                               size_t bytes, tp_stream stream) {
  return tp_device_memcpy(backend->device, dst, src, bytes, stream);
}

tp_status tp_cuda_backend_sync(tp_backend *backend, tp_stream stream) {
  return tp_device_stream_synchronize(backend->device, stream);
}

void tp_cuda_backend_destroy(tp_backend *backend) {
  tp_cuda_backend *b = backend->ctx;
  tp_nccl_comm_destroy(b->nccl);
  /* The runtime checked that no block is live; a failure here is a device
   * error that the backend table's void destroy cannot return. It stays in
   * the thread's last-error message. */
  (void)tp_device_pool_release(backend->pool);
  free(b);
}

#if TP_HAVE_CUDA

#include "axpby.h"
#include "device/cuda_check.h"

tp_status tp_cuda_backend_axpby(tp_backend *backend, tp_dtype dtype,
                                size_t count, const void *alpha, const void *x,
                                const void *beta, const void *y, void *out,
                                tp_stream stream) {
  static const char caller[] = "tp_cuda_backend_axpby";
  if (count == 0)
    return TP_SUCCESS;
  if (!alpha || !x || !beta || !y || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL operand", caller);
  if (tp_dtype_size(dtype) == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown element type %d",
                   caller, (int)dtype);
  tp_device_guard guard;
  tp_status st = tp_device_enter(caller, backend->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = tp_kernel_axpby(dtype, count, alpha, x, beta, y, out,
                                    (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "axpby kernel launch"),
                           "%s: %zu %s elements on %s", caller, count,
                           tp_dtype_name(dtype), backend->name);
  return TP_SUCCESS;
}

#else

tp_status tp_cuda_backend_axpby(tp_backend *backend, tp_dtype dtype,
                                size_t count, const void *alpha, const void *x,
                                const void *beta, const void *y, void *out,
                                tp_stream stream) {
  (void)dtype, (void)count, (void)alpha, (void)x, (void)beta, (void)y;
  (void)out, (void)stream;
  return tp_device_check("tp_cuda_backend_axpby", backend->device);
}

#endif
