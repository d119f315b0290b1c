#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "dist/dist.h"
#include "tensorpool/pool.h"
#include "tensorpool/raw_allocator.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

Test(status, every_code_has_a_distinct_name) {
  for (int a = TP_SUCCESS; a <= TP_ERR_BUSY; a++) {
    const char *na = tp_status_name((tp_status)a);
    cr_assert_not_null(na);
    cr_assert_str_neq(na, "unknown status", "code %d", a);
    for (int b = a + 1; b <= TP_ERR_BUSY; b++)
      cr_assert_str_neq(na, tp_status_name((tp_status)b));
  }
  cr_expect_str_eq(tp_status_name((tp_status)999), "unknown status");
}

Test(status, last_error_is_per_thread_and_names_the_call) {
  void *p;
  cr_assert_eq(tp_pool_alloc(NULL, 8, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "tp_pool_alloc"));
  cr_expect_not_null(strstr(tp_last_error(), "NULL pool"));
}

static void *fail_on_another_thread(void *arg) {
  (void)arg;
  tp_pool_free(NULL, NULL, NULL); /* "tp_pool_free: NULL pool" */
  return NULL;
}

Test(status, another_threads_failure_leaves_this_threads_message) {
  void *p;
  tp_pool_alloc(NULL, 8, NULL, &p);
  pthread_t t;
  pthread_create(&t, NULL, fail_on_another_thread, NULL);
  pthread_join(t, NULL);
  cr_expect_not_null(strstr(tp_last_error(), "tp_pool_alloc"));
}

/* A raw allocator table whose alloc fails, with or without a message. */
static tp_status failing_alloc_with_message(void *ctx, size_t bytes,
                                            size_t alignment, tp_stream stream,
                                            void **out) {
  (void)ctx, (void)bytes, (void)alignment, (void)stream, (void)out;
  return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "arena %d is full", 7);
}

static tp_status failing_alloc_silently(void *ctx, size_t bytes,
                                        size_t alignment, tp_stream stream,
                                        void **out) {
  (void)ctx, (void)bytes, (void)alignment, (void)stream, (void)out;
  return TP_ERR_OUT_OF_MEMORY;
}

Test(status, set_last_error_returns_its_status_and_sets_the_message) {
  cr_expect_eq(tp_set_last_error(TP_ERR_CALLBACK, "disk %s gone", "sda"),
               TP_ERR_CALLBACK);
  cr_expect_str_eq(tp_last_error(), "disk sda gone");
}

Test(status, a_callbacks_own_message_is_kept_behind_the_context) {
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  raw.alloc = failing_alloc_with_message;
  void *p = NULL;
  cr_assert_eq(tp_raw_alloc(&raw, 64, 0, NULL, &p), TP_ERR_OUT_OF_MEMORY);
  cr_expect_not_null(strstr(tp_last_error(), "tp_raw_alloc"));
  cr_expect_not_null(strstr(tp_last_error(), "arena 7 is full"), "message: %s",
                     tp_last_error());
}

Test(status, a_silent_callback_gets_no_stale_message) {
  /* A stale message from an earlier failure on this thread... */
  void *p = NULL;
  tp_pool_alloc(NULL, 8, NULL, &p);
  cr_assert_not_null(strstr(tp_last_error(), "NULL pool"));
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  raw.alloc = failing_alloc_silently;
  cr_assert_eq(tp_raw_alloc(&raw, 64, 0, NULL, &p), TP_ERR_OUT_OF_MEMORY);
  /* ...must not appear as if the callback had said it. */
  cr_expect_null(strstr(tp_last_error(), "NULL pool"), "message: %s",
                 tp_last_error());
  cr_expect_not_null(strstr(tp_last_error(), "without a message"));
}

Test(status, agreement_precedence_is_a_table_not_the_numeric_order) {
  cr_expect_eq(tp_status_precedence(TP_SUCCESS), 0u);
  /* Every code has its own place above success and unknown codes. */
  for (int a = TP_ERR_INVALID_ARGUMENT; a <= TP_ERR_BUSY; a++) {
    unsigned pa = tp_status_precedence((tp_status)a);
    cr_expect_gt(pa, 1u, "%s is not in the table", tp_status_name(a));
    for (int b = a + 1; b <= TP_ERR_BUSY; b++)
      cr_expect_neq(pa, tp_status_precedence((tp_status)b), "%s and %s",
                    tp_status_name(a), tp_status_name(b));
  }
  cr_expect_eq(tp_status_precedence((tp_status)999), 1u);
  /* What a user acts on first wins, whatever the codes' values: a CUDA
   * failure over a mismatch it may have caused (7 < 10), out of memory over
   * an argument error on another rank. */
  cr_expect_gt(tp_status_precedence(TP_ERR_CUDA),
               tp_status_precedence(TP_ERR_MISMATCH));
  cr_expect_gt(tp_status_precedence(TP_ERR_OUT_OF_MEMORY),
               tp_status_precedence(TP_ERR_INVALID_ARGUMENT));
  cr_expect_gt(tp_status_precedence(TP_ERR_INTERNAL),
               tp_status_precedence(TP_ERR_BUSY));
}

/* A space over host memory whose get and put can be made to fail, with or
 * without a message of their own. */
static int refuse_puts, refuse_gets, say_why;
static tp_status refuse_with = TP_ERR_CUDA;

static tp_status picky_get(void *ctx, size_t bytes, void **out) {
  (void)ctx;
  if (refuse_gets)
    return say_why ? tp_set_last_error(refuse_with, "quota of tenant 4 hit")
                   : refuse_with;
  return tp_host_space()->ops->get(NULL, bytes, out);
}

