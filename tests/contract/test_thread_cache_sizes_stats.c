/* Thread caches (tp_pool_config.thread_cache_bytes and
 * TP_POOL_ATTR_THREAD_CACHE_BYTES), checked as a user sees them, from
 * include/tensorpool/pool.h, README.md ("Threads", the failure table),
 * docs/api.md (tensorpool/pool.h, Thread safety) and docs/design.md
 * ("Thread caches (the front end)"): block sizes and statistics. */
#include "thread_cache.h"

/* ---- Block sizes -------------------------------------------------------- */

/* pool.h: tp_pool_block_size is "the request rounded up to 256 bytes";
 * design.md: the caches' sizes are "every rounded size from 256 B to
 * 64 KiB". Parked and taken back, a block keeps that size. */
Test(tc_sizes, up_to_64k_the_request_rounded_to_256) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  size_t sizes[] = {1, 255, 256, 257, 1000, 4097, 65535, 65536};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    for (int round = 0; round < 3; round++) {
      void *p = alloc_ok(pool, sizes[i], NULL);
      cr_expect_eq(usable(pool, p), round256(sizes[i]),
                   "%zu bytes (round %d): usable %zu", sizes[i], round,
                   usable(pool, p));
      memset(p, 0x5A, usable(pool, p));
      ct_ok(tp_pool_free(pool, p, NULL));
    }
  }
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "Above 64 KiB a cache has eight sizes per power of two, so such
 * a request gets a block of up to 1/8 more than it rounds to
 * (tp_pool_block_size says how much)"; "the cache's size for it, which the
 * request fills to more than 7/8". design.md: "a request of 64 KiB + 1
 * gets a block of 72 KiB". The whole usable size is the caller's, and the
 * size is the block's, whichever thread asks. */
Test(tc_sizes, above_64k_eight_sizes_per_power_of_two) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  size_t req[] = {65537,  70000,  73728,  73729,  100000,
                  131072, 131073, 200000, 262143, 262144};
  size_t want[] = {72 * KiB,  72 * KiB,  72 * KiB,  80 * KiB,  104 * KiB,
                   128 * KiB, 144 * KiB, 208 * KiB, 256 * KiB, 256 * KiB};
  enum { N = sizeof req / sizeof *req };
  void *p[N];
  size_t n[N];
  worker w;
  worker_start(&w);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(cache_size(req[i]), want[i]); /* the test's own formula */
    p[i] = alloc_ok(pool, req[i], NULL);
    n[i] = usable(pool, p[i]);
    cr_expect_eq(n[i], want[i], "%zu bytes: usable %zu, documented %zu", req[i],
                 n[i], want[i]);
    cr_expect_gt(8 * (uint64_t)req[i], 7 * (uint64_t)n[i],
                 "%zu bytes fill %zu to no more than 7/8", req[i], n[i]);
    cr_expect_eq(w_usable(&w, pool, p[i]), n[i],
                 "another thread reads another size for %p", p[i]);
    ct_fill(p[i], n[i], (unsigned)i);
  }
  for (int i = 0; i < N; i++)
    cr_expect(ct_check(p[i], n[i], (unsigned)i),
              "block %d (%zu usable) overlaps another", i, n[i]);
  for (int i = 0; i < N; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  /* Taken again from the cache, the same sizes. */
  for (int i = 0; i < N; i++) {
    void *q = alloc_ok(pool, req[i], NULL);
    cr_expect_eq(usable(pool, q), want[i]);
    ct_ok(tp_pool_free(pool, q, NULL));
  }
  worker_stop(&w);
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: caches serve "freed blocks of up to 256 KiB requested on the NULL
 * stream"; everything else is the engine's (design.md: "other streams ...,
 * larger requests"): the request rounded up to 256 bytes, and nothing
 * parked after its free. */
Test(tc_sizes, above_256k_and_on_other_streams_the_engines_rounding) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  struct {
    size_t bytes;
    tp_stream stream;
  } cases[] = {
      {262145, NULL},        {300000, NULL},         {MiB, NULL},
      {65537, ct_stream(1)}, {100000, ct_stream(1)}, {200000, ct_stream(2)},
      {1000, ct_stream(2)}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    void *p = alloc_ok(pool, cases[i].bytes, cases[i].stream);
    cr_expect_eq(usable(pool, p), round256(cases[i].bytes),
                 "%zu bytes on stream %p: usable %zu", cases[i].bytes,
                 (void *)cases[i].stream, usable(pool, p));
    ct_ok(tp_pool_free(pool, p, cases[i].stream));
    tp_pool_stats s = ct_stats(pool);
    cr_expect_eq(s.thread_cached_blocks, 0,
                 "%zu bytes on stream %p was parked (%llu blocks)",
                 cases[i].bytes, (void *)cases[i].stream,
                 (unsigned long long)s.thread_cached_blocks);
    ct_expect_stats_consistent(&s);
  }
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: thread_cache_bytes "0 (the default): no thread caches";
 * TP_POOL_ATTR_THREAD_CACHE_BYTES is "rw: the config field". Off, a
 * request above 64 KiB is the request rounded to 256 bytes; turned on
 * after creation, the cache's sizes apply from then on. */
Test(tc_sizes, the_attribute_turns_the_cache_sizes_on_and_off) {
  tp_pool *pool = tc_pool(tp_host_space(), 0);
  tp_pool *def = NULL;
  ct_ok(tp_pool_create(tp_host_space(), NULL, &def));
  cr_expect_eq(attr(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES), 0);
  cr_expect_eq(attr(def, TP_POOL_ATTR_THREAD_CACHE_BYTES), 0,
               "the default is not 0 (off)");
  void *p = alloc_ok(pool, 65537, NULL);
  void *d = alloc_ok(def, 65537, NULL);
  cr_expect_eq(usable(pool, p), 65792);
  cr_expect_eq(usable(def, d), 65792);
  ct_ok(tp_pool_free(def, d, NULL));
  ct_ok(tp_pool_destroy(def));

  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES,
                              TP_POOL_THREAD_CACHE_DEFAULT));
  cr_expect_eq(attr(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES),
               TP_POOL_THREAD_CACHE_DEFAULT);
  cr_expect_eq(usable(pool, p), 65792, "a live block changed its size");
  void *q = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, q), 72 * KiB, "caches turned on: 72 KiB");
  ct_ok(tp_pool_free(pool, q, NULL));
  ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0));
  cr_expect_eq(attr(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES), 0);
  q = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, q), 65792, "caches turned off: the engine's");
  ct_ok(tp_pool_free(pool, q, NULL));
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "A size whose block would be larger than thread_cache_bytes ...
 * is the engine's"; design.md: "a size whose block would be larger than
 * the budget ... goes to the engine instead". */
