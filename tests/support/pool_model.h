/* A reference model of one tp_pool over the simulated space, driven by long
 * seeded random sequences of alloc / free / trim / forget_stream / set_limit,
 * injected upstream failures and deliberately bad calls, over several
 * simulated streams and one or more threads; optionally with the space's
 * virtual memory (segments that grow and shrink in place, pages given back
 * and committed again).
 *
 * With one thread every step is checked against the model: statistics match
 * exactly, the pool's own records pass tp_pool_validate (blocks tile their
 * segments, free + live = reserved, the index and page maps agree), no two
 * live blocks overlap, every block keeps the bytes written into it and lies
 * on committed pages, bad calls fail with the right status and change nothing
 * but the failure count, and memory last used on stream S that stream T gets
 * while S still has that work pending has made T wait on S up to the free,
 * however blocks were split and merged since. With several threads each
 * thread checks its own blocks and the always-true invariants after every
 * step, and the whole pool is checked against the sum of the threads' models
 * at barriers. */
#ifndef TP_TEST_POOL_MODEL_H
#define TP_TEST_POOL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/pool.h"

typedef struct tp_model_options {
  uint64_t seed;
  unsigned steps;        /* per thread */
  unsigned threads;      /* 1: exact checks after every step */
  unsigned streams;      /* simulated streams per thread (+1 shared if >1) */
  unsigned max_live;     /* live blocks per thread */
  size_t max_request;    /* largest request in bytes */
  bool one_class;        /* requests of 1..256 bytes only: a single class */
  bool vary_limit;       /* single thread: tp_pool_set_limit steps */
  bool inject_failures;  /* single thread: failing gets, capacity limits */
  bool recreate_streams; /* single thread: forget, destroy, create again */
  size_t vm_page;        /* 0: plain space; else its virtual-memory page */
  bool vm_commit;        /* with vm_page: pages must be committed (device) */
  /* Not 0: the pool runs on the VMM space (src/device/vmm_space.h) over a
   * simulated driver with granules of this size, events from the sim. */
  size_t vmm_granule;
  unsigned sync_every; /* steps between whole-pool checks */
  /* Single thread: steps between the exact checks, which read the
   * statistics (and so merge the blocks waiting on the pool's quick lists);
   * the steps between check the records (tp_pool_validate) and the live
   * blocks only, so that blocks wait there across steps. 0 or 1: every
   * step. */
  unsigned exact_every;
  /* Each thread's first stream is the NULL stream, where the pool's thread
   * caches serve requests of up to 64 KiB (the others never reach them). */
  bool null_stream;
  tp_pool_config config;
} tp_model_options;

/* Defaults: one thread, 4 streams, mixed sizes up to 64 KiB, no bounds. */
tp_model_options tp_model_options_default(uint64_t seed);

/* Runs the sequence. False on the first broken expectation, with the seed,
 * thread, step, what was expected and the last steps taken in `message`. */
bool tp_model_run(const tp_model_options *options, char *message,
                  size_t capacity);

/* TP_MODEL_SEED from the environment if set (to replay a failure), else
 * `fallback`. */
uint64_t tp_model_seed(uint64_t fallback);

#endif
