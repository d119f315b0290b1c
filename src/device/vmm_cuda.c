/* The VMM device space: vmm_space.c over CUDA's virtual memory management.
 * The driver functions (cuMemAddressReserve, cuMemCreate, cuMemMap,
 * cuMemSetAccess, cuMemUnmap, cuMemRelease, cuMemAddressFree) are fetched at
 * run time through the runtime's cudaGetDriverEntryPointByVersion: the
 * library links only the runtime, so that it loads on machines without a
 * driver. Events and streams are those of a plain device space of the same
 * device, which the VMM space owns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "device/device_guard.h"
#include "device/vmm_space.h"
#include "tensorpool/device.h"

static const char create_fn[] = "tp_device_vmm_space_create";

#if TP_HAVE_CUDA

#include <cuda.h>

#include "device/cuda_check.h"

/* The driver entry points, by the CUDA version whose signatures they have
 * (12.0: every one of them exists since 10.2 with these prototypes). */
#define TP_VMM_DRIVER_VERSION 12000

typedef struct vmm_cuda {
  int device;
  size_t granule;
  CUmemAllocationProp prop;
  CUmemAccessDesc access;
  tp_space *events; /* a plain device space: events and streams */
  tp_vmm_driver driver;
  CUresult (*reserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr,
                      unsigned long long);
  CUresult (*address_free)(CUdeviceptr, size_t);
  CUresult (*create)(CUmemGenericAllocationHandle *, size_t,
                     const CUmemAllocationProp *, unsigned long long);
  CUresult (*release)(CUmemGenericAllocationHandle);
  CUresult (*map)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle,
                  unsigned long long);
  CUresult (*unmap)(CUdeviceptr, size_t);
  CUresult (*set_access)(CUdeviceptr, size_t, const CUmemAccessDesc *, size_t);
  CUresult (*granularity)(size_t *, const CUmemAllocationProp *,
                          CUmemAllocationGranularity_flags);
  CUresult (*attribute)(int *, CUdevice_attribute, CUdevice);
  CUresult (*error_name)(CUresult, const char **);
} vmm_cuda;

static tp_status driver_fail(vmm_cuda *c, CUresult r, const char *what) {
  const char *name = "unknown CUresult";
  if (c->error_name)
    c->error_name(r, &name);
  return tp_fail(r == CUDA_ERROR_OUT_OF_MEMORY ? TP_ERR_OUT_OF_MEMORY
                                               : TP_ERR_CUDA,
                 "device %d: %s: %s (%d)", c->device, what, name, (int)r);
}

/* Every driver call runs with the device's primary context current. */
#define WITH_DEVICE(c, what, call)                                             \
  do {                                                                         \
    tp_device_guard guard_;                                                    \
    tp_status st_ = tp_device_switch(what, (c)->device, &guard_);              \
    if (st_ != TP_SUCCESS)                                                     \
      return st_;                                                              \
    CUresult r_ = (call);                                                      \
    tp_device_leave(&guard_);                                                  \
    if (r_ != CUDA_SUCCESS)                                                    \
      return driver_fail((c), r_, what);                                       \
  } while (0)

static tp_status cu_reserve(void *ctx, size_t bytes, uintptr_t *out) {
  vmm_cuda *c = ctx;
  CUdeviceptr va = 0;
  WITH_DEVICE(c, "cuMemAddressReserve", c->reserve(&va, bytes, 0, 0, 0));
  *out = (uintptr_t)va;
  return TP_SUCCESS;
}

static tp_status cu_unreserve(void *ctx, uintptr_t va, size_t bytes) {
  vmm_cuda *c = ctx;
  WITH_DEVICE(c, "cuMemAddressFree", c->address_free((CUdeviceptr)va, bytes));
  return TP_SUCCESS;
}

static tp_status cu_create(void *ctx, size_t bytes, uint64_t *handle) {
  vmm_cuda *c = ctx;
  CUmemGenericAllocationHandle h = 0;
  WITH_DEVICE(c, "cuMemCreate", c->create(&h, bytes, &c->prop, 0));
  *handle = (uint64_t)h;
  return TP_SUCCESS;
}

static tp_status cu_release(void *ctx, uint64_t handle) {
  vmm_cuda *c = ctx;
  WITH_DEVICE(c, "cuMemRelease",
              c->release((CUmemGenericAllocationHandle)handle));
  return TP_SUCCESS;
}

