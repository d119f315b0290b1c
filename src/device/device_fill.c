/* Constant, generator and expression fills of device memory: argument
 * checks here, the work in kernels/ (or an NVRTC kernel). */
#include <stdint.h>

#include "core/error.h"
#include "device/device_guard.h"
#include "device/expression_kernel.h"
#include "device/tile_geometry.h"
#include "fill_walk.h"
#include "tensorpool/device_fill.h"

/* Elements must sit at their natural alignment (complex: that of a part),
 * as the kernels store whole words. */
static tp_status check_destination(const char *caller, void *dst,
                                   tp_dtype dtype, size_t count) {
  size_t size = tp_dtype_size(dtype);
  if (size == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", caller,
                   (int)dtype);
  if (!dst && count > 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: NULL destination for %zu elements", caller, count);
  size_t align = size > 8 ? 8 : size;
  if ((uintptr_t)dst % align != 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: destination %p is not aligned to %zu bytes for %s",
                   caller, dst, align, tp_dtype_name(dtype));
  return TP_SUCCESS;
}

#if TP_HAVE_CUDA

#include "device/cuda_check.h"
#include "fill_constant.h"
#include "fill_generator.h"
#include "launch_grid.h"

tp_status tp_device_fill_constant(int device, void *dst, tp_dtype dtype,
                                  size_t count, const void *value,
                                  tp_stream stream) {
  static const char caller[] = "tp_device_fill_constant";
  tp_status st = check_destination(caller, dst, dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!value)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL value", caller);
  tp_device_guard guard;
  st = tp_device_enter(caller, device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = tp_kernel_fill_constant(dst, count, tp_dtype_size(dtype),
                                            value, (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "fill kernel launch"),
                           "%s: %zu %s elements at %p on device %d", caller,
                           count, tp_dtype_name(dtype), dst, device);
  return TP_SUCCESS;
}

tp_status tp_device_fill_generator(int device, void *dst,
                                   const tp_layout *layout, const tp_tile *tile,
                                   const tp_generator *gen, tp_stream stream) {
  static const char caller[] = "tp_device_fill_generator";
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st != TP_SUCCESS)
    return st;
  st = check_destination(caller, dst, layout->dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!gen)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL generator", caller);
  st = tp_generator_check(gen, layout);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", caller);
  tp_device_guard guard;
  st = tp_device_enter(caller, device, &guard);
  if (st != TP_SUCCESS)
    return st;
  cudaError_t err = tp_kernel_fill_generator(dst, count, layout->dtype, gen,
                                             &geometry, (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "generator kernel launch"),
                           "%s: %s fill of %zu %s elements on device %d",
                           caller, tp_generator_kind_name(gen->kind), count,
                           tp_dtype_name(layout->dtype), device);
  return TP_SUCCESS;
}

/* Compute capability of `device` as 10 * major + minor. */
static tp_status device_arch(int device, int *arch) {
  int major = 0, minor = 0;
  cudaError_t err =
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor,
                                 device);
  if (err != cudaSuccess)
    return tp_cuda_fail(err, "cudaDeviceGetAttribute (compute capability)");
  *arch = 10 * major + minor;
  return TP_SUCCESS;
}

