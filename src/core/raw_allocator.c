/* Calls through a raw allocator table, checking it first. */
#include "tensorpool/raw_allocator.h"

#include <stddef.h>

#include "core/error.h"

/* The table's struct_size must cover the entry about to be called. */
static int covers(const tp_raw_allocator *raw, size_t end) {
  return raw->struct_size >= end;
}

tp_status tp_raw_alloc(const tp_raw_allocator *raw, size_t bytes,
                       size_t alignment, tp_stream stream, void **out) {
  if (!raw || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_raw_alloc: NULL %s",
                   !raw ? "allocator table" : "out-pointer");
  if (!covers(raw, offsetof(tp_raw_allocator, alloc) + sizeof raw->alloc) ||
      !raw->alloc)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_alloc: the table has no alloc entry (struct_size "
                   "%zu; initialize it with TP_RAW_ALLOCATOR_INIT)",
                   raw->struct_size);
  /* What the alloc entry is promised, checked here so that no table has
   * to (one built on posix_memalign would fail on an odd alignment). */
  if (bytes == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_raw_alloc: 0 bytes");
  if (alignment & (alignment - 1))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_alloc: alignment %zu is not a power of two (or 0 "
                   "for the allocator's natural alignment)",
                   alignment);
  uint64_t mark = tp_error_serial();
  tp_status st = raw->alloc(raw->ctx, bytes, alignment, stream, out);
  if (st != TP_SUCCESS)
    return tp_fail_callback(
        st, mark, "tp_raw_alloc: the table's alloc of %zu bytes", bytes);
  return TP_SUCCESS;
}

tp_status tp_raw_free(const tp_raw_allocator *raw, void *ptr, size_t bytes,
                      tp_stream stream) {
  if (!raw)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_free: NULL allocator table");
  if (!covers(raw, offsetof(tp_raw_allocator, free) + sizeof raw->free) ||
      !raw->free)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_free: the table has no free entry (struct_size "
                   "%zu; initialize it with TP_RAW_ALLOCATOR_INIT)",
                   raw->struct_size);
  uint64_t mark = tp_error_serial();
  tp_status st = raw->free(raw->ctx, ptr, bytes, stream);
  if (st != TP_SUCCESS)
    return tp_fail_callback(st, mark, "tp_raw_free: the table's free of %p",
                            ptr);
  return TP_SUCCESS;
}
