/* libFuzzer target: sequences of pool operations on the host space, the
 * simulated-stream space and a failure-injecting space, each step checked
 * against the shadow model of pool_shadow.h, and every bad call checked for
 * its documented status (include/tensorpool/pool.h, README's table).
 *
 * Input: a mode byte, four configuration bytes, then operations, one byte
 * each followed by their arguments (fuzz_input.h: missing bytes read 0). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "pool_shadow.h"
#include "tensorpool/pool.h"
#include "tensorpool/raw_allocator.h"

/* Host requests stay at most this large (the fuzzer writes into blocks and
 * runs with a memory limit), or are at least HOST_HUGE, which no machine
 * serves, so they must fail with TP_ERR_OUT_OF_MEMORY. The host space
 * reserves address space and lets pages come on first touch, so a request
 * of terabytes may succeed; 2^60 bytes exceed every 64-bit address space
 * (57 bits with five-level paging). */
#define HOST_MAX ((size_t)16 << 20)
#define HOST_HUGE ((size_t)1 << 60)
/* Upstream capacity of the simulated space. */
#define SIM_CAPACITY ((size_t)256 << 20)
#define MIB ((size_t)1 << 20)

#define STATUS_BIT(s) (1u << (unsigned)(s))

static const char *status_list(unsigned mask, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  for (unsigned s = 0; s < 32; s++)
    if (mask >> s & 1u)
      n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s",
                            n ? " or " : "", tp_status_name((tp_status)s));
  return buf;
}

/* `got` must be one of `allowed`; a failure must leave a message. */
static void expect(shadow *sh, tp_status got, unsigned allowed) {
  char buf[256];
  SHADOW_CHECK(sh, allowed & STATUS_BIT(got), "returned %s, expected %s",
               tp_status_name(got), status_list(allowed, buf, sizeof buf));
  if (got != TP_SUCCESS)
    SHADOW_CHECK(sh, tp_last_error()[0] != '\0',
                 "failed with %s but no message", tp_status_name(got));
}

static bool injected_since(const shadow *sh, uint64_t fired) {
  return sh->mode == MODE_FAIL && sh->fail.fired > fired;
}

/* The statuses an injected failure may surface as. */
#define INJECTED (STATUS_BIT(TP_ERR_CUDA) | STATUS_BIT(TP_ERR_OUT_OF_MEMORY))

/* ---- sizes ---- */

static size_t draw_size(shadow *sh, fuzz_input *in) {
  uint8_t kind = fuzz_u8(in);
  if (kind < 150)
    return 1 + fuzz_u16(in) % 4096;
  if (kind < 210)
    return 1 + fuzz_u32(in) % (256 * 1024);
  if (kind < 230)
    return 1 + fuzz_u32(in) % HOST_MAX;
  switch (kind) {
  case 230: return 0;
  case 231: return SIZE_MAX;
  case 232: return ((size_t)1 << 63) + 1;
  case 233: return (size_t)1 << 62;
  case 234: return HOST_HUGE;
  case 235: return sh->limit < SIZE_MAX ? sh->limit + 1 : 1;
  case 236: return sh->limit < SIZE_MAX ? sh->limit : 1;
  default: break;
  }
  /* A class boundary: 256 << k, one byte under or over. */
  size_t base = (size_t)256 << fuzz_pick(in, 17);
  int delta = (int)fuzz_pick(in, 3) - 1;
  return base + (size_t)delta;
}

/* In the host space nothing between HOST_MAX and HOST_HUGE is asked for:
 * such a block would be real memory over the fuzzer's limits. */
static size_t draw_request(shadow *sh, fuzz_input *in) {
  size_t bytes = draw_size(sh, in);
  if (sh->mode == MODE_HOST && bytes > HOST_MAX && bytes < HOST_HUGE)
    bytes = HOST_MAX;
  return bytes;
}

/* ---- allocation ---- */

static size_t round_up(size_t v, size_t to) {
  return (v + to - 1) / to * to;
}

typedef struct alloc_expectation {
  unsigned allowed;
  bool must_succeed;
} alloc_expectation;

static alloc_expectation expect_alloc(shadow *sh, size_t bytes) {
  alloc_expectation e = {0, false};
  size_t cls = 0;
  tp_status cs = tp_pool_class_size(sh->pool, bytes, &cls);
  if (bytes == 0) {
    SHADOW_CHECK(sh, cs == TP_ERR_INVALID_ARGUMENT,
                 "tp_pool_class_size(0) returned %s", tp_status_name(cs));
    e.allowed = STATUS_BIT(TP_ERR_INVALID_ARGUMENT);
    return e;
  }
  /* The sizes with no class are the sizes no block is made for. */
  if (cs == TP_ERR_OVERFLOW) {
    e.allowed = STATUS_BIT(TP_ERR_OVERFLOW);
    return e;
  }
  SHADOW_CHECK(sh, cs == TP_SUCCESS && cls >= bytes,
               "tp_pool_class_size(%zu) gave %s, %zu", bytes,
               tp_status_name(cs), cls);
  /* A block holds the request rounded to 256 bytes at least, and the
   * limit binds reserved bytes, which include every live block. */
  size_t rounded = round_up(bytes, 256);
  if (rounded > sh->limit || sh->usable_live > sh->limit - rounded) {
    e.allowed = STATUS_BIT(TP_ERR_OUT_OF_MEMORY);
    return e;
  }
  /* A new segment holds the request rounded to the space's page. */
  size_t least = round_up(rounded, sh->granule);
  bool upstream_can =
      sh->mode == MODE_HOST ? bytes <= HOST_MAX : least <= SIM_CAPACITY;
  bool upstream_cannot =
      sh->mode == MODE_HOST ? bytes >= HOST_HUGE : least > SIM_CAPACITY;
  if (upstream_cannot) {
    e.allowed = STATUS_BIT(TP_ERR_OUT_OF_MEMORY);
    return e;
  }
  e.allowed = STATUS_BIT(TP_SUCCESS) | STATUS_BIT(TP_ERR_OUT_OF_MEMORY);
  /* With nothing live, a request whose new segment fits under the limit
   * and that upstream can serve must succeed: the pool may give back all
   * it caches to make room. Free blocks with work pending on different
   * streams may not merge into whole segments before that work is done,
   * so where the limit needs room made, only when no work is pending. In
   * the simulated space a release waits for its stream's work before
   * upstream has the memory again, so only when upstream has room without
   * it. */
  bool room = true;
  if (sh->mode != MODE_HOST) {
    tp_sim_counters c = tp_sim_get_counters(sh->sim);
    room = c.bytes_pending == 0 && c.bytes_out <= SIM_CAPACITY - least;
  }
  bool under_limit =
      least <= sh->limit &&
      (sh->seen.reserved_bytes <= sh->limit - least || shadow_idle(sh));
  e.must_succeed = sh->live_count == 0 && upstream_can && room && under_limit;
  return e;
}

