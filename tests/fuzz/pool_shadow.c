#include "pool_shadow.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h" /* tp_pool_validate */

static const char *const mode_names[MODE_COUNT] = {"host", "sim", "failing",
                                                   "virtual-memory sim"};

void shadow_fail(shadow *sh, const char *fmt, ...) {
  fprintf(stderr, "fuzz_pool: %s space, step %u (%s): ", mode_names[sh->mode],
          sh->step, sh->op ? sh->op : "?");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  last error: %s\n", tp_last_error());
  fprintf(stderr,
          "  model: %zu live blocks, %zu bytes requested, %zu usable; limit "
          "%zu; allocations %" PRIu64 ", deallocations %" PRIu64
          ", failures %" PRIu64 "\n",
          sh->live_count, sh->requested_live, sh->usable_live, sh->limit,
          sh->allocations, sh->deallocations, sh->failures);
  abort();
}

tp_stream shadow_stream(shadow *sh, unsigned i) {
  i %= SHADOW_STREAMS;
  if (i == 0)
    return NULL;
  if (!sh->streams[i]) {
    if (sh->mode == MODE_HOST)
      sh->streams[i] = (tp_stream)(uintptr_t)(i * 4096u); /* a tag */
    else
      sh->streams[i] = tp_sim_stream_create(sh->sim);
    SHADOW_CHECK(sh, sh->streams[i], "no memory for a simulated stream");
  }
  return sh->streams[i];
}

static size_t stream_index(const shadow *sh, tp_stream stream) {
  for (size_t i = 1; i < SHADOW_STREAMS; i++)
    if (sh->streams[i] == stream && stream)
      return i;
  return 0; /* NULL */
}

uint64_t shadow_enqueue(shadow *sh, tp_stream stream) {
  uint64_t seq = tp_sim_enqueue(sh->sim, stream);
  sh->enqueued[stream_index(sh, stream)] = seq;
  return seq;
}

bool shadow_idle(shadow *sh) {
  if (sh->mode == MODE_HOST)
    return true;
  for (size_t i = 0; i < SHADOW_STREAMS; i++)
    if (sh->enqueued[i] &&
        tp_sim_completed(sh->sim, i ? sh->streams[i] : NULL) < sh->enqueued[i])
      return false;
  return true;
}

/* ---- bytes kept ---- */

#define SHADOW_KEPT 4096 /* bytes written at each end of a block */

static unsigned char pattern_byte(uint64_t id, size_t i) {
  uint64_t z = id * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ull;
  z ^= z >> 32;
  return (unsigned char)((z >> ((i & 7u) * 8u)) + (i >> 3));
}

/* The ranges written: [0, head) and [tail, requested). */
static void kept_ranges(const shadow_block *b, size_t *head, size_t *tail) {
  *head = b->requested < SHADOW_KEPT ? b->requested : SHADOW_KEPT;
  *tail = b->requested - *head;
  if (*tail < *head)
    *tail = *head;
}

void shadow_fill(const shadow_block *b) {
  unsigned char *p = b->ptr;
  size_t head, tail;
  kept_ranges(b, &head, &tail);
  for (size_t i = 0; i < head; i++)
    p[i] = pattern_byte(b->id, i);
  for (size_t i = tail; i < b->requested; i++)
    p[i] = pattern_byte(b->id, i);
}

/* `whole`: every written byte; otherwise 64 at each end (every step). */
bool shadow_intact(const shadow_block *b, bool whole) {
  const unsigned char *p = b->ptr;
  size_t head, tail;
  kept_ranges(b, &head, &tail);
  size_t first_end = whole || head < 64 ? head : 64;
  size_t last_start = b->requested >= 64 ? b->requested - 64 : 0;
  if (whole || last_start < tail)
    last_start = tail;
  for (size_t i = 0; i < first_end; i++)
    if (p[i] != pattern_byte(b->id, i))
      return false;
  for (size_t i = last_start; i < b->requested; i++)
    if (p[i] != pattern_byte(b->id, i))
      return false;
  return true;
}

