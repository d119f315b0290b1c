/* The provider of the device and pinned backends of a runtime. */
#include "core/error.h"
#include "device/cuda_backend.h"
#include "tensorpool/device.h"

typedef tp_status (*backend_maker)(tp_runtime *, int, tp_pool *, tp_backend **);

/* Creates and registers one backend unless the runtime has one. */
static tp_status add_one(tp_runtime *runtime, tp_space_kind kind, int device) {
  if (tp_runtime_backend(runtime, kind))
    return TP_SUCCESS;
  tp_pool *pool = NULL;
  tp_status st = kind == TP_SPACE_DEVICE ? tp_device_pool(device, &pool)
                                         : tp_pinned_pool(device, &pool);
  if (st != TP_SUCCESS)
    return st;
  backend_maker make = kind == TP_SPACE_DEVICE ? tp_device_backend_create
                                               : tp_pinned_backend_create;
  tp_backend *backend = NULL;
  st = make(runtime, device, pool, &backend);
  if (st != TP_SUCCESS)
    return st;
  st = tp_runtime_add_backend(runtime, backend);
  if (st != TP_SUCCESS)
    backend->ops->destroy(backend); /* the runtime did not take it */
  return st;
}

/* The provider's entry: a rank without a device (no GPU, or a build
 * without CUDA) gets no CUDA backend, and that is not an error. */
static tp_status add_cuda_backends(tp_runtime *runtime) {
  static const char caller[] = "tp_runtime_create: CUDA backends";
  int device = tp_runtime_device(runtime);
  if (device < 0)
    return TP_SUCCESS;
  tp_status st = add_one(runtime, TP_SPACE_PINNED, device);
  if (st == TP_SUCCESS)
    st = add_one(runtime, TP_SPACE_DEVICE, device);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: device %d", caller, device);
  return TP_SUCCESS;
}

const tp_backend_provider tp_cuda_backend_provider = {"cuda",
                                                      add_cuda_backends};