/* Whether a request rounded to `rounded` on `stream` may come from a
 * thread cache's sizes above 64 KiB: caches on (a budget, no cache bound,
 * no event log), the NULL stream, up to 256 KiB. The cache hands out such a
 * block only if it is neither oversize nor over the budget; otherwise the
 * engine's exact size. */
static bool cached_size(const shadow *sh, size_t rounded, tp_stream stream) {
  const tp_pool_config *c = &sh->config;
  return c->thread_cache_bytes && c->max_cached_bytes == TP_UNLIMITED &&
         !c->event_log_path && !stream && rounded > 64 * 1024 &&
         rounded <= 256 * 1024 && rounded < c->oversize_threshold;
}

/* After a successful alloc (pool or raw): the block's promises, then the
 * model's bookkeeping; in simulated spaces its first use on `stream`. */
static void accept_block(shadow *sh, void *p, size_t bytes, tp_stream stream) {
  SHADOW_CHECK(sh, p != NULL, "success with a NULL block");
  SHADOW_CHECK(sh, (uintptr_t)p % 256 == 0, "block %p not 256-aligned", p);
  size_t usable = 0;
  tp_status st = tp_pool_block_size(sh->pool, p, &usable);
  SHADOW_CHECK(sh, st == TP_SUCCESS, "tp_pool_block_size of a new block: %s",
               tp_status_name(st));
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(sh->pool, &s);
  bool miss = s.misses > sh->seen.misses;
  size_t rounded = round_up(bytes, 256);
  if (cached_size(sh, rounded, stream)) {
    /* A thread cache's size above 64 KiB (pool.h): the request fills it
     * to more than 7/8, and it is neither oversize nor over the budget. */
    SHADOW_CHECK(sh,
                 usable == rounded ||
                     (usable > rounded && usable - rounded < usable / 8 &&
                      usable < sh->config.oversize_threshold &&
                      usable <= sh->config.thread_cache_bytes),
                 "a block of %zu bytes from a thread cache (budget %zu, "
                 "threshold %zu): %zu usable",
                 bytes, sh->config.thread_cache_bytes,
                 sh->config.oversize_threshold, usable);
  } else if (rounded < sh->config.oversize_threshold) {
    SHADOW_CHECK(sh, usable == rounded,
                 "a block of %zu bytes: tp_pool_block_size gave %zu, not the "
                 "request rounded to 256 (%zu)",
                 bytes, usable, rounded);
  } else if (miss) {
    SHADOW_CHECK(sh, usable >= rounded && usable - rounded < sh->granule,
                 "a new oversize block of %zu bytes (threshold %zu): %zu "
                 "usable, not its request rounded to the page of %zu",
                 bytes, sh->config.oversize_threshold, usable, sh->granule);
  } else {
    SHADOW_CHECK(sh, usable >= rounded && usable - rounded <= usable / 8,
                 "a reused oversize block of %zu usable bytes serves %zu "
                 "bytes (threshold %zu): more than 1/8 of it unused",
                 usable, bytes, sh->config.oversize_threshold);
  }
  shadow_note_alloc(sh, p, bytes, usable, stream);
  if (sh->mode != MODE_HOST)
    shadow_enqueue(sh, stream);
}

static void op_alloc(shadow *sh, fuzz_input *in) {
  sh->op = "alloc";
  size_t bytes = draw_request(sh, in);
  tp_stream stream = shadow_stream(sh, fuzz_u8(in));
  if (sh->live_count == SHADOW_MAX_LIVE)
    return;
  snprintf(sh->op_buf, sizeof sh->op_buf, "alloc of %zu bytes on %p", bytes,
           (void *)stream);
  sh->op = sh->op_buf;
  alloc_expectation e = expect_alloc(sh, bytes);
  uint64_t fired = sh->fail.fired;
  void *p = (void *)1;
  tp_status st = tp_pool_alloc(sh->pool, bytes, stream, &p);
  bool injected = injected_since(sh, fired);
  expect(sh, st, e.allowed | (injected ? INJECTED : 0));
  if (e.must_succeed && !injected)
    SHADOW_CHECK(sh, st == TP_SUCCESS,
                 "%zu bytes with nothing live and a limit of %zu failed", bytes,
                 sh->limit);
  if (st != TP_SUCCESS) {
    sh->failures++;
    return;
  }
  accept_block(sh, p, bytes, stream);
}

/* ---- freeing ---- */

/* Whether a free of a live block went through. With every stream slot
 * taken, the pool waits for the stream; a failed wait (injected) fails the
 * free and keeps the block live, since its last use may still run. */
static bool free_went_through(shadow *sh, tp_status st, uint64_t fired) {
  expect(sh, st,
         STATUS_BIT(TP_SUCCESS) | (injected_since(sh, fired) ? INJECTED : 0u));
  if (st == TP_SUCCESS)
    return true;
  sh->failures++;
  return false;
}

