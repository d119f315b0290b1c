#include "tensorpool/raw_allocator.h"

#include "core/error.h"

tp_status tp_raw_alloc(const tp_raw_allocator *raw, size_t bytes,
                       tp_stream stream, void **out) {
  if (!raw || !raw->alloc || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_alloc: NULL allocator table, alloc function or "
                   "out-pointer");
  return raw->alloc(raw->ctx, bytes, stream, out);
}

tp_status tp_raw_free(const tp_raw_allocator *raw, void *ptr,
                      tp_stream stream) {
  if (!raw || !raw->free)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_free: NULL allocator table or free function");
  return raw->free(raw->ctx, ptr, stream);
}
