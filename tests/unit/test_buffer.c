#include <criterion/criterion.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensorpool/allocator.h"

TestSuite(buffer, .init = setup, .fini = teardown);

Test(buffer, accessors_describe_what_was_allocated) {
  tp_layout l = matrix(TP_C64, 6, 5);
  tp_buffer *b;
  tp_stream stream = (tp_stream)0x10;
  cr_assert_eq(
      tp_allocator_allocate(host(TP_BUFFER_REPLICATED), &l, NULL, stream, &b),
      TP_SUCCESS);
  cr_expect_eq(tp_buffer_kind_of(b), TP_BUFFER_REPLICATED);
  int same;
  tp_layout_equal(tp_buffer_layout(b), &l, &same);
  cr_expect(same);
  cr_expect_eq(tp_buffer_tile(b)->count, 30);
  cr_expect_eq(tp_buffer_tile(b)->extents[0], 6);
  cr_expect_eq(tp_buffer_bytes(b), 30 * 8);
  cr_expect_not_null(tp_buffer_data(b));
  cr_expect_eq((uintptr_t)tp_buffer_data(b) % 256, 0);
  cr_expect_eq(tp_buffer_space(b)->kind, TP_SPACE_HOST);
  cr_expect_eq(tp_buffer_stream(b), stream);
  cr_expect_eq(tp_buffer_allocator(b), host(TP_BUFFER_REPLICATED));
  cr_expect_null(tp_buffer_tiling(b));
  cr_expect_eq(stats().live_blocks, 1);
  cr_assert_eq(tp_buffer_set_stream(b, (tp_stream)0x20), TP_SUCCESS);
  cr_expect_eq(tp_buffer_stream(b), (tp_stream)0x20);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect_eq(stats().live_blocks, 0);
  cr_expect_eq(tp_buffer_destroy(NULL), TP_SUCCESS);
}

Test(buffer, distributed_buffer_on_one_rank_holds_everything) {
  tp_layout l = matrix(TP_F64, 4, 3);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_allocate(host(TP_BUFFER_DISTRIBUTED), &l, NULL, NULL, &b),
      TP_SUCCESS);
  cr_expect_not_null(tp_buffer_tiling(b));
  cr_expect_eq(tp_tiling_parts(tp_buffer_tiling(b)), 1);
  cr_expect_eq(tp_buffer_tile(b)->count, 12);
  tp_distributed_buffer *d = tp_buffer_as_distributed(b);
  cr_assert_not_null(d);
  tp_tile t;
  cr_expect_eq(tp_distributed_buffer_tile_of(d, 0, &t), TP_SUCCESS);
  cr_expect_eq(t.count, 12);
  cr_expect_eq(tp_distributed_buffer_tile_of(d, 1, &t),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_distributed_buffer_tiling(d), tp_buffer_tiling(b));
  cr_expect_eq(tp_distributed_buffer_base(d), b);
  tp_buffer_destroy(b);
}

Test(buffer, downcasts_to_the_wrong_kind_are_null_with_a_reason) {
  tp_layout l = matrix(TP_F32, 2, 2);
  tp_buffer *b;
  cr_assert_eq(tp_allocator_allocate(host(TP_BUFFER_LOCAL), &l, NULL, NULL, &b),
               TP_SUCCESS);
  tp_local_buffer *local = tp_buffer_as_local(b);
  cr_expect_not_null(local);
  cr_expect_eq(tp_local_buffer_base(local), b);
  cr_expect_null(tp_buffer_as_replicated(b));
  cr_expect_not_null(strstr(tp_last_error(), "local, not replicated"));
  cr_expect_null(tp_buffer_as_distributed(b));
  cr_expect_not_null(strstr(tp_last_error(), "local, not distributed"));
  cr_expect_null(tp_buffer_as_local(NULL));
  cr_expect_not_null(strstr(tp_last_error(), "NULL buffer"));
  tp_buffer_destroy(b);
}

static tp_status on_local(void *user, tp_local_buffer *b) {
  (void)b;
  *(int *)user = 1;
  return TP_SUCCESS;
}
static tp_status on_replicated(void *user, tp_replicated_buffer *b) {
  *(int *)user = 10 * tp_replicated_buffer_ranks(b);
  return TP_SUCCESS;
}
static tp_status on_distributed(void *user, tp_distributed_buffer *b) {
  (void)b;
  *(int *)user = 3;
  return TP_SUCCESS;
}