/* After a successful free, the cache bounds where design.md promises them:
 * above max_cached_bytes (or max_buffers_per_bucket), whole free segments
 * go back upstream as they appear. `refused`: the space's refused puts
 * before the free (a refused segment stays, as documented). */
static void check_bounds_after_free(shadow *sh, uint64_t refused) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(sh->pool, &s);
  if (sh->fail.puts_refused != refused) {
    /* A refused segment stays whole: the next free's baseline (frees at the
     * end run with no step check between them). */
    sh->seen.free_segments = s.free_segments;
    sh->seen.releases = s.releases;
    return;
  }
  SHADOW_CHECK(
      sh, s.cached_bytes <= sh->config.max_cached_bytes || s.free_segments == 0,
      "after a free, %" PRIu64 " bytes cached over max_cached_bytes "
      "%zu, and %" PRIu64 " whole free segments kept",
      s.cached_bytes, sh->config.max_cached_bytes, s.free_segments);
  /* With no segment kept per size class, the segment a free leaves whole
   * goes at once. (Under a max_cached_bytes too, a release may merge
   * blocks of other segments whole and stop before reaching them.) */
  if (sh->config.max_buffers_per_bucket == 0 &&
      sh->config.max_cached_bytes == TP_UNLIMITED)
    SHADOW_CHECK(sh, s.free_segments <= sh->seen.free_segments,
                 "a free with max_buffers_per_bucket 0 left %" PRIu64
                 " whole free segments (%" PRIu64 " before)",
                 s.free_segments, sh->seen.free_segments);
  sh->seen.free_segments = s.free_segments;
  sh->seen.releases = s.releases;
}

static void free_block(shadow *sh, size_t i, tp_stream stream) {
  const shadow_block *b = &sh->live[i];
  SHADOW_CHECK(sh, shadow_intact(b, true),
               "block %p (%zu bytes) lost its bytes before its free", b->ptr,
               b->requested);
  uint64_t seq = 0;
  if (sh->mode != MODE_HOST)
    seq = shadow_enqueue(sh, stream); /* the block's last use */
  uint64_t fired = sh->fail.fired, refused = sh->fail.puts_refused;
  if (free_went_through(sh, tp_pool_free(sh->pool, b->ptr, stream), fired)) {
    shadow_note_free(sh, i, stream, seq);
    check_bounds_after_free(sh, refused);
  }
}

static void op_free(shadow *sh, fuzz_input *in) {
  sh->op = "free";
  unsigned pick = fuzz_u8(in);
  tp_stream stream = shadow_stream(sh, fuzz_u8(in));
  if (sh->live_count == 0) {
    expect(sh, tp_pool_free(sh->pool, NULL, stream), STATUS_BIT(TP_SUCCESS));
    return;
  }
  free_block(sh, pick % sh->live_count, stream);
}

static bool is_live_start(const shadow *sh, const void *p) {
  for (size_t i = 0; i < sh->live_count; i++)
    if (sh->live[i].ptr == p)
      return true;
  return false;
}

/* Never handed out by any pool: 256-aligned static memory. */
static _Alignas(256) unsigned char foreign_memory[4096];

static void op_bad_free(shadow *sh, fuzz_input *in) {
  sh->op = "bad free";
  unsigned kind = fuzz_pick(in, 5);
  unsigned pick = fuzz_u8(in);
  uint16_t offset = fuzz_u16(in);
  tp_stream stream = shadow_stream(sh, fuzz_u8(in));
  void *p = NULL;
  switch (kind) {
  case 0: /* a pointer freed before and not handed out again */
    if (sh->dead_count == 0)
      return;
    p = sh->dead[pick % sh->dead_count];
    if (is_live_start(sh, p))
      return;
    sh->op = "double free";
    break;
  case 1: { /* inside a live block */
    if (sh->live_count == 0)
      return;
    const shadow_block *b = &sh->live[pick % sh->live_count];
    if (b->usable < 2)
      return;
    p = (char *)b->ptr + 1 + offset % (b->usable - 1);
    sh->op = "interior free";
    break;
  }
  case 2:
    p = foreign_memory + (offset % 16) * 256;
    sh->op = "foreign free";
    break;
  case 3:
    sh->op = "free without a pool";
    expect(sh, tp_pool_free(NULL, foreign_memory, stream),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    expect(sh, tp_pool_destroy(NULL), STATUS_BIT(TP_SUCCESS));
    return;
  default:
    sh->op = "free NULL";
    expect(sh, tp_pool_free(sh->pool, NULL, stream), STATUS_BIT(TP_SUCCESS));
    return;
  }
  expect(sh, tp_pool_free(sh->pool, p, stream),
         STATUS_BIT(TP_ERR_INVALID_POINTER));
  sh->failures++;
}

/* ---- shrinking ---- */

static void op_trim(shadow *sh, fuzz_input *in) {
  sh->op = "trim";
  static const size_t targets[] = {0, 256, 4096, MIB, SIZE_MAX};
  unsigned k = fuzz_pick(in, 6);
  size_t target = k < 5 ? targets[k] : (size_t)fuzz_u32(in) * 256;
  uint64_t fired = sh->fail.fired;
  tp_status st = tp_pool_trim(sh->pool, target);
  bool injected = injected_since(sh, fired);
  /* A refused release is reported with upstream's own status. */
  expect(sh, st, STATUS_BIT(TP_SUCCESS) | (injected ? INJECTED : 0u));
  /* Whole free segments go until at most `target` free bytes stay; free
   * ranges between live blocks (and tails still in use) may stay. */
  if (st == TP_SUCCESS) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_pool_get_stats(sh->pool, &s);
    SHADOW_CHECK(sh, s.cached_bytes <= target || s.free_segments == 0,
                 "trim to %zu left %" PRIu64 " cached bytes and %" PRIu64
                 " whole free segments",
                 target, s.cached_bytes, s.free_segments);
  }
}

