/* Stream ordering of the tensor layer, checked on the simulated space: its
 * streams' work completes only when a test says so, and it remembers every
 * wait, so each test can see that a verb's stream waits for its sources'
 * streams and that a source's memory is freed only after the streams that
 * read it. None of this may wait on the host (the sim counts syncs). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support/sim_runtime.h"
#include "tensorpool/allocator.h"
#include "tensorpool/ops.h"

static tp_sim *sim;
static tp_sim_runtime srt;
static tp_stream A, B, C;

static void setup(void) {
  sim = tp_sim_create(SIZE_MAX);
  cr_assert_not_null(sim);
  cr_assert_eq(tp_sim_runtime_create(sim, &srt), TP_SUCCESS, "%s",
               tp_last_error());
  A = tp_sim_stream_create(sim);
  B = tp_sim_stream_create(sim);
  C = tp_sim_stream_create(sim);
}

static void teardown(void) {
  cr_expect_eq(tp_sim_runtime_destroy(&srt), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_sim_destroy(sim), 0, "the pool gave every byte back");
}

TestSuite(stream_order, .init = setup, .fini = teardown);

static tp_allocator *host(tp_buffer_kind kind) {
  tp_allocator *a;
  cr_assert_eq(tp_runtime_allocator(srt.runtime, TP_SPACE_HOST, kind, &a),
               TP_SUCCESS);
  return a;
}

static tp_layout vector(int64_t n) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 1, &n, &l), TP_SUCCESS);
  return l;
}

/* A buffer of `n` copies of `v` made on `stream`, whose producer work is
 * then one more item on that stream (returned in *item). */
static tp_buffer *produced(tp_stream stream, double v, int64_t n,
                           uint64_t *item) {
  tp_layout l = vector(n);
  tp_buffer *b;
  cr_assert_eq(tp_allocator_construct_value(host(TP_BUFFER_LOCAL), &l, NULL,
                                            tp_scalar_real(v), stream, &b),
               TP_SUCCESS, "%s", tp_last_error());
  *item = tp_sim_enqueue(sim, stream);
  return b;
}

static uint64_t syncs(void) {
  return tp_sim_get_counters(sim).syncs;
}

Test(stream_order, a_copy_waits_for_its_source_and_the_free_waits_for_it) {
  uint64_t made;
  tp_buffer *src = produced(A, 2.5, 64, &made);
  /* Work already on B when the copy is queued there: the copy comes after
   * it, so the use recorded on B covers at least this item. */
  uint64_t before_copy = tp_sim_enqueue(sim, B);
  tp_buffer *copy;
  cr_assert_eq(
      tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), src, NULL, B, &copy),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect(tp_sim_waits_for(sim, B, A, made),
            "the copy's stream waits for the source's producer");
  cr_expect_eq(tp_buffer_stream(copy), B);
  cr_expect_eq(((double *)tp_buffer_data(copy))[63], 2.5);
  cr_expect(!tp_sim_waits_for(sim, A, B, before_copy),
            "nothing orders the source's stream yet");
  cr_assert_eq(tp_buffer_destroy(src), TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, A, B, before_copy),
            "the source's memory is freed on A only after B's read");
  cr_expect_eq(syncs(), 0, "no host wait");
  tp_buffer_destroy(copy);
}

Test(stream_order, the_freed_block_is_not_reused_before_the_reader) {
  uint64_t made;
  tp_buffer *src = produced(A, 1, 64, &made);
  void *block = tp_buffer_data(src);
  uint64_t reading = tp_sim_enqueue(sim, B);
  tp_buffer *copy;
  cr_assert_eq(
      tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), src, NULL, B, &copy),
      TP_SUCCESS);
  tp_buffer_destroy(src);
  /* The pool hands the block back to its free stream A at once: A must have
   * been made to wait for B's read before. */
  uint64_t made_again;
  tp_buffer *next = produced(A, 3, 64, &made_again);
  cr_expect_eq(tp_buffer_data(next), block, "the block came back on A");
  cr_expect(tp_sim_waits_for(sim, A, B, reading));
  tp_buffer_destroy(next);
  tp_buffer_destroy(copy);
}

Test(stream_order, the_same_stream_needs_no_event) {
  uint64_t made;
  tp_buffer *src = produced(A, 1, 8, &made);
  uint64_t waits = tp_sim_get_counters(sim).waits;
  tp_buffer *copy;
  cr_assert_eq(
      tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), src, NULL, A, &copy),
      TP_SUCCESS);
  tp_buffer_destroy(src);
  tp_buffer_destroy(copy);
  cr_expect_eq(tp_sim_get_counters(sim).waits, waits,
               "stream order alone covers a use on the buffer's own stream");
}

