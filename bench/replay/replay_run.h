/* Replays a resolved event log against one host allocator: tensorpool with a
 * given pool configuration (one pool per recorded pool), or a peer (one
 * allocator for all recorded pools; peers have no streams, trims or
 * stream forgetting, so those events are skipped for them).
 *
 * Events are replayed in one thread, in recorded order (by time_ns, stable):
 * a multi-threaded log keeps its threads' interleaving as recorded, but the
 * replay measures no contention. */
#ifndef TP_BENCH_REPLAY_RUN_H
#define TP_BENCH_REPLAY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_log.h"
#include "host_peers.h"
#include "tensorpool/pool.h"

typedef struct replay_result {
  uint64_t ns;           /* wall time of the events, set-up excluded */
  size_t events;         /* events acted on */
  size_t skipped;        /* events the allocator has no verb for */
  size_t peak_requested; /* bytes, the replay's own count */
  size_t peak_live_blocks;
  size_t peak_reserved; /* bytes over the start; 0 if not tracked */
  bool reserved_known;
  size_t recorded_failures; /* fail_alloc and fail_free in the log */
  size_t failures_again;    /* of those, failed again in the replay */
  size_t new_failures;      /* recorded successes that failed now */
} replay_result;

/* What a replay runs against: the opened allocator(s). Kept open across
 * repetitions, so every allocator, the pools included, is as warm on the
 * second run as its own caches make it. */
typedef struct replay_target {
  host_peer *peers; /* one per recorded pool (tensorpool) or one shared */
  uint32_t npeers;
} replay_target;

/* `impl`: a name host_peer_open knows. `config`: for tensorpool (its name is
 * replaced by each recorded pool's name). Returns 0, or -1 with a message
 * on stderr. */
int replay_target_open(const replay_log *log, const char *impl,
                       const tp_pool_config *config, replay_target *out);
void replay_target_close(replay_target *target);

/* Replays the whole log once; blocks it leaves live are freed after the
 * timing. With `track_memory`, the reserved bytes are sampled after every
 * allocation (slower: use separate runs for timing). */
int replay_run(const replay_log *log, replay_target *target, bool track_memory,
               replay_result *out);

#endif