Test(tc_sizes, a_budget_smaller_than_the_block_goes_to_the_engine) {
  tp_pool *pool = tc_pool(tp_host_space(), 100 * KiB);
  void *a = alloc_ok(pool, 95000, NULL); /* 96 KiB <= 100 KiB: the cache */
  void *b = alloc_ok(pool, 99000, NULL); /* 104 KiB > 100 KiB: the engine */
  cr_expect_eq(usable(pool, a), 96 * KiB);
  cr_expect_eq(usable(pool, b), round256(99000),
               "a block larger than the budget came from the cache (%zu)",
               usable(pool, b));
  ct_ok(tp_pool_free(pool, b, NULL));
  tp_pool_stats s = ct_stats(pool);
  cr_expect_eq(s.thread_cached_blocks, 0, "a block over the budget parked");
  ct_ok(tp_pool_free(pool, a, NULL));
  s = ct_stats(pool);
  cr_expect_eq(s.thread_cached_blocks, 1, "the 96 KiB block was not parked");
  cr_expect_eq(s.thread_cached_bytes, 96 * KiB);
  ct_ok(tp_pool_destroy(pool));

  /* A 64 KiB budget: 64 KiB + 1 would take a 72 KiB block. */
  pool = tc_pool(tp_host_space(), 64 * KiB);
  a = alloc_ok(pool, 65537, NULL);
  cr_expect_eq(usable(pool, a), 65792);
  b = alloc_ok(pool, 60000, NULL);
  cr_expect_eq(usable(pool, b), round256(60000));
  ct_ok(tp_pool_free(pool, a, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  s = ct_stats(pool);
  cr_expect_eq(s.thread_cached_blocks, 1, "60000 bytes fit the budget");
  cr_expect_eq(s.thread_cached_bytes, round256(60000));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "A size whose block would be ... oversize, is the engine's";
 * an oversize block is "the oversize segment holding it". With the
 * threshold at 128 KiB: 100000 bytes take a 104 KiB cache block; 130000
 * bytes are below the threshold but their cache block (144 KiB) would not
 * be, so they are the engine's, rounded to 256; 140000 bytes get a segment
 * each. Neither of the last two is parked. */
Test(tc_sizes, the_oversize_threshold_makes_a_size_the_engines) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = tc_config(TP_POOL_THREAD_CACHE_DEFAULT);
  c.oversize_threshold = 128 * KiB;
  tp_pool *pool = tc_pool_with(&s.space, &c);
  void *a = alloc_ok(pool, 100000, NULL);
  cr_expect_eq(usable(pool, a), 104 * KiB);
  void *b = alloc_ok(pool, 130000, NULL);
  cr_expect_eq(usable(pool, b), round256(130000),
               "130000 bytes: usable %zu (a cache block at the threshold?)",
               usable(pool, b));
  tp_pool_stats before = ct_stats(pool);
  void *o = alloc_ok(pool, 140000, NULL);
  tp_pool_stats after = ct_stats(pool);
  cr_expect_eq(after.segments, before.segments + 1, "no segment of its own");
  cr_expect_eq(usable(pool, o), after.reserved_bytes - before.reserved_bytes,
               "usable %zu is not its segment", usable(pool, o));
  ct_ok(tp_pool_free(pool, o, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.thread_cached_blocks, 0, "an engine's size was parked");
  ct_ok(tp_pool_free(pool, a, NULL));
  t = ct_stats(pool);
  cr_expect_eq(t.thread_cached_blocks, 1);
  cr_expect_eq(t.thread_cached_bytes, 104 * KiB);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* The same rule after creation (TP_POOL_ATTR_OVERSIZE_THRESHOLD is "rw"
 * and every attribute "Applies at once"): once 200000 bytes are oversize,
 * a request of that size gets a segment of its own, even though a 208 KiB
 * block of the caller's cache was parked for it. */
Test(tc_sizes, lowering_the_oversize_threshold_applies_to_parked_sizes) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  void *a = alloc_ok(pool, 200000, NULL);
  cr_expect_eq(usable(pool, a), 208 * KiB);
  ct_ok(tp_pool_free(pool, a, NULL));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 1);
  ct_ok(
      tp_pool_set_attribute(pool, TP_POOL_ATTR_OVERSIZE_THRESHOLD, 128 * KiB));
  tp_pool_stats before = ct_stats(pool);
  void *o = alloc_ok(pool, 200000, NULL);
  tp_pool_stats after = ct_stats(pool);
  cr_expect_eq(after.segments, before.segments + 1,
               "200000 bytes (now oversize) did not get a segment: usable "
               "%zu",
               usable(pool, o));
  cr_expect_eq(usable(pool, o), after.reserved_bytes - before.reserved_bytes);
  ct_ok(tp_pool_free(pool, o, NULL));
  cr_expect_eq(ct_stats(pool).thread_cached_blocks, 0,
               "an oversize block is parked");
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* ---- Statistics --------------------------------------------------------- */

/* design.md: "Statistics are exact on read: tp_pool_get_stats stops the
 * caches ... and adds their counters (allocations, frees, bytes, hits) to
 * the engine's; parked blocks count as cached, not live
 * (thread_cached_blocks and thread_cached_bytes say how many)". pool.h:
 * bytes_allocated is the "sum of requested bytes", live_bytes the "usable
 * bytes of live blocks". A LIFO per size: a freed block serves the next
 * request of its size. */
Test(tc_stats, one_thread_counts_are_exact) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  void *a = alloc_ok(pool, 1000, NULL); /* a miss: the first segment */
  ct_ok(tp_pool_free(pool, a, NULL));   /* parked */
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.allocations, 1);
  cr_expect_eq(t.deallocations, 1);
  cr_expect_eq(t.live_blocks, 0);
  cr_expect_eq(t.live_bytes, 0, "a parked block counts as live");
  cr_expect_eq(t.requested_bytes, 0);
  cr_expect_eq(t.thread_cached_blocks, 1);
  cr_expect_eq(t.thread_cached_bytes, 1024);
  cr_expect_geq(t.cached_blocks, t.thread_cached_blocks);
  cr_expect_geq(t.cached_bytes, t.thread_cached_bytes);
  cr_expect_eq(t.reserved_bytes, (uint64_t)s.held);
  ct_expect_stats_consistent(&t);

  void *a2 = alloc_ok(pool, 900, NULL); /* the parked block: a hit */
  cr_expect_eq(a2, a, "the parked block of that size was not reused");
  void *b = alloc_ok(pool, 65537, NULL);
  t = ct_stats(pool);
  cr_expect_eq(t.allocations, 3);
  cr_expect_eq(t.deallocations, 1);
  cr_expect_eq(t.bytes_allocated, 1000 + 900 + 65537);
  cr_expect_eq(t.bytes_freed, 1000);
  cr_expect_eq(t.misses, 1, "only the first allocation took a segment");
  cr_expect_eq(t.hits, 2);
  cr_expect_eq(t.live_blocks, 2);
  cr_expect_eq(t.live_bytes, 1024 + 72 * KiB);
  cr_expect_eq(t.requested_bytes, 900 + 65537);
  cr_expect_eq(t.requested_bytes_peak, 900 + 65537);
  cr_expect_eq(t.thread_cached_blocks, 0);
  cr_expect_eq(t.thread_cached_bytes, 0);
  cr_expect_eq(t.upstream_gets, 1);
  cr_expect_eq(t.failures, 0);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_free(pool, a2, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  t = ct_stats(pool);
  cr_expect_eq(t.deallocations, 3);
  cr_expect_eq(t.bytes_freed, 1000 + 900 + 65537);
  cr_expect_eq(t.live_blocks, 0);
  cr_expect_eq(t.live_bytes, 0);
  cr_expect_eq(t.thread_cached_blocks, 2);
  cr_expect_eq(t.thread_cached_bytes, 1024 + 72 * KiB);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* The same exactness along a longer sequence of sizes up to 300 KB, both
 * streams, with blocks parked and taken back: live blocks and bytes are
 * those the caller holds (their tp_pool_block_size), requested bytes what
 * it asked for, and the parked ones are part of the cache, within the
 * thread's budget (design.md: "up to thread_cache_bytes of the pool's
 * memory parked"). */
Test(tc_stats, live_and_requested_bytes_are_exact_with_parked_blocks) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  enum { SLOTS = 48 };
  void *p[SLOTS] = {0};
  size_t req[SLOTS] = {0};
  tp_stream str[SLOTS];
  uint64_t allocs = 0, frees = 0, bytes_in = 0, bytes_out = 0;
  unsigned x = 12345;
  for (int step = 0; step < 4000; step++) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 8) % SLOTS);
    if (p[k]) {
      ct_ok(tp_pool_free(pool, p[k], str[k]));
      frees++;
      bytes_out += req[k];
      p[k] = NULL;
    } else {
      unsigned r = (x >> 16) % 16;
      req[k] = r < 10   ? 1 + (x >> 4) % 4096
               : r < 14 ? 1 + (x >> 3) % (256 * KiB)
                        : 1 + (x >> 2) % (300 * KiB);
      str[k] = (r % 5 == 0) ? ct_stream(1) : NULL;
      p[k] = alloc_ok(pool, req[k], str[k]);
      allocs++;
      bytes_in += req[k];
    }
    if (step % 500 == 499) {
      uint64_t live = 0, live_bytes = 0, requested = 0;
      for (int i = 0; i < SLOTS; i++)
        if (p[i]) {
          live++;
          live_bytes += usable(pool, p[i]);
          requested += req[i];
        }
      tp_pool_stats s = ct_stats(pool);
      cr_expect_eq(s.allocations, allocs, "step %d", step);
      cr_expect_eq(s.deallocations, frees, "step %d", step);
      cr_expect_eq(s.bytes_allocated, bytes_in, "step %d", step);
      cr_expect_eq(s.bytes_freed, bytes_out, "step %d", step);
      cr_expect_eq(s.live_blocks, live, "step %d", step);
      cr_expect_eq(s.live_bytes, live_bytes, "step %d: live %llu, held %llu",
                   step, (unsigned long long)s.live_bytes,
                   (unsigned long long)live_bytes);
      cr_expect_eq(s.requested_bytes, requested, "step %d", step);
      cr_expect_leq(s.thread_cached_blocks, s.cached_blocks);
      cr_expect_leq(s.thread_cached_bytes, s.cached_bytes);
      cr_expect_leq(s.thread_cached_bytes, TP_POOL_THREAD_CACHE_DEFAULT,
                    "one thread parked %llu bytes",
                    (unsigned long long)s.thread_cached_bytes);
      cr_expect_eq(s.failures, 0);
      ct_expect_stats_consistent(&s);
    }
  }
  for (int i = 0; i < SLOTS; i++)
    if (p[i])
      ct_ok(tp_pool_free(pool, p[i], str[i]));
  ct_ok(tp_pool_destroy(pool));
}

