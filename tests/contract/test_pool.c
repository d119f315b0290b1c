/* tensorpool/pool.h, the README's failure table and docs/design.md's pool
 * engine, checked as a user sees them: statuses, messages, statistics and
 * what the pool asks of a space the user fills in. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contract.h"

/* pool.h does not say what a failing call leaves in *out; it must never be
 * a pointer the caller could use: either untouched or NULL. */
#define expect_no_result(out, sentinel)                                        \
  cr_expect((out) == (sentinel) || (out) == NULL,                              \
            "a failed call left a pointer in " #out)

static tp_pool *make_pool(const tp_space *space, size_t limit,
                          const char *name) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = limit;
  c.name = name;
  tp_pool *pool = NULL;
  tp_status st = tp_pool_create(space, &c, &pool);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_create: %s", tp_last_error());
  cr_assert_not_null(pool);
  return pool;
}

static void *alloc_ok(tp_pool *pool, size_t bytes, tp_stream stream) {
  void *p = NULL;
  tp_status st = tp_pool_alloc(pool, bytes, stream, &p);
  cr_assert_eq(st, TP_SUCCESS, "tp_pool_alloc(%zu): %s", bytes,
               tp_last_error());
  cr_assert_not_null(p);
  return p;
}

/* ---- The README's table: status, message, and nothing lost ------------- */

/* Three live blocks with known contents; each bad call must leave them and
 * every statistic but `failures` as they were. */
typedef struct world {
  tp_pool *pool;
  void *blocks[3];
  size_t sizes[3];
  tp_pool_stats before;
} world;

static void world_make(world *w, size_t limit) {
  w->pool = make_pool(tp_host_space(), limit, "table");
  size_t sizes[3] = {1000, 5000, 70000};
  for (int i = 0; i < 3; i++) {
    w->sizes[i] = sizes[i];
    w->blocks[i] = alloc_ok(w->pool, sizes[i], NULL);
    ct_fill(w->blocks[i], sizes[i], (unsigned)i);
  }
  w->before = ct_stats(w->pool);
}

/* After one refused call: one more failure, nothing else changed. */
static void world_expect_intact(world *w, uint64_t new_failures) {
  tp_pool_stats now = ct_stats(w->pool);
  ct_expect_stats_same_but_failures(&w->before, &now);
  cr_expect_eq(now.failures, w->before.failures + new_failures);
  for (int i = 0; i < 3; i++) {
    cr_expect(ct_check(w->blocks[i], w->sizes[i], (unsigned)i),
              "block %d was changed", i);
    size_t usable = 0;
    ct_ok(tp_pool_block_size(w->pool, w->blocks[i], &usable));
    cr_expect_geq(usable, w->sizes[i]);
  }
  w->before = now;
}

static void world_end(world *w) {
  for (int i = 0; i < 3; i++)
    ct_ok(tp_pool_free(w->pool, w->blocks[i], NULL));
  ct_ok(tp_pool_destroy(w->pool));
}

Test(pool_readme_table, size_zero) {
  world w;
  world_make(&w, TP_UNLIMITED);
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(w.pool, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "size 0 requested");
  expect_no_result(p, (void *)0x5);
  world_expect_intact(&w, 1);
  world_end(&w);
}

Test(pool_readme_table, size_near_size_max_overflows) {
  world w;
  world_make(&w, TP_UNLIMITED);
  void *p = (void *)0x5;
  size_t huge[] = {SIZE_MAX, SIZE_MAX - 255, ((size_t)1 << 63) + 1};
  for (size_t i = 0; i < 3; i++) {
    ct_expect_fail(tp_pool_alloc(w.pool, huge[i], NULL, &p), TP_ERR_OVERFLOW,
                   "cannot be rounded to a size class (largest is "
                   "9223372036854775808 bytes)");
    expect_no_result(p, (void *)0x5);
    world_expect_intact(&w, 1);
  }
  world_end(&w);
}

Test(pool_readme_table, pointer_of_another_pool_or_of_malloc) {
  world w;
  world_make(&w, TP_UNLIMITED);
  tp_pool *other = make_pool(tp_host_space(), TP_UNLIMITED, "other");
  void *theirs = alloc_ok(other, 1000, NULL);
  void *mine = malloc(4096);
  ct_expect_fail(tp_pool_free(w.pool, theirs, NULL), TP_ERR_INVALID_POINTER,
                 "was not allocated by this pool (a foreign pointer, or one "
                 "freed and already released)");
  world_expect_intact(&w, 1);
  ct_expect_fail(tp_pool_free(w.pool, mine, NULL), TP_ERR_INVALID_POINTER,
                 "was not allocated by this pool");
  world_expect_intact(&w, 1);
  /* The other pool lost nothing either. */
  ct_ok(tp_pool_free(other, theirs, NULL));
  ct_ok(tp_pool_destroy(other));
  free(mine);
  world_end(&w);
}

Test(pool_readme_table, interior_pointer) {
  world w;
  world_make(&w, TP_UNLIMITED);
  char expect[160];
  snprintf(expect, sizeof expect,
           "is an interior pointer, 300 bytes into the block at %p",
           w.blocks[1]);
  ct_expect_fail(tp_pool_free(w.pool, (char *)w.blocks[1] + 300, NULL),
                 TP_ERR_INVALID_POINTER, expect);
  world_expect_intact(&w, 1);
  /* An interior pointer is not a live block either. */
  size_t n = 7;
  ct_expect_fail(tp_pool_block_size(w.pool, (char *)w.blocks[1] + 300, &n),
                 TP_ERR_INVALID_POINTER, NULL);
  cr_expect_eq(n, 7);
  world_end(&w);
}

/* A freed block merges at once with its free neighbours (pool.h), so the
 * message names the free range that now starts at the pointer, not the
 * block's old size. */
Test(pool_readme_table, double_free) {
  world w;
  world_make(&w, TP_UNLIMITED);
  void *p = alloc_ok(w.pool, 2000, NULL);
  ct_ok(tp_pool_free(w.pool, p, NULL));
  w.before = ct_stats(w.pool);
  char expect[160];
  snprintf(expect, sizeof expect, "double free of %p (already free", p);
  ct_expect_fail(tp_pool_free(w.pool, p, NULL), TP_ERR_INVALID_POINTER, expect);
  /* The README's two forms: merged into a free range, or held by a
   * thread's cache (with thread_cache_bytes set; off by default). */
  cr_expect(strstr(tp_last_error(), "bytes starts there)") ||
                strstr(tp_last_error(), "bytes held by a thread's cache)"),
            "%s", tp_last_error());
  world_expect_intact(&w, 1);
  /* The cached block is still served once, not twice. */
  void *a = alloc_ok(w.pool, 2000, NULL);
  void *b = alloc_ok(w.pool, 2000, NULL);
  cr_expect_eq(a, p);
  cr_expect_neq(b, p);
  ct_ok(tp_pool_free(w.pool, a, NULL));
  ct_ok(tp_pool_free(w.pool, b, NULL));
  world_end(&w);
}

Test(pool_readme_table, over_the_limit) {
  world w;
  world_make(&w, (size_t)1 << 20);
  void *p = (void *)0x5;
  /* The block is the request rounded up to 256 bytes (pool.h). */
  ct_expect_fail(tp_pool_alloc(w.pool, 1000000, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "cannot serve 1000000 bytes (a block of 1000192 bytes): over "
                 "the pool's limit");
  expect_no_result(p, (void *)0x5);
  /* The figures pool.h names: live, cached, reserved bytes against the
   * limit, then the segments, the free bytes inside them and the largest
   * free block. */
  char figures[400];
  snprintf(figures, sizeof figures,
           "live %llu bytes, cached %llu bytes, reserved %llu bytes, limit "
           "1048576 bytes; %llu segments, %llu free bytes inside them "
           "(largest free block %llu bytes)",
           (unsigned long long)w.before.live_bytes,
           (unsigned long long)w.before.cached_bytes,
           (unsigned long long)w.before.reserved_bytes,
           (unsigned long long)w.before.segments,
           (unsigned long long)w.before.cached_bytes,
           (unsigned long long)w.before.largest_free_block);
  cr_expect(strstr(tp_last_error(), figures), "%s lacks %s", tp_last_error(),
            figures);
  world_expect_intact(&w, 1);
  world_end(&w);
}

Test(pool_readme_table, limit_of_zero) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.limit = 0;
  tp_pool *pool = (tp_pool *)0x5;
  ct_expect_fail(tp_pool_create(tp_host_space(), &c, &pool),
                 TP_ERR_INVALID_ARGUMENT,
                 "a limit of 0 bytes allows no allocation (use TP_UNLIMITED "
                 "for no limit)");
  expect_no_result(pool, (tp_pool *)0x5);
  /* The same limit set later is refused and changes nothing. */
  world w;
  world_make(&w, TP_UNLIMITED);
  ct_expect_fail(tp_pool_set_limit(w.pool, 0), TP_ERR_INVALID_ARGUMENT, NULL);
  world_expect_intact(&w, 0);
  world_end(&w);
}

Test(pool_readme_table, destroy_with_live_blocks) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "leaky");
  alloc_ok(pool, 1000, NULL);
  alloc_ok(pool, 2000, NULL);
  void *freed = alloc_ok(pool, 4000, NULL);
  ct_ok(tp_pool_free(pool, freed, NULL)); /* cached, not live */
  ct_expect_fail(tp_pool_destroy(pool), TP_ERR_LEAK,
                 "pool 'leaky' still had 2 live blocks (3000 bytes "
                 "requested); they were freed with the pool");
}

