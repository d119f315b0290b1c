/* Allocators and buffers on the device and pinned backends: every verb,
 * conversions between spaces, one-rank conversions, bad input. GPU
 * only, except the no-device registration check. With one rank the device
 * collectives are local copies: NCCL itself runs only with several ranks. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device_test.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"
#include "tensorpool/ops.h"

static tp_runtime *rt;
static tp_stream stream;

static void setup(void) {
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS, "%s", tp_last_error());
  int count = 0;
  if (tp_device_count(&count) != TP_SUCCESS || count == 0)
    return; /* each GPU test skips with the reason */
  cr_assert(tp_runtime_has_backend(rt, TP_SPACE_DEVICE),
            "a runtime on a rank with a GPU has the device backend");
  cr_assert_eq(tp_device_stream_create(tp_runtime_device(rt), &stream),
               TP_SUCCESS);
}

static void teardown(void) {
  if (stream)
    tp_device_stream_destroy(tp_runtime_device(rt), stream);
  tp_runtime_destroy(rt);
  tp_device_pools_destroy();
}

TestSuite(device_backend, .init = setup, .fini = teardown);

static tp_allocator *allocator(tp_space_kind backend, tp_buffer_kind kind) {
  tp_allocator *a = NULL;
  cr_assert_eq(tp_runtime_allocator(rt, backend, kind, &a), TP_SUCCESS, "%s",
               tp_last_error());
  return a;
}

static tp_layout layout_of(tp_dtype dtype, int64_t rows, int64_t cols) {
  int64_t extents[2] = {rows, cols};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(dtype, 2, extents, &layout), TP_SUCCESS);
  return layout;
}

/* A host copy of any buffer (host memory, synchronized). */
static tp_buffer *to_host(const tp_buffer *b) {
  tp_buffer *h = NULL;
  cr_assert_eq(
      tp_allocator_construct_copy(
          allocator(TP_SPACE_HOST, tp_buffer_kind_of(b)), b, NULL, stream, &h),
      TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_device_stream_synchronize(tp_runtime_device(rt), stream),
               TP_SUCCESS);
  return h;
}

Test(device_backend, no_device_backend_without_a_device) {
  require_no_device();
  cr_expect_not(tp_runtime_has_backend(rt, TP_SPACE_DEVICE));
  cr_expect_not(tp_runtime_has_backend(rt, TP_SPACE_PINNED));
  tp_allocator *a = NULL;
  cr_expect_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_ERR_NO_DEVICE);
  expect_message("no device");
}

Test(device_backend, a_rank_with_a_gpu_gets_device_and_pinned_backends) {
  require_device();
  cr_expect(tp_runtime_has_backend(rt, TP_SPACE_DEVICE));
  cr_expect(tp_runtime_has_backend(rt, TP_SPACE_PINNED));
}

Test(device_backend, allocate_lives_in_device_memory) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_F64, 10, 10);
  tp_buffer *b = NULL;
  cr_assert_eq(
      tp_allocator_allocate(allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL),
                            &layout, NULL, stream, &b),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_buffer_space(b)->kind, TP_SPACE_DEVICE);
  cr_expect_eq(tp_buffer_bytes(b), 800);
  cr_expect_not_null(tp_buffer_data(b));
  cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
}

Test(device_backend, construct_value_every_type) {
  require_device();
  for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
    tp_layout layout = layout_of((tp_dtype)d, 7, 13);
    tp_buffer *b = NULL;
    /* -3 for the signed types; u8 and bool cannot hold it. */
    tp_scalar value =
        tp_scalar_int(d == TP_DTYPE_U8 || d == TP_DTYPE_BOOL ? 3 : -3);
    cr_assert_eq(tp_allocator_construct_value(
                     allocator(TP_SPACE_DEVICE, TP_BUFFER_REPLICATED), &layout,
                     NULL, value, stream, &b),
                 TP_SUCCESS, "%s", tp_last_error());
    tp_buffer *h = to_host(b);
    unsigned char want[16];
    cr_assert_eq(tp_scalar_store(value, (tp_dtype)d, want), TP_SUCCESS);
    size_t size = tp_dtype_size((tp_dtype)d);
    const unsigned char *got = tp_buffer_data(h);
    for (size_t i = 0; i < 91; ++i)
      cr_assert_eq(memcmp(got + i * size, want, size), 0, "%s element %zu",
                   tp_dtype_name((tp_dtype)d), i);
    tp_buffer_destroy(h);
    tp_buffer_destroy(b);
  }
}

