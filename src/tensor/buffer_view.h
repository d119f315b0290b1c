/* Internal: buffers over memory the library does not own (DLPack imports).
 * The memory goes back through `release` when the buffer is destroyed. */
#ifndef TP_TENSOR_BUFFER_VIEW_H
#define TP_TENSOR_BUFFER_VIEW_H

#include "tensor/buffer_internal.h"

/* A local buffer of `layout` over `data` (which holds the whole tensor),
 * made through `allocator` (a local one), whose destroy calls
 * release(buffer) with buffer->release_ctx = ctx instead of freeing to the
 * pool. Checks the layout; on failure nothing is kept and release is not
 * called. */
tp_status tp_buffer_new_view(const char *fn, tp_allocator *allocator,
                             const tp_layout *layout, void *data,
                             tp_stream stream,
                             tp_status (*release)(tp_buffer *buffer), void *ctx,
                             tp_buffer **out);

#endif
