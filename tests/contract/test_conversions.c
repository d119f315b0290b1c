/* Conversions between buffer kinds: docs/buffers.md ("Conversions",
 * "Moves", "Streams", "Wrapping memory", "How host bytes are copied",
 * "Errors"), the README's "Buffers, allocators, conversions" and
 * allocator.h's tp_allocator_construct_copy and tp_allocator_construct_move,
 * on a one-process runtime (rank 0 of 1).
 *
 * What test_allocator.c already checks (every route once for a 9 x 7 f64
 * tensor, the data pointer of a one-rank move, a 2-part tiling refused for
 * a move, a wrapped buffer moved local -> distributed) is not repeated.
 * Here: every pair of kinds for every element type and for empty, 0-d and
 * 8-d tensors, bit for bit; user-given tilings; wrapped sources (at every
 * offset modulo 256) and DLPack views; what a reusing move does to the
 * pool; every documented refusal with its status, a fresh message naming
 * the call, and nothing lost (the source's values, stream and handle,
 * *out, the pool's statistics); an exhausted budget, which refuses copies
 * but neither moves nor empty tensors; the stream a result and a source
 * are freed on; a source from another runtime; concurrent readers of one
 * source; the documented constants.
 *
 * Out of reach of one process: the collectives, uneven tilings (with one
 * rank a tiling has exactly one part), redistribution, and moves that copy
 * (on one rank every move reuses, buffers.md "Moves"). */
#include <pthread.h>

#include "contract.h"

#define NKINDS 3

typedef struct fixture {
  tp_runtime *rt;
  tp_allocator *kind[NKINDS]; /* indexed by tp_buffer_kind */
  tp_pool *pool;              /* the runtime's host pool */
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = ct_runtime();
  for (int k = 0; k < NKINDS; k++)
    f.kind[k] = ct_allocator(f.rt, (tp_buffer_kind)k);
  ct_ok(tp_runtime_pool(f.rt, TP_SPACE_HOST, &f.pool));
  return f;
}

/* No work of the runtime failed behind a call's back (runtime.h:
 * tp_runtime_async_error), and every buffer is gone (else TP_ERR_BUSY). */
static void teardown(fixture *f) {
  tp_status async = TP_ERR_INTERNAL;
  ct_ok(tp_runtime_async_error(f->rt, &async));
  cr_expect_eq(async, TP_SUCCESS, "an asynchronous error: %s",
               tp_status_name(async));
  ct_ok(tp_runtime_destroy(f->rt));
}

/* Whether `message` names the function that `call_text` (the text of a
 * call, as the macro below sees it) calls. */
static bool names_function(const char *message, const char *call_text) {
  char name[64];
  size_t n = strcspn(call_text, "( ");
  if (n >= sizeof name)
    n = sizeof name - 1;
  memcpy(name, call_text, n);
  name[n] = '\0';
  return ct_has(message, name);
}

/* A refused call: the status, and a fresh message (status.h: a failure
 * sets it; a stale one would describe an earlier failure) that says "what
 * was asked and what refused it" (README): the function's name (api.md
 * promises it for NULL arguments) and `what` (NULL: anything). */
