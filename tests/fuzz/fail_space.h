/* A memory space that fails on request, for the pool fuzzer: it forwards to
 * the simulated-stream space (tests/support/sim_space.h) except for the
 * calls the fuzzer told it to fail, and counts what went through so that
 * the pool's upstream statistics can be checked exactly. */
#ifndef TP_FUZZ_FAIL_SPACE_H
#define TP_FUZZ_FAIL_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/sim_space.h"
#include "tensorpool/space.h"

typedef enum fail_op {
  FAIL_GET,
  FAIL_PUT,
  FAIL_EVENT_CREATE,
  FAIL_EVENT_DESTROY, /* reports a failure after destroying the event */
  FAIL_EVENT_RECORD,
  FAIL_STREAM_WAIT,
  FAIL_EVENT_QUERY,
  FAIL_STREAM_SYNC,
  FAIL_OPS
} fail_op;

typedef struct fail_space {
  tp_space space; /* hand this to tp_pool_create */
  tp_space_ops ops;
  tp_sim *sim;
  bool armed;                   /* false: every call goes through */
  unsigned fail_next[FAIL_OPS]; /* that many next calls of each op fail */
  tp_status status[FAIL_OPS];   /* with this status */
  uint64_t fired;               /* failures injected so far */
  uint64_t fired_by[FAIL_OPS];  /* the same, per call */
  uint64_t gets, puts;          /* successful gets; every put call */
  uint64_t puts_refused;        /* put calls that were failed */
  size_t bytes_out;             /* got and not successfully put back */
} fail_space;

/* Over `sim` (which must outlive it). Unarmed, with nothing to fail. */
void fail_space_init(fail_space *f, tp_sim *sim);
/* The next `count` calls of `op` fail with `status`. */
void fail_space_fail_next(fail_space *f, fail_op op, unsigned count,
                          tp_status status);

#endif
