/* What the GPU solver examples share: the CHECK macro and how they skip
 * without a GPU (exit status 77, the reason printed). */
#ifndef TP_EXAMPLES_DEVICE_COMMON_H
#define TP_EXAMPLES_DEVICE_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "tensorpool/allocator.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    tp_status st_ = (call);                                                    \
    if (st_ != TP_SUCCESS) {                                                   \
      fprintf(stderr, "%s failed: %s: %s\n", #call, tp_status_name(st_),       \
              tp_last_error());                                                \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* The runtime's device allocator, or exit 77 when this rank has no GPU. */
static inline tp_allocator *device_allocator_or_skip(tp_runtime *rt,
                                                     const char *example) {
  if (!tp_runtime_has_backend(rt, TP_SPACE_DEVICE)) {
    printf("%s: skipped: no CUDA device here\n", example);
    tp_runtime_destroy(rt);
    exit(77);
  }
  tp_allocator *device;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &device));
  return device;
}

#endif
