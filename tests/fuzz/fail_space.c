#include "fail_space.h"

#include <string.h>

#include "core/error.h"

static const tp_space *inner(fail_space *f) {
  return tp_sim_space(f->sim);
}

/* Whether this call of `op` is to fail; counts it if so. */
static bool failing(fail_space *f, fail_op op) {
  if (!f->armed || f->fail_next[op] == 0)
    return false;
  f->fail_next[op]--;
  f->fired++;
  f->fired_by[op]++;
  return true;
}

static tp_status injected(fail_space *f, fail_op op) {
  return tp_fail(f->status[op], "fail space: injected failure of call %d",
                 (int)op);
}

static tp_status f_get(void *ctx, size_t bytes, void **out) {
  fail_space *f = ctx;
  if (failing(f, FAIL_GET))
    return injected(f, FAIL_GET);
  const tp_space *s = inner(f);
  tp_status st = s->ops->get(s->ctx, bytes, out);
  if (st == TP_SUCCESS) {
    f->gets++;
    f->bytes_out += bytes;
  }
  return st;
}

static tp_status f_put(void *ctx, void *ptr, size_t bytes, tp_stream stream) {
  fail_space *f = ctx;
  f->puts++;
  if (failing(f, FAIL_PUT)) {
    f->puts_refused++;
    return injected(f, FAIL_PUT); /* the caller still owns the memory */
  }
  const tp_space *s = inner(f);
  tp_status st = s->ops->put(s->ctx, ptr, bytes, stream);
  if (st == TP_SUCCESS)
    f->bytes_out -= bytes;
  return st;
}

static tp_status f_event_create(void *ctx, tp_event *out) {
  fail_space *f = ctx;
  if (failing(f, FAIL_EVENT_CREATE))
    return injected(f, FAIL_EVENT_CREATE);
  const tp_space *s = inner(f);
  return s->ops->event_create(s->ctx, out);
}

static tp_status f_event_destroy(void *ctx, tp_event event) {
  fail_space *f = ctx;
  const tp_space *s = inner(f);
  /* Destroyed anyway, so that an ignored failure leaks nothing. */
  tp_status st = s->ops->event_destroy(s->ctx, event);
  if (failing(f, FAIL_EVENT_DESTROY))
    return injected(f, FAIL_EVENT_DESTROY);
  return st;
}

static tp_status f_event_record(void *ctx, tp_event event, tp_stream stream) {
  fail_space *f = ctx;
  if (failing(f, FAIL_EVENT_RECORD))
    return injected(f, FAIL_EVENT_RECORD);
  const tp_space *s = inner(f);
  return s->ops->event_record(s->ctx, event, stream);
}

static tp_status f_stream_wait(void *ctx, tp_stream stream, tp_event event) {
  fail_space *f = ctx;
  if (failing(f, FAIL_STREAM_WAIT))
    return injected(f, FAIL_STREAM_WAIT);
  const tp_space *s = inner(f);
  return s->ops->stream_wait(s->ctx, stream, event);
}

static tp_status f_event_query(void *ctx, tp_event event, bool *done) {
  fail_space *f = ctx;
  if (failing(f, FAIL_EVENT_QUERY))
    return injected(f, FAIL_EVENT_QUERY);
  const tp_space *s = inner(f);
  return s->ops->event_query(s->ctx, event, done);
}

static tp_status f_stream_sync(void *ctx, tp_stream stream) {
  fail_space *f = ctx;
  if (failing(f, FAIL_STREAM_SYNC))
    return injected(f, FAIL_STREAM_SYNC);
  const tp_space *s = inner(f);
  return s->ops->stream_sync(s->ctx, stream);
}

void fail_space_init(fail_space *f, tp_sim *sim) {
  memset(f, 0, sizeof *f);
  f->sim = sim;
  tp_space_ops ops = TP_SPACE_OPS_INIT;
  ops.get = f_get;
  ops.put = f_put;
  ops.event_create = f_event_create;
  ops.event_destroy = f_event_destroy;
  ops.event_record = f_event_record;
  ops.stream_wait = f_stream_wait;
  ops.event_query = f_event_query;
  ops.stream_sync = f_stream_sync;
  f->ops = ops;
  f->space = (tp_space){&f->ops, f, TP_SPACE_OTHER, -1, "failing"};
}

void fail_space_fail_next(fail_space *f, fail_op op, unsigned count,
                          tp_status status) {
  f->fail_next[op] = count;
  f->status[op] = status;
}
