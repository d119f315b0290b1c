/* Replays a resolved event log against one host allocator: tensorpool with a
 * given pool configuration (one pool per recorded pool), or a peer (one
 * allocator for all recorded pools; peers have no streams, trims or
 * stream forgetting, so those events are skipped for them).
 *
 * Events are replayed in one thread, in recorded order (by time_ns, stable):
 * a multi-threaded log keeps its threads' interleaving as recorded, but the
 * replay measures no contention. Zero-byte requests are never replayed (the
 * pool refuses them, the peers hand out a pointer): they are counted apart,
 * so that every allocator acts on the same events. The replay's own memory
 * comes from replay_mem (mmap), never from the heap under test. */
#ifndef TP_BENCH_REPLAY_RUN_H
#define TP_BENCH_REPLAY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_log.h"
#include "host_peers.h"
#include "tensorpool/pool.h"

/* Unknown value in a sample (the allocator cannot say). */
#define REPLAY_UNKNOWN UINT64_MAX

/* The memory after one event, in bytes. */
typedef struct replay_sample {
  uint64_t requested;    /* live requested bytes, the replay's own count */
  uint64_t live;         /* bytes the allocator counts as in use */
  uint64_t reserved;     /* bytes it counts as held (its address space) */
  uint64_t largest_free; /* its largest free block (tensorpool only) */
  uint64_t rss;          /* the process's resident bytes above the start */
} replay_sample;

typedef struct replay_result {
  uint64_t ns;           /* wall time of the events, set-up excluded */
  size_t events;         /* events acted on */
  size_t skipped;        /* events the allocator has no verb for */
  size_t zero_byte;      /* requests of 0 bytes (and their frees): not run */
  size_t peak_requested; /* bytes, the replay's own count */
  size_t peak_live_blocks;
  size_t peak_reserved; /* the allocator's own count, over the start */
  bool reserved_known;
  size_t peak_rss; /* resident bytes above the start (kernel's VmHWM) */
  bool rss_known;
  size_t recorded_failures; /* fail_alloc and fail_free in the log */
  size_t failures_again;    /* of those, failed again in the replay */
  size_t new_failures;      /* recorded successes that failed now */
} replay_result;

/* How one pass runs. */
typedef struct replay_options {
  /* Write every 4 KiB page of each block once when it is handed out (and
   * its last byte), as a program filling its tensors would: fresh pages
   * fault in then, for every allocator alike. */
  bool touch;
  /* Measure memory: the allocator's reserved bytes after every allocation,
   * the resident high-water mark (slower: use separate passes for time). */
  bool track;
  /* With track: one sample per event into this array of log->count
   * entries (mmap'd by the caller before the pass), or NULL. */
  replay_sample *timeline;
} replay_options;

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
 * timing. */
int replay_run(const replay_log *log, replay_target *target,
               const replay_options *options, replay_result *out);

/* Sums the pool statistics of a tensorpool target into `out` (counters and
 * current figures added over its pools); false for a peer. */
bool replay_target_pool_stats(const replay_target *target, tp_pool_stats *out);

#endif
