/* Registering the device and pinned backends with a runtime. */
#include "core/error.h"
#include "device/cuda_backend.h"
#include "tensorpool/device.h"

typedef tp_status (*backend_maker)(tp_runtime *, int, tp_pool *, tp_backend **);

/* Creates and registers one backend unless the runtime has one. */
static tp_status add_one(tp_runtime *runtime, tp_backend_kind kind,
                         int device) {
  if (tp_runtime_backend(runtime, kind))
    return TP_SUCCESS;
  tp_pool *pool = NULL;
  tp_status st = kind == TP_BACKEND_DEVICE ? tp_device_pool(device, &pool)
                                           : tp_pinned_pool(device, &pool);
  if (st != TP_SUCCESS)
    return st;
  backend_maker make = kind == TP_BACKEND_DEVICE ? tp_device_backend_create
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

tp_status tp_runtime_add_cuda_backends(tp_runtime *runtime) {
  static const char caller[] = "tp_runtime_add_cuda_backends";
  if (!runtime)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL runtime", caller);
  int device = tp_runtime_device(runtime);
  if (device < 0)
    return tp_fail(TP_ERR_NO_DEVICE,
                   "%s: rank %d of this runtime has no device (no GPU found "
                   "or a build without CUDA)",
                   caller, tp_runtime_rank(runtime));
  tp_status st = add_one(runtime, TP_BACKEND_PINNED, device);
  if (st == TP_SUCCESS)
    st = add_one(runtime, TP_BACKEND_DEVICE, device);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: device %d", caller, device);
  return TP_SUCCESS;
}
