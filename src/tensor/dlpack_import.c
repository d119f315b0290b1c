/* DLPack import: a local buffer that is a view of a DLPack tensor. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_view.h"
#include "tensor/dlpack_internal.h"

/* The memory of a GPU (or page-locked memory a GPU may still be copying)
 * is handed back only after the view's stream is done: the producer's
 * deleter is not stream-ordered. */
static tp_status wait_for_stream(tp_buffer *b) {
  const tp_space *space = tp_buffer_space(b);
  if (space->kind == TP_SPACE_HOST)
    return TP_SUCCESS;
  tp_status st = space->ops->stream_sync(space->ctx, b->stream);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_buffer_destroy: waiting for the stream of "
                               "a DLPack view before its deleter");
  return TP_SUCCESS;
}

static tp_status release_versioned(tp_buffer *b) {
  tp_status st = wait_for_stream(b);
  tp_dlpack_managed_tensor_versioned *t = b->release_ctx;
  if (t->deleter)
    t->deleter(t);
  return st;
}

static tp_status release_legacy(tp_buffer *b) {
  tp_status st = wait_for_stream(b);
  tp_dlpack_managed_tensor *t = b->release_ctx;
  if (t->deleter)
    t->deleter(t);
  return st;
}

/* The layout of `t` (every check on shape, strides and dtype). */
static tp_status describe(const char *fn, const tp_dlpack_tensor *t,
                          tp_layout *layout) {
  if (t->ndim < 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: ndim %" PRId32 " < 0", fn,
                   t->ndim);
  if (t->ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: %" PRId32 " axes (tensorpool has at most %d)", fn,
                   t->ndim, TP_MAX_NDIM);
  if (t->ndim > 0 && !t->shape)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: NULL shape for %" PRId32 " axes", fn, t->ndim);
  tp_dtype dtype;
  if (!tp_dtype_of_dlpack(t->dtype, &dtype))
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: no tensorpool type for DLPack type code %u, %u bits, "
                   "%u lanes (supported, one lane: float 16/32/64, bfloat 16, "
                   "complex 64/128, int 8/32/64, uint 8, bool 8)",
                   fn, (unsigned)t->dtype.code, (unsigned)t->dtype.bits,
                   (unsigned)t->dtype.lanes);
  for (int k = 0; k < t->ndim; ++k)
    if (t->shape[k] < 0)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: extent %" PRId64 " < 0 on axis %d", fn, t->shape[k],
                     k);
  tp_status st = tp_layout_make(dtype, t->ndim, t->shape, layout);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  size_t count;
  tp_layout_count(layout, &count);
  /* Strides of axes of extent 1 do not matter, nor any of an empty tensor. */
  if (t->strides && count > 0) {
    int64_t expected = 1;
    for (int k = t->ndim - 1; k >= 0; --k) {
      if (t->shape[k] != 1 && t->strides[k] != expected)
        return tp_fail(TP_ERR_NOT_SUPPORTED,
                       "%s: axis %d has stride %" PRId64 " where a compact "
                       "row-major tensor has %" PRId64
                       " (buffers are contiguous: copy it first)",
                       fn, k, t->strides[k], expected);
      expected *= t->shape[k];
    }
  }
  return TP_SUCCESS;
}

/* The runtime's space for the tensor's device. */
static tp_status space_of(const char *fn, const tp_runtime *rt,
                          tp_dlpack_device device, tp_space_kind *out) {
  switch (device.device_type) {
  case TP_DLPACK_DEVICE_CPU: *out = TP_SPACE_HOST; return TP_SUCCESS;
  case TP_DLPACK_DEVICE_CUDA_HOST: *out = TP_SPACE_PINNED; break;
  case TP_DLPACK_DEVICE_CUDA: *out = TP_SPACE_DEVICE; break;
  default:
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: DLPack device type %" PRId32
                   " is not one tensorpool has (CPU 1, CUDA 2, CUDA host 3)",
                   fn, device.device_type);
  }
  /* status.h's one rule, as tp_runtime_allocator applies it: a space the
   * runtime's configuration disabled is TP_ERR_NOT_SUPPORTED, GPU or not. */
  if (!tp_runtime_has_backend(rt, *out))
    return tp_runtime_missing_backend(rt, fn, *out);
  if (*out == TP_SPACE_DEVICE && device.device_id != tp_runtime_device(rt))
    return tp_fail(TP_ERR_MISMATCH,
                   "%s: the tensor is on CUDA device %" PRId32
                   ", the runtime uses device %d",
                   fn, device.device_id, tp_runtime_device(rt));
  return TP_SUCCESS;
}

