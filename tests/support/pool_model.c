#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "pool_model_internal.h"

tp_model_options tp_model_options_default(uint64_t seed) {
  tp_model_options o;
  memset(&o, 0, sizeof o);
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  o.seed = seed;
  o.steps = 20000;
  o.threads = 1;
  o.streams = 4;
  o.max_live = 48;
  o.max_request = 64 * 1024;
  o.sync_every = 500;
  o.config = config;
  o.config.name = "model";
  return o;
}

uint64_t tp_model_seed(uint64_t fallback) {
  const char *text = getenv("TP_MODEL_SEED");
  if (!text || !*text)
    return fallback;
  return strtoull(text, NULL, 0);
}

void tp_model_trace(tp_model_thread *t, const char *fmt, ...) {
  char *line = t->trace[t->trace_next++ % TP_MODEL_TRACE];
  int n = snprintf(line, TP_MODEL_TRACE_LINE, "  step %u: ", t->step);
  va_list args;
  va_start(args, fmt);
  vsnprintf(line + n, TP_MODEL_TRACE_LINE - (size_t)n, fmt, args);
  va_end(args);
}

bool tp_model_fail(tp_model_thread *t, const char *fmt, ...) {
  tp_model_state *run = t->run;
  pthread_mutex_lock(&run->message_lock);
  if (!atomic_exchange(&run->failed, true)) {
    char *m = run->message;
    size_t cap = run->message_capacity, n = 0;
    n += (size_t)snprintf(m, cap,
                          "seed %" PRIu64 " (replay: TP_MODEL_SEED=%" PRIu64
                          "), thread %u, step %u: ",
                          run->options.seed, run->options.seed, t->index,
                          t->step);
    va_list args;
    va_start(args, fmt);
    if (n < cap)
      n += (size_t)vsnprintf(m + n, cap - n, fmt, args);
    va_end(args);
    if (n < cap)
      n += (size_t)snprintf(m + n, cap - n,
                            "\nlast steps of thread %u:", t->index);
    unsigned first =
        t->trace_next > TP_MODEL_TRACE ? t->trace_next - TP_MODEL_TRACE : 0;
    for (unsigned i = first; i < t->trace_next && n < cap; ++i)
      n += (size_t)snprintf(m + n, cap - n, "\n%s",
                            t->trace[i % TP_MODEL_TRACE]);
  }
  pthread_mutex_unlock(&run->message_lock);
  return false;
}

/* Steps in rounds; between rounds every thread waits while thread 0 checks
 * the whole pool. A thread that failed keeps meeting the barriers, so the
 * others never wait for it forever. */
static void *thread_main(void *arg) {
  tp_model_thread *t = arg;
  tp_model_state *run = t->run;
  const tp_model_options *o = &run->options;
  unsigned rounds = (o->steps + o->sync_every - 1) / o->sync_every;
  for (unsigned r = 0; r < rounds; ++r) {
    for (unsigned k = 0; k < o->sync_every && !atomic_load(&run->failed); ++k) {
      /* TP_MODEL_DUMP_AT=<step>: the pool's blocks just before that step,
       * to see the state a failing step breaks. */
      if (getenv("TP_MODEL_DUMP_AT") &&
          t->step + 1 == (unsigned)atoi(getenv("TP_MODEL_DUMP_AT")))
        tp_pool_debug_dump(run->pool);
      if (!tp_model_step(t))
        break;
      if (o->threads == 1) {
        bool exact = o->exact_every <= 1 || t->step % o->exact_every == 0;
        if (!(exact ? tp_model_check_exact(t) : tp_model_check_records(t)) ||
            !tp_model_check_layout(t))
          break;
      } else {
        tp_pool_stats s = TP_POOL_STATS_INIT;
        tp_pool_get_stats(run->pool, &s);
        if (!tp_model_check_invariants(t, &s))
          break;
      }
    }
    pthread_barrier_wait(&run->barrier);
    if (t->index == 0 && !atomic_load(&run->failed))
      (void)(tp_model_check_exact(t) && tp_model_check_blocks(t));
    pthread_barrier_wait(&run->barrier);
  }
  return NULL;
}

