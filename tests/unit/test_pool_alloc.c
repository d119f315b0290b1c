/* The host pool's everyday behaviour: blocks are usable, aligned, distinct,
 * reused from the cache, and the statistics say so. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/pool.h"

static tp_pool *make_pool(void) {
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &pool), TP_SUCCESS, "%s",
               tp_last_error());
  return pool;
}

/* The engine alone: every free goes back to it at once. */
static tp_pool *make_engine_pool(void) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.thread_cache_bytes = 0;
  tp_pool *pool = NULL;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS,
               "%s", tp_last_error());
  return pool;
}

Test(pool_alloc, blocks_are_aligned_writable_and_do_not_overlap) {
  tp_pool *pool = make_pool();
  enum { N = 64 };
  unsigned char *blocks[N];
  size_t sizes[N];
  for (int i = 0; i < N; i++) {
    sizes[i] = (size_t)(i * 997 % 70000) + 1;
    cr_assert_eq(tp_pool_alloc(pool, sizes[i], NULL, (void **)&blocks[i]),
                 TP_SUCCESS);
    cr_assert_eq((uintptr_t)blocks[i] % 256, 0);
    memset(blocks[i], i, sizes[i]);
  }
  for (int i = 0; i < N; i++)
    for (size_t j = 0; j < sizes[i]; j++)
      cr_assert_eq(blocks[i][j], (unsigned char)i, "block %d byte %zu", i, j);
  for (int i = 0; i < N; i++)
    cr_assert_eq(tp_pool_free(pool, blocks[i], NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, a_freed_block_is_reused_for_its_class) {
  tp_pool *pool = make_pool();
  void *a, *b;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &a), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, a, NULL), TP_SUCCESS);
  /* 1000 and 1024 share the 1024-byte class. */
  cr_assert_eq(tp_pool_alloc(pool, 1024, NULL, &b), TP_SUCCESS);
  cr_expect_eq(a, b);
  size_t usable;
  cr_assert_eq(tp_pool_block_size(pool, b, &usable), TP_SUCCESS);
  cr_expect_eq(usable, 1024);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  cr_expect_eq(s.hits, 1);
  cr_expect_eq(s.misses, 1);
  cr_expect_eq(s.upstream_gets, 1);
  cr_expect_float_eq(s.hit_rate, 0.5, 1e-12);
  cr_assert_eq(tp_pool_free(pool, b, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, a_freed_block_is_split_and_merged_again) {
  tp_pool *pool = make_engine_pool();
  void *big, *after, *p, *q;
  cr_assert_eq(tp_pool_alloc(pool, 7168, NULL, &big), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 65536, NULL, &after), TP_SUCCESS);
  tp_pool_free(pool, big, NULL);
  /* 4096 takes the front of the free 7168 bytes, 3072 the rest. */
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &p), TP_SUCCESS);
  cr_expect_eq(p, big);
  size_t usable;
  tp_pool_block_size(pool, p, &usable);
  cr_expect_eq(usable, 4096, "a split block holds the request, no more");
  cr_assert_eq(tp_pool_alloc(pool, 3000, NULL, &q), TP_SUCCESS);
  cr_expect_eq(q, (char *)big + 4096);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.hits, 2);
  cr_expect_geq(s.free_blocks_split, 1);
  cr_expect_eq(s.live_bytes, 4096 + 3072 + 65536, "live bytes: usable sizes");
  cr_expect_eq(s.requested_bytes, 4096 + 3000 + 65536);
  tp_pool_free(pool, p, NULL);
  tp_pool_free(pool, q, NULL);
  /* Merged back: a request of the whole range gets it again. */
  cr_assert_eq(tp_pool_alloc(pool, 7168, NULL, &p), TP_SUCCESS);
  cr_expect_eq(p, big);
  tp_pool_get_stats(pool, &s);
  cr_expect_geq(s.blocks_merged, 1);
  tp_pool_free(pool, p, NULL);
  tp_pool_free(pool, after, NULL);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* With thread caches (the default), the peaks of live and requested bytes
 * are sampled (docs/design.md, "Thread caches"): at least what is live. */