Test(buffer, visitor_dispatches_on_kind) {
  tp_layout l = matrix(TP_I32, 2, 2);
  tp_buffer_visitor v = {on_local, on_replicated, on_distributed};
  int expect[3] = {1, 10, 3};
  for (int k = 0; k < 3; ++k) {
    tp_buffer *b;
    cr_assert_eq(
        tp_allocator_allocate(host((tp_buffer_kind)k), &l, NULL, NULL, &b),
        TP_SUCCESS);
    int seen = 0;
    cr_expect_eq(tp_buffer_visit(b, &v, &seen), TP_SUCCESS);
    cr_expect_eq(seen, expect[k], "kind %d", k);
    tp_buffer_destroy(b);
  }
  tp_buffer_visitor partial = {on_local, NULL, NULL};
  tp_buffer *b;
  tp_allocator_allocate(host(TP_BUFFER_REPLICATED), &l, NULL, NULL, &b);
  int seen = 0;
  cr_expect_eq(tp_buffer_visit(b, &partial, &seen), TP_ERR_NOT_SUPPORTED);
  cr_expect_eq(seen, 0);
  cr_expect_eq(tp_buffer_visit(b, NULL, &seen), TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(b);
}

Test(buffer, an_empty_tensor_has_no_memory_and_needs_no_pool_call) {
  tp_layout l = matrix(TP_F64, 0, 7);
  uint64_t calls = stats().allocations + stats().failures;
  for (int k = 0; k < 3; ++k) {
    tp_buffer *b;
    cr_assert_eq(tp_allocator_construct_value(host((tp_buffer_kind)k), &l, NULL,
                                              tp_scalar_real(1), NULL, &b),
                 TP_SUCCESS);
    cr_expect_null(tp_buffer_data(b));
    cr_expect_eq(tp_buffer_bytes(b), 0);
    cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
  }
  cr_expect_eq(stats().allocations + stats().failures, calls);
}

Test(buffer, bad_arguments_allocate_nothing) {
  tp_layout l = matrix(TP_F64, 3, 3);
  tp_buffer *b = (tp_buffer *)0x1;
  cr_expect_eq(tp_allocator_allocate(NULL, &l, NULL, NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(
      tp_allocator_allocate(host(TP_BUFFER_LOCAL), NULL, NULL, NULL, &b),
      TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(
      tp_allocator_allocate(host(TP_BUFFER_LOCAL), &l, NULL, NULL, NULL),
      TP_ERR_INVALID_ARGUMENT);
  /* A tiling only goes with a distributed allocator. */
  tp_tiling *t;
  tp_tiling_create_block(&l, 1, &t);
  cr_expect_eq(tp_allocator_allocate(host(TP_BUFFER_LOCAL), &l, t, NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  /* A tiling for another layout, or another number of ranks. */
  tp_layout other = matrix(TP_F64, 4, 3);
  cr_expect_eq(
      tp_allocator_allocate(host(TP_BUFFER_DISTRIBUTED), &other, t, NULL, &b),
      TP_ERR_MISMATCH);
  tp_tiling *two;
  tp_tiling_create_block(&l, 2, &two);
  cr_expect_eq(
      tp_allocator_allocate(host(TP_BUFFER_DISTRIBUTED), &l, two, NULL, &b),
      TP_ERR_MISMATCH);
  cr_expect_not_null(strstr(tp_last_error(), "over 1 ranks"));
  tp_tiling_destroy(two);
  tp_tiling_destroy(t);
  /* Overflowing extents in a hand-made layout. */
  tp_layout huge = l;
  huge.extents[0] = huge.extents[1] = INT64_C(1) << 40;
  cr_expect_eq(
      tp_allocator_allocate(host(TP_BUFFER_LOCAL), &huge, NULL, NULL, &b),
      TP_ERR_OVERFLOW);
  cr_expect_eq(b, (tp_buffer *)0x1);
  cr_expect_eq(stats().live_blocks, 0);
}
