/* tensorpool/allocator.h on the host backend of a one-process runtime: the
 * handles, the automatic choice, and every verb with its "common rules"
 * (NULL arguments, tilings, *out untouched and nothing allocated on
 * failure, callbacks, budgets). */
#include <stdio.h>

#include "contract.h"

typedef struct fixture {
  tp_runtime *rt;
  tp_allocator *local, *repl, *dist;
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = ct_runtime();
  f.local = ct_allocator(f.rt, TP_BUFFER_LOCAL);
  f.repl = ct_allocator(f.rt, TP_BUFFER_REPLICATED);
  f.dist = ct_allocator(f.rt, TP_BUFFER_DISTRIBUTED);
  return f;
}

static void teardown(fixture *f) {
  ct_ok(tp_runtime_destroy(f->rt));
}

/* The runtime's host pool allocated nothing since `before`. */
static void expect_nothing_allocated(fixture *f, const tp_pool_stats *before) {
  tp_pool_stats now = ct_host_stats(f->rt);
  cr_expect_eq(now.allocations, before->allocations, "something was allocated");
  cr_expect_eq(now.live_blocks, before->live_blocks);
}

/* ---- Handles ------------------------------------------------------------ */

/* "tp_runtime_allocator and tp_allocator_rebind hand out the same handle
 * for the same (backend, kind)". */
Test(allocator, one_handle_per_backend_and_kind) {
  fixture f = setup();
  tp_allocator *again = NULL, *rebound = NULL;
  ct_ok(tp_runtime_allocator(f.rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &again));
  cr_expect_eq(again, f.local);
  ct_ok(tp_allocator_rebind(f.local, TP_BUFFER_DISTRIBUTED, &rebound));
  cr_expect_eq(rebound, f.dist);
  ct_ok(tp_allocator_rebind(f.dist, TP_BUFFER_REPLICATED, &rebound));
  cr_expect_eq(rebound, f.repl);
  ct_ok(tp_allocator_rebind(f.repl, TP_BUFFER_REPLICATED, &rebound));
  cr_expect_eq(rebound, f.repl);

  cr_expect_eq(tp_allocator_kind_of(f.dist), TP_BUFFER_DISTRIBUTED);
  cr_expect_eq(tp_allocator_space_kind_of(f.local), TP_SPACE_HOST);
  cr_expect_eq(tp_allocator_runtime(f.repl), f.rt);
  tp_pool *pool = NULL;
  ct_ok(tp_runtime_pool(f.rt, TP_SPACE_HOST, &pool));
  cr_expect_eq(tp_allocator_pool(f.local), pool);
  cr_expect_eq(tp_allocator_pool(f.dist), pool, "one pool per backend");
  cr_expect_str_eq(tp_allocator_name(f.local), "host/local");
  cr_expect_str_eq(tp_allocator_name(f.repl), "host/replicated");
  cr_expect_str_eq(tp_allocator_name(f.dist), "host/distributed");

  tp_allocator *a = (tp_allocator *)0x5;
  ct_expect_fail(tp_allocator_rebind(f.local, (tp_buffer_kind)3, &a),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_rebind(f.local, TP_BUFFER_KIND_INVALID, &a),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_rebind(NULL, TP_BUFFER_LOCAL, &a),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_rebind(f.local, TP_BUFFER_LOCAL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_runtime_allocator(NULL, TP_SPACE_HOST, TP_BUFFER_LOCAL, &a),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_runtime_allocator(f.rt, TP_SPACE_HOST, (tp_buffer_kind)7, &a),
      TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(a, (tp_allocator *)0x5);
  teardown(&f);
}

/* "For NULL: TP_BUFFER_KIND_INVALID, TP_SPACE_INVALID, NULL", and the kind
 * names of buffer.h. */
Test(allocator, accessor_sentinels_and_names) {
  tp_set_last_error(TP_ERR_CUDA, "marker");
  cr_expect_eq(tp_allocator_kind_of(NULL), TP_BUFFER_KIND_INVALID);
  cr_expect_eq(tp_allocator_space_kind_of(NULL), TP_SPACE_INVALID);
  cr_expect_null(tp_allocator_runtime(NULL));
  cr_expect_null(tp_allocator_pool(NULL));
  cr_expect_null(tp_allocator_name(NULL));
  cr_expect_str_eq(tp_last_error(), "marker");
  cr_expect_str_eq(tp_buffer_kind_name(TP_BUFFER_LOCAL), "local");
  cr_expect_str_eq(tp_buffer_kind_name(TP_BUFFER_REPLICATED), "replicated");
  cr_expect_str_eq(tp_buffer_kind_name(TP_BUFFER_DISTRIBUTED), "distributed");
  cr_expect_str_eq(tp_buffer_kind_name(TP_BUFFER_KIND_INVALID), "invalid");
  cr_expect_str_eq(tp_buffer_kind_name((tp_buffer_kind)3), "invalid");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_HOST), "host");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_PINNED), "pinned");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_DEVICE), "device");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_OTHER), "other");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_INVALID), "invalid");
  cr_expect_str_eq(tp_space_kind_name((tp_space_kind)9), "invalid");
}