tp_status tp_expression_fill_device(const char *caller, int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const tp_expression *e,
                                    tp_stream stream) {
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st != TP_SUCCESS)
    return st;
  st = check_destination(caller, dst, layout->dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!e || e->ndim != layout->ndim)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: %s expression for a tensor of %d dimensions", caller,
                   e ? "a mismatched" : "NULL", layout->ndim);
  tp_device_guard guard;
  st = tp_device_enter(caller, device, &guard);
  if (st != TP_SUCCESS)
    return st;
  int arch = 0;
  void *narrow = NULL, *wide = NULL;
  st = device_arch(device, &arch);
  if (st == TP_SUCCESS)
    st = tp_expression_kernels(caller, e, layout->dtype, arch, 1, &narrow,
                               &wide);
  if (st != TP_SUCCESS || count == 0) {
    tp_device_leave(&guard);
    return st;
  }
  unsigned blocks = 1;
  cudaError_t err = tp_fill_blocks(count, &blocks);
  if (err == cudaSuccess) {
    tp_fill_walk walk;
    tp_fill_walk_make(&geometry, count, (uint64_t)blocks * TP_FILL_THREADS,
                      &walk);
    void *args[] = {&dst, &walk};
    dim3 grid = {blocks, 1, 1}, block = {TP_FILL_THREADS, 1, 1};
    /* A cudaKernel_t is accepted where a kernel symbol is expected. */
    err = cudaLaunchKernel((const void *)(walk.narrow ? narrow : wide), grid,
                           block, args, 0, (cudaStream_t)stream);
  }
  tp_device_leave(&guard);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaLaunchKernel"),
                           "%s: \"%s\" over %zu %s elements on device %d",
                           caller, e->canonical, count,
                           tp_dtype_name(layout->dtype), device);
  return TP_SUCCESS;
}

tp_status tp_device_fill_expression(int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const char *expression,
                                    tp_stream stream) {
  static const char caller[] = "tp_device_fill_expression";
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st == TP_SUCCESS)
    st = check_destination(caller, dst, layout->dtype, count);
  tp_expression *e = NULL;
  if (st == TP_SUCCESS)
    st = tp_expression_parse_for(caller, expression, layout->ndim, &e);
  if (st != TP_SUCCESS)
    return st;
  st = tp_expression_fill_device(caller, device, dst, layout, tile, e, stream);
  tp_expression_free(e);
  return st;
}

#else /* no CUDA in this build */

tp_status tp_device_fill_constant(int device, void *dst, tp_dtype dtype,
                                  size_t count, const void *value,
                                  tp_stream stream) {
  static const char caller[] = "tp_device_fill_constant";
  (void)stream;
  tp_status st = check_destination(caller, dst, dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!value)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL value", caller);
  return tp_device_check(caller, device);
}

tp_status tp_device_fill_generator(int device, void *dst,
                                   const tp_layout *layout, const tp_tile *tile,
                                   const tp_generator *gen, tp_stream stream) {
  static const char caller[] = "tp_device_fill_generator";
  (void)stream;
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st == TP_SUCCESS)
    st = check_destination(caller, dst, layout->dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!gen)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL generator", caller);
  st = tp_generator_check(gen, layout);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", caller);
  return tp_device_check(caller, device);
}

tp_status tp_expression_fill_device(const char *caller, int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const tp_expression *e,
                                    tp_stream stream) {
  (void)stream;
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st == TP_SUCCESS)
    st = check_destination(caller, dst, layout->dtype, count);
  if (st != TP_SUCCESS)
    return st;
  if (!e || e->ndim != layout->ndim)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: %s expression for a tensor of %d dimensions", caller,
                   e ? "a mismatched" : "NULL", layout->ndim);
  return tp_device_check(caller, device);
}

tp_status tp_device_fill_expression(int device, void *dst,
                                    const tp_layout *layout,
                                    const tp_tile *tile, const char *expression,
                                    tp_stream stream) {
  static const char caller[] = "tp_device_fill_expression";
  tp_fill_geometry geometry;
  size_t count = 0;
  tp_status st = tp_fill_geometry_make(caller, layout, tile, &geometry, &count);
  if (st == TP_SUCCESS)
    st = check_destination(caller, dst, layout->dtype, count);
  tp_expression *e = NULL;
  if (st == TP_SUCCESS)
    st = tp_expression_parse_for(caller, expression, layout->ndim, &e);
  if (st != TP_SUCCESS)
    return st;
  st = tp_expression_fill_device(caller, device, dst, layout, tile, e, stream);
  tp_expression_free(e);
  return st;
}

#endif
