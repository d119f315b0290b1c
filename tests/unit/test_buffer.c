#include <criterion/criterion.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensorpool/allocator.h"

TestSuite(buffer, .init = setup, .fini = teardown);

Test(buffer, accessors_describe_what_was_allocated) {
  tp_layout l = matrix(TP_DTYPE_C64, 6, 5);
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
  tp_layout l = matrix(TP_DTYPE_F64, 4, 3);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_allocate(host(TP_BUFFER_DISTRIBUTED), &l, NULL, NULL, &b),
      TP_SUCCESS);
  cr_expect_not_null(tp_buffer_tiling(b));
  cr_expect_eq(tp_tiling_parts(tp_buffer_tiling(b)), 1);
  cr_expect_eq(tp_buffer_tile(b)->count, 12);
  tp_tile t;
  cr_expect_eq(tp_buffer_tile_of(b, 0, &t), TP_SUCCESS);
  cr_expect_eq(t.count, 12);
  cr_expect_eq(tp_buffer_tile_of(b, 1, &t), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "rank 1 is outside 0..0"));
  cr_expect_eq(tp_buffer_tile_of(b, 0, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_tile_of(NULL, 0, &t), TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(b);
}

Test(buffer, tile_of_a_whole_tensor_buffer_is_the_whole_tensor) {
  tp_layout l = matrix(TP_DTYPE_F32, 3, 2);
  tp_buffer *b;
  cr_assert_eq(tp_allocator_allocate(host(TP_BUFFER_LOCAL), &l, NULL, NULL, &b),
               TP_SUCCESS);
  tp_tile t;
  cr_assert_eq(tp_buffer_tile_of(b, 0, &t), TP_SUCCESS);
  cr_expect_eq(t.count, 6);
  cr_expect_eq(t.first, 0);
  cr_expect_eq(t.extents[0], 3);
  cr_expect_eq(t.extents[1], 2);
  tp_buffer_destroy(b);
}

Test(buffer, an_empty_tensor_has_no_memory_and_needs_no_pool_call) {
  tp_layout l = matrix(TP_DTYPE_F64, 0, 7);
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
  tp_layout l = matrix(TP_DTYPE_F64, 3, 3);
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
  tp_layout other = matrix(TP_DTYPE_F64, 4, 3);
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
