/* Internal: turning CUDA runtime errors into tensorpool statuses, and
 * checking device ids. Only for files compiled with TP_HAVE_CUDA. */
#ifndef TP_DEVICE_CUDA_CHECK_H
#define TP_DEVICE_CUDA_CHECK_H

#if TP_HAVE_CUDA

#include <cuda_runtime_api.h>

#include "core/error.h"

/* Records "<what>: <CUDA error name> (<description>)" and returns
 * TP_ERR_CUDA, or TP_ERR_OUT_OF_MEMORY for cudaErrorMemoryAllocation (so the
 * pool engine can release its cache and retry), or TP_ERR_NO_DEVICE when the
 * error means there is no usable GPU. The CUDA sticky last-error is cleared
 * for non-sticky errors so later calls do not see it again. */
static inline tp_status tp_cuda_fail(cudaError_t err, const char *what) {
  (void)cudaGetLastError();
  tp_status status = TP_ERR_CUDA;
  if (err == cudaErrorMemoryAllocation)
    status = TP_ERR_OUT_OF_MEMORY;
  else if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver ||
           err == cudaErrorInvalidDevice)
    status = TP_ERR_NO_DEVICE;
  return tp_fail(status, "%s: %s (%s)", what, cudaGetErrorName(err),
                 cudaGetErrorString(err));
}

/* Whether a cudaGetDeviceCount error only means "no GPU here". */
static inline int tp_cuda_error_means_no_gpu(cudaError_t err) {
  return err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver ||
         err == cudaErrorSystemDriverMismatch ||
         err == cudaErrorCompatNotSupportedOnDevice ||
         err == cudaErrorInitializationError || err == cudaErrorNotSupported;
}

#endif /* TP_HAVE_CUDA */

#endif