/* ---- The automatic choice ----------------------------------------------- */

/* Without a device everything that fits goes to the host, with a reason
 * that gives the figures; what fits nowhere is TP_ERR_OUT_OF_MEMORY with
 * the reason in the message and in out->reason. */
Test(allocator_choose, host_when_it_fits_else_out_of_memory) {
  fixture f = setup();
  if (tp_runtime_device(f.rt) >= 0)
    cr_skip_test("a device is present: the choice may differ");
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)1000, (int64_t)64);
  tp_access acc[2] = {TP_ACCESS_ANY, TP_ACCESS_HOST};
  for (int i = 0; i < 2; i++) {
    tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
    ct_ok(tp_allocator_choose(f.rt, &l, TP_BUFFER_DISTRIBUTED, acc[i], &c));
    cr_expect_eq(c.allocator, f.dist);
    cr_expect_eq(c.space, TP_SPACE_HOST);
    cr_assert_not_null(c.reason);
    cr_expect(strstr(c.reason, "512000 bytes") != NULL, "%s", c.reason);
  }
  ct_ok(tp_runtime_set_budget(f.rt, TP_SPACE_HOST, 100000));
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  ct_expect_fail(
      tp_allocator_choose(f.rt, &l, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_ERR_OUT_OF_MEMORY, "512000");
  cr_assert_not_null(c.reason);
  cr_expect(strstr(c.reason, "512000") != NULL, "%s", c.reason);
  teardown(&f);
}