/* One thread: warm the caches (every size parked), restart the peaks, then
 * hold and drop blocks served from the parked ones. Returns the figures
 * and the most the caller held (requested and usable bytes). */
typedef struct peak_run {
  tp_pool_stats s;
  uint64_t peak, peak_usable, held;
  uint64_t attr_live_peak, attr_live;
} peak_run;

/* `via_attribute`: restart the live peak with TP_POOL_ATTR_LIVE_BYTES_PEAK
 * set to 0 ("reset to current") instead of tp_pool_reset_peaks. */
static peak_run peak_scenario(bool via_attribute) {
  peak_run r = {0};
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  size_t sizes[] = {1000, 3000, 70000, 5000, 200000, 256};
  void *p[6];
  uint64_t held_usable = 0;
  for (int i = 0; i < 6; i++)
    p[i] = alloc_ok(pool, sizes[i], NULL);
  for (int i = 0; i < 6; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  if (via_attribute)
    ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK, 0));
  else
    ct_ok(tp_pool_reset_peaks(pool));
  tp_pool_stats s = ct_stats(pool);
  if (!via_attribute)
    cr_expect_eq(s.requested_bytes_peak, 0, "reset with nothing requested");
  cr_expect_eq(s.live_bytes, 0);
  /* Hold 1000+3000+70000, drop 3000, then 5000+200000, drop 70000...
   * (~j: free block j). */
  int order[] = {0, 1, 2, ~1, 3, 4, ~2, 5, ~0};
  bool live[6] = {false};
  for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
    int i = order[k];
    if (i >= 0) {
      p[i] = alloc_ok(pool, sizes[i], NULL);
      live[i] = true;
      r.held += sizes[i];
      held_usable += usable(pool, p[i]);
    } else {
      int j = ~i;
      held_usable -= usable(pool, p[j]);
      ct_ok(tp_pool_free(pool, p[j], NULL));
      live[j] = false;
      r.held -= sizes[j];
    }
    if (r.held > r.peak)
      r.peak = r.held;
    if (held_usable > r.peak_usable)
      r.peak_usable = held_usable;
  }
  r.attr_live_peak = attr(pool, TP_POOL_ATTR_LIVE_BYTES_PEAK);
  r.attr_live = attr(pool, TP_POOL_ATTR_LIVE_BYTES);
  r.s = ct_stats(pool);
  for (int i = 0; i < 6; i++)
    if (live[i])
      ct_ok(tp_pool_free(pool, p[i], NULL));
  ct_ok(tp_pool_reset_peaks(pool));
  s = ct_stats(pool);
  cr_expect_eq(s.requested_bytes_peak, 0);
  /* design.md: a reset "restarts it from the engine's live bytes, parked
   * blocks included". */
  cr_expect_eq(s.live_bytes_peak, s.live_bytes + s.thread_cached_bytes);
  ct_ok(tp_pool_destroy(pool));
  return r;
}