#define expect_refused(call, status, what)                                     \
  do {                                                                         \
    tp_set_last_error(TP_ERR_INTERNAL, "stale marker");                        \
    ct_expect_fail(call, status, what);                                        \
    cr_expect(!ct_has(tp_last_error(), "stale marker"),                        \
              "%s kept the previous message", #call);                          \
    cr_expect(names_function(tp_last_error(), #call),                          \
              "%s: the message \"%s\" does not name the function", #call,      \
              tp_last_error());                                                \
  } while (0)

/* Values with many distinct bits for every element type, within what
 * generator.h lets each type hold (i8: lo and hi - 1 in -128..127, u8:
 * 0..255, bool: 0..1). */
static tp_generator values_for(tp_dtype t, uint64_t seed) {
  switch (t) {
  case TP_DTYPE_I32:
  case TP_DTYPE_I64: return tp_generator_uniform(seed, -100000, 100000);
  case TP_DTYPE_I8: return tp_generator_uniform(seed, -128, 128);
  case TP_DTYPE_U8: return tp_generator_uniform(seed, 0, 256);
  case TP_DTYPE_BOOL: return tp_generator_uniform(seed, 0, 2);
  default: return tp_generator_uniform(seed, -8.0, 8.0);
  }
}

static tp_buffer *make(tp_allocator *a, const tp_layout *l,
                       const tp_tiling *tiling, tp_stream stream) {
  tp_generator g = values_for(l->dtype, 77);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_construct_generator(a, l, tiling, &g, stream, &b));
  return b;
}

/* This rank's bytes of `b` (malloc'd; at least one byte). */
static unsigned char *contents(const tp_buffer *b) {
  size_t n = tp_buffer_bytes(b);
  unsigned char *v = malloc(n ? n : 1);
  cr_assert_not_null(v);
  ct_ok(tp_buffer_read(b, 0, n, v));
  return v;
}

static void expect_contents(const tp_buffer *b, const unsigned char *want,
                            size_t n, const char *what) {
  cr_assert_eq(tp_buffer_bytes(b), n, "%s: %zu bytes, wanted %zu", what,
               tp_buffer_bytes(b), n);
  unsigned char *got = contents(b);
  cr_expect(memcmp(got, want, n) == 0, "%s: the values differ", what);
  free(got);
}

/* The result of a conversion on one rank: `a`'s kind and allocator, the
 * global layout `l`, and the whole tensor as this rank's tile (buffers.md:
 * "On one rank every kind holds the whole tensor"); host memory; a
 * distributed result is tiled as the block split over the runtime's one
 * rank (allocator.h: NULL means "a block split of axis 0 over the
 * runtime's ranks") unless `tiling` says otherwise; an empty tile has no
 * data. */
static void expect_whole(const tp_buffer *b, const tp_allocator *a,
                         const tp_layout *l, const tp_tiling *tiling,
                         const char *what) {
  cr_assert_not_null(b, "%s: no buffer", what);
  cr_expect_eq(tp_buffer_kind_of(b), tp_allocator_kind_of(a), "%s", what);
  cr_expect_eq(tp_buffer_allocator(b), a, "%s", what);
  int eq = 0;
  ct_ok(tp_layout_equal(tp_buffer_layout(b), l, &eq));
  cr_expect_eq(eq, 1, "%s: another layout", what);
  size_t count = 0, bytes = 0;
  ct_ok(tp_layout_count(l, &count));
  ct_ok(tp_layout_bytes(l, &bytes));
  const tp_tile *t = tp_buffer_tile(b);
  cr_assert_not_null(t);
  cr_expect_eq(t->part, 0, "%s", what);
  cr_expect_eq(t->first, 0, "%s", what);
  cr_expect_eq(t->count, count, "%s: tile of %zu elements, wanted %zu", what,
               t->count, count);
  for (int k = 0; k < l->ndim; k++) {
    cr_expect_eq(t->offsets[k], 0, "%s: axis %d", what, k);
    cr_expect_eq(t->extents[k], l->extents[k], "%s: axis %d", what, k);
  }
  tp_tile of;
  ct_ok(tp_buffer_tile_of(b, 0, &of));
  cr_expect_eq(of.count, count, "%s", what);
  cr_expect_eq(tp_buffer_bytes(b), bytes, "%s", what);
  if (count == 0)
    cr_expect_null(tp_buffer_data(b), "%s: an empty tile has data", what);
  else
    cr_expect_not_null(tp_buffer_data(b), "%s", what);
  cr_expect_eq(tp_buffer_device(b), -1, "%s", what);
  cr_assert_not_null(tp_buffer_space(b));
  cr_expect_eq(tp_buffer_space(b)->kind, TP_SPACE_HOST, "%s", what);
  cr_expect_eq(tp_buffer_is_host_accessible(b), 1, "%s", what);
  const tp_tiling *have = tp_buffer_tiling(b);
  if (tp_allocator_kind_of(a) != TP_BUFFER_DISTRIBUTED) {
    cr_expect_null(have, "%s: a tiling on a non-distributed buffer", what);
    return;
  }
  cr_assert_not_null(have, "%s: a distributed buffer without a tiling", what);
  tp_tiling *block = NULL;
  if (tiling == NULL) {
    ct_ok(tp_tiling_create_block(l, tp_runtime_size(tp_allocator_runtime(a)),
                                 &block));
    tiling = block;
  }
  ct_ok(tp_tiling_equal(have, tiling, &eq));
  cr_expect_eq(eq, 1, "%s: not the tiling asked for", what);
  ct_ok(tp_tiling_destroy(block));
}

/* ---- "Nothing lost" ----------------------------------------------------- */

/* What a user can see of a source buffer. */
typedef struct snapshot {
  const tp_buffer *b;
  void *data;
  tp_stream stream;
  tp_buffer_kind kind;
  tp_allocator *allocator;
  size_t bytes;
  unsigned char *values;
} snapshot;

static snapshot take(const tp_buffer *b) {
  snapshot s = {b,
                tp_buffer_data(b),
                tp_buffer_stream(b),
                tp_buffer_kind_of(b),
                tp_buffer_allocator(b),
                tp_buffer_bytes(b),
                contents(b)};
  return s;
}

/* The source is as it was: handle, data, stream, kind and values. */
static void expect_unchanged(const snapshot *s, const char *what) {
  cr_expect_eq(tp_buffer_data(s->b), s->data, "%s: the data moved", what);
  cr_expect_eq(tp_buffer_stream(s->b), s->stream, "%s: the stream", what);
  cr_expect_eq(tp_buffer_kind_of(s->b), s->kind, "%s: the kind", what);
  cr_expect_eq(tp_buffer_allocator(s->b), s->allocator, "%s", what);
  expect_contents(s->b, s->values, s->bytes, what);
}

/* ... and still usable: a clone of it holds its values. */
static void expect_intact(const snapshot *s, const char *what) {
  expect_unchanged(s, what);
  tp_buffer *c = NULL;
  ct_ok(tp_buffer_clone(s->b, NULL, &c));
  expect_contents(c, s->values, s->bytes, what);
  ct_ok(tp_buffer_destroy(c));
}

static void drop(snapshot *s) {
  free(s->values);
  s->values = NULL;
}

/* Every counter of the pool is as it was: a refusal before any allocation
 * (api.md: arguments are checked "before any side effect"). */
static void expect_same_stats(const tp_pool_stats *before,
                              const tp_pool_stats *after, const char *what) {
  cr_expect(memcmp(before, after, sizeof *before) == 0,
            "%s: the pool's statistics changed (allocations %llu -> %llu, "
            "live blocks %llu -> %llu, failures %llu -> %llu)",
            what, (unsigned long long)before->allocations,
            (unsigned long long)after->allocations,
            (unsigned long long)before->live_blocks,
            (unsigned long long)after->live_blocks,
            (unsigned long long)before->failures,
            (unsigned long long)after->failures);
}

/* ---- Documented figures -------------------------------------------------- */

/* The numbers the headers and docs state: "0 to 8 dimensions" (TP_MAX_NDIM,
 * "fixed for the 1.x ABI"), "2^20, over a million ranks" (TP_MAX_PARTS),
 * three kinds with fixed values (buffer.h), and the automatic choice's
 * threshold of "at least 64 KiB" (buffers.md; allocator.h
 * TP_AUTO_DEVICE_MIN_BYTES). */
Test(figures, documented_constants) {
  cr_expect_eq(TP_MAX_NDIM, 8);
  cr_expect_eq(TP_MAX_PARTS, 1048576);
  cr_expect_eq(TP_BUFFER_KIND_COUNT, 3);
  cr_expect_eq(TP_BUFFER_LOCAL, 0);
  cr_expect_eq(TP_BUFFER_REPLICATED, 1);
  cr_expect_eq(TP_BUFFER_DISTRIBUTED, 2);
  cr_expect_eq(TP_BUFFER_KIND_INVALID, -1);
  cr_expect_eq(TP_AUTO_DEVICE_MIN_BYTES, (size_t)64 << 10);
}

/* ---- Every pair of kinds, every element type ---------------------------- */

/* Layouts with the edge cases buffers.md names: "0 to 8 dimensions",
 * "extents (0 allowed: an empty tensor)", "a zero extent is an empty
 * tensor, however large the others". */
#define NLAYOUTS 7
static tp_layout layout_case(tp_dtype t, int i) {
  switch (i) {
  case 0: return ct_layout(t, 3, (int64_t)5, (int64_t)3, (int64_t)2);
  case 1: return ct_layout(t, 0);
  case 2: return ct_layout(t, 1, (int64_t)1);
  case 3: return ct_layout(t, 2, (int64_t)0, (int64_t)4);
  case 4: return ct_layout(t, 2, (int64_t)3, (int64_t)0);
  case 5: return ct_layout(t, 2, (int64_t)1 << 62, (int64_t)0);
  default:
    return ct_layout(t, 8, (int64_t)2, (int64_t)1, (int64_t)2, (int64_t)1,
                     (int64_t)2, (int64_t)1, (int64_t)1, (int64_t)3);
  }
}

/* buffers.md's table of conversions: every cell is a copy on one rank. The
 * result holds the source's bits exactly, which are also the bits the
 * generator gives when the target kind is built directly ("Values depend
 * only on the generator and the element's global index, never on the
 * tiling"); it is a new block (an empty one holds none: "A rank with an
 * empty tile has data == NULL and no pool block"); its stream is the
 * call's; the source keeps its values and its stream. */
Test(copy, every_pair_of_kinds_every_dtype_bit_for_bit) {
  fixture f = setup();
  for (int t = 0; t < TP_DTYPE_COUNT; t++)
    for (int li = 0; li < NLAYOUTS; li++) {
      tp_layout l = layout_case((tp_dtype)t, li);
      size_t count = 0;
      ct_ok(tp_layout_count(&l, &count));
      for (int from = 0; from < NKINDS; from++)
        for (int to = 0; to < NKINDS; to++) {
          char what[96];
          snprintf(what, sizeof what, "%s layout %d %s -> %s",
                   tp_dtype_name((tp_dtype)t), li,
                   tp_buffer_kind_name((tp_buffer_kind)from),
                   tp_buffer_kind_name((tp_buffer_kind)to));
          tp_buffer *src = make(f.kind[from], &l, NULL, ct_stream(1));
          snapshot s = take(src);
          tp_buffer *direct = make(f.kind[to], &l, NULL, NULL);
          tp_pool_stats before = ct_host_stats(f.rt);
          tp_buffer *out = NULL;
          ct_ok(tp_allocator_construct_copy(f.kind[to], src, NULL, ct_stream(2),
                                            &out));
          tp_pool_stats after = ct_host_stats(f.rt);
          expect_whole(out, f.kind[to], &l, NULL, what);
          cr_expect_eq(tp_buffer_stream(out), ct_stream(2), "%s", what);
          expect_contents(out, s.values, s.bytes, what);
          unsigned char *d = contents(direct);
          cr_expect(memcmp(d, s.values, s.bytes) == 0,
                    "%s: the generator's bits differ between kinds", what);
          free(d);
          cr_expect_eq(
              after.live_blocks, before.live_blocks + (count > 0 ? 1 : 0),
              "%s: %llu live blocks, wanted %llu", what,
              (unsigned long long)after.live_blocks,
              (unsigned long long)before.live_blocks + (count > 0 ? 1 : 0));
          if (count > 0) {
            cr_expect_neq(tp_buffer_data(out), s.data, "%s: not a copy", what);
            cr_expect_eq(tp_buffer_pool(out), f.pool, "%s", what);
          }
          expect_intact(&s, what);
          drop(&s);
          ct_ok(tp_buffer_destroy(out));
          ct_ok(tp_buffer_destroy(direct));
          ct_ok(tp_buffer_destroy(src));
        }
    }
  teardown(&f);
}

/* buffers.md "Moves": "On one rank every kind holds the whole tensor, so
 * every move between kinds reuses the storage"; allocator.h: "Its memory
 * becomes the result's, with no copy". So the pool hands out nothing (no
 * allocation, no free), the result has the source's data and bits, its
 * stream is the call's ("A reused buffer moves to `stream`"), and the
 * handle is NULL. */
Test(move, every_pair_of_kinds_every_dtype_reuses_the_storage) {
  fixture f = setup();
  for (int t = 0; t < TP_DTYPE_COUNT; t++)
    for (int li = 0; li < NLAYOUTS; li++) {
      tp_layout l = layout_case((tp_dtype)t, li);
      size_t count = 0;
      ct_ok(tp_layout_count(&l, &count));
      for (int from = 0; from < NKINDS; from++)
        for (int to = 0; to < NKINDS; to++) {
          char what[96];
          snprintf(what, sizeof what, "%s layout %d %s -> %s",
                   tp_dtype_name((tp_dtype)t), li,
                   tp_buffer_kind_name((tp_buffer_kind)from),
                   tp_buffer_kind_name((tp_buffer_kind)to));
          tp_buffer *src = make(f.kind[from], &l, NULL, ct_stream(1));
          snapshot s = take(src);
          tp_pool_stats before = ct_host_stats(f.rt);
          tp_buffer *out = NULL;
          ct_ok(tp_allocator_construct_move(f.kind[to], &src, NULL,
                                            ct_stream(2), &out));
          tp_pool_stats after = ct_host_stats(f.rt);
          cr_expect_null(src, "%s: the moved-from handle", what);
          expect_whole(out, f.kind[to], &l, NULL, what);
          cr_expect_eq(tp_buffer_data(out), s.data, "%s: copied", what);
          cr_expect_eq(tp_buffer_stream(out), ct_stream(2), "%s", what);
          expect_contents(out, s.values, s.bytes, what);
          cr_expect_eq(after.allocations, before.allocations,
                       "%s: the pool allocated", what);
          cr_expect_eq(after.deallocations, before.deallocations,
                       "%s: the pool freed", what);
          cr_expect_eq(after.live_blocks, before.live_blocks, "%s", what);
          if (count > 0)
            cr_expect_eq(tp_buffer_pool(out), f.pool, "%s", what);
          drop(&s);
          tp_pool_stats pre = ct_host_stats(f.rt);
          ct_ok(tp_buffer_destroy(out));
          tp_pool_stats post = ct_host_stats(f.rt);
          cr_expect_eq(post.live_blocks, pre.live_blocks - (count > 0 ? 1 : 0),
                       "%s: the storage was not freed once", what);
        }
    }
  teardown(&f);
}

/* allocator.h: "On success *source is set to NULL ... and then *out to the
 * result, so `out` may be `source` (b = move of b)". From every kind to
 * every kind: the handle ends as the result, with the same values. */
Test(move, into_its_own_handle) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)6, (int64_t)5);
  for (int from = 0; from < NKINDS; from++)
    for (int to = 0; to < NKINDS; to++) {
      char what[64];
      snprintf(what, sizeof what, "%s -> %s into its own handle",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name((tp_buffer_kind)to));
      tp_buffer *b = make(f.kind[from], &l, NULL, NULL);
      snapshot s = take(b);
      ct_ok(tp_allocator_construct_move(f.kind[to], &b, NULL, NULL, &b));
      cr_assert_not_null(b, "%s: the handle is NULL", what);
      expect_whole(b, f.kind[to], &l, NULL, what);
      expect_contents(b, s.values, s.bytes, what);
      ct_ok(tp_buffer_destroy(b));
      drop(&s);
    }
  teardown(&f);
}

