/* Soak of one pool by 8 threads at once, for ThreadSanitizer (label stress,
 * scripts/test_tsan.sh): every thread allocates, frees its own blocks and
 * blocks other threads handed to it, trims, reads statistics, changes the
 * limit, forgets streams and makes bad calls, while every call goes into
 * the pool's event log. Afterwards the statistics must equal the sum of what
 * the threads counted, every block must have kept its bytes, and the log
 * must hold exactly one line per logged call. A plain program: exit 0 is a
 * pass.
 *
 * TP_SOAK_OPS=<n> changes the operations per thread (default 3000). */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_pattern.h"
#include "tensorpool/pool.h"
#include "test_rng.h"

#define THREADS 8
#define STREAMS 5 /* tags: the host space's streams need no handles */
#define MAX_OWN 24
#define MAILBOX 32
/* A comma in the name: every line of the log must quote it. */
#define POOL_NAME "soak,8 threads"

typedef struct block {
  void *ptr;
  size_t bytes;
  uint64_t id;
} block;

/* Blocks handed to a thread by the others, freed by it. */
typedef struct mailbox {
  pthread_mutex_t lock;
  block items[MAILBOX];
  size_t count;
} mailbox;

/* What one thread did that the pool must have counted. */
typedef struct counts {
  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, failures,
      trims, forgets;
} counts;

typedef struct thread {
  unsigned index;
  tp_rng rng;
  block own[MAX_OWN];
  size_t own_count;
  counts c;
} thread;

static tp_pool *pool;
static mailbox boxes[THREADS];
static unsigned ops = 3000;
static atomic_uint_fast64_t next_id;
static atomic_int errors;
static unsigned char foreign[512];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "test_pool_soak: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  atomic_fetch_add(&errors, 1);
}

static tp_stream stream_of(unsigned i) {
  return (tp_stream)(uintptr_t)(i * 64); /* stream 0 is NULL */
}

static tp_stream any_stream(thread *t) {
  return stream_of((unsigned)tp_rng_below(&t->rng, STREAMS));
}

static void check_bytes(const block *b, const char *when) {
  size_t bad = tp_pattern_check(b->ptr, b->bytes, b->id);
  if (bad != b->bytes)
    fail("block %" PRIu64 " (%zu bytes) lost its bytes at offset %zu %s", b->id,
         b->bytes, bad, when);
}

static void free_block(thread *t, const block *b) {
  check_bytes(b, "before its free");
  tp_status st = tp_pool_free(pool, b->ptr, any_stream(t));
  if (st != TP_SUCCESS) {
    fail("free of a live block: %s", tp_last_error());
    return;
  }
  t->c.deallocations++;
  t->c.bytes_freed += b->bytes;
}

static void do_alloc(thread *t) {
  if (t->own_count == MAX_OWN)
    return;
  size_t bytes = 1 + (size_t)tp_rng_below(&t->rng, 64 * 1024);
  void *p = NULL;
  tp_status st = tp_pool_alloc(pool, bytes, any_stream(t), &p);
  if (st == TP_ERR_OUT_OF_MEMORY) { /* another thread lowered the limit */
    t->c.failures++;
    return;
  }
  if (st != TP_SUCCESS || !p || (uintptr_t)p % 256) {
    fail("alloc of %zu bytes: %s", bytes, tp_last_error());
    return;
  }
  block b = {p, bytes, atomic_fetch_add(&next_id, 1) + 1};
  tp_pattern_fill(p, bytes, b.id);
  t->own[t->own_count++] = b;
  t->c.allocations++;
  t->c.bytes_allocated += bytes;
}

static void do_free_own(thread *t) {
  if (t->own_count == 0)
    return;
  size_t i = (size_t)tp_rng_below(&t->rng, t->own_count);
  block b = t->own[i];
  t->own[i] = t->own[--t->own_count];
  free_block(t, &b);
}

