#include <criterion/criterion.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

TestSuite(allocator, .init = setup, .fini = teardown);

Test(allocator, rebind_keeps_the_backend_and_names_say_what_they_are) {
  tp_allocator *d = host(TP_BUFFER_DISTRIBUTED), *r;
  cr_assert_eq(tp_allocator_rebind(d, TP_BUFFER_REPLICATED, &r), TP_SUCCESS);
  cr_expect_eq(r, host(TP_BUFFER_REPLICATED));
  cr_expect_eq(tp_allocator_kind_of(r), TP_BUFFER_REPLICATED);
  cr_expect_eq(tp_allocator_space_kind_of(r), TP_SPACE_HOST);
  cr_expect_eq(tp_allocator_runtime(r), rt);
  cr_expect_str_eq(tp_allocator_name(d), "host/distributed");
  cr_expect_eq(tp_allocator_rebind(d, (tp_buffer_kind)9, &r),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_allocator_rebind(NULL, TP_BUFFER_LOCAL, &r),
               TP_ERR_INVALID_ARGUMENT);
}

Test(allocator, a_missing_device_backend_is_no_device_with_the_reason) {
  if (tp_runtime_has_backend(rt, TP_SPACE_DEVICE))
    cr_skip_test("this runtime has a device backend: the no-device path "
                 "cannot be exercised here");
  tp_allocator *a = NULL;
  cr_expect_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_ERR_NO_DEVICE);
  cr_expect_not_null(strstr(tp_last_error(), "no device backend"), "%s",
                     tp_last_error());
  cr_expect_null(a);
}

Test(allocator, construct_with_a_constant_of_every_type) {
  tp_dtype types[6] = {TP_DTYPE_F32,  TP_DTYPE_F64, TP_DTYPE_C64,
                       TP_DTYPE_C128, TP_DTYPE_I32, TP_DTYPE_I64};
  for (int t = 0; t < 6; ++t) {
    tp_layout l = matrix(types[t], 5, 7);
    tp_scalar v = types[t] == TP_DTYPE_C64 || types[t] == TP_DTYPE_C128
                      ? tp_scalar_complex(2.5, -1)
                  : types[t] >= TP_DTYPE_I32 ? tp_scalar_int(-42)
                                             : tp_scalar_real(2.5);
    unsigned char one[16];
    cr_assert_eq(tp_scalar_store(v, types[t], one), TP_SUCCESS);
    tp_buffer *b;
    cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                              v, NULL, &b),
                 TP_SUCCESS);
    size_t elem = tp_dtype_size(types[t]);
    const unsigned char *d = tp_buffer_data(b);
    for (int i = 0; i < 35; ++i)
      cr_assert_eq(memcmp(d + i * elem, one, elem), 0, "%s element %d",
                   tp_dtype_name(types[t]), i);
    tp_buffer_destroy(b);
  }
}

Test(allocator, a_constant_the_type_cannot_hold_allocates_nothing) {
  tp_layout l = matrix(TP_DTYPE_I32, 2, 2);
  tp_buffer *b = NULL;
  cr_expect_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                            tp_scalar_real(0.5), NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                            tp_scalar_int(INT64_C(1) << 40),
                                            NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "i32"));
  tp_layout f = matrix(TP_DTYPE_F64, 2, 2);
  cr_expect_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &f, NULL,
                                            tp_scalar_complex(1, 1), NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(b);
  cr_expect_eq(stats().allocations, 0);
}

Test(allocator, construct_with_a_generator_gives_its_values) {
  tp_layout l = matrix(TP_DTYPE_I64, 4, 3);
  tp_generator g = tp_generator_arange(10, 2);
  tp_buffer *b;
  cr_assert_eq(tp_allocator_construct_generator(host(TP_BUFFER_DISTRIBUTED), &l,
                                                NULL, &g, NULL, &b),
               TP_SUCCESS);
  const int64_t *v = tp_buffer_data(b);
  for (int i = 0; i < 12; ++i)
    cr_expect_eq(v[i], 10 + 2 * i);
  tp_buffer_destroy(b);

  tp_layout sq = matrix(TP_DTYPE_F32, 3, 3);
  g = tp_generator_identity(1);
  cr_assert_eq(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &sq,
                                                NULL, &g, NULL, &b),
               TP_SUCCESS);
  const float *m = tp_buffer_data(b);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      cr_expect_eq(m[i * 3 + j], i == j ? 1.f : 0.f);
  tp_buffer_destroy(b);

  g = tp_generator_normal(1, 0, 1);
  tp_buffer *bad = NULL;
  cr_expect_eq(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL,
                                                &g, NULL, &bad),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_allocator_construct_generator(host(TP_BUFFER_LOCAL), &l, NULL,
                                                NULL, NULL, &bad),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(bad);
}

