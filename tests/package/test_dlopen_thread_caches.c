/* The shared library loaded with dlopen, as Python or a plugin host loads
 * it, with its thread-locals in dynamic TLS (the test sets
 * GLIBC_TUNABLES=glibc.rtld.optional_static_tls=0, so that this holds
 * whatever the size of the library's TLS block): the thread caches' fast
 * path reaches its thread-local through the descriptor's dynamic path, and
 * each new thread's first call through its slow path (a TLS block
 * allocated). Threads made after the load allocate, fill, check and free
 * blocks of many sizes with caches on, free some of each other's blocks,
 * and exit (their caches given back); then the statistics must add up.
 * (tests/package/CMakeLists.txt runs it again with room in static TLS:
 * the descriptor's static path, as for a library loaded with the program.)
 * It cannot provoke glibc bug 31372 itself (the slow path runs at a
 * thread's first call, where nothing is live yet): the compile flags of
 * src/CMakeLists.txt guard against that.
 *   test_dlopen_thread_caches <path of libtensorpool.so> [static|dynamic]
 * The second argument checks where the library's TLS block landed (next
 * to the program's own static TLS, or elsewhere), so that each run tests
 * the path it is meant to.
 * Exit status 0: as expected; 1: not (the reason on stderr). */
#define _GNU_SOURCE /* dlinfo's RTLD_DI_TLS_DATA; pthread barriers */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tensorpool/pool.h"
#include "tensorpool/space.h"

enum { THREADS = 4, ROUNDS = 2000, LIVE = 24 };

static struct {
  const tp_space *(*host_space)(void);
  tp_status (*create)(const tp_space *, const tp_pool_config *, tp_pool **);
  tp_status (*alloc)(tp_pool *, size_t, tp_stream, void **);
  tp_status (*release)(tp_pool *, void *, tp_stream);
  tp_status (*stats)(tp_pool *, tp_pool_stats *);
  tp_status (*destroy)(tp_pool *);
  const char *(*last_error)(void);
} lib;

static tp_pool *pool;
/* The program's own thread-local: in static TLS, next to the thread
 * pointer. */
static _Thread_local int static_probe;
/* Blocks handed from each thread to the next, freed there. */
static void *passed[THREADS][LIVE];
static pthread_barrier_t halfway;
static int failed;

/* `reason`: tp_last_error() after a failed call, or NULL. */
static void fail(const char *what, int thread, const char *reason) {
  fprintf(stderr, "thread %d: %s%s%s\n", thread, what, reason ? ": " : "",
          reason ? reason : "");
  __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
}

/* Sizes from 1 byte to 320 KiB: the exact bins, the wide ones, and the
 * engine's above them. */
