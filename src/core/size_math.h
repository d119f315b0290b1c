/* Internal: overflow-checked size arithmetic. */
#ifndef TP_CORE_SIZE_MATH_H
#define TP_CORE_SIZE_MATH_H

#include <stddef.h>
#include <stdint.h>

/* *out = a * b; returns 1 (and leaves *out unspecified) on overflow. */
static inline int tp_mul_overflows(size_t a, uint64_t b, size_t *out) {
  if (b > SIZE_MAX)
    return 1;
  return __builtin_mul_overflow(a, (size_t)b, out);
}

/* *out = a + b; returns 1 on overflow. */
static inline int tp_add_overflows(size_t a, size_t b, size_t *out) {
  return __builtin_add_overflow(a, b, out);
}

#endif
