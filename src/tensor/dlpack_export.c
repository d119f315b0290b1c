/* DLPack export: a buffer handed over to a DLPack managed tensor. */
#include <stdlib.h>

#include "core/error.h"
#include "tensor/buffer_internal.h"
#include "tensor/dlpack_internal.h"

/* One allocation per export: the managed struct, the shape and strides it
 * points to, and the buffer that owns the memory. */
typedef struct export_holder {
  union {
    tp_dlpack_managed_tensor_versioned versioned;
    tp_dlpack_managed_tensor legacy;
  } managed;
  int64_t shape[TP_MAX_NDIM];
  int64_t strides[TP_MAX_NDIM];
  tp_buffer *buffer;
} export_holder;

static void delete_holder(export_holder *h) {
  /* A deleter cannot report a failure: a failed destroy leaves its message
   * in tp_last_error() for the thread that ran the deleter. */
  tp_buffer_destroy(h->buffer);
  free(h);
}

static void delete_versioned(tp_dlpack_managed_tensor_versioned *self) {
  if (self)
    delete_holder(self->manager_ctx);
}

static void delete_legacy(tp_dlpack_managed_tensor *self) {
  if (self)
    delete_holder(self->manager_ctx);
}

tp_status tp_buffer_dlpack_device(const tp_buffer *buffer,
                                  tp_dlpack_device *out) {
  if (!buffer || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_buffer_dlpack_device: NULL %s",
                   !buffer ? "buffer" : "out");
  const tp_space *space = tp_buffer_space(buffer);
  switch (space->kind) {
  case TP_SPACE_HOST: *out = (tp_dlpack_device){TP_DLPACK_DEVICE_CPU, 0}; break;
  case TP_SPACE_PINNED:
    *out = (tp_dlpack_device){TP_DLPACK_DEVICE_CUDA_HOST, 0};
    break;
  case TP_SPACE_DEVICE:
    *out = (tp_dlpack_device){TP_DLPACK_DEVICE_CUDA, space->device};
    break;
  default:
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_buffer_dlpack_device: DLPack has no device type for "
                   "the space '%s' (%s)",
                   space->name ? space->name : "?",
                   tp_space_kind_name(space->kind));
  }
  return TP_SUCCESS;
}

/* Orders later work on `to` after the work queued on `from` so far. */
static tp_status order_after(const tp_space *space, tp_stream from,
                             tp_stream to) {
  if (from == to)
    return TP_SUCCESS;
  const tp_space_ops *ops = space->ops;
  tp_event event;
  tp_status st = ops->event_create(space->ctx, &event);
  if (st != TP_SUCCESS)
    return st;
  st = ops->event_record(space->ctx, event, from);
  if (st == TP_SUCCESS)
    st = ops->stream_wait(space->ctx, to, event);
  tp_status destroyed = ops->event_destroy(space->ctx, event);
  return st != TP_SUCCESS ? st : destroyed;
}

static tp_status export_buffer(const char *fn, tp_buffer **buffer,
                               tp_stream stream, int legacy, void **out) {
  if (!buffer || !*buffer || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !buffer    ? "buffer"
                   : !*buffer ? "*buffer"
                              : "out");
  tp_buffer *b = *buffer;
  tp_dlpack_device device;
  tp_status st = tp_buffer_dlpack_device(b, &device);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  tp_dlpack_dtype dtype;
  if (!tp_dlpack_dtype_of(b->layout.dtype, &dtype))
    return tp_fail(TP_ERR_NOT_SUPPORTED, "%s: no DLPack type for %s", fn,
                   tp_dtype_name(b->layout.dtype));
  export_holder *h = calloc(1, sizeof *h);
  if (!h)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for the export",
                   fn);
  st = order_after(tp_buffer_space(b), b->stream, stream);
  if (st != TP_SUCCESS) {
    free(h);
    return tp_fail_context(st, "%s: ordering the consumer's stream", fn);
  }
  /* This rank's tile: the whole tensor unless distributed. Row-major
   * strides in elements, always given (consumers need not infer them). */
  int ndim = b->layout.ndim;
  int64_t stride = 1;
  for (int k = ndim - 1; k >= 0; --k) {
    h->shape[k] = b->tile.extents[k];
    h->strides[k] = stride;
    stride *= b->tile.extents[k] > 0 ? b->tile.extents[k] : 1;
  }
  tp_dlpack_tensor tensor = {.data = b->data,
                             .device = device,
                             .ndim = ndim,
                             .dtype = dtype,
                             .shape = h->shape,
                             .strides = h->strides,
                             .byte_offset = 0};
  h->buffer = b;
  b->stream = stream; /* the memory is freed after the consumer's work */
  if (legacy) {
    h->managed.legacy.dl_tensor = tensor;
    h->managed.legacy.manager_ctx = h;
    h->managed.legacy.deleter = delete_legacy;
    *out = &h->managed.legacy;
  } else {
    tp_dlpack_managed_tensor_versioned *v = &h->managed.versioned;
    v->version.major = TP_DLPACK_MAJOR_VERSION;
    v->version.minor = TP_DLPACK_MINOR_VERSION;
    v->manager_ctx = h;
    v->deleter = delete_versioned;
    v->flags = 0;
    v->dl_tensor = tensor;
    *out = v;
  }
  *buffer = NULL;
  return TP_SUCCESS;
}

tp_status tp_buffer_to_dlpack(tp_buffer **buffer, tp_stream stream,
                              tp_dlpack_managed_tensor_versioned **out) {
  void *managed = NULL;
  tp_status st = export_buffer("tp_buffer_to_dlpack", buffer, stream, 0,
                               out ? &managed : NULL);
  if (st == TP_SUCCESS)
    *out = managed;
  return st;
}

tp_status tp_buffer_to_dlpack_legacy(tp_buffer **buffer, tp_stream stream,
                                     tp_dlpack_managed_tensor **out) {
  void *managed = NULL;
  tp_status st = export_buffer("tp_buffer_to_dlpack_legacy", buffer, stream, 1,
                               out ? &managed : NULL);
  if (st == TP_SUCCESS)
    *out = managed;
  return st;
}
