/* Host suites: alloc+free and alloc+fill+free latency over sizes, the warm
 * fill ceiling, cost per pair with many blocks live, and threads.
 * tensorpool's host pool against glibc malloc, jemalloc and mimalloc, all in
 * the same process and run. Lines go to --out (JSON, one per measurement). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "host_peers.h"

/* Sizes from 64 B to 64 MiB: every power of four in quick mode, every power
 * of two in full mode. */
static size_t size_list(bool full, size_t *sizes) {
  size_t n = 0;
  for (size_t s = 64; s <= ((size_t)64 << 20); s *= full ? 2 : 4)
    sizes[n++] = s;
  return n;
}

/* A batch never holds more operations than this: bounds the time of one
 * batch of very cheap operations while calibrating. */
#define MAX_ITERS 50000000u

typedef struct size_ctx {
  host_peer *peer;
  size_t bytes;
  unsigned char *warm; /* the warm-fill buffer */
  int failed;
} size_ctx;

static int run_alloc_free(void *vctx, uint64_t iters, uint64_t *ns) {
  size_ctx *c = vctx;
  host_peer *p = c->peer;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    void *b = host_peer_alloc(p, c->bytes, NULL);
    if (!b) {
      fprintf(stderr, "%s: alloc of %zu bytes failed\n", p->name, c->bytes);
      return 1;
    }
    host_peer_free(p, b, NULL);
  }
  *ns = bench_now_ns() - t0;
  return 0;
}

static int run_alloc_fill_free(void *vctx, uint64_t iters, uint64_t *ns) {
  size_ctx *c = vctx;
  host_peer *p = c->peer;
  volatile unsigned char sink = 0;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    unsigned char *b = host_peer_alloc(p, c->bytes, NULL);
    if (!b) {
      fprintf(stderr, "%s: alloc of %zu bytes failed\n", p->name, c->bytes);
      return 1;
    }
    memset(b, (int)(i & 0x7f) + 1, c->bytes);
    /* Read one byte back so the fill cannot be dropped as a dead store. */
    sink = b[c->bytes - 1];
    host_peer_free(p, b, NULL);
  }
  *ns = bench_now_ns() - t0;
  (void)sink;
  return 0;
}

/* The ceiling for a fill: memset of a buffer whose pages are already
 * touched, with no allocator involved. */
static int run_warm_fill(void *vctx, uint64_t iters, uint64_t *ns) {
  size_ctx *c = vctx;
  volatile unsigned char sink = 0;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    memset(c->warm, (int)(i & 0x7f) + 1, c->bytes);
    sink = c->warm[c->bytes - 1];
  }
  *ns = bench_now_ns() - t0;
  (void)sink;
  return 0;
}

static void suite_sizes(const bench_opts *opts, host_peer *peers, int npeers) {
  size_t sizes[32];
  size_t nsizes = size_list(opts->full, sizes);
  for (size_t s = 0; s < nsizes; s++) {
    /* A buffer of its own per size, touched once, so the ceiling sees the
     * same kind of mapping as an allocator's warm block of that size. */
    unsigned char *warm = malloc(sizes[s]);
    if (!warm) {
      fprintf(stderr, "bench_host: no memory for the warm buffer\n");
      exit(1);
    }
    memset(warm, 0, sizes[s]);
    size_ctx c = {NULL, sizes[s], warm, 0};
    bench_timing t;
    for (int k = 0; k < npeers; k++) {
      c.peer = &peers[k];
      if (bench_measure(opts, run_alloc_free, &c, 1, MAX_ITERS, &t) == 0)
        bench_emit(opts, &(bench_record){"host_alloc_free", "alloc_free",
                                         peers[k].name, sizes[s], 1, 1, 0, t,
                                         -1.0, NULL});
    }

    bench_timing ceiling;
    if (bench_measure(opts, run_warm_fill, &c, 1, MAX_ITERS, &ceiling) != 0)
      exit(1);
    double ceiling_gbps = bench_gbps(sizes[s], ceiling.median_ns);
    bench_emit(opts, &(bench_record){"host_alloc_fill_free", "alloc_fill_free",
                                     "ceiling", sizes[s], 1, 1, 0, ceiling,
                                     ceiling_gbps,
                                     "\"note\":\"memset of a warm buffer\""});
    for (int k = 0; k < npeers; k++) {
      c.peer = &peers[k];
      if (bench_measure(opts, run_alloc_fill_free, &c, 1, MAX_ITERS, &t) != 0)
        continue;
      double gbps = bench_gbps(sizes[s], t.median_ns);
      char extra[64];
      snprintf(extra, sizeof extra, "\"fraction_of_ceiling\":%.4f",
               gbps / ceiling_gbps);
      bench_emit(opts, &(bench_record){"host_alloc_fill_free",
                                       "alloc_fill_free", peers[k].name,
                                       sizes[s], 1, 1, 0, t, gbps, extra});
    }
    free(warm);
  }
}

