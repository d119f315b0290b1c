/* Multi-threaded stress of the pool's thread caches on the host space
 * (requests of up to 64 KiB on the NULL stream): generations of short-lived
 * threads that allocate, hand blocks to each other to free and exit with
 * blocks parked, while a controller trims, changes the limit and turns the
 * caches off and on, and reads statistics that must always add up; pairs
 * of threads that free one block at once (exactly one may succeed, and the
 * block is never handed out twice); and pools destroyed while the threads
 * that used them exit. Every block carries its own byte pattern, checked
 * before it is freed. A plain program (no Criterion), so that
 * ThreadSanitizer sees only our code: exit 0 is a pass.
 *
 * TP_STRESS_OPS=<n> changes the operations per thread (default 4000). */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_pattern.h"
#include "tensorpool/pool.h"
#include "test_rng.h"

#define THREADS 8
#define GENERATIONS 4
#define OWN 16
#define QUEUE 64

typedef struct block {
  void *ptr;
  size_t bytes;
  uint64_t id;
} block;

typedef struct handoff {
  pthread_mutex_t lock;
  block items[QUEUE];
  size_t count;
} handoff;

typedef struct stress {
  tp_pool *pool;
  unsigned ops;
  handoff queues[THREADS];
  atomic_uint_fast64_t next_id;
  atomic_uint_fast64_t allocations, deallocations, bytes_allocated, bytes_freed,
      refused;
  atomic_bool failed;
  atomic_bool stop;
} stress;

static void failf(stress *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void failf(stress *st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  atomic_store(&st->failed, true);
}

typedef struct worker {
  stress *st;
  unsigned index;
  tp_rng rng;
  block own[OWN];
  size_t count;
} worker;

static void free_checked(worker *w, block b) {
  stress *st = w->st;
  size_t bad = tp_pattern_check(b.ptr, b.bytes, b.id);
  if (bad != b.bytes)
    failf(st, "block %" PRIu64 " at %p: byte %zu of %zu changed", b.id, b.ptr,
          bad, b.bytes);
  tp_status s = tp_pool_free(st->pool, b.ptr, NULL);
  if (s != TP_SUCCESS)
    failf(st, "free of block %" PRIu64 " at %p: %s", b.id, b.ptr,
          tp_last_error());
  atomic_fetch_add(&st->deallocations, 1);
  atomic_fetch_add(&st->bytes_freed, b.bytes);
}

static void step(worker *w) {
  stress *st = w->st;
  unsigned roll = (unsigned)tp_rng_below(&w->rng, 100);
  if (roll < 50 && w->count < OWN) {
    /* Mostly small, and up to past the caches' largest size (256 KiB). */
    size_t bytes = 1 + (size_t)tp_rng_below(&w->rng, roll < 40   ? 4096
                                                     : roll < 48 ? 65536
                                                                 : 320 << 10);
    void *ptr = NULL;
    tp_status s = tp_pool_alloc(st->pool, bytes, NULL, &ptr);
    if (s == TP_ERR_OUT_OF_MEMORY) { /* under the controller's limit */
      atomic_fetch_add(&st->refused, 1);
      return;
    }
    if (s != TP_SUCCESS) {
      failf(st, "alloc of %zu: %s", bytes, tp_last_error());
      return;
    }
    block b = {ptr, bytes, atomic_fetch_add(&st->next_id, 1)};
    tp_pattern_fill(ptr, bytes, b.id);
    atomic_fetch_add(&st->allocations, 1);
    atomic_fetch_add(&st->bytes_allocated, bytes);
    w->own[w->count++] = b;
  } else if (roll < 80 && w->count) {
    size_t i = (size_t)tp_rng_below(&w->rng, w->count);
    block b = w->own[i];
    w->own[i] = w->own[--w->count];
    free_checked(w, b);
  } else if (roll < 92 && w->count) {
    /* Another thread frees it. */
    handoff *q = &st->queues[(w->index + 1) % THREADS];
    pthread_mutex_lock(&q->lock);
    if (q->count < QUEUE) {
      q->items[q->count++] = w->own[w->count - 1];
      w->count--;
    }
    pthread_mutex_unlock(&q->lock);
  } else {
    handoff *q = &st->queues[w->index];
    block got[QUEUE];
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    memcpy(got, q->items, n * sizeof *got);
    q->count = 0;
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < n; i++)
      free_checked(w, got[i]);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  for (unsigned i = 0; i < w->st->ops && !atomic_load(&w->st->failed); i++)
    step(w);
  /* Exits with blocks parked in its cache; the rest are freed here. */
  while (w->count)
    free_checked(w, w->own[--w->count]);
  return NULL;
}

/* Reads statistics that must always add up, trims, changes the limit and
 * the caches' bytes while the workers run. */
static void *controller_main(void *arg) {
  stress *st = arg;
  tp_rng rng = tp_rng_make(99);
  while (!atomic_load(&st->stop)) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_pool_get_stats(st->pool, &s);
    if (s.reserved_bytes != s.live_bytes + s.cached_bytes ||
        s.thread_cached_bytes > s.cached_bytes ||
        s.thread_cached_blocks > s.cached_blocks)
      failf(st,
            "statistics: reserved %" PRIu64 ", live %" PRIu64
            ", cached %" PRIu64 " (%" PRIu64 " in thread caches)",
            s.reserved_bytes, s.live_bytes, s.cached_bytes,
            s.thread_cached_bytes);
    switch (tp_rng_below(&rng, 5)) {
    case 0: tp_pool_trim(st->pool, 0); break;
    case 1:
      tp_pool_set_attribute(st->pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                            tp_rng_below(&rng, 3) == 0 ? 0 : 256 << 10);
      break;
    case 2:
      /* A limit may be refused (live bytes above it): then it stays. */
      tp_pool_set_limit(st->pool, (size_t)64 << 20);
      break;
    case 3: tp_pool_set_limit(st->pool, TP_UNLIMITED); break;
    default: break;
    }
  }
  return NULL;
}

