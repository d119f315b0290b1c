/* Helpers of the contract tests, written from the public headers only:
 * a user's memory space that counts and records what the pool asks of it
 * (tensorpool/space.h says a user may fill the table), byte patterns to
 * prove that a refused call lost nothing, and message checks. */
#ifndef TP_CONTRACT_H
#define TP_CONTRACT_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tensorpool/tensorpool.h>

/* Whether `message` holds `what` (NULL: any message at all). */
static inline bool ct_has(const char *message, const char *what) {
  if (what == NULL)
    return message != NULL && message[0] != '\0';
  return message != NULL && strstr(message, what) != NULL;
}
static inline const char *ct_or_empty(const char *s) {
  return s ? s : "";
}

/* Asserts the status, and that a failure left a message naming `what`. */
#define ct_expect_fail(call, status, what)                                     \
  do {                                                                         \
    tp_status ct_st_ = (call);                                                 \
    cr_expect_eq(ct_st_, (status), "%s gave %s, wanted %s (%s)", #call,        \
                 tp_status_name(ct_st_), tp_status_name(status),               \
                 tp_last_error());                                             \
    cr_expect(ct_has(tp_last_error(), (what)),                                 \
              "%s: message \"%s\" lacks \"%s\"", #call, tp_last_error(),       \
              ct_or_empty(what));                                              \
  } while (0)

#define ct_ok(call)                                                            \
  do {                                                                         \
    tp_status ct_st_ = (call);                                                 \
    cr_assert_eq(ct_st_, TP_SUCCESS, "%s gave %s: %s", #call,                  \
                 tp_status_name(ct_st_), tp_last_error());                     \
  } while (0)

/* ---- Byte patterns ------------------------------------------------------ */

static inline void ct_fill(void *p, size_t n, unsigned seed) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static inline bool ct_check(const void *p, size_t n, unsigned seed) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != (unsigned char)(seed * 131u + i * 7u + (i >> 8)))
      return false;
  return true;
}

/* ---- A user's space that records the pool's calls ----------------------- */

#define CT_MAX_CALLS 4096

typedef enum ct_op {
  CT_GET,
  CT_PUT,
  CT_EVENT_CREATE,
  CT_EVENT_DESTROY,
  CT_EVENT_RECORD,
  CT_STREAM_WAIT,
  CT_EVENT_QUERY,
  CT_STREAM_SYNC
} ct_op;

typedef struct ct_call {
  ct_op op;
  size_t bytes;
  tp_stream stream;
  tp_event event;
} ct_call;

typedef struct ct_space {
  tp_space_ops ops;
  tp_space space;
  size_t capacity; /* bytes `get` may hold at once (SIZE_MAX: no bound) */
  size_t held;
  int fail_gets;          /* the next this many gets fail */
  bool fail_with_message; /* they set a message with tp_set_last_error */
  bool pending;           /* event_query: the captured work is not done */
  int gets, puts, events_live, event_seq;
  ct_call calls[CT_MAX_CALLS];
  int ncalls;
} ct_space;

static inline void ct_log(ct_space *s, ct_op op, size_t bytes, tp_stream st,
                          tp_event ev) {
  if (s->ncalls < CT_MAX_CALLS)
    s->calls[s->ncalls++] = (ct_call){op, bytes, st, ev};
}

static inline tp_status ct_get(void *ctx, size_t bytes, void **out) {
  ct_space *s = ctx;
  if (s->fail_gets > 0) {
    s->fail_gets--;
    if (s->fail_with_message)
      return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "the test's arena is dry");
    return TP_ERR_OUT_OF_MEMORY;
  }
  if (bytes > s->capacity - s->held)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "over the test's capacity");
  void *p = NULL;
  if (posix_memalign(&p, 256, bytes) != 0)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "posix_memalign failed");
  s->held += bytes;
  s->gets++;
  ct_log(s, CT_GET, bytes, NULL, NULL);
  *out = p;
  return TP_SUCCESS;
}

static inline tp_status ct_put(void *ctx, void *ptr, size_t bytes,
                               tp_stream stream) {
  ct_space *s = ctx;
  s->held -= bytes;
  s->puts++;
  ct_log(s, CT_PUT, bytes, stream, NULL);
  free(ptr);
  return TP_SUCCESS;
}

static inline tp_status ct_event_create(void *ctx, tp_event *out) {
  ct_space *s = ctx;
  s->events_live++;
  *out = (tp_event)(uintptr_t)(0x1000 + 16 * (++s->event_seq));
  ct_log(s, CT_EVENT_CREATE, 0, NULL, *out);
  return TP_SUCCESS;
}

static inline tp_status ct_event_destroy(void *ctx, tp_event event) {
  ct_space *s = ctx;
  s->events_live--;
  ct_log(s, CT_EVENT_DESTROY, 0, NULL, event);
  return TP_SUCCESS;
}

static inline tp_status ct_event_record(void *ctx, tp_event event,
                                        tp_stream stream) {
  ct_log(ctx, CT_EVENT_RECORD, 0, stream, event);
  return TP_SUCCESS;
}

static inline tp_status ct_stream_wait(void *ctx, tp_stream stream,
                                       tp_event event) {
  ct_log(ctx, CT_STREAM_WAIT, 0, stream, event);
  return TP_SUCCESS;
}

static inline tp_status ct_event_query(void *ctx, tp_event event, bool *done) {
  ct_space *s = ctx;
  ct_log(s, CT_EVENT_QUERY, 0, NULL, event);
  *done = !s->pending;
  return TP_SUCCESS;
}

