/* One replay of a resolved log against one allocator; see replay_run.h. */
#include "replay_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Recorded stream i becomes tag i in the replay, the first one seen (often
 * the null stream) staying NULL only if it was recorded as 0x0: tags keep
 * the recorded pattern of which blocks share a stream. */
static tp_stream stream_tag(const replay_log *log, uint32_t index) {
  if (log->streams[index] == 0)
    return NULL;
  return (tp_stream)(uintptr_t)(index + 1);
}

typedef struct replay_state {
  host_peer *peers; /* one per recorded pool (tensorpool) or one shared */
  uint32_t npeers;
  void **slots;
  uint64_t *slot_sizes;
  uint32_t *slot_pools; /* which recorded pool each live slot came from */
  size_t requested, live_blocks;
  size_t reserved_base;
} replay_state;

static host_peer *peer_for(replay_state *s, uint32_t pool) {
  return &s->peers[s->npeers == 1 ? 0 : pool];
}

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

static void track(replay_state *s, bool memory, replay_result *r) {
  if (s->requested > r->peak_requested)
    r->peak_requested = s->requested;
  if (s->live_blocks > r->peak_live_blocks)
    r->peak_live_blocks = s->live_blocks;
  size_t now;
  if (memory && r->reserved_known && total_reserved(s, &now)) {
    size_t over = now > s->reserved_base ? now - s->reserved_base : 0;
    if (over > r->peak_reserved)
      r->peak_reserved = over;
  }
}

/* A pointer no pool handed out: a recorded failed free is replayed with it,
 * which must fail again. */
static unsigned char not_a_block[256];

static void replay_events(const replay_log *log, replay_state *s, bool memory,
                          replay_result *r) {
  for (size_t i = 0; i < log->count; i++) {
    const replay_event *ev = &log->events[i];
    host_peer *p = peer_for(s, ev->pool);
    tp_pool *pool = host_peer_pool(p);
    tp_stream stream = stream_tag(log, ev->stream);
    switch (ev->op) {
    case REPLAY_ALLOC: {
      void *b = p->alloc(p->ctx, (size_t)ev->size, stream);
      if (!b) {
        r->new_failures++;
        break;
      }
      s->slots[ev->slot] = b;
      s->slot_sizes[ev->slot] = ev->size;
      s->slot_pools[ev->slot] = ev->pool;
      s->requested += (size_t)ev->size;
      s->live_blocks++;
      track(s, memory, r);
      break;
    }
    case REPLAY_FAIL_ALLOC: {
      r->recorded_failures++;
      void *b = p->alloc(p->ctx, (size_t)ev->size, stream);
      if (!b) {
        r->failures_again++;
        break;
      }
      /* It fits now: count what it would cost, then give it back (the
       * program that recorded it never used it). */
      s->requested += (size_t)ev->size;
      s->live_blocks++;
      track(s, memory, r);
      s->requested -= (size_t)ev->size;
      s->live_blocks--;
      p->free(p->ctx, b, stream);
      break;
    }
    case REPLAY_FREE:
      if (ev->slot == REPLAY_NO_SLOT || !s->slots[ev->slot]) {
        r->skipped++;
        break;
      }
      p->free(p->ctx, s->slots[ev->slot], stream);
      s->slots[ev->slot] = NULL;
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
  }
  r->events = log->count - r->skipped;
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

int replay_run(const replay_log *log, replay_target *target, bool track_memory,
               replay_result *out) {
  memset(out, 0, sizeof *out);
  replay_state s;
  memset(&s, 0, sizeof s);
  s.peers = target->peers;
  s.npeers = target->npeers;
  size_t slots = log->slots ? log->slots : 1;
  s.slots = calloc(slots, sizeof *s.slots);
  s.slot_sizes = calloc(slots, sizeof *s.slot_sizes);
  s.slot_pools = calloc(slots, sizeof *s.slot_pools);
  int rc = 0;
  if (!s.slots || !s.slot_sizes || !s.slot_pools) {
    fprintf(stderr, "replay: out of memory\n");
    rc = -1;
  }
  if (rc == 0) {
    out->reserved_known = track_memory && total_reserved(&s, &s.reserved_base);
    uint64_t t0 = bench_now_ns();
    replay_events(log, &s, track_memory, out);
    out->ns = bench_now_ns() - t0;
    /* Blocks the log never freed are given back outside the timing. */
    for (uint32_t i = 0; i < log->slots; i++) {
      if (s.slots[i]) {
        host_peer *p = peer_for(&s, s.slot_pools[i]);
        p->free(p->ctx, s.slots[i], NULL);
      }
    }
  }
  free(s.slots);
  free(s.slot_sizes);
  free(s.slot_pools);
  return rc;
}
