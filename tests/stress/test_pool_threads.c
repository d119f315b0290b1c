/* Multi-threaded stress of one pool, on the host space and on the simulated
 * space (plain, and with virtual memory whose pages must be committed, with
 * free pages given back and oversize blocks): worker threads allocate and free
 * with their own byte patterns, hand blocks to each other to free (cross-thread
 * frees), share three streams, and make deliberately bad calls, while an
 * observer thread reads statistics, trims and forgets streams. At the end the
 * statistics must add up exactly and every block must have kept its bytes. A
 * plain program (no Criterion), so that ThreadSanitizer sees only our code:
 * exit 0 is a pass.
 *
 * TP_STRESS_OPS=<n> changes the operations per worker (default 20000). */
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
#include "sim_space.h"
#include "tensorpool/pool.h"
#include "test_rng.h"

#define WORKERS 4
#define STREAMS 3
#define MAX_OWN 32
#define QUEUE 64

typedef struct block {
  void *ptr;
  size_t bytes;
  uint64_t id;
  unsigned stream;
} block;

/* Blocks handed to one worker by another, to be checked and freed there. */
typedef struct handoff {
  pthread_mutex_t lock;
  block items[QUEUE];
  size_t count;
} handoff;

typedef struct stress {
  const char *label;
  tp_pool *pool;
  tp_sim *sim; /* NULL on the host space */
  tp_pool_config config;
  tp_raw_allocator raw;
  tp_stream streams[STREAMS];
  handoff queues[WORKERS];
  unsigned ops;
  atomic_bool stop;
  atomic_uint_fast64_t next_id;
  /* What the pool's statistics must add up to. */
  atomic_uint_fast64_t allocations, deallocations, bytes_allocated, bytes_freed,
      failures;
  atomic_uint_fast64_t refused; /* of the failures: allocs over the limit */
  atomic_uint_fast64_t errors;
  pthread_mutex_t message_lock;
  char message[512];
  unsigned char foreign[512];
} stress;

typedef struct worker {
  stress *st;
  unsigned index;
  tp_rng rng;
  block own[MAX_OWN];
  size_t own_count;
} worker;

static void report(stress *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(stress *st, const char *fmt, ...) {
  pthread_mutex_lock(&st->message_lock);
  if (atomic_fetch_add(&st->errors, 1) == 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, args);
    va_end(args);
  }
  pthread_mutex_unlock(&st->message_lock);
}

/* Half the workers go through the raw allocator table, half call the pool. */
static tp_status do_alloc(worker *w, size_t bytes, tp_stream s, void **out) {
  if (w->index % 2)
    return tp_raw_alloc(&w->st->raw, bytes, 0, s, out);
  return tp_pool_alloc(w->st->pool, bytes, s, out);
}

static tp_status do_free(worker *w, void *ptr, tp_stream s) {
  if (w->index % 2)
    return tp_raw_free(&w->st->raw, ptr, 0, s);
  return tp_pool_free(w->st->pool, ptr, s);
}

static size_t draw_size(worker *w) {
  unsigned roll = (unsigned)tp_rng_below(&w->rng, 100);
  return (size_t)tp_rng_range(&w->rng, 1,
                              roll < 70   ? 1024
                              : roll < 97 ? 8192
                                          : 65536);
}

static void alloc_one(worker *w) {
  stress *st = w->st;
  if (w->own_count == MAX_OWN)
    return;
  size_t bytes = draw_size(w);
  unsigned s = (unsigned)tp_rng_below(&w->rng, STREAMS);
  void *ptr = NULL;
  tp_status status = do_alloc(w, bytes, st->streams[s], &ptr);
  if (status == TP_ERR_OUT_OF_MEMORY && st->config.limit != TP_UNLIMITED) {
    atomic_fetch_add(&st->failures, 1); /* the limit refused it: allowed */
    atomic_fetch_add(&st->refused, 1);
    return;
  }
  if (status != TP_SUCCESS || !ptr || (uintptr_t)ptr % 256 != 0) {
    report(st, "%s: worker %u: alloc of %zu gave %s %p: %s", st->label,
           w->index, bytes, tp_status_name(status), ptr, tp_last_error());
    return;
  }
  block b = {ptr, bytes, atomic_fetch_add(&st->next_id, 1), s};
  tp_pattern_fill(ptr, bytes, b.id);
  if (st->sim)
    tp_sim_enqueue(st->sim, st->streams[s]); /* the block's use */
  w->own[w->own_count++] = b;
  atomic_fetch_add(&st->allocations, 1);
  atomic_fetch_add(&st->bytes_allocated, bytes);
}