static bool run_generations(unsigned ops) {
  stress st;
  memset(&st, 0, sizeof st);
  st.ops = ops;
  for (unsigned i = 0; i < THREADS; i++)
    pthread_mutex_init(&st.queues[i].lock, NULL);
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = 256 << 10;
  if (tp_pool_create(tp_host_space(), &config, &st.pool) != TP_SUCCESS) {
    fprintf(stderr, "FAIL: create: %s\n", tp_last_error());
    return false;
  }
  pthread_t controller;
  pthread_create(&controller, NULL, controller_main, &st);
  static worker workers[THREADS];
  for (unsigned g = 0; g < GENERATIONS; g++) {
    pthread_t ids[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
      workers[i] = (worker){&st, i, tp_rng_make(g * 1000 + i + 1), {{0}}, 0};
      pthread_create(&ids[i], NULL, worker_main, &workers[i]);
    }
    for (unsigned i = 0; i < THREADS; i++)
      pthread_join(ids[i], NULL);
    /* Blocks handed over after their receiver finished. */
    for (unsigned i = 0; i < THREADS; i++) {
      worker *w = &workers[i];
      handoff *q = &st.queues[i];
      for (size_t k = 0; k < q->count; k++)
        free_checked(w, q->items[k]);
      q->count = 0;
    }
  }
  atomic_store(&st.stop, true);
  pthread_join(controller, NULL);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(st.pool, &s);
  if (s.allocations != atomic_load(&st.allocations) ||
      s.deallocations != atomic_load(&st.deallocations) ||
      s.bytes_allocated != atomic_load(&st.bytes_allocated) ||
      s.bytes_freed != atomic_load(&st.bytes_freed) || s.live_blocks != 0 ||
      s.requested_bytes != 0 || s.thread_cached_blocks != 0)
    failf(&st,
          "at the end: %" PRIu64 " allocations (%" PRIu64 " made), %" PRIu64
          " deallocations (%" PRIu64 " made), %" PRIu64 " live, %" PRIu64
          " parked (every thread exited)",
          s.allocations, (uint64_t)atomic_load(&st.allocations),
          s.deallocations, (uint64_t)atomic_load(&st.deallocations),
          s.live_blocks, s.thread_cached_blocks);
  if (tp_pool_trim(st.pool, 0) != TP_SUCCESS)
    failf(&st, "trim: %s", tp_last_error());
  tp_pool_get_stats(st.pool, &s);
  if (s.reserved_bytes != 0)
    failf(&st, "after trim(0) with nothing live: %" PRIu64 " bytes reserved",
          s.reserved_bytes);
  if (tp_pool_destroy(st.pool) != TP_SUCCESS)
    failf(&st, "destroy: %s", tp_last_error());
  printf("generations: %" PRIu64 " allocations, %" PRIu64
         " refused under the limit\n",
         (uint64_t)atomic_load(&st.allocations),
         (uint64_t)atomic_load(&st.refused));
  return !atomic_load(&st.failed);
}

/* ---- two frees of one block at once ---- */

/* The thread that allocated a block (its cache finds it without the lock)
 * and another (through the pool's lock) free it at once. One is refused at
 * once, or both return and the other thread's free, queued for the
 * allocating thread's cache, is found to be the second when that cache
 * takes it back (a failure in the statistics); either way the block is
 * free once. */
typedef struct race {
  tp_pool *pool;
  pthread_barrier_t barrier;
  void *ptr;
  tp_status theirs;
  atomic_bool quit;
} race;