/* A chain of moves keeps one block: the data pointer stays, the stream
 * follows each call, the pool never allocates, and the runtime still
 * counts one live buffer (runtime.h: destroy with a live buffer is
 * TP_ERR_BUSY and frees nothing). */
Test(move, a_chain_of_moves_keeps_one_block) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_C128, 2, (int64_t)33, (int64_t)17);
  tp_buffer *b = make(f.kind[TP_BUFFER_LOCAL], &l, NULL, ct_stream(1));
  snapshot s = take(b);
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_buffer_kind path[] = {TP_BUFFER_DISTRIBUTED, TP_BUFFER_REPLICATED,
                           TP_BUFFER_LOCAL,       TP_BUFFER_REPLICATED,
                           TP_BUFFER_DISTRIBUTED, TP_BUFFER_DISTRIBUTED,
                           TP_BUFFER_LOCAL};
  for (int i = 0; i < (int)(sizeof path / sizeof *path); i++) {
    tp_buffer *next = NULL;
    ct_ok(tp_allocator_construct_move(f.kind[path[i]], &b, NULL,
                                      ct_stream(10 + i), &next));
    cr_expect_null(b);
    b = next;
    cr_expect_eq(tp_buffer_data(b), s.data, "step %d copied", i);
    cr_expect_eq(tp_buffer_stream(b), ct_stream(10 + i), "step %d", i);
    cr_expect_eq(tp_buffer_kind_of(b), path[i]);
  }
  expect_contents(b, s.values, s.bytes, "after the chain");
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.allocations, before.allocations);
  cr_expect_eq(after.live_blocks, before.live_blocks);
  ct_expect_fail(tp_runtime_destroy(f.rt), TP_ERR_BUSY, NULL);
  expect_contents(b, s.values, s.bytes, "after the refused destroy");
  ct_ok(tp_buffer_destroy(b));
  after = ct_host_stats(f.rt);
  cr_expect_eq(after.live_blocks, before.live_blocks - 1);
  drop(&s);
  teardown(&f);
}

/* ---- User-given tilings ------------------------------------------------- */

/* allocator.h: a distributed allocator's `tiling` "must have one part per
 * rank and the same layout"; one made with tp_tiling_create, with
 * tp_tiling_create_block or cloned is as good as NULL, for copies and
 * moves from every kind, for 0-d and empty tensors too ("for a 0-d tensor,
 * [the rows sum] to 1"). A move into a distributed buffer with "the same
 * tiling, `tiling` or the block split when NULL" reuses. */
