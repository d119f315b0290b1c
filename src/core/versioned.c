/* Reading and writing the caller's versioned structs (see versioned.h). */
#include "core/versioned.h"

#include <string.h>

#include "core/error.h"

/* The struct_size of a caller's struct, which is its first member. */
static size_t declared_size(const void *s) {
  size_t size;
  memcpy(&size, s, sizeof size);
  return size;
}

static tp_status check_size(const char *fn, const char *init, size_t size) {
  if (size <= sizeof(size_t))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: struct_size is %zu: initialize the struct with %s", fn,
                   size, init);
  return TP_SUCCESS;
}

tp_status tp_versioned_check(const char *fn, const char *init, const void *s) {
  return check_size(fn, init, declared_size(s));
}

tp_status tp_versioned_read(const char *fn, const char *init, const void *src,
                            void *dst, size_t dst_size) {
  size_t size = declared_size(src);
  tp_status st = check_size(fn, init, size);
  if (st != TP_SUCCESS)
    return st;
  memcpy(dst, src, size < dst_size ? size : dst_size);
  memcpy(dst, &dst_size, sizeof dst_size);
  return TP_SUCCESS;
}

tp_status tp_versioned_write(const char *fn, const char *init, void *dst,
                             const void *src, size_t src_size) {
  size_t size = declared_size(dst);
  tp_status st = check_size(fn, init, size);
  if (st != TP_SUCCESS)
    return st;
  size_t n = size < src_size ? size : src_size;
  /* Everything after the caller's struct_size, which stays as it was. */
  memcpy((char *)dst + sizeof size, (const char *)src + sizeof size,
         n - sizeof size);
  return TP_SUCCESS;
}