Test(allocator_choose, bad_arguments) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 1, (int64_t)10);
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  ct_expect_fail(
      tp_allocator_choose(NULL, &l, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_allocator_choose(f.rt, NULL, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_allocator_choose(f.rt, &l, (tp_buffer_kind)5, TP_ACCESS_ANY, &c),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_allocator_choose(f.rt, &l, TP_BUFFER_LOCAL, (tp_access)2, &c),
      TP_ERR_INVALID_ARGUMENT, NULL);
  c.struct_size = 0;
  ct_expect_fail(
      tp_allocator_choose(f.rt, &l, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_ERR_INVALID_ARGUMENT, "TP_ALLOCATOR_CHOICE_INIT");
  cr_expect_null(c.allocator);
  teardown(&f);
}

/* ---- allocate ----------------------------------------------------------- */

Test(allocate, a_buffer_of_the_layout) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_C64, 2, (int64_t)7, (int64_t)9);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_allocate(f.local, &l, NULL, ct_stream(4), &b));
  cr_expect_eq(tp_buffer_kind_of(b), TP_BUFFER_LOCAL);
  cr_expect_eq(tp_buffer_bytes(b), 7 * 9 * 8);
  cr_expect_not_null(tp_buffer_data(b));
  cr_expect_eq((uintptr_t)tp_buffer_data(b) % 8, 0);
  cr_expect_eq(tp_buffer_stream(b), ct_stream(4), "the verb's stream");
  cr_expect_eq(tp_buffer_allocator(b), f.local);
  cr_expect_eq(tp_buffer_pool(b), tp_allocator_pool(f.local));
  cr_expect_eq(tp_buffer_device(b), -1);
  cr_expect_eq(tp_buffer_is_host_accessible(b), 1);
  cr_expect_null(tp_buffer_tiling(b), "not distributed");
  int eq = 0;
  ct_ok(tp_layout_equal(tp_buffer_layout(b), &l, &eq));
  cr_expect_eq(eq, 1);
  const tp_tile *t = tp_buffer_tile(b);
  cr_assert_not_null(t);
  cr_expect_eq(t->count, 63);
  cr_expect_eq(t->first, 0);
  cr_expect_eq(t->extents[0], 7);
  cr_expect_eq(t->extents[1], 9);
  const tp_space *s = tp_buffer_space(b);
  cr_assert_not_null(s);
  cr_expect_eq(s->kind, TP_SPACE_HOST);
  memset(tp_buffer_data(b), 0x11, tp_buffer_bytes(b)); /* host memory */
  ct_ok(tp_buffer_destroy(b));

  ct_ok(tp_allocator_allocate(f.dist, &l, NULL, NULL, &b));
  cr_expect_eq(tp_buffer_kind_of(b), TP_BUFFER_DISTRIBUTED);
  cr_assert_not_null(tp_buffer_tiling(b));
  cr_expect_eq(tp_tiling_parts(tp_buffer_tiling(b)), 1);
  cr_expect_eq(tp_buffer_bytes(b), 7 * 9 * 8, "one rank holds everything");
  ct_ok(tp_buffer_destroy(b));
  teardown(&f);
}

/* buffers.md: "A rank with an empty tile has data == NULL and no pool
 * block." */
Test(allocate, an_empty_tensor_holds_no_memory) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)0, (int64_t)1000);
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_allocate(f.local, &l, NULL, NULL, &b));
  cr_expect_null(tp_buffer_data(b));
  cr_expect_eq(tp_buffer_bytes(b), 0);
  cr_expect_eq(tp_buffer_tile(b)->count, 0);
  tp_pool_stats now = ct_host_stats(f.rt);
  cr_expect_eq(now.live_blocks, before.live_blocks);
  ct_ok(tp_buffer_read(b, 0, 0, NULL));
  ct_ok(tp_buffer_destroy(b));
  teardown(&f);
}

/* "`tiling` ... must have one part per rank and the same layout
 * (TP_ERR_MISMATCH) ... A NULL allocator, layout, source, callback or
 * out-pointer is TP_ERR_INVALID_ARGUMENT. On any failure nothing is
 * allocated ... and *out is untouched." */