typedef struct fill_log {
  int calls;
  int fail_with;
  tp_stream stream;
} fill_log;

static int fill_rows(void *user, const tp_layout *layout, const tp_tile *tile,
                     void *data, tp_stream stream) {
  fill_log *log = user;
  log->calls++;
  log->stream = stream;
  if (log->fail_with)
    return log->fail_with;
  double *d = data;
  /* Value = global row * 100 + column, from the tile's global offsets. */
  for (int64_t i = 0; i < tile->extents[0]; ++i)
    for (int64_t j = 0; j < layout->extents[1]; ++j)
      d[i * layout->extents[1] + j] =
          (double)((tile->offsets[0] + i) * 100 + j);
  return 0;
}

Test(allocator, construct_with_a_tile_callback) {
  tp_layout l = matrix(TP_DTYPE_F64, 3, 4);
  fill_log log = {0, 0, NULL};
  tp_buffer *b;
  cr_assert_eq(tp_allocator_construct_tiles(host(TP_BUFFER_DISTRIBUTED), &l,
                                            NULL, fill_rows, &log,
                                            (tp_stream)0x7, &b),
               TP_SUCCESS);
  cr_expect_eq(log.calls, 1);
  cr_expect_eq(log.stream, (tp_stream)0x7);
  const double *d = tp_buffer_data(b);
  cr_expect_eq(d[2 * 4 + 3], 203.0);
  tp_buffer_destroy(b);
}

Test(allocator, a_failing_callback_frees_everything_and_says_so) {
  tp_layout l = matrix(TP_DTYPE_F64, 3, 4);
  tp_buffer *keep;
  cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                            tp_scalar_real(7), NULL, &keep),
               TP_SUCCESS);
  fill_log log = {0, -3, NULL};
  tp_buffer *b = NULL;
  cr_expect_eq(tp_allocator_construct_tiles(host(TP_BUFFER_REPLICATED), &l,
                                            NULL, fill_rows, &log, NULL, &b),
               TP_ERR_CALLBACK);
  cr_expect_not_null(strstr(tp_last_error(), "returned -3"));
  cr_expect_null(b);
  cr_expect_eq(stats().live_blocks, 1, "only the other buffer is live");
  cr_expect_eq(((double *)tp_buffer_data(keep))[11], 7.0);
  cr_expect_eq(tp_allocator_construct_tiles(host(TP_BUFFER_LOCAL), &l, NULL,
                                            NULL, NULL, NULL, &b),
               TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(keep);
}

Test(allocator, an_exhausted_budget_fails_and_loses_nothing) {
  tp_layout small = matrix(TP_DTYPE_F64, 16, 16); /* 2 KiB */
  cr_assert_eq(tp_runtime_set_budget(rt, TP_SPACE_HOST, 64 * 1024), TP_SUCCESS);
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  cr_assert_eq(tp_runtime_memory(rt, TP_SPACE_HOST, &f), TP_SUCCESS);
  cr_expect_eq(f.budget_bytes, 64 * 1024);
  tp_buffer *keep;
  cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &small, NULL,
                                            tp_scalar_real(3), NULL, &keep),
               TP_SUCCESS);
  tp_layout big = matrix(TP_DTYPE_F64, 1024, 1024); /* 8 MiB */
  tp_buffer *b = NULL;
  cr_expect_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &big, NULL,
                                            tp_scalar_real(1), NULL, &b),
               TP_ERR_OUT_OF_MEMORY);
  cr_expect_not_null(strstr(tp_last_error(), "host/local"));
  cr_expect_null(b);
  cr_expect_eq(((double *)tp_buffer_data(keep))[255], 3.0);
  /* The automatic allocator sees the budget too. Host access asked for: a
   * device, if there is one, is no way out. */
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  cr_expect_eq(
      tp_allocator_choose(rt, &big, TP_BUFFER_LOCAL, TP_ACCESS_HOST, &c),
      TP_ERR_OUT_OF_MEMORY);
  cr_expect_not_null(strstr(c.reason, "exceed"), "%s", c.reason);
  /* Raising the budget makes it fit again. */
  cr_assert_eq(tp_runtime_set_budget(rt, TP_SPACE_HOST, TP_UNLIMITED),
               TP_SUCCESS);
  cr_expect_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &big, NULL,
                                            tp_scalar_real(1), NULL, &b),
               TP_SUCCESS);
  tp_buffer_destroy(b);
  tp_buffer_destroy(keep);
}

