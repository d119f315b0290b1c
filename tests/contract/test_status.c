/* tensorpool/status.h and tensorpool/version.h as documented. */
#include <pthread.h>
#include <stdio.h>

#include "contract.h"

/* status.h: "its values are fixed for the 1.x ABI". A program may store
 * the numbers, so a renumbering must fail here. */
Test(status, codes_have_their_fixed_values) {
  cr_expect_eq(TP_SUCCESS, 0);
  cr_expect_eq(TP_ERR_INVALID_ARGUMENT, 1);
  cr_expect_eq(TP_ERR_INVALID_POINTER, 2);
  cr_expect_eq(TP_ERR_OUT_OF_MEMORY, 3);
  cr_expect_eq(TP_ERR_OVERFLOW, 4);
  cr_expect_eq(TP_ERR_NO_DEVICE, 5);
  cr_expect_eq(TP_ERR_NOT_SUPPORTED, 6);
  cr_expect_eq(TP_ERR_CUDA, 7);
  cr_expect_eq(TP_ERR_NCCL, 8);
  cr_expect_eq(TP_ERR_MPI, 9);
  cr_expect_eq(TP_ERR_MISMATCH, 10);
  cr_expect_eq(TP_ERR_LEAK, 11);
  cr_expect_eq(TP_ERR_CALLBACK, 12);
  cr_expect_eq(TP_ERR_INTERNAL, 13);
  cr_expect_eq(TP_ERR_BUSY, 14);
}

/* "A fixed English name for the code ... Never NULL ("unknown status" for a
 * value that is not a tp_status)". The README prints two of them. */
Test(status, names_are_distinct_and_never_null) {
  for (int a = TP_SUCCESS; a <= TP_ERR_BUSY; a++) {
    const char *na = tp_status_name((tp_status)a);
    cr_assert_not_null(na);
    cr_expect_str_neq(na, "unknown status", "code %d", a);
    cr_expect_gt(strlen(na), 0);
    for (int b = a + 1; b <= TP_ERR_BUSY; b++)
      cr_expect_str_neq(na, tp_status_name((tp_status)b), "%d and %d", a, b);
  }
  cr_expect_str_eq(tp_status_name(TP_ERR_OUT_OF_MEMORY), "out of memory");
  cr_expect_str_eq(tp_status_name(TP_ERR_INVALID_POINTER), "invalid pointer");
  int unknown[] = {-1, 15, 99, 1 << 30};
  for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
    const char *n = tp_status_name((tp_status)unknown[i]);
    cr_assert_not_null(n);
    cr_expect_str_eq(n, "unknown status", "value %d", unknown[i]);
  }
}

static void *last_error_of_a_new_thread(void *arg) {
  const char **out = arg;
  *out = strdup(tp_last_error());
  return NULL;
}

/* "The detail of the last failure on the calling thread ("" if none yet)":
 * a thread that never failed sees "", whatever other threads did. */
Test(status, a_thread_that_never_failed_sees_an_empty_message) {
  tp_set_last_error(TP_ERR_INTERNAL, "this thread failed");
  const char *seen = NULL;
  pthread_t t;
  pthread_create(&t, NULL, last_error_of_a_new_thread, &seen);
  pthread_join(t, NULL);
  cr_assert_not_null(seen);
  cr_expect_str_eq(seen, "");
  free((void *)seen);
}

/* tp_set_last_error returns its status and formats printf-style. */
Test(status, set_last_error_returns_the_status_and_formats) {
  cr_expect_eq(
      tp_set_last_error(TP_ERR_CALLBACK, "disk %s is %d%% full", "sda", 97),
      TP_ERR_CALLBACK);
  cr_expect_str_eq(tp_last_error(), "disk sda is 97% full");
  cr_expect_eq(tp_set_last_error(TP_SUCCESS, "%s", "x"), TP_SUCCESS);
}

