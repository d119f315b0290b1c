/* The backend providers a runtime calls at creation, in order. This is the
 * one place that names each platform's folder; the runtime only walks the
 * table (src/runtime/backend.h). */
#include <stdatomic.h>

#include "device/cuda_backend.h"
#include "runtime/runtime_internal.h"

/* A replacement for the device provider, set by tests only (NULL: none). */
static _Atomic(const tp_backend_provider *) replacement;

void tp_backend_providers_replace(const tp_backend_provider *provider) {
  atomic_store(&replacement, provider);
}

static tp_status add_device_backends(tp_runtime *runtime) {
  const tp_backend_provider *provider = atomic_load(&replacement);
  if (!provider)
    provider = &tp_cuda_backend_provider;
  return provider->add(runtime);
}

static const tp_backend_provider device_provider = {"device",
                                                    add_device_backends};

const tp_backend_provider *const tp_backend_providers[] = {&device_provider,
                                                           NULL};
