#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "block_pattern.h"
#include "pool/pool_internal.h"
#include "pool_model_internal.h"

#define CHECK(t, cond, ...) ((cond) ? true : tp_model_fail((t), __VA_ARGS__))

void tp_model_note_class(tp_model_thread *t, size_t class_size) {
  for (unsigned i = 0; i < t->class_count; ++i)
    if (t->class_sizes[i] == class_size)
      return;
  if (t->class_count < TP_MODEL_MAX_CLASSES)
    t->class_sizes[t->class_count++] = class_size;
}

bool tp_model_check_invariants(tp_model_thread *t, const tp_pool_stats *s) {
  const tp_model_options *o = &t->run->options;
  size_t limit = o->threads == 1 ? t->run->limit : o->config.limit;
  if (!CHECK(t, s->reserved_bytes == s->live_bytes + s->cached_bytes,
             "reserved %zu != live %zu + cached %zu", s->reserved_bytes,
             s->live_bytes, s->cached_bytes) ||
      !CHECK(t, s->hits + s->misses == s->allocations,
             "hits %" PRIu64 " + misses %" PRIu64 " != allocations %" PRIu64,
             s->hits, s->misses, s->allocations) ||
      !CHECK(t, s->reserved_bytes <= limit, "reserved %zu > limit %zu",
             s->reserved_bytes, limit) ||
      !CHECK(t, (s->cached_blocks == 0) == (s->cached_bytes == 0),
             "cached blocks %zu but cached bytes %zu", s->cached_blocks,
             s->cached_bytes) ||
      !CHECK(t, s->cached_blocks * 256 <= s->cached_bytes,
             "%zu cached blocks in only %zu bytes", s->cached_blocks,
             s->cached_bytes) ||
      !CHECK(t, s->live_blocks * 256 <= s->live_bytes,
             "%zu live blocks in only %zu bytes", s->live_blocks,
             s->live_bytes) ||
      !CHECK(t, s->requested_bytes <= s->live_bytes, "requested %zu > live %zu",
             s->requested_bytes, s->live_bytes) ||
      !CHECK(t,
             s->live_bytes_peak >= s->live_bytes &&
                 s->requested_bytes_peak >= s->requested_bytes &&
                 s->reserved_bytes_peak >= s->reserved_bytes,
             "a peak below its current value: live %zu/%zu requested %zu/%zu "
             "reserved %zu/%zu",
             s->live_bytes, s->live_bytes_peak, s->requested_bytes,
             s->requested_bytes_peak, s->reserved_bytes,
             s->reserved_bytes_peak))
    return false;
  if (!CHECK(t,
             s->free_segments <= s->segments &&
                 s->free_segment_bytes <= s->cached_bytes &&
                 s->largest_free_block <= s->cached_bytes &&
                 s->decommitted_bytes <= s->cached_bytes,
             "fragmentation figures out of range: %" PRIu64 " of %" PRIu64
             " segments free (%" PRIu64 " bytes), largest free block %" PRIu64
             ", decommitted %" PRIu64 ", cached %" PRIu64,
             s->free_segments, s->segments, s->free_segment_bytes,
             s->largest_free_block, s->decommitted_bytes, s->cached_bytes))
    return false;
  if (s->allocations)
    return CHECK(
        t, fabs(s->hit_rate - (double)s->hits / (double)s->allocations) < 1e-9,
        "hit_rate %g != hits/allocations %g", s->hit_rate,
        (double)s->hits / (double)s->allocations);
  return true;
}

/* The sums of every thread's model. */
typedef struct model_totals {
  uint64_t allocations, deallocations, bytes_allocated, bytes_freed, failures,
      forgets, waits_owed;
  size_t live_blocks, requested, usable;
  unsigned classes;
} model_totals;

static model_totals sum_threads(const tp_model_state *run) {
  model_totals m = {0};
  size_t seen[TP_MODEL_MAX_CLASSES];
  for (unsigned i = 0; i < run->options.threads; ++i) {
    const tp_model_thread *t = &run->threads[i];
    m.allocations += t->allocations;
    m.deallocations += t->deallocations;
    m.bytes_allocated += t->bytes_allocated;
    m.bytes_freed += t->bytes_freed;
    m.failures += t->failures;
    m.forgets += t->forgets;
    m.waits_owed += t->waits_owed;
    m.live_blocks += t->live_count;
    m.requested += t->requested_live;
    m.usable += t->usable_live;
    for (unsigned c = 0; c < t->class_count; ++c) {
      unsigned k = 0;
      while (k < m.classes && seen[k] != t->class_sizes[c])
        ++k;
      if (k == m.classes && m.classes < TP_MODEL_MAX_CLASSES)
        seen[m.classes++] = t->class_sizes[c];
    }
  }
  return m;
}