static tp_status cu_map(void *ctx, uintptr_t va, size_t bytes,
                        uint64_t handle) {
  vmm_cuda *c = ctx;
  WITH_DEVICE(c, "cuMemMap",
              c->map((CUdeviceptr)va, bytes, 0,
                     (CUmemGenericAllocationHandle)handle, 0));
  tp_device_guard guard;
  tp_status st = tp_device_switch("cuMemSetAccess", c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  CUresult r = c->set_access((CUdeviceptr)va, bytes, &c->access, 1);
  if (r != CUDA_SUCCESS)
    c->unmap((CUdeviceptr)va, bytes);
  tp_device_leave(&guard);
  return r == CUDA_SUCCESS ? TP_SUCCESS : driver_fail(c, r, "cuMemSetAccess");
}

static tp_status cu_unmap(void *ctx, uintptr_t va, size_t bytes) {
  vmm_cuda *c = ctx;
  WITH_DEVICE(c, "cuMemUnmap", c->unmap((CUdeviceptr)va, bytes));
  return TP_SUCCESS;
}

/* Fetches one driver function; false with a message if it is missing. */
static bool fetch(const char *symbol, void *fn_ptr, size_t fn_size) {
  void *fn = NULL;
  enum cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSuccess;
  cudaError_t err = cudaGetDriverEntryPointByVersion(
      symbol, &fn, TP_VMM_DRIVER_VERSION, cudaEnableDefault, &found);
  if (err != cudaSuccess || found != cudaDriverEntryPointSuccess || !fn) {
    (void)cudaGetLastError();
    tp_fail(TP_ERR_NOT_SUPPORTED,
            "%s: the CUDA driver has no %s (virtual memory management)",
            create_fn, symbol);
    return false;
  }
  memcpy(fn_ptr, &fn, fn_size);
  return true;
}

#define FETCH(c, field, symbol) fetch(symbol, &(c)->field, sizeof((c)->field))

static tp_status load_driver(vmm_cuda *c) {
  bool ok = FETCH(c, reserve, "cuMemAddressReserve") &&
            FETCH(c, address_free, "cuMemAddressFree") &&
            FETCH(c, create, "cuMemCreate") &&
            FETCH(c, release, "cuMemRelease") && FETCH(c, map, "cuMemMap") &&
            FETCH(c, unmap, "cuMemUnmap") &&
            FETCH(c, set_access, "cuMemSetAccess") &&
            FETCH(c, granularity, "cuMemGetAllocationGranularity") &&
            FETCH(c, attribute, "cuDeviceGetAttribute") &&
            FETCH(c, error_name, "cuGetErrorName");
  return ok ? TP_SUCCESS : TP_ERR_NOT_SUPPORTED;
}

static tp_status setup(vmm_cuda *c, tp_vmm_space_settings *settings) {
  tp_status st = load_driver(c);
  if (st != TP_SUCCESS)
    return st;
  tp_device_guard guard;
  st = tp_device_switch(create_fn, c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  /* The runtime creates the primary context on its first call. */
  cudaError_t err = cudaFree(NULL);
  int supported = 0;
  CUresult r = c->attribute(
      &supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
      (CUdevice)c->device);
  c->prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  c->prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  c->prop.location.id = c->device;
  c->access.location = c->prop.location;
  c->access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  if (err == cudaSuccess && r == CUDA_SUCCESS && supported)
    r = c->granularity(&c->granule, &c->prop,
                       CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
  size_t free_bytes = 0, total = 0;
  if (err == cudaSuccess)
    err = cudaMemGetInfo(&free_bytes, &total);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaMemGetInfo"), create_fn);
  if (r != CUDA_SUCCESS)
    return tp_fail_context(driver_fail(c, r, "querying VMM support"),
                           create_fn);
  if (!supported)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: device %d does not support virtual memory management",
                   create_fn, c->device);
  /* A segment may grow to the whole device: address space is plentiful. */
  settings->granule = c->granule;
  settings->reserve_bytes = total;
  return TP_SUCCESS;
}

tp_status tp_device_vmm_space_create(int device, tp_space **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out-pointer", create_fn);
  *out = NULL;
  tp_status st = tp_device_check(create_fn, device);
  if (st != TP_SUCCESS)
    return st;
  vmm_cuda *c = calloc(1, sizeof *c);
  if (!c)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory", create_fn);
  c->device = device;
  char name[24]; /* copied by the space */
  snprintf(name, sizeof name, "vmm:%d", device);
  tp_vmm_space_settings settings = {0, 0, TP_SPACE_DEVICE, device, name};
  st = setup(c, &settings);
  if (st == TP_SUCCESS)
    st = tp_device_space_create(device, NULL, &c->events);
  if (st == TP_SUCCESS) {
    c->driver = (tp_vmm_driver){c,          cu_reserve, cu_unreserve, cu_create,
                                cu_release, cu_map,     cu_unmap};
    st = tp_vmm_space_create_with(&c->driver, c->events, &settings, out);
  }
  if (st != TP_SUCCESS) {
    if (c->events)
      tp_device_space_destroy(c->events);
    free(c);
  }
  return st;
}

tp_status tp_device_vmm_space_destroy(tp_space *space) {
  if (!space)
    return TP_SUCCESS;
  tp_vmm_counts counts;
  if (!tp_vmm_space_counts(space, &counts))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_device_vmm_space_destroy: not a VMM device space");
  /* The driver table's context, reached before the space goes. */
  vmm_cuda *c = NULL;
  const tp_vmm_driver *d = NULL;
  tp_status st = tp_vmm_space_driver(space, &d);
  if (st == TP_SUCCESS)
    c = d->ctx;
  if (st == TP_SUCCESS)
    st = tp_vmm_space_destroy_with(space);
  if (st != TP_SUCCESS)
    return st;
  tp_device_space_destroy(c->events);
  free(c);
  return TP_SUCCESS;
}

#else /* no CUDA */

tp_status tp_device_vmm_space_create(int device, tp_space **out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL out-pointer", create_fn);
  *out = NULL;
  return tp_device_check(create_fn, device);
}

tp_status tp_device_vmm_space_destroy(tp_space *space) {
  if (!space)
    return TP_SUCCESS;
  return tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "tp_device_vmm_space_destroy: not a VMM device space (this "
                 "build has no CUDA)");
}

#endif