/* Hands one of its blocks to another thread, which will free it. */
static void do_hand_over(thread *t) {
  if (t->own_count == 0)
    return;
  mailbox *m =
      &boxes[(t->index + 1 + tp_rng_below(&t->rng, THREADS - 1)) % THREADS];
  pthread_mutex_lock(&m->lock);
  if (m->count < MAILBOX)
    m->items[m->count++] = t->own[--t->own_count];
  pthread_mutex_unlock(&m->lock);
}

static void do_free_received(thread *t) {
  mailbox *m = &boxes[t->index];
  block taken[MAILBOX];
  pthread_mutex_lock(&m->lock);
  size_t n = m->count;
  memcpy(taken, m->items, n * sizeof *taken);
  m->count = 0;
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < n; i++)
    free_block(t, &taken[i]);
}

/* Identities that hold in any snapshot, whatever the other threads do. */
static void do_stats(void) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  if (tp_pool_get_stats(pool, &s) != TP_SUCCESS) {
    fail("get_stats: %s", tp_last_error());
    return;
  }
  if (s.reserved_bytes != s.live_bytes + s.cached_bytes ||
      s.hits + s.misses != s.allocations || s.requested_bytes > s.live_bytes ||
      s.live_bytes_peak < s.live_bytes)
    fail("inconsistent snapshot: reserved %" PRIu64 ", live %" PRIu64
         ", cached %" PRIu64 ", requested %" PRIu64 ", hits %" PRIu64
         " + misses %" PRIu64 " vs %" PRIu64 " allocations",
         s.reserved_bytes, s.live_bytes, s.cached_bytes, s.requested_bytes,
         s.hits, s.misses, s.allocations);
}

static void do_set_limit(thread *t) {
  /* Between 8 MiB (often below what is live: refused) and none. */
  size_t limit = tp_rng_percent(&t->rng, 20)
                     ? TP_UNLIMITED
                     : ((size_t)8 << 20) * (1 + tp_rng_below(&t->rng, 8));
  tp_status st = tp_pool_set_limit(pool, limit);
  if (st != TP_SUCCESS && st != TP_ERR_OUT_OF_MEMORY)
    fail("set_limit(%zu): %s", limit, tp_last_error());
}

static void *run(void *arg) {
  thread *t = arg;
  for (unsigned i = 0; i < ops && !atomic_load(&errors); i++) {
    unsigned roll = (unsigned)tp_rng_below(&t->rng, 100);
    if (roll < 40) {
      do_alloc(t);
    } else if (roll < 62) {
      do_free_own(t);
    } else if (roll < 72) {
      do_hand_over(t);
    } else if (roll < 82) {
      do_free_received(t);
    } else if (roll < 86) {
      do_stats();
    } else if (roll < 89) {
      if (tp_pool_trim(pool, (size_t)tp_rng_below(&t->rng, 4) << 20) !=
          TP_SUCCESS)
        fail("trim: %s", tp_last_error());
      t->c.trims++;
    } else if (roll < 92) {
      do_set_limit(t);
    } else if (roll < 96) {
      if (tp_pool_forget_stream(pool, any_stream(t)) != TP_SUCCESS)
        fail("forget_stream: %s", tp_last_error());
      t->c.forgets++;
    } else {
      /* A pointer no pool handed out: refused, counted as a failure. */
      if (tp_pool_free(pool, foreign + 256, any_stream(t)) !=
          TP_ERR_INVALID_POINTER)
        fail("a foreign free was not refused as an invalid pointer");
      t->c.failures++;
    }
  }
  return NULL;
}

/* Lines of the log after its header; -1 if a line is not this pool's. */
static long count_log_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char line[512];
  long n = 0, headers = 0;
  while (fgets(line, sizeof line, f)) {
    if (strcmp(line, "op,thread,time_ns,pool,ptr,size,stream,status\n") == 0) {
      headers++;
      continue;
    }
    if (!strstr(line, ",\"" POOL_NAME "\",")) {
      fprintf(stderr,
              "test_pool_soak: a log line without the quoted pool "
              "name: %s",
              line);
      n = -1;
      break;
    }
    n++;
  }
  fclose(f);
  return headers == 1 ? n : -1;
}