static size_t size_of(unsigned i) {
  static const size_t sizes[] = {1,    64,    200,   1000,   4096,
                                 9000, 65536, 70000, 262144, 327680};
  return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static unsigned char mark(int thread, unsigned slot, unsigned round) {
  return (unsigned char)(thread * 61 + slot * 7 + round * 3 + 1);
}

/* The rounds of thread `me`; false at the first failure. */
static bool churn(int me, void **live) {
  size_t bytes[LIVE] = {0};
  unsigned char marks[LIVE] = {0};
  for (unsigned r = 0; r < ROUNDS; r++) {
    unsigned s = (r * 7 + (unsigned)me) % LIVE;
    if (live[s]) {
      /* Still as this thread wrote it: no other block overlapped it. */
      const unsigned char *p = live[s];
      if (p[0] != marks[s] || p[bytes[s] - 1] != marks[s] ||
          p[bytes[s] / 2] != marks[s]) {
        fail("a live block was overwritten", me, NULL);
        return false;
      }
      void *block = live[s];
      live[s] = NULL;
      if (lib.release(pool, block, NULL) != TP_SUCCESS) {
        fail("free", me, lib.last_error());
        return false;
      }
    }
    bytes[s] = size_of(r + (unsigned)me);
    marks[s] = mark(me, s, r);
    if (lib.alloc(pool, bytes[s], NULL, &live[s]) != TP_SUCCESS) {
      fail("alloc", me, lib.last_error());
      return false;
    }
    memset(live[s], marks[s], bytes[s]);
  }
  return true;
}

static void *work(void *arg) {
  int me = (int)(intptr_t)arg;
  void *live[LIVE] = {0};
  /* On a failure the thread still meets the others at the barrier (its
   * live blocks are then freed as usual), so that the test ends. */
  churn(me, live);
  /* Half of the blocks go to the next thread, which frees them. */
  for (unsigned s = 0; s < LIVE; s += 2) {
    passed[me][s] = live[s];
    live[s] = NULL;
  }
  pthread_barrier_wait(&halfway);
  int from = (me + THREADS - 1) % THREADS;
  for (unsigned s = 0; s < LIVE; s++) {
    void *p = passed[from][s];
    if (p && lib.release(pool, p, NULL) != TP_SUCCESS)
      fail("free of another thread's block", me, lib.last_error());
    if (live[s] && lib.release(pool, live[s], NULL) != TP_SUCCESS)
      fail("free", me, lib.last_error());
  }
  return NULL;
}

/* Whether the library's TLS block for this thread lies in static TLS (within
 * 256 KiB of the program's own thread-local, which is there); -1 if unknown. */
static int in_static_tls(void *handle) {
#ifdef __GLIBC__ /* RTLD_DI_TLS_DATA: an enum constant, not a macro */
  void *block = NULL;
  if (dlinfo(handle, RTLD_DI_TLS_DATA, &block) != 0 || !block)
    return -1;
  intptr_t d = (intptr_t)block - (intptr_t)&static_probe;
  return d > -(256 << 10) && d < (256 << 10);
#else
  (void)handle;
  return -1;
#endif
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3)
    return 1;
  void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  /* dlsym returns an object pointer; POSIX allows the conversion. */
  *(void **)&lib.host_space = dlsym(handle, "tp_host_space");
  *(void **)&lib.create = dlsym(handle, "tp_pool_create");
  *(void **)&lib.alloc = dlsym(handle, "tp_pool_alloc");
  *(void **)&lib.release = dlsym(handle, "tp_pool_free");
  *(void **)&lib.stats = dlsym(handle, "tp_pool_get_stats");
  *(void **)&lib.destroy = dlsym(handle, "tp_pool_destroy");
  *(void **)&lib.last_error = dlsym(handle, "tp_last_error");
  if (!lib.host_space || !lib.create || !lib.alloc || !lib.release ||
      !lib.stats || !lib.destroy || !lib.last_error) {
    fprintf(stderr, "missing entry points\n");
    return 1;
  }
  if (argc == 3) {
    lib.last_error(); /* reaches the library's thread-locals: its block */
    int found = in_static_tls(handle);
    int want = strcmp(argv[2], "static") == 0;
    if (found != want) {
      if (found < 0)
        fprintf(stderr, "dlinfo cannot say where the library's TLS is\n");
      else
        fprintf(stderr,
                "the library's TLS block is in %s TLS: this run is meant to "
                "test %s TLS\n",
                found ? "static" : "dynamic", argv[2]);
      return 1;
    }
  }
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "dlopen";
  config.thread_cache_bytes = TP_POOL_THREAD_CACHE_DEFAULT;
  if (lib.create(lib.host_space(), &config, &pool) != TP_SUCCESS) {
    fprintf(stderr, "tp_pool_create: %s\n", lib.last_error());
    return 1;
  }
  pthread_barrier_init(&halfway, NULL, THREADS);
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++)
    if (pthread_create(&threads[t], NULL, work, (void *)(intptr_t)t) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  for (int t = 0; t < THREADS; t++)
    pthread_join(threads[t], NULL);
  pthread_barrier_destroy(&halfway);

  tp_pool_stats s = TP_POOL_STATS_INIT;
  if (lib.stats(pool, &s) != TP_SUCCESS) {
    fprintf(stderr, "tp_pool_get_stats: %s\n", lib.last_error());
    return 1;
  }
  /* Every allocation freed once; the exited threads' caches given back. */
  uint64_t calls = (uint64_t)THREADS * ROUNDS;
  if (s.allocations != calls || s.deallocations != calls ||
      s.requested_bytes != 0 || s.live_blocks != 0 ||
      s.thread_cached_blocks != 0 || s.failures != 0) {
    fprintf(stderr,
            "statistics: %llu allocations, %llu frees (want %llu each), "
            "%llu requested bytes, %llu live blocks, %llu parked blocks, "
            "%llu failures (want 0 each)\n",
            (unsigned long long)s.allocations,
            (unsigned long long)s.deallocations, (unsigned long long)calls,
            (unsigned long long)s.requested_bytes,
            (unsigned long long)s.live_blocks,
            (unsigned long long)s.thread_cached_blocks,
            (unsigned long long)s.failures);
    failed = 1;
  }
  if (lib.destroy(pool) != TP_SUCCESS) {
    fprintf(stderr, "tp_pool_destroy: %s\n", lib.last_error());
    failed = 1;
  }
  if (!failed)
    printf("%d threads, %llu allocations and frees through dlopen: all "
           "blocks intact, statistics exact\n",
           THREADS, (unsigned long long)calls);
  return failed;
}