static tp_status picky_put(void *ctx, void *ptr, size_t bytes,
                           tp_stream stream) {
  (void)ctx;
  if (refuse_puts)
    return tp_set_last_error(TP_ERR_CUDA, "cudaFree: context is destroyed");
  return tp_host_space()->ops->put(NULL, ptr, bytes, stream);
}

static tp_space picky_space(tp_space_ops *ops) {
  *ops = *tp_host_space()->ops;
  ops->get = picky_get;
  ops->put = picky_put;
  tp_space s = *tp_host_space();
  s.ops = ops;
  s.name = "picky";
  return s;
}

Test(status, an_upstream_refusing_a_release_gives_its_own_status) {
  tp_space_ops ops;
  tp_space space = picky_space(&ops);
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(&space, NULL, &pool), TP_SUCCESS);
  void *p;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS); /* now cached */
  refuse_puts = 1;
  cr_expect_eq(tp_pool_trim(pool, 0), TP_ERR_CUDA, "not an internal error");
  cr_expect_not_null(strstr(tp_last_error(), "context is destroyed"), "%s",
                     tp_last_error());
  cr_expect_not_null(strstr(tp_last_error(), "tp_pool_trim"));
  cr_expect_eq(tp_pool_set_limit(pool, 256), TP_ERR_CUDA);
  cr_expect_not_null(strstr(tp_last_error(), "context is destroyed"));
  refuse_puts = 0;
  cr_expect_eq(tp_pool_trim(pool, 0), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A get refused with `status`, with a message of its own (the call's
 * message carries `words`) and without (no stale words; it says none). */
static void expect_get_refused(tp_pool *pool, tp_status status,
                               const char *words) {
  void *p;
  refuse_with = status;
  say_why = 1;
  cr_expect_eq(tp_pool_alloc(pool, 4096, NULL, &p), status);
  cr_expect_not_null(strstr(tp_last_error(), words), "'%s' in: %s", words,
                     tp_last_error());
  say_why = 0;
  cr_expect_eq(tp_pool_alloc(pool, 4096, NULL, &p), status);
  cr_expect_null(strstr(tp_last_error(), "quota"), "no stale message: %s",
                 tp_last_error());
  cr_expect_not_null(strstr(tp_last_error(), "without a message"), "%s",
                     tp_last_error());
}

Test(status, an_upstream_get_keeps_the_spaces_message_or_says_it_had_none) {
  tp_space_ops ops;
  tp_space space = picky_space(&ops);
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(&space, NULL, &pool), TP_SUCCESS);
  refuse_gets = 1;
  expect_get_refused(pool, TP_ERR_CUDA, "quota of tenant 4 hit");
  /* Out of memory: the pool's own message, with the space's after it. */
  expect_get_refused(pool, TP_ERR_OUT_OF_MEMORY,
                     "the space said: quota of tenant 4 hit");
  refuse_with = TP_ERR_CUDA;
  refuse_gets = 0;
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}

/* A paged space whose get and commit can be made to fail, one call at a
 * time: what an earlier get said must never reach a later message about a
 * call that asked nothing of get. */
static int gets_oom_silent, gets_callback, commits_fail;

static tp_status scripted_get(void *ctx, size_t bytes, void **out) {
  (void)ctx;
  if (gets_oom_silent) {
    gets_oom_silent = 0;
    return TP_ERR_OUT_OF_MEMORY; /* no message */
  }
  if (gets_callback) {
    gets_callback = 0;
    return tp_set_last_error(TP_ERR_CALLBACK, "backing store offline");
  }
  return tp_host_space()->ops->get(NULL, bytes, out);
}

static tp_status scripted_commit(void *ctx, void *ptr, size_t bytes) {
  (void)ctx, (void)ptr, (void)bytes;
  return commits_fail ? tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "no pages")
                      : TP_SUCCESS;
}

static tp_status quiet_decommit(void *ctx, void *ptr, size_t bytes,
                                tp_stream stream) {
  (void)ctx, (void)ptr, (void)bytes, (void)stream;
  return TP_SUCCESS;
}

Test(status, what_an_earlier_get_said_stays_out_of_later_messages) {
  tp_space_ops ops = *tp_host_space()->ops;
  ops.get = scripted_get;
  ops.resize = NULL; /* every segment from get */
  ops.page_bytes = 4096;
  ops.commit = scripted_commit;
  ops.decommit = quiet_decommit;
  tp_space space = *tp_host_space();
  space.ops = &ops;
  space.name = "scripted";
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(&space, NULL, &pool), TP_SUCCESS, "%s",
               tp_last_error());
  void *kept, *cached, *big = NULL, *again = NULL;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &kept), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &cached), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(pool, cached, NULL), TP_SUCCESS);
  /* Out of memory without a word, then the retry fails otherwise: the
   * call reports the retry's failure. */
  gets_oom_silent = gets_callback = 1;
  cr_expect_eq(tp_pool_alloc(pool, 64 << 20, NULL, &big), TP_ERR_CALLBACK);
  cr_expect_not_null(strstr(tp_last_error(), "backing store offline"), "%s",
                     tp_last_error());
  /* A cached block whose pages cannot be committed: no get this time, so
   * nothing the space's get said belongs in the message. */
  commits_fail = 1;
  cr_expect_eq(tp_pool_alloc(pool, 4096, NULL, &again), TP_ERR_OUT_OF_MEMORY);
  cr_expect_null(strstr(tp_last_error(), "nothing (its get"), "stale: %s",
                 tp_last_error());
  cr_expect_not_null(strstr(tp_last_error(), "the space said: no pages"),
                     "the commit's own words: %s", tp_last_error());
  commits_fail = 0;
  cr_expect_eq(tp_pool_free(pool, kept, NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
}
