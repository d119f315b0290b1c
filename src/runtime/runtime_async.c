/* The runtime's asynchronous error: the first failure of stream-ordered
 * work that no call could report, kept until the runtime is destroyed (as
 * ncclCommGetAsyncError's), so that a user who polls it between steps
 * learns of it once and for all. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"

void tp_runtime_free(tp_runtime *rt) {
  pthread_mutex_destroy(&rt->lock);
  free(rt);
}

/* Keeps the first error; `message` is copied. Lock not held. */
static void keep_first(tp_runtime *rt, tp_status status, const char *context,
                       const char *message) {
  pthread_mutex_lock(&rt->lock);
  if (rt->async_error == TP_SUCCESS) {
    rt->async_error = status;
    size_t n = strlen(context);
    if (n >= sizeof rt->async_message)
      n = sizeof rt->async_message - 1;
    memcpy(rt->async_message, context, n);
    size_t room = sizeof rt->async_message - 1 - n;
    if (room > 2 && message[0]) {
      memcpy(rt->async_message + n, ": ", 2);
      n += 2;
      room -= 2;
      size_t m = strlen(message);
      if (m > room)
        m = room;
      memcpy(rt->async_message + n, message, m);
      n += m;
    }
    rt->async_message[n] = '\0';
  }
  pthread_mutex_unlock(&rt->lock);
}

void tp_runtime_record_async_error(tp_runtime *rt, tp_status status,
                                   const char *context) {
  if (!rt || status == TP_SUCCESS)
    return;
  keep_first(rt, status, context ? context : "", tp_last_error());
}

tp_status tp_runtime_async_error(const tp_runtime *runtime, tp_status *out) {
  tp_runtime *rt = tp_runtime_mutable(runtime); /* the kept error, the lock */
  if (!rt || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_runtime_async_error: NULL %s",
                   !rt ? "runtime" : "out-pointer");
  /* Ask the backends that can fail later (device work): what they report
   * becomes the runtime's error unless one was kept before. */
  for (int k = 0; k < TP_BACKEND_COUNT; ++k) {
    tp_backend *b = rt->backends[k];
    if (!b || !b->async_error)
      continue;
    tp_status found = TP_SUCCESS;
    tp_status st = b->async_error(b, &found);
    if (st == TP_SUCCESS && found != TP_SUCCESS)
      tp_runtime_record_async_error(rt, found, b->name);
  }
  pthread_mutex_lock(&rt->lock);
  tp_status kept = rt->async_error;
  if (kept != TP_SUCCESS)
    tp_fail(kept, "%s", rt->async_message);
  pthread_mutex_unlock(&rt->lock);
  *out = kept;
  return TP_SUCCESS;
}