/* design.md: "requested_bytes_peak is exact on one thread"; pool.h's
 * tp_pool_reset_peaks: "peaks restart from the current figures". */
Test(tc_stats, requested_peak_is_exact_on_one_thread) {
  peak_run r = peak_scenario(false);
  cr_expect_eq(r.s.requested_bytes, r.held);
  cr_expect_eq(r.s.requested_bytes_peak, r.peak, "peak %llu, callers held %llu",
               (unsigned long long)r.s.requested_bytes_peak,
               (unsigned long long)r.peak);
}

/* design.md: "requested_bytes_peak is exact on one thread", and "Both are
 * exact with thread_cache_bytes = 0". Another thread's cache handed out
 * blocks that stay live; then one thread alone reaches a peak through the
 * engine (blocks above the caches' sizes), frees one, and reads: the peak
 * counts the other thread's blocks, whether that thread exited, its caches
 * were turned off, or the peaks were reset in between. */
typedef enum { PEAK_AFTER_EXIT, PEAK_CACHES_OFF, PEAK_AFTER_RESET } peak_case;

static void peak_over_another_threads_blocks(peak_case c) {
  tp_pool *pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  enum { KEPT = 16, BIG = 8 };
  void *kept[KEPT], *big[BIG];
  uint64_t held = 0;
  worker w;
  worker_start(&w);
  for (int i = 0; i < KEPT; i++) {
    kept[i] = w_alloc(&w, pool, 1000 + 37 * (size_t)i, NULL);
    held += 1000 + 37 * (uint64_t)i;
  }
  if (c == PEAK_CACHES_OFF)
    ct_ok(tp_pool_set_attribute(pool, TP_POOL_ATTR_THREAD_CACHE_BYTES, 0));
  else
    worker_stop(&w);
  if (c == PEAK_AFTER_RESET)
    ct_ok(tp_pool_reset_peaks(pool));
  for (int i = 0; i < BIG; i++)
    big[i] = alloc_ok(pool, 300000, NULL); /* above the caches' sizes */
  uint64_t peak = held + BIG * (uint64_t)300000;
  ct_ok(tp_pool_free(pool, big[BIG - 1], NULL));
  tp_pool_stats s = ct_stats(pool);
  cr_expect_eq(s.requested_bytes, peak - 300000);
  cr_expect_eq(s.requested_bytes_peak, peak,
               "case %d: peak %llu, callers held %llu at most", (int)c,
               (unsigned long long)s.requested_bytes_peak,
               (unsigned long long)peak);
  if (c == PEAK_CACHES_OFF)
    worker_stop(&w);
  for (int i = 0; i < BIG - 1; i++)
    ct_ok(tp_pool_free(pool, big[i], NULL));
  for (int i = 0; i < KEPT; i++)
    ct_ok(tp_pool_free(pool, kept[i], NULL));
  ct_ok(tp_pool_destroy(pool));
}

