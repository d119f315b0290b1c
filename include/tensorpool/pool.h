/* The pool engine: one stream-ordered caching pool over any memory space
 * (host, pinned, device, or a user's).
 *
 * - Memory comes from upstream in segments. A request takes the front of a
 *   free block at least as large (found in O(1) through a two-level index of
 *   size classes with bitmaps, `divisions` classes per power of two), and
 *   the rest stays free; a freed block merges with its free neighbours
 *   (one the next request of its size and stream will likely take back may
 *   wait unmerged until then, or until anything else needs it; statistics
 *   read as if it had merged, but for the merge and split counts).
 *   Requests of up to 1 MiB come from segments of their own, so
 *   that small blocks never pin large segments; requests of at least
 *   `oversize_threshold` bytes get a segment each, never split.
 * - Spaces that can grow a segment in place (the host space; a VMM device
 *   space) extend it instead of taking a new one; spaces that can give the
 *   physical pages of a range back (host: madvise; VMM: unmapping granules)
 *   do so for free ranges by `page_release` policy.
 * - Stream order is exact: a block freed on stream S is handed back to S at
 *   once; another stream T takes it only after T has been made to wait on an
 *   event recorded on S at the take. Free blocks merge only when at most one
 *   of them may still be in use by queued work (or both on the same stream).
 * - Alloc and free are O(1) in the number of live and free blocks.
 * - Thread-safe: one lock per pool, and, where thread_cache_bytes is set
 *   (off by default), small per-thread caches in front of it that serve
 *   most allocations and frees of up to 256 KiB on the NULL stream
 *   without it. */
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
 * work). A free on a further stream waits for that stream, then succeeds;
 * if the wait fails, the free fails with its status and the block stays
 * live (its last use may still run). */
#define TP_POOL_MAX_STREAMS 63

/* When the physical pages of free ranges inside segments are given back
 * (the addresses stay the pool's; a later allocation there costs a page
 * fault on the host or a map on the device, not an upstream call). Only
 * spaces with a decommit operation can (tp_space_ops). */
typedef enum tp_page_release {
  /* TP_PAGE_RELEASE_AGED where the space can give pages back (the host
   * space, a VMM device space), else TP_PAGE_RELEASE_ON_PRESSURE. */
  TP_PAGE_RELEASE_DEFAULT = 0,
  TP_PAGE_RELEASE_NEVER = 1,
  /* On tp_pool_trim, on a limit, before an out-of-memory failure. */
  TP_PAGE_RELEASE_ON_PRESSURE = 2,
  /* As ON_PRESSURE, and free ranges of at least 64 KiB of whole pages:
   * before new pages come into use, the oldest free ranges while live and
   * committed free bytes would exceed the most live bytes so far by more
   * than 1/32 (those unused for 16 calls at least as they come up, the rest
   * at once); and any unused for `page_release_delay` pool calls. */
  TP_PAGE_RELEASE_AGED = 3
} tp_page_release;

/* A thread_cache_bytes that pays for threads allocating many small blocks:
 * 1 MiB per thread and pool. The default is 0 (off): parked blocks are
 * memory the pool holds for one thread, and on one thread they cost more
 * memory than the lock they save costs time (docs/design.md). */
#define TP_POOL_THREAD_CACHE_DEFAULT ((size_t)1 << 20)

/* Versioned: start from TP_POOL_CONFIG_INIT, then set fields. */
typedef struct tp_pool_config {
  size_t struct_size;
  /* Free bytes kept inside segments: above it, whole free segments (and
   * free tails of growable ones) are given back upstream as they appear. */
  size_t max_cached_bytes;
  size_t max_buffers_per_bucket; /* whole free segments kept per size class */
  size_t limit;               /* hard limit on reserved bytes (live+cached) */
  unsigned divisions;         /* classes per power of two: 1,2,4,8 or 16 */
  const char *name;           /* shown in messages, statistics and logs */
  const char *event_log_path; /* CSV event log; NULL: $TP_EVENT_LOG if set */
  /* Requests of at least this many bytes get a segment each, never split,
   * reused only by requests within 1/8 of its size. */
  size_t oversize_threshold;
  tp_page_release page_release;
  /* Pool calls a free range stays committed under TP_PAGE_RELEASE_AGED. */
  size_t page_release_delay;
  /* Bytes each thread may keep parked in its own cache of this pool
   * (appended): freed blocks of up to 256 KiB requested on the
   * NULL stream wait there for the thread's next request of their size,
   * with no lock taken. Above 64 KiB a cache has eight sizes per power of
   * two, so such a request gets a block of up to 1/8 more than it rounds
   * to (tp_pool_block_size says how much). A size whose block would be
   * larger than thread_cache_bytes, or oversize, is the engine's (any
   * value is accepted: below 256 no size is cached). 0 (the default): no
   * thread caches, every call takes the pool's lock. Caches are also off
   * while max_cached_bytes is bounded or an event log is written, and on
   * again once it is unbounded. See docs/design.md, "Thread caches". */
  size_t thread_cache_bytes;
} tp_pool_config;