Test(allocate, tilings_and_null_arguments) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)8, (int64_t)8);
  tp_layout other = ct_layout(TP_DTYPE_F32, 2, (int64_t)8, (int64_t)9);
  tp_tiling *two = NULL, *wrong_layout = NULL, *good = NULL;
  ct_ok(tp_tiling_create_block(&l, 2, &two));
  ct_ok(tp_tiling_create_block(&other, 1, &wrong_layout));
  ct_ok(tp_tiling_create_block(&l, 1, &good));
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_allocate(f.dist, &l, two, NULL, &b),
                 TP_ERR_MISMATCH, NULL);
  ct_expect_fail(tp_allocator_allocate(f.dist, &l, wrong_layout, NULL, &b),
                 TP_ERR_MISMATCH, NULL);
  ct_expect_fail(tp_allocator_allocate(NULL, &l, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_allocate(f.local, NULL, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_allocate(f.local, &l, NULL, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  /* A layout not made by tp_layout_make is checked too. */
  tp_layout bad = l;
  bad.extents[0] = -3;
  ct_expect_fail(tp_allocator_allocate(f.local, &bad, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  bad = l;
  bad.dtype = (tp_dtype)40;
  ct_expect_fail(tp_allocator_allocate(f.local, &bad, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  expect_nothing_allocated(&f, &before);

  /* "Local and replicated allocators take NULL". */
  ct_expect_fail(tp_allocator_allocate(f.local, &l, good, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_allocator_allocate(f.repl, &l, good, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  expect_nothing_allocated(&f, &before);

  ct_ok(tp_allocator_allocate(f.dist, &l, good, NULL, &b));
  int eq = 0;
  ct_ok(tp_tiling_equal(tp_buffer_tiling(b), good, &eq));
  cr_expect_eq(eq, 1);
  ct_ok(tp_buffer_destroy(b));
  ct_ok(tp_tiling_destroy(two));
  ct_ok(tp_tiling_destroy(wrong_layout));
  ct_ok(tp_tiling_destroy(good));
  teardown(&f);
}

/* An exhausted budget: TP_ERR_OUT_OF_MEMORY (buffers.md: "other buffers
 * intact"), nothing allocated, *out untouched. */
Test(allocate, an_exhausted_budget_loses_nothing) {
  fixture f = setup();
  ct_ok(tp_runtime_set_budget(f.rt, TP_SPACE_HOST, 1 << 20));
  tp_layout small = ct_layout(TP_DTYPE_U8, 1, (int64_t)(600 << 10));
  tp_layout big = ct_layout(TP_DTYPE_U8, 1, (int64_t)(600 << 10));
  tp_buffer *a = NULL;
  ct_ok(tp_allocator_allocate(f.local, &small, NULL, NULL, &a));
  unsigned char *pattern = malloc(600 << 10);
  ct_fill(pattern, 600 << 10, 6);
  ct_ok(tp_buffer_write(a, 0, 600 << 10, pattern));
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_allocate(f.local, &big, NULL, NULL, &b),
                 TP_ERR_OUT_OF_MEMORY, NULL);
  ct_expect_fail(tp_allocator_construct_value(f.repl, &big, NULL,
                                              tp_scalar_int(1), NULL, &b),
                 TP_ERR_OUT_OF_MEMORY, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.live_blocks, before.live_blocks);
  cr_expect_eq(after.live_bytes, before.live_bytes);
  memset(pattern, 0, 600 << 10);
  ct_ok(tp_buffer_read(a, 0, 600 << 10, pattern));
  cr_expect(ct_check(pattern, 600 << 10, 6), "the live buffer changed");
  free(pattern);
  ct_ok(tp_buffer_destroy(a));
  teardown(&f);
}

/* A tensor larger than any budget: TP_ERR_OUT_OF_MEMORY, not a crash. */
Test(allocate, more_than_the_machine_is_out_of_memory) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_U8, 1, (int64_t)1 << 61);
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_allocate(f.local, &l, NULL, NULL, &b),
                 TP_ERR_OUT_OF_MEMORY, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  teardown(&f);
}

/* ---- construct_value ---------------------------------------------------- */

/* "Every element = `value` (see tp_scalar_store for conversions)". */
Test(construct_value, every_element_every_dtype) {
  fixture f = setup();
  tp_scalar v = tp_scalar_complex(-3.0, 0.0);
  for (int t = 0; t < TP_DTYPE_COUNT; t++) {
    tp_dtype dt = (tp_dtype)t;
    tp_scalar val = v;
    if (dt == TP_DTYPE_U8 || dt == TP_DTYPE_BOOL)
      val = tp_scalar_int(200 % (dt == TP_DTYPE_BOOL ? 2 : 256) + 1);
    unsigned char one[16];
    ct_ok(tp_scalar_store(val, dt, one));
    size_t es = tp_dtype_size(dt);
    tp_layout l = ct_layout(dt, 3, (int64_t)3, (int64_t)4, (int64_t)5);
    tp_buffer *b = NULL;
    ct_ok(tp_allocator_construct_value(f.local, &l, NULL, val, NULL, &b));
    unsigned char *got = malloc(60 * es);
    ct_ok(tp_buffer_read(b, 0, 60 * es, got));
    for (size_t i = 0; i < 60; i++)
      cr_assert(memcmp(got + i * es, one, es) == 0, "%s element %zu",
                tp_dtype_name(dt), i);
    free(got);
    ct_ok(tp_buffer_destroy(b));
  }
  teardown(&f);
}

/* "A value the type cannot hold allocates nothing." */
Test(construct_value, a_value_the_type_cannot_hold) {
  fixture f = setup();
  tp_pool_stats before = ct_host_stats(f.rt);
  struct {
    tp_dtype t;
    tp_scalar v;
  } bad[] = {{TP_DTYPE_I32, tp_scalar_real(0.5)},
             {TP_DTYPE_I8, tp_scalar_int(300)},
             {TP_DTYPE_U8, tp_scalar_int(-1)},
             {TP_DTYPE_F64, tp_scalar_complex(1, 1)},
             {TP_DTYPE_BOOL, tp_scalar_complex(0, 1)}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    tp_layout l = ct_layout(bad[i].t, 1, (int64_t)100);
    tp_buffer *b = (tp_buffer *)0x5;
    ct_expect_fail(
        tp_allocator_construct_value(f.local, &l, NULL, bad[i].v, NULL, &b),
        TP_ERR_INVALID_ARGUMENT, NULL);
    cr_expect_eq(b, (tp_buffer *)0x5);
  }
  expect_nothing_allocated(&f, &before);
  teardown(&f);
}

/* ---- construct_tiles ---------------------------------------------------- */

typedef struct tile_calls {
  int calls;
  int fail; /* 0: succeed; 1: fail with a message; 2: fail silently */
  tp_stream stream;
  void *data;
  tp_tile tile;
  tp_layout layout;
} tile_calls;

static int fill_tile(void *user, const tp_layout *layout, const tp_tile *tile,
                     void *data, tp_stream stream) {
  tile_calls *c = user;
  c->calls++;
  c->stream = stream;
  c->data = data;
  c->tile = *tile;
  c->layout = *layout;
  if (c->fail == 1) {
    tp_set_last_error(TP_ERR_CALLBACK, "sensor %d offline", 3);
    return 1;
  }
  if (c->fail == 2)
    return -1;
  int32_t *v = data;
  for (size_t i = 0; i < tile->count; i++)
    v[i] = (int32_t)(tile->first + (int64_t)i) * 3;
  return 0;
}

/* "called once per rank (also for an empty tile, with data NULL), on the
 * calling thread, with the global layout, the tile, the tile's memory and
 * the stream to queue work on". */
Test(construct_tiles, the_callback_fills_the_tile) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I32, 2, (int64_t)6, (int64_t)4);
  tile_calls c = {0};
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_construct_tiles(f.dist, &l, NULL, fill_tile, &c,
                                     ct_stream(2), &b));
  cr_expect_eq(c.calls, 1);
  cr_expect_eq(c.stream, ct_stream(2));
  cr_expect_eq(c.data, tp_buffer_data(b));
  cr_expect_eq(c.tile.count, 24);
  int eq = 0;
  ct_ok(tp_layout_equal(&c.layout, &l, &eq));
  cr_expect_eq(eq, 1);
  int32_t v[24];
  ct_ok(tp_buffer_read(b, 0, sizeof v, v));
  for (int i = 0; i < 24; i++)
    cr_expect_eq(v[i], 3 * i);
  ct_ok(tp_buffer_destroy(b));

  tp_layout empty = ct_layout(TP_DTYPE_I32, 2, (int64_t)0, (int64_t)4);
  c = (tile_calls){0};
  c.data = (void *)0x1;
  ct_ok(tp_allocator_construct_tiles(f.local, &empty, NULL, fill_tile, &c, NULL,
                                     &b));
  cr_expect_eq(c.calls, 1, "the callback runs for an empty tile too");
  cr_expect_null(c.data);
  ct_ok(tp_buffer_destroy(b));
  teardown(&f);
}

/* "Return 0 on success; anything else aborts the construction, frees what
 * was allocated, and gives TP_ERR_CALLBACK with the callback's own message
 * when it set one"; status.h: a silent failure gets a message saying so,
 * never a stale one. */
Test(construct_tiles, a_failing_callback_frees_everything) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I32, 2, (int64_t)600, (int64_t)40);
  tp_pool_stats before = ct_host_stats(f.rt);
  tile_calls c = {.fail = 1};
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(
      tp_allocator_construct_tiles(f.local, &l, NULL, fill_tile, &c, NULL, &b),
      TP_ERR_CALLBACK, "sensor 3 offline");
  cr_expect_eq(b, (tp_buffer *)0x5);
  tp_pool_stats now = ct_host_stats(f.rt);
  cr_expect_eq(now.live_blocks, before.live_blocks, "the tile was not freed");
  c = (tile_calls){.fail = 2};
  ct_expect_fail(
      tp_allocator_construct_tiles(f.local, &l, NULL, fill_tile, &c, NULL, &b),
      TP_ERR_CALLBACK, NULL);
  cr_expect(strstr(tp_last_error(), "sensor") == NULL, "stale: %s",
            tp_last_error());
  now = ct_host_stats(f.rt);
  cr_expect_eq(now.live_blocks, before.live_blocks);
  /* "the callback runs only after every argument was checked". */
  c = (tile_calls){0};
  tp_tiling *two = NULL;
  ct_ok(tp_tiling_create_block(&l, 2, &two));
  ct_expect_fail(
      tp_allocator_construct_tiles(f.dist, &l, two, fill_tile, &c, NULL, &b),
      TP_ERR_MISMATCH, NULL);
  ct_expect_fail(
      tp_allocator_construct_tiles(f.local, &l, NULL, NULL, &c, NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(c.calls, 0);
  ct_ok(tp_tiling_destroy(two));
  teardown(&f);
}

/* ---- construct_copy and construct_move on one rank ---------------------- */

static tp_buffer *arange_buffer(tp_allocator *a, const tp_layout *l) {
  tp_generator g = tp_generator_arange(1, 1);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_construct_generator(a, l, NULL, &g, NULL, &b));
  return b;
}

static void expect_arange(const tp_buffer *b, size_t n) {
  double *v = malloc(n * sizeof *v);
  ct_ok(tp_buffer_read(b, 0, n * sizeof *v, v));
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(v[i], (double)(i + 1), "element %zu", i);
  free(v);
}

/* Every route of the conversion table, one rank: the values arrive, the
 * result has the target's kind and stream, and the source is intact. */
Test(construct_copy, every_route_on_one_rank) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)9, (int64_t)7);
  tp_allocator *all[3] = {f.local, f.repl, f.dist};
  for (int from = 0; from < 3; from++)
    for (int to = 0; to < 3; to++) {
      tp_buffer *src = arange_buffer(all[from], &l);
      tp_buffer *dst = NULL;
      ct_ok(
          tp_allocator_construct_copy(all[to], src, NULL, ct_stream(5), &dst));
      cr_expect_eq(tp_buffer_kind_of(dst), tp_allocator_kind_of(all[to]));
      cr_expect_eq(tp_buffer_allocator(dst), all[to]);
      cr_expect_eq(tp_buffer_stream(dst), ct_stream(5));
      cr_expect_neq(tp_buffer_data(dst), tp_buffer_data(src), "a copy");
      expect_arange(dst, 63);
      expect_arange(src, 63);
      ct_ok(tp_buffer_destroy(dst));
      ct_ok(tp_buffer_destroy(src));
    }
  tp_buffer *out = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_construct_copy(f.local, NULL, NULL, NULL, &out),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(out, (tp_buffer *)0x5);
  teardown(&f);
}