Test(tc_stats, one_threads_peak_counts_an_exited_threads_blocks) {
  peak_over_another_threads_blocks(PEAK_AFTER_EXIT);
}

Test(tc_stats, one_threads_peak_counts_blocks_of_caches_turned_off) {
  peak_over_another_threads_blocks(PEAK_CACHES_OFF);
}

Test(tc_stats, a_reset_peak_counts_an_exited_threads_blocks) {
  peak_over_another_threads_blocks(PEAK_AFTER_RESET);
}

/* design.md: live_bytes_peak "counts parked blocks as live (the engine's
 * view), so it may exceed what callers held by what was parked": it may be
 * more than the usable bytes callers held at once, never less. */
static void expect_live_peak_covers_callers(const peak_run *r) {
  cr_expect_eq(r->attr_live, r->s.live_bytes,
               "TP_POOL_ATTR_LIVE_BYTES %llu, statistics %llu",
               (unsigned long long)r->attr_live,
               (unsigned long long)r->s.live_bytes);
  cr_expect_geq(r->attr_live_peak, r->attr_live,
                "TP_POOL_ATTR_LIVE_BYTES_PEAK %llu below LIVE_BYTES %llu",
                (unsigned long long)r->attr_live_peak,
                (unsigned long long)r->attr_live);
  cr_expect_geq(r->s.live_bytes_peak, r->peak_usable,
                "live_bytes_peak %llu, callers held %llu usable bytes",
                (unsigned long long)r->s.live_bytes_peak,
                (unsigned long long)r->peak_usable);
  cr_expect_geq(r->attr_live_peak, r->peak_usable,
                "TP_POOL_ATTR_LIVE_BYTES_PEAK %llu, callers held %llu",
                (unsigned long long)r->attr_live_peak,
                (unsigned long long)r->peak_usable);
}

