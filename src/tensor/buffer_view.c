/* Buffers over memory the library does not own. */
#include <stdbool.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_view.h"

tp_status tp_buffer_new_view(const char *fn, tp_allocator *allocator,
                             const tp_layout *layout, void *data,
                             tp_stream stream,
                             tp_status (*release)(tp_buffer *buffer), void *ctx,
                             tp_buffer **out) {
  if (!allocator || !layout || !release || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !allocator ? "allocator"
                   : !layout  ? "layout"
                   : !release ? "release"
                              : "out");
  if (allocator->kind != TP_BUFFER_LOCAL)
    return tp_fail(TP_ERR_INTERNAL, "%s: a view needs a local allocator", fn);
  size_t bytes;
  tp_status st = tp_layout_bytes(layout, &bytes);
  if (st == TP_SUCCESS && bytes > 0 && !data)
    st = tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL data for %zu bytes", fn,
                 bytes);
  tp_buffer *b = NULL;
  /* Made like every buffer (lock, stream events, the runtime's count of
   * live buffers), then pointed at memory the pool never saw. */
  if (st == TP_SUCCESS)
    st = tp_buffer_make(fn, allocator, layout, NULL, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  b->data = bytes > 0 ? data : NULL; /* an empty tensor holds no memory */
  b->is_wrapped = true;
  b->wrapped = b->data;
  b->release = release;
  b->release_ctx = ctx;
  *out = b;
  return TP_SUCCESS;
}