Test(stream_order, a_clone_and_a_conversion_are_ordered_the_same_way) {
  uint64_t made;
  tp_buffer *src = produced(A, 4, 10, &made);
  uint64_t on_b = tp_sim_enqueue(sim, B), on_c = tp_sim_enqueue(sim, C);
  tp_buffer *clone, *dist;
  cr_assert_eq(tp_buffer_clone(src, B, &clone), TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, B, A, made));
  cr_assert_eq(tp_allocator_construct_copy(host(TP_BUFFER_DISTRIBUTED), src,
                                           NULL, C, &dist),
               TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, C, A, made));
  cr_expect_eq(((double *)tp_buffer_data(dist))[9], 4.0);
  tp_buffer_destroy(src);
  cr_expect(tp_sim_waits_for(sim, A, B, on_b));
  cr_expect(tp_sim_waits_for(sim, A, C, on_c));
  tp_buffer_destroy(clone);
  tp_buffer_destroy(dist);
  cr_expect_eq(syncs(), 0);
}

Test(stream_order, axpby_waits_for_both_operands_and_both_wait_for_it) {
  uint64_t x_made, y_made;
  tp_buffer *x = produced(A, 1, 16, &x_made), *y = produced(C, 10, 16, &y_made);
  uint64_t on_b = tp_sim_enqueue(sim, B);
  tp_buffer *r;
  cr_assert_eq(tp_axpby(tp_scalar_real(2), x, tp_scalar_real(3), y, B, &r),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect(tp_sim_waits_for(sim, B, A, x_made), "after x's producer");
  cr_expect(tp_sim_waits_for(sim, B, C, y_made), "after y's producer");
  cr_expect_eq(((double *)tp_buffer_data(r))[15], 32.0);
  cr_expect_eq(tp_buffer_stream(r), B);
  tp_buffer_destroy(x);
  tp_buffer_destroy(y);
  cr_expect(tp_sim_waits_for(sim, A, B, on_b), "x is freed after the read");
  cr_expect(tp_sim_waits_for(sim, C, B, on_b), "y is freed after the read");
  tp_buffer_destroy(r);
  cr_expect_eq(syncs(), 0);
}

Test(stream_order, a_reusing_move_moves_the_buffer_to_the_new_stream) {
  uint64_t made;
  tp_buffer *src = produced(A, 5, 8, &made);
  void *block = tp_buffer_data(src);
  tp_buffer *moved;
  cr_assert_eq(tp_allocator_construct_move(host(TP_BUFFER_REPLICATED), &src,
                                           NULL, B, &moved),
               TP_SUCCESS);
  cr_expect_eq(tp_buffer_data(moved), block, "reused");
  cr_expect_eq(tp_buffer_stream(moved), B);
  cr_expect(tp_sim_waits_for(sim, B, A, made),
            "the new stream comes after the old one's work");
  tp_buffer_destroy(moved);
  cr_expect_eq(syncs(), 0);
}

Test(stream_order, record_stream_is_additive_and_outlives_the_stream) {
  uint64_t made;
  tp_buffer *b = produced(A, 1, 8, &made);
  /* Work the caller queued on B and C that reads the buffer. */
  uint64_t on_b = tp_sim_enqueue(sim, B);
  cr_assert_eq(tp_buffer_record_stream(b, B), TP_SUCCESS);
  uint64_t on_c = tp_sim_enqueue(sim, C);
  cr_assert_eq(tp_buffer_record_stream(b, C), TP_SUCCESS);
  /* A later use on B is covered by recording B again. */
  uint64_t later_on_b = tp_sim_enqueue(sim, B);
  cr_assert_eq(tp_buffer_record_stream(b, B), TP_SUCCESS);
  /* The readers' streams may go away before the buffer does. */
  tp_sim_stream_destroy(sim, C);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, A, B, on_b));
  cr_expect(tp_sim_waits_for(sim, A, C, on_c));
  cr_expect(tp_sim_waits_for(sim, A, B, later_on_b));
  cr_expect_eq(tp_buffer_record_stream(NULL, B), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(syncs(), 0);
}

/* A reader that was handed the buffer as const (a function that only reads
 * it, as the verbs take their sources) records its stream all the same. */
static tp_status read_on(const tp_buffer *source, tp_stream stream,
                         uint64_t *item) {
  *item = tp_sim_enqueue(sim, stream);
  return tp_buffer_record_stream(source, stream);
}

Test(stream_order, a_reader_with_a_const_handle_records_its_use) {
  uint64_t made, on_b;
  tp_buffer *b = produced(A, 1, 8, &made);
  cr_assert_eq(read_on(b, B, &on_b), TP_SUCCESS);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, A, B, on_b),
            "the free waits for the const reader's work");
  cr_expect_eq(syncs(), 0);
}