/* pool.h: destroy "Frees everything": with live blocks left too, every
 * byte goes back upstream and every event is destroyed. */
Test(pool_readme_table, destroy_gives_everything_back) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "all");
  void *a = alloc_ok(pool, 5000, ct_stream(1));
  void *b = alloc_ok(pool, 70000, ct_stream(2));
  alloc_ok(pool, 300, ct_stream(3));
  ct_ok(tp_pool_free(pool, a, ct_stream(1)));
  ct_ok(tp_pool_free(pool, b, ct_stream(2)));
  alloc_ok(pool, 5000, ct_stream(2)); /* a cross-stream take: an event */
  ct_expect_fail(tp_pool_destroy(pool), TP_ERR_LEAK, "2 live blocks");
  cr_expect_eq(s.held, 0, "%zu bytes were never given back", s.held);
  cr_expect_eq(s.gets, s.puts);
  cr_expect_eq(s.events_live, 0);
}

/* "Freeing NULL succeeds and does nothing, as with cudaFree." */
Test(pool_readme_table, freeing_null_does_nothing) {
  world w;
  world_make(&w, TP_UNLIMITED);
  ct_ok(tp_pool_free(w.pool, NULL, NULL));
  ct_ok(tp_pool_free(w.pool, NULL, ct_stream(3)));
  world_expect_intact(&w, 0);
  world_end(&w);
}

