/* A simulated memory space for tests: its streams are queues of numbered
 * work items that complete only when the test says so, its events capture a
 * stream's last item, and it remembers every wait, so a test can check that
 * the pool made a stream wait before handing it another stream's block.
 * Memory is real host memory (tests may write into blocks); a put waits for
 * its stream's work before the memory is really freed. Thread-safe. */
#ifndef TP_TEST_SIM_SPACE_H
#define TP_TEST_SIM_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

typedef struct tp_sim tp_sim;

typedef struct tp_sim_counters {
  uint64_t gets, failed_gets, puts, events_created, events_destroyed, records,
      waits, queries, syncs;
  size_t bytes_out;     /* got and not yet put */
  size_t bytes_pending; /* put, but still waiting for stream work */
  /* With virtual memory (tp_sim_enable_vm). */
  uint64_t grows, shrinks, decommits, commits;
  size_t bytes_decommitted; /* now */
} tp_sim_counters;

/* `capacity`: upstream bytes available (SIZE_MAX for no bound). */
tp_sim *tp_sim_create(size_t capacity);
/* Frees pending puts; returns the bytes the pool never put back (a leak). */
size_t tp_sim_destroy(tp_sim *sim);
const tp_space *tp_sim_space(tp_sim *sim);

tp_stream tp_sim_stream_create(tp_sim *sim);
void tp_sim_stream_destroy(tp_sim *sim, tp_stream stream);

/* Queues one work item on `stream`; returns its number (1, 2, ...). */
uint64_t tp_sim_enqueue(tp_sim *sim, tp_stream stream);
/* Completes the items of `stream` up to `seq` (and frees puts behind them). */
void tp_sim_complete(tp_sim *sim, tp_stream stream, uint64_t seq);
void tp_sim_complete_all(tp_sim *sim);
uint64_t tp_sim_completed(tp_sim *sim, tp_stream stream);

/* Whether `waiter` has been made to wait on `waited` up to at least item
 * `seq` (directly, through an event recorded on `waited`). */
bool tp_sim_waits_for(tp_sim *sim, tp_stream waiter, tp_stream waited,
                      uint64_t seq);

/* The next `count` gets fail as if upstream were exhausted. */
void tp_sim_fail_next_gets(tp_sim *sim, unsigned count);
void tp_sim_set_capacity(tp_sim *sim, size_t capacity);
tp_sim_counters tp_sim_get_counters(tp_sim *sim);

/* Gives the space virtual memory, as the host space and a VMM device space
 * have (call before making a pool over it): each segment lies in a
 * reservation of four times its first size that `resize` grows and shrinks
 * in place, and pages of `page` bytes can be given back (`decommit`) and,
 * with `with_commit`, must be committed again before use (as device
 * granules); without it they come back on first touch (as host pages). */
void tp_sim_enable_vm(tp_sim *sim, size_t page, bool with_commit);
/* Whether every page under [ptr, ptr + bytes) is committed: a live block
 * must be, where commit is required. */
bool tp_sim_committed(tp_sim *sim, const void *ptr, size_t bytes);

#endif