int main(void) {
  const char *env = getenv("TP_SOAK_OPS");
  if (env)
    ops = (unsigned)strtoul(env, NULL, 10);
  char path[64];
  snprintf(path, sizeof path, "/tmp/tp_pool_soak_%ld.csv", (long)getpid());
  unlink(path);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.name = POOL_NAME;
  c.event_log_path = path;
  c.max_cached_bytes = (size_t)16 << 20;
  if (tp_pool_create(tp_host_space(), &c, &pool) != TP_SUCCESS) {
    fprintf(stderr, "test_pool_soak: %s\n", tp_last_error());
    return 1;
  }
  thread threads[THREADS];
  pthread_t ids[THREADS];
  for (unsigned i = 0; i < THREADS; i++) {
    pthread_mutex_init(&boxes[i].lock, NULL);
    memset(&threads[i], 0, sizeof threads[i]);
    threads[i].index = i;
    threads[i].rng = tp_rng_make(0x50a4 + i);
  }
  for (unsigned i = 0; i < THREADS; i++)
    pthread_create(&ids[i], NULL, run, &threads[i]);
  for (unsigned i = 0; i < THREADS; i++)
    pthread_join(ids[i], NULL);

  /* Everything still held, by its owner or in a mailbox, is freed now. */
  counts total = {0};
  for (unsigned i = 0; i < THREADS; i++) {
    thread *t = &threads[i];
    while (t->own_count)
      do_free_own(t);
    do_free_received(t);
    total.allocations += t->c.allocations;
    total.deallocations += t->c.deallocations;
    total.bytes_allocated += t->c.bytes_allocated;
    total.bytes_freed += t->c.bytes_freed;
    total.failures += t->c.failures;
    total.trims += t->c.trims;
    total.forgets += t->c.forgets;
  }
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  if (s.allocations != total.allocations ||
      s.deallocations != total.deallocations ||
      s.bytes_allocated != total.bytes_allocated ||
      s.bytes_freed != total.bytes_freed || s.failures != total.failures ||
      s.allocations != s.deallocations || s.live_blocks != 0 ||
      s.live_bytes != 0 || s.requested_bytes != 0 ||
      s.reserved_bytes != s.cached_bytes ||
      s.hits + s.misses != s.allocations || s.streams_forgotten > total.forgets)
    fail("final statistics: allocations %" PRIu64 " (threads %" PRIu64
         "), deallocations %" PRIu64 " (%" PRIu64 "), bytes %" PRIu64
         "/%" PRIu64 " (%" PRIu64 "/%" PRIu64 "), failures %" PRIu64
         " (%" PRIu64 "), live %" PRIu64 " blocks %" PRIu64
         " bytes, reserved %" PRIu64 ", cached %" PRIu64,
         s.allocations, total.allocations, s.deallocations, total.deallocations,
         s.bytes_allocated, s.bytes_freed, total.bytes_allocated,
         total.bytes_freed, s.failures, total.failures, s.live_blocks,
         s.live_bytes, s.reserved_bytes, s.cached_bytes);
  if (tp_pool_destroy(pool) != TP_SUCCESS)
    fail("destroy: %s", tp_last_error());
  /* One line per alloc, free, failure, trim and forget (not set_limit). */
  long lines = count_log_lines(path);
  uint64_t want = total.allocations + total.deallocations + total.failures +
                  total.trims + total.forgets;
  if (lines < 0 || (uint64_t)lines != want)
    fail("the event log has %ld lines, the threads made %" PRIu64
         " logged calls",
         lines, want);
  unlink(path);
  if (atomic_load(&errors))
    return 1;
  printf("test_pool_soak: %u threads x %u operations: %" PRIu64
         " allocations, %" PRIu64 " failures, %" PRIu64 " log lines\n",
         THREADS, ops, total.allocations, total.failures, want);
  return 0;
}