/* NULL handles and out-pointers (status.h: "NULL handle ... bad config"). */
Test(pool_arguments, null_handles_are_invalid_arguments) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "args");
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  tp_pool *out = NULL;
  void *p = NULL;
  size_t n = 0;
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  ct_expect_fail(tp_pool_create(NULL, &c, &out), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_create(tp_host_space(), &c, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  p = &n; /* api.md: tp_pool_alloc sets *out to NULL first */
  ct_expect_fail(tp_pool_alloc(NULL, 8, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "tp_pool_alloc");
  cr_expect_null(p, "a NULL pool: *out set to NULL all the same");
  ct_expect_fail(tp_pool_alloc(pool, 8, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_free(NULL, &n, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  /* pool.h: a NULL pool is refused, NULL `ptr` or not. */
  ct_expect_fail(tp_pool_free(NULL, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 "tp_pool_free");
  ct_expect_fail(tp_pool_forget_stream(NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_trim(NULL, 0), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_set_limit(NULL, 1), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_block_size(NULL, &n, &n), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_block_size(pool, &n, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_class_size(NULL, 8, &n), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_class_size(pool, 8, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_get_stats(NULL, &s), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_get_stats(pool, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_reset_peaks(NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pool_print_stats(NULL, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_print_stats(pool, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_raw_allocator(NULL, &raw), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pool_raw_allocator(pool, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  /* Accessors: status.h's sentinels, and no message. */
  tp_set_last_error(TP_ERR_CUDA, "marker");
  cr_expect_null(tp_pool_space(NULL));
  cr_expect_null(tp_pool_name(NULL));
  cr_expect_str_eq(tp_last_error(), "marker");
  const tp_space *sp = tp_pool_space(pool);
  cr_assert_not_null(sp);
  cr_expect_eq(sp->kind, TP_SPACE_HOST);
  cr_expect_str_eq(sp->name, "host");
  cr_expect_str_eq(tp_pool_name(pool), "args");
  ct_ok(tp_pool_destroy(NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* ---- Configuration: a versioned struct --------------------------------- */

Test(pool_config, divisions_must_be_1_2_4_8_or_16) {
  unsigned ok[] = {1, 2, 4, 8, 16}, bad[] = {0, 3, 5, 6, 12, 32, 64};
  for (size_t i = 0; i < 5; i++) {
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    c.divisions = ok[i];
    tp_pool *pool = NULL;
    ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
    ct_ok(tp_pool_destroy(pool));
  }
  for (size_t i = 0; i < 7; i++) {
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    c.divisions = bad[i];
    tp_pool *pool = (tp_pool *)0x5;
    ct_expect_fail(tp_pool_create(tp_host_space(), &c, &pool),
                   TP_ERR_INVALID_ARGUMENT, NULL);
    expect_no_result(pool, (tp_pool *)0x5);
  }
}

/* design.md: "A struct whose struct_size was never set (0) is refused with
 * TP_ERR_INVALID_ARGUMENT and a message naming its *_INIT macro." */
Test(pool_config, unset_struct_size_is_refused_naming_the_macro) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.struct_size = 0;
  tp_pool *pool = (tp_pool *)0x5;
  ct_expect_fail(tp_pool_create(tp_host_space(), &c, &pool),
                 TP_ERR_INVALID_ARGUMENT, "TP_POOL_CONFIG_INIT");
  expect_no_result(pool, (tp_pool *)0x5);

  tp_pool *p = make_pool(tp_host_space(), TP_UNLIMITED, NULL);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  s.struct_size = 0;
  ct_expect_fail(tp_pool_get_stats(p, &s), TP_ERR_INVALID_ARGUMENT,
                 "TP_POOL_STATS_INIT");
  ct_ok(tp_pool_destroy(p));
}

/* design.md: "The library reads a configuration over its own defaults ...
 * so a program built against an older header keeps working": fields past
 * the caller's struct_size are not read (a limit of 0 there would be
 * refused if it were). */
Test(pool_config, an_older_config_gets_the_defaults_past_its_size) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.struct_size = offsetof(tp_pool_config, limit);
  c.limit = 0;
  c.divisions = 3;
  c.name = (const char *)0x1; /* would crash if read */
  c.event_log_path = (const char *)0x1;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
  /* The default divisions (4): 5 units of 256 bytes round to 5. */
  size_t cls = 0;
  ct_ok(tp_pool_class_size(pool, 5 * 256 - 10, &cls));
  cr_expect_eq(cls, 5 * 256);
  void *p = alloc_ok(pool, (size_t)1 << 20, NULL);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "fills what the caller's version has": an older tp_pool_stats
 * gets its fields and nothing past them. */
Test(pool_config, an_older_stats_struct_is_written_only_as_far_as_it_goes) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, NULL);
  void *p = alloc_ok(pool, 1000, NULL);
  tp_pool_stats s;
  memset(&s, 0xAB, sizeof s);
  s.struct_size = offsetof(tp_pool_stats, hits);
  ct_ok(tp_pool_get_stats(pool, &s));
  cr_expect_eq(s.allocations, 1);
  cr_expect_eq(s.bytes_allocated, 1000);
  const unsigned char *tail = (const unsigned char *)&s.hits;
  for (size_t i = 0; i < sizeof s - offsetof(tp_pool_stats, hits); i++)
    cr_assert_eq(tail[i], 0xAB, "byte %zu past struct_size was written", i);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* space.h: "Versioned ... every entry is required." */
Test(pool_config, a_space_table_needs_its_size_and_every_entry) {
  for (int missing = -1; missing < 8; missing++) {
    static ct_space s;
    ct_space_init(&s);
    if (missing == -1)
      s.ops.struct_size = 0;
    else {
      switch (missing) {
      case 0: s.ops.get = NULL; break;
      case 1: s.ops.put = NULL; break;
      case 2: s.ops.event_create = NULL; break;
      case 3: s.ops.event_destroy = NULL; break;
      case 4: s.ops.event_record = NULL; break;
      case 5: s.ops.stream_wait = NULL; break;
      case 6: s.ops.event_query = NULL; break;
      default: s.ops.stream_sync = NULL; break;
      }
    }
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    tp_pool *pool = (tp_pool *)0x5;
    ct_expect_fail(tp_pool_create(&s.space, &c, &pool), TP_ERR_INVALID_ARGUMENT,
                   NULL);
    expect_no_result(pool, (tp_pool *)0x5);
    cr_expect_eq(s.gets, 0);
  }
}

/* ---- Size classes -------------------------------------------------------- */

/* pool.h: "geometric with `divisions` classes per power of two (waste at
 * most 1/divisions) over 256-byte units"; design.md: units 1..d each have
 * their own class, then each power-of-two range is split into d equal
 * steps. */
Test(pool_classes, the_documented_formula_for_every_divisions) {
  unsigned ds[] = {1, 2, 4, 8, 16};
  for (size_t di = 0; di < 5; di++) {
    unsigned d = ds[di];
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    c.divisions = d;
    tp_pool *pool = NULL;
    ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
    size_t prev = 0;
    for (size_t bytes = 1; bytes < ((size_t)1 << 24); bytes += bytes / 9 + 1) {
      size_t cls = 0;
      ct_ok(tp_pool_class_size(pool, bytes, &cls));
      size_t units = (bytes + 255) / 256;
      cr_assert_eq(cls % 256, 0, "d=%u bytes=%zu class=%zu", d, bytes, cls);
      cr_assert_geq(cls, bytes);
      cr_assert_leq((cls / 256 - units) * d, units,
                    "d=%u bytes=%zu: class %zu wastes more than 1/%u", d, bytes,
                    cls, d);
      cr_assert_geq(cls, prev, "classes must grow with the request");
      prev = cls;
      size_t again = 0;
      ct_ok(tp_pool_class_size(pool, cls, &again));
      cr_assert_eq(again, cls, "a class size is its own class");
    }
    /* Exactly d classes in each power-of-two range of units above d. */
    for (size_t lo = 4 * d; lo <= 4096; lo *= 2) {
      int distinct = 0;
      size_t last = 0;
      for (size_t u = lo + 1; u <= 2 * lo; u++) {
        size_t cls = 0;
        ct_ok(tp_pool_class_size(pool, u * 256, &cls));
        if (cls != last)
          distinct++;
        last = cls;
      }
      cr_expect_eq(distinct, (int)d, "d=%u: %d classes in (%zu, %zu] units", d,
                   distinct, lo, 2 * lo);
    }
    ct_ok(tp_pool_destroy(pool));
  }
}

/* design.md: "The largest class is 2^63 bytes; larger requests fail with
 * TP_ERR_OVERFLOW before any rounding can wrap." */
Test(pool_classes, the_largest_class_is_2_to_the_63) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, NULL);
  size_t cls = 0, top = (size_t)1 << 63;
  ct_ok(tp_pool_class_size(pool, top, &cls));
  cr_expect_eq(cls, top);
  ct_ok(tp_pool_class_size(pool, top - 4096, &cls));
  cr_expect_eq(cls, top);
  cls = 7;
  ct_expect_fail(tp_pool_class_size(pool, top + 1, &cls), TP_ERR_OVERFLOW,
                 "9223372036854775808");
  ct_expect_fail(tp_pool_class_size(pool, SIZE_MAX, &cls), TP_ERR_OVERFLOW,
                 NULL);
  cr_expect_eq(cls, 7);
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "A block of at least `bytes` (> 0), 256-byte aligned";
 * tp_pool_block_size is "the request rounded up to 256 bytes, or the
 * oversize segment holding it". */
Test(pool_classes, blocks_are_aligned_and_the_request_rounded_to_256) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, NULL);
  size_t sizes[] = {1,    7,     255,   256,     257,           1000,
                    4097, 65535, 65537, 1 << 20, (1 << 20) + 1, 3 << 20};
  void *ps[12];
  for (int i = 0; i < 12; i++) {
    ps[i] = alloc_ok(pool, sizes[i], ct_stream(i % 3));
    cr_expect_eq((uintptr_t)ps[i] % 256, 0, "%zu bytes at %p", sizes[i], ps[i]);
    size_t usable = 0;
    ct_ok(tp_pool_block_size(pool, ps[i], &usable));
    cr_expect_eq(usable, (sizes[i] + 255) / 256 * 256, "%zu bytes: usable %zu",
                 sizes[i], usable);
    memset(ps[i], 0x5A, usable); /* the whole usable size is writable */
  }
  for (int i = 0; i < 12; i++) {
    ct_ok(tp_pool_free(pool, ps[i], ct_stream(i % 3)));
    size_t usable = 1;
    ct_expect_fail(tp_pool_block_size(pool, ps[i], &usable),
                   TP_ERR_INVALID_POINTER, NULL);
    cr_expect_eq(usable, 1);
  }
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: requests of at least `oversize_threshold` bytes "get a segment
 * each, never split"; their usable size is that segment's, all of it
 * writable. */
Test(pool_classes, an_oversize_block_is_its_whole_segment) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.oversize_threshold = 1 << 20;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(&s.space, &c, &pool));
  size_t sizes[] = {(1 << 20) + 1, 3 << 20};
  for (int i = 0; i < 2; i++) {
    tp_pool_stats before = ct_stats(pool);
    void *p = alloc_ok(pool, sizes[i], NULL);
    cr_expect_eq((uintptr_t)p % 256, 0);
    size_t usable = 0;
    ct_ok(tp_pool_block_size(pool, p, &usable));
    tp_pool_stats after = ct_stats(pool);
    cr_expect_eq(after.segments, before.segments + 1, "a segment of its own");
    cr_expect_eq(usable, after.reserved_bytes - before.reserved_bytes,
                 "usable %zu is not its segment", usable);
    cr_expect_geq(usable, sizes[i]);
    cr_expect_eq(after.cached_bytes, before.cached_bytes, "it was split");
    memset(p, 0x5A, usable);
    ct_ok(tp_pool_free(pool, p, NULL));
  }
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* ---- Reuse and statistics ----------------------------------------------- */

/* pool.h: "A request takes the front of a free block at least as large
 * ..., and the rest stays free; a freed block merges at once with its free
 * neighbours." A freed 1 MiB block serves 600 KiB and then 400 KiB
 * side by side, and once both are freed, 1 MiB again, without going
 * upstream. */
Test(pool_reuse, a_larger_free_block_is_split_and_merged_again) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(&s.space, &c, &pool));
  void *big = alloc_ok(pool, 1 << 20, NULL);
  ct_ok(tp_pool_free(pool, big, NULL));
  cr_expect_eq(s.gets, 1);

  void *p = alloc_ok(pool, 600 << 10, NULL);
  cr_expect_eq(p, big, "the front of the free 1 MiB serves 600 KiB");
  size_t usable = 0;
  ct_ok(tp_pool_block_size(pool, p, &usable));
  cr_expect_eq(usable, 600 << 10);
  void *q = alloc_ok(pool, 400 << 10, NULL);
  cr_expect_eq(q, (char *)big + (600 << 10), "the rest serves 400 KiB");
  cr_expect_eq(s.gets, 1, "went upstream instead");
  ct_fill(p, 600 << 10, 1);
  ct_fill(q, 400 << 10, 2);
  cr_expect(ct_check(p, 600 << 10, 1), "the two blocks overlap");

  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_free(pool, q, NULL));
  void *r = alloc_ok(pool, 1 << 20, NULL);
  cr_expect_eq(r, big, "the two halves merged back into 1 MiB");
  cr_expect_eq(s.gets, 1);
  tp_pool_stats st = ct_stats(pool);
  cr_expect_eq(st.hits, 3);
  cr_expect_eq(st.misses, 1);
  cr_expect_geq(st.free_blocks_split, 2);
  cr_expect_geq(st.blocks_merged, 1);
  ct_expect_stats_consistent(&st);
  ct_ok(tp_pool_free(pool, r, NULL));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0, "the pool's destroy gave back everything");
  cr_expect_eq(s.events_live, 0, "every event created was destroyed");
}

/* pool.h: an oversize block is "reused only by requests within 1/8 of its
 * size": closer requests take it whole, smaller ones go upstream. */
Test(pool_reuse, an_oversize_block_serves_only_requests_close_to_it) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.oversize_threshold = 4 << 20;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(&s.space, &c, &pool));
  void *big = alloc_ok(pool, 8 << 20, NULL);
  ct_ok(tp_pool_free(pool, big, NULL));
  void *close = alloc_ok(pool, 7 << 20, NULL);
  cr_expect_eq(close, big, "7 MiB is within 1/8 of 8 MiB");
  cr_expect_eq(s.gets, 1);
  size_t usable = 0;
  ct_ok(tp_pool_block_size(pool, close, &usable));
  cr_expect_eq(usable, 8 << 20, "handed out whole");
  ct_ok(tp_pool_free(pool, close, NULL));
  void *far = alloc_ok(pool, 6 << 20, NULL);
  cr_expect_neq(far, big, "6 MiB would hold 2 MiB more than asked");
  cr_expect_eq(s.gets, 2);
  ct_ok(tp_pool_free(pool, far, NULL));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.held, 0);
}

/* pool.h's statistics, each counter as its comment defines it. */
Test(pool_stats, every_counter_means_what_its_comment_says) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  /* The engine's own figures (splits, merges, free segments): without the
   * thread caches, which keep freed small blocks apart (README, Threads). */
  c.thread_cache_bytes = 0;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(&s.space, &c, &pool));
  tp_pool_stats z = ct_stats(pool);
  cr_expect_eq(z.allocations + z.deallocations + z.reserved_bytes +
                   z.upstream_gets + z.failures,
               0);
  cr_expect_eq(z.hit_rate, 0.0, "hit_rate is 0 when there are none");

  /* The first takes a segment (a miss); the others are cut from free
   * bytes left in it (hits). */
  void *a = alloc_ok(pool, 1000, NULL); /* 1024 usable: a miss */
  void *b = alloc_ok(pool, 3000, NULL); /* 3072 usable: a hit */
  ct_ok(tp_pool_free(pool, a, NULL));
  void *a2 = alloc_ok(pool, 900, NULL); /* 1024 usable: a hit */
  void *bad = NULL;
  tp_pool_alloc(pool, 0, NULL, &bad);        /* a failure */
  tp_pool_free(pool, (char *)b + 256, NULL); /* a failure */
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.struct_size, sizeof t);
  cr_expect_eq(t.allocations, 3);
  cr_expect_eq(t.deallocations, 1);
  cr_expect_eq(t.bytes_allocated, 4900);
  cr_expect_eq(t.bytes_freed, 1000);
  cr_expect_eq(t.hits, 2);
  cr_expect_eq(t.misses, 1);
  cr_expect_float_eq(t.hit_rate, 2.0 / 3.0, 1e-15);
  cr_expect_eq(t.live_blocks, 2);
  cr_expect_eq(t.live_bytes, 1024 + 3072, "usable bytes of live blocks");
  cr_expect_eq(t.live_bytes_peak, 1024 + 3072);
  cr_expect_eq(t.requested_bytes, 3900);
  cr_expect_eq(t.requested_bytes_peak, 4000);
  cr_expect_eq(s.gets, 1);
  cr_expect_eq(t.upstream_gets, 1);
  cr_expect_eq(t.upstream_puts, 0);
  cr_expect_eq(t.segments, 1);
  cr_expect_eq(t.reserved_bytes, (uint64_t)s.held, "segment bytes");
  cr_expect_eq(t.reserved_bytes_peak, (uint64_t)s.held);
  cr_expect_eq(t.cached_bytes, s.held - (1024 + 3072), "free inside it");
  cr_expect_geq(t.cached_blocks, 1);
  cr_expect_leq(t.largest_free_block, t.cached_bytes);
  cr_expect_gt(t.largest_free_block, 0);
  cr_expect_eq(t.free_segments, 0, "the segment holds live blocks");
  cr_expect_eq(t.free_segment_bytes, 0);
  cr_expect_geq(t.free_blocks_split, 2, "b and a2 were cut from free bytes");
  cr_expect_eq(t.failures, 2);
  cr_expect_eq(t.releases, 0);
  ct_expect_stats_consistent(&t);

  /* reset_peaks: the peaks start again from the current values. */
  ct_ok(tp_pool_free(pool, b, NULL));
  ct_ok(tp_pool_reset_peaks(pool));
  t = ct_stats(pool);
  cr_expect_eq(t.live_bytes_peak, t.live_bytes);
  cr_expect_eq(t.requested_bytes_peak, t.requested_bytes);
  cr_expect_eq(t.reserved_bytes_peak, t.reserved_bytes);
  cr_expect_eq(t.allocations, 3, "reset_peaks resets only peaks");
  ct_ok(tp_pool_free(pool, a2, NULL));
  t = ct_stats(pool);
  cr_expect_eq(t.free_segments, 1, "everything merged into one free segment");
  cr_expect_eq(t.free_segment_bytes, (uint64_t)s.held);
  cr_expect_eq(t.cached_blocks, 1);
  cr_expect_eq(t.largest_free_block, (uint64_t)s.held);
  ct_ok(tp_pool_trim(pool, 0));
  t = ct_stats(pool);
  cr_expect_eq(t.releases, 1);
  cr_expect_eq(t.upstream_puts, 1);
  cr_expect_eq(s.puts, 1);
  cr_expect_eq(s.held, 0);
  cr_expect_eq(t.reserved_bytes, 0);
  cr_expect_eq(t.segments, 0);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_destroy(pool));
}

/* The identities (design.md) hold after any sequence of calls. */
Test(pool_stats, identities_hold_along_a_random_sequence) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_cached_bytes = 3 << 20;
  c.limit = 16 << 20;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
  void *live[64] = {0};
  size_t sizes[64] = {0};
  unsigned x = 12345;
  for (int step = 0; step < 4000; step++) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 8) % 64);
    if (live[k] != NULL) {
      cr_assert(ct_check(live[k], sizes[k], (unsigned)k));
      ct_ok(tp_pool_free(pool, live[k], ct_stream(k % 4)));
      live[k] = NULL;
    } else {
      size_t n = 1 + ((x >> 4) % (1u << (x % 19)));
      void *p = NULL;
      tp_status st = tp_pool_alloc(pool, n, ct_stream(k % 4), &p);
      if (st == TP_SUCCESS) {
        live[k] = p;
        sizes[k] = n;
        ct_fill(p, n, (unsigned)k);
      } else {
        cr_assert_eq(st, TP_ERR_OUT_OF_MEMORY, "%s", tp_last_error());
      }
    }
    if (step % 97 == 0) {
      tp_pool_stats t = ct_stats(pool);
      ct_expect_stats_consistent(&t);
      cr_assert_leq(t.reserved_bytes, 16 << 20, "over the limit");
      cr_assert_leq(t.cached_bytes, 3 << 20, "over max_cached_bytes");
    }
  }
  for (int k = 0; k < 64; k++)
    if (live[k] != NULL)
      ct_ok(tp_pool_free(pool, live[k], NULL));
  tp_pool_stats t = ct_stats(pool);
  ct_expect_stats_consistent(&t);
  cr_expect_eq(t.live_blocks, 0);
  cr_expect_eq(t.requested_bytes, 0);
  ct_ok(tp_pool_destroy(pool));
}

