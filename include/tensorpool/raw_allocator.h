/* A raw allocator: a small table any code can be handed (in the style of
 * Zig's std.mem.Allocator), e.g. to take cuBLAS/cuSOLVER workspaces or a
 * container's storage from a pool without knowing about pools. */
#ifndef TENSORPOOL_RAW_ALLOCATOR_H
#define TENSORPOOL_RAW_ALLOCATOR_H

#include <stddef.h>

#include "tensorpool/space.h"
#include "tensorpool/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tp_raw_allocator {
  void *ctx;
  tp_status (*alloc)(void *ctx, size_t bytes, tp_stream stream, void **out);
  tp_status (*free)(void *ctx, void *ptr, tp_stream stream);
} tp_raw_allocator;

/* Calls through the table, checking it first. */
tp_status tp_raw_alloc(const tp_raw_allocator *raw, size_t bytes,
                       tp_stream stream, void **out);
tp_status tp_raw_free(const tp_raw_allocator *raw, void *ptr, tp_stream stream);

#ifdef __cplusplus
}
#endif

#endif