Test(tc_stats, live_peak_is_never_below_what_callers_held) {
  peak_run r = peak_scenario(false);
  expect_live_peak_covers_callers(&r);
}

/* The same, the peak restarted through the attribute ("set 0: reset to
 * current"). */
Test(tc_stats, live_peak_reset_by_attribute_is_never_below_callers) {
  peak_run r = peak_scenario(true);
  expect_live_peak_covers_callers(&r);
}

/* Several threads, each with its own cache, stopped between steps: the
 * statistics are exact while they hold parked blocks (design.md,
 * "Statistics are exact on read"), when their blocks were freed on other
 * threads (the inboxes are taken back on read), and after they exit (their
 * counters go to the pool's, their caches are given back). */
Test(tc_stats, several_threads_counts_are_exact) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  enum { T = 4, K = 12 };
  worker w[T];
  void *p[T][K];
  size_t req[T][K];
  uint64_t bytes_in = 0, bytes_out = 0, live_usable = 0, live_req = 0;
  for (int t = 0; t < T; t++) {
    worker_start(&w[t]);
    for (int k = 0; k < K; k++) {
      req[t][k] = (size_t)(1 + (t * 7919 + k * 104729) % (250 * 1000));
      p[t][k] = w_alloc(&w[t], pool, req[t][k], NULL);
      bytes_in += req[t][k];
    }
    /* Each frees its even blocks itself (parked). */
    for (int k = 0; k < K; k += 2) {
      w_free_ok(&w[t], pool, p[t][k]);
      bytes_out += req[t][k];
    }
  }
  for (int t = 0; t < T; t++)
    for (int k = 1; k < K; k += 2) {
      live_usable += usable(pool, p[t][k]);
      live_req += req[t][k];
    }
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.allocations, T * K);
  cr_expect_eq(st.deallocations, T * K / 2);
  cr_expect_eq(st.bytes_allocated, bytes_in);
  cr_expect_eq(st.bytes_freed, bytes_out);
  cr_expect_eq(st.live_blocks, T * K / 2);
  cr_expect_eq(st.live_bytes, live_usable);
  cr_expect_eq(st.requested_bytes, live_req);
  cr_expect_gt(st.thread_cached_blocks, 0, "nothing parked");
  cr_expect_leq(st.thread_cached_bytes, T * TP_POOL_THREAD_CACHE_DEFAULT);
  cr_expect_eq(st.reserved_bytes, (uint64_t)s.held);
  ct_expect_stats_consistent(&st);
  /* The attributes read the same byte counters (the threads are idle). */
  cr_expect_eq(attr(pool, TP_POOL_ATTR_LIVE_BYTES), st.live_bytes);
  cr_expect_eq(attr(pool, TP_POOL_ATTR_CACHED_BYTES), st.cached_bytes);
  cr_expect_eq(attr(pool, TP_POOL_ATTR_RESERVED_BYTES), st.reserved_bytes);

  /* The odd blocks are freed by the next thread (not their allocator). */
  for (int t = 0; t < T; t++)
    for (int k = 1; k < K; k += 2) {
      w_free_ok(&w[(t + 1) % T], pool, p[t][k]);
      bytes_out += req[t][k];
    }
  st = ct_stats(pool);
  cr_expect_eq(st.allocations, T * K);
  cr_expect_eq(st.deallocations, T * K);
  cr_expect_eq(st.bytes_freed, bytes_out);
  cr_expect_eq(st.live_blocks, 0);
  cr_expect_eq(st.live_bytes, 0);
  cr_expect_eq(st.requested_bytes, 0);
  cr_expect_eq(st.failures, 0);
  ct_expect_stats_consistent(&st);

  for (int t = 0; t < T; t++)
    worker_stop(&w[t]);
  st = ct_stats(pool);
  cr_expect_eq(st.allocations, T * K, "an exited thread's counts were lost");
  cr_expect_eq(st.deallocations, T * K);
  cr_expect_eq(st.bytes_allocated, bytes_in);
  cr_expect_eq(st.thread_cached_blocks, 0, "exited threads still park");
  cr_expect_eq(st.thread_cached_bytes, 0);
  cr_expect_eq(st.cached_bytes, st.reserved_bytes);
  ct_expect_stats_consistent(&st);
  ct_ok(tp_pool_trim(pool, 0));
  cr_expect_eq(s.held, 0, "trim could not give everything back");
  ct_ok(tp_pool_destroy(pool));
}

