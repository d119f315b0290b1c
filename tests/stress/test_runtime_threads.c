/* Threads sharing one runtime and one source buffer, as the headers allow:
 * one thread changes the host budget while another reads the memory
 * figures the automatic choice uses, and reader threads copy the same
 * source on their own streams and record their streams on it. Under
 * ThreadSanitizer (scripts/test_tsan.sh) a data race fails the run; here
 * the figures must always show one whole budget, and every copy the
 * source's values. A plain program: exit 0 is a pass.
 *
 * TP_STRESS_OPS=<n> changes the iterations per thread (default 2000). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim_runtime.h"
#include "tensorpool/allocator.h"

#define READERS 3
#define BUDGET_A ((size_t)1 << 30)
#define BUDGET_B ((size_t)3 << 29)

static tp_runtime *rt;
static tp_buffer *shared_source;
static tp_sim *sim;
static int ops = 2000;
static atomic_int failures;

static void fail(const char *what) {
  fprintf(stderr, "test_runtime_threads: %s (%s)\n", what, tp_last_error());
  atomic_fetch_add(&failures, 1);
}

static void *set_budgets(void *arg) {
  (void)arg;
  for (int i = 0; i < ops; ++i)
    if (tp_runtime_set_budget(rt, TP_SPACE_HOST, i % 2 ? BUDGET_A : BUDGET_B) !=
        TP_SUCCESS)
      fail("set_budget");
  return NULL;
}

static void *read_figures(void *arg) {
  (void)arg;
  for (int i = 0; i < ops; ++i) {
    tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
    if (tp_runtime_memory(rt, TP_SPACE_HOST, &f) != TP_SUCCESS)
      fail("tp_runtime_memory");
    else if (f.budget_bytes != BUDGET_A && f.budget_bytes != BUDGET_B)
      fail("a budget that was never set");
  }
  return NULL;
}

static void *copy_source(void *arg) {
  tp_stream mine = arg;
  tp_allocator *local;
  if (tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &local) !=
      TP_SUCCESS) {
    fail("allocator");
    return NULL;
  }
  for (int i = 0; i < ops; ++i) {
    tp_buffer *copy;
    if (tp_allocator_construct_copy(local, shared_source, NULL, mine, &copy) !=
        TP_SUCCESS) {
      fail("construct_copy");
      continue;
    }
    if (((const double *)tp_buffer_data(copy))[99] != 99.0)
      fail("a copy lost the source's values");
    if (tp_buffer_record_stream(shared_source, mine) != TP_SUCCESS)
      fail("record_stream");
    tp_buffer_destroy(copy);
  }
  return NULL;
}

int main(void) {
  const char *env = getenv("TP_STRESS_OPS");
  if (env && atoi(env) > 0)
    ops = atoi(env);
  sim = tp_sim_create(SIZE_MAX);
  tp_sim_runtime srt;
  if (!sim || tp_sim_runtime_create(sim, &srt) != TP_SUCCESS) {
    fprintf(stderr, "set-up failed: %s\n", tp_last_error());
    return 1;
  }
  rt = srt.runtime;
  if (tp_runtime_set_budget(rt, TP_SPACE_HOST, BUDGET_A) != TP_SUCCESS)
    fail("first budget");
  tp_allocator *local;
  tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &local);
  int64_t n = 100;
  tp_layout l;
  tp_layout_make(TP_DTYPE_F64, 1, &n, &l);
  tp_generator g = tp_generator_arange(0, 1);
  tp_stream home = tp_sim_stream_create(sim);
  if (tp_allocator_construct_generator(local, &l, NULL, &g, home,
                                       &shared_source) != TP_SUCCESS) {
    fprintf(stderr, "source: %s\n", tp_last_error());
    return 1;
  }
  pthread_t threads[2 + READERS];
  pthread_create(&threads[0], NULL, set_budgets, NULL);
  pthread_create(&threads[1], NULL, read_figures, NULL);
  for (int r = 0; r < READERS; ++r)
    pthread_create(&threads[2 + r], NULL, copy_source,
                   tp_sim_stream_create(sim));
  for (int t = 0; t < 2 + READERS; ++t)
    pthread_join(threads[t], NULL);
  if (tp_buffer_destroy(shared_source) != TP_SUCCESS)
    fail("destroying the source");
  /* The readers' orderings are events: nothing waited on the host. */
  if (tp_sim_get_counters(sim).syncs != 0)
    fail("a host wait");
  if (tp_sim_runtime_destroy(&srt) != TP_SUCCESS)
    fail("runtime destroy");
  tp_sim_destroy(sim);
  int n_failures = atomic_load(&failures);
  if (n_failures) {
    fprintf(stderr, "test_runtime_threads: %d failures\n", n_failures);
    return 1;
  }
  printf("test_runtime_threads: %d iterations per thread, no failure\n", ops);
  return 0;
}
