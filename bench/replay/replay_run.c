/* One replay of a resolved log against one allocator; see replay_run.h. */
#define _GNU_SOURCE
#include "replay_run.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "replay_mem.h"

/* Recorded stream i becomes tag i in the replay, the first one seen (often
 * the null stream) staying NULL only if it was recorded as 0x0: tags keep
 * the recorded pattern of which blocks share a stream. */
static tp_stream stream_tag(const replay_log *log, uint32_t index) {
  if (log->streams[index] == 0)
    return NULL;
  return (tp_stream)(uintptr_t)(index + 1);
}

/* What a slot holds during a pass. */
enum { SLOT_EMPTY = 0, SLOT_LIVE = 1, SLOT_ZERO = 2 };

typedef struct replay_state {
  host_peer *peers; /* one per recorded pool (tensorpool) or one shared */
  uint32_t npeers;
  void **slots;
  uint64_t *slot_sizes;
  uint32_t *slot_pools; /* which recorded pool each live slot came from */
  uint8_t *slot_state;
  size_t nslots;
  size_t requested, live_blocks;
  size_t reserved_base, rss_base;
} replay_state;

static host_peer *peer_for(replay_state *s, uint32_t pool) {
  return &s->peers[s->npeers == 1 ? 0 : pool];
}

/* ---- what each allocator can tell about its memory ---- */

static bool total_reserved(replay_state *s, size_t *out) {
  size_t sum = 0;
  for (uint32_t i = 0; i < s->npeers; i++) {
    size_t r;
    if (!s->peers[i].reserved(s->peers[i].ctx, &r))
      return false;
    sum += r;
  }
  *out = sum;
  return true;
}

/* Bytes in use as the allocator counts them, and (tensorpool) its largest
 * free block; REPLAY_UNKNOWN where it cannot say. Called after
 * total_reserved, which refreshed jemalloc's statistics. */
static void in_use(replay_state *s, uint64_t *live, uint64_t *largest) {
  *live = *largest = REPLAY_UNKNOWN;
  const char *name = s->peers[0].name;
  if (strcmp(name, "tensorpool") == 0) {
    uint64_t sum = 0, top = 0;
    for (uint32_t i = 0; i < s->npeers; i++) {
      tp_pool_stats st = TP_POOL_STATS_INIT;
      tp_pool_get_stats((tp_pool *)s->peers[i].ctx, &st);
      sum += st.live_bytes;
      top = st.largest_free_block > top ? st.largest_free_block : top;
    }
    *live = sum;
    *largest = top;
  } else if (strcmp(name, "glibc") == 0) {
    struct mallinfo2 mi = mallinfo2();
    *live = mi.uordblks + mi.hblkhd;
  } else if (strcmp(name, "jemalloc") == 0) {
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) = NULL;
    void *sym = dlsym(s->peers[0].handle, "mallctl");
    memcpy(&mallctl, &sym, sizeof sym);
    size_t v = 0, len = sizeof v;
    if (mallctl && mallctl("stats.allocated", &v, &len, NULL, 0) == 0)
      *live = v;
  }
}

static void sample(replay_state *s, replay_result *r, replay_sample *out) {
  size_t now;
  uint64_t reserved = REPLAY_UNKNOWN;
  if (r->reserved_known && total_reserved(s, &now)) {
    reserved = now > s->reserved_base ? now - s->reserved_base : 0;
    if (reserved > r->peak_reserved)
      r->peak_reserved = (size_t)reserved;
  }
  if (!out)
    return;
  out->requested = s->requested;
  out->reserved = reserved;
  in_use(s, &out->live, &out->largest_free);
  size_t rss = r->rss_known ? replay_rss_now() : 0;
  out->rss = !r->rss_known       ? REPLAY_UNKNOWN
             : rss > s->rss_base ? rss - s->rss_base
                                 : 0;
}

static void track_peaks(replay_state *s, replay_result *r) {
  if (s->requested > r->peak_requested)
    r->peak_requested = s->requested;
  if (s->live_blocks > r->peak_live_blocks)
    r->peak_live_blocks = s->live_blocks;
}