/* README: "The statistics count parked blocks as cached"; design.md:
 * "A thread that exits gives its caches back (a pthread_key_t destructor;
 * its counters go to the pool's)". */
static void *alloc_free_loop(void *arg) {
  tp_pool *pool = arg;
  for (int i = 0; i < 300; i++) {
    void *p = NULL, *q = NULL;
    if (tp_pool_alloc(pool, 100 + (size_t)(i % 3) * 5000, NULL, &p) ||
        tp_pool_alloc(pool, 70000, NULL, &q))
      return (void *)1;
    ((char *)p)[0] = 1;
    if (tp_pool_free(pool, q, NULL) || tp_pool_free(pool, p, NULL))
      return (void *)1;
  }
  return NULL;
}

Test(tc_stats, thread_exit_gives_the_cache_and_its_counts_back) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = tc_pool(&s.space, TP_POOL_THREAD_CACHE_DEFAULT);
  uint64_t bytes = 0;
  for (int i = 0; i < 300; i++)
    bytes += 100 + (size_t)(i % 3) * 5000 + 70000;
  for (int round = 1; round <= 3; round++) {
    pthread_t t;
    void *ret = (void *)2;
    cr_assert_eq(pthread_create(&t, NULL, alloc_free_loop, pool), 0);
    pthread_join(t, &ret);
    cr_expect_null(ret, "a call failed on the thread");
    tp_pool_stats st = ct_stats(pool);
    cr_expect_eq(st.allocations, (uint64_t)round * 600);
    cr_expect_eq(st.deallocations, (uint64_t)round * 600);
    cr_expect_eq(st.bytes_allocated, round * bytes);
    cr_expect_eq(st.bytes_freed, round * bytes);
    cr_expect_eq(st.live_blocks, 0);
    cr_expect_eq(st.thread_cached_blocks, 0, "an exited thread still parks");
    cr_expect_eq(st.thread_cached_bytes, 0);
    cr_expect_eq(st.cached_bytes, st.reserved_bytes);
    ct_expect_stats_consistent(&st);
  }
  /* Given back to the engine: whole free segments trim gives back. */
  ct_ok(tp_pool_trim(pool, 0));
  cr_expect_eq(s.held, 0);
  ct_ok(tp_pool_destroy(pool));
}

/* api.md: tp_pool_get_stats is "a consistent snapshot taken under the lock
 * with every thread cache stopped". While four threads allocate, free each
 * other's blocks and check their contents, every snapshot keeps pool.h's
 * identities, and no block is ever handed to two callers. */
typedef struct churn_shared {
  tp_pool *pool;
  pthread_mutex_t mu;
  void *ring[64];
  size_t ring_len[64];
  unsigned ring_seed[64];
  int head, count;
} churn_shared;

typedef struct churn_arg {
  churn_shared *sh;
  int id;
  int bad;
  uint64_t allocs, frees;
} churn_arg;