#define TP_POOL_CONFIG_INIT                                                    \
  {                                                                            \
    sizeof(tp_pool_config), TP_UNLIMITED, TP_UNLIMITED, TP_UNLIMITED, 4u,      \
        NULL, NULL, TP_UNLIMITED, TP_PAGE_RELEASE_DEFAULT, 1024u, 0u           \
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
  uint64_t hits;            /* allocations served from free blocks */
  uint64_t misses;          /* allocations that took a segment or grew one */
  double hit_rate;          /* hits / allocations, 0 when none */
  uint64_t live_blocks;     /* blocks handed out and not yet freed */
  uint64_t live_bytes;      /* usable bytes of live blocks */
  /* The most live_bytes since creation or the last reset; with thread
   * caches, blocks parked in them count: never below what callers held,
   * above it by at most what the caches held (docs/design.md, "Thread
   * caches"). */
  uint64_t live_bytes_peak;
  uint64_t requested_bytes; /* bytes the callers asked for, live now */
  uint64_t requested_bytes_peak;
  uint64_t cached_blocks;  /* free blocks inside segments */
  uint64_t cached_bytes;   /* their bytes */
  uint64_t reserved_bytes; /* live_bytes + cached_bytes: segment bytes */
  uint64_t reserved_bytes_peak;
  uint64_t upstream_gets;      /* calls to the space's get that succeeded */
  uint64_t upstream_puts;      /* calls to the space's put */
  uint64_t cross_stream_takes; /* free blocks handed to another stream */
  uint64_t releases;           /* segments given back upstream */
  uint64_t failures;           /* failed alloc or free calls */
  uint64_t streams_forgotten;
  /* Fragmentation (appended in version 2). */
  uint64_t segments;           /* segments held from upstream */
  uint64_t free_segments;      /* segments with nothing live: trim's share */
  uint64_t free_segment_bytes; /* their bytes */
  uint64_t largest_free_block; /* bytes; 0 when nothing is free */
  uint64_t free_blocks_split;  /* allocations that split a free block */
  uint64_t blocks_merged;      /* free neighbours merged into freed blocks */
  uint64_t segment_grows;      /* segments extended in place */
  uint64_t segment_shrinks;    /* free tails given back in place */
  /* Physical pages of free ranges given back (the addresses kept). */
  uint64_t decommitted_bytes;    /* now: reserved minus these is held */
  uint64_t page_releases;        /* decommit calls */
  uint64_t page_release_bytes;   /* bytes given back by them, in total */
  uint64_t page_reuse_bytes;     /* given-back bytes allocated again */
  uint64_t page_release_ns;      /* time in decommit and commit calls */
  uint64_t committed_bytes_peak; /* peak of reserved minus decommitted */
  /* Thread caches (appended in version 3). */
  uint64_t thread_cached_blocks; /* of cached_blocks: parked in them */
  uint64_t thread_cached_bytes;  /* their bytes (part of cached_bytes) */
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
 * on `stream`. The message of TP_ERR_OUT_OF_MEMORY gives the live, cached
 * and reserved bytes, the segments, the free bytes inside them and the
 * largest free block. */
tp_status tp_pool_alloc(tp_pool *pool, size_t bytes, tp_stream stream,
                        void **out);
/* `stream` is where the block's last use was queued. Any thread may free a
 * block. Freeing NULL does nothing and succeeds, as with free() and
 * cudaFree(); a NULL pool is still TP_ERR_INVALID_ARGUMENT, NULL `ptr` or
 * not. */
tp_status tp_pool_free(tp_pool *pool, void *ptr, tp_stream stream);

/* Call before destroying a stream: waits for it once and makes its cached
 * blocks free for any stream. Using the handle later registers it anew. */
tp_status tp_pool_forget_stream(tp_pool *pool, tp_stream stream);

/* Takes back every thread's parked blocks (thread_cache_bytes), then gives
 * back upstream whole free segments and free tails of growable ones,
 * largest first, until at most `target_cached_bytes` free bytes stay or
 * nothing more can go (free ranges between live blocks stay, their pages
 * given back unless the page policy is TP_PAGE_RELEASE_NEVER). Releases are
 * stream-ordered; the host does not wait. */
tp_status tp_pool_trim(tp_pool *pool, size_t target_cached_bytes);
/* Change the hard limit on reserved bytes; cached memory (threads' parked
 * blocks first) is released to meet it. TP_ERR_OUT_OF_MEMORY if that is not
 * possible (live bytes, or free bytes between them, exceed it): the limit is
 * then unchanged. */
tp_status tp_pool_set_limit(tp_pool *pool, size_t limit);

/* Settings and counters after creation (as cudaMemPoolSetAttribute). Every
 * value is a uint64_t; TP_UNLIMITED reads as UINT64_MAX. */
typedef enum tp_pool_attr {
  TP_POOL_ATTR_MAX_CACHED_BYTES = 0,       /* rw: the config field */
  TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET = 1, /* rw: the config field */
  TP_POOL_ATTR_LIMIT = 2,                  /* rw: as tp_pool_set_limit */
  TP_POOL_ATTR_PAGE_RELEASE = 3,           /* rw: a tp_page_release */
  TP_POOL_ATTR_PAGE_RELEASE_DELAY = 4,     /* rw: pool calls */
  TP_POOL_ATTR_OVERSIZE_THRESHOLD = 5,     /* rw: bytes */
  TP_POOL_ATTR_RESERVED_BYTES = 6,         /* r */
  TP_POOL_ATTR_RESERVED_BYTES_PEAK = 7,    /* r; set 0: reset to current */
  TP_POOL_ATTR_LIVE_BYTES = 8,             /* r */
  TP_POOL_ATTR_LIVE_BYTES_PEAK = 9,        /* r; set 0: reset to current */
  TP_POOL_ATTR_CACHED_BYTES = 10,          /* r */
  TP_POOL_ATTR_DECOMMITTED_BYTES = 11,     /* r */
  /* rw: the config field; lowering it gives back the parked blocks over
   * the new budget (0: off, all of them). */
  TP_POOL_ATTR_THREAD_CACHE_BYTES = 12
} tp_pool_attr;

/* Applies at once: a lower cache bound or limit releases what it can (as
 * tp_pool_set_limit), TP_PAGE_RELEASE_NEVER keeps what is given back so
 * far. TP_ERR_INVALID_ARGUMENT for an unknown or read-only attribute or a
 * bad value (nothing changed). Thread-safe; may block only where a release
 * of its space does. */
tp_status tp_pool_set_attribute(tp_pool *pool, tp_pool_attr attr,
                                uint64_t value);
tp_status tp_pool_get_attribute(tp_pool *pool, tp_pool_attr attr,
                                uint64_t *out);

/* Usable size of a live block (the request rounded up to 256 bytes; with
 * thread caches, above 64 KiB up to 256 KiB on the NULL stream, the
 * cache's size for it, which the request fills to more than 7/8; or the
 * oversize segment holding it); TP_ERR_INVALID_POINTER if `ptr` is not
 * one. */
tp_status tp_pool_block_size(tp_pool *pool, const void *ptr, size_t *out);
/* The size class a request of `bytes` is looked up in: every free block of
 * that class or above can serve it. */
tp_status tp_pool_class_size(const tp_pool *pool, size_t bytes, size_t *out);

tp_status tp_pool_get_stats(tp_pool *pool, tp_pool_stats *out);
tp_status tp_pool_reset_peaks(tp_pool *pool);
/* Prints the statistics, one line per call of `print`. */
tp_status tp_pool_print_stats(tp_pool *pool, tp_print_fn print, void *user);

/* Accessors (pure). */
const tp_space *tp_pool_space(const tp_pool *pool);
const char *tp_pool_name(const tp_pool *pool);

/* A raw allocator table that allocates from `pool` (which must outlive it).
 * `*out` must be initialized with TP_RAW_ALLOCATOR_INIT (its struct_size
 * says how much of it the caller has); a zeroed one is refused. */
tp_status tp_pool_raw_allocator(tp_pool *pool, tp_raw_allocator *out);

TP_END_DECLS

#endif