static bool setup_thread(tp_model_state *run, unsigned index,
                         tp_stream shared) {
  tp_model_thread *t = &run->threads[index];
  const tp_model_options *o = &run->options;
  t->run = run;
  t->index = index;
  t->rng = tp_rng_make(o->seed * 0x2545F4914F6CDD1Dull + index + 1);
  t->stream_count = o->streams + (shared != NULL);
  t->live = calloc(o->max_live, sizeof *t->live);
  t->streams = calloc(t->stream_count, sizeof *t->streams);
  t->last_seq = calloc(t->stream_count, sizeof *t->last_seq);
  if (!t->live || !t->streams || !t->last_seq)
    return false;
  for (unsigned s = o->null_stream ? 1 : 0; s < o->streams; ++s)
    t->streams[s] = tp_sim_stream_create(run->sim);
  if (shared)
    t->streams[o->streams] = shared;
  return true;
}

static void teardown_thread(tp_model_thread *t) {
  if (t->streams)
    for (unsigned s = 0; s < t->run->options.streams; ++s)
      if (t->streams[s])
        tp_sim_stream_destroy(t->run->sim, t->streams[s]);
  free(t->live);
  free(t->streams);
  free(t->last_seq);
}

/* Runs every thread's steps, then frees what is live and destroys. */
static void run_threads(tp_model_state *run) {
  const tp_model_options *o = &run->options;
  if (o->threads == 1) {
    thread_main(&run->threads[0]);
    return;
  }
  pthread_t *ids = calloc(o->threads, sizeof *ids);
  unsigned started = 0;
  while (ids && started < o->threads &&
         pthread_create(&ids[started], NULL, thread_main,
                        &run->threads[started]) == 0)
    ++started;
  if (started < o->threads) {
    /* The barrier counts on every thread: give up before anyone waits. */
    fprintf(stderr, "pool model: could not start %u threads\n", o->threads);
    abort();
  }
  for (unsigned i = 0; i < started; ++i)
    pthread_join(ids[i], NULL);
  free(ids);
}

/* With TP_MODEL_VERBOSE set: what the run exercised, to see it was not
 * vacuous. */
static void print_summary(tp_model_state *run) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(run->pool, &s);
  uint64_t owed = 0;
  for (unsigned i = 0; i < run->options.threads; ++i)
    owed += run->threads[i].waits_owed;
  printf("seed %" PRIu64 ", %u thread(s): %" PRIu64 " allocations, %" PRIu64
         " hits, %" PRIu64 " cross-stream takes (%" PRIu64
         " with the old stream busy, each checked for its wait), %" PRIu64
         " failures, %" PRIu64 " releases, %" PRIu64
         " streams forgotten; %" PRIu64 " splits, %" PRIu64 " merges, %" PRIu64
         " grows, %" PRIu64 " shrinks, %" PRIu64
         " bytes of pages given back, %" PRIu64 " used again\n",
         run->options.seed, run->options.threads, s.allocations, s.hits,
         s.cross_stream_takes, owed, s.failures, s.releases,
         s.streams_forgotten, s.free_blocks_split, s.blocks_merged,
         s.segment_grows, s.segment_shrinks, s.page_release_bytes,
         s.page_reuse_bytes);
}

static void finish(tp_model_state *run) {
  tp_model_thread *t0 = &run->threads[0];
  /* An odd seed leaves its blocks live: destroy must free them, say so with
   * TP_ERR_LEAK, and still give every byte back upstream. */
  bool leave_live = run->options.seed & 1;
  size_t live = 0;
  for (unsigned i = 0; i < run->options.threads; ++i) {
    if (!leave_live && !atomic_load(&run->failed))
      tp_model_free_all(&run->threads[i]);
    live += run->threads[i].live_count;
  }
  if (!atomic_load(&run->failed))
    tp_model_check_exact(t0);
  if (getenv("TP_MODEL_VERBOSE"))
    print_summary(run);
  tp_status st = tp_pool_destroy(run->pool);
  run->pool = NULL;
  if (!atomic_load(&run->failed)) {
    if (live)
      (void)(st == TP_ERR_LEAK ||
             tp_model_fail(t0, "destroy with %zu live blocks gave %s", live,
                           tp_status_name(st)));
    else
      (void)(st == TP_SUCCESS ||
             tp_model_fail(t0, "destroy gave %s: %s", tp_status_name(st),
                           tp_last_error()));
  }
}