/* ---- bookkeeping ---- */

static void forget_dead(shadow *sh, void *ptr) {
  for (size_t i = 0; i < sh->dead_count; i++)
    if (sh->dead[i] == ptr)
      sh->dead[i] = sh->dead[--sh->dead_count];
}

/* Memory handed to `stream` that was last freed on another stream: that
 * stream's work up to the free must be done, or `stream` made to wait. */
static void check_ordering(shadow *sh, uintptr_t lo, uintptr_t hi,
                           tp_stream stream) {
  size_t k = 0;
  for (size_t i = 0; i < sh->region_count; i++) {
    shadow_region *r = &sh->regions[i];
    if (r->hi <= lo || r->lo >= hi) {
      sh->regions[k++] = *r;
      continue;
    }
    if (r->stream == stream || tp_sim_completed(sh->sim, r->stream) >= r->seq)
      continue;
    SHADOW_CHECK(sh, tp_sim_waits_for(sh->sim, stream, r->stream, r->seq),
                 "[%#" PRIxPTR ", %#" PRIxPTR ") was freed on stream %p after "
                 "its work item %" PRIu64 " (not done yet) and handed to "
                 "stream %p, which was not made to wait for it",
                 r->lo, r->hi, (void *)r->stream, r->seq, (void *)stream);
  }
  sh->region_count = k;
}

void shadow_note_alloc(shadow *sh, void *ptr, size_t requested, size_t usable,
                       tp_stream stream) {
  uintptr_t lo = (uintptr_t)ptr, hi = lo + usable;
  for (size_t i = 0; i < sh->live_count; i++) {
    uintptr_t a = (uintptr_t)sh->live[i].ptr;
    SHADOW_CHECK(sh, hi <= a || lo >= a + sh->live[i].usable,
                 "the new block [%p, +%zu) overlaps the live block [%p, "
                 "+%zu)",
                 ptr, usable, sh->live[i].ptr, sh->live[i].usable);
  }
  if (sh->mode != MODE_HOST)
    check_ordering(sh, lo, hi, stream);
  forget_dead(sh, ptr);
  shadow_block *b = &sh->live[sh->live_count++];
  *b = (shadow_block){ptr, requested, usable, ++sh->next_id};
  shadow_fill(b);
  sh->allocations++;
  sh->bytes_allocated += requested;
  sh->requested_live += requested;
  sh->usable_live += usable;
  if (sh->requested_live > sh->requested_peak)
    sh->requested_peak = sh->requested_live;
}

void shadow_note_free(shadow *sh, size_t index, tp_stream stream,
                      uint64_t seq) {
  shadow_block b = sh->live[index];
  sh->live[index] = sh->live[--sh->live_count];
  sh->deallocations++;
  sh->bytes_freed += b.requested;
  sh->requested_live -= b.requested;
  sh->usable_live -= b.usable;
  if (sh->dead_count < SHADOW_MAX_DEAD) {
    sh->dead[sh->dead_count++] = b.ptr;
  } else {
    sh->dead[sh->dead_next] = b.ptr;
    sh->dead_next = (sh->dead_next + 1) % SHADOW_MAX_DEAD;
  }
  if (sh->mode == MODE_HOST)
    return;
  if (sh->region_count == SHADOW_MAX_REGIONS) {
    /* Keep only regions whose stream still has the work pending. */
    size_t k = 0;
    for (size_t i = 0; i < sh->region_count; i++)
      if (tp_sim_completed(sh->sim, sh->regions[i].stream) < sh->regions[i].seq)
        sh->regions[k++] = sh->regions[i];
    sh->region_count = k;
  }
  if (sh->region_count < SHADOW_MAX_REGIONS)
    sh->regions[sh->region_count++] = (shadow_region){
        (uintptr_t)b.ptr, (uintptr_t)b.ptr + b.usable, stream, seq};
}