/* "a later success does not clear it (like errno)". */
Test(status, success_does_not_clear_the_message) {
  void *p;
  cr_assert_eq(tp_pool_alloc(NULL, 8, NULL, &p), TP_ERR_INVALID_ARGUMENT);
  char before[512];
  snprintf(before, sizeof before, "%s", tp_last_error());
  cr_expect_gt(strlen(before), 0, "a failure left no message");
  int major, minor, patch;
  cr_assert_eq(tp_get_version(&major, &minor, &patch), TP_SUCCESS);
  cr_expect_str_eq(tp_last_error(), before);
}

static void *fail_elsewhere(void *arg) {
  (void)arg;
  tp_set_last_error(TP_ERR_MPI, "another thread's failure");
  return NULL;
}

/* "the message is per thread". */
Test(status, another_threads_failure_leaves_this_message) {
  tp_set_last_error(TP_ERR_CUDA, "mine");
  pthread_t t;
  pthread_create(&t, NULL, fail_elsewhere, NULL);
  pthread_join(t, NULL);
  cr_expect_str_eq(tp_last_error(), "mine");
}

/* A raw allocator table whose alloc fails, with or without a message. */
static tp_status alloc_fails_with_message(void *ctx, size_t bytes,
                                          size_t alignment, tp_stream stream,
                                          void **out) {
  (void)ctx, (void)bytes, (void)alignment, (void)stream, (void)out;
  return tp_set_last_error(TP_ERR_OUT_OF_MEMORY, "arena %d is full", 7);
}
static tp_status alloc_fails_silently(void *ctx, size_t bytes, size_t alignment,
                                      tp_stream stream, void **out) {
  (void)ctx, (void)bytes, (void)alignment, (void)stream, (void)out;
  return TP_ERR_OUT_OF_MEMORY;
}
static tp_status free_nothing(void *ctx, void *ptr, size_t bytes,
                              tp_stream stream) {
  (void)ctx, (void)ptr, (void)bytes, (void)stream;
  return TP_SUCCESS;
}

/* "When such a callback fails, the library keeps the message the callback
 * set during that call ...; a callback that fails without setting one gets
 * a message saying so, never a stale message of an earlier failure." */
Test(status, callback_messages_are_kept_and_never_stale) {
  tp_raw_allocator raw = TP_RAW_ALLOCATOR_INIT;
  raw.alloc = alloc_fails_with_message;
  raw.free = free_nothing;
  void *p = (void *)0x1;
  cr_expect_eq(tp_raw_alloc(&raw, 64, 0, NULL, &p), TP_ERR_OUT_OF_MEMORY);
  cr_expect(strstr(tp_last_error(), "arena 7 is full") != NULL, "%s",
            tp_last_error());

  raw.alloc = alloc_fails_silently;
  cr_expect_eq(tp_raw_alloc(&raw, 64, 0, NULL, &p), TP_ERR_OUT_OF_MEMORY);
  cr_expect(strstr(tp_last_error(), "arena 7") == NULL, "stale message: %s",
            tp_last_error());
  cr_expect_gt(strlen(tp_last_error()), 0);
}

/* version.h: the running library's version is the one config.h names
 * (this test is linked with the library it was compiled against), and
 * every pointer must be non-NULL. */
Test(version, matches_config_and_checks_pointers) {
  int major = -1, minor = -1, patch = -1;
  ct_ok(tp_get_version(&major, &minor, &patch));
  cr_expect_eq(major, TP_VERSION_MAJOR);
  cr_expect_eq(minor, TP_VERSION_MINOR);
  cr_expect_eq(patch, TP_VERSION_PATCH);
  cr_expect_eq(TP_VERSION, major * 10000 + minor * 100 + patch);
  char s[32];
  snprintf(s, sizeof s, "%d.%d.%d", major, minor, patch);
  cr_expect_str_eq(s, TP_VERSION_STRING);
  ct_expect_fail(tp_get_version(NULL, &minor, &patch), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_get_version(&major, NULL, &patch), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_get_version(&major, &minor, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
}
