/* tensorpool/buffer.h: accessors and their NULL sentinels, tiles of ranks,
 * streams, and the read / write ranges of tp_buffer_read and
 * tp_buffer_write; docs/device.md's reading example. */
#include "contract.h"

typedef struct fixture {
  tp_runtime *rt;
  tp_allocator *local, *dist;
  tp_buffer *b; /* 40 x 5 doubles: element i holds i */
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = ct_runtime();
  f.local = ct_allocator(f.rt, TP_BUFFER_LOCAL);
  f.dist = ct_allocator(f.rt, TP_BUFFER_DISTRIBUTED);
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)40, (int64_t)5);
  tp_generator g = tp_generator_arange(0, 1);
  ct_ok(tp_allocator_construct_generator(f.local, &l, NULL, &g, NULL, &f.b));
  return f;
}

static void teardown(fixture *f) {
  ct_ok(tp_buffer_destroy(f->b));
  ct_ok(tp_runtime_destroy(f->rt));
}

static void expect_values_intact(const tp_buffer *b) {
  double v[200];
  ct_ok(tp_buffer_read(b, 0, sizeof v, v));
  for (int i = 0; i < 200; i++)
    cr_assert_eq(v[i], (double)i, "element %d changed", i);
}

/* buffer.h: "the sentinel for a NULL buffer is NULL, 0, -1 or
 * TP_BUFFER_KIND_INVALID"; status.h: and no message. */
Test(buffer, accessor_sentinels) {
  tp_set_last_error(TP_ERR_CUDA, "marker");
  cr_expect_eq(tp_buffer_kind_of(NULL), TP_BUFFER_KIND_INVALID);
  cr_expect_null(tp_buffer_layout(NULL));
  cr_expect_null(tp_buffer_tile(NULL));
  cr_expect_null(tp_buffer_data(NULL));
  cr_expect_eq(tp_buffer_bytes(NULL), 0);
  cr_expect_null(tp_buffer_space(NULL));
  cr_expect_null(tp_buffer_stream(NULL));
  cr_expect_null(tp_buffer_allocator(NULL));
  cr_expect_null(tp_buffer_pool(NULL));
  cr_expect_eq(tp_buffer_device(NULL), -1);
  cr_expect_null(tp_buffer_tiling(NULL));
  cr_expect_eq(tp_buffer_is_host_accessible(NULL), 0);
  cr_expect_str_eq(tp_last_error(), "marker");
  ct_ok(tp_buffer_destroy(NULL));
}

/* "tp_buffer_read copies `bytes` bytes, starting `offset` bytes into this
 * rank's tile ... TP_ERR_INVALID_ARGUMENT when the range leaves the tile
 * (nothing is copied); bytes == 0 succeeds without touching host_dst
 * (which may then be NULL)." */
