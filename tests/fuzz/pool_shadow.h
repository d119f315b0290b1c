/* The pool fuzzer's shadow model: what tensorpool/pool.h, space.h and
 * docs/design.md promise about a pool, kept next to the real pool and
 * compared with it after every step.
 *
 * It asserts the documented contract, not the engine's placement decisions
 * (which free block serves which request, when memory goes upstream):
 *   - blocks are 256-byte aligned, never overlap, and keep what was written
 *     into them until they are freed; a block's usable size is the request
 *     rounded up to 256 bytes, or for an oversize request (rounded, at
 *     least oversize_threshold) its whole segment: a new one holds the
 *     request rounded to the space's page, a reused one exceeds the request
 *     by at most 1/8 of its own size;
 *   - the counters callers can predict are exact (allocations,
 *     deallocations, bytes allocated and freed, failures, live blocks,
 *     requested bytes and their peak); live_bytes is the sum of the live
 *     blocks' tp_pool_block_size; reserved = live + cached, hits + misses =
 *     allocations, segments = upstream gets - releases, reserved <= limit;
 *     upstream gets and puts and the bytes held match what the space saw;
 *   - the cache bounds where the docs promise them: after a free, no whole
 *     free segment stays while cached bytes exceed max_cached_bytes; with
 *     max_buffers_per_bucket 0 a free leaves no new whole free segment;
 *     after a trim to T, at most T bytes stay cached or no whole free
 *     segment does;
 *   - a block last used on stream S and handed to stream T while S's work
 *     is unfinished has made T wait for that work (simulated spaces);
 *   - the engine's own invariant check (tp_pool_validate) passes. */
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
  /* The simulated space with virtual memory (segments grown and shrunk in
   * place, pages given back), as the host space or a VMM device space. */
  MODE_VM,
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
  tp_sim *sim; /* every mode but MODE_HOST */
  /* MODE_VM: given-back pages must be committed again before use (as
   * device granules); else they come back on first touch (as host pages). */
  bool vm_commit;
  fail_space fail;
  tp_pool_config config; /* the bounds and threshold in force */
  size_t limit;          /* in force */
  /* Segment sizes are multiples of it (space.h: page_bytes where the space
   * has virtual-memory entries, else the pool's 256-byte alignment). */
  size_t granule;
  tp_stream streams[SHADOW_STREAMS];

  shadow_block live[SHADOW_MAX_LIVE];
  size_t live_count;
  void *dead[SHADOW_MAX_DEAD]; /* once handed out, not live now */
  size_t dead_count, dead_next;
  shadow_region regions[SHADOW_MAX_REGIONS];
  size_t region_count;
  /* Per stream index: the last work item queued (simulated spaces). */
  uint64_t enqueued[SHADOW_STREAMS];
  /* The pool's statistics at the last check: what a step changed. */
  tp_pool_stats seen;

  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, failures,
      forgets, next_id;
  size_t requested_live, usable_live, requested_peak;
  uint64_t live_peak_seen, reserved_peak_seen;

  unsigned step;
  const char *op;  /* the step being run, for messages */
  char op_buf[96]; /* op, where it names its arguments */
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

/* Queues a work item on `stream` (simulated spaces); returns its number. */
uint64_t shadow_enqueue(shadow *sh, tp_stream stream);
/* Whether every stream's queued work is done (always, on the host). */
bool shadow_idle(shadow *sh);

/* Bookkeeping of calls that succeeded. */
void shadow_note_alloc(shadow *sh, void *ptr, size_t requested, size_t usable,
                       tp_stream stream);
void shadow_note_free(shadow *sh, size_t index, tp_stream stream, uint64_t seq);

/* Writes and checks the bytes a block keeps (its first and last 4 KiB). */
void shadow_fill(const shadow_block *b);
bool shadow_intact(const shadow_block *b, bool whole);

/* The whole comparison, after every step. */
void shadow_check(shadow *sh);

#endif