/* ---- Limits and bounds -------------------------------------------------- */

/* design.md: "if live bytes alone are too many, it fails without asking
 * upstream". */
Test(pool_limits, over_the_limit_never_asks_upstream) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, 1 << 20, "lim");
  void *a = alloc_ok(pool, 512 << 10, NULL);
  int gets = s.gets;
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 768 << 10, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "over the pool's limit");
  cr_expect_eq(s.gets, gets, "upstream was asked");
  expect_no_result(p, (void *)0x5);
  ct_ok(tp_pool_free(pool, a, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* The sizes of the space's puts so far, in order; their count. */
static int put_sizes(const ct_space *s, size_t *out, int cap) {
  int n = 0;
  for (int i = 0; i < s->ncalls && n < cap; i++)
    if (s->calls[i].op == CT_PUT)
      out[n++] = s->calls[i].bytes;
  return n;
}

/* Whole free segments of 10, 12 and 16 MiB (requests of at least 10 MiB
 * from a space that cannot grow segments get a segment each). */
static void three_free_segments(tp_pool *pool) {
  void *p[3] = {alloc_ok(pool, 10 << 20, NULL), alloc_ok(pool, 12 << 20, NULL),
                alloc_ok(pool, 16 << 20, NULL)};
  for (int i = 0; i < 3; i++)
    ct_ok(tp_pool_free(pool, p[i], NULL));
  tp_pool_stats t = ct_stats(pool);
  cr_assert_eq(t.free_segments, 3);
  cr_assert_eq(t.free_segment_bytes, 38 << 20);
}

/* design.md: "A request that would cross it first gives back whole free
 * segments and free tails, largest first". 20 MiB under a limit of 40 MiB
 * with 38 MiB free: the 16 and 12 MiB segments go, the 10 MiB one stays
 * (smallest first would have kept 16 MiB). */
Test(pool_limits, a_miss_releases_cached_segments_largest_first) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, 40 << 20, "lim");
  three_free_segments(pool);
  void *big = alloc_ok(pool, 20 << 20, NULL);
  tp_pool_stats t = ct_stats(pool);
  size_t puts[4];
  cr_assert_eq(put_sizes(&s, puts, 4), 2);
  cr_expect_eq(puts[0], 16 << 20);
  cr_expect_eq(puts[1], 12 << 20);
  cr_expect_eq(t.releases, 2);
  cr_expect_eq(t.cached_bytes, 10 << 20);
  cr_expect_leq(t.reserved_bytes, 40 << 20);
  cr_expect_eq(t.reserved_bytes, (uint64_t)s.held);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_free(pool, big, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: "Change the hard limit on reserved bytes; cached memory is
 * released to meet it. TP_ERR_OUT_OF_MEMORY if that is not possible (live
 * bytes, or free bytes between them, exceed it): the limit is then
 * unchanged." */
Test(pool_limits, set_limit_releases_cache_or_refuses_unchanged) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "lim");
  void *live = alloc_ok(pool, 12 << 20, NULL);
  void *cached = alloc_ok(pool, 10 << 20, NULL);
  ct_fill(live, 12 << 20, 9);
  ct_ok(tp_pool_free(pool, cached, NULL));

  ct_ok(tp_pool_set_limit(pool, 17 << 20));
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.reserved_bytes, 12 << 20);
  cr_expect_eq(s.held, 12 << 20, "the free segment went back upstream");
  cr_expect_eq(t.cached_bytes, 0);
  cr_expect_eq(t.releases, 1);
  uint64_t limit = 0;
  ct_ok(tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit));
  cr_expect_eq(limit, 17 << 20);

  /* Live bytes above it: refused, nothing changed. */
  ct_expect_fail(tp_pool_set_limit(pool, 6 << 20), TP_ERR_OUT_OF_MEMORY,
                 "more than the new limit of 6291456 bytes");
  tp_pool_stats u = ct_stats(pool);
  ct_expect_stats_same_but_failures(&t, &u);
  cr_expect(ct_check(live, 12 << 20, 9));
  ct_ok(tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit));
  cr_expect_eq(limit, 17 << 20);
  /* Unchanged: 5 MiB more still fit under the previous limit, not more. */
  void *more = alloc_ok(pool, 4 << 20, NULL);
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 2 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "over the pool's limit");
  expect_no_result(p, (void *)0x5);
  cr_expect_leq(ct_stats(pool).reserved_bytes, 17 << 20);
  ct_ok(tp_pool_set_limit(pool, TP_UNLIMITED));
  void *after = alloc_ok(pool, 2 << 20, NULL);
  ct_ok(tp_pool_free(pool, after, NULL));
  ct_ok(tp_pool_free(pool, more, NULL));
  ct_ok(tp_pool_free(pool, live, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* The other refusal pool.h names: free bytes between live blocks keep
 * their addresses, so they count against the new limit. A block of 1 MiB
 * and a freed one of 512 KiB share a segment (a space that cannot shrink
 * segments): a limit of 1.25 MiB cannot be met, and the call changes
 * nothing. */
Test(pool_limits, set_limit_refuses_when_free_bytes_between_live_stay) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "lim");
  void *live = alloc_ok(pool, 1 << 20, NULL);
  void *freed = alloc_ok(pool, 512 << 10, NULL);
  ct_fill(live, 1 << 20, 9);
  ct_ok(tp_pool_free(pool, freed, NULL));
  tp_pool_stats t = ct_stats(pool);
  cr_assert_eq(t.segments, 1, "the blocks did not share a segment");
  ct_expect_fail(tp_pool_set_limit(pool, (1 << 20) + (256 << 10)),
                 TP_ERR_OUT_OF_MEMORY, "cannot be given back");
  tp_pool_stats u = ct_stats(pool);
  ct_expect_stats_same_but_failures(&t, &u);
  uint64_t limit = 0;
  ct_ok(tp_pool_get_attribute(pool, TP_POOL_ATTR_LIMIT, &limit));
  cr_expect_eq(limit, UINT64_MAX);
  cr_expect(ct_check(live, 1 << 20, 9));
  ct_ok(tp_pool_free(pool, live, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* A refused set_limit changes nothing (design.md: it "refuses, unchanged";
 * the README: after a failure "the pool and every other block are
 * intact"), even when some cached memory could have gone: a whole free
 * segment stays when free bytes between live blocks make the limit
 * impossible anyway. */
Test(pool_limits, a_refused_set_limit_releases_nothing) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "lim");
  void *live = alloc_ok(pool, 1 << 20, NULL);
  void *freed = alloc_ok(pool, 512 << 10, NULL);
  void *whole = alloc_ok(pool, 10 << 20, NULL);
  ct_ok(tp_pool_free(pool, freed, NULL));
  ct_ok(tp_pool_free(pool, whole, NULL));
  tp_pool_stats t = ct_stats(pool);
  cr_assert_eq(t.free_segments, 1);
  ct_expect_fail(tp_pool_set_limit(pool, (1 << 20) + (256 << 10)),
                 TP_ERR_OUT_OF_MEMORY, "cannot be given back");
  tp_pool_stats u = ct_stats(pool);
  ct_expect_stats_same_but_failures(&t, &u);
  cr_expect_eq(s.puts, 0, "a segment went upstream for nothing");
  cr_expect_eq(u.free_segments, 1);
  ct_ok(tp_pool_free(pool, live, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: trim "Gives back upstream whole free segments and free tails of
 * growable ones, largest first, until at most `target_cached_bytes` free
 * bytes stay or nothing more can go (free ranges between live blocks
 * stay". */
Test(pool_limits, trim_keeps_at_most_the_target) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "trim");
  void *keep = alloc_ok(pool, 4096, NULL);
  ct_fill(keep, 4096, 4);
  three_free_segments(pool);
  tp_pool_stats t = ct_stats(pool);
  uint64_t between = t.cached_bytes - (38 << 20); /* next to `keep` */
  cr_assert_gt(between, 0);
  cr_assert_lt(between, 4 << 20);

  /* Releasing the 16 MiB segment is enough for 25 MiB. */
  ct_ok(tp_pool_trim(pool, 25 << 20));
  t = ct_stats(pool);
  cr_expect_leq(t.cached_bytes, 25 << 20);
  cr_expect_eq(t.cached_bytes, (22 << 20) + between,
               "trim released more than needed, or not the largest");
  cr_expect_eq(t.releases, 1);
  cr_expect_eq(t.releases, (uint64_t)s.puts);

  /* 0: every free segment goes; the free bytes next to `keep` stay. */
  ct_ok(tp_pool_trim(pool, 0));
  t = ct_stats(pool);
  cr_expect_eq(t.cached_bytes, between);
  cr_expect_eq(t.free_segments, 0);
  cr_expect_eq(t.segments, 1);
  cr_expect_eq(t.releases, 3);
  cr_expect_eq(t.reserved_bytes, (uint64_t)s.held);
  cr_expect_eq(t.live_blocks, 1, "trim never touches live blocks");
  cr_expect(ct_check(keep, 4096, 4));
  ct_expect_stats_consistent(&t);
  /* What stays still serves requests without going upstream. */
  int gets = s.gets;
  void *again = alloc_ok(pool, 8192, NULL);
  cr_expect_eq(s.gets, gets);
  ct_ok(tp_pool_free(pool, again, NULL));
  ct_ok(tp_pool_free(pool, keep, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: max_cached_bytes is the "Free bytes kept inside segments: above
 * it, whole free segments (and free tails of growable ones) are given back
 * upstream as they appear", max_buffers_per_bucket the "whole free segments
 * kept per size class". */
Test(pool_limits, cache_bounds_release_the_excess) {
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.max_cached_bytes = 1 << 20;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
  void *a = alloc_ok(pool, 1 << 20, NULL), *b = alloc_ok(pool, 512 << 10, NULL);
  ct_ok(tp_pool_free(pool, a, NULL));
  ct_ok(tp_pool_free(pool, b, NULL));
  tp_pool_stats t = ct_stats(pool);
  cr_expect_leq(t.cached_bytes, 1 << 20);
  cr_expect_geq(t.releases + t.segment_shrinks, 1);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_destroy(pool));

  /* Four whole free segments of one size: two stay. */
  static ct_space s;
  ct_space_init(&s);
  c = (tp_pool_config)TP_POOL_CONFIG_INIT;
  c.max_buffers_per_bucket = 2;
  ct_ok(tp_pool_create(&s.space, &c, &pool));
  void *q[4];
  for (int i = 0; i < 4; i++)
    q[i] = alloc_ok(pool, 12 << 20, NULL);
  t = ct_stats(pool);
  cr_assert_eq(t.segments, 4);
  for (int i = 0; i < 4; i++)
    ct_ok(tp_pool_free(pool, q[i], NULL));
  t = ct_stats(pool);
  cr_expect_eq(t.free_segments, 2);
  cr_expect_eq(t.cached_blocks, 2);
  cr_expect_eq(t.releases, 2);
  cr_expect_eq(s.puts, 2);
  cr_expect_eq(s.held, 24 << 20);
  ct_ok(tp_pool_destroy(pool));
}

/* The limit bounds reserved bytes: exactly the limit is allowed. */
Test(pool_limits, exactly_the_limit_fits) {
  tp_pool *pool = make_pool(tp_host_space(), 1 << 20, "exact");
  void *a = alloc_ok(pool, 1 << 20, NULL);
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 1, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "over the pool's limit");
  ct_ok(tp_pool_free(pool, a, NULL));
  /* Two halves: from the freed 1 MiB, or from upstream once it is given
   * back; either way within the limit. */
  ct_ok(tp_pool_trim(pool, 0));
  void *b = alloc_ok(pool, 512 << 10, NULL);
  void *c = alloc_ok(pool, 512 << 10, NULL);
  ct_ok(tp_pool_free(pool, b, NULL));
  ct_ok(tp_pool_free(pool, c, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* A request no upstream can serve (2^62 bytes, a valid class) is
 * TP_ERR_OUT_OF_MEMORY, not a crash, and the pool keeps working. */
Test(pool_limits, an_impossible_request_is_out_of_memory) {
  world w;
  world_make(&w, TP_UNLIMITED);
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(w.pool, (size_t)1 << 62, NULL, &p),
                 TP_ERR_OUT_OF_MEMORY,
                 "cannot serve 4611686018427387904 bytes");
  expect_no_result(p, (void *)0x5);
  world_expect_intact(&w, 1);
  world_end(&w);
}

/* The figures of an unlimited pool's refusal read as figures. */
Test(pool_limits, an_unlimited_pools_message_reads_right) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "unl");
  void *p = NULL;
  ct_expect_fail(tp_pool_alloc(pool, (size_t)1 << 62, NULL, &p),
                 TP_ERR_OUT_OF_MEMORY, NULL);
  cr_expect(strstr(tp_last_error(), "none bytes") == NULL, "%s",
            tp_last_error());
  cr_expect(strstr(tp_last_error(), "no limit;") != NULL, "%s",
            tp_last_error());
  ct_ok(tp_pool_destroy(pool));
}

/* design.md, "Exhaustion": when upstream's get fails with
 * TP_ERR_OUT_OF_MEMORY and blocks are cached, the engine releases them,
 * waits for their streams, and retries once. */
Test(pool_limits, upstream_exhaustion_releases_the_cache_and_retries) {
  static ct_space s;
  ct_space_init(&s);
  s.capacity = 2 << 20;
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "dry");
  void *a = alloc_ok(pool, 1 << 20, ct_stream(1));
  ct_ok(tp_pool_free(pool, a, ct_stream(1)));
  void *b = alloc_ok(pool, 2 << 20, ct_stream(2));
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.releases, 1);
  cr_expect_eq(t.cached_bytes, 0);
  int synced = 0;
  for (int i = 0; i < s.ncalls; i++)
    synced +=
        s.calls[i].op == CT_STREAM_SYNC && s.calls[i].stream == ct_stream(1);
  cr_expect_geq(synced, 1, "the released block's stream was not waited for");
  ct_ok(tp_pool_free(pool, b, ct_stream(2)));
  ct_ok(tp_pool_destroy(pool));
}

/* A failed upstream get loses nothing: the other blocks, the statistics
 * (but `failures`) and *out are as they were. 12 MiB cannot come from the
 * free bytes next to `keep`: the pool must ask upstream, which refuses
 * twice (design.md, "Exhaustion": the first try and the retry). */
Test(pool_limits, upstream_failure_loses_nothing) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "msg");
  void *keep = alloc_ok(pool, 10000, NULL);
  ct_fill(keep, 10000, 3);
  tp_pool_stats before = ct_stats(pool);
  s.fail_gets = 2;
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 12 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "cannot serve 12582912 bytes");
  cr_expect_eq(s.fail_gets, 0, "upstream was not asked twice");
  expect_no_result(p, (void *)0x5);
  tp_pool_stats after = ct_stats(pool);
  ct_expect_stats_same_but_failures(&before, &after);
  cr_expect_eq(after.failures, before.failures + 1);
  cr_expect(ct_check(keep, 10000, 3));
  s.fail_gets = 0;
  void *q = alloc_ok(pool, 12 << 20, NULL);
  ct_ok(tp_pool_free(pool, q, NULL));
  ct_ok(tp_pool_free(pool, keep, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* A user's space with space.h's optional virtual-memory entries: each
 * segment lies at the start of a reservation it may grow into, in place;
 * decommit gives nothing back (the test only counts it) and commit fails
 * while `fail_commits` is set. */
#define VM_RESERVE ((size_t)4 << 20)

typedef struct vm_space {
  ct_space base; /* first: the entries get it as their context */
  size_t size;   /* bytes of the one segment, 0 when none */
  bool fail_commits;
  int decommits;
} vm_space;

static tp_status vm_get(void *ctx, size_t bytes, void **out) {
  vm_space *v = ctx;
  if (v->size != 0 || bytes > VM_RESERVE)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "one segment at most");
  void *p = NULL;
  if (posix_memalign(&p, 4096, VM_RESERVE) != 0)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "posix_memalign failed");
  v->size = bytes;
  v->base.gets++;
  *out = p;
  return TP_SUCCESS;
}

static tp_status vm_put(void *ctx, void *ptr, size_t bytes, tp_stream stream) {
  vm_space *v = ctx;
  (void)stream;
  cr_expect_eq(bytes, v->size, "put of %zu bytes, the segment has %zu", bytes,
               v->size);
  v->size = 0;
  v->base.puts++;
  free(ptr);
  return TP_SUCCESS;
}

static tp_status vm_resize(void *ctx, void *ptr, size_t bytes, size_t new_bytes,
                           tp_stream stream) {
  vm_space *v = ctx;
  (void)ptr, (void)stream;
  cr_expect_eq(bytes, v->size);
  if (new_bytes > VM_RESERVE)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "the reservation is full");
  v->size = new_bytes;
  return TP_SUCCESS;
}