static void statistics_add_up(tp_pool *pool, bool exact_peaks) {
  void *p[3];
  cr_assert_eq(tp_pool_alloc(pool, 100, NULL, &p[0]), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 3000, NULL, &p[1]), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 70000, NULL, &p[2]), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p[1], NULL), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  cr_expect_eq(s.allocations, 3);
  cr_expect_eq(s.deallocations, 1);
  cr_expect_eq(s.bytes_allocated, 73100);
  cr_expect_eq(s.bytes_freed, 3000);
  cr_expect_eq(s.live_blocks, 2);
  cr_expect_eq(s.requested_bytes, 70100);
  cr_expect_eq(s.live_bytes, 256 + 70144, "requests rounded up to 256");
  cr_expect_geq(s.cached_bytes, 3072, "the freed block is free memory");
  cr_expect_eq(s.reserved_bytes, s.live_bytes + s.cached_bytes);
  cr_expect_geq(s.reserved_bytes_peak, 256 + 3072 + 70144);
  if (exact_peaks)
    cr_expect_eq(s.requested_bytes_peak, 73100);
  else
    cr_expect_geq(s.requested_bytes_peak, 70100);
  cr_expect_eq(s.hits + s.misses, 3);
  cr_expect_eq(s.misses, s.upstream_gets + s.segment_grows);
  cr_expect_geq(s.segments, 1);
  cr_expect_geq(s.largest_free_block, 3072);
  cr_assert_eq(tp_pool_reset_peaks(pool), TP_SUCCESS);
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  cr_expect_eq(s.reserved_bytes_peak, s.reserved_bytes);
  cr_expect_eq(s.requested_bytes_peak, 70100);
  tp_pool_free(pool, p[0], NULL);
  tp_pool_free(pool, p[2], NULL);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, statistics_add_up) {
  statistics_add_up(make_pool(), false);
}

Test(pool_alloc, statistics_add_up_without_thread_caches) {
  statistics_add_up(make_engine_pool(), true);
}

typedef struct collected {
  char text[2048];
  int lines;
} collected;

static void collect(void *user, const char *line) {
  collected *c = user;
  strncat(c->text, line, sizeof c->text - strlen(c->text) - 2);
  strcat(c->text, "\n");
  c->lines++;
}

Test(pool_alloc, statistics_print_through_the_callback) {
  tp_pool_config config = TP_POOL_CONFIG_INIT;
  config.name = "weights";
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(tp_host_space(), &config, &pool), TP_SUCCESS);
  void *p;
  tp_pool_alloc(pool, 512, NULL, &p);
  tp_pool_free(pool, p, NULL);
  tp_pool_alloc(pool, 512, NULL, &p);
  collected out = {{0}, 0};
  cr_assert_eq(tp_pool_print_stats(pool, collect, &out), TP_SUCCESS);
  cr_expect_geq(out.lines, 5);
  cr_expect_not_null(strstr(out.text, "pool 'weights' on host"), "%s",
                     out.text);
  cr_expect_not_null(strstr(out.text, "allocations 2 (hits 1, misses 1, hit "
                                      "rate 50.0%)"),
                     "%s", out.text);
  cr_expect_eq(tp_pool_print_stats(pool, NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  tp_pool_free(pool, p, NULL);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, raw_allocator_table_allocates_from_the_pool) {
  tp_pool *pool = make_pool();
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  cr_assert_eq(tp_pool_raw_allocator(pool, &raw), TP_SUCCESS);
  cr_expect_eq(raw.struct_size, sizeof raw);
  void *p;
  cr_assert_eq(tp_raw_alloc(&raw, 4096, 64, NULL, &p), TP_SUCCESS);
  cr_expect_eq((uintptr_t)p % 64, 0);
  size_t usable;
  cr_expect_eq(tp_pool_block_size(pool, p, &usable), TP_SUCCESS);
  /* A sized free naming more than the block holds is refused, block kept. */
  cr_expect_eq(tp_raw_free(&raw, p, usable + 1, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "usable bytes"), "%s",
                     tp_last_error());
  cr_assert_eq(tp_raw_free(&raw, p, 4096, NULL), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.allocations, 1);
  cr_expect_eq(s.deallocations, 1);
  cr_expect_eq(tp_raw_alloc(NULL, 1, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_raw_free(NULL, p, 0, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, raw_allocator_alignments_and_table_versions) {
  tp_pool *pool = make_pool();
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  cr_assert_eq(tp_pool_raw_allocator(pool, &raw), TP_SUCCESS);
  void *p = NULL;
  cr_expect_eq(tp_raw_alloc(&raw, 100, 3, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "not a power of two"));
  cr_expect_eq(tp_raw_alloc(&raw, 100, 4096, NULL, &p), TP_ERR_NOT_SUPPORTED);
  cr_expect_not_null(strstr(tp_last_error(), "aligns blocks to 256"));
  cr_assert_eq(tp_raw_alloc(&raw, 100, 256, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_raw_free(&raw, p, 0, NULL), TP_SUCCESS);
  /* A table whose caller did not initialize it is refused, not called. */
  tp_raw_allocator blank;
  memset(&blank, 0, sizeof blank);
  cr_expect_eq(tp_pool_raw_allocator(pool, &blank), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "TP_RAW_ALLOCATOR_INIT"));
  cr_expect_eq(tp_raw_alloc(&blank, 100, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.allocations, 1, "only the valid request allocated");
  cr_assert_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

Test(pool_alloc, destroy_with_live_blocks_reports_and_frees_them) {
  tp_pool *pool = make_pool();
  void *p;
  tp_pool_alloc(pool, 1000, NULL, &p);
  tp_pool_alloc(pool, 2000, NULL, &p);
  cr_assert_eq(tp_pool_destroy(pool), TP_ERR_LEAK);
  cr_expect_not_null(strstr(tp_last_error(), "2 live blocks (3000 bytes"), "%s",
                     tp_last_error());
}
