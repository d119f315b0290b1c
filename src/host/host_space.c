/* Pageable host memory. Host "streams" are tags (work on them is done by the
 * caller before it frees), so events are complete the moment they exist. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensorpool/space.h"

/* From 64 KiB up, page alignment lets the kernel map whole pages. */
#define TP_HOST_PAGE_ALIGN_FROM ((size_t)64 << 10)
#define TP_HOST_PAGE 4096

static char host_event_token;

static tp_status host_get(void *ctx, size_t bytes, void **out) {
  (void)ctx;
  size_t align = bytes >= TP_HOST_PAGE_ALIGN_FROM ? TP_HOST_PAGE : 256;
  void *p = NULL;
  int err = posix_memalign(&p, align, bytes);
  if (err != 0)
    return tp_fail(
        err == ENOMEM ? TP_ERR_OUT_OF_MEMORY : TP_ERR_INVALID_ARGUMENT,
        "host space: posix_memalign of %zu bytes: %s", bytes, strerror(err));
  *out = p;
  return TP_SUCCESS;
}

static tp_status host_put(void *ctx, void *ptr, size_t bytes,
                          tp_stream stream) {
  (void)ctx, (void)bytes, (void)stream;
  free(ptr);
  return TP_SUCCESS;
}

static tp_status host_event_create(void *ctx, tp_event *out) {
  (void)ctx;
  *out = (tp_event)&host_event_token;
  return TP_SUCCESS;
}

static tp_status host_event_destroy(void *ctx, tp_event event) {
  (void)ctx, (void)event;
  return TP_SUCCESS;
}

static tp_status host_event_record(void *ctx, tp_event event,
                                   tp_stream stream) {
  (void)ctx, (void)event, (void)stream;
  return TP_SUCCESS;
}

static tp_status host_stream_wait(void *ctx, tp_stream stream, tp_event event) {
  (void)ctx, (void)stream, (void)event;
  return TP_SUCCESS;
}

static tp_status host_event_query(void *ctx, tp_event event, bool *done) {
  (void)ctx, (void)event;
  *done = true;
  return TP_SUCCESS;
}

static tp_status host_stream_sync(void *ctx, tp_stream stream) {
  (void)ctx, (void)stream;
  return TP_SUCCESS;
}

static const tp_space_ops host_ops = {
    sizeof(tp_space_ops), host_get,           host_put,
    host_event_create,    host_event_destroy, host_event_record,
    host_stream_wait,     host_event_query,   host_stream_sync,
};

static const tp_space host_space = {&host_ops, NULL, TP_SPACE_HOST, -1, "host"};

const tp_space *tp_host_space(void) {
  return &host_space;
}