/* Peaks only grow, except through tp_pool_reset_peaks (which the model
 * notes by clearing `previous`). */
static bool check_peaks_grow(tp_model_thread *t, const tp_pool_stats *s) {
  const tp_pool_stats *p = &t->run->previous;
  return CHECK(t,
               s->live_bytes_peak >= p->live_bytes_peak &&
                   s->requested_bytes_peak >= p->requested_bytes_peak &&
                   s->reserved_bytes_peak >= p->reserved_bytes_peak,
               "a peak went down without reset: live %zu->%zu requested "
               "%zu->%zu reserved %zu->%zu",
               p->live_bytes_peak, s->live_bytes_peak, p->requested_bytes_peak,
               s->requested_bytes_peak, p->reserved_bytes_peak,
               s->reserved_bytes_peak);
}

bool tp_model_block_backed(tp_model_state *run, const void *ptr, size_t bytes) {
  if (run->vmm)
    return tp_sim_vmm_mapped(run->vmm, ptr, bytes);
  return !run->options.vm_commit || tp_sim_committed(run->sim, ptr, bytes);
}

/* The pool's figures against what upstream counted: the simulated space's
 * own counters, or the VMM space's and its driver's. */
static bool check_upstream(tp_model_thread *t, const tp_pool_stats *s,
                           const tp_sim_counters *c) {
  tp_model_state *run = t->run;
  if (run->vmm) {
    tp_vmm_counts v;
    tp_vmm_space_counts(run->vmm_space, &v);
    tp_sim_vmm_counters d = tp_sim_vmm_get_counters(run->vmm);
    /* Pending granules are still mapped; the pool counts them given back. */
    return CHECK(t, v.segments == s->segments,
                 "%" PRIu64 " segments, the VMM space holds %" PRIu64,
                 s->segments, v.segments) &&
           CHECK(t,
                 v.mapped_bytes - v.pending_bytes ==
                     s->reserved_bytes - s->decommitted_bytes,
                 "reserved %" PRIu64 " - decommitted %" PRIu64
                 " != mapped %" PRIu64 " - pending %" PRIu64,
                 s->reserved_bytes, s->decommitted_bytes, v.mapped_bytes,
                 v.pending_bytes) &&
           CHECK(t, d.violations == 0 && d.mapped_bytes == v.mapped_bytes,
                 "the driver saw %" PRIu64 " rule violations, %zu bytes "
                 "mapped (the space counts %" PRIu64 ")",
                 d.violations, d.mapped_bytes, v.mapped_bytes);
  }
  const tp_model_options *o = &run->options;
  return CHECK(t, s->reserved_bytes == c->bytes_out - c->bytes_pending,
               "reserved %zu but upstream has %zu out, %zu of them given back",
               s->reserved_bytes, c->bytes_out, c->bytes_pending) &&
         CHECK(t, s->upstream_gets == c->gets,
               "upstream_gets %" PRIu64 ", upstream saw %" PRIu64,
               s->upstream_gets, c->gets) &&
         CHECK(t, s->upstream_puts == c->puts,
               "upstream_puts %" PRIu64 ", upstream saw %" PRIu64,
               s->upstream_puts, c->puts) &&
         CHECK(t,
               s->segment_grows == c->grows && s->segment_shrinks == c->shrinks,
               "grows %" PRIu64 " and shrinks %" PRIu64
               ", upstream saw %" PRIu64 " and %" PRIu64,
               s->segment_grows, s->segment_shrinks, c->grows, c->shrinks) &&
         CHECK(t, !o->vm_commit || s->decommitted_bytes == c->bytes_decommitted,
               "decommitted %" PRIu64 " bytes, upstream has %zu given back",
               s->decommitted_bytes, c->bytes_decommitted);
}

