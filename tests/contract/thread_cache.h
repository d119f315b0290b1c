/* Helpers of the thread-cache contract tests (test_thread_cache_*.c):
 * pools with caches, checked calls, and a worker thread that runs a
 * test's steps one at a time. Written from the public headers only. */
#ifndef TP_CONTRACT_THREAD_CACHE_H
#define TP_CONTRACT_THREAD_CACHE_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- Helpers ------------------------------------------------------------ */

static inline tp_pool_config tc_config(size_t thread_cache_bytes) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.thread_cache_bytes = thread_cache_bytes;
  return c;
}

static inline tp_pool *tc_pool_with(const tp_space *space,
                                    const tp_pool_config *c) {
  tp_pool *pool = NULL;
  tp_status st = tp_pool_create(space, c, &pool);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_create: %s", tp_last_error());
  cr_assert_not_null(pool);
  return pool;
}

static inline tp_pool *tc_pool(const tp_space *space,
                               size_t thread_cache_bytes) {
  tp_pool_config c = tc_config(thread_cache_bytes);
  return tc_pool_with(space, &c);
}

static inline void *alloc_ok(tp_pool *pool, size_t bytes, tp_stream stream) {
  void *p = NULL;
  tp_status st = tp_pool_alloc(pool, bytes, stream, &p);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_alloc(%zu): %s", bytes,
               tp_last_error());
  cr_assert_not_null(p);
  cr_expect_eq((uintptr_t)p % 256, 0, "%zu bytes at %p: not 256-aligned", bytes,
               p);
  return p;
}

static inline size_t usable(tp_pool *pool, const void *p) {
  size_t n = 0;
  tp_status st = tp_pool_block_size(pool, p, &n);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_block_size(%p): %s", p,
               tp_last_error());
  return n;
}

static inline size_t round256(size_t n) {
  return (n + 255) / 256 * 256;
}

/* pool.h / design.md: up to 64 KiB every rounded size; above, eight sizes
 * per power of two up to 256 KiB (72, 80, ... 128, 144, ... 256 KiB). */
static inline size_t cache_size(size_t request) {
  size_t r = round256(request);
  if (r <= 64 * KiB)
    return r;
  size_t pow = 64 * KiB;
  while (pow * 2 < r)
    pow *= 2;
  size_t step = pow / 8;
  return (r + step - 1) / step * step;
}

static inline uint64_t attr(tp_pool *pool, tp_pool_attr a) {
  uint64_t v = 0;
  tp_status st = tp_pool_get_attribute(pool, a, &v);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_get_attribute(%d): %s", (int)a,
               tp_last_error());
  return v;
}

/* ---- A worker thread that runs the test's steps, one at a time ---------- */

/* Lets a test run pool calls on a thread of its own that stays alive (and
 * idle) between steps, so that its cache and inbox exist while the main
 * thread looks. Assertions stay on the main thread. */
typedef enum op_kind { OP_ALLOC, OP_FREE, OP_SIZE, OP_FILL, OP_CHECK } op_kind;

typedef struct op {
  tp_pool *pool;
  op_kind kind;
  size_t bytes;
  tp_stream stream;
  void *ptr;
  unsigned seed;
  tp_status st;
  size_t size;
  bool ok;
  char msg[512];
} op;

static inline void op_run(op *o) {
  o->st = TP_SUCCESS;
  o->msg[0] = '\0';
  switch (o->kind) {
  case OP_ALLOC:
    o->ptr = NULL;
    o->st = tp_pool_alloc(o->pool, o->bytes, o->stream, &o->ptr);
    break;
  case OP_FREE: o->st = tp_pool_free(o->pool, o->ptr, o->stream); break;
  case OP_SIZE: o->st = tp_pool_block_size(o->pool, o->ptr, &o->size); break;
  case OP_FILL: ct_fill(o->ptr, o->bytes, o->seed); break;
  case OP_CHECK: o->ok = ct_check(o->ptr, o->bytes, o->seed); break;
  }
  if (o->st != TP_SUCCESS)
    snprintf(o->msg, sizeof o->msg, "%s", tp_last_error());
}

typedef struct worker {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  op *ops;
  int nops;
  bool has_job, quit;
} worker;

static inline void *worker_main(void *arg) {
  worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->has_job && !w->quit)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->has_job) {
      op *ops = w->ops;
      int n = w->nops;
      pthread_mutex_unlock(&w->mu);
      for (int i = 0; i < n; i++)
        op_run(&ops[i]);
      pthread_mutex_lock(&w->mu);
      w->has_job = false;
      pthread_cond_broadcast(&w->cv);
      continue;
    }
    break; /* quit */
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static inline void worker_start(worker *w) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  cr_assert_eq(pthread_create(&w->thread, NULL, worker_main, w), 0);
}

/* Runs `n` steps on the worker and waits for them. */
static inline void worker_do(worker *w, op *ops, int n) {
  pthread_mutex_lock(&w->mu);
  w->ops = ops;
  w->nops = n;
  w->has_job = true;
  pthread_cond_broadcast(&w->cv);
  while (w->has_job)
    pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

/* The thread exits (and with it, its caches). */
static inline void worker_stop(worker *w) {
  pthread_mutex_lock(&w->mu);
  w->quit = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
}

static inline void *w_alloc(worker *w, tp_pool *pool, size_t bytes,
                            tp_stream s) {
  op o = {.pool = pool, .kind = OP_ALLOC, .bytes = bytes, .stream = s};
  worker_do(w, &o, 1);
  cr_assert_eq(o.st, TP_SUCCESS, "worker's tp_pool_alloc(%zu): %s", bytes,
               o.msg);
  cr_assert_not_null(o.ptr);
  return o.ptr;
}

static inline tp_status w_free(worker *w, tp_pool *pool, void *p, tp_stream s,
                               char *msg, size_t msg_len) {
  op o = {.pool = pool, .kind = OP_FREE, .ptr = p, .stream = s};
  worker_do(w, &o, 1);
  if (msg)
    snprintf(msg, msg_len, "%s", o.msg);
  return o.st;
}

static inline void w_free_ok(worker *w, tp_pool *pool, void *p) {
  char msg[512];
  tp_status st = w_free(w, pool, p, NULL, msg, sizeof msg);
  cr_assert_eq(st, TP_SUCCESS, "worker's tp_pool_free(%p): %s", p, msg);
}

static inline size_t w_usable(worker *w, tp_pool *pool, void *p) {
  op o = {.pool = pool, .kind = OP_SIZE, .ptr = p};
  worker_do(w, &o, 1);
  cr_assert_eq(o.st, TP_SUCCESS, "worker's tp_pool_block_size: %s", o.msg);
  return o.size;
}

#endif