/* ---- the comparison ---- */

static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const shadow_block *)a)->ptr;
  uintptr_t y = (uintptr_t)((const shadow_block *)b)->ptr;
  return (x > y) - (x < y);
}

static void check_blocks(shadow *sh) {
  shadow_block sorted[SHADOW_MAX_LIVE];
  memcpy(sorted, sh->live, sh->live_count * sizeof *sorted);
  qsort(sorted, sh->live_count, sizeof *sorted, by_address);
  for (size_t i = 0; i < sh->live_count; i++) {
    const shadow_block *b = &sorted[i];
    SHADOW_CHECK(sh, (uintptr_t)b->ptr % 256 == 0, "block %p not 256-aligned",
                 b->ptr);
    SHADOW_CHECK(sh, shadow_intact(b, false),
                 "block %p (%zu bytes, id %" PRIu64 ") lost its bytes", b->ptr,
                 b->requested, b->id);
    if (sh->mode == MODE_VM && sh->vm_commit)
      SHADOW_CHECK(sh, tp_sim_committed(sh->sim, b->ptr, b->usable),
                   "live block %p (%zu usable bytes) lies on pages given back",
                   b->ptr, b->usable);
    if (i > 0)
      SHADOW_CHECK(sh,
                   (uintptr_t)sorted[i - 1].ptr + sorted[i - 1].usable <=
                       (uintptr_t)b->ptr,
                   "live blocks overlap: [%p, +%zu) and %p", sorted[i - 1].ptr,
                   sorted[i - 1].usable, b->ptr);
  }
}

#define EQ(field, model)                                                       \
  SHADOW_CHECK(sh, s.field == (uint64_t)(model),                               \
               #field " is %" PRIu64 ", the model says %" PRIu64, s.field,     \
               (uint64_t)(model))

static void check_upstream(shadow *sh, const tp_pool_stats *ps) {
  tp_pool_stats s = *ps;
  if (sh->mode == MODE_SIM || sh->mode == MODE_VM) {
    tp_sim_counters c = tp_sim_get_counters(sh->sim);
    EQ(reserved_bytes, c.bytes_out - c.bytes_pending);
    EQ(upstream_gets, c.gets);
    EQ(upstream_puts, c.puts);
    /* Where pages come back on first touch the pool counts them as used
     * again without telling the space: only with commit do both agree. */
    if (sh->mode == MODE_VM && sh->vm_commit) {
      EQ(decommitted_bytes, c.bytes_decommitted);
      EQ(segment_grows, c.grows);
      EQ(segment_shrinks, c.shrinks);
    }
  } else if (sh->mode == MODE_FAIL) {
    EQ(reserved_bytes, sh->fail.bytes_out);
    EQ(upstream_gets, sh->fail.gets);
    EQ(upstream_puts, sh->fail.puts);
  }
}