/* ---- settings ---- */

/* Cache bounds, in the header and as attributes. */
static size_t config_size(uint8_t b) {
  static const size_t sizes[] = {TP_UNLIMITED, 0,       4096,     MIB,
                                 16 * MIB,     256 * 3, 64 * MIB, 300000};
  return sizes[b % 8];
}

/* Oversize thresholds: 0 is the default (none); small ones make most
 * requests oversize, 1 MiB and 2 MiB sit at the small/large boundary. */
static size_t oversize_threshold(unsigned b) {
  static const size_t sizes[] = {TP_UNLIMITED, 256,     4096,    65536,
                                 MIB,          2 * MIB, 4 * MIB, 300000};
  return sizes[b % 8];
}

static const size_t bucket_bounds[] = {TP_UNLIMITED, 0, 1, 2, 8};
/* Thread caches: off (the default), the documented size, and budgets below
 * the caches' largest blocks (some sizes then go to the engine). */
static const size_t thread_cache_sizes[] = {0, TP_POOL_THREAD_CACHE_DEFAULT,
                                            96 * 1024, 4096};
static const size_t release_delays[] = {1024, 0, 1, 16};

/* tp_pool_set_limit, or the limit attribute ("as tp_pool_set_limit"). */
static void apply_limit(shadow *sh, size_t limit, bool attribute) {
  uint64_t fired = sh->fail.fired;
  tp_status st =
      attribute
          ? tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_LIMIT,
                                  limit == TP_UNLIMITED ? UINT64_MAX : limit)
          : tp_pool_set_limit(sh->pool, limit);
  bool injected = injected_since(sh, fired);
  unsigned allowed;
  if (limit == 0)
    allowed = STATUS_BIT(TP_ERR_INVALID_ARGUMENT);
  else if (limit < sh->usable_live)
    allowed = STATUS_BIT(TP_ERR_OUT_OF_MEMORY);
  else if (limit >= sh->seen.reserved_bytes)
    allowed = STATUS_BIT(TP_SUCCESS); /* nothing needs to go */
  else /* free bytes between live blocks may exceed it */
    allowed = STATUS_BIT(TP_SUCCESS) | STATUS_BIT(TP_ERR_OUT_OF_MEMORY) |
              (injected ? INJECTED : 0u);
  expect(sh, st, allowed);
  if (st == TP_SUCCESS) {
    sh->limit = limit; /* checked: reserved <= limit after every step */
    return;
  }
  /* design.md: it "refuses, unchanged" (a refused release aside, whose
   * status it returns), with stream work pending too: free blocks that
   * cannot merge yet count as staying. The limit stays as it was. */
  if (st == TP_ERR_OUT_OF_MEMORY && !injected) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_pool_get_stats(sh->pool, &s);
    SHADOW_CHECK(sh,
                 s.reserved_bytes == sh->seen.reserved_bytes &&
                     s.upstream_puts == sh->seen.upstream_puts,
                 "a refused limit of %zu changed the pool: reserved %" PRIu64
                 " -> %" PRIu64 ", upstream puts %" PRIu64 " -> %" PRIu64,
                 limit, sh->seen.reserved_bytes, s.reserved_bytes,
                 sh->seen.upstream_puts, s.upstream_puts);
  }
}

/* A limit around what is live and reserved, or a fixed one. */
static size_t draw_limit(shadow *sh, fuzz_input *in) {
  size_t live = sh->usable_live, reserved = (size_t)sh->seen.reserved_bytes;
  switch (fuzz_pick(in, 10)) {
  case 0: return 0;
  case 1: return live ? live - 1 : 1;
  case 2: return live ? live : 256;
  case 3: return live + 256 * (size_t)(1 + fuzz_u8(in));
  case 4: return MIB;
  case 5: return 64 * MIB;
  case 6: return TP_UNLIMITED;
  case 7: return 1 + (size_t)fuzz_u32(in) * 16;
  /* Between live and reserved bytes: free memory must go, if it can. */
  case 8: return live + (reserved - live) / 2 + 1;
  default: return reserved > 1 ? reserved - 1 : 1;
  }
}

static void op_set_limit(shadow *sh, fuzz_input *in) {
  sh->op = "set_limit";
  apply_limit(sh, draw_limit(sh, in), false);
}

/* After a successful change of max_cached_bytes: "a lower cache bound
 * releases what it can", so whole free segments stay only within it. */
static void check_cache_bound(shadow *sh, uint64_t refused) {
  if (sh->fail.puts_refused != refused)
    return;
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(sh->pool, &s);
  SHADOW_CHECK(
      sh, s.cached_bytes <= sh->config.max_cached_bytes || s.free_segments == 0,
      "max_cached_bytes set to %zu: %" PRIu64 " bytes cached, %" PRIu64
      " whole free segments kept",
      sh->config.max_cached_bytes, s.cached_bytes, s.free_segments);
}

static uint64_t as_u64(size_t v) {
  return v == TP_UNLIMITED ? UINT64_MAX : (uint64_t)v;
}

/* Every attribute read back: the settings in force and the statistics. */
static void check_attributes(shadow *sh) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(sh->pool, &s);
  const tp_pool_config *c = &sh->config;
  const uint64_t want[] = {as_u64(c->max_cached_bytes),
                           as_u64(c->max_buffers_per_bucket),
                           as_u64(sh->limit),
                           0, /* page release: resolved by the pool */
                           as_u64(c->page_release_delay),
                           as_u64(c->oversize_threshold),
                           s.reserved_bytes,
                           s.reserved_bytes_peak,
                           s.live_bytes,
                           s.live_bytes_peak,
                           s.cached_bytes,
                           s.decommitted_bytes,
                           as_u64(c->thread_cache_bytes)};
  for (int a = 0; a < (int)(sizeof want / sizeof want[0]); a++) {
    uint64_t v = 0;
    expect(sh, tp_pool_get_attribute(sh->pool, (tp_pool_attr)a, &v),
           STATUS_BIT(TP_SUCCESS));
    if (a == TP_POOL_ATTR_PAGE_RELEASE)
      SHADOW_CHECK(sh,
                   v != TP_PAGE_RELEASE_DEFAULT && v <= TP_PAGE_RELEASE_AGED &&
                       (c->page_release == TP_PAGE_RELEASE_DEFAULT ||
                        v == (uint64_t)c->page_release),
                   "page_release reads %" PRIu64 ", set %d", v,
                   (int)c->page_release);
    else
      SHADOW_CHECK(sh, v == want[a],
                   "attribute %d reads %" PRIu64 ", expected %" PRIu64, a, v,
                   want[a]);
  }
}