bool tp_model_run(const tp_model_options *options, char *message,
                  size_t capacity) {
  tp_model_state run;
  memset(&run, 0, sizeof run);
  run.options = *options;
  run.limit = options->config.limit;
  run.message = message;
  run.message_capacity = capacity;
  message[0] = '\0';
  atomic_init(&run.failed, false);
  atomic_init(&run.next_id, 1);
  pthread_mutex_init(&run.message_lock, NULL);
  pthread_barrier_init(&run.barrier, NULL, options->threads);
  run.sim = tp_sim_create(SIZE_MAX);
  if (run.sim && options->vm_page)
    tp_sim_enable_vm(run.sim, options->vm_page, options->vm_commit);
  run.foreign = aligned_alloc(256, 8 * 256);
  run.threads = calloc(options->threads, sizeof *run.threads);
  bool ready = run.sim && run.foreign && run.threads &&
               tp_freed_ranges_init(&run.ranges);
  tp_stream shared = NULL;
  if (ready && options->threads > 1)
    shared = tp_sim_stream_create(run.sim);
  for (unsigned i = 0; ready && i < options->threads; ++i)
    ready = setup_thread(&run, i, shared);
  tp_status st = TP_ERR_INTERNAL;
  const tp_space *space = run.sim ? tp_sim_space(run.sim) : NULL;
  if (ready && options->vmm_granule) {
    run.vmm = tp_sim_vmm_create(options->vmm_granule, SIZE_MAX);
    tp_vmm_space_settings vs = {options->vmm_granule, (size_t)8 << 20,
                                TP_SPACE_OTHER, -1, "vmm-sim"};
    ready =
        run.vmm && tp_vmm_space_create_with(tp_sim_vmm_driver(run.vmm), space,
                                            &vs, &run.vmm_space) == TP_SUCCESS;
    space = run.vmm_space;
  }
  if (ready)
    st = tp_pool_create(space, &options->config, &run.pool);
  if (!ready || st != TP_SUCCESS) {
    snprintf(message, capacity, "pool model setup failed: %s",
             ready ? tp_last_error() : "out of host memory");
    atomic_store(&run.failed, true);
  } else {
    run_threads(&run);
    finish(&run);
  }
  for (unsigned i = 0; run.threads && i < options->threads; ++i)
    teardown_thread(&run.threads[i]);
  if (run.vmm_space && tp_vmm_space_destroy_with(run.vmm_space) != TP_SUCCESS &&
      !atomic_load(&run.failed))
    tp_model_fail(&run.threads[0], "the VMM space is still busy: %s",
                  tp_last_error());
  if (run.vmm) {
    tp_sim_vmm_counters vc = tp_sim_vmm_get_counters(run.vmm);
    size_t leaked = tp_sim_vmm_destroy(run.vmm);
    if ((leaked || vc.violations) && !atomic_load(&run.failed))
      tp_model_fail(&run.threads[0],
                    "the VMM space left %zu bytes mapped or reserved and broke "
                    "%llu driver rules",
                    leaked, (unsigned long long)vc.violations);
  }
  if (shared)
    tp_sim_stream_destroy(run.sim, shared);
  if (run.sim) {
    size_t leaked = tp_sim_destroy(run.sim);
    if (leaked && !atomic_load(&run.failed))
      tp_model_fail(&run.threads[0],
                    "the pool never gave %zu bytes back upstream", leaked);
  }
  tp_freed_ranges_fini(&run.ranges);
  free(run.threads);
  free(run.foreign);
  pthread_barrier_destroy(&run.barrier);
  pthread_mutex_destroy(&run.message_lock);
  return !atomic_load(&run.failed);
}