/* Checks a block's bytes and frees it on its stream or on another one. */
static void check_and_free(worker *w, block b) {
  stress *st = w->st;
  size_t bad = tp_pattern_check(b.ptr, b.bytes, b.id);
  if (bad != b.bytes)
    report(st,
           "%s: worker %u: block %" PRIu64 " at %p (%zu bytes) lost its "
           "bytes at offset %zu",
           st->label, w->index, b.id, b.ptr, b.bytes, bad);
  unsigned s = tp_rng_percent(&w->rng, 80)
                   ? b.stream
                   : (unsigned)tp_rng_below(&w->rng, STREAMS);
  tp_status status = do_free(w, b.ptr, st->streams[s]);
  if (status != TP_SUCCESS) {
    report(st, "%s: worker %u: free of block %" PRIu64 " gave %s: %s",
           st->label, w->index, b.id, tp_status_name(status), tp_last_error());
    return;
  }
  atomic_fetch_add(&st->deallocations, 1);
  atomic_fetch_add(&st->bytes_freed, b.bytes);
}

static void free_own(worker *w) {
  if (!w->own_count)
    return;
  size_t k = (size_t)tp_rng_below(&w->rng, w->own_count);
  block b = w->own[k];
  w->own[k] = w->own[--w->own_count];
  check_and_free(w, b);
}

/* Gives one block to the next worker, which will check and free it. */
static void hand_off(worker *w) {
  if (!w->own_count)
    return;
  handoff *q = &w->st->queues[(w->index + 1) % WORKERS];
  pthread_mutex_lock(&q->lock);
  bool room = q->count < QUEUE;
  if (room)
    q->items[q->count++] = w->own[--w->own_count];
  pthread_mutex_unlock(&q->lock);
}

static void drain_mine(worker *w) {
  handoff *q = &w->st->queues[w->index];
  block taken[QUEUE];
  pthread_mutex_lock(&q->lock);
  size_t n = q->count;
  memcpy(taken, q->items, n * sizeof *taken);
  q->count = 0;
  pthread_mutex_unlock(&q->lock);
  for (size_t i = 0; i < n; ++i)
    check_and_free(w, taken[i]);
}

/* Calls that must fail, each counted once in the pool's failures; but a
 * 0-byte alloc through the raw table, which tp_raw_alloc refuses before
 * the table (raw_allocator.h), never reaches the pool. */
static void bad_call(worker *w) {
  stress *st = w->st;
  tp_stream s = st->streams[tp_rng_below(&w->rng, STREAMS)];
  void *ptr = NULL;
  tp_status status;
  tp_status expected;
  bool reaches_pool = true;
  if (tp_rng_percent(&w->rng, 50)) {
    expected = TP_ERR_INVALID_ARGUMENT;
    status = do_alloc(w, 0, s, &ptr);
    reaches_pool = w->index % 2 == 0;
  } else {
    expected = TP_ERR_INVALID_POINTER;
    status = do_free(w, st->foreign + 256 * tp_rng_below(&w->rng, 2), s);
  }
  if (status != expected)
    report(st, "%s: worker %u: a bad call gave %s, expected %s", st->label,
           w->index, tp_status_name(status), tp_status_name(expected));
  else if (reaches_pool)
    atomic_fetch_add(&st->failures, 1);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  stress *st = w->st;
  for (unsigned op = 0; op < st->ops && !atomic_load(&st->errors); ++op) {
    unsigned roll = (unsigned)tp_rng_below(&w->rng, 100);
    if (roll < 45)
      alloc_one(w);
    else if (roll < 75)
      free_own(w);
    else if (roll < 85)
      hand_off(w);
    else if (roll < 95)
      drain_mine(w);
    else if (roll < 97)
      bad_call(w);
    else if (st->sim)
      tp_sim_complete(st->sim, st->streams[tp_rng_below(&w->rng, STREAMS)],
                      UINT64_MAX);
  }
  while (w->own_count)
    free_own(w);
  return NULL;
}

static void ignore_line(void *user, const char *line) {
  (void)user;
  (void)line;
}

/* What holds in any snapshot: free + live = reserved, within the limit,
 * and the fragmentation figures inside the free bytes. */