/* ---- cost per pair with many blocks live ---- */

/* Sizes of the live blocks: a small mix, as tensors of a few shapes. */
static const size_t live_sizes[] = {256, 1024, 4096, 512, 2048};
enum { LIVE_SIZE_COUNT = sizeof live_sizes / sizeof live_sizes[0] };

typedef struct live_ctx {
  host_peer *peer;
  void **slots;
  size_t live;
  uint64_t rng;
} live_ctx;

static uint64_t next_random(uint64_t *state) {
  /* xorshift64: cheap and good enough to pick slots. */
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

/* One alloc+free pair of 1 KiB on top of the live blocks. */
static int run_pair_with_live(void *vctx, uint64_t iters, uint64_t *ns) {
  live_ctx *c = vctx;
  host_peer *p = c->peer;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    void *b = host_peer_alloc(p, 1024, NULL);
    if (!b)
      return 1;
    host_peer_free(p, b, NULL);
  }
  *ns = bench_now_ns() - t0;
  return 0;
}

/* Free a random live block and allocate its replacement (same size class
 * mix): every free looks up a pointer among `live` others. */
static int run_churn_with_live(void *vctx, uint64_t iters, uint64_t *ns) {
  live_ctx *c = vctx;
  host_peer *p = c->peer;
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    uint64_t r = next_random(&c->rng);
    size_t slot = (size_t)(r % c->live);
    host_peer_free(p, c->slots[slot], NULL);
    c->slots[slot] =
        host_peer_alloc(p, live_sizes[(r >> 32) % LIVE_SIZE_COUNT], NULL);
    if (!c->slots[slot])
      return 1;
  }
  *ns = bench_now_ns() - t0;
  return 0;
}

static void suite_live(const bench_opts *opts, host_peer *peers, int npeers) {
  static const size_t live_counts[] = {1000, 10000, 100000};
  for (size_t l = 0; l < sizeof live_counts / sizeof live_counts[0]; l++) {
    size_t live = live_counts[l];
    void **slots = calloc(live, sizeof *slots);
    if (!slots)
      exit(1);
    for (int k = 0; k < npeers; k++) {
      host_peer *p = &peers[k];
      for (size_t i = 0; i < live; i++) {
        slots[i] = host_peer_alloc(p, live_sizes[i % LIVE_SIZE_COUNT], NULL);
        if (!slots[i]) {
          fprintf(stderr, "%s: cannot make %zu live blocks\n", p->name, live);
          exit(1);
        }
      }
      live_ctx c = {p, slots, live, 0x9e3779b97f4a7c15u};
      bench_timing t;
      if (bench_measure(opts, run_pair_with_live, &c, 1, MAX_ITERS, &t) == 0)
        bench_emit(opts, &(bench_record){"host_live", "pair_1KiB", p->name,
                                         1024, 1, 1, live, t, -1.0, NULL});
      if (bench_measure(opts, run_churn_with_live, &c, 1, MAX_ITERS, &t) == 0)
        bench_emit(opts, &(bench_record){"host_live", "churn_256B_4KiB",
                                         p->name, 4096, 1, 1, live, t, -1.0,
                                         "\"note\":\"free a random live block, "
                                         "allocate its replacement\""});
      for (size_t i = 0; i < live; i++)
        host_peer_free(p, slots[i], NULL);
    }
    free(slots);
  }
}

/* ---- threads allocating and freeing at once ---- */

enum { THREAD_WINDOW = 8, MAX_THREADS = 16 };

