/* Freed ranges as a plain array scanned in full: the model keeps at most a
 * few hundred, and clarity beats speed in a test oracle. */
#define _POSIX_C_SOURCE 200809L

#include "pool_model_ranges.h"

#include <stdlib.h>

bool tp_freed_ranges_init(tp_freed_ranges *r) {
  r->count = 0;
  r->capacity = 256;
  r->items = malloc(r->capacity * sizeof *r->items);
  if (!r->items)
    return false;
  pthread_mutex_init(&r->lock, NULL);
  return true;
}

void tp_freed_ranges_fini(tp_freed_ranges *r) {
  if (!r->items)
    return; /* never initialized */
  pthread_mutex_destroy(&r->lock);
  free(r->items);
  r->items = NULL;
}

static bool append(tp_freed_ranges *r, tp_freed_range item) {
  if (r->count == r->capacity) {
    tp_freed_range *bigger =
        realloc(r->items, 2 * r->capacity * sizeof *bigger);
    if (!bigger)
      return false;
    r->items = bigger;
    r->capacity *= 2;
  }
  r->items[r->count++] = item;
  return true;
}

bool tp_freed_ranges_put(tp_freed_ranges *r, const void *ptr, size_t bytes,
                         tp_stream stream, uint64_t seq) {
  pthread_mutex_lock(&r->lock);
  uintptr_t lo = (uintptr_t)ptr;
  bool ok = append(r, (tp_freed_range){lo, lo + bytes, stream, seq});
  pthread_mutex_unlock(&r->lock);
  return ok;
}

void tp_freed_ranges_drop(tp_freed_ranges *r, const void *ptr) {
  pthread_mutex_lock(&r->lock);
  for (size_t i = r->count; i-- > 0;)
    if (r->items[i].lo == (uintptr_t)ptr) {
      r->items[i] = r->items[--r->count];
      break;
    }
  pthread_mutex_unlock(&r->lock);
}

bool tp_freed_ranges_take(tp_freed_ranges *r, const void *ptr, size_t bytes,
                          bool (*visit)(void *ctx, const tp_freed_range *),
                          void *ctx) {
  uintptr_t lo = (uintptr_t)ptr, hi = lo + bytes;
  bool ok = true;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->count;) {
    tp_freed_range it = r->items[i];
    if (it.hi <= lo || it.lo >= hi) {
      i++;
      continue;
    }
    if (ok && visit)
      ok = visit(ctx, &it);
    /* Keep the parts outside the taken range. */
    r->items[i] = r->items[--r->count];
    if (it.lo < lo)
      append(r, (tp_freed_range){it.lo, lo, it.stream, it.seq});
    if (it.hi > hi)
      append(r, (tp_freed_range){hi, it.hi, it.stream, it.seq});
  }
  pthread_mutex_unlock(&r->lock);
  return ok;
}

void tp_freed_ranges_forget_stream(tp_freed_ranges *r, tp_stream stream) {
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->count;) {
    if (r->items[i].stream == stream)
      r->items[i] = r->items[--r->count];
    else
      i++;
  }
  pthread_mutex_unlock(&r->lock);
}

void tp_freed_ranges_prune(tp_freed_ranges *r,
                           bool (*done)(void *ctx, const tp_freed_range *),
                           void *ctx) {
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->count;) {
    if (done(ctx, &r->items[i]))
      r->items[i] = r->items[--r->count];
    else
      i++;
  }
  pthread_mutex_unlock(&r->lock);
}