static bool invariants_hold(stress *st, const tp_pool_stats *s) {
  const tp_pool_config *c = &st->config;
  if (s->reserved_bytes == s->live_bytes + s->cached_bytes &&
      s->hits + s->misses == s->allocations && s->reserved_bytes <= c->limit &&
      s->requested_bytes <= s->live_bytes &&
      s->largest_free_block <= s->cached_bytes &&
      s->free_segment_bytes <= s->cached_bytes &&
      s->free_segments <= s->segments &&
      s->decommitted_bytes <= s->cached_bytes)
    return true;
  report(st,
         "%s: inconsistent statistics: reserved %" PRIu64 " live %" PRIu64
         " cached %" PRIu64 " requested %" PRIu64 " hits %" PRIu64
         " misses %" PRIu64 " allocations %" PRIu64 " limit %zu; largest "
         "free %" PRIu64 ", %" PRIu64 " of %" PRIu64 " segments free (%" PRIu64
         " bytes), decommitted %" PRIu64,
         st->label, s->reserved_bytes, s->live_bytes, s->cached_bytes,
         s->requested_bytes, s->hits, s->misses, s->allocations, c->limit,
         s->largest_free_block, s->free_segments, s->segments,
         s->free_segment_bytes, s->decommitted_bytes);
  return false;
}

/* Reads statistics, trims, forgets streams and completes work while the
 * workers run. */
static void *observer_main(void *arg) {
  stress *st = arg;
  tp_rng rng = tp_rng_make(0xD1CE);
  while (!atomic_load(&st->stop)) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    if (tp_pool_get_stats(st->pool, &s) != TP_SUCCESS ||
        !invariants_hold(st, &s))
      break;
    unsigned roll = (unsigned)tp_rng_below(&rng, 100);
    tp_status status = TP_SUCCESS;
    if (roll < 10)
      status = tp_pool_trim(st->pool, s.cached_bytes / 2);
    else if (roll < 15)
      status = tp_pool_forget_stream(st->pool,
                                     st->streams[tp_rng_below(&rng, STREAMS)]);
    else if (roll < 17)
      status = tp_pool_print_stats(st->pool, ignore_line, NULL);
    else if (roll < 40 && st->sim)
      tp_sim_complete_all(st->sim);
    if (status != TP_SUCCESS)
      report(st, "%s: observer: a call failed: %s", st->label, tp_last_error());
  }
  return NULL;
}

/* After every thread is done: the statistics add up exactly. */
static void check_totals(stress *st) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(st->pool, &s);
  uint64_t allocations = atomic_load(&st->allocations);
  uint64_t bytes = atomic_load(&st->bytes_allocated);
  if (s.allocations != allocations ||
      s.deallocations != atomic_load(&st->deallocations) ||
      s.deallocations != allocations || s.bytes_allocated != bytes ||
      s.bytes_freed != bytes || atomic_load(&st->bytes_freed) != bytes ||
      s.failures != atomic_load(&st->failures) || s.live_blocks != 0 ||
      s.live_bytes != 0 || s.requested_bytes != 0 ||
      s.reserved_bytes != s.cached_bytes)
    report(st,
           "%s: totals disagree: allocations %" PRIu64 "/%" PRIu64
           " deallocations %" PRIu64 "/%" PRIu64 " bytes %" PRIu64 "/%" PRIu64
           "/%" PRIu64 " failures %" PRIu64 "/%" PRIu64
           " live %zu blocks %zu bytes, requested %zu, reserved %zu cached "
           "%zu",
           st->label, s.allocations, allocations, s.deallocations,
           (uint64_t)atomic_load(&st->deallocations), s.bytes_allocated,
           s.bytes_freed, bytes, s.failures,
           (uint64_t)atomic_load(&st->failures), s.live_blocks, s.live_bytes,
           s.requested_bytes, s.reserved_bytes, s.cached_bytes);
  else
    invariants_hold(st, &s);
  printf("%s: %" PRIu64 " allocations (%" PRIu64 " hits, %" PRIu64
         " cross-stream takes), %" PRIu64 " failures (%" PRIu64
         " over the limit), %" PRIu64 " releases, peak reserved %zu\n",
         st->label, s.allocations, s.hits, s.cross_stream_takes, s.failures,
         (uint64_t)atomic_load(&st->refused), s.releases,
         s.reserved_bytes_peak);
}

static unsigned ops_per_worker(void) {
  const char *text = getenv("TP_STRESS_OPS");
  unsigned long n = text ? strtoul(text, NULL, 10) : 0;
  return n ? (unsigned)n : 20000u;
}

/* How a run's upstream behaves. */
typedef enum upstream {
  UPSTREAM_HOST,  /* the host space: growable segments, pages given back */
  UPSTREAM_SIM,   /* the simulated space, plain */
  UPSTREAM_SIM_VM /* the simulated space with VM that needs commits */
} upstream;

