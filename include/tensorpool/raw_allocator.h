/* A raw allocator: a small table any code can be handed (in the style of
 * Zig's std.mem.Allocator), e.g. to take cuBLAS/cuSOLVER workspaces or a
 * container's storage from a pool without knowing about pools. */
#ifndef TENSORPOOL_RAW_ALLOCATOR_H
#define TENSORPOOL_RAW_ALLOCATOR_H

#include <stddef.h>

#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* Versioned: set struct_size with TP_RAW_ALLOCATOR_INIT. */
typedef struct tp_raw_allocator {
  size_t struct_size;
  void *ctx;
  /* `bytes` > 0 aligned to `alignment` (a power of two; 0 means the
   * allocator's natural alignment), ready for work on `stream`. */
  tp_status (*alloc)(void *ctx, size_t bytes, size_t alignment,
                     tp_stream stream, void **out);
  /* `bytes` is the size asked for at allocation (0: not known to the
   * caller); `stream` is where the block's last use was queued. */
  tp_status (*free)(void *ctx, void *ptr, size_t bytes, tp_stream stream);
} tp_raw_allocator;

#define TP_RAW_ALLOCATOR_INIT                                                  \
  { sizeof(tp_raw_allocator), NULL, NULL, NULL }

/* Call through the table, checking it (and its struct_size) first, and
 * for tp_raw_alloc what the alloc entry is promised: 0 bytes or an
 * alignment that is not a power of two (nor 0) is TP_ERR_INVALID_ARGUMENT
 * before the table is called. They add no lock and no wait of their own:
 * stream, host blocking and thread safety are the table's
 * (tp_pool_raw_allocator's: those of tp_pool_alloc and tp_pool_free).
 * Never collective. */
tp_status tp_raw_alloc(const tp_raw_allocator *raw, size_t bytes,
                       size_t alignment, tp_stream stream, void **out);
tp_status tp_raw_free(const tp_raw_allocator *raw, void *ptr, size_t bytes,
                      tp_stream stream);

TP_END_DECLS

#endif
