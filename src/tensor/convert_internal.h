/* Internal: the conversion entry that other verbs build on. */
#ifndef TP_TENSOR_CONVERT_INTERNAL_H
#define TP_TENSOR_CONVERT_INTERNAL_H

#include "tensorpool/buffer.h"

/* A copy of `src` from its own allocator with its own kind and tiling: each
 * rank copies its own tile, so it is never collective (tp_buffer_clone).
 * `src` is not NULL. */
tp_status tp_convert_clone(const tp_buffer *src, tp_stream stream,
                           tp_buffer **out);

#endif