static void *racer_main(void *arg) {
  race *r = arg;
  for (;;) {
    pthread_barrier_wait(&r->barrier); /* a block is ready, or quit */
    if (atomic_load(&r->quit))
      return NULL;
    r->theirs = tp_pool_free(r->pool, r->ptr, NULL);
    pthread_barrier_wait(&r->barrier); /* both done */
  }
}

static bool run_double_frees(unsigned rounds) {
  race r;
  memset(&r, 0, sizeof r);
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  if (tp_pool_create(tp_host_space(), &config, &r.pool) != TP_SUCCESS)
    return false;
  pthread_barrier_init(&r.barrier, NULL, 2);
  pthread_t id;
  pthread_create(&id, NULL, racer_main, &r);
  bool ok = true;
  unsigned mine = 0, both = 0;
  for (unsigned i = 0; i < rounds && ok; i++) {
    if (tp_pool_alloc(r.pool, 512, NULL, &r.ptr) != TP_SUCCESS)
      return false;
    pthread_barrier_wait(&r.barrier);
    tp_status ours = tp_pool_free(r.pool, r.ptr, NULL);
    pthread_barrier_wait(&r.barrier);
    mine += ours == TP_SUCCESS;
    both += ours == TP_SUCCESS && r.theirs == TP_SUCCESS;
    if ((ours != TP_SUCCESS && r.theirs != TP_SUCCESS) ||
        (ours != TP_SUCCESS && ours != TP_ERR_INVALID_POINTER) ||
        (r.theirs != TP_SUCCESS && r.theirs != TP_ERR_INVALID_POINTER)) {
      fprintf(stderr, "FAIL: two frees of one block: %s and %s\n",
              tp_status_name(ours), tp_status_name(r.theirs));
      ok = false;
    }
  }
  atomic_store(&r.quit, true);
  pthread_barrier_wait(&r.barrier);
  pthread_join(id, NULL);
  /* Never handed out twice: a run of distinct live blocks. */
  void *live[64];
  for (int i = 0; i < 64 && ok; i++) {
    ok = tp_pool_alloc(r.pool, 512, NULL, &live[i]) == TP_SUCCESS;
    for (int k = 0; k < i && ok; k++)
      if (live[k] == live[i]) {
        fprintf(stderr, "FAIL: %p handed out twice\n", live[i]);
        ok = false;
      }
  }
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(r.pool, &s);
  if (ok && (s.live_blocks != 64 || s.failures != rounds)) {
    fprintf(stderr,
            "FAIL: after the races %" PRIu64 " live (64 expected), %" PRIu64
            " failures (%u expected)\n",
            s.live_blocks, s.failures, rounds);
    ok = false;
  }
  tp_pool_destroy(r.pool);
  pthread_barrier_destroy(&r.barrier);
  printf("double frees: %u rounds, the allocating thread won %u, both "
         "returned in %u\n",
         rounds, mine, both);
  return ok;
}

/* ---- pools destroyed while their users exit ---- */

typedef struct user {
  tp_pool *pool;
  pthread_barrier_t *done;
} user;

static void *user_main(void *arg) {
  user *u = arg;
  void *p[8];
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 8; i++)
      tp_pool_alloc(u->pool, 256 * (size_t)(i + 1), NULL, &p[i]);
    for (int i = 0; i < 8; i++)
      tp_pool_free(u->pool, p[i], NULL);
  }
  /* The pool's last use: the main thread destroys it while this thread's
   * exit gives its cache back. */
  pthread_barrier_wait(u->done);
  return NULL;
}

static bool run_destroy_races(unsigned rounds) {
  for (unsigned r = 0; r < rounds; r++) {
    tp_pool *pool;
    if (tp_pool_create(tp_host_space(), NULL, &pool) != TP_SUCCESS)
      return false;
    pthread_barrier_t done;
    pthread_barrier_init(&done, NULL, 5);
    pthread_t ids[4];
    user users[4];
    for (int i = 0; i < 4; i++) {
      users[i] = (user){pool, &done};
      pthread_create(&ids[i], NULL, user_main, &users[i]);
    }
    pthread_barrier_wait(&done);
    tp_status st = tp_pool_destroy(pool);
    for (int i = 0; i < 4; i++)
      pthread_join(ids[i], NULL);
    pthread_barrier_destroy(&done);
    if (st != TP_SUCCESS) {
      fprintf(stderr, "FAIL: destroy: %s\n", tp_last_error());
      return false;
    }
  }
  printf("destroy against thread exit: %u rounds\n", rounds);
  return true;
}

int main(void) {
  const char *text = getenv("TP_STRESS_OPS");
  unsigned long n = text ? strtoul(text, NULL, 10) : 0;
  unsigned ops = n ? (unsigned)n : 4000;
  bool ok = run_generations(ops);
  ok = run_double_frees(ops / 4) && ok;
  ok = run_destroy_races(20) && ok;
  printf("%s\n", ok ? "pass" : "FAIL");
  return ok ? 0 : 1;
}
