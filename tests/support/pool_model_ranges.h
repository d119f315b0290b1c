/* Where the bytes of each freed block were last used: the stream and the
 * last work item queued on it by the freeing thread. Blocks are split and
 * merged by the pool, so a new block may cover parts of several freed ones:
 * when the pool hands out [ptr, ptr + bytes), every freed range it overlaps
 * whose stream still has that work pending names a wait the pool owed the
 * new stream. Thread-safe; a range is recorded before the pool's free is
 * called, so the thread that receives the memory always finds it. */
#ifndef TP_TEST_POOL_MODEL_RANGES_H
#define TP_TEST_POOL_MODEL_RANGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

typedef struct tp_freed_range {
  uintptr_t lo, hi;
  tp_stream stream;
  uint64_t seq; /* the last item queued on `stream` before the free */
} tp_freed_range;

typedef struct tp_freed_ranges {
  pthread_mutex_t lock;
  tp_freed_range *items;
  size_t count, capacity;
} tp_freed_ranges;

bool tp_freed_ranges_init(tp_freed_ranges *r);
void tp_freed_ranges_fini(tp_freed_ranges *r);
/* False only if memory ran out. */
bool tp_freed_ranges_put(tp_freed_ranges *r, const void *ptr, size_t bytes,
                         tp_stream stream, uint64_t seq);
/* Undoes the put of a block whose free failed. */
void tp_freed_ranges_drop(tp_freed_ranges *r, const void *ptr);
/* Removes what [ptr, ptr + bytes) covers from every range and calls
 * `visit` with each range it overlapped (before trimming), stopping at the
 * first false it returns. */
bool tp_freed_ranges_take(tp_freed_ranges *r, const void *ptr, size_t bytes,
                          bool (*visit)(void *ctx, const tp_freed_range *),
                          void *ctx);
/* Removes the ranges `done` says need no wait any more (their stream has
 * done the work), so the list stays short. */
void tp_freed_ranges_prune(tp_freed_ranges *r,
                           bool (*done)(void *ctx, const tp_freed_range *),
                           void *ctx);
/* Forgets every range of `stream` (its work was waited for and the handle
 * is about to be destroyed). */
void tp_freed_ranges_forget_stream(tp_freed_ranges *r, tp_stream stream);

#endif
