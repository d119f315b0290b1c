/* What an idealised allocator would hold on a log: the yardstick the
 * replay's efficiencies are read against (issue 14's table).
 *
 * The ideal keeps every recorded pool in one unbounded arena, places each
 * request (rounded up to 256 bytes) in the smallest free range that holds it
 * (the lowest address among equals), coalesces at once, and never gives
 * address space back. Its high-water mark over the peak requested bytes is
 * the "one-arena" bound; the peak count of pages that live blocks overlap,
 * for 4 KiB pages and for 2 MiB granules, over the peak requested bytes, is
 * what an allocator that gives back every free page (granule) could reach.
 * A recorded failure counts as a block allocated and freed at once, as the
 * replay without a limit meets it; zero-byte requests are left out. */
#ifndef TP_BENCH_REPLAY_BOUND_H
#define TP_BENCH_REPLAY_BOUND_H

#include "event_log.h"

typedef struct replay_bound {
  double arena;    /* high-water / peak requested */
  double pages;    /* peak 4 KiB pages under live blocks / peak requested */
  double granules; /* the same with 2 MiB granules */
} replay_bound;

/* Returns 0, or -1 (out of memory). Uses replay_mem only, no malloc. */
int replay_bound_compute(const replay_log *log, replay_bound *out);

#endif