typedef struct threads_ctx {
  host_peer *peer;
  size_t bytes;
  int threads;
  uint64_t iters;
  pthread_barrier_t barrier;
  uint64_t start[MAX_THREADS], end[MAX_THREADS];
  int failed[MAX_THREADS];
} threads_ctx;

typedef struct thread_arg {
  threads_ctx *c;
  int index;
} thread_arg;

/* Each thread keeps a window of blocks and replaces them in turn, so frees
 * are not always of the block just allocated. */
static void *thread_body(void *varg) {
  thread_arg *a = varg;
  threads_ctx *c = a->c;
  host_peer *p = c->peer;
  void *window[THREAD_WINDOW] = {0};
  pthread_barrier_wait(&c->barrier);
  c->start[a->index] = bench_now_ns();
  for (uint64_t i = 0; i < c->iters; i++) {
    unsigned w = (unsigned)(i % THREAD_WINDOW);
    host_peer_free(p, window[w], NULL);
    window[w] = host_peer_alloc(p, c->bytes, NULL);
    if (!window[w]) {
      c->failed[a->index] = 1;
      break;
    }
  }
  c->end[a->index] = bench_now_ns();
  for (unsigned w = 0; w < THREAD_WINDOW; w++)
    host_peer_free(p, window[w], NULL);
  return NULL;
}

/* ns = wall time from the first thread's start to the last one's end; per
 * operation that is the time one thread sees per pair, so flat across
 * thread counts means perfect scaling. */
static int run_threads(void *vctx, uint64_t iters, uint64_t *ns) {
  threads_ctx *c = vctx;
  c->iters = iters;
  pthread_t tids[MAX_THREADS];
  thread_arg args[MAX_THREADS];
  pthread_barrier_init(&c->barrier, NULL, (unsigned)c->threads);
  for (int t = 0; t < c->threads; t++) {
    args[t] = (thread_arg){c, t};
    c->failed[t] = 0;
    if (pthread_create(&tids[t], NULL, thread_body, &args[t]) != 0) {
      fprintf(stderr, "bench_host: pthread_create failed\n");
      exit(1);
    }
  }
  int failed = 0;
  uint64_t first = UINT64_MAX, last = 0;
  for (int t = 0; t < c->threads; t++) {
    pthread_join(tids[t], NULL);
    failed |= c->failed[t];
    first = c->start[t] < first ? c->start[t] : first;
    last = c->end[t] > last ? c->end[t] : last;
  }
  pthread_barrier_destroy(&c->barrier);
  *ns = last - first;
  return failed;
}

/* ---- producer and consumer: allocated on one thread, freed on another ----
 *
 * Threads in pairs: a producer allocates blocks and passes them through a
 * ring of its own to its consumer, which frees them (the pattern of a
 * data-loading pool whose buffers are released by the thread that used
 * them). The rings take no lock, so the time is the allocator's. */

enum { RING = 64 };

typedef struct ring {
  _Alignas(64) atomic_uint_fast64_t head; /* written by the producer */
  _Alignas(64) atomic_uint_fast64_t tail; /* written by the consumer */
  void *slots[RING];
} ring;

typedef struct pc_ctx {
  host_peer *peer;
  size_t bytes;
  int threads; /* even: threads / 2 pairs */
  uint64_t iters;
  pthread_barrier_t barrier;
  ring rings[MAX_THREADS / 2];
  uint64_t start[MAX_THREADS], end[MAX_THREADS];
  atomic_int failed;
} pc_ctx;

typedef struct pc_arg {
  pc_ctx *c;
  int index; /* even: a producer; odd: its consumer */
} pc_arg;