static tp_status vm_decommit(void *ctx, void *ptr, size_t bytes,
                             tp_stream stream) {
  (void)ptr, (void)bytes, (void)stream;
  ((vm_space *)ctx)->decommits++;
  return TP_SUCCESS;
}

static tp_status vm_commit(void *ctx, void *ptr, size_t bytes) {
  (void)ptr, (void)bytes;
  if (((vm_space *)ctx)->fail_commits)
    return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "no memory to commit");
  return TP_SUCCESS;
}

static void vm_space_init(vm_space *v) {
  memset(v, 0, sizeof *v);
  ct_space_init(&v->base);
  v->base.ops.get = vm_get;
  v->base.ops.put = vm_put;
  v->base.ops.page_bytes = 4096;
  v->base.ops.resize = vm_resize;
  v->base.ops.decommit = vm_decommit;
  v->base.ops.commit = vm_commit;
}

/* A failed allocation loses nothing and keeps nothing it took: here a
 * growth of the segment in place, whose block then could not be backed
 * (the space's commit of the free tail's given-back pages fails). The
 * segment goes back to its size, and the pool's figures to what they were.
 * The tail stays free on stream 1, whose work the space reports pending,
 * so trim gives back its pages, not its addresses. */
Test(pool_limits, a_failed_commit_leaves_no_growth) {
  static vm_space v;
  vm_space_init(&v);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.page_release = TP_PAGE_RELEASE_ON_PRESSURE;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(&v.base.space, &c, &pool));
  v.base.pending = true;
  void *keep = alloc_ok(pool, 64 << 10, NULL);
  ct_fill(keep, 64 << 10, 5);
  void *x = alloc_ok(pool, 256 << 10, ct_stream(1));
  ct_ok(tp_pool_free(pool, x, ct_stream(1)));
  ct_ok(tp_pool_trim(pool, 0));
  tp_pool_stats before = ct_stats(pool);
  cr_assert_eq(v.size, 320 << 10);
  cr_assert_gt(before.decommitted_bytes, 0, "trim gave back no pages");

  v.fail_commits = true;
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 512 << 10, ct_stream(1), &p),
                 TP_ERR_OUT_OF_MEMORY, "cannot serve 524288 bytes");
  expect_no_result(p, (void *)0x5);
  tp_pool_stats after = ct_stats(pool);
  cr_expect_eq(v.size, 320 << 10, "the segment kept its growth");
  cr_expect_eq(after.reserved_bytes, before.reserved_bytes);
  cr_expect_eq(after.reserved_bytes_peak, before.reserved_bytes_peak);
  cr_expect_eq(after.cached_bytes, before.cached_bytes);
  cr_expect_eq(after.cached_blocks, before.cached_blocks);
  cr_expect_eq(after.decommitted_bytes, before.decommitted_bytes);
  cr_expect_eq(after.segments, before.segments);
  cr_expect_eq(after.segment_grows, before.segment_grows);
  cr_expect_eq(after.allocations, before.allocations);
  cr_expect_eq(after.hits + after.misses, before.hits + before.misses);
  cr_expect_eq(after.live_bytes, before.live_bytes);
  cr_expect_eq(after.failures, before.failures + 1);
  ct_expect_stats_consistent(&after);
  cr_expect(ct_check(keep, 64 << 10, 5));

  /* Once the space can commit again, the same request is served. */
  v.fail_commits = false;
  void *q = alloc_ok(pool, 512 << 10, ct_stream(1));
  memset(q, 1, 512 << 10);
  ct_ok(tp_pool_free(pool, q, ct_stream(1)));
  ct_ok(tp_pool_free(pool, keep, NULL));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(v.size, 0);
}