Test(buffer_io, read_ranges) {
  fixture f = setup();
  double v[3] = {-1, -1, -1};
  tp_buffer_read(f.b, 40 * sizeof(double), sizeof v, v);
  cr_expect_eq(v[0], 40.0);
  cr_expect_eq(v[2], 42.0);
  size_t total = tp_buffer_bytes(f.b);
  cr_expect_eq(total, 200 * sizeof(double));
  ct_ok(tp_buffer_read(f.b, total - 8, 8, v));
  cr_expect_eq(v[0], 199.0);
  /* Unaligned ranges are bytes like any others. */
  unsigned char raw[3];
  ct_ok(tp_buffer_read(f.b, 9, 3, raw));
  double one = 1.0;
  cr_expect(memcmp(raw, (unsigned char *)&one + 1, 3) == 0);

  double guard[4] = {-7, -7, -7, -7};
  size_t bad[][2] = {{total - 8, 16}, {total, 1},    {total + 8, 8},
                     {SIZE_MAX, 2},   {8, SIZE_MAX}, {SIZE_MAX - 3, 8}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ct_expect_fail(tp_buffer_read(f.b, bad[i][0], bad[i][1], guard),
                   TP_ERR_INVALID_ARGUMENT, NULL);
    for (int k = 0; k < 4; k++)
      cr_assert_eq(guard[k], -7.0, "range %zu copied something", i);
  }
  ct_ok(tp_buffer_read(f.b, 0, 0, NULL));
  ct_ok(tp_buffer_read(f.b, total, 0, NULL));
  ct_expect_fail(tp_buffer_read(f.b, 0, 8, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_buffer_read(NULL, 0, 8, guard), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  teardown(&f);
}

/* tp_buffer_write: the same ranges; a refused write changes nothing. */
Test(buffer_io, write_ranges) {
  fixture f = setup();
  size_t total = tp_buffer_bytes(f.b);
  double big[2] = {1e9, 2e9};
  size_t bad[][2] = {{total - 8, 16}, {total, 1}, {SIZE_MAX, 2}, {8, SIZE_MAX}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ct_expect_fail(tp_buffer_write(f.b, bad[i][0], bad[i][1], big),
                   TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_buffer_write(f.b, 0, 8, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_buffer_write(NULL, 0, 8, big), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  expect_values_intact(f.b);
  ct_ok(tp_buffer_write(f.b, 0, 0, NULL));
  expect_values_intact(f.b);

  /* docs/device.md: read elements 40..42, write them back at 0. */
  double v[3];
  ct_ok(tp_buffer_read(f.b, 40 * sizeof(double), sizeof v, v));
  ct_ok(tp_buffer_write(f.b, 0, sizeof v, v));
  ct_ok(tp_buffer_synchronize(f.b));
  cr_expect_eq(tp_buffer_is_host_accessible(f.b), 1);
  const double *data = tp_buffer_data(f.b); /* host memory may be read */
  cr_expect_eq(data[0], 40.0);
  cr_expect_eq(data[2], 42.0);
  cr_expect_eq(data[3], 3.0);
  /* "on success host_src may be reused". */
  v[0] = -1;
  cr_expect_eq(data[0], 40.0);
  ct_expect_fail(tp_buffer_synchronize(NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  teardown(&f);
}

/* "The tile `rank` holds ... For local and replicated buffers, the whole
 * tensor. TP_ERR_INVALID_ARGUMENT for a rank outside the runtime." */
Test(buffer, tile_of_a_rank) {
  fixture f = setup();
  tp_tile t;
  ct_ok(tp_buffer_tile_of(f.b, 0, &t));
  cr_expect_eq(t.count, 200);
  cr_expect_eq(t.extents[0], 40);
  tp_tile guard;
  memset(&guard, 0x42, sizeof guard);
  t = guard;
  ct_expect_fail(tp_buffer_tile_of(f.b, 1, &t), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_buffer_tile_of(f.b, -1, &t), TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect(memcmp(&t, &guard, sizeof t) == 0, "*out written on failure");
  ct_expect_fail(tp_buffer_tile_of(NULL, 0, &t), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_buffer_tile_of(f.b, 0, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  teardown(&f);
}

/* Streams: "A buffer has one stream of its own: the stream of the verb that
 * made it"; set_stream makes another one its stream; record_stream is
 * additive and safe; destroy frees on the buffer's stream. Host streams are
 * tags, so what a user sees is the handle and the statuses. */
Test(buffer_streams, set_and_record) {
  fixture f = setup();
  cr_expect_null(tp_buffer_stream(f.b));
  ct_ok(tp_buffer_set_stream(f.b, ct_stream(3)));
  cr_expect_eq(tp_buffer_stream(f.b), ct_stream(3));
  ct_ok(tp_buffer_record_stream(f.b, ct_stream(4)));
  ct_ok(tp_buffer_record_stream(f.b, ct_stream(4)));
  ct_ok(tp_buffer_record_stream(f.b, ct_stream(5)));
  cr_expect_eq(tp_buffer_stream(f.b), ct_stream(3), "record changes nothing");
  expect_values_intact(f.b);
  /* A read on another stream is recorded as a use and returns the
   * values. */
  tp_buffer *c = NULL;
  ct_ok(tp_buffer_clone(f.b, ct_stream(6), &c));
  cr_expect_eq(tp_buffer_stream(c), ct_stream(6));
  expect_values_intact(c);
  ct_ok(tp_buffer_destroy(c));
  ct_expect_fail(tp_buffer_set_stream(NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_buffer_record_stream(NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  tp_pool_stats before = ct_host_stats(f.rt);
  ct_ok(tp_buffer_destroy(f.b));
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.live_blocks, before.live_blocks - 1, "not freed");
  f.b = NULL;
  teardown(&f);
}

/* A distributed buffer over one rank holds the whole tensor, with its
 * tiling; an empty distributed tile has no memory. */
Test(buffer, distributed_over_one_rank) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I64, 2, (int64_t)4, (int64_t)3);
  tp_buffer *d = NULL;
  ct_ok(tp_allocator_construct_value(f.dist, &l, NULL, tp_scalar_int(-9), NULL,
                                     &d));
  const tp_tiling *t = tp_buffer_tiling(d);
  cr_assert_not_null(t);
  cr_expect_eq(tp_tiling_parts(t), 1);
  tp_tile tile;
  ct_ok(tp_buffer_tile_of(d, 0, &tile));
  cr_expect_eq(tile.count, 12);
  cr_expect_eq(tp_buffer_tile(d)->count, 12);
  int64_t v[12];
  ct_ok(tp_buffer_read(d, 0, sizeof v, v));
  for (int i = 0; i < 12; i++)
    cr_expect_eq(v[i], -9);
  ct_ok(tp_buffer_destroy(d));
  teardown(&f);
}
