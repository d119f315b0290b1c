#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tensorpool/pool.h"
#include "tensorpool/status.h"

Test(status, every_code_has_a_distinct_name) {
  for (int a = TP_SUCCESS; a <= TP_ERR_INTERNAL; a++) {
    const char *na = tp_status_name((tp_status)a);
    cr_assert_not_null(na);
    cr_assert_str_neq(na, "unknown status", "code %d", a);
    for (int b = a + 1; b <= TP_ERR_INTERNAL; b++)
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