/* Writes every page of a fresh block once, and its last byte. */
static void touch(void *block, size_t bytes) {
  volatile unsigned char *p = block;
  for (size_t off = 0; off < bytes; off += 4096)
    p[off] = 1;
  p[bytes - 1] = 1;
}

/* A pointer no pool handed out: a recorded failed free is replayed with it,
 * which must fail again. */
static unsigned char not_a_block[256];

static void replay_events(const replay_log *log, replay_state *s,
                          const replay_options *o, replay_result *r) {
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *ev = &log->events[i];
    host_peer *p = peer_for(s, ev->pool);
    tp_pool *pool = host_peer_pool(p);
    tp_stream stream = stream_tag(log, ev->stream);
    switch (ev->op) {
    case REPLAY_ALLOC: {
      if (ev->size == 0) {
        r->zero_byte++;
        s->slot_state[ev->slot] = SLOT_ZERO;
        break;
      }
      void *b = host_peer_alloc(p, (size_t)ev->size, stream);
      if (!b) {
        r->new_failures++;
        break;
      }
      if (o->touch)
        touch(b, (size_t)ev->size);
      s->slots[ev->slot] = b;
      s->slot_sizes[ev->slot] = ev->size;
      s->slot_pools[ev->slot] = ev->pool;
      s->slot_state[ev->slot] = SLOT_LIVE;
      s->requested += (size_t)ev->size;
      s->live_blocks++;
      track_peaks(s, r);
      break;
    }
    case REPLAY_FAIL_ALLOC: {
      if (ev->size == 0) {
        r->zero_byte++;
        break;
      }
      r->recorded_failures++;
      void *b = host_peer_alloc(p, (size_t)ev->size, stream);
      if (!b) {
        r->failures_again++;
        break;
      }
      /* It fits now: count what it would cost, then give it back (the
       * program that recorded it never used it). */
      if (o->touch)
        touch(b, (size_t)ev->size);
      s->requested += (size_t)ev->size;
      s->live_blocks++;
      track_peaks(s, r);
      if (o->track)
        sample(s, r, NULL);
      s->requested -= (size_t)ev->size;
      s->live_blocks--;
      host_peer_free(p, b, stream);
      break;
    }
    case REPLAY_FREE:
      if (ev->slot != REPLAY_NO_SLOT && s->slot_state[ev->slot] == SLOT_ZERO) {
        r->zero_byte++;
        s->slot_state[ev->slot] = SLOT_EMPTY;
        break;
      }
      if (ev->slot == REPLAY_NO_SLOT || !s->slots[ev->slot]) {
        r->skipped++;
        break;
      }
      host_peer_free(p, s->slots[ev->slot], stream);
      s->slots[ev->slot] = NULL;
      s->slot_state[ev->slot] = SLOT_EMPTY;
      s->requested -= (size_t)s->slot_sizes[ev->slot];
      s->live_blocks--;
      break;
    case REPLAY_FAIL_FREE:
      r->recorded_failures++;
      if (!pool) {
        r->skipped++; /* a bad free would crash a malloc */
        break;
      }
      if (tp_pool_free(pool, not_a_block, stream) != TP_SUCCESS)
        r->failures_again++;
      break;
    case REPLAY_TRIM:
      if (!pool || tp_pool_trim(pool, (size_t)ev->size) != TP_SUCCESS)
        r->skipped += !pool;
      break;
    case REPLAY_FORGET:
      if (!pool)
        r->skipped++;
      else if (tp_pool_forget_stream(pool, stream) != TP_SUCCESS)
        r->new_failures++;
      break;
    }
    if (o->track)
      sample(s, r, o->timeline ? &o->timeline[i] : NULL);
  }
  r->events = log->count - r->skipped - r->zero_byte;
}