Test(device_backend, construct_generator_same_bits_as_host) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_F32, 33, 17);
  tp_generator gen = tp_generator_uniform(2024, -1.0, 1.0);
  tp_buffer *dev = NULL, *host = NULL;
  cr_assert_eq(tp_allocator_construct_generator(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_DISTRIBUTED), &layout,
                   NULL, &gen, stream, &dev),
               TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_allocator_construct_generator(
                   allocator(TP_SPACE_HOST, TP_BUFFER_DISTRIBUTED), &layout,
                   NULL, &gen, stream, &host),
               TP_SUCCESS);
  tp_buffer *back = to_host(dev);
  cr_assert_eq(tp_buffer_bytes(back), tp_buffer_bytes(host));
  cr_expect_eq(
      memcmp(tp_buffer_data(back), tp_buffer_data(host), tp_buffer_bytes(host)),
      0);
  tp_buffer_destroy(back);
  tp_buffer_destroy(host);
  tp_buffer_destroy(dev);
}

/* Fills the tile through the device expression API. */
static int fill_by_expression(void *user, const tp_layout *layout,
                              const tp_tile *tile, void *data,
                              tp_stream tile_stream) {
  (void)user;
  if (tile->count == 0)
    return 0;
  return tp_device_fill_expression(0, data, layout, tile, "i0 * 1000 + i1",
                                   tile_stream) == TP_SUCCESS
             ? 0
             : 1;
}

Test(device_backend, construct_tiles_gets_a_device_pointer_and_stream) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_I64, 5, 6);
  tp_buffer *b = NULL;
  cr_assert_eq(tp_allocator_construct_tiles(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &layout, NULL,
                   fill_by_expression, NULL, stream, &b),
               TP_SUCCESS, "%s", tp_last_error());
  tp_buffer *h = to_host(b);
  const int64_t *v = tp_buffer_data(h);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 6; ++c)
      cr_expect_eq(v[r * 6 + c], r * 1000 + c);
  tp_buffer_destroy(h);
  tp_buffer_destroy(b);
}

static int failing_fill(void *user, const tp_layout *layout,
                        const tp_tile *tile, void *data, tp_stream s) {
  (void)user, (void)layout, (void)tile, (void)data, (void)s;
  return 42;
}

Test(device_backend, failing_fill_callback_frees_everything) {
  require_device();
  tp_pool *pool = NULL;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_DEVICE, &pool), TP_SUCCESS);
  tp_pool_stats before = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &before), TP_SUCCESS);
  tp_layout layout = layout_of(TP_DTYPE_F32, 8, 8);
  tp_buffer *b = (tp_buffer *)0x1;
  cr_expect_eq(tp_allocator_construct_tiles(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &layout, NULL,
                   failing_fill, NULL, stream, &b),
               TP_ERR_CALLBACK);
  cr_expect_eq(b, (tp_buffer *)0x1, "out-pointer untouched");
  tp_pool_stats after = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &after), TP_SUCCESS);
  cr_expect_eq(after.live_blocks, before.live_blocks);
}

Test(device_backend, conversions_between_spaces_round_trip) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_C128, 9, 4);
  tp_generator gen = tp_generator_normal(5, 0.0, 1.0);
  tp_buffer *host = NULL, *dev = NULL, *pinned = NULL, *back = NULL;
  cr_assert_eq(tp_allocator_construct_generator(
                   allocator(TP_SPACE_HOST, TP_BUFFER_LOCAL), &layout, NULL,
                   &gen, stream, &host),
               TP_SUCCESS);
  cr_assert_eq(
      tp_allocator_construct_copy(allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL),
                                  host, NULL, stream, &dev),
      TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(
      tp_allocator_construct_copy(allocator(TP_SPACE_PINNED, TP_BUFFER_LOCAL),
                                  dev, NULL, stream, &pinned),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_buffer_space(pinned)->kind, TP_SPACE_PINNED);
  back = to_host(pinned);
  cr_expect_eq(
      memcmp(tp_buffer_data(back), tp_buffer_data(host), tp_buffer_bytes(host)),
      0);
  tp_buffer_destroy(back);
  tp_buffer_destroy(pinned);
  tp_buffer_destroy(dev);
  tp_buffer_destroy(host);
}

Test(device_backend, move_reuses_device_storage) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_F32, 16, 16);
  tp_buffer *local = NULL, *replicated = NULL;
  cr_assert_eq(tp_allocator_construct_value(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &layout, NULL,
                   tp_scalar_real(1.5), stream, &local),
               TP_SUCCESS);
  void *storage = tp_buffer_data(local);
  cr_assert_eq(tp_allocator_construct_move(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_REPLICATED), &local,
                   NULL, stream, &replicated),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect_null(local, "the moved-from handle is emptied");
  cr_expect_eq(tp_buffer_data(replicated), storage);
  tp_buffer *h = to_host(replicated);
  cr_expect_eq(((const float *)tp_buffer_data(h))[255], 1.5f);
  tp_buffer_destroy(h);
  tp_buffer_destroy(replicated);
}