void shadow_check(shadow *sh) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  SHADOW_CHECK(sh, tp_pool_get_stats(sh->pool, &s) == TP_SUCCESS,
               "tp_pool_get_stats failed");
  EQ(allocations, sh->allocations);
  EQ(deallocations, sh->deallocations);
  EQ(bytes_allocated, sh->bytes_allocated);
  EQ(bytes_freed, sh->bytes_freed);
  EQ(failures, sh->failures);
  EQ(live_blocks, sh->live_count);
  EQ(requested_bytes, sh->requested_live);
  EQ(requested_bytes_peak, sh->requested_peak);
  EQ(live_bytes, sh->usable_live);
  SHADOW_CHECK(sh, s.reserved_bytes == s.live_bytes + s.cached_bytes,
               "reserved %" PRIu64 " != live %" PRIu64 " + cached %" PRIu64,
               s.reserved_bytes, s.live_bytes, s.cached_bytes);
  SHADOW_CHECK(sh, s.hits + s.misses == s.allocations,
               "hits %" PRIu64 " + misses %" PRIu64 " != allocations %" PRIu64,
               s.hits, s.misses, s.allocations);
  double rate = s.allocations ? (double)s.hits / (double)s.allocations : 0.0;
  SHADOW_CHECK(sh, fabs(s.hit_rate - rate) < 1e-12, "hit_rate %g, not %g",
               s.hit_rate, rate);
  SHADOW_CHECK(sh, s.reserved_bytes <= sh->limit,
               "reserved %" PRIu64 " over the limit %zu", s.reserved_bytes,
               sh->limit);
  SHADOW_CHECK(sh, (s.cached_blocks == 0) == (s.cached_bytes == 0),
               "%" PRIu64 " cached blocks of %" PRIu64 " bytes",
               s.cached_blocks, s.cached_bytes);
  /* The fragmentation and page figures describe the cached bytes. */
  SHADOW_CHECK(sh,
               s.free_segment_bytes <= s.cached_bytes &&
                   s.largest_free_block <= s.cached_bytes &&
                   s.decommitted_bytes <= s.cached_bytes,
               "free segments %" PRIu64 " bytes, largest free block %" PRIu64
               ", decommitted %" PRIu64 ": more than the %" PRIu64
               " cached bytes",
               s.free_segment_bytes, s.largest_free_block, s.decommitted_bytes,
               s.cached_bytes);
  SHADOW_CHECK(sh,
               s.free_segments <= s.segments &&
                   (s.free_segments == 0) == (s.free_segment_bytes == 0),
               "%" PRIu64 " whole free segments of %" PRIu64
               " bytes among %" PRIu64 " segments",
               s.free_segments, s.free_segment_bytes, s.segments);
  SHADOW_CHECK(sh, s.segments == s.upstream_gets - s.releases,
               "%" PRIu64 " segments held after %" PRIu64 " gets and %" PRIu64
               " releases",
               s.segments, s.upstream_gets, s.releases);
  SHADOW_CHECK(sh, (s.segments == 0) == (s.reserved_bytes == 0),
               "%" PRIu64 " segments hold %" PRIu64 " reserved bytes",
               s.segments, s.reserved_bytes);
  if (s.live_bytes > sh->live_peak_seen)
    sh->live_peak_seen = s.live_bytes;
  if (s.reserved_bytes > sh->reserved_peak_seen)
    sh->reserved_peak_seen = s.reserved_bytes;
  SHADOW_CHECK(sh,
               s.live_bytes_peak >= sh->live_peak_seen &&
                   s.reserved_bytes_peak >= sh->reserved_peak_seen,
               "a peak below a value seen since the last reset: live %" PRIu64
               " < %" PRIu64 " or reserved %" PRIu64 " < %" PRIu64,
               s.live_bytes_peak, sh->live_peak_seen, s.reserved_bytes_peak,
               sh->reserved_peak_seen);
  SHADOW_CHECK(sh, s.streams_forgotten <= sh->forgets,
               "%" PRIu64 " streams forgotten in %" PRIu64 " forget calls",
               s.streams_forgotten, sh->forgets);
  /* The limit in force is the last one accepted: refusals leave it. */
  uint64_t limit = 0;
  SHADOW_CHECK(sh,
               tp_pool_get_attribute(sh->pool, TP_POOL_ATTR_LIMIT, &limit) ==
                       TP_SUCCESS &&
                   limit == (sh->limit == TP_UNLIMITED ? UINT64_MAX
                                                       : (uint64_t)sh->limit),
               "the pool's limit is %" PRIu64 ", the model's %zu", limit,
               sh->limit);
  check_upstream(sh, &s);
  check_blocks(sh);
  /* The engine's own check of its records, lists, index and counters. */
  char why[256];
  SHADOW_CHECK(sh, tp_pool_validate(sh->pool, why, sizeof why) == 0,
               "tp_pool_validate: %s", why);
  sh->seen = s;
}