/* status.h: "When such a callback [tp_space_ops entries, ...] fails, the
 * library keeps the message the callback set during that call and puts its
 * own context in front ("tp_pool_alloc: ...: <your message>"); a callback
 * that fails without setting one gets a message saying so, never a stale
 * message of an earlier failure." */
Test(pool_limits, upstream_failure_keeps_the_spaces_message) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "msg");
  s.fail_gets = 2;
  s.fail_with_message = true;
  void *p = (void *)0x5;
  ct_expect_fail(tp_pool_alloc(pool, 1 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 "the test's arena is dry");
  cr_expect_eq(strncmp(tp_last_error(), "tp_pool_alloc", 13), 0, "%s",
               tp_last_error());
  s.fail_gets = 2;
  s.fail_with_message = false;
  ct_expect_fail(tp_pool_alloc(pool, 1 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 NULL);
  cr_expect(strstr(tp_last_error(), "arena is dry") == NULL, "stale: %s",
            tp_last_error());
  ct_ok(tp_pool_destroy(pool));
}

/* ---- Streams ------------------------------------------------------------ */

static int index_of(const ct_space *s, int from, ct_op op) {
  for (int i = from; i < s->ncalls; i++)
    if (s->calls[i].op == op)
      return i;
  return -1;
}

/* pool.h: "A block freed on stream S is handed back to S at once; another
 * stream T takes it only after T has been made to wait on an event recorded
 * on S at the moment of the take"; the README: "no event is recorded on a
 * free and the host never waits". */
Test(pool_streams, cross_stream_take_records_on_s_and_waits_on_t) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "streams");
  tp_stream S = ct_stream(1), T = ct_stream(2);
  void *a = alloc_ok(pool, 4096, S);
  int mark = s.ncalls;
  ct_ok(tp_pool_free(pool, a, S));
  cr_expect_eq(index_of(&s, mark, CT_EVENT_RECORD), -1, "event on a free");
  void *again = alloc_ok(pool, 4096, S);
  cr_expect_eq(again, a, "S gets its own block back at once");
  cr_expect_eq(index_of(&s, mark, CT_EVENT_RECORD), -1);
  cr_expect_eq(index_of(&s, mark, CT_STREAM_WAIT), -1);
  ct_ok(tp_pool_free(pool, again, S));

  mark = s.ncalls;
  void *b = alloc_ok(pool, 4096, T);
  cr_expect_eq(b, a, "T takes the cached block");
  int rec = index_of(&s, mark, CT_EVENT_RECORD);
  int wait = index_of(&s, mark, CT_STREAM_WAIT);
  cr_assert_geq(rec, 0, "no event recorded at the take");
  cr_assert_geq(wait, 0, "T was not made to wait");
  cr_expect_lt(rec, wait);
  cr_expect_eq(s.calls[rec].stream, S, "the event is recorded on S");
  cr_expect_eq(s.calls[wait].stream, T, "T waits");
  cr_expect_eq(s.calls[wait].event, s.calls[rec].event);
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.cross_stream_takes, 1);
  cr_expect_eq(t.hits, 2);
  cr_expect_eq(ct_count(&s, CT_STREAM_SYNC), 0, "the host waited");
  ct_ok(tp_pool_free(pool, b, T));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.events_live, 0);
}

