/* Pageable host memory: segments in reserved address ranges that grow in
 * place and give free pages back (host_vm.c). Host "streams" are tags (work
 * on them is done by the caller before it frees), so events are complete the
 * moment they exist. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "host/host_vm.h"
#include "tensorpool/space.h"

static char host_event_token;

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

static tp_space_ops host_ops = {
    sizeof(tp_space_ops),
    tp_host_vm_get,
    tp_host_vm_put,
    host_event_create,
    host_event_destroy,
    host_event_record,
    host_stream_wait,
    host_event_query,
    host_stream_sync,
    0,
    tp_host_vm_resize,
    tp_host_vm_decommit,
    NULL,
};

static const tp_space host_space = {&host_ops, NULL, TP_SPACE_HOST, -1, "host"};

static pthread_once_t page_once = PTHREAD_ONCE_INIT;

static void read_page_size(void) {
  host_ops.page_bytes = tp_host_vm_page();
}

const tp_space *tp_host_space(void) {
  /* The page size is the system's, known only at run time. */
  pthread_once(&page_once, read_page_size);
  return &host_space;
}
