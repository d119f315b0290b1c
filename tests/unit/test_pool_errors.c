/* Bad input: each case gets its status and a message naming what was wrong,
 * and afterwards the pool still works and its statistics still add up. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support/sim_space.h"
#include "tensorpool/pool.h"

#define expect_message(fragment)                                               \
  cr_expect_not_null(strstr(tp_last_error(), fragment), "message was: %s",     \
                     tp_last_error())

static tp_pool *pool;

static void setup(void) {
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &pool), TP_SUCCESS);
}

/* The pool still serves, and its counters still balance. */
static void expect_pool_intact(size_t failures) {
  void *p;
  cr_assert_eq(tp_pool_alloc(pool, 777, NULL, &p), TP_SUCCESS);
  memset(p, 0x5a, 777);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.failures, failures);
  cr_expect_eq(s.allocations - s.deallocations, s.live_blocks);
  cr_expect_eq(s.hits + s.misses, s.allocations);
  cr_expect_eq(s.reserved_bytes, s.live_bytes + s.cached_bytes);
}

static void teardown(void) {
  tp_pool_destroy(pool);
}

TestSuite(pool_errors, .init = setup, .fini = teardown);

Test(pool_errors, size_zero) {
  void *p = (void *)1;
  cr_expect_eq(tp_pool_alloc(pool, 0, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(p, "out-pointer cleared on failure");
  expect_message("size 0");
  expect_pool_intact(1);
}

Test(pool_errors, sizes_near_size_max_overflow_while_rounding) {
  void *p;
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 255,
                         SIZE_MAX / 2 + 2};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    cr_expect_eq(tp_pool_alloc(pool, huge[i], NULL, &p), TP_ERR_OVERFLOW,
                 "size %zu", huge[i]);
    expect_message("cannot be rounded to a size class");
  }
  expect_pool_intact(4);
}

Test(pool_errors, huge_size_that_rounds_but_upstream_cannot_give) {
  void *p;
  /* 2^62 bytes rounds to a class but no machine has it. */
  cr_expect_eq(tp_pool_alloc(pool, (size_t)1 << 62, NULL, &p),
               TP_ERR_OUT_OF_MEMORY);
  expect_message("upstream is exhausted");
  expect_message("no limit;");
  expect_pool_intact(1);
}