Test(device_backend, rebind_keeps_the_device_backend) {
  require_device();
  tp_allocator *local = allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL);
  tp_allocator *dist = NULL;
  cr_assert_eq(tp_allocator_rebind(local, TP_BUFFER_DISTRIBUTED, &dist),
               TP_SUCCESS);
  cr_expect_eq(tp_allocator_space_kind_of(dist), TP_SPACE_DEVICE);
  cr_expect_eq(tp_allocator_kind_of(dist), TP_BUFFER_DISTRIBUTED);
  tp_layout layout = layout_of(TP_DTYPE_I32, 4, 4);
  tp_buffer *b = NULL;
  cr_assert_eq(tp_allocator_allocate(local, &layout, NULL, stream, &b),
               TP_SUCCESS);
  cr_expect_eq(tp_buffer_allocator(b), local, "buffers know their allocator");
  tp_buffer_destroy(b);
}

Test(device_backend, one_rank_device_conversions) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_F64, 12, 5);
  tp_generator gen = tp_generator_arange(0.0, 0.5);
  tp_buffer *rep = NULL, *dist = NULL, *gathered = NULL;
  cr_assert_eq(tp_allocator_construct_generator(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_REPLICATED), &layout,
                   NULL, &gen, stream, &rep),
               TP_SUCCESS);
  cr_assert_eq(tp_allocator_construct_copy(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_DISTRIBUTED), rep, NULL,
                   stream, &dist),
               TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_allocator_construct_copy(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_REPLICATED), dist, NULL,
                   stream, &gathered),
               TP_SUCCESS, "%s", tp_last_error());
  tp_buffer *h = to_host(gathered);
  const double *v = tp_buffer_data(h);
  for (int i = 0; i < 60; ++i)
    cr_expect_eq(v[i], 0.5 * i);
  /* Redistribution to the same one-part tiling. */
  tp_tiling *tiling = NULL;
  cr_assert_eq(tp_tiling_create_block(&layout, 1, &tiling), TP_SUCCESS);
  tp_buffer *again = NULL;
  cr_assert_eq(tp_allocator_construct_copy(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_DISTRIBUTED), dist,
                   tiling, stream, &again),
               TP_SUCCESS, "%s", tp_last_error());
  tp_buffer *h2 = to_host(again);
  cr_expect_eq(memcmp(tp_buffer_data(h2), v, 480), 0);
  tp_buffer_destroy(h2);
  tp_buffer_destroy(again);
  tp_tiling_destroy(tiling);
  tp_buffer_destroy(h);
  tp_buffer_destroy(gathered);
  tp_buffer_destroy(dist);
  tp_buffer_destroy(rep);
}

Test(device_backend, axpby_same_bits_as_host) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_C64, 20, 3);
  tp_generator gx = tp_generator_uniform(1, -2.0, 2.0),
               gy = tp_generator_normal(2, 1, 3);
  tp_allocator *dev = allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL);
  tp_allocator *host = allocator(TP_SPACE_HOST, TP_BUFFER_LOCAL);
  tp_buffer *dx, *dy, *hx, *hy, *dout, *hout;
  cr_assert_eq(
      tp_allocator_construct_generator(dev, &layout, NULL, &gx, stream, &dx),
      TP_SUCCESS);
  cr_assert_eq(
      tp_allocator_construct_generator(dev, &layout, NULL, &gy, stream, &dy),
      TP_SUCCESS);
  cr_assert_eq(
      tp_allocator_construct_generator(host, &layout, NULL, &gx, stream, &hx),
      TP_SUCCESS);
  cr_assert_eq(
      tp_allocator_construct_generator(host, &layout, NULL, &gy, stream, &hy),
      TP_SUCCESS);
  tp_scalar alpha = tp_scalar_complex(0.75, -1.25), beta = tp_scalar_real(3);
  cr_assert_eq(tp_axpby(alpha, dx, beta, dy, stream, &dout), TP_SUCCESS, "%s",
               tp_last_error());
  cr_assert_eq(tp_axpby(alpha, hx, beta, hy, stream, &hout), TP_SUCCESS);
  cr_expect_eq(tp_buffer_space(dout)->kind, TP_SPACE_DEVICE);
  tp_buffer *back = to_host(dout);
  cr_expect_eq(
      memcmp(tp_buffer_data(back), tp_buffer_data(hout), tp_buffer_bytes(hout)),
      0);
  tp_buffer *all[] = {back, hout, dout, hy, hx, dy, dx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    tp_buffer_destroy(all[i]);
}

