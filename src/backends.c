/* The backend providers a runtime calls at creation, in order. This is the
 * one place that names each platform's folder; the runtime only walks the
 * table (src/runtime/backend.h). */
#include "device/cuda_backend.h"
#include "runtime/backend.h"

const tp_backend_provider *const tp_backend_providers[] = {
    &tp_cuda_backend_provider, NULL};