Test(pool_errors, null_pool_and_null_out_pointer) {
  void *p;
  cr_expect_eq(tp_pool_alloc(NULL, 8, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pool_alloc(pool, 8, NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  expect_message("NULL out-pointer");
  cr_expect_eq(tp_pool_free(NULL, p, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pool_trim(NULL, 0), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pool_get_stats(NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_pool_destroy(NULL), TP_SUCCESS); /* as every destroy */
  cr_expect_eq(tp_pool_raw_allocator(NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(tp_pool_space(NULL));
  expect_pool_intact(0);
}

Test(pool_errors, null_config_pieces_and_bad_configs) {
  tp_pool *other = (tp_pool *)1;
  cr_expect_eq(tp_pool_create(NULL, NULL, &other), TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(other);
  cr_expect_eq(tp_pool_create(tp_host_space(), NULL, NULL),
               TP_ERR_INVALID_ARGUMENT);
  tp_space no_ops = *tp_host_space();
  no_ops.ops = NULL;
  cr_expect_eq(tp_pool_create(&no_ops, NULL, &other), TP_ERR_INVALID_ARGUMENT);
  tp_space_ops half = *tp_host_space()->ops;
  half.stream_wait = NULL;
  tp_space half_space = *tp_host_space();
  half_space.ops = &half;
  cr_expect_eq(tp_pool_create(&half_space, NULL, &other),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("leaves an operation NULL");
  tp_pool_config c = TP_POOL_CONFIG_INIT;
  c.divisions = 3;
  cr_expect_eq(tp_pool_create(tp_host_space(), &c, &other),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("divisions must be 1, 2, 4, 8 or 16, not 3");
  c = (tp_pool_config)TP_POOL_CONFIG_INIT;
  c.limit = 0;
  cr_expect_eq(tp_pool_create(tp_host_space(), &c, &other),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("limit of 0 bytes");
  cr_expect_eq(tp_pool_set_limit(pool, 0), TP_ERR_INVALID_ARGUMENT);
  expect_pool_intact(0);
}

Test(pool_errors, freeing_null_does_nothing) {
  cr_expect_eq(tp_pool_free(pool, NULL, NULL), TP_SUCCESS);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.deallocations, 0);
  expect_pool_intact(0);
}

Test(pool_errors, pointer_from_another_pool) {
  tp_pool *other;
  cr_assert_eq(tp_pool_create(tp_host_space(), NULL, &other), TP_SUCCESS);
  void *foreign;
  cr_assert_eq(tp_pool_alloc(other, 1000, NULL, &foreign), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, foreign, NULL), TP_ERR_INVALID_POINTER);
  expect_message("was not allocated by this pool");
  /* The owner can still free it. */
  cr_expect_eq(tp_pool_free(other, foreign, NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(other), TP_SUCCESS);
  int on_stack;
  cr_expect_eq(tp_pool_free(pool, &on_stack, NULL), TP_ERR_INVALID_POINTER);
  expect_pool_intact(2);
}

Test(pool_errors, interior_pointer) {
  char *p;
  cr_assert_eq(tp_pool_alloc(pool, 5000, NULL, (void **)&p), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, p + 300, NULL), TP_ERR_INVALID_POINTER);
  expect_message("interior pointer, 300 bytes into the block");
  size_t usable;
  cr_expect_eq(tp_pool_block_size(pool, p + 300, &usable),
               TP_ERR_INVALID_POINTER);
  /* The block itself is still live and freeable. */
  cr_expect_eq(tp_pool_block_size(pool, p, &usable), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  expect_pool_intact(1);
}

Test(pool_errors, same_pointer_twice) {
  void *p, *q;
  cr_assert_eq(tp_pool_alloc(pool, 2000, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, p, NULL), TP_ERR_INVALID_POINTER);
  expect_message("double free");
  /* The free block was not filed twice: two allocations of its size get
   * two different blocks. */
  cr_assert_eq(tp_pool_alloc(pool, 2000, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 2000, NULL, &q), TP_SUCCESS);
  cr_expect_neq(p, q);
  tp_pool_free(pool, p, NULL);
  tp_pool_free(pool, q, NULL);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(pool, &s);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.cached_bytes, s.reserved_bytes, "both free, and merged");
  expect_pool_intact(1);
}

Test(pool_errors, freed_then_released_pointer_is_refused) {
  void *p;
  cr_assert_eq(tp_pool_alloc(pool, 2000, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_assert_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, p, NULL), TP_ERR_INVALID_POINTER);
  expect_message("freed and already released");
  expect_pool_intact(1);
}

Test(pool_errors, upstream_failure_in_the_middle_of_a_burst) {
  tp_sim *sim = tp_sim_create(SIZE_MAX);
  tp_pool *p;
  cr_assert_eq(tp_pool_create(tp_sim_space(sim), NULL, &p), TP_SUCCESS);
  void *blocks[40];
  int failed = 0;
  for (int i = 0; i < 40; i++) {
    /* 4 MiB needs a segment of its own; both tries (the segment, then just
     * the request) fail. */
    size_t bytes = i == 20 ? (size_t)4 << 20 : 1024 * (size_t)(i + 1);
    if (i == 20)
      tp_sim_fail_next_gets(sim, 2);
    tp_status st = tp_pool_alloc(p, bytes, NULL, &blocks[i]);
    if (i == 20) {
      cr_expect_eq(st, TP_ERR_OUT_OF_MEMORY);
      expect_message("cannot serve 4194304 bytes");
      blocks[i] = NULL;
      failed++;
    } else {
      cr_assert_eq(st, TP_SUCCESS, "%d: %s", i, tp_last_error());
      memset(blocks[i], i, 1024 * (size_t)(i + 1));
    }
  }
  for (int i = 0; i < 40; i++) {
    if (!blocks[i])
      continue;
    unsigned char *b = blocks[i];
    cr_expect_eq(b[0], (unsigned char)i);
    cr_expect_eq(b[1024 * (size_t)(i + 1) - 1], (unsigned char)i);
    cr_assert_eq(tp_pool_free(p, blocks[i], NULL), TP_SUCCESS);
  }
  tp_pool_stats s = TP_POOL_STATS_INIT;
  tp_pool_get_stats(p, &s);
  cr_expect_eq(s.failures, (uint64_t)failed);
  cr_expect_eq(s.allocations, 39);
  cr_expect_eq(s.live_blocks, 0);
  cr_expect_eq(s.reserved_bytes, s.cached_bytes);
  cr_expect_eq(s.reserved_bytes, tp_sim_get_counters(sim).bytes_out);
  cr_expect_eq(tp_pool_destroy(p), TP_SUCCESS);
  cr_expect_eq(tp_sim_destroy(sim), 0);
}