Test(tilings, one_part_tilings_made_every_way) {
  fixture f = setup();
  tp_layout ls[4] = {ct_layout(TP_DTYPE_I64, 2, (int64_t)9, (int64_t)4),
                     ct_layout(TP_DTYPE_F32, 0),
                     ct_layout(TP_DTYPE_BF16, 2, (int64_t)0, (int64_t)6),
                     ct_layout(TP_DTYPE_U8, 1, (int64_t)300)};
  for (int li = 0; li < 4; li++) {
    tp_layout *l = &ls[li];
    int64_t rows = l->ndim == 0 ? 1 : l->extents[0];
    tp_tiling *made[3] = {NULL, NULL, NULL};
    ct_ok(tp_tiling_create(l, 1, &rows, &made[0]));
    ct_ok(tp_tiling_create_block(l, 1, &made[1]));
    ct_ok(tp_tiling_clone(made[0], &made[2]));
    for (int m = 0; m < 3; m++)
      for (int from = 0; from < NKINDS; from++) {
        char what[96];
        snprintf(what, sizeof what, "layout %d tiling %d from %s", li, m,
                 tp_buffer_kind_name((tp_buffer_kind)from));
        /* A distributed source is built on the user's tiling too. */
        const tp_tiling *src_tiling =
            from == TP_BUFFER_DISTRIBUTED ? made[m] : NULL;
        tp_buffer *src = make(f.kind[from], l, src_tiling, NULL);
        if (src_tiling)
          expect_whole(src, f.kind[from], l, made[m], what);
        snapshot s = take(src);
        tp_buffer *out = NULL;
        /* The tiling is the caller's to destroy once the call returns:
         * the result keeps its own (buffers.md: what a conversion makes is
         * "the buffer record, the tiling and the pool block of the
         * result"; api.md: tp_tiling_destroy needs only that no call uses
         * the tiling). */
        tp_tiling *passing = NULL;
        ct_ok(tp_tiling_clone(made[m], &passing));
        ct_ok(tp_allocator_construct_copy(f.kind[TP_BUFFER_DISTRIBUTED], src,
                                          passing, ct_stream(3), &out));
        ct_ok(tp_tiling_destroy(passing));
        expect_whole(out, f.kind[TP_BUFFER_DISTRIBUTED], l, made[m], what);
        expect_contents(out, s.values, s.bytes, what);
        ct_ok(tp_buffer_destroy(out));
        /* The distributed source's user tiling back to the block split. */
        if (src_tiling) {
          ct_ok(tp_allocator_construct_copy(f.kind[TP_BUFFER_DISTRIBUTED], src,
                                            NULL, NULL, &out));
          expect_whole(out, f.kind[TP_BUFFER_DISTRIBUTED], l, NULL, what);
          expect_contents(out, s.values, s.bytes, what);
          ct_ok(tp_buffer_destroy(out));
        }
        /* A move with an equal tiling made another way ("the same
         * tiling": equal, not the same object) reuses. */
        const tp_tiling *other = made[(m + 1) % 3];
        tp_pool_stats before = ct_host_stats(f.rt);
        ct_ok(tp_allocator_construct_move(f.kind[TP_BUFFER_DISTRIBUTED], &src,
                                          other, ct_stream(4), &out));
        tp_pool_stats after = ct_host_stats(f.rt);
        cr_expect_null(src, "%s", what);
        cr_expect_eq(tp_buffer_data(out), s.data, "%s: copied", what);
        cr_expect_eq(after.allocations, before.allocations, "%s", what);
        expect_whole(out, f.kind[TP_BUFFER_DISTRIBUTED], l, other, what);
        expect_contents(out, s.values, s.bytes, what);
        ct_ok(tp_buffer_destroy(out));
        drop(&s);
      }
    for (int m = 0; m < 3; m++)
      ct_ok(tp_tiling_destroy(made[m]));
  }
  teardown(&f);
}

/* allocator.h: the tiling "must have one part per rank and the same layout
 * (TP_ERR_MISMATCH)"; buffers.md "Errors": "a tiling for another layout or
 * rank count (TP_ERR_MISMATCH)" and "Bad input gets a status and a message
 * and changes nothing"; a failed move leaves *source intact. Tried for
 * copies and moves from every kind, then the source converts as before. */
Test(refusals, tilings_that_do_not_fit_the_layout_or_the_ranks) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)8, (int64_t)8);
  tp_layout as_f32 = ct_layout(TP_DTYPE_F32, 2, (int64_t)8, (int64_t)8);
  tp_layout wider = ct_layout(TP_DTYPE_F64, 2, (int64_t)8, (int64_t)9);
  tp_layout flat = ct_layout(TP_DTYPE_F64, 1, (int64_t)8);
  tp_layout cube =
      ct_layout(TP_DTYPE_F64, 3, (int64_t)8, (int64_t)8, (int64_t)1);
  tp_layout empty = ct_layout(TP_DTYPE_F64, 2, (int64_t)0, (int64_t)8);
  int64_t uneven[2] = {8, 0}, other_way[2] = {0, 8}, split[2] = {3, 5};
  int64_t all = 8, none = 0;
  tp_tiling *bad[10] = {NULL};
  const char *names[10] = {"2 parts, block",
                           "2 parts, all rows on part 0",
                           "2 parts, all rows on part 1",
                           "2 parts, 3 + 5 rows",
                           "TP_MAX_PARTS parts",
                           "an f32 layout",
                           "8 x 9",
                           "1-d, 8 rows",
                           "3-d, 8 rows",
                           "an empty layout"};
  ct_ok(tp_tiling_create_block(&l, 2, &bad[0]));
  ct_ok(tp_tiling_create(&l, 2, uneven, &bad[1]));
  ct_ok(tp_tiling_create(&l, 2, other_way, &bad[2]));
  ct_ok(tp_tiling_create(&l, 2, split, &bad[3]));
  ct_ok(tp_tiling_create_block(&l, TP_MAX_PARTS, &bad[4]));
  ct_ok(tp_tiling_create(&as_f32, 1, &all, &bad[5]));
  ct_ok(tp_tiling_create(&wider, 1, &all, &bad[6]));
  ct_ok(tp_tiling_create(&flat, 1, &all, &bad[7]));
  ct_ok(tp_tiling_create(&cube, 1, &all, &bad[8]));
  ct_ok(tp_tiling_create(&empty, 1, &none, &bad[9]));
  for (int from = 0; from < NKINDS; from++) {
    tp_buffer *src = make(f.kind[from], &l, NULL, ct_stream(5));
    snapshot s = take(src);
    for (int i = 0; i < 10; i++) {
      char what[96];
      snprintf(what, sizeof what, "%s source, a tiling of %s",
               tp_buffer_kind_name((tp_buffer_kind)from), names[i]);
      tp_pool_stats before = ct_host_stats(f.rt);
      tp_buffer *out = (tp_buffer *)0x5;
      expect_refused(tp_allocator_construct_copy(f.kind[TP_BUFFER_DISTRIBUTED],
                                                 src, bad[i], NULL, &out),
                     TP_ERR_MISMATCH, "tiling");
      cr_expect_eq(out, (tp_buffer *)0x5, "%s: *out written", what);
      tp_buffer *handle = src;
      expect_refused(tp_allocator_construct_move(f.kind[TP_BUFFER_DISTRIBUTED],
                                                 &handle, bad[i], NULL, &out),
                     TP_ERR_MISMATCH, "tiling");
      cr_expect_eq(handle, src, "%s: *source changed on failure", what);
      cr_expect_eq(out, (tp_buffer *)0x5, "%s: *out written", what);
      tp_pool_stats after = ct_host_stats(f.rt);
      expect_same_stats(&before, &after, what);
      expect_intact(&s, what);
    }
    /* Still movable: the refusals took nothing from it. */
    tp_buffer *out = NULL;
    ct_ok(tp_allocator_construct_move(f.kind[TP_BUFFER_DISTRIBUTED], &src, NULL,
                                      NULL, &out));
    cr_expect_eq(tp_buffer_data(out), s.data);
    expect_contents(out, s.values, s.bytes, "moved after the refusals");
    ct_ok(tp_buffer_destroy(out));
    drop(&s);
  }
  for (int i = 0; i < 10; i++)
    ct_ok(tp_tiling_destroy(bad[i]));
  teardown(&f);
}

/* allocator.h: "Local and replicated allocators take NULL (a tiling given
 * to them is TP_ERR_INVALID_ARGUMENT)", even a tiling that fits the layout
 * and the ranks exactly; nothing is allocated, *out is untouched, a move's
 * *source is left intact. */
Test(refusals, a_tiling_given_to_a_local_or_replicated_allocator) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I32, 2, (int64_t)12, (int64_t)5);
  tp_tiling *fits = NULL;
  ct_ok(tp_tiling_create_block(&l, 1, &fits));
  tp_buffer_kind targets[2] = {TP_BUFFER_LOCAL, TP_BUFFER_REPLICATED};
  for (int from = 0; from < NKINDS; from++) {
    tp_buffer *src = make(f.kind[from], &l, NULL, ct_stream(6));
    snapshot s = take(src);
    for (int i = 0; i < 2; i++) {
      char what[96];
      snprintf(what, sizeof what, "%s -> %s with a tiling",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name(targets[i]));
      tp_pool_stats before = ct_host_stats(f.rt);
      tp_buffer *out = (tp_buffer *)0x5;
      expect_refused(tp_allocator_construct_copy(f.kind[targets[i]], src, fits,
                                                 NULL, &out),
                     TP_ERR_INVALID_ARGUMENT, "tiling");
      cr_expect_eq(out, (tp_buffer *)0x5, "%s", what);
      tp_buffer *handle = src;
      expect_refused(tp_allocator_construct_move(f.kind[targets[i]], &handle,
                                                 fits, NULL, &out),
                     TP_ERR_INVALID_ARGUMENT, "tiling");
      cr_expect_eq(handle, src, "%s: *source changed", what);
      cr_expect_eq(out, (tp_buffer *)0x5, "%s", what);
      tp_pool_stats after = ct_host_stats(f.rt);
      expect_same_stats(&before, &after, what);
      expect_intact(&s, what);
    }
    drop(&s);
    ct_ok(tp_buffer_destroy(src));
  }
  ct_ok(tp_tiling_destroy(fits));
  teardown(&f);
}

