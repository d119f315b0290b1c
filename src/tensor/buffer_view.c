/* Buffers over memory the library does not own. */
#include <stdlib.h>

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
  if (st == TP_SUCCESS) {
    b = calloc(1, sizeof *b);
    if (!b)
      st = tp_fail(TP_ERR_OUT_OF_MEMORY, "%s: no host memory for a buffer", fn);
  }
  if (st == TP_SUCCESS)
    st = tp_layout_whole_tile(layout, &b->tile);
  if (st != TP_SUCCESS) {
    free(b);
    return st;
  }
  b->kind = TP_BUFFER_LOCAL;
  b->layout = *layout;
  b->tile.part = allocator->runtime->rank;
  /* An empty tensor holds no memory, like a pool buffer of an empty tile. */
  b->data = bytes > 0 ? data : NULL;
  b->bytes = bytes;
  b->stream = stream;
  b->allocator = allocator;
  b->release = release;
  b->release_ctx = ctx;
  *out = b;
  return TP_SUCCESS;
}
