/* The pool fuzzer's shadow model: what tensorpool/pool.h promises about a
 * pool, kept next to the real pool and compared with it after every step.
 *
 * It asserts the documented contract only, never today's placement
 * decisions (which cached block serves which request, when the cache is
 * released), so that it holds for any engine behind the same header:
 *   - blocks are 256-byte aligned, hold at least the bytes asked for (and at
 *     least tp_pool_class_size of them), never overlap, and keep what was
 *     written into them until they are freed;
 *   - the counters callers can predict are exact (allocations,
 *     deallocations, bytes allocated and freed, failures, live blocks,
 *     requested bytes and their peak); live_bytes is the sum of the live
 *     blocks' tp_pool_block_size; reserved = live + cached, hits + misses =
 *     allocations, reserved <= limit, cached <= max_cached_bytes; upstream gets
 *     and puts and the bytes held match what the space saw;
 *   - a block last used on stream S and handed to stream T while S's work
 *     is unfinished has made T wait for that work (simulated spaces). */
#ifndef TP_FUZZ_POOL_SHADOW_H
#define TP_FUZZ_POOL_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail_space.h"
#include "support/sim_space.h"
#include "tensorpool/pool.h"

typedef enum shadow_mode {
  MODE_HOST, /* tp_host_space(): streams are tags */
  MODE_SIM,  /* the simulated-stream space */
  MODE_FAIL, /* the simulated space behind a failure-injecting one */
  MODE_COUNT
} shadow_mode;

#define SHADOW_MAX_LIVE 64
#define SHADOW_MAX_DEAD 64
#define SHADOW_MAX_REGIONS 1024
/* Stream 0 is NULL; more than TP_POOL_MAX_STREAMS, so that frees on
 * streams the pool cannot track happen too. */
#define SHADOW_STREAMS 100

typedef struct shadow_block {
  void *ptr;
  size_t requested, usable;
  uint64_t id; /* names the bytes written into it */
} shadow_block;

/* Memory freed on `stream` after its work item `seq`. */
typedef struct shadow_region {
  uintptr_t lo, hi;
  tp_stream stream;
  uint64_t seq;
} shadow_region;

typedef struct shadow {
  shadow_mode mode;
  tp_pool *pool;
  tp_sim *sim; /* MODE_SIM and MODE_FAIL */
  fail_space fail;
  tp_pool_config config;
  size_t limit; /* in force */
  tp_stream streams[SHADOW_STREAMS];

  shadow_block live[SHADOW_MAX_LIVE];
  size_t live_count;
  void *dead[SHADOW_MAX_DEAD]; /* once handed out, not live now */
  size_t dead_count, dead_next;
  shadow_region regions[SHADOW_MAX_REGIONS];
  size_t region_count;

  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, failures,
      forgets, next_id;
  size_t requested_live, usable_live, requested_peak;
  uint64_t live_peak_seen, reserved_peak_seen;

  unsigned step;
  const char *op; /* the step being run, for messages */
} shadow;

/* Reports a broken promise with the step and the pool's state, then
 * aborts (libFuzzer keeps the input). */
_Noreturn void shadow_fail(shadow *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define SHADOW_CHECK(sh, cond, ...)                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      shadow_fail((sh), __VA_ARGS__);                                          \
  } while (0)

/* The stream handle of index `i` (creating simulated streams on first
 * use). */
tp_stream shadow_stream(shadow *sh, unsigned i);

/* Bookkeeping of calls that succeeded. */
void shadow_note_alloc(shadow *sh, void *ptr, size_t requested, size_t usable,
                       tp_stream stream);
void shadow_note_free(shadow *sh, size_t index, tp_stream stream,
                      uint64_t seq);

/* Writes and checks the bytes a block keeps (its first and last 4 KiB). */
void shadow_fill(const shadow_block *b);
bool shadow_intact(const shadow_block *b, bool whole);

/* The whole comparison, after every step. */
void shadow_check(shadow *sh);

#endif
