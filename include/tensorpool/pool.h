/* The pool engine: one bucketed, stream-ordered caching pool over any
 * memory space (host, pinned, device, or a user's).
 *
 * - Size classes are geometric with `divisions` classes per power of two
 *   (waste at most 1/divisions) over 256-byte units.
 * - A request takes a cached block of its class or, failing that, of the
 *   smallest cached class at most twice as large, before going upstream.
 * - Freed blocks are cached per (class, stream). A block freed on stream S is
 *   handed back to S at once; another stream T takes it only after T has
 *   been made to wait on an event recorded on S at the moment of the take.
 * - Alloc and free are O(1) in the number of live and cached blocks.
 * - Thread-safe (one lock per pool). */
#ifndef TENSORPOOL_POOL_H
#define TENSORPOOL_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/raw_allocator.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef struct tp_pool tp_pool;

/* No bound: the default of every limit in tp_pool_config. */
#define TP_UNLIMITED SIZE_MAX

/* Streams a pool tracks at once (slot 0 is kept for blocks with no pending
 * work). Frees on further streams wait for that stream, then still succeed. */
#define TP_POOL_MAX_STREAMS 63

/* Versioned: start from TP_POOL_CONFIG_INIT, then set fields. */
typedef struct tp_pool_config {
  size_t struct_size;
  size_t max_pool_size;          /* cached (free) bytes kept; excess released */
  size_t max_buffers_per_bucket; /* cached blocks kept per size class */
  size_t limit;               /* hard limit on reserved bytes (live+cached) */
  unsigned divisions;         /* classes per power of two: 1,2,4,8 or 16 */
  const char *name;           /* shown in messages, statistics and logs */
  const char *event_log_path; /* CSV event log; NULL: $TP_EVENT_LOG if set */
} tp_pool_config;

#define TP_POOL_CONFIG_INIT                                                    \
  {                                                                            \
    sizeof(tp_pool_config), TP_UNLIMITED, TP_UNLIMITED, TP_UNLIMITED, 4u,      \
        NULL, NULL                                                             \
  }

/* Versioned output: initialize with TP_POOL_STATS_INIT before
 * tp_pool_get_stats, which fills what the caller's version has. Every
 * counter and byte figure is a uint64_t. */
typedef struct tp_pool_stats {
  size_t struct_size;
  uint64_t allocations;     /* successful tp_pool_alloc calls */
  uint64_t deallocations;   /* successful tp_pool_free calls */
  uint64_t bytes_allocated; /* sum of requested bytes over allocations */
  uint64_t bytes_freed;     /* sum of requested bytes over deallocations */
  uint64_t hits;            /* allocations served from the cache */
  uint64_t misses;          /* allocations that went upstream */
  double hit_rate;          /* hits / allocations, 0 when none */
  uint64_t live_blocks;     /* blocks handed out and not yet freed */
  uint64_t live_bytes;      /* class bytes of live blocks */
  uint64_t live_bytes_peak;
  uint64_t requested_bytes; /* bytes the callers asked for, live now */
  uint64_t requested_bytes_peak;
  uint64_t cached_blocks; /* free blocks kept for reuse */
  uint64_t cached_bytes;
  uint64_t reserved_bytes; /* live_bytes + cached_bytes: held from upstream */
  uint64_t reserved_bytes_peak;
  uint64_t upstream_gets;      /* calls to the space's get that succeeded */
  uint64_t upstream_puts;      /* calls to the space's put */
  uint64_t cross_stream_takes; /* cached blocks handed to another stream */
  uint64_t releases;           /* cached blocks given back upstream */
  uint64_t failures;           /* failed alloc or free calls */
  uint64_t streams_forgotten;
} tp_pool_stats;

#define TP_POOL_STATS_INIT                                                     \
  { .struct_size = sizeof(tp_pool_stats) }

/* Receives one line (no newline) of a printout. */
typedef void (*tp_print_fn)(void *user, const char *line);

tp_status tp_pool_create(const tp_space *space, const tp_pool_config *config,
                         tp_pool **out);
/* Frees everything. With live blocks left, it still frees them and returns
 * TP_ERR_LEAK with their count and bytes in the message. NULL does nothing
 * and succeeds. */
tp_status tp_pool_destroy(tp_pool *pool);

/* A block of at least `bytes` (> 0), 256-byte aligned, ready for work queued
 * on `stream`. */
tp_status tp_pool_alloc(tp_pool *pool, size_t bytes, tp_stream stream,
                        void **out);
/* `stream` is where the block's last use was queued. Freeing NULL does
 * nothing and succeeds, as with free() and cudaFree(). */
tp_status tp_pool_free(tp_pool *pool, void *ptr, tp_stream stream);

/* Call before destroying a stream: waits for it once and makes its cached
 * blocks free for any stream. Using the handle later registers it anew. */
tp_status tp_pool_forget_stream(tp_pool *pool, tp_stream stream);

/* Release cached blocks upstream until at most `target_cached_bytes` stay. */
tp_status tp_pool_trim(tp_pool *pool, size_t target_cached_bytes);
/* Change the hard limit on reserved bytes; cached blocks are released to
 * meet it. TP_ERR_OUT_OF_MEMORY if live bytes alone exceed it (unchanged). */
tp_status tp_pool_set_limit(tp_pool *pool, size_t limit);

/* Usable size of a live block; TP_ERR_INVALID_POINTER if `ptr` is not one. */
tp_status tp_pool_block_size(tp_pool *pool, const void *ptr, size_t *out);
/* The class size a request of `bytes` is served with. */
tp_status tp_pool_class_size(const tp_pool *pool, size_t bytes, size_t *out);

tp_status tp_pool_get_stats(tp_pool *pool, tp_pool_stats *out);
tp_status tp_pool_reset_peaks(tp_pool *pool);
/* Prints the statistics, one line per call of `print`. */
tp_status tp_pool_print_stats(tp_pool *pool, tp_print_fn print, void *user);

/* Accessors (pure). */
const tp_space *tp_pool_space(const tp_pool *pool);
const char *tp_pool_name(const tp_pool *pool);

/* A raw allocator table that allocates from `pool` (which must outlive it). */
tp_status tp_pool_raw_allocator(tp_pool *pool, tp_raw_allocator *out);

TP_END_DECLS

#endif