/* api.md: "Functions that return a tp_status refuse a NULL handle or
 * out-pointer with TP_ERR_INVALID_ARGUMENT and a message naming the
 * function"; buffers.md: "NULL handles, out-pointers ... before any
 * allocation". construct_move: "on failure it [*source] is left intact",
 * also when only `out` is NULL. */
Test(refusals, null_handles_and_out_pointers) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_C64, 2, (int64_t)4, (int64_t)6);
  for (int k = 0; k < NKINDS; k++) {
    tp_allocator *a = f.kind[k];
    tp_buffer *src = make(a, &l, NULL, ct_stream(7));
    snapshot s = take(src);
    tp_pool_stats before = ct_host_stats(f.rt);
    tp_buffer *out = (tp_buffer *)0x5;
    expect_refused(tp_allocator_construct_copy(NULL, src, NULL, NULL, &out),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    expect_refused(tp_allocator_construct_copy(a, NULL, NULL, NULL, &out),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    expect_refused(tp_allocator_construct_copy(a, src, NULL, NULL, NULL),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    cr_expect_eq(out, (tp_buffer *)0x5);

    tp_buffer *handle = src;
    expect_refused(tp_allocator_construct_move(NULL, &handle, NULL, NULL, &out),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    cr_expect_eq(handle, src);
    expect_refused(tp_allocator_construct_move(a, NULL, NULL, NULL, &out),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    tp_buffer *none = NULL;
    expect_refused(tp_allocator_construct_move(a, &none, NULL, NULL, &out),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    cr_expect_null(none);
    expect_refused(tp_allocator_construct_move(a, &handle, NULL, NULL, NULL),
                   TP_ERR_INVALID_ARGUMENT, "NULL");
    cr_expect_eq(handle, src, "a NULL out took the source");
    cr_expect_eq(out, (tp_buffer *)0x5);
    tp_pool_stats after = ct_host_stats(f.rt);
    expect_same_stats(&before, &after, tp_allocator_name(a));
    expect_intact(&s, tp_allocator_name(a));
    drop(&s);
    ct_ok(tp_buffer_destroy(src));
  }
  teardown(&f);
}

/* buffers.md "Errors": "an exhausted budget (TP_ERR_OUT_OF_MEMORY, other
 * buffers intact)", *out untouched and nothing allocated (allocator.h).
 * A move needs no memory on one rank (it reuses the storage), so the same
 * budget that refuses a copy lets every move through. */
Test(refusals, an_exhausted_budget_refuses_copies_not_moves) {
  fixture f = setup();
  ct_ok(tp_runtime_set_budget(f.rt, TP_SPACE_HOST, 1 << 20));
  tp_layout l = ct_layout(TP_DTYPE_U8, 1, (int64_t)(600 << 10));
  for (int from = 0; from < NKINDS; from++) {
    tp_buffer *src = make(f.kind[from], &l, NULL, ct_stream(8));
    snapshot s = take(src);
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "%s -> %s over the budget",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name((tp_buffer_kind)to));
      tp_pool_stats before = ct_host_stats(f.rt);
      tp_buffer *out = (tp_buffer *)0x5;
      expect_refused(
          tp_allocator_construct_copy(f.kind[to], src, NULL, NULL, &out),
          TP_ERR_OUT_OF_MEMORY, "614400");
      cr_expect_eq(out, (tp_buffer *)0x5, "%s", what);
      tp_pool_stats after = ct_host_stats(f.rt);
      cr_expect_eq(after.live_blocks, before.live_blocks, "%s", what);
      cr_expect_eq(after.live_bytes, before.live_bytes, "%s", what);
      cr_expect_eq(after.allocations, before.allocations, "%s", what);
      /* No clone: there is no room for one. */
      expect_unchanged(&s, what);
    }
    /* Every move goes through, to every kind in turn. */
    for (int to = 0; to < NKINDS; to++) {
      tp_buffer *out = NULL;
      ct_ok(tp_allocator_construct_move(f.kind[to], &src, NULL, NULL, &out));
      cr_expect_eq(tp_buffer_data(out), s.data);
      src = out;
    }
    expect_contents(src, s.values, s.bytes, "moved under the budget");
    drop(&s);
    ct_ok(tp_buffer_destroy(src));
  }
  /* With room again, the copy works. */
  ct_ok(tp_runtime_set_budget(f.rt, TP_SPACE_HOST, 8 << 20));
  tp_buffer *src = make(f.kind[TP_BUFFER_LOCAL], &l, NULL, NULL);
  tp_buffer *out = NULL;
  ct_ok(tp_allocator_construct_copy(f.kind[TP_BUFFER_REPLICATED], src, NULL,
                                    NULL, &out));
  snapshot s = take(src);
  expect_contents(out, s.values, s.bytes, "after raising the budget");
  drop(&s);
  ct_ok(tp_buffer_destroy(out));
  ct_ok(tp_buffer_destroy(src));
  teardown(&f);
}

/* "A rank with an empty tile has data == NULL and no pool block"
 * (buffers.md), so with a budget that has no byte left, empty tensors
 * still convert to every kind, while a 0-d tensor (one element) cannot be
 * copied (TP_ERR_OUT_OF_MEMORY, nothing lost) but moves (one rank: reuse,
 * no memory). */
Test(refusals, an_empty_tensor_needs_no_memory) {
  fixture f = setup();
  tp_layout empty = ct_layout(TP_DTYPE_C128, 2, (int64_t)0, (int64_t)9);
  tp_layout scalar = ct_layout(TP_DTYPE_F64, 0);
  tp_buffer *e[NKINDS], *z[NKINDS];
  for (int k = 0; k < NKINDS; k++) {
    e[k] = make(f.kind[k], &empty, NULL, NULL);
    z[k] = make(f.kind[k], &scalar, NULL, NULL);
  }
  /* A little room, then the pool's smallest blocks until none is left. */
  tp_pool_stats now = ct_host_stats(f.rt);
  ct_ok(tp_runtime_set_budget(f.rt, TP_SPACE_HOST,
                              now.reserved_bytes + (64 << 10)));
  enum { MAX_FILL = 4096 };
  void **fill = malloc(MAX_FILL * sizeof *fill);
  int nfill = 0;
  while (nfill < MAX_FILL &&
         tp_pool_alloc(f.pool, 256, NULL, &fill[nfill]) == TP_SUCCESS)
    nfill++;
  cr_assert_lt(nfill, MAX_FILL, "the budget never ran out");
  for (int from = 0; from < NKINDS; from++) {
    snapshot s = take(z[from]);
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "%s -> %s with no byte left",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name((tp_buffer_kind)to));
      tp_buffer *out = NULL;
      ct_ok(tp_allocator_construct_copy(f.kind[to], e[from], NULL, NULL, &out));
      expect_whole(out, f.kind[to], &empty, NULL, what);
      ct_ok(tp_buffer_destroy(out));
      tp_pool_stats before = ct_host_stats(f.rt);
      out = (tp_buffer *)0x5;
      expect_refused(
          tp_allocator_construct_copy(f.kind[to], z[from], NULL, NULL, &out),
          TP_ERR_OUT_OF_MEMORY, NULL);
      cr_expect_eq(out, (tp_buffer *)0x5, "%s", what);
      tp_pool_stats after = ct_host_stats(f.rt);
      cr_expect_eq(after.live_blocks, before.live_blocks, "%s", what);
      cr_expect_eq(after.allocations, before.allocations, "%s", what);
      expect_unchanged(&s, what);
    }
    /* Moves need no memory, empty or not. */
    for (int to = 0; to < NKINDS; to++) {
      tp_buffer *out = NULL;
      ct_ok(
          tp_allocator_construct_move(f.kind[to], &e[from], NULL, NULL, &out));
      expect_whole(out, f.kind[to], &empty, NULL, "empty move");
      e[from] = out;
      ct_ok(
          tp_allocator_construct_move(f.kind[to], &z[from], NULL, NULL, &out));
      expect_whole(out, f.kind[to], &scalar, NULL, "0-d move");
      cr_expect_eq(tp_buffer_data(out), s.data, "0-d move copied");
      z[from] = out;
    }
    expect_contents(z[from], s.values, s.bytes, "0-d after the moves");
    drop(&s);
  }
  for (int k = 0; k < NKINDS; k++) {
    ct_ok(tp_buffer_destroy(e[k]));
    ct_ok(tp_buffer_destroy(z[k]));
  }
  for (int i = 0; i < nfill; i++)
    ct_ok(tp_pool_free(f.pool, fill[i], NULL));
  free(fill);
  teardown(&f);
}

/* ---- Streams ------------------------------------------------------------ */

/* The block of a destroyed buffer, asked for again on `stream` and kept
 * (so that it never merges with a neighbour freed later): whether the pool
 * gave back `data`, and how many cross-stream takes that cost. */
static void *retake(tp_pool *pool, size_t bytes, tp_stream stream,
                    const void *data, bool *same, uint64_t *takes) {
  tp_pool_stats before = ct_stats(pool);
  void *p = NULL;
  ct_ok(tp_pool_alloc(pool, bytes, stream, &p));
  tp_pool_stats after = ct_stats(pool);
  *same = p == data;
  *takes = after.cross_stream_takes - before.cross_stream_takes;
  return p;
}

/* buffers.md "Streams": tp_buffer_destroy "makes the buffer's stream wait
 * for every use, then frees the memory on that stream" (its own, not a
 * reader's); pool.h: "a block freed on stream S is handed back to S at
 * once; another stream T takes it only after T has been made to wait on an
 * event recorded on S" (counted in cross_stream_takes). So a destroyed
 * buffer's block comes back on the buffer's own stream with no
 * cross-stream take. Each case runs in a fresh runtime, with every
 * neighbour of the block live when it is freed: two free neighbours may
 * merge (docs/design.md, "Merging"), and a merged block is filed under
 * one stream only. The stream of a conversion's result is the call's, and
 * reading a source on another stream leaves the source's stream alone. */
Test(streams, a_copy_and_its_source_are_freed_on_their_own_streams) {
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)64, (int64_t)64);
  tp_stream s1 = ct_stream(21), t2 = ct_stream(22);
  for (int from = 0; from < NKINDS; from++)
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "%s -> %s",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name((tp_buffer_kind)to));
      fixture f = setup();
      bool same = false;
      uint64_t takes = 0;
      tp_buffer *src = make(f.kind[from], &l, NULL, s1);
      tp_buffer *out = NULL;
      ct_ok(tp_allocator_construct_copy(f.kind[to], src, NULL, t2, &out));
      cr_expect_eq(tp_buffer_stream(out), t2, "%s", what);
      cr_expect_eq(tp_buffer_stream(src), s1, "%s: reading moved the source",
                   what);
      size_t bytes = tp_buffer_bytes(out);
      void *out_data = tp_buffer_data(out), *src_data = tp_buffer_data(src);
      ct_ok(tp_buffer_destroy(out));
      void *p1 = retake(f.pool, bytes, t2, out_data, &same, &takes);
      cr_expect(same, "%s: the copy's block was not back on its stream", what);
      cr_expect_eq(takes, 0, "%s: the copy was freed on another stream", what);
      ct_ok(tp_buffer_destroy(src));
      void *p2 = retake(f.pool, bytes, s1, src_data, &same, &takes);
      cr_expect(same, "%s: the source's block was not back on its stream",
                what);
      cr_expect_eq(takes, 0, "%s: the source was freed on another stream",
                   what);
      ct_ok(tp_pool_free(f.pool, p1, t2));
      ct_ok(tp_pool_free(f.pool, p2, s1));
      teardown(&f);
    }
}