/* construct_move: "Its memory becomes the result's, with no copy, when the
 * backend is the same and the memory already holds the result's tile ...
 * one rank: any kinds"; "On success *source is set to NULL ...; on failure
 * it is left intact"; "A reused buffer moves to `stream`". */
Test(construct_move, one_rank_reuses_the_storage_for_any_kinds) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)9, (int64_t)7);
  tp_allocator *all[3] = {f.local, f.repl, f.dist};
  for (int from = 0; from < 3; from++)
    for (int to = 0; to < 3; to++) {
      tp_buffer *src = arange_buffer(all[from], &l);
      void *data = tp_buffer_data(src);
      tp_buffer *dst = NULL;
      ct_ok(
          tp_allocator_construct_move(all[to], &src, NULL, ct_stream(6), &dst));
      cr_expect_null(src, "the moved-from handle is NULL");
      cr_expect_eq(tp_buffer_data(dst), data, "%d -> %d copied", from, to);
      cr_expect_eq(tp_buffer_kind_of(dst), tp_allocator_kind_of(all[to]));
      cr_expect_eq(tp_buffer_stream(dst), ct_stream(6));
      expect_arange(dst, 63);
      ct_ok(tp_buffer_destroy(dst));
    }
  /* A mismatching tiling: the source stays usable. */
  tp_buffer *src = arange_buffer(f.local, &l);
  tp_buffer *keep = src;
  tp_tiling *two = NULL;
  ct_ok(tp_tiling_create_block(&l, 2, &two));
  tp_buffer *dst = (tp_buffer *)0x5;
  ct_expect_fail(tp_allocator_construct_move(f.dist, &src, two, NULL, &dst),
                 TP_ERR_MISMATCH, NULL);
  cr_expect_eq(src, keep, "*source changed on failure");
  cr_expect_eq(dst, (tp_buffer *)0x5);
  expect_arange(src, 63);
  ct_expect_fail(tp_allocator_construct_move(f.dist, NULL, NULL, NULL, &dst),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  tp_buffer *none = NULL;
  ct_expect_fail(tp_allocator_construct_move(f.dist, &none, NULL, NULL, &dst),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_tiling_destroy(two));
  ct_ok(tp_buffer_destroy(src));
  teardown(&f);
}