int replay_target_open(const replay_log *log, const char *impl,
                       const tp_pool_config *config, replay_target *out) {
  bool is_pool = strcmp(impl, "tensorpool") == 0;
  out->npeers = is_pool ? log->pools : 1;
  out->peers = calloc(out->npeers, sizeof *out->peers);
  if (!out->peers) {
    fprintf(stderr, "replay: out of memory\n");
    return -1;
  }
  for (uint32_t i = 0; i < out->npeers; i++) {
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    if (config)
      c = *config;
    c.name = log->pool_names[i];
    c.event_log_path = NULL;
    if (!host_peer_open(impl, is_pool ? &c : NULL, &out->peers[i])) {
      out->npeers = i;
      replay_target_close(out);
      return -1;
    }
  }
  return 0;
}

void replay_target_close(replay_target *target) {
  for (uint32_t i = 0; i < target->npeers; i++)
    host_peer_close(&target->peers[i]);
  free(target->peers);
  target->peers = NULL;
  target->npeers = 0;
}

bool replay_target_pool_stats(const replay_target *target, tp_pool_stats *out) {
  if (!target->npeers || !host_peer_pool(&target->peers[0]))
    return false;
  tp_pool_stats sum = TP_POOL_STATS_INIT;
  for (uint32_t i = 0; i < target->npeers; i++) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    if (tp_pool_get_stats(host_peer_pool(&target->peers[i]), &s) != TP_SUCCESS)
      return false;
    /* Every field after struct_size is a uint64_t but the hit rate. */
    uint64_t *to = (uint64_t *)((char *)&sum + sizeof sum.struct_size);
    const uint64_t *from =
        (const uint64_t *)((const char *)&s + sizeof s.struct_size);
    for (size_t k = 0; k < (sizeof s - sizeof s.struct_size) / 8; k++)
      to[k] += from[k];
  }
  sum.hit_rate =
      sum.allocations ? (double)sum.hits / (double)sum.allocations : 0.0;
  *out = sum;
  return true;
}

static void free_state(replay_state *s) {
  replay_mem_free(s->slots, s->nslots * sizeof *s->slots);
  replay_mem_free(s->slot_sizes, s->nslots * sizeof *s->slot_sizes);
  replay_mem_free(s->slot_pools, s->nslots * sizeof *s->slot_pools);
  replay_mem_free(s->slot_state, s->nslots);
}

int replay_run(const replay_log *log, replay_target *target,
               const replay_options *options, replay_result *out) {
  memset(out, 0, sizeof *out);
  replay_state s;
  memset(&s, 0, sizeof s);
  s.peers = target->peers;
  s.npeers = target->npeers;
  s.nslots = log->slots ? log->slots : 1;
  s.slots = replay_mem_alloc(s.nslots * sizeof *s.slots);
  s.slot_sizes = replay_mem_alloc(s.nslots * sizeof *s.slot_sizes);
  s.slot_pools = replay_mem_alloc(s.nslots * sizeof *s.slot_pools);
  s.slot_state = replay_mem_alloc(s.nslots);
  if (!s.slots || !s.slot_sizes || !s.slot_pools || !s.slot_state) {
    fprintf(stderr, "replay: out of memory\n");
    free_state(&s);
    return -1;
  }
  if (options->track) {
    out->reserved_known = total_reserved(&s, &s.reserved_base);
    out->rss_known = replay_rss_reset_peak();
    s.rss_base = replay_rss_now();
    out->rss_known = out->rss_known && s.rss_base > 0;
  }
  uint64_t t0 = bench_now_ns();
  replay_events(log, &s, options, out);
  out->ns = bench_now_ns() - t0;
  if (out->rss_known) {
    size_t peak = replay_rss_peak();
    out->peak_rss = peak > s.rss_base ? peak - s.rss_base : 0;
  }
  /* Blocks the log never freed are given back outside the timing. */
  for (size_t i = 0; i < log->slots; i++) {
    if (s.slots[i]) {
      host_peer *p = peer_for(&s, s.slot_pools[i]);
      host_peer_free(p, s.slots[i], NULL);
    }
  }
  free_state(&s);
  return 0;
}