/* Both ends of a block (the whole of a small one). */
static void churn_fill(void *p, size_t n, unsigned seed) {
  if (n <= 1024) {
    ct_fill(p, n, seed);
    return;
  }
  ct_fill(p, 512, seed);
  ct_fill((char *)p + n - 512, 512, seed + 1);
}

static bool churn_check(const void *p, size_t n, unsigned seed) {
  if (n <= 1024)
    return ct_check(p, n, seed);
  return ct_check(p, 512, seed) &&
         ct_check((const char *)p + n - 512, 512, seed + 1);
}

static void *churn(void *arg_) {
  churn_arg *a = arg_;
  churn_shared *sh = a->sh;
  unsigned x = (unsigned)a->id * 2654435761u + 1;
  for (int i = 0; i < 6000; i++) {
    x = x * 1103515245u + 12345u;
    size_t n =
        (x >> 20) % 4 == 0 ? 1 + (x >> 6) % (256 * KiB) : 1 + (x >> 6) % 8192;
    void *p = NULL;
    if (tp_pool_alloc(sh->pool, n, NULL, &p) != TP_SUCCESS) {
      a->bad++;
      continue;
    }
    a->allocs++;
    unsigned seed = (unsigned)(a->id * 100000 + i);
    churn_fill(p, n, seed);
    void *victim = NULL;
    size_t vn = 0;
    unsigned vseed = 0;
    pthread_mutex_lock(&sh->mu);
    if (sh->count == 64) {
      int k = sh->head;
      victim = sh->ring[k];
      vn = sh->ring_len[k];
      vseed = sh->ring_seed[k];
      sh->head = (k + 1) % 64;
      sh->count--;
    }
    int slot = (sh->head + sh->count) % 64;
    sh->ring[slot] = p;
    sh->ring_len[slot] = n;
    sh->ring_seed[slot] = seed;
    sh->count++;
    pthread_mutex_unlock(&sh->mu);
    if (victim) {
      if (!churn_check(victim, vn, vseed))
        a->bad++;
      if (tp_pool_free(sh->pool, victim, NULL) != TP_SUCCESS)
        a->bad++;
      else
        a->frees++;
    }
  }
  return NULL;
}

Test(tc_stats, snapshots_are_consistent_while_threads_churn) {
  churn_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.pool = tc_pool(tp_host_space(), TP_POOL_THREAD_CACHE_DEFAULT);
  pthread_mutex_init(&sh.mu, NULL);
  enum { T = 4 };
  pthread_t t[T];
  churn_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (churn_arg){&sh, i + 1, 0, 0, 0};
    cr_assert_eq(pthread_create(&t[i], NULL, churn, &args[i]), 0);
  }
  int bad_snapshots = 0;
  for (int i = 0; i < 300; i++) {
    tp_pool_stats s = TP_POOL_STATS_INIT;
    ct_ok(tp_pool_get_stats(sh.pool, &s));
    if (s.reserved_bytes != s.live_bytes + s.cached_bytes ||
        s.hits + s.misses != s.allocations ||
        s.allocations - s.deallocations != s.live_blocks ||
        s.bytes_allocated - s.bytes_freed != s.requested_bytes ||
        s.requested_bytes > s.live_bytes ||
        s.thread_cached_bytes > s.cached_bytes ||
        s.thread_cached_blocks > s.cached_blocks ||
        s.thread_cached_bytes > (T + 1) * TP_POOL_THREAD_CACHE_DEFAULT)
      bad_snapshots++;
    nanosleep(&(struct timespec){0, 200000}, NULL);
  }
  for (int i = 0; i < T; i++)
    pthread_join(t[i], NULL);
  cr_expect_eq(bad_snapshots, 0, "%d of 300 snapshots broke an identity",
               bad_snapshots);
  uint64_t allocs = 0, frees = 0;
  for (int i = 0; i < T; i++) {
    cr_expect_eq(args[i].bad, 0, "thread %d saw %d problems", i, args[i].bad);
    allocs += args[i].allocs;
    frees += args[i].frees;
  }
  tp_pool_stats s = ct_stats(sh.pool);
  cr_expect_eq(s.allocations, allocs);
  cr_expect_eq(s.deallocations, frees);
  cr_expect_eq(s.live_blocks, (uint64_t)sh.count);
  cr_expect_eq(s.failures, 0);
  cr_expect_eq(s.thread_cached_blocks, 0, "the threads exited");
  ct_expect_stats_consistent(&s);
  for (int k = 0; k < sh.count; k++)
    ct_ok(tp_pool_free(sh.pool, sh.ring[(sh.head + k) % 64], NULL));
  ct_ok(tp_pool_destroy(sh.pool));
  pthread_mutex_destroy(&sh.mu);
}