/* ---- wrap --------------------------------------------------------------- */

typedef struct deleter_log {
  int calls;
  void *user, *data;
  tp_stream stream;
  int result;
} deleter_log;

static int log_deleter(void *user, void *data, tp_stream stream) {
  deleter_log *d = user;
  d->calls++;
  d->user = user;
  d->data = data;
  d->stream = stream;
  if (d->result != 0)
    tp_set_last_error(TP_ERR_CALLBACK, "the arena refused %p", data);
  return d->result;
}

/* allocator.h: "At tp_buffer_destroy ... deleter(user, data, stream) is
 * called"; "tp_buffer_pool of it is NULL"; "anything else makes
 * tp_buffer_destroy return TP_ERR_CALLBACK" (buffer.h). */
Test(wrap, the_deleter_runs_once_at_destroy) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 1, (int64_t)16);
  double *mem = malloc(16 * sizeof *mem);
  for (int i = 0; i < 16; i++)
    mem[i] = i * 0.5;
  deleter_log d = {0};
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_wrap(f.local, &l, NULL, mem, log_deleter, &d, ct_stream(8),
                          &b));
  cr_expect_eq(tp_buffer_data(b), mem);
  cr_expect_null(tp_buffer_pool(b));
  cr_expect_eq(tp_buffer_stream(b), ct_stream(8));
  cr_expect_eq(tp_buffer_allocator(b), f.local);
  double v;
  ct_ok(tp_buffer_read(b, 15 * sizeof v, sizeof v, &v));
  cr_expect_eq(v, 7.5);
  /* Results computed from it come from its allocator. */
  tp_buffer *c = NULL;
  ct_ok(tp_buffer_clone(b, NULL, &c));
  cr_expect_eq(tp_buffer_allocator(c), f.local);
  cr_expect_not_null(tp_buffer_pool(c));
  ct_ok(tp_buffer_destroy(c));
  cr_expect_eq(d.calls, 0);
  ct_ok(tp_buffer_destroy(b));
  cr_expect_eq(d.calls, 1);
  cr_expect_eq(d.user, &d);
  cr_expect_eq(d.data, mem);
  cr_expect_eq(d.stream, ct_stream(8));

  /* The deleter gets the buffer's stream at destroy (set_stream moved it),
   * and a move hands the memory and the deleter on. */
  d = (deleter_log){0};
  ct_ok(tp_allocator_wrap(f.local, &l, NULL, mem, log_deleter, &d, ct_stream(8),
                          &b));
  ct_ok(tp_buffer_set_stream(b, ct_stream(9)));
  tp_buffer *moved = NULL;
  ct_ok(tp_allocator_construct_move(f.dist, &b, NULL, ct_stream(10), &moved));
  cr_expect_null(b);
  cr_expect_eq(tp_buffer_data(moved), mem, "one rank: the storage is reused");
  cr_expect_eq(d.calls, 0, "the move freed the wrapped memory");
  ct_ok(tp_buffer_destroy(moved));
  cr_expect_eq(d.calls, 1);
  cr_expect_eq(d.stream, ct_stream(10), "the result's stream");

  /* A failing deleter. */
  d = (deleter_log){.result = 5};
  ct_ok(tp_allocator_wrap(f.local, &l, NULL, mem, log_deleter, &d, NULL, &b));
  ct_expect_fail(tp_buffer_destroy(b), TP_ERR_CALLBACK, "the arena refused");
  cr_expect_eq(d.calls, 1);

  /* A NULL deleter: the caller keeps the memory. */
  ct_ok(tp_allocator_wrap(f.local, &l, NULL, mem, NULL, NULL, NULL, &b));
  ct_ok(tp_buffer_destroy(b));
  mem[3] = 1; /* still ours */
  free(mem);
  teardown(&f);
}

