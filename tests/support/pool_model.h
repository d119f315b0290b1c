/* A reference model of one tp_pool over the simulated space, driven by long
 * seeded random sequences of alloc / free / trim / forget_stream / set_limit,
 * injected upstream failures and deliberately bad calls, over several
 * simulated streams and one or more threads.
 *
 * With one thread every step is checked against the model: statistics match
 * exactly, no two live blocks overlap, every block keeps the bytes written
 * into it, bad calls fail with the right status and change nothing but the
 * failure count, and a block last freed on stream S that stream T takes while
 * S still has unfinished work has made T wait on S up to that free. With
 * several threads each thread checks its own blocks and the always-true
 * invariants after every step, and the whole pool is checked against the sum
 * of the threads' models at barriers. */
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
  unsigned sync_every;   /* steps between whole-pool checks */
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