/* The same for a move (one rank: the storage is reused): "A reused buffer
 * moves to `stream` as tp_buffer_set_stream does", so it is freed on the
 * move's stream; handed to its old stream, it costs a cross-stream take. */
Test(streams, a_moved_buffer_is_freed_on_the_moves_stream) {
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)64, (int64_t)64);
  tp_stream s3 = ct_stream(23), t4 = ct_stream(24);
  for (int from = 0; from < NKINDS; from++)
    for (int to = 0; to < NKINDS; to++)
      for (int ask_old = 0; ask_old < 2; ask_old++) {
        char what[96];
        snprintf(what, sizeof what, "%s -> %s, asked on the %s stream",
                 tp_buffer_kind_name((tp_buffer_kind)from),
                 tp_buffer_kind_name((tp_buffer_kind)to),
                 ask_old ? "old" : "move's");
        fixture f = setup();
        bool same = false;
        uint64_t takes = 0;
        tp_buffer *m = make(f.kind[from], &l, NULL, s3), *out = NULL;
        void *data = tp_buffer_data(m);
        size_t bytes = tp_buffer_bytes(m);
        ct_ok(tp_allocator_construct_move(f.kind[to], &m, NULL, t4, &out));
        cr_expect_eq(tp_buffer_stream(out), t4, "%s", what);
        cr_expect_eq(tp_buffer_data(out), data, "%s", what);
        ct_ok(tp_buffer_destroy(out));
        void *p = retake(f.pool, bytes, ask_old ? s3 : t4, data, &same, &takes);
        if (!ask_old) {
          cr_expect(same, "%s: the block was not back on the move's stream",
                    what);
          cr_expect_eq(takes, 0, "%s: freed on the old stream", what);
        } else if (same) {
          cr_expect_eq(takes, 1,
                       "%s: a block freed on t4 went to s3 without "
                       "a cross-stream take",
                       what);
        }
        ct_ok(tp_pool_free(f.pool, p, ask_old ? s3 : t4));
        teardown(&f);
      }
}

/* ---- Wrapped memory and views as sources -------------------------------- */

typedef struct deleter_log {
  int calls;
  void *user, *data;
  tp_stream stream;
} deleter_log;

static int log_deleter(void *user, void *data, tp_stream stream) {
  deleter_log *d = user;
  d->calls++;
  d->user = user;
  d->data = data;
  d->stream = stream;
  return 0;
}

/* buffers.md "Wrapping memory": "The buffer acts as any other; tp_buffer_pool
 * is NULL for it"; allocator.h: "verbs read it ... and moves may hand its
 * memory (and deleter) on". A copy from it is a pool buffer of its own and
 * never calls the deleter; a move (one rank: reuse) keeps the caller's
 * memory, so its result has no pool either (buffer.h: tp_buffer_pool is
 * "The pool the memory comes from ... NULL for wrapped memory"), the pool
 * allocates nothing, and the deleter runs once, at the result's destroy,
 * with the result's stream. */