Test(stream_order, set_stream_orders_the_new_stream_and_drops_no_use) {
  uint64_t made;
  tp_buffer *b = produced(A, 1, 8, &made);
  uint64_t on_b = tp_sim_enqueue(sim, B);
  cr_assert_eq(tp_buffer_record_stream(b, B), TP_SUCCESS);
  cr_assert_eq(tp_buffer_set_stream(b, C), TP_SUCCESS);
  cr_expect_eq(tp_buffer_stream(b), C);
  cr_expect(tp_sim_waits_for(sim, C, A, made),
            "C comes after the old stream's work");
  /* The old stream may be destroyed now; the buffer lives on C. */
  tp_sim_stream_destroy(sim, A);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, C, B, on_b),
            "the use recorded before set_stream still holds the free");
  cr_expect_eq(syncs(), 0);
}

/* The deleter of wrapped memory: checks, when it runs, that its stream
 * already waits for the reader, then frees. */
typedef struct deleter_log {
  int calls;
  tp_stream stream;
  void *data;
  int ordered; /* the stream waited for the reader before the call */
  uint64_t reader_item;
  int fail;
} deleter_log;

static int deleter(void *user, void *data, tp_stream stream) {
  deleter_log *log = user;
  log->calls++;
  log->stream = stream;
  log->data = data;
  log->ordered = tp_sim_waits_for(sim, stream, B, log->reader_item);
  free(data);
  if (log->fail)
    return tp_set_last_error(TP_ERR_CALLBACK, "deleter %d refused", 3), 1;
  return 0;
}

Test(stream_order, wrapped_memory_is_deleted_after_its_readers) {
  tp_layout l = vector(32);
  double *data = aligned_alloc(64, 32 * sizeof *data);
  for (int i = 0; i < 32; ++i)
    data[i] = i;
  deleter_log log = {0};
  tp_buffer *w;
  cr_assert_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL, data, deleter,
                                 &log, A, &w),
               TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_buffer_data(w), data);
  cr_expect_null(tp_buffer_pool(w), "not pool memory");
  cr_expect_eq(tp_buffer_device(w), -1);
  cr_expect_eq(tp_buffer_stream(w), A);
  uint64_t made = tp_sim_enqueue(sim, A);
  log.reader_item = tp_sim_enqueue(sim, B);
  tp_buffer *copy;
  cr_assert_eq(
      tp_allocator_construct_copy(host(TP_BUFFER_LOCAL), w, NULL, B, &copy),
      TP_SUCCESS);
  cr_expect(tp_sim_waits_for(sim, B, A, made));
  cr_expect_eq(((double *)tp_buffer_data(copy))[31], 31.0);
  cr_expect_eq(log.calls, 0);
  cr_assert_eq(tp_buffer_destroy(w), TP_SUCCESS);
  cr_expect_eq(log.calls, 1);
  cr_expect_eq(log.data, data);
  cr_expect_eq(log.stream, A);
  cr_expect(log.ordered, "the deleter ran after A waited for B's read");
  cr_expect_not_null(tp_buffer_pool(copy), "a copy is pool memory");
  tp_buffer_destroy(copy);
}

Test(stream_order, a_failing_deleter_gives_its_message) {
  tp_layout l = vector(4);
  deleter_log log = {.fail = 1};
  tp_buffer *w;
  cr_assert_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL,
                                 malloc(4 * sizeof(double)), deleter, &log, A,
                                 &w),
               TP_SUCCESS);
  cr_expect_eq(tp_buffer_destroy(w), TP_ERR_CALLBACK);
  cr_expect_not_null(strstr(tp_last_error(), "deleter 3 refused"), "%s",
                     tp_last_error());
  cr_expect_eq(log.calls, 1);
}

Test(stream_order, wrap_refuses_what_it_cannot_use_and_keeps_nothing) {
  tp_layout l = vector(4), empty = vector(0);
  deleter_log log = {0};
  tp_buffer *w = (tp_buffer *)0x1;
  double ok[4];
  cr_expect_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL, NULL, deleter,
                                 &log, A, &w),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "NULL data"));
  cr_expect_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL,
                                 (char *)ok + 1, deleter, &log, A, &w),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "aligned"));
  cr_expect_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL, ok, deleter,
                                 &log, A, NULL),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(w, (tp_buffer *)0x1);
  cr_expect_eq(log.calls, 0, "a refused wrap never calls the deleter");
  /* An empty tile may come without memory; a NULL deleter keeps ownership. */
  cr_assert_eq(tp_allocator_wrap(host(TP_BUFFER_LOCAL), &empty, NULL, NULL,
                                 NULL, NULL, A, &w),
               TP_SUCCESS);
  cr_expect_null(tp_buffer_data(w));
  cr_expect_eq(tp_buffer_destroy(w), TP_SUCCESS);
  cr_assert_eq(
      tp_allocator_wrap(host(TP_BUFFER_LOCAL), &l, NULL, ok, NULL, NULL, A, &w),
      TP_SUCCESS);
  cr_expect_eq(tp_buffer_destroy(w), TP_SUCCESS);
  ok[3] = 1; /* still the caller's */
}