Test(device_backend, axpby_of_different_element_types) {
  require_device();
  tp_layout lf = layout_of(TP_DTYPE_F32, 4, 4),
            ld = layout_of(TP_DTYPE_F64, 4, 4);
  tp_allocator *dev = allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL);
  tp_buffer *x = NULL, *y = NULL, *out = (tp_buffer *)0x1;
  cr_assert_eq(tp_allocator_construct_value(dev, &lf, NULL, tp_scalar_real(1),
                                            stream, &x),
               TP_SUCCESS);
  cr_assert_eq(tp_allocator_construct_value(dev, &ld, NULL, tp_scalar_real(1),
                                            stream, &y),
               TP_SUCCESS);
  cr_expect_eq(
      tp_axpby(tp_scalar_real(1), x, tp_scalar_real(1), y, stream, &out),
      TP_ERR_MISMATCH);
  cr_expect_eq(out, (tp_buffer *)0x1);
  tp_buffer_destroy(x);
  tp_buffer_destroy(y);
}

Test(device_backend, budget_smaller_than_the_request) {
  require_device();
  cr_assert_eq(tp_runtime_set_budget(rt, TP_SPACE_DEVICE, (size_t)1 << 20),
               TP_SUCCESS, "%s", tp_last_error());
  tp_layout big = layout_of(TP_DTYPE_F64, 1024, 1024); /* 8 MiB */
  tp_buffer *b = (tp_buffer *)0x1;
  cr_expect_eq(
      tp_allocator_allocate(allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &big,
                            NULL, stream, &b),
      TP_ERR_OUT_OF_MEMORY);
  cr_expect_eq(b, (tp_buffer *)0x1);
  tp_layout small = layout_of(TP_DTYPE_F64, 8, 8);
  cr_expect_eq(
      tp_allocator_allocate(allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &small,
                            NULL, stream, &b),
      TP_SUCCESS, "the pool still serves");
  tp_buffer_destroy(b);
  cr_assert_eq(tp_runtime_set_budget(rt, TP_SPACE_DEVICE, TP_UNLIMITED),
               TP_SUCCESS);
}

Test(device_backend, automatic_allocator_picks_the_device) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_F64, 256, 256); /* 512 KiB */
  tp_allocator_choice choice = TP_ALLOCATOR_CHOICE_INIT;
  cr_assert_eq(
      tp_allocator_choose(rt, &layout, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &choice),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(choice.space, TP_SPACE_DEVICE, "reason: %s", choice.reason);
  cr_expect_neq(choice.reason[0], '\0');
  /* Code that dereferences tp_buffer_data asks for host access. */
  cr_assert_eq(tp_allocator_choose(rt, &layout, TP_BUFFER_LOCAL, TP_ACCESS_HOST,
                                   &choice),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(choice.space, TP_SPACE_HOST, "reason: %s", choice.reason);
}

Test(device_backend, read_and_write_device_values_from_the_host) {
  require_device();
  tp_layout layout = layout_of(TP_DTYPE_I64, 33, 7);
  tp_generator g = tp_generator_arange(-3, 2);
  tp_buffer *b = NULL;
  cr_assert_eq(tp_allocator_construct_generator(
                   allocator(TP_SPACE_DEVICE, TP_BUFFER_LOCAL), &layout, NULL,
                   &g, stream, &b),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect_not(tp_buffer_is_host_accessible(b));
  int64_t v[231];
  cr_assert_eq(tp_buffer_read(b, 0, sizeof v, v), TP_SUCCESS, "%s",
               tp_last_error());
  for (int i = 0; i < 231; ++i)
    cr_expect_eq(v[i], -3 + 2 * i, "element %d", i);
  int64_t patch[2] = {1000, 1001};
  cr_assert_eq(tp_buffer_write(b, 100 * 8, sizeof patch, patch), TP_SUCCESS);
  cr_assert_eq(tp_buffer_read(b, 99 * 8, 4 * 8, v), TP_SUCCESS);
  cr_expect_eq(v[0], -3 + 2 * 99);
  cr_expect_eq(v[1], 1000);
  cr_expect_eq(v[2], 1001);
  cr_expect_eq(v[3], -3 + 2 * 102);
  cr_expect_eq(tp_buffer_synchronize(b), TP_SUCCESS);
  cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
}
