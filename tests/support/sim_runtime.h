/* A runtime whose host backend allocates from a pool over a simulated space
 * (sim_space.h), so that tests can see every event record and stream wait
 * the tensor layer queues: the host backend still computes on the calling
 * thread (the sim's memory is host memory), while its streams are the
 * sim's, whose work completes only when the test says so. Test-only: it
 * swaps the backend's pool inside the runtime (src/runtime internals). */
#ifndef TP_TEST_SIM_RUNTIME_H
#define TP_TEST_SIM_RUNTIME_H

#include "support/sim_space.h"
#include "tensorpool/runtime.h"

typedef struct tp_sim_runtime {
  tp_runtime *runtime;
  tp_pool *pool;  /* over the sim's space: the host allocators' pool */
  tp_pool *saved; /* the runtime's own host pool, put back at destroy */
} tp_sim_runtime;

/* A one-process runtime over `sim`. */
tp_status tp_sim_runtime_create(tp_sim *sim, tp_sim_runtime *out);
/* Destroys the runtime and the pool over the sim (TP_ERR_LEAK from the
 * pool if buffers were left). */
tp_status tp_sim_runtime_destroy(tp_sim_runtime *r);

#endif