Test(wrapped, copies_and_moves_of_wrapped_memory) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_I64, 2, (int64_t)6, (int64_t)4);
  int64_t *mem = malloc(24 * sizeof *mem);
  for (int i = 0; i < 24; i++)
    mem[i] = (int64_t)i * 1000003 - 7;
  tp_tiling *one = NULL;
  ct_ok(tp_tiling_create_block(&l, 1, &one));
  for (int from = 0; from < NKINDS; from++) {
    const tp_tiling *wt = from == TP_BUFFER_DISTRIBUTED ? one : NULL;
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "wrapped %s -> %s",
               tp_buffer_kind_name((tp_buffer_kind)from),
               tp_buffer_kind_name((tp_buffer_kind)to));
      deleter_log d = {0};
      tp_buffer *w = NULL;
      ct_ok(tp_allocator_wrap(f.kind[from], &l, wt, mem, log_deleter, &d,
                              ct_stream(31), &w));
      tp_buffer *out = NULL;
      ct_ok(tp_allocator_construct_copy(f.kind[to], w, NULL, ct_stream(32),
                                        &out));
      expect_whole(out, f.kind[to], &l, NULL, what);
      cr_expect_neq(tp_buffer_data(out), mem, "%s", what);
      cr_expect_eq(tp_buffer_pool(out), f.pool, "%s", what);
      expect_contents(out, (unsigned char *)mem, 24 * sizeof *mem, what);
      ct_ok(tp_buffer_destroy(out));
      cr_expect_eq(d.calls, 0, "%s: a copy released the wrapped memory", what);

      tp_pool_stats before = ct_host_stats(f.rt);
      ct_ok(tp_allocator_construct_move(f.kind[to], &w, NULL, ct_stream(33),
                                        &out));
      tp_pool_stats after = ct_host_stats(f.rt);
      cr_expect_null(w, "%s", what);
      cr_expect_eq(tp_buffer_data(out), mem, "%s: copied", what);
      cr_expect_eq(after.allocations, before.allocations, "%s", what);
      /* The moved result's memory is still the caller's, not a pool's. */
      cr_expect_null(tp_buffer_pool(out), "%s: wrapped memory under a pool",
                     what);
      expect_contents(out, (unsigned char *)mem, 24 * sizeof *mem, what);
      cr_expect_eq(d.calls, 0, "%s", what);
      ct_ok(tp_buffer_destroy(out));
      cr_expect_eq(d.calls, 1, "%s: deleter ran %d times", what, d.calls);
      cr_expect_eq(d.user, &d);
      cr_expect_eq(d.data, mem);
      cr_expect_eq(d.stream, ct_stream(33), "%s: not the result's stream",
                   what);
      after = ct_host_stats(f.rt);
      cr_expect_eq(after.deallocations, before.deallocations,
                   "%s: wrapped memory went to the pool", what);
    }
  }
  /* A wrapped source read on other streams is released on its own stream
   * (buffers.md "Wrapping memory": "At destroy, once `stream` waits for
   * every recorded use, deleter(user, data, stream)"). */
  for (int to = 0; to < NKINDS; to++) {
    deleter_log d = {0};
    tp_buffer *w = NULL, *out = NULL;
    ct_ok(tp_allocator_wrap(f.kind[TP_BUFFER_LOCAL], &l, NULL, mem, log_deleter,
                            &d, ct_stream(34), &w));
    ct_ok(
        tp_allocator_construct_copy(f.kind[to], w, NULL, ct_stream(35), &out));
    ct_ok(tp_buffer_destroy(out));
    ct_ok(tp_buffer_destroy(w));
    cr_expect_eq(d.calls, 1);
    cr_expect_eq(d.stream, ct_stream(34), "released on a reader's stream");
  }
  /* An empty wrapped tensor (data NULL) converts to every kind, and its
   * deleter runs once, at the destroy of what the move made of it
   * (allocator.h: "once, also for an empty tile, with the `data` given"). */
  tp_layout e = ct_layout(TP_DTYPE_I64, 2, (int64_t)0, (int64_t)4);
  for (int to = 0; to < NKINDS; to++) {
    deleter_log d = {0};
    tp_buffer *w = NULL, *out = NULL;
    ct_ok(tp_allocator_wrap(f.kind[TP_BUFFER_LOCAL], &e, NULL, NULL,
                            log_deleter, &d, NULL, &w));
    ct_ok(tp_allocator_construct_copy(f.kind[to], w, NULL, NULL, &out));
    expect_whole(out, f.kind[to], &e, NULL, "empty wrapped copy");
    ct_ok(tp_buffer_destroy(out));
    ct_ok(tp_allocator_construct_move(f.kind[to], &w, NULL, NULL, &out));
    expect_whole(out, f.kind[to], &e, NULL, "empty wrapped move");
    cr_expect_eq(d.calls, 0, "the deleter ran before the destroy");
    ct_ok(tp_buffer_destroy(out));
    cr_expect_eq(d.calls, 1, "deleter of an empty wrapped tensor ran %d times",
                 d.calls);
    cr_expect_null(d.data, "the deleter got %p, not the NULL data given",
                   d.data);
  }
  ct_ok(tp_tiling_destroy(one));
  free(mem);
  teardown(&f);
}

/* Copies land wherever the pool puts the result, so a source at any
 * offset must arrive whole. buffers.md ("How host bytes are copied") names
 * the hard case: a destination 1 to 63 bytes past the source modulo 4 KiB,
 * for ranges of 2 KiB to 1 MiB, which the library copies in pieces. Pool
 * blocks are 256-byte aligned (pool.h), so a wrapped source whose address
 * is 193 to 255 bytes past a 256-byte boundary is 1 to 63 bytes before
 * every possible destination modulo 256, hence modulo 4 KiB for some of
 * them; sizes that are not multiples of 2 KiB leave a tail. */
Test(wrapped, sources_at_every_offset_arrive_whole) {
  fixture f = setup();
  size_t sizes[3] = {2049, 100001, (1 << 20) - 3};
  unsigned char *mem = NULL;
  cr_assert_eq(posix_memalign((void **)&mem, 4096, (1 << 20) + 4096), 0);
  for (int si = 0; si < 3; si++) {
    tp_layout l = ct_layout(TP_DTYPE_U8, 1, (int64_t)sizes[si]);
    for (size_t off = 193; off < 256; off += si == 2 ? 31 : 1) {
      unsigned char *src = mem + 256 * (off % 16) + off;
      ct_fill(src, sizes[si], (unsigned)off);
      tp_buffer *w = NULL;
      ct_ok(tp_allocator_wrap(f.kind[TP_BUFFER_LOCAL], &l, NULL, src, NULL,
                              NULL, NULL, &w));
      for (int to = 0; to < NKINDS; to++) {
        tp_buffer *out = NULL;
        ct_ok(tp_allocator_construct_copy(f.kind[to], w, NULL, NULL, &out));
        unsigned char *got = contents(out);
        cr_expect(ct_check(got, sizes[si], (unsigned)off),
                  "%zu bytes from offset %zu to %s arrived changed", sizes[si],
                  off, tp_buffer_kind_name((tp_buffer_kind)to));
        free(got);
        ct_ok(tp_buffer_destroy(out));
      }
      ct_ok(tp_buffer_destroy(w));
    }
  }
  free(mem);
  teardown(&f);
}

typedef struct producer {
  tp_dlpack_managed_tensor_versioned m;
  int64_t shape[2];
  float *memory;
  int deleted;
} producer;

static void producer_deleter(tp_dlpack_managed_tensor_versioned *self) {
  producer *p = self->manager_ctx;
  p->deleted++;
}

/* A 3 x 7 f32 host tensor that starts `offset` elements into its memory. */
static void produce(producer *p, int offset) {
  memset(p, 0, sizeof *p);
  p->memory = malloc((21 + (size_t)offset) * sizeof(float));
  for (int i = 0; i < 21 + offset; i++)
    p->memory[i] = (float)i * 0.25f - 3.0f;
  p->shape[0] = 3;
  p->shape[1] = 7;
  p->m.version = (tp_dlpack_version){1, 0};
  p->m.manager_ctx = p;
  p->m.deleter = producer_deleter;
  p->m.dl_tensor.data = p->memory;
  p->m.dl_tensor.device = (tp_dlpack_device){TP_DLPACK_DEVICE_CPU, 0};
  p->m.dl_tensor.ndim = 2;
  p->m.dl_tensor.dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_FLOAT, 32, 1};
  p->m.dl_tensor.shape = p->shape;
  p->m.dl_tensor.byte_offset = (uint64_t)offset * sizeof(float);
}