static tp_status import_tensor(const char *fn, tp_runtime *rt,
                               const tp_dlpack_tensor *t, tp_stream stream,
                               tp_status (*release)(tp_buffer *), void *ctx,
                               tp_buffer **out) {
  tp_layout layout;
  tp_status st = describe(fn, t, &layout);
  if (st != TP_SUCCESS)
    return st;
  size_t bytes;
  tp_layout_bytes(&layout, &bytes);
  if (bytes > 0 && !t->data)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL data for %zu bytes", fn,
                   bytes);
  /* The offset and the bytes after it must lie within one object and the
   * address space: no object spans more than PTRDIFF_MAX bytes, and a
   * pointer that wraps is no tensor's (forming either is undefined). */
  uintptr_t base = (uintptr_t)t->data;
  if (t->data &&
      (t->byte_offset > PTRDIFF_MAX || bytes > PTRDIFF_MAX - t->byte_offset ||
       t->byte_offset + bytes > UINTPTR_MAX - base))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: data %p with byte_offset %" PRIu64 " and %zu bytes "
                   "runs past the end of the address space (or past "
                   "PTRDIFF_MAX bytes, more than any object holds)",
                   fn, t->data, t->byte_offset, bytes);
  char *data = t->data ? (char *)t->data + t->byte_offset : NULL;
  /* Complex types align to their parts. */
  size_t align = tp_dtype_size(layout.dtype);
  if (layout.dtype == TP_DTYPE_C64 || layout.dtype == TP_DTYPE_C128)
    align /= 2;
  if (bytes > 0 && (uintptr_t)data % align != 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: data %p (byte_offset %" PRIu64
                   ") is not aligned to %zu bytes for %s",
                   fn, t->data, t->byte_offset, align,
                   tp_dtype_name(layout.dtype));
  tp_space_kind space = TP_SPACE_HOST;
  st = space_of(fn, rt, t->device, &space);
  if (st != TP_SUCCESS)
    return st;
  tp_allocator *allocator;
  st = tp_runtime_allocator(rt, space, TP_BUFFER_LOCAL, &allocator);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  return tp_buffer_new_view(fn, allocator, &layout, data, stream, release, ctx,
                            out);
}

tp_status tp_buffer_from_dlpack(tp_runtime *runtime,
                                tp_dlpack_managed_tensor_versioned *tensor,
                                tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_buffer_from_dlpack";
  if (!runtime || !tensor || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !runtime  ? "runtime"
                   : !tensor ? "tensor"
                             : "out");
  if (tensor->version.major != TP_DLPACK_MAJOR_VERSION)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: DLPack version %" PRIu32 ".%" PRIu32
                   " (tensorpool reads major version %u)",
                   fn, tensor->version.major, tensor->version.minor,
                   TP_DLPACK_MAJOR_VERSION);
  if (tensor->flags & TP_DLPACK_FLAG_READ_ONLY)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: the tensor is read-only and every buffer is "
                   "writable (copy it first)",
                   fn);
  return import_tensor(fn, runtime, &tensor->dl_tensor, stream,
                       release_versioned, tensor, out);
}

tp_status tp_buffer_from_dlpack_legacy(tp_runtime *runtime,
                                       tp_dlpack_managed_tensor *tensor,
                                       tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_buffer_from_dlpack_legacy";
  if (!runtime || !tensor || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !runtime  ? "runtime"
                   : !tensor ? "tensor"
                             : "out");
  return import_tensor(fn, runtime, &tensor->dl_tensor, stream, release_legacy,
                       tensor, out);
}