/* "`data` may be NULL only for an empty tile", "aligned to the element
 * size"; "On failure the caller keeps `data` and the deleter is never
 * called." */
Test(wrap, refusals_never_call_the_deleter) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 1, (int64_t)16);
  deleter_log d = {0};
  tp_buffer *b = (tp_buffer *)0x5;
  ct_expect_fail(
      tp_allocator_wrap(f.local, &l, NULL, NULL, log_deleter, &d, NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  double *mem = malloc(17 * sizeof *mem);
  ct_expect_fail(tp_allocator_wrap(f.local, &l, NULL, (char *)mem + 1,
                                   log_deleter, &d, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  tp_tiling *two = NULL;
  ct_ok(tp_tiling_create_block(&l, 2, &two));
  ct_expect_fail(
      tp_allocator_wrap(f.dist, &l, two, mem, log_deleter, &d, NULL, &b),
      TP_ERR_MISMATCH, NULL);
  ct_expect_fail(
      tp_allocator_wrap(f.local, NULL, NULL, mem, log_deleter, &d, NULL, &b),
      TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(b, (tp_buffer *)0x5);
  cr_expect_eq(d.calls, 0);
  tp_layout empty = ct_layout(TP_DTYPE_F64, 1, (int64_t)0);
  ct_ok(tp_allocator_wrap(f.local, &empty, NULL, NULL, log_deleter, &d, NULL,
                          &b));
  ct_ok(tp_buffer_destroy(b));
  ct_ok(tp_tiling_destroy(two));
  free(mem);
  teardown(&f);
}