static void *producer_body(void *varg) {
  pc_arg *a = varg;
  pc_ctx *c = a->c;
  host_peer *p = c->peer;
  ring *r = &c->rings[a->index / 2];
  pthread_barrier_wait(&c->barrier);
  c->start[a->index] = bench_now_ns();
  for (uint64_t i = 0; i < c->iters; i++) {
    void *block = host_peer_alloc(p, c->bytes, NULL);
    if (!block)
      atomic_store(&c->failed, 1);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    while (head - atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
      sched_yield(); /* the consumer is behind */
    r->slots[head % RING] = block;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
  }
  c->end[a->index] = bench_now_ns();
  return NULL;
}

static void *consumer_body(void *varg) {
  pc_arg *a = varg;
  pc_ctx *c = a->c;
  host_peer *p = c->peer;
  ring *r = &c->rings[a->index / 2];
  pthread_barrier_wait(&c->barrier);
  c->start[a->index] = bench_now_ns();
  for (uint64_t i = 0; i < c->iters; i++) {
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
      sched_yield(); /* the producer is behind */
    void *block = r->slots[tail % RING];
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    if (block)
      host_peer_free(p, block, NULL);
  }
  c->end[a->index] = bench_now_ns();
  return NULL;
}

static int run_producer_consumer(void *vctx, uint64_t iters, uint64_t *ns) {
  pc_ctx *c = vctx;
  c->iters = iters;
  atomic_store(&c->failed, 0);
  for (int i = 0; i < c->threads / 2; i++) {
    atomic_store(&c->rings[i].head, 0);
    atomic_store(&c->rings[i].tail, 0);
  }
  pthread_t tids[MAX_THREADS];
  pc_arg args[MAX_THREADS];
  pthread_barrier_init(&c->barrier, NULL, (unsigned)c->threads);
  for (int t = 0; t < c->threads; t++) {
    args[t] = (pc_arg){c, t};
    if (pthread_create(&tids[t], NULL, t % 2 ? consumer_body : producer_body,
                       &args[t]) != 0) {
      fprintf(stderr, "bench_host: pthread_create failed\n");
      exit(1);
    }
  }
  uint64_t first = UINT64_MAX, last = 0;
  for (int t = 0; t < c->threads; t++) {
    pthread_join(tids[t], NULL);
    first = c->start[t] < first ? c->start[t] : first;
    last = c->end[t] > last ? c->end[t] : last;
  }
  pthread_barrier_destroy(&c->barrier);
  *ns = last - first;
  return atomic_load(&c->failed);
}

static void suite_threads(const bench_opts *opts, host_peer *peers,
                          int npeers) {
  static const size_t sizes[] = {64, 4096, 262144};
  static const int thread_counts[] = {1, 2, 4, 8, 16};
  enum { COUNTS = sizeof thread_counts / sizeof thread_counts[0] };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (size_t tc = 0; tc < COUNTS; tc++) {
      for (int k = 0; k < npeers; k++) {
        threads_ctx c;
        memset(&c, 0, sizeof c);
        c.peer = &peers[k];
        c.bytes = sizes[s];
        c.threads = thread_counts[tc];
        bench_timing t;
        if (bench_measure(opts, run_threads, &c, 20000, MAX_ITERS, &t) == 0)
          bench_emit(opts,
                     &(bench_record){"host_threads", "window8", peers[k].name,
                                     sizes[s], thread_counts[tc], 1, 0, t, -1.0,
                                     "\"note\":\"ns per pair seen by "
                                     "each thread\""});
      }
    }
    for (size_t tc = 1; tc < COUNTS; tc++) {
      for (int k = 0; k < npeers; k++) {
        pc_ctx *c = calloc(1, sizeof *c);
        if (!c)
          continue;
        c->peer = &peers[k];
        c->bytes = sizes[s];
        c->threads = thread_counts[tc];
        bench_timing t;
        if (bench_measure(opts, run_producer_consumer, c, 20000, MAX_ITERS,
                          &t) == 0)
          bench_emit(opts,
                     &(bench_record){"host_threads", "producer_consumer",
                                     peers[k].name, sizes[s], thread_counts[tc],
                                     1, 0, t, -1.0,
                                     "\"note\":\"ns per block seen by each "
                                     "thread; half the threads allocate, half "
                                     "free\""});
        free(c);
      }
    }
  }
}

/* ---- fixed-count runs for instruction counting ----
 *
 *   bench_host --count CASE ITERS [IMPL]
 *
 * runs one case a fixed number of times against one allocator (default
 * tensorpool), with no calibration and no output: for
 *   valgrind --tool=callgrind --toggle-collect=counted bench_host --count ...
 * whose instruction count divided by ITERS is the cost per operation
 * (warm-up passes run outside `counted`),
 * steady on a busy machine where wall time is not. CASE is alloc_free_<bytes>,
 * pair_1KiB_<live> or churn_<live>; IMPL tensorpool-engine is tensorpool
 * with thread_cache_bytes = 0. */