Test(allocator, automatic_choice_reports_its_reason) {
  tp_layout l = matrix(TP_DTYPE_F32, 100, 100);
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  cr_assert_eq(
      tp_allocator_choose(rt, &l, TP_BUFFER_REPLICATED, TP_ACCESS_ANY, &c),
      TP_SUCCESS);
  cr_expect_eq(tp_allocator_kind_of(c.allocator), TP_BUFFER_REPLICATED);
  /* 40000 bytes: below TP_AUTO_DEVICE_MIN_BYTES, the host either way. */
  cr_expect_eq(c.space, TP_SPACE_HOST);
  if (!tp_runtime_has_backend(rt, TP_SPACE_DEVICE))
    cr_expect_not_null(strstr(c.reason, "no device backend"), "%s", c.reason);
  else
    cr_expect_not_null(strstr(c.reason, "too small"), "%s", c.reason);
  cr_expect_not_null(strstr(c.reason, "40000 bytes"), "%s", c.reason);
  cr_expect_eq(
      tp_allocator_choose(rt, NULL, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_allocator_choose(rt, &l, TP_BUFFER_LOCAL, (tp_access)5, &c),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "access 5"), "%s",
                     tp_last_error());
}

/* What a user of the automatic choice relies on, with or without a device:
 * TP_ACCESS_HOST gives memory the host may dereference; TP_ACCESS_ANY puts a
 * big tensor on the device when there is one, and its values still reach
 * the host through tp_buffer_read. */
Test(allocator, automatic_choice_honours_the_access_asked_for) {
  tp_layout big = matrix(TP_DTYPE_F64, 256, 64); /* 128 KiB */
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  cr_assert_eq(
      tp_allocator_choose(rt, &big, TP_BUFFER_LOCAL, TP_ACCESS_HOST, &c),
      TP_SUCCESS);
  cr_expect_eq(c.space, TP_SPACE_HOST);
  cr_expect_not_null(strstr(c.reason, "host access"), "%s", c.reason);
  tp_buffer *b;
  cr_assert_eq(tp_allocator_construct_value(c.allocator, &big, NULL,
                                            tp_scalar_real(2), NULL, &b),
               TP_SUCCESS);
  cr_expect(tp_buffer_is_host_accessible(b));
  cr_expect_eq(((const double *)tp_buffer_data(b))[256 * 64 - 1], 2.0);
  tp_buffer_destroy(b);

  cr_assert_eq(
      tp_allocator_choose(rt, &big, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_SUCCESS);
  int device = tp_runtime_has_backend(rt, TP_SPACE_DEVICE);
  cr_expect_eq(c.space, device ? TP_SPACE_DEVICE : TP_SPACE_HOST, "%s",
               c.reason);
  tp_generator g = tp_generator_arange(0, 1);
  cr_assert_eq(
      tp_allocator_construct_generator(c.allocator, &big, NULL, &g, NULL, &b),
      TP_SUCCESS);
  cr_expect_eq(tp_buffer_is_host_accessible(b), !device);
  double last = 0;
  cr_assert_eq(
      tp_buffer_read(b, (256 * 64 - 1) * sizeof last, sizeof last, &last),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(last, 256.0 * 64 - 1);
  tp_buffer_destroy(b);
}

/* An empty tensor whose first extent is near INT64_MAX holds 0 bytes on every
 * rank; the largest tile's row count must not overflow on the way there
 * (it did: rows + ranks - 1, caught by UBSan). */
Test(allocator, automatic_choice_of_an_empty_tensor_with_a_huge_first_extent) {
  int64_t ext[2] = {INT64_MAX, 0};
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, ext, &l), TP_SUCCESS);
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  cr_assert_eq(
      tp_allocator_choose(rt, &l, TP_BUFFER_DISTRIBUTED, TP_ACCESS_ANY, &c),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(c.space, TP_SPACE_HOST);
  cr_expect_not_null(strstr(c.reason, " 0 bytes per rank"), "%s", c.reason);
}

static tp_buffer *arange(tp_buffer_kind kind, tp_layout l) {
  tp_generator g = tp_generator_arange(0, 1);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_construct_generator(host(kind), &l, NULL, &g, NULL, &b),
      TP_SUCCESS);
  return b;
}

