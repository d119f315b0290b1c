/* Buffers over memory the caller already has: no pool involved, a deleter
 * (or nothing) gives the memory back at destroy. */
#include <stdint.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"

tp_status tp_allocator_wrap(tp_allocator *allocator, const tp_layout *layout,
                            const tp_tiling *tiling, void *data,
                            tp_buffer_deleter_fn deleter, void *user,
                            tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_allocator_wrap";
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  tp_buffer *b;
  st = tp_buffer_make(fn, allocator, layout, tiling, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  size_t element = tp_dtype_size(layout->dtype);
  if (b->bytes > 0 && !data)
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "%s: NULL data for a tile of %zu bytes (rank %d)", fn,
                 b->bytes, allocator->runtime->rank);
  else if ((uintptr_t)data % element != 0)
    /* Kernels read whole elements: a misaligned one faults on a device. */
    st = tp_fail(TP_ERR_INVALID_ARGUMENT,
                 "%s: data %p is not aligned to its %zu-byte %s elements", fn,
                 data, element, tp_dtype_name(layout->dtype));
  if (st != TP_SUCCESS) {
    /* Nothing was taken over: the caller still owns `data`. */
    tp_buffer_free(b);
    return st;
  }
  b->is_wrapped = true;
  b->wrapped = data;
  b->data = b->bytes > 0 ? data : NULL;
  b->deleter = deleter;
  b->deleter_user = user;
  *out = b;
  return TP_SUCCESS;
}