/* pool.h: "Streams a pool tracks at once ... Frees on further streams wait
 * for that stream, then still succeed." */
Test(pool_streams, a_free_beyond_the_tracked_streams_waits_then_succeeds) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "many");
  void *blocks[TP_POOL_MAX_STREAMS + 1];
  for (int k = 0; k <= TP_POOL_MAX_STREAMS; k++)
    blocks[k] = alloc_ok(pool, 4096, ct_stream(k + 1));
  for (int k = 0; k < TP_POOL_MAX_STREAMS; k++)
    ct_ok(tp_pool_free(pool, blocks[k], ct_stream(k + 1)));
  cr_expect_eq(ct_count(&s, CT_STREAM_SYNC), 0);
  tp_stream extra = ct_stream(TP_POOL_MAX_STREAMS + 1);
  ct_ok(tp_pool_free(pool, blocks[TP_POOL_MAX_STREAMS], extra));
  int synced = 0;
  for (int i = 0; i < s.ncalls; i++)
    synced += s.calls[i].op == CT_STREAM_SYNC && s.calls[i].stream == extra;
  cr_expect_eq(synced, 1, "the extra stream was waited for once");
  /* Every block is free (neighbours may have merged). */
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.deallocations, TP_POOL_MAX_STREAMS + 1);
  cr_expect_eq(t.live_blocks, 0);
  cr_expect_eq(t.cached_bytes, t.reserved_bytes);
  ct_expect_stats_consistent(&t);
  ct_ok(tp_pool_destroy(pool));
}

/* pool.h: forget_stream "waits for it once and makes its cached blocks free
 * for any stream. Using the handle later registers it anew." */
Test(pool_streams, forget_stream_waits_once_and_frees_its_blocks) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "forget");
  tp_stream S = ct_stream(1), T = ct_stream(2);
  void *a = alloc_ok(pool, 4096, S);
  ct_ok(tp_pool_free(pool, a, S));
  int mark = s.ncalls;
  ct_ok(tp_pool_forget_stream(pool, S));
  int synced = 0;
  for (int i = mark; i < s.ncalls; i++)
    synced += s.calls[i].op == CT_STREAM_SYNC && s.calls[i].stream == S;
  cr_expect_eq(synced, 1);
  mark = s.ncalls;
  void *b = alloc_ok(pool, 4096, T);
  cr_expect_eq(b, a);
  cr_expect_eq(index_of(&s, mark, CT_STREAM_WAIT), -1,
               "a forgotten stream's block needs no event");
  tp_pool_stats t = ct_stats(pool);
  cr_expect_eq(t.streams_forgotten, 1);
  cr_expect_eq(t.cross_stream_takes, 0);
  /* The handle again: registered anew. */
  ct_ok(tp_pool_free(pool, b, S));
  void *c = alloc_ok(pool, 4096, S);
  cr_expect_eq(c, a);
  ct_ok(tp_pool_free(pool, c, S));
  ct_ok(tp_pool_destroy(pool));
  cr_expect_eq(s.events_live, 0);
}

/* space.h: put gives memory back "once the work already queued on
 * `stream` is done": while that work is pending, the stream the pool
 * passes is the one of the segment's last use (pool.h: tp_pool_free's
 * `stream`). A small block and a 12 MiB one take a segment each; the
 * space's events report their work unfinished. */
Test(pool_streams, a_release_names_the_stream_of_the_last_use) {
  static ct_space s;
  ct_space_init(&s);
  s.pending = true;
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "put");
  void *a = alloc_ok(pool, 4096, ct_stream(1));
  void *b = alloc_ok(pool, 12 << 20, ct_stream(1));
  cr_assert_eq(ct_stats(pool).segments, 2);
  ct_ok(tp_pool_free(pool, a, ct_stream(1)));
  ct_ok(tp_pool_free(pool, b, ct_stream(2))); /* last used on stream 2 */
  ct_ok(tp_pool_trim(pool, 0));
  int seen = 0;
  for (int i = 0; i < s.ncalls; i++)
    if (s.calls[i].op == CT_PUT) {
      seen++;
      tp_stream want =
          s.calls[i].bytes == (12 << 20) ? ct_stream(2) : ct_stream(1);
      cr_expect_eq(s.calls[i].stream, want, "a put of %zu bytes",
                   s.calls[i].bytes);
    }
  cr_expect_eq(seen, 2);
  ct_ok(tp_pool_destroy(pool));
}

/* design.md, "Forgetting a stream": the engine synchronizes the stream
 * once, moves its cached blocks to slot 0 "(never naming the handle
 * again)": the stream may be destroyed right after, so no later call of
 * the space may carry it. */
Test(pool_streams, a_forgotten_stream_is_never_named_again) {
  static ct_space s;
  ct_space_init(&s);
  tp_pool *pool = make_pool(&s.space, TP_UNLIMITED, "forgotten");
  tp_stream S = ct_stream(1), T = ct_stream(2);
  void *a = alloc_ok(pool, 4096, S);
  void *b = alloc_ok(pool, 1 << 20, S);
  void *c = alloc_ok(pool, 8192, T);
  ct_ok(tp_pool_free(pool, a, S));
  ct_ok(tp_pool_free(pool, b, S));
  ct_ok(tp_pool_free(pool, c, T));
  void *taken = alloc_ok(pool, 8192, T); /* T's own block, no event */
  void *cross = alloc_ok(pool, 4096, T); /* S's block: an event on S */
  ct_ok(tp_pool_free(pool, cross, S));
  ct_ok(tp_pool_forget_stream(pool, S));
  int mark = s.ncalls;
  void *again = alloc_ok(pool, 4096, T);
  ct_ok(tp_pool_free(pool, again, T));
  ct_ok(tp_pool_trim(pool, 0));
  ct_ok(tp_pool_free(pool, taken, T));
  ct_ok(tp_pool_destroy(pool));
  for (int i = mark; i < s.ncalls; i++)
    cr_expect_neq(s.calls[i].stream, S,
                  "call %d (op %d) names the forgotten "
                  "stream",
                  i, (int)s.calls[i].op);
  cr_expect_eq(s.events_live, 0);
}

/* ---- Raw allocator ------------------------------------------------------ */

/* raw_allocator.h: tp_raw_alloc checks what the alloc entry is promised
 * (bytes > 0, a power-of-two alignment or 0) before calling a user's
 * table, which may rely on it (posix_memalign refuses an odd alignment). */
static int raw_table_calls;
static tp_status counting_alloc(void *ctx, size_t bytes, size_t alignment,
                                tp_stream stream, void **out) {
  (void)ctx, (void)stream;
  raw_table_calls++;
  *out = aligned_alloc(alignment ? alignment : 16, (bytes + 255) & ~255u);
  return *out ? TP_SUCCESS : TP_ERR_OUT_OF_MEMORY;
}
static tp_status counting_free(void *ctx, void *ptr, size_t bytes,
                               tp_stream stream) {
  (void)ctx, (void)bytes, (void)stream;
  free(ptr);
  return TP_SUCCESS;
}