Test(allocator, copies_convert_between_every_pair_of_kinds) {
  tp_layout l = matrix(TP_DTYPE_F64, 5, 3);
  for (int from = 0; from < 3; ++from)
    for (int to = 0; to < 3; ++to) {
      tp_buffer *src = arange((tp_buffer_kind)from, l), *dst;
      cr_assert_eq(tp_allocator_construct_copy(host((tp_buffer_kind)to), src,
                                               NULL, NULL, &dst),
                   TP_SUCCESS, "%d -> %d: %s", from, to, tp_last_error());
      cr_expect_eq(tp_buffer_kind_of(dst), (tp_buffer_kind)to);
      cr_expect_neq(tp_buffer_data(dst), tp_buffer_data(src));
      const double *d = tp_buffer_data(dst);
      for (int i = 0; i < 15; ++i)
        cr_expect_eq(d[i], (double)i);
      tp_buffer_destroy(dst);
      tp_buffer_destroy(src);
    }
  tp_buffer *dst = NULL;
  cr_expect_eq(tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), NULL, NULL,
                                           NULL, &dst),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(dst);
}

Test(allocator, a_move_reuses_storage_and_empties_the_source) {
  tp_layout l = matrix(TP_DTYPE_I32, 4, 4);
  tp_buffer *src = arange(TP_BUFFER_REPLICATED, l), *dst;
  void *data = tp_buffer_data(src);
  uint64_t allocations = stats().allocations;
  cr_assert_eq(tp_allocator_construct_move(host(TP_BUFFER_LOCAL), &src, NULL,
                                           NULL, &dst),
               TP_SUCCESS);
  cr_expect_null(src, "the moved-from handle is empty");
  cr_expect_eq(tp_buffer_data(dst), data, "the storage was reused");
  cr_expect_eq(tp_buffer_kind_of(dst), TP_BUFFER_LOCAL);
  cr_expect_eq(tp_buffer_allocator(dst), host(TP_BUFFER_LOCAL));
  cr_expect_eq(stats().allocations, allocations);
  cr_expect_eq(((int32_t *)tp_buffer_data(dst))[15], 15);

  /* On one rank a distributed buffer holds the whole tensor too: local ->
   * distributed -> replicated reuse the storage both ways. */
  tp_buffer *dist;
  cr_assert_eq(tp_allocator_construct_move(host(TP_BUFFER_DISTRIBUTED), &dst,
                                           NULL, NULL, &dist),
               TP_SUCCESS);
  cr_expect_null(dst);
  cr_expect_eq(tp_buffer_data(dist), data, "the storage was reused");
  cr_expect_eq(tp_buffer_kind_of(dist), TP_BUFFER_DISTRIBUTED);
  cr_assert_not_null(tp_buffer_tiling(dist));
  cr_expect_eq(tp_tiling_parts(tp_buffer_tiling(dist)), 1);
  cr_expect_eq(tp_buffer_tile(dist)->count, 16);
  cr_expect_eq(((int32_t *)tp_buffer_data(dist))[15], 15);
  tp_buffer *repl;
  cr_assert_eq(tp_allocator_construct_move(host(TP_BUFFER_REPLICATED), &dist,
                                           NULL, NULL, &repl),
               TP_SUCCESS);
  cr_expect_eq(tp_buffer_data(repl), data, "the storage was reused");
  cr_expect_null(tp_buffer_tiling(repl));
  cr_expect_eq(tp_buffer_tile(repl)->count, 16);
  cr_expect_eq(stats().allocations, allocations);
  cr_expect_eq(stats().live_blocks, 1);
  cr_assert_eq(tp_allocator_construct_move(host(TP_BUFFER_DISTRIBUTED), &repl,
                                           NULL, NULL, &dist),
               TP_SUCCESS);

  /* A failed move leaves the source intact. */
  tp_tiling *wrong;
  tp_layout other = matrix(TP_DTYPE_I32, 3, 4);
  tp_tiling_create_block(&other, 1, &wrong);
  tp_buffer *keep = dist, *out = NULL;
  cr_expect_eq(tp_allocator_construct_move(host(TP_BUFFER_DISTRIBUTED), &dist,
                                           wrong, NULL, &out),
               TP_ERR_MISMATCH);
  cr_expect_eq(dist, keep);
  cr_expect_null(out);
  tp_tiling_destroy(wrong);
  cr_expect_eq(tp_allocator_construct_move(host(TP_BUFFER_LOCAL), NULL, NULL,
                                           NULL, &out),
               TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(dist);
}

Test(allocator, results_are_allocated_through_the_operands_allocator) {
  tp_layout l = matrix(TP_DTYPE_F64, 3, 3);
  tp_buffer *x = arange(TP_BUFFER_REPLICATED, l), *c;
  cr_assert_eq(tp_buffer_clone(x, NULL, &c), TP_SUCCESS);
  cr_expect_eq(tp_buffer_allocator(c), tp_buffer_allocator(x));
  cr_expect_neq(tp_buffer_data(c), tp_buffer_data(x));
  cr_expect_eq(memcmp(tp_buffer_data(c), tp_buffer_data(x), 72), 0);
  tp_buffer *r;
  cr_assert_eq(tp_axpby(tp_scalar_real(2), x, tp_scalar_real(-1), c, NULL, &r),
               TP_SUCCESS);
  cr_expect_eq(tp_buffer_allocator(r), tp_buffer_allocator(x));
  const double *d = tp_buffer_data(r);
  for (int i = 0; i < 9; ++i)
    cr_expect_eq(d[i], (double)i);
  tp_buffer_destroy(r);
  tp_buffer_destroy(c);
  tp_buffer_destroy(x);
}

Test(allocator, axpby_on_complex_and_integers) {
  tp_layout l = matrix(TP_DTYPE_C128, 1, 2);
  tp_buffer *x, *y, *r;
  tp_allocator *a = host(TP_BUFFER_LOCAL);
  tp_allocator_construct_value(a, &l, NULL, tp_scalar_complex(1, 2), NULL, &x);
  tp_allocator_construct_value(a, &l, NULL, tp_scalar_complex(3, 0), NULL, &y);
  /* i * (1 + 2i) + 2 * 3 = (-2 + i) + 6 = 4 + i */
  cr_assert_eq(
      tp_axpby(tp_scalar_complex(0, 1), x, tp_scalar_real(2), y, NULL, &r),
      TP_SUCCESS);
  const double *d = tp_buffer_data(r);
  cr_expect_eq(d[0], 4.0);
  cr_expect_eq(d[1], 1.0);
  tp_buffer_destroy(r);
  tp_buffer_destroy(x);
  tp_buffer_destroy(y);

  tp_layout li = matrix(TP_DTYPE_I32, 1, 1);
  tp_allocator_construct_value(a, &li, NULL, tp_scalar_int(INT32_MAX), NULL,
                               &x);
  cr_assert_eq(tp_axpby(tp_scalar_int(1), x, tp_scalar_int(1), x, NULL, &r),
               TP_SUCCESS);
  cr_expect_eq(((int32_t *)tp_buffer_data(r))[0], -2, "wraps modulo 2^32");
  tp_buffer_destroy(r);
  tp_buffer_destroy(x);
}

Test(allocator, axpby_refuses_mismatched_operands) {
  tp_buffer *x = arange(TP_BUFFER_LOCAL, matrix(TP_DTYPE_F64, 3, 3));
  tp_buffer *y = arange(TP_BUFFER_LOCAL, matrix(TP_DTYPE_F64, 3, 4));
  tp_buffer *z = arange(TP_BUFFER_REPLICATED, matrix(TP_DTYPE_F64, 3, 3));
  tp_buffer *w = arange(TP_BUFFER_LOCAL, matrix(TP_DTYPE_F32, 3, 3));
  tp_buffer *r = NULL;
  tp_scalar one = tp_scalar_real(1);
  cr_expect_eq(tp_axpby(one, x, one, y, NULL, &r), TP_ERR_MISMATCH);
  cr_expect_eq(tp_axpby(one, x, one, z, NULL, &r), TP_ERR_MISMATCH);
  cr_expect_not_null(strstr(tp_last_error(), "x is local, y is replicated"));
  cr_expect_eq(tp_axpby(one, x, one, w, NULL, &r), TP_ERR_MISMATCH);
  /* Both operands' types and dimensions, in the words of layout.h ("rank"
   * is a process, never a number of dimensions). */
  cr_expect_not_null(strstr(tp_last_error(), "x is a f64 2-d tensor, y a f32 "
                                             "2-d one"),
                     "%s", tp_last_error());
  cr_expect_eq(tp_axpby(one, NULL, one, w, NULL, &r), TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(r);
  cr_expect_eq(stats().live_blocks, 4);
  tp_buffer_destroy(x);
  tp_buffer_destroy(y);
  tp_buffer_destroy(z);
  tp_buffer_destroy(w);
}
