/* Reading and writing buffer values from the host: tp_buffer_read,
 * tp_buffer_write, tp_buffer_synchronize, tp_buffer_is_host_accessible.
 * Run plainly and again with the pretend device (tests/CMakeLists.txt),
 * where device buffers are memory the host cannot touch directly. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

TestSuite(buffer_io, .init = setup, .fini = teardown);

/* Every space this runtime has, host first. */
static int spaces(tp_space_kind out[3]) {
  int n = 0;
  tp_space_kind all[3] = {TP_SPACE_HOST, TP_SPACE_PINNED, TP_SPACE_DEVICE};
  for (int i = 0; i < 3; ++i)
    if (tp_runtime_has_backend(rt, all[i]))
      out[n++] = all[i];
  return n;
}

static tp_allocator *allocator_of(tp_space_kind space, tp_buffer_kind kind) {
  tp_allocator *a;
  cr_assert_eq(tp_runtime_allocator(rt, space, kind, &a), TP_SUCCESS);
  return a;
}

Test(buffer_io, read_gives_the_constructed_values_in_every_space) {
  tp_space_kind in[3];
  int n = spaces(in);
  tp_layout l = matrix(TP_DTYPE_I64, 7, 9);
  tp_generator g = tp_generator_arange(5, 3);
  for (int s = 0; s < n; ++s)
    for (int k = 0; k < TP_BUFFER_KIND_COUNT; ++k) {
      tp_buffer *b;
      cr_assert_eq(
          tp_allocator_construct_generator(
              allocator_of(in[s], (tp_buffer_kind)k), &l, NULL, &g, NULL, &b),
          TP_SUCCESS, "%s", tp_last_error());
      int64_t v[63];
      memset(v, 0, sizeof v);
      cr_assert_eq(tp_buffer_read(b, 0, sizeof v, v), TP_SUCCESS, "%s",
                   tp_last_error());
      for (int i = 0; i < 63; ++i)
        cr_expect_eq(v[i], 5 + 3 * i, "%s %s element %d",
                     tp_space_kind_name(in[s]),
                     tp_buffer_kind_name((tp_buffer_kind)k), i);
      /* A range in the middle: element 40 and the next two. */
      int64_t three[3];
      cr_assert_eq(tp_buffer_read(b, 40 * 8, sizeof three, three), TP_SUCCESS);
      cr_expect_eq(three[0], 125);
      cr_expect_eq(three[2], 131);
      cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
    }
}

Test(buffer_io, write_then_read_round_trips_and_later_work_sees_it) {
  tp_space_kind in[3];
  int n = spaces(in);
  tp_layout l = matrix(TP_DTYPE_F64, 4, 4);
  for (int s = 0; s < n; ++s) {
    tp_allocator *a = allocator_of(in[s], TP_BUFFER_LOCAL);
    tp_buffer *b, *copy;
    cr_assert_eq(
        tp_allocator_construct_value(a, &l, NULL, tp_scalar_real(0), NULL, &b),
        TP_SUCCESS);
    double row[4] = {1.5, -2.5, 3.25, 1e300};
    cr_assert_eq(tp_buffer_write(b, 2 * sizeof row, sizeof row, row),
                 TP_SUCCESS, "%s", tp_last_error());
    /* A copy made afterwards (work on the buffer's stream) has the row. */
    cr_assert_eq(tp_buffer_clone(b, NULL, &copy), TP_SUCCESS);
    double all[16];
    cr_assert_eq(tp_buffer_read(copy, 0, sizeof all, all), TP_SUCCESS);
    for (int i = 0; i < 16; ++i)
      cr_expect_eq(all[i], i / 4 == 2 ? row[i % 4] : 0.0, "%s element %d",
                   tp_space_kind_name(in[s]), i);
    tp_buffer_destroy(copy);
    tp_buffer_destroy(b);
  }
}

Test(buffer_io, ranges_outside_the_tile_are_refused_and_copy_nothing) {
  tp_layout l = matrix(TP_DTYPE_F32, 2, 3); /* 24 bytes */
  tp_buffer *b;
  cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                            tp_scalar_real(1), NULL, &b),
               TP_SUCCESS);
  float out[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  cr_expect_eq(tp_buffer_read(b, 0, 28, out), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "24 bytes"), "%s",
                     tp_last_error());
  cr_expect_eq(tp_buffer_read(b, 20, 8, out), TP_ERR_INVALID_ARGUMENT);
  /* offset + bytes would wrap around: still refused. */
  cr_expect_eq(tp_buffer_read(b, 8, SIZE_MAX - 4, out),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_write(b, 25, 1, out), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(out[0], 9.0f, "nothing was copied");
  cr_expect_eq(((const float *)tp_buffer_data(b))[5], 1.0f, "nor written");
  cr_expect_eq(tp_buffer_read(b, 4, 0, NULL), TP_SUCCESS,
               "zero bytes need no destination");
  cr_expect_eq(tp_buffer_read(b, 0, 4, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_write(b, 0, 4, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_read(NULL, 0, 4, out), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_write(NULL, 0, 0, out), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_synchronize(NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_synchronize(b), TP_SUCCESS);
  cr_expect_eq(stats().live_blocks, 1, "refused calls allocate nothing");
  tp_buffer_destroy(b);
}

Test(buffer_io, an_empty_tile_reads_zero_bytes) {
  tp_layout l = matrix(TP_DTYPE_F64, 0, 5);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_allocate(host(TP_BUFFER_DISTRIBUTED), &l, NULL, NULL, &b),
      TP_SUCCESS);
  double x;
  cr_expect_eq(tp_buffer_read(b, 0, 0, &x), TP_SUCCESS);
  cr_expect_eq(tp_buffer_read(b, 0, 8, &x), TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(b);
}

Test(buffer_io, host_accessibility_follows_the_space) {
  cr_expect_eq(tp_buffer_is_host_accessible(NULL), 0);
  tp_space_kind in[3];
  int n = spaces(in);
  tp_layout l = matrix(TP_DTYPE_I32, 3, 3);
  for (int s = 0; s < n; ++s) {
    tp_buffer *b;
    cr_assert_eq(tp_allocator_allocate(allocator_of(in[s], TP_BUFFER_LOCAL), &l,
                                       NULL, NULL, &b),
                 TP_SUCCESS);
    cr_expect_eq(tp_buffer_is_host_accessible(b), in[s] != TP_SPACE_DEVICE,
                 "%s", tp_space_kind_name(in[s]));
    cr_expect_eq(tp_buffer_synchronize(b), TP_SUCCESS);
    tp_buffer_destroy(b);
  }
}