static bool run(const char *label, upstream kind, tp_pool_config config) {
  bool simulated = kind != UPSTREAM_HOST;
  static stress st; /* large: kept off the stack */
  memset(&st, 0, sizeof st);
  st.label = label;
  st.config = config;
  st.ops = ops_per_worker();
  pthread_mutex_init(&st.message_lock, NULL);
  for (unsigned i = 0; i < WORKERS; ++i)
    pthread_mutex_init(&st.queues[i].lock, NULL);
  /* Host streams are tags; NULL (the default stream) is one of them. */
  static int host_tags[STREAMS];
  st.sim = simulated ? tp_sim_create(SIZE_MAX) : NULL;
  if (kind == UPSTREAM_SIM_VM)
    tp_sim_enable_vm(st.sim, 65536, true);
  for (unsigned s = 0; s < STREAMS; ++s)
    st.streams[s] = simulated ? tp_sim_stream_create(st.sim)
                    : s == 0  ? NULL
                              : (tp_stream)&host_tags[s];
  const tp_space *space = simulated ? tp_sim_space(st.sim) : tp_host_space();
  tp_status status = tp_pool_create(space, &config, &st.pool);
  st.raw = (tp_raw_allocator)TP_RAW_ALLOCATOR_INIT;
  if (status == TP_SUCCESS)
    status = tp_pool_raw_allocator(st.pool, &st.raw);
  if (status != TP_SUCCESS) {
    fprintf(stderr, "%s: setup failed: %s\n", label, tp_last_error());
    return false;
  }

  static worker workers[WORKERS];
  pthread_t ids[WORKERS], observer;
  for (unsigned i = 0; i < WORKERS; ++i) {
    memset(&workers[i], 0, sizeof workers[i]);
    workers[i].st = &st;
    workers[i].index = i;
    workers[i].rng = tp_rng_make(0x5EED0000u + i);
  }
  bool started = pthread_create(&observer, NULL, observer_main, &st) == 0;
  for (unsigned i = 0; i < WORKERS && started; ++i)
    if (pthread_create(&ids[i], NULL, worker_main, &workers[i]) != 0) {
      fprintf(stderr, "%s: could not start worker %u\n", label, i);
      return false;
    }
  if (!started) {
    fprintf(stderr, "%s: could not start the observer\n", label);
    return false;
  }
  for (unsigned i = 0; i < WORKERS; ++i)
    pthread_join(ids[i], NULL);
  atomic_store(&st.stop, true);
  pthread_join(observer, NULL);

  /* Blocks still in hand-off queues: freed here, after their bytes are
   * checked. */
  for (unsigned i = 0; i < WORKERS; ++i)
    drain_mine(&workers[i]);
  check_totals(&st);
  status = tp_pool_destroy(st.pool);
  if (status != TP_SUCCESS)
    report(&st, "%s: destroy gave %s: %s", label, tp_status_name(status),
           tp_last_error());
  if (st.sim) {
    size_t leaked = tp_sim_destroy(st.sim);
    if (leaked)
      report(&st, "%s: %zu bytes never given back upstream", label, leaked);
  }
  for (unsigned i = 0; i < WORKERS; ++i)
    pthread_mutex_destroy(&st.queues[i].lock);
  pthread_mutex_destroy(&st.message_lock);
  if (atomic_load(&st.errors)) {
    fprintf(stderr, "FAIL %s (%" PRIu64 " errors): %s\n", label,
            (uint64_t)atomic_load(&st.errors), st.message);
    return false;
  }
  return true;
}

int main(void) {
  tp_pool_config unbounded = TP_POOL_CONFIG_INIT;
  unbounded.name = "stress";
  tp_pool_config bounded = unbounded;
  bounded.max_cached_bytes = 256 * 1024;
  bounded.max_buffers_per_bucket = 4;
  bounded.limit = 512 * 1024; /* under the live peak: some allocs refused */
  bounded.divisions = 2;
  /* Free pages given back after a few calls, and large blocks alone. */
  tp_pool_config paged = unbounded;
  paged.page_release = TP_PAGE_RELEASE_AGED;
  paged.page_release_delay = 8;
  paged.oversize_threshold = 32 * 1024;
  bool ok = run("host unbounded", UPSTREAM_HOST, unbounded);
  ok = run("host bounded", UPSTREAM_HOST, bounded) && ok;
  ok = run("host paged", UPSTREAM_HOST, paged) && ok;
  ok = run("sim unbounded", UPSTREAM_SIM, unbounded) && ok;
  ok = run("sim bounded", UPSTREAM_SIM, bounded) && ok;
  ok = run("sim vm paged", UPSTREAM_SIM_VM, paged) && ok;
  ok = run("sim vm bounded", UPSTREAM_SIM_VM, bounded) && ok;
  puts(ok ? "pool threads stress: pass" : "pool threads stress: FAIL");
  return ok ? 0 : 1;
}