/* The measured call, by name for callgrind's --toggle-collect. */
__attribute__((noinline)) static int counted(bench_batch_fn fn, void *ctx,
                                             uint64_t iters) {
  uint64_t ns = 0;
  return fn(ctx, iters, &ns);
}

static int count_mode(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_host --count CASE ITERS [IMPL]\n");
    return 2;
  }
  const char *which = argv[2];
  uint64_t iters = strtoull(argv[3], NULL, 10);
  /* "tensorpool-engine" (the default: no thread caches) and
   * "tensorpool:tc" (thread caches on), to count what they save. */
  const char *impl = argc > 4 ? argv[4] : "tensorpool";
  tp_pool_config engine_only = TP_POOL_CONFIG_INIT;
  engine_only.thread_cache_bytes = 0;
  bool engine = strcmp(impl, "tensorpool-engine") == 0;
  host_peer peer;
  if (!host_peer_open(engine ? "tensorpool" : impl,
                      engine ? &engine_only : NULL, &peer))
    return 1;
  uint64_t ns = 0;
  int rc = 1;
  size_t n = 0;
  if (sscanf(which, "alloc_free_%zu", &n) == 1) {
    size_ctx c = {&peer, n, NULL, 0};
    run_alloc_free(&c, 1, &ns); /* the first get from upstream stays out */
    rc = counted(run_alloc_free, &c, iters);
  } else if (sscanf(which, "pair_1KiB_%zu", &n) == 1 ||
             sscanf(which, "churn_%zu", &n) == 1) {
    void **slots = calloc(n, sizeof *slots);
    for (size_t i = 0; slots && i < n; i++)
      slots[i] = host_peer_alloc(&peer, live_sizes[i % LIVE_SIZE_COUNT], NULL);
    live_ctx c = {&peer, slots, n, 0x9e3779b97f4a7c15u};
    bool pair = which[0] == 'p';
    if (slots) {
      /* One warm pass, so that the counted one sees the steady state. */
      rc = pair ? run_pair_with_live(&c, n, &ns)
                : run_churn_with_live(&c, n, &ns);
      if (rc == 0)
        rc =
            counted(pair ? run_pair_with_live : run_churn_with_live, &c, iters);
      for (size_t i = 0; i < n; i++)
        host_peer_free(&peer, slots[i], NULL);
    }
    free(slots);
  } else {
    fprintf(stderr, "bench_host: unknown case '%s'\n", which);
  }
  host_peer_close(&peer);
  return rc;
}

int main(int argc, char **argv) {
  host_peers_prepare(argv);
  if (argc > 1 && strcmp(argv[1], "--count") == 0)
    return count_mode(argc, argv);
  /* The benchmark's pools must not write an event log. */
  unsetenv("TP_EVENT_LOG");
  bench_opts opts;
  bench_opts_parse(argc, argv, &opts);

  host_peer peers[HOST_PEER_COUNT + 1];
  int npeers = 0;
  for (int k = 0; k < HOST_PEER_COUNT; k++) {
    if (host_peer_open(host_peer_names[k], NULL, &peers[npeers]))
      npeers++;
  }
  /* The thread caches are off by default: measured beside it. */
  if (host_peer_open("tensorpool:tc", NULL, &peers[npeers]))
    npeers++;
  if (npeers == 0 || !host_peer_pool(&peers[0])) {
    fprintf(stderr, "bench_host: the tensorpool host pool is unavailable\n");
    return 1;
  }

  fprintf(stderr, "bench_host: %s mode, %d repetitions per case\n",
          opts.full ? "full" : "quick", opts.reps);
  /* --only sizes|live|threads: one suite, to measure a change quickly. */
  if (bench_suite_selected(&opts, "sizes"))
    suite_sizes(&opts, peers, npeers);
  if (bench_suite_selected(&opts, "live"))
    suite_live(&opts, peers, npeers);
  if (bench_suite_selected(&opts, "threads"))
    suite_threads(&opts, peers, npeers);

  for (int k = 0; k < npeers; k++)
    host_peer_close(&peers[k]);
  bench_opts_close(&opts);
  return 0;
}