Test(pool_raw, a_users_table_is_never_called_with_what_it_was_promised_not) {
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  raw.alloc = counting_alloc;
  raw.free = counting_free;
  raw_table_calls = 0;
  void *p = (void *)0x5;
  ct_expect_fail(tp_raw_alloc(&raw, 0, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "0 bytes");
  ct_expect_fail(tp_raw_alloc(&raw, 8, 6, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "power of two");
  ct_expect_fail(tp_raw_alloc(&raw, 8, SIZE_MAX, NULL, &p),
                 TP_ERR_INVALID_ARGUMENT, "power of two");
  expect_no_result(p, (void *)0x5);
  cr_expect_eq(raw_table_calls, 0, "the table was not called");
  ct_ok(tp_raw_alloc(&raw, 8, 64, NULL, &p));
  cr_expect_eq(raw_table_calls, 1);
  cr_expect_eq((uintptr_t)p % 64, 0);
  ct_ok(tp_raw_free(&raw, p, 8, NULL));
}

/* pool.h + raw_allocator.h: alignment 0 is the natural one, a power of two
 * up to 256 is served, above 256 is never possible from a pool
 * (TP_ERR_NOT_SUPPORTED, status.h), and anything else is bad input. */
Test(pool_raw, the_table_over_a_pool) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "raw");
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  ct_ok(tp_pool_raw_allocator(pool, &raw));
  cr_expect_eq(raw.struct_size, sizeof raw);
  size_t aligns[] = {0, 1, 8, 64, 256};
  for (int i = 0; i < 5; i++) {
    void *p = NULL;
    ct_ok(tp_raw_alloc(&raw, 1000, aligns[i], NULL, &p));
    cr_expect_eq((uintptr_t)p % 256, 0);
    memset(p, 1, 1000);
    ct_ok(tp_raw_free(&raw, p, 1000, NULL));
  }
  void *q = NULL;
  ct_ok(tp_raw_alloc(&raw, 100, 0, NULL, &q));
  ct_ok(tp_raw_free(&raw, q, 0, NULL)); /* 0: size not known to the caller */
  tp_pool_stats before = ct_stats(pool);
  void *p = (void *)0x5;
  ct_expect_fail(tp_raw_alloc(&raw, 1000, 512, NULL, &p), TP_ERR_NOT_SUPPORTED,
                 NULL);
  ct_expect_fail(tp_raw_alloc(&raw, 1000, 3, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_raw_alloc(&raw, 0, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  /* Called directly, the pool's entry checks its arguments first too:
   * 0 bytes is bad input before 512 is an alignment it cannot give. */
  ct_expect_fail(raw.alloc(raw.ctx, 0, 512, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "0 bytes");
  expect_no_result(p, (void *)0x5);
  tp_pool_stats after = ct_stats(pool);
  cr_expect_eq(after.allocations, before.allocations);
  cr_expect_eq(after.reserved_bytes, before.reserved_bytes);

  /* The pool's pointer checks hold through the table too. */
  void *r = NULL;
  ct_ok(tp_raw_alloc(&raw, 1000, 0, NULL, &r));
  ct_expect_fail(tp_raw_free(&raw, (char *)r + 256, 1000, NULL),
                 TP_ERR_INVALID_POINTER, NULL);
  ct_ok(tp_raw_free(&raw, r, 1000, NULL));
  ct_expect_fail(tp_raw_free(&raw, r, 1000, NULL), TP_ERR_INVALID_POINTER,
                 NULL);
  ct_ok(tp_raw_free(&raw, NULL, 0, NULL));

  ct_expect_fail(tp_raw_alloc(NULL, 8, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  tp_raw_allocator unset = raw;
  unset.struct_size = 0;
  ct_expect_fail(tp_raw_alloc(&unset, 8, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 "TP_RAW_ALLOCATOR_INIT");
  tp_raw_allocator empty = TP_RAW_ALLOCATOR_INIT;
  ct_expect_fail(tp_raw_alloc(&empty, 8, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_raw_free(&empty, &p, 8, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  expect_no_result(p, (void *)0x5);
  ct_ok(tp_pool_destroy(pool));
}

/* The README's messages for bad pointers hold through the raw table. */
Test(pool_raw, the_tables_messages_say_what_the_pointer_is) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "raw");
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  ct_ok(tp_pool_raw_allocator(pool, &raw));
  void *r = NULL;
  ct_ok(tp_raw_alloc(&raw, 1000, 0, NULL, &r));
  ct_expect_fail(tp_raw_free(&raw, (char *)r + 256, 1000, NULL),
                 TP_ERR_INVALID_POINTER, "is an interior pointer, 256 bytes");
  ct_ok(tp_raw_free(&raw, r, 1000, NULL));
  ct_expect_fail(tp_raw_free(&raw, r, 1000, NULL), TP_ERR_INVALID_POINTER,
                 "double free of");
  ct_ok(tp_pool_destroy(pool));
}

/* ---- Printout and event log --------------------------------------------- */

typedef struct lines {
  char text[16][256];
  int n;
} lines;

static void collect(void *user, const char *line) {
  lines *l = user;
  cr_assert(strchr(line, '\n') == NULL, "a printed line holds a newline");
  if (l->n < 16)
    snprintf(l->text[l->n++], sizeof l->text[0], "%s", line);
}

Test(pool_print, one_line_per_call_naming_the_pool) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "printed");
  void *p = alloc_ok(pool, 1 << 20, NULL);
  lines l = {.n = 0};
  ct_ok(tp_pool_print_stats(pool, collect, &l));
  cr_assert_geq(l.n, 5);
  cr_expect_str_eq(l.text[0], "pool 'printed' on host");
  cr_expect(strstr(l.text[1], "allocations 1 (hits 0, misses 1"), "%s",
            l.text[1]);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_destroy(pool));
}

/* design.md, "Event log": CSV lines op,thread,time_ns,pool,ptr,size,
 * stream,status for alloc, free, fail_alloc, fail_free, trim and forget;
 * `%p` in the path becomes the process id. */
Test(pool_print, the_event_log_records_every_operation) {
  char pattern[] = "/tmp/tp_contract_log_%p.csv", path[128];
  snprintf(path, sizeof path, "/tmp/tp_contract_log_%ld.csv", (long)getpid());
  remove(path);
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.name = "logged";
  c.event_log_path = pattern;
  tp_pool *pool = NULL;
  ct_ok(tp_pool_create(tp_host_space(), &c, &pool));
  void *p = alloc_ok(pool, 1000, ct_stream(1));
  void *bad = NULL;
  tp_pool_alloc(pool, 0, NULL, &bad);
  tp_pool_free(pool, (char *)p + 8, NULL);
  ct_ok(tp_pool_free(pool, p, ct_stream(1)));
  ct_ok(tp_pool_trim(pool, 0));
  ct_ok(tp_pool_forget_stream(pool, ct_stream(1)));
  ct_ok(tp_pool_destroy(pool));

  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "no event log at %s", path);
  const char *want[] = {"alloc", "fail_alloc", "fail_free",
                        "free",  "trim",       "forget"};
  int seen = 0;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "op,", 3) == 0)
      continue; /* a header line, if any */
    int commas = 0;
    for (char *q = line; *q; q++)
      commas += *q == ',';
    cr_expect_eq(commas, 7, "not 8 fields: %s", line);
    char op[32] = "";
    sscanf(line, "%31[^,]", op);
    if (seen < 6 && strcmp(op, want[seen]) == 0)
      seen++;
    if (strcmp(op, "alloc") == 0)
      cr_expect(strstr(line, ",logged,") != NULL, "%s", line);
  }
  fclose(f);
  remove(path);
  cr_expect_eq(seen, 6, "the log lacks %s (in order)",
               seen < 6 ? want[seen] : "");
}

/* design.md: "With tp_pool_config.event_log_path or the TP_EVENT_LOG
 * environment variable set" each pool logs its events. */
Test(pool_print, the_event_log_from_the_environment) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/tp_contract_env_%ld.csv", (long)getpid());
  remove(path);
  setenv("TP_EVENT_LOG", "/tmp/tp_contract_env_%p.csv", 1);
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "env");
  void *p = alloc_ok(pool, 300, NULL);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_pool_destroy(pool));
  unsetenv("TP_EVENT_LOG");
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "no event log at %s", path);
  char line[512];
  int allocs = 0, frees = 0;
  while (fgets(line, sizeof line, f)) {
    allocs += strncmp(line, "alloc,", 6) == 0;
    frees += strncmp(line, "free,", 5) == 0;
  }
  fclose(f);
  remove(path);
  cr_expect_eq(allocs, 1);
  cr_expect_eq(frees, 1);
}

/* A program that records a trace and exits without destroying its pool
 * (exit() flushes stdio; a trace is expected to be complete the same way)
 * still leaves its events in the log. */
Test(pool_print, the_event_log_is_complete_at_exit) {
  char path[128];
  pid_t child = fork();
  cr_assert_geq(child, 0);
  if (child == 0) {
    tp_pool_config c = TP_POOL_CONFIG_INIT;
    c.event_log_path = "/tmp/tp_contract_exit_%p.csv";
    tp_pool *pool = NULL;
    void *p = NULL;
    if (tp_pool_create(tp_host_space(), &c, &pool) != TP_SUCCESS ||
        tp_pool_alloc(pool, 1000, NULL, &p) != TP_SUCCESS ||
        tp_pool_free(pool, p, NULL) != TP_SUCCESS)
      exit(3);
    exit(0); /* no tp_pool_destroy */
  }
  int status = 0;
  waitpid(child, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  snprintf(path, sizeof path, "/tmp/tp_contract_exit_%ld.csv", (long)child);
  int events = ct_log_calls(path);
  cr_assert_geq(events, 0, "no log at %s", path);
  cr_expect_eq(events, 2, "the log holds %d of the 2 events", events);
}

/* ---- Threads ------------------------------------------------------------ */

typedef struct thread_arg {
  tp_pool *pool;
  int id;
  int bad;
} thread_arg;

static void *churn(void *arg) {
  thread_arg *a = arg;
  void *mine[8] = {0};
  size_t sizes[8] = {0};
  unsigned x = (unsigned)a->id * 7919u + 1;
  for (int i = 0; i < 20000; i++) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 9) % 8);
    if (mine[k]) {
      if (!ct_check(mine[k], sizes[k], (unsigned)(a->id * 8 + k)))
        a->bad++;
      if (tp_pool_free(a->pool, mine[k], ct_stream(a->id)) != TP_SUCCESS)
        a->bad++;
      mine[k] = NULL;
    } else {
      sizes[k] = 1 + (x >> 4) % 70000;
      if (tp_pool_alloc(a->pool, sizes[k], ct_stream(a->id), &mine[k]) !=
          TP_SUCCESS) {
        a->bad++;
        mine[k] = NULL;
      } else {
        ct_fill(mine[k], sizes[k], (unsigned)(a->id * 8 + k));
      }
    }
  }
  for (int k = 0; k < 8; k++)
    if (mine[k])
      tp_pool_free(a->pool, mine[k], ct_stream(a->id));
  return NULL;
}

/* pool.h: "Thread-safe (one lock per pool)". */
Test(pool_threads, concurrent_alloc_and_free_keep_blocks_apart) {
  tp_pool *pool = make_pool(tp_host_space(), TP_UNLIMITED, "threads");
  pthread_t t[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){pool, i + 1, 0};
    pthread_create(&t[i], NULL, churn, &args[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    cr_expect_eq(args[i].bad, 0, "thread %d saw %d problems", i, args[i].bad);
  }
  tp_pool_stats s = ct_stats(pool);
  ct_expect_stats_consistent(&s);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.failures, 0);
  ct_ok(tp_pool_destroy(pool));
}
