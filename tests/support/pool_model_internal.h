/* Internal state of the pool model (pool_model*.c). */
#ifndef TP_TEST_POOL_MODEL_INTERNAL_H
#define TP_TEST_POOL_MODEL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool_model.h"
#include "pool_model_ranges.h"
#include "sim_space.h"
#include "sim_vmm.h"
#include "test_rng.h"

#define TP_MODEL_TRACE 24 /* steps remembered for a failure report */
#define TP_MODEL_TRACE_LINE 160
#define TP_MODEL_MAX_CLASSES 512 /* distinct class sizes remembered */

typedef struct tp_model_block {
  void *ptr;
  size_t requested;
  size_t usable; /* the size the pool reports for it */
  uint64_t id;   /* names the byte pattern written into it */
  unsigned home; /* index of the stream its work goes to */
} tp_model_block;

typedef struct tp_model_state tp_model_state;

/* One thread's share of the model: its blocks, its streams, its counts. */
typedef struct tp_model_thread {
  tp_model_state *run;
  unsigned index;
  unsigned step;
  tp_rng rng;
  tp_model_block *live;
  size_t live_count;
  tp_stream *streams; /* own streams, then the shared one (threads > 1) */
  uint64_t *last_seq; /* last item this thread queued on each stream */
  unsigned stream_count;
  /* What the pool's statistics must add up to. */
  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, failures,
      forgets, waits_owed;
  size_t requested_live, usable_live;
  size_t class_sizes[TP_MODEL_MAX_CLASSES];
  unsigned class_count;
  char trace[TP_MODEL_TRACE][TP_MODEL_TRACE_LINE];
  unsigned trace_next;
} tp_model_thread;

struct tp_model_state {
  tp_model_options options;
  tp_sim *sim;
  tp_sim_vmm *vmm; /* with options.vmm_granule */
  tp_space *vmm_space;
  tp_pool *pool;
  tp_freed_ranges ranges;
  pthread_barrier_t barrier;
  tp_model_thread *threads;
  atomic_uint_fast64_t next_id;
  atomic_bool failed;
  pthread_mutex_t message_lock;
  char *message;
  size_t message_capacity;
  /* Single thread only: the limit in force, upstream state, peak history. */
  size_t limit;
  bool capacity_bounded;
  tp_pool_stats previous;
  /* Memory the pool never handed out, for "foreign pointer" frees. */
  unsigned char *foreign;
};

/* Records a broken expectation (the first one wins) and returns false. */
bool tp_model_fail(tp_model_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tp_model_trace(tp_model_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One random step of thread `t` (pool_model_steps.c). */
bool tp_model_step(tp_model_thread *t);
/* Frees every live block of `t`, checking each. */
bool tp_model_free_all(tp_model_thread *t);

/* Checks (pool_model_checks.c). */
/* Invariants that hold in any snapshot of the statistics. */
bool tp_model_check_invariants(tp_model_thread *t, const tp_pool_stats *s);
/* Exact agreement of the pool, the simulated upstream and the sum of all
 * threads' models; only while no thread is inside the pool. */
bool tp_model_check_exact(tp_model_thread *t);
/* Every live block of every thread: aligned, disjoint, on committed pages,
 * bytes intact. */
bool tp_model_check_blocks(tp_model_thread *t);
/* The same without reading the bytes: cheap enough for every step. */
bool tp_model_check_layout(tp_model_thread *t);
/* The pool's records only (tp_pool_validate): reads no statistics, so the
 * blocks waiting unmerged on its quick lists stay there. */
bool tp_model_check_records(tp_model_thread *t);
bool tp_model_check_block_bytes(tp_model_thread *t, const tp_model_block *b);
/* Whether a live block lies on memory the space backs now (pages
 * committed, granules mapped), where the space can tell. */
bool tp_model_block_backed(tp_model_state *run, const void *ptr, size_t bytes);
void tp_model_note_class(tp_model_thread *t, size_t class_size);

#endif