bool tp_model_check_exact(tp_model_thread *t) {
  tp_model_state *run = t->run;
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_status st = tp_pool_get_stats(run->pool, &s);
  if (!CHECK(t, st == TP_SUCCESS, "tp_pool_get_stats failed: %s",
             tp_last_error()) ||
      !tp_model_check_invariants(t, &s) || !check_peaks_grow(t, &s))
    return false;
  model_totals m = sum_threads(run);
  tp_sim_counters c = tp_sim_get_counters(run->sim);
  bool ok =
      CHECK(t, s.allocations == m.allocations,
            "allocations %" PRIu64 ", model %" PRIu64, s.allocations,
            m.allocations) &&
      CHECK(t, s.deallocations == m.deallocations,
            "deallocations %" PRIu64 ", model %" PRIu64, s.deallocations,
            m.deallocations) &&
      CHECK(t, s.bytes_allocated == m.bytes_allocated,
            "bytes_allocated %" PRIu64 ", model %" PRIu64, s.bytes_allocated,
            m.bytes_allocated) &&
      CHECK(t, s.bytes_freed == m.bytes_freed,
            "bytes_freed %" PRIu64 ", model %" PRIu64, s.bytes_freed,
            m.bytes_freed) &&
      CHECK(t, s.failures == m.failures, "failures %" PRIu64 ", model %" PRIu64,
            s.failures, m.failures) &&
      CHECK(t, s.live_blocks == m.live_blocks, "live_blocks %zu, model %zu",
            s.live_blocks, m.live_blocks) &&
      CHECK(t, s.requested_bytes == m.requested,
            "requested_bytes %zu, model %zu", s.requested_bytes, m.requested) &&
      CHECK(t, s.live_bytes == m.usable,
            "live_bytes %zu, model (sum of block sizes) %zu", s.live_bytes,
            m.usable) &&
      check_upstream(t, &s, &c) &&
      CHECK(t, s.misses == s.upstream_gets + s.segment_grows,
            "misses %" PRIu64 " != successful upstream gets %" PRIu64
            " + segment grows %" PRIu64,
            s.misses, s.upstream_gets, s.segment_grows) &&
      CHECK(t, s.releases == s.upstream_puts,
            "releases %" PRIu64 " != upstream puts %" PRIu64, s.releases,
            s.upstream_puts) &&
      CHECK(t, s.cross_stream_takes >= m.waits_owed,
            "cross_stream_takes %" PRIu64 " < %" PRIu64
            " takes the model saw with the old stream still busy",
            s.cross_stream_takes, m.waits_owed) &&
      CHECK(t, s.streams_forgotten <= m.forgets,
            "streams_forgotten %" PRIu64 " > %" PRIu64 " forget calls",
            s.streams_forgotten, m.forgets);
  if (ok) {
    char why[512];
    ok = CHECK(t, tp_pool_validate(run->pool, why, sizeof why) == 0,
               "the pool's records are inconsistent: %s", why);
  }
  run->previous = s;
  return ok;
}

bool tp_model_check_records(tp_model_thread *t) {
  char why[512];
  return CHECK(t, tp_pool_validate(t->run->pool, why, sizeof why) == 0,
               "the pool's records are inconsistent: %s", why);
}

bool tp_model_check_block_bytes(tp_model_thread *t, const tp_model_block *b) {
  size_t bad = tp_pattern_check(b->ptr, b->requested, b->id);
  return CHECK(t, bad == b->requested,
               "block %" PRIu64 " at %p (%zu bytes) lost its bytes: first "
               "wrong byte at offset %zu",
               b->id, b->ptr, b->requested, bad);
}

static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const tp_model_block *)a)->ptr;
  uintptr_t y = (uintptr_t)((const tp_model_block *)b)->ptr;
  return (x > y) - (x < y);
}

/* Every live block of every thread: disjoint and on committed pages, and
 * with `bytes`, its bytes intact (the expensive part: at barriers). */
static bool check_live(tp_model_thread *t, bool bytes) {
  tp_model_state *run = t->run;
  size_t total = 0;
  for (unsigned i = 0; i < run->options.threads; ++i)
    total += run->threads[i].live_count;
  tp_model_block *all = malloc((total + 1) * sizeof *all);
  if (!CHECK(t, all != NULL, "out of host memory for the block check"))
    return false;
  size_t n = 0;
  bool ok = true;
  for (unsigned i = 0; i < run->options.threads && ok; ++i)
    for (size_t k = 0; k < run->threads[i].live_count && ok; ++k) {
      const tp_model_block *b = &run->threads[i].live[k];
      all[n++] = *b;
      ok = (!bytes || tp_model_check_block_bytes(t, b)) &&
           CHECK(t, tp_model_block_backed(run, b->ptr, b->usable),
                 "live block %" PRIu64 " at %p lies on pages given back", b->id,
                 b->ptr);
    }
  qsort(all, n, sizeof *all, by_address);
  for (size_t k = 1; k < n && ok; ++k)
    ok = CHECK(
        t,
        (uintptr_t)all[k - 1].ptr + all[k - 1].usable <= (uintptr_t)all[k].ptr,
        "live blocks overlap: %" PRIu64 " at %p (+%zu) and %" PRIu64 " at %p",
        all[k - 1].id, all[k - 1].ptr, all[k - 1].usable, all[k].id,
        all[k].ptr);
  free(all);
  return ok;
}

bool tp_model_check_blocks(tp_model_thread *t) {
  return check_live(t, true);
}

bool tp_model_check_layout(tp_model_thread *t) {
  return check_live(t, false);
}