/* A DLPack import is "a zero-copy local view" (api.md) that "acts as any
 * other" buffer: copies from it to every kind hold its values (byte_offset
 * honoured) and leave the producer's tensor alone; a move (one rank:
 * reuse) hands the view's memory on, and the producer's deleter runs once,
 * when the result is destroyed, not at the move. */
Test(views, dlpack_imports_convert_to_every_kind) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)3, (int64_t)7);
  for (int offset = 0; offset < 3; offset += 2)
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "view at %d -> %s", offset,
               tp_buffer_kind_name((tp_buffer_kind)to));
      producer p;
      produce(&p, offset);
      tp_buffer *v = NULL, *out = NULL;
      ct_ok(tp_buffer_from_dlpack(f.rt, &p.m, ct_stream(41), &v));
      const unsigned char *want = (unsigned char *)(p.memory + offset);
      ct_ok(tp_allocator_construct_copy(f.kind[to], v, NULL, ct_stream(42),
                                        &out));
      expect_whole(out, f.kind[to], &l, NULL, what);
      expect_contents(out, want, 21 * sizeof(float), what);
      cr_expect_neq(tp_buffer_data(out), p.memory + offset, "%s", what);
      ct_ok(tp_buffer_destroy(out));
      cr_expect_eq(p.deleted, 0, "%s: a copy released the view", what);

      ct_ok(tp_allocator_construct_move(f.kind[to], &v, NULL, ct_stream(43),
                                        &out));
      cr_expect_null(v);
      cr_expect_eq(tp_buffer_data(out), p.memory + offset, "%s: copied", what);
      expect_whole(out, f.kind[to], &l, NULL, what);
      expect_contents(out, want, 21 * sizeof(float), what);
      cr_expect_eq(p.deleted, 0, "%s: the move released the view", what);
      ct_ok(tp_buffer_destroy(out));
      cr_expect_eq(p.deleted, 1, "%s: deleter ran %d times", what, p.deleted);
      free(p.memory);
    }
  teardown(&f);
}

/* ---- A source from another runtime -------------------------------------- */

/* allocator.h: "a source made by another runtime's allocator is
 * TP_ERR_MISMATCH", and on any failure nothing is allocated and *out is
 * untouched; a refused move keeps *source. So: refused, with a fresh
 * message naming the function, nothing lost (the source, *source, *out,
 * both pools' statistics). */
Test(runtimes, a_source_from_another_runtime) {
  tp_layout l = ct_layout(TP_DTYPE_F64, 2, (int64_t)40, (int64_t)8);
  for (int move = 0; move < 2; move++)
    for (int to = 0; to < NKINDS; to++) {
      char what[96];
      snprintf(what, sizeof what, "%s from another runtime to %s",
               move ? "move" : "copy", tp_buffer_kind_name((tp_buffer_kind)to));
      fixture a = setup(), b = setup();
      tp_buffer *src = make(a.kind[TP_BUFFER_LOCAL], &l, NULL, ct_stream(1));
      snapshot s = take(src);
      tp_pool_stats a_before = ct_host_stats(a.rt),
                    b_before = ct_host_stats(b.rt);
      tp_buffer *out = (tp_buffer *)0x5, *handle = src;
      tp_set_last_error(TP_ERR_INTERNAL, "stale marker");
      tp_status st =
          move ? tp_allocator_construct_move(b.kind[to], &handle, NULL, NULL,
                                             &out)
               : tp_allocator_construct_copy(b.kind[to], src, NULL, NULL, &out);
      cr_expect_eq(st, TP_ERR_MISMATCH, "%s: %s (%s)", what, tp_status_name(st),
                   tp_last_error());
      if (st == TP_SUCCESS) { /* already reported; free what it made */
        ct_ok(tp_buffer_destroy(out));
        if (!move)
          ct_ok(tp_buffer_destroy(src));
      } else {
        cr_expect(!ct_has(tp_last_error(), "stale marker"), "%s", what);
        cr_expect(ct_has(tp_last_error(), move ? "tp_allocator_construct_move"
                                               : "tp_allocator_construct_copy"),
                  "%s: \"%s\"", what, tp_last_error());
        cr_expect_eq(out, (tp_buffer *)0x5, "%s", what);
        cr_expect_eq(handle, src, "%s", what);
        tp_pool_stats a_after = ct_host_stats(a.rt),
                      b_after = ct_host_stats(b.rt);
        expect_same_stats(&a_before, &a_after, what);
        expect_same_stats(&b_before, &b_after, what);
        expect_intact(&s, what);
        ct_ok(tp_buffer_destroy(src));
      }
      drop(&s);
      if (a.rt)
        teardown(&a);
      teardown(&b);
    }
}

/* ---- Concurrent readers ------------------------------------------------- */

typedef struct reader {
  fixture *f;
  const tp_buffer *src;
  const unsigned char *want;
  size_t bytes;
  int bad;
} reader;

/* Copies that never communicate (buffers.md: "to distributed from local or
 * replicated, replicated -> local or replicated" are local routes), so no
 * collective runs concurrently. */
static void *copy_repeatedly(void *arg) {
  reader *r = arg;
  /* A buffer of this thread's own, moved through every kind meanwhile
   * ("verbs may run concurrently from several threads on different
   * destinations"). */
  tp_layout l = ct_layout(TP_DTYPE_I32, 1, (int64_t)1000);
  tp_generator g = tp_generator_arange(5, 3);
  tp_buffer *own = NULL;
  if (tp_allocator_construct_generator(r->f->kind[TP_BUFFER_LOCAL], &l, NULL,
                                       &g, NULL, &own) != TP_SUCCESS)
    r->bad++;
  for (int i = 0; i < 60; i++) {
    tp_buffer *out = NULL;
    tp_allocator *a = r->f->kind[i % NKINDS];
    if (tp_allocator_construct_copy(a, r->src, NULL, ct_stream(50 + i % 4),
                                    &out) != TP_SUCCESS) {
      r->bad++;
      continue;
    }
    unsigned char *got = malloc(r->bytes);
    if (tp_buffer_read(out, 0, r->bytes, got) != TP_SUCCESS ||
        memcmp(got, r->want, r->bytes) != 0 ||
        tp_buffer_kind_of(out) != tp_allocator_kind_of(a))
      r->bad++;
    free(got);
    if (tp_buffer_destroy(out) != TP_SUCCESS)
      r->bad++;
    tp_buffer *moved = NULL;
    if (own && tp_allocator_construct_move(r->f->kind[(i + 1) % NKINDS], &own,
                                           NULL, NULL, &moved) == TP_SUCCESS)
      own = moved;
    else
      r->bad++;
  }
  int32_t last = 0;
  if (tp_buffer_read(own, 999 * sizeof last, sizeof last, &last) !=
          TP_SUCCESS ||
      last != 5 + 3 * 999)
    r->bad++;
  if (tp_buffer_destroy(own) != TP_SUCCESS)
    r->bad++;
  return NULL;
}

/* buffers.md "Thread safety": "Calls that only read a buffer (... the
 * source of a copy, clone, conversion ...) may run on the same buffer from
 * several threads at once"; allocator.h: "several may read the same source
 * at once". */
Test(threads, concurrent_copies_of_one_source) {
  fixture f = setup();
  tp_layout l = ct_layout(TP_DTYPE_C64, 2, (int64_t)50, (int64_t)20);
  tp_buffer *src = make(f.kind[TP_BUFFER_REPLICATED], &l, NULL, ct_stream(9));
  snapshot s = take(src);
  reader r[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    r[i] = (reader){&f, src, s.values, s.bytes, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, copy_repeatedly, &r[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_expect_eq(r[i].bad, 0, "thread %d: %d bad copies", i, r[i].bad);
  }
  expect_intact(&s, "after the readers");
  tp_pool_stats now = ct_host_stats(f.rt);
  cr_expect_eq(now.live_blocks, 1, "only the source should be live");
  drop(&s);
  ct_ok(tp_buffer_destroy(src));
  teardown(&f);
}