static void op_attribute(shadow *sh, fuzz_input *in) {
  sh->op = "set_attribute";
  unsigned kind = fuzz_pick(in, 10);
  uint8_t v = fuzz_u8(in);
  uint64_t refused = sh->fail.puts_refused;
  tp_status st;
  switch (kind) {
  case 0:
    sh->op = "set max_cached_bytes";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_MAX_CACHED_BYTES,
                               as_u64(config_size(v)));
    /* A refused release is not the setting's failure. */
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    sh->config.max_cached_bytes = config_size(v);
    check_cache_bound(sh, refused);
    break;
  case 1:
    sh->op = "set max_buffers_per_bucket";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_MAX_BUFFERS_PER_BUCKET,
                               as_u64(bucket_bounds[v % 5]));
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    sh->config.max_buffers_per_bucket = bucket_bounds[v % 5];
    break;
  case 2:
    sh->op = "set the limit attribute";
    apply_limit(sh, draw_limit(sh, in), true);
    break;
  case 3:
    sh->op = "set page_release";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_PAGE_RELEASE, v % 5);
    expect(sh, st,
           STATUS_BIT(v % 5 <= TP_PAGE_RELEASE_AGED ? TP_SUCCESS
                                                    : TP_ERR_INVALID_ARGUMENT));
    if (st == TP_SUCCESS)
      sh->config.page_release = (tp_page_release)(v % 5);
    break;
  case 4:
    sh->op = "set page_release_delay";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_PAGE_RELEASE_DELAY,
                               release_delays[v % 4]);
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    sh->config.page_release_delay = release_delays[v % 4];
    break;
  case 5:
    sh->op = "set oversize_threshold";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_OVERSIZE_THRESHOLD,
                               as_u64(oversize_threshold(v)));
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    sh->config.oversize_threshold = oversize_threshold(v);
    break;
  case 6: {
    sh->op = "set a read-only attribute";
    static const tp_pool_attr read_only[] = {
        TP_POOL_ATTR_RESERVED_BYTES, TP_POOL_ATTR_LIVE_BYTES,
        TP_POOL_ATTR_CACHED_BYTES, TP_POOL_ATTR_DECOMMITTED_BYTES};
    expect(sh, tp_pool_set_attribute(sh->pool, read_only[v % 4], v),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    break;
  }
  case 7: {
    /* Peaks can only be reset to the current value. */
    sh->op = "reset a peak attribute";
    tp_pool_attr attr =
        v & 1 ? TP_POOL_ATTR_LIVE_BYTES_PEAK : TP_POOL_ATTR_RESERVED_BYTES_PEAK;
    uint64_t value = v & 2 ? 1 + (uint64_t)v : 0;
    expect(sh, tp_pool_set_attribute(sh->pool, attr, value),
           STATUS_BIT(value ? TP_ERR_INVALID_ARGUMENT : TP_SUCCESS));
    if (value)
      break;
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_pool_get_stats(sh->pool, &s);
    uint64_t peak = attr == TP_POOL_ATTR_LIVE_BYTES_PEAK
                        ? s.live_bytes_peak
                        : s.reserved_bytes_peak;
    /* The live peak restarts from the engine's live bytes, which count
     * blocks parked in the thread's cache (design.md): never below what
     * the caller holds. */
    uint64_t now = attr == TP_POOL_ATTR_LIVE_BYTES_PEAK
                       ? s.live_bytes + s.thread_cached_bytes
                       : s.reserved_bytes;
    SHADOW_CHECK(sh, peak == now,
                 "a reset peak reads %" PRIu64 ", not %" PRIu64, peak, now);
    if (attr == TP_POOL_ATTR_LIVE_BYTES_PEAK)
      sh->live_peak_seen = s.live_bytes;
    else
      sh->reserved_peak_seen = now;
    break;
  }
  case 8: {
    sh->op = "an attribute that is none, or no pool";
    uint64_t out = 0;
    tp_pool_attr none = (tp_pool_attr)(v & 1 ? -1 : 13 + v);
    expect(sh, tp_pool_set_attribute(sh->pool, none, 0),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    expect(sh, tp_pool_get_attribute(sh->pool, none, &out),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    expect(sh,
           tp_pool_get_attribute(sh->pool, TP_POOL_ATTR_LIMIT, (uint64_t *)0),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    expect(sh, tp_pool_set_attribute(NULL, TP_POOL_ATTR_LIMIT, 1),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    break;
  }
  case 9:
    sh->op = "set thread_cache_bytes";
    st = tp_pool_set_attribute(sh->pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                               thread_cache_sizes[v % 4]);
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    sh->config.thread_cache_bytes = thread_cache_sizes[v % 4];
    break;
  default: break;
  }
  sh->op = "get_attribute";
  check_attributes(sh);
}

/* ---- streams ---- */

static void op_forget(shadow *sh, fuzz_input *in) {
  sh->op = "forget_stream";
  tp_stream stream = shadow_stream(sh, fuzz_u8(in));
  uint64_t fired = sh->fail.fired;
  tp_status st = tp_pool_forget_stream(sh->pool, stream);
  expect(sh, st,
         STATUS_BIT(TP_SUCCESS) | (injected_since(sh, fired) ? INJECTED : 0u));
  if (st == TP_SUCCESS)
    sh->forgets++;
}

static void op_complete(shadow *sh, fuzz_input *in) {
  sh->op = "complete work";
  unsigned which = fuzz_u8(in);
  unsigned how = fuzz_u8(in);
  if (sh->mode == MODE_HOST)
    return;
  if (how == 255) {
    tp_sim_complete_all(sh->sim);
    return;
  }
  tp_stream stream = shadow_stream(sh, which);
  tp_sim_complete(sh->sim, stream,
                  tp_sim_completed(sh->sim, stream) + 1 + how % 4);
}

static void op_inject(shadow *sh, fuzz_input *in) {
  sh->op = "inject";
  fail_op op = (fail_op)fuzz_pick(in, FAIL_OPS);
  unsigned count = fuzz_pick(in, 4);
  count = count == 3 ? 1000 : count + 1;
  tp_status status = fuzz_u8(in) & 1 ? TP_ERR_OUT_OF_MEMORY : TP_ERR_CUDA;
  if (sh->mode == MODE_FAIL)
    fail_space_fail_next(&sh->fail, op, count, status);
}

/* ---- queries ---- */

static void op_query(shadow *sh, fuzz_input *in) {
  sh->op = "query";
  unsigned kind = fuzz_pick(in, 5);
  unsigned pick = fuzz_u8(in);
  size_t a = draw_size(sh, in), b = draw_size(sh, in);
  size_t usable = 0, ca = 0, cb = 0;
  switch (kind) {
  case 0:
    if (sh->live_count == 0)
      return;
    sh->op = "block_size of a live block";
    expect(sh,
           tp_pool_block_size(sh->pool, sh->live[pick % sh->live_count].ptr,
                              &usable),
           STATUS_BIT(TP_SUCCESS));
    SHADOW_CHECK(sh, usable == sh->live[pick % sh->live_count].usable,
                 "a live block's size changed from %zu to %zu",
                 sh->live[pick % sh->live_count].usable, usable);
    return;
  case 1:
    sh->op = "block_size of a dead pointer";
    if (sh->dead_count == 0 ||
        is_live_start(sh, sh->dead[pick % sh->dead_count]))
      return;
    expect(
        sh,
        tp_pool_block_size(sh->pool, sh->dead[pick % sh->dead_count], &usable),
        STATUS_BIT(TP_ERR_INVALID_POINTER));
    return;
  case 2:
    sh->op = "block_size of NULL";
    expect(sh, tp_pool_block_size(sh->pool, NULL, &usable),
           STATUS_BIT(TP_ERR_INVALID_POINTER));
    return;
  case 3:
    sh->op = "block_size without an out-pointer";
    expect(sh, tp_pool_block_size(sh->pool, foreign_memory, NULL),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    return;
  default: break;
  }
  sh->op = "class_size";
  if (a > b) {
    size_t t = a;
    a = b;
    b = t;
  }
  tp_status sa = tp_pool_class_size(sh->pool, a, &ca);
  tp_status sb = tp_pool_class_size(sh->pool, b, &cb);
  if (a == 0)
    expect(sh, sa, STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
  if (sa == TP_SUCCESS && sb == TP_SUCCESS)
    SHADOW_CHECK(sh, a <= ca && ca <= cb && b <= cb,
                 "classes not monotone: %zu -> %zu, %zu -> %zu", a, ca, b, cb);
  if (sa == TP_ERR_OVERFLOW)
    SHADOW_CHECK(sh, sb == TP_ERR_OVERFLOW,
                 "%zu bytes overflow the classes but %zu bytes do not", a, b);
}

static void count_line(void *user, const char *line) {
  if (line && line[0])
    ++*(unsigned *)user;
}

static void op_stats(shadow *sh, fuzz_input *in) {
  sh->op = "statistics";
  switch (fuzz_pick(in, 4)) {
  case 0: {
    sh->op = "reset_peaks";
    expect(sh, tp_pool_reset_peaks(sh->pool), STATUS_BIT(TP_SUCCESS));
    tp_pool_stats s = TP_POOL_STATS_INIT;
    tp_pool_get_stats(sh->pool, &s);
    /* Live: the engine's figure, blocks parked in the thread's cache
     * included (design.md, "Thread caches"). */
    SHADOW_CHECK(sh,
                 s.live_bytes_peak == s.live_bytes + s.thread_cached_bytes &&
                     s.requested_bytes_peak == s.requested_bytes &&
                     s.reserved_bytes_peak == s.reserved_bytes,
                 "peaks after a reset differ from the current values");
    sh->requested_peak = sh->requested_live;
    sh->live_peak_seen = s.live_bytes;
    sh->reserved_peak_seen = s.reserved_bytes;
    return;
  }
  case 1: {
    sh->op = "print_stats";
    unsigned lines = 0;
    expect(sh, tp_pool_print_stats(sh->pool, count_line, &lines),
           STATUS_BIT(TP_SUCCESS));
    SHADOW_CHECK(sh, lines > 0, "print_stats printed nothing");
    expect(sh, tp_pool_print_stats(sh->pool, NULL, NULL),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    return;
  }
  default: {
    /* An older caller's struct: only its struct_size bytes are written. */
    sh->op = "get_stats of an older or uninitialized struct";
    static const size_t sizes[] = {0, sizeof(size_t),
                                   offsetof(tp_pool_stats, hits),
                                   offsetof(tp_pool_stats, streams_forgotten)};
    size_t size = sizes[fuzz_pick(in, 4)];
    unsigned char buf[sizeof(tp_pool_stats)];
    memset(buf, 0xab, sizeof buf);
    memcpy(buf, &size, sizeof size);
    tp_status st = tp_pool_get_stats(sh->pool, (tp_pool_stats *)buf);
    if (size <= sizeof(size_t)) { /* no field past struct_size: refused */
      expect(sh, st, STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
      return;
    }
    expect(sh, st, STATUS_BIT(TP_SUCCESS));
    size_t kept;
    memcpy(&kept, buf, sizeof kept);
    SHADOW_CHECK(sh, kept == size, "struct_size changed from %zu to %zu", size,
                 kept);
    for (size_t i = size; i < sizeof buf; i++)
      SHADOW_CHECK(sh, buf[i] == 0xab,
                   "byte %zu written past a struct_size of %zu", i, size);
    return;
  }
  }
}

/* ---- the raw-allocator table ---- */

static void op_raw(shadow *sh, fuzz_input *in) {
  sh->op = "raw allocator";
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  expect(sh, tp_pool_raw_allocator(sh->pool, &raw), STATUS_BIT(TP_SUCCESS));
  unsigned kind = fuzz_pick(in, 2);
  static const size_t alignments[] = {0, 1, 64, 256, 512, 3, 4096};
  size_t alignment = alignments[fuzz_pick(in, 7)];
  size_t bytes = draw_request(sh, in);
  unsigned pick = fuzz_u8(in);
  unsigned sized = fuzz_pick(in, 4);
  tp_stream stream = shadow_stream(sh, fuzz_u8(in));
  uint64_t failures = sh->failures;
  tp_status st;
  if (kind == 0) {
    if (sh->live_count == SHADOW_MAX_LIVE)
      return;
    snprintf(sh->op_buf, sizeof sh->op_buf,
             "raw alloc of %zu bytes aligned to %zu on %p", bytes, alignment,
             (void *)stream);
    sh->op = sh->op_buf;
    /* tp_raw_alloc refuses 0 bytes and an alignment that is not a power
     * of two before the table (raw_allocator.h). */
    bool bad = (alignment & (alignment - 1)) || bytes == 0;
    alloc_expectation e = {0, false};
    if (!bad && alignment <= 256)
      e = expect_alloc(sh, bytes);
    uint64_t fired = sh->fail.fired;
    void *p = NULL;
    st = tp_raw_alloc(&raw, bytes, alignment, stream, &p);
    bool injected = injected_since(sh, fired);
    if (bad) {
      expect(sh, st, STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
      /* Refused before the table: the pool never saw the call. */
      tp_pool_stats s = TP_POOL_STATS_INIT;
      tp_pool_get_stats(sh->pool, &s);
      SHADOW_CHECK(sh, s.failures == sh->failures,
                   "failures %" PRIu64 " after a call refused before the "
                   "pool (model %" PRIu64 ")",
                   s.failures, sh->failures);
      return;
    }
    if (alignment > 256)
      expect(sh, st, STATUS_BIT(TP_ERR_NOT_SUPPORTED));
    else
      expect(sh, st, e.allowed | (injected ? INJECTED : 0u));
    if (st == TP_SUCCESS) {
      accept_block(sh, p, bytes, stream);
      SHADOW_CHECK(sh, !alignment || (uintptr_t)p % alignment == 0,
                   "%p not aligned to %zu", p, alignment);
      return;
    }
    failures++;
  } else {
    if (sh->live_count == 0)
      return;
    sh->op = "raw free";
    size_t i = pick % sh->live_count;
    const shadow_block *b = &sh->live[i];
    size_t named = sized == 0   ? 0
                   : sized == 1 ? b->requested
                   : sized == 2 ? b->usable
                                : b->usable + 1;
    if (named <= b->usable) {
      uint64_t seq = 0;
      if (sh->mode != MODE_HOST)
        seq = shadow_enqueue(sh, stream);
      uint64_t fired = sh->fail.fired, refused = sh->fail.puts_refused;
      if (free_went_through(sh, tp_raw_free(&raw, b->ptr, named, stream),
                            fired)) {
        shadow_note_free(sh, i, stream, seq);
        check_bounds_after_free(sh, refused);
      }
      return;
    }
    /* A size the block cannot hold: refused, the block stays live. */
    expect(sh, tp_raw_free(&raw, b->ptr, named, stream),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    failures++;
  }
  /* Refusals of the table itself (alignment, a wrong size) may happen
   * before the pool is called, so they may or may not count as failures. */
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(sh->pool, &s);
  SHADOW_CHECK(sh, s.failures == sh->failures || s.failures == failures,
               "failures %" PRIu64 " after a refused raw call (model %" PRIu64
               ")",
               s.failures, sh->failures);
  sh->failures = s.failures;
}

/* ---- pools that must not be made, and named pools with a log ---- */

static tp_status noop_sync(void *ctx, tp_stream stream) {
  (void)ctx;
  (void)stream;
  return TP_SUCCESS;
}

static void op_create(shadow *sh, fuzz_input *in) {
  sh->op = "create a pool";
  unsigned kind = fuzz_pick(in, 8);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  const tp_space *space = tp_host_space();
  tp_space broken;
  tp_space_ops ops;
  tp_pool *out = (tp_pool *)foreign_memory;
  tp_pool **outp = &out;
  char name[96];
  size_t n = fuzz_pick(in, sizeof name);
  for (size_t i = 0; i < n; i++)
    name[i] = (char)(fuzz_u8(in) | 1); /* never NUL inside */
  name[n] = '\0';
  switch (kind) {
  case 0: c.struct_size = 0; break;
  case 1: c.divisions = fuzz_u8(in) | 0x100u; break; /* never 1..16 */
  case 2: c.divisions = 3; break;
  case 3: c.limit = 0; break;
  case 4: outp = NULL; break;
  case 5: space = NULL; break;
  case 6:
    ops = *tp_host_space()->ops;
    ops.stream_sync = fuzz_u8(in) & 1 ? NULL : noop_sync;
    ops.get = ops.stream_sync ? NULL : ops.get;
    broken = *tp_host_space();
    broken.ops = &ops;
    space = &broken;
    break;
  default: {
    /* A valid pool with any name and a log: names reach the log quoted. */
    sh->op = "create a named pool with a log";
    c.name = name;
    c.event_log_path = "/dev/null";
    tp_pool *pool;
    expect(sh, tp_pool_create(space, &c, &pool), STATUS_BIT(TP_SUCCESS));
    SHADOW_CHECK(sh, strncmp(tp_pool_name(pool), name, 63) == 0,
                 "the pool's name is not the one given");
    void *p;
    expect(sh, tp_pool_alloc(pool, 1 + n, NULL, &p), STATUS_BIT(TP_SUCCESS));
    expect(sh, tp_pool_free(pool, p, NULL), STATUS_BIT(TP_SUCCESS));
    expect(sh, tp_pool_alloc(pool, 0, NULL, &p),
           STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
    expect(sh, tp_pool_forget_stream(pool, NULL), STATUS_BIT(TP_SUCCESS));
    expect(sh, tp_pool_trim(pool, 0), STATUS_BIT(TP_SUCCESS));
    expect(sh, tp_pool_destroy(pool), STATUS_BIT(TP_SUCCESS));
    return;
  }
  }
  expect(sh, tp_pool_create(space, &c, outp),
         STATUS_BIT(TP_ERR_INVALID_ARGUMENT));
  if (outp)
    SHADOW_CHECK(sh, out == NULL, "a refused create left *out set");
}

/* ---- the run ---- */

typedef void (*op_fn)(shadow *sh, fuzz_input *in);

/* Weighted: allocations and frees make up most of a sequence. */
static const op_fn ops_table[] = {
    op_alloc, op_alloc, op_alloc, op_alloc, op_alloc, op_alloc, op_free,
    op_free, op_free, op_free, op_free, op_bad_free, op_trim, op_set_limit,
    op_forget, op_forget, op_complete, op_complete, op_inject, op_inject,
    op_query, op_stats, op_raw, op_raw, op_create,
    /* Appended: inputs written before keep their meaning. */
    op_attribute};
enum { OP_COUNT = sizeof ops_table / sizeof ops_table[0] };

static void setup(shadow *sh, fuzz_input *in) {
  memset(sh, 0, sizeof *sh);
  uint8_t mode = fuzz_u8(in);
  sh->mode = (shadow_mode)(mode % MODE_COUNT);
  sh->vm_commit = mode & 0x80;
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  uint8_t d = fuzz_u8(in);
  c.divisions = 1u << (d % 5);
  /* The high bits of the bound bytes choose the newer settings, 0 their
   * defaults, so that inputs written before them keep their meaning. */
  uint8_t k = fuzz_u8(in);
  c.max_cached_bytes = config_size(k);
  c.oversize_threshold = oversize_threshold(k >> 3);
  uint8_t m = fuzz_u8(in);
  c.max_buffers_per_bucket = bucket_bounds[m % 5];
  uint8_t l = fuzz_u8(in);
  c.limit = l % 4 == 0 ? TP_UNLIMITED : (size_t)(l % 4) * 8 * MIB;
  c.page_release = (tp_page_release)(l >> 2 & 3u);
  c.page_release_delay = release_delays[l >> 4 & 3u];
  c.thread_cache_bytes = thread_cache_sizes[l >> 6];
  c.name = "fuzzed";
  if (d & 0x80)
    c.event_log_path = "/dev/null"; /* every step also goes through the log */
  sh->config = c;
  sh->limit = c.limit;
  const tp_space *space = tp_host_space();
  if (sh->mode != MODE_HOST) {
    sh->sim = tp_sim_create(SIM_CAPACITY);
    SHADOW_CHECK(sh, sh->sim, "no memory for the simulated space");
    /* Pages as the host's, or larger ones to commit, as a device's (2 MiB
     * there; smaller here, so that the fuzzer's memory stays small). */
    if (sh->mode == MODE_VM)
      tp_sim_enable_vm(sh->sim, sh->vm_commit ? 65536 : 4096, sh->vm_commit);
    space = tp_sim_space(sh->sim);
  }
  if (sh->mode == MODE_FAIL) {
    fail_space_init(&sh->fail, sh->sim);
    space = &sh->fail.space;
  }
  const tp_space_ops *ops = space->ops;
  sh->granule = ops->resize || ops->decommit ? ops->page_bytes : 256;
  if (sh->granule < 256)
    sh->granule = 256;
  sh->op = "create";
  expect(sh, tp_pool_create(space, &c, &sh->pool), STATUS_BIT(TP_SUCCESS));
  sh->fail.armed = sh->mode == MODE_FAIL;
}

static void teardown(shadow *sh) {
  sh->op = "destroy";
  sh->fail.armed = false; /* destroy ignores refused puts: no injection */
  for (size_t i = 0; i < sh->live_count; i++)
    SHADOW_CHECK(sh, shadow_intact(&sh->live[i], true),
                 "block %p lost its bytes", sh->live[i].ptr);
  tp_status st = tp_pool_destroy(sh->pool);
  expect(sh, st, STATUS_BIT(sh->live_count ? TP_ERR_LEAK : TP_SUCCESS));
  if (sh->sim) {
    tp_sim_complete_all(sh->sim);
    size_t leaked = tp_sim_destroy(sh->sim);
    SHADOW_CHECK(sh, leaked == 0,
                 "%zu bytes never given back upstream after destroy", leaked);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = fuzz_input_make(data, size);
  static shadow sh; /* large: not on the stack */
  setup(&sh, &in);
  shadow_check(&sh);
  while (fuzz_more(&in)) {
    sh.step++;
    ops_table[fuzz_pick(&in, OP_COUNT)](&sh, &in);
    shadow_check(&sh);
  }
  /* Free half of what is left (the rest goes with the pool, a leak). */
  sh.op = "free at the end";
  while (sh.live_count > SHADOW_MAX_LIVE / 2)
    free_block(&sh, sh.live_count - 1, NULL);
  shadow_check(&sh);
  teardown(&sh);
  return 0;
}