static inline tp_status ct_stream_sync(void *ctx, tp_stream stream) {
  ct_log(ctx, CT_STREAM_SYNC, 0, stream, NULL);
  return TP_SUCCESS;
}

/* `s` must not move afterwards (the space points into it). */
static inline void ct_space_init(ct_space *s) {
  memset(s, 0, sizeof *s);
  s->ops = (tp_space_ops)TP_SPACE_OPS_INIT;
  s->ops.get = ct_get;
  s->ops.put = ct_put;
  s->ops.event_create = ct_event_create;
  s->ops.event_destroy = ct_event_destroy;
  s->ops.event_record = ct_event_record;
  s->ops.stream_wait = ct_stream_wait;
  s->ops.event_query = ct_event_query;
  s->ops.stream_sync = ct_stream_sync;
  s->capacity = SIZE_MAX;
  s->space = (tp_space){&s->ops, s, TP_SPACE_OTHER, -1, "test"};
}

static inline int ct_count(const ct_space *s, ct_op op) {
  int n = 0;
  for (int i = 0; i < s->ncalls; i++)
    n += s->calls[i].op == op;
  return n;
}

/* A stream tag (host and user spaces treat streams as opaque values). */
static inline tp_stream ct_stream(int k) {
  return (tp_stream)(uintptr_t)(0x10000 * (uintptr_t)k);
}

/* ---- Pools and statistics ----------------------------------------------- */

/* The alloc and free lines of the event log at `path` (README's CSV, one
 * line per call), which is then removed; -1 if there is none. */
static inline int ct_log_calls(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char line[512];
  int events = 0;
  while (fgets(line, sizeof line, f))
    events += strncmp(line, "alloc,", 6) == 0 || strncmp(line, "free,", 5) == 0;
  fclose(f);
  remove(path);
  return events;
}

static inline tp_pool_stats ct_stats(tp_pool *pool) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_status st = tp_pool_get_stats(pool, &s);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_get_stats: %s", tp_last_error());
  return s;
}

/* The identities pool.h and docs/design.md state. */
static inline void ct_expect_stats_consistent(const tp_pool_stats *s) {
  cr_expect_eq(s->reserved_bytes, s->live_bytes + s->cached_bytes,
               "reserved %llu != live %llu + cached %llu",
               (unsigned long long)s->reserved_bytes,
               (unsigned long long)s->live_bytes,
               (unsigned long long)s->cached_bytes);
  cr_expect_eq(s->hits + s->misses, s->allocations);
  cr_expect_eq(s->allocations - s->deallocations, s->live_blocks);
  cr_expect_eq(s->bytes_allocated - s->bytes_freed, s->requested_bytes);
  cr_expect_leq(s->requested_bytes, s->live_bytes);
  cr_expect_leq(s->live_bytes, s->live_bytes_peak);
  cr_expect_leq(s->requested_bytes, s->requested_bytes_peak);
  cr_expect_leq(s->reserved_bytes, s->reserved_bytes_peak);
  if (s->allocations == 0)
    cr_expect_eq(s->hit_rate, 0.0);
  else
    cr_expect_eq(s->hit_rate, (double)s->hits / (double)s->allocations);
}

/* Every counter of `a` and `b` but `failures` is equal. */
static inline void ct_expect_stats_same_but_failures(const tp_pool_stats *a,
                                                     const tp_pool_stats *b) {
  tp_pool_stats x = *a, y = *b;
  x.failures = y.failures = 0;
  cr_expect(memcmp(&x, &y, sizeof x) == 0,
            "the pool's statistics changed (beyond failures)");
}

/* ---- Runtimes ----------------------------------------------------------- */

static inline tp_runtime *ct_runtime(void) {
  tp_runtime *rt = NULL;
  tp_status st = tp_runtime_create(NULL, &rt);
  cr_assert_eq(st, TP_SUCCESS, "tp_runtime_create: %s", tp_last_error());
  return rt;
}

static inline tp_allocator *ct_allocator(tp_runtime *rt, tp_buffer_kind k) {
  tp_allocator *a = NULL;
  tp_status st = tp_runtime_allocator(rt, TP_SPACE_HOST, k, &a);
  cr_assert_eq(st, TP_SUCCESS, "tp_runtime_allocator: %s", tp_last_error());
  return a;
}

static inline tp_layout ct_layout(tp_dtype dtype, int ndim, ...) {
  int64_t e[TP_MAX_NDIM] = {0};
  va_list ap;
  va_start(ap, ndim);
  for (int k = 0; k < ndim; k++)
    e[k] = va_arg(ap, int64_t);
  va_end(ap);
  tp_layout l;
  tp_status st = tp_layout_make(dtype, ndim, e, &l);
  cr_assert_eq(st, TP_SUCCESS, "tp_layout_make: %s", tp_last_error());
  return l;
}

/* Pool statistics of the runtime's host pool. */
static inline tp_pool_stats ct_host_stats(tp_runtime *rt) {
  tp_pool *pool = NULL;
  tp_status st = tp_runtime_pool(rt, TP_SPACE_HOST, &pool);
  cr_assert_eq(st, TP_SUCCESS, "tp_runtime_pool: %s", tp_last_error());
  return ct_stats(pool);
}

/* Bits of floating values, for exact comparisons. */
static inline uint64_t ct_bits64(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}
static inline uint32_t ct_bits32(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

#endif
