/* Who owns what on a GPU, and what a call leaves behind on the calling
 * thread: runtime-owned device pools, teardown after a stream was destroyed,
 * spaces with pools over them, the runtime's choice of device, and the
 * device guard restoring "no device chosen". GPU only: each test skips with
 * the reason on a machine without one. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "device/device_query.h"
#include "device_test.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"

#if TP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static tp_layout vector_of(tp_dtype dtype, int64_t n) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(dtype, 1, &n, &l), TP_SUCCESS);
  return l;
}

/* ---- The device guard and the runtime's default device ------------------ */

typedef struct thread_result {
  int before, after_query, after_runtime, runtime_device;
  tp_status query, create, destroy;
} thread_result;

/* On a fresh thread, which has chosen no device. */
static void *fresh_thread(void *arg) {
  thread_result *r = arg;
  tp_device_current(&r->before);
  size_t free_bytes, total;
  r->query = tp_device_memory_info(0, &free_bytes, &total);
  tp_device_current(&r->after_query);
  tp_runtime *rt = NULL;
  r->create = tp_runtime_create(NULL, &rt);
  r->runtime_device = tp_runtime_device(rt);
  tp_device_current(&r->after_runtime);
  r->destroy = tp_runtime_destroy(rt);
  return NULL;
}

/* Restoring "the device cudaGetDevice reports" would make GPU 0 current on a
 * thread that never chose a device (creating a context there): the guard
 * must leave such a thread with nothing chosen. */
Test(device_lifetimes, a_thread_that_chose_no_device_is_left_without_one) {
  require_device();
  thread_result r;
  memset(&r, 0, sizeof r);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, fresh_thread, &r), 0);
  pthread_join(t, NULL);
  cr_expect_eq(r.before, -1, "a fresh thread has no current device");
  cr_expect_eq(r.query, TP_SUCCESS);
  cr_expect_eq(r.after_query, -1,
               "tp_device_memory_info left a device current");
  cr_expect_eq(r.create, TP_SUCCESS);
  cr_expect_eq(r.runtime_device, 0, "one process: local rank 0 mod devices");
  cr_expect_eq(r.after_runtime, -1, "tp_runtime_create left a device current");
  cr_expect_eq(r.destroy, TP_SUCCESS);
}

#if TP_HAVE_CUDA
static void *thread_on_last_device(void *arg) {
  thread_result *r = arg;
  int count = 0;
  cudaGetDeviceCount(&count);
  cudaSetDevice(count - 1);
  tp_device_current(&r->before);
  tp_runtime *rt = NULL;
  r->create = tp_runtime_create(NULL, &rt);
  r->runtime_device = tp_runtime_device(rt);
  tp_device_current(&r->after_runtime);
  r->destroy = tp_runtime_destroy(rt);
  return NULL;
}
#endif

Test(device_lifetimes, the_runtime_uses_the_callers_current_device) {
  require_device();
#if TP_HAVE_CUDA
  int count = 0;
  cr_assert_eq(tp_device_count(&count), TP_SUCCESS);
  thread_result r;
  memset(&r, 0, sizeof r);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, thread_on_last_device, &r), 0);
  pthread_join(t, NULL);
  cr_expect_eq(r.before, count - 1);
  cr_expect_eq(r.create, TP_SUCCESS);
  cr_expect_eq(r.runtime_device, count - 1);
  cr_expect_eq(r.after_runtime, count - 1, "the caller's choice stays");
  cr_expect_eq(r.destroy, TP_SUCCESS);
#endif
}

/* ---- Ownership ------------------------------------------------------------
 */

/* A runtime's device pool is its own: tp_device_pools_destroy (the shared
 * pools) cannot pull it from under the runtime's buffers. */
Test(device_lifetimes, shared_pools_and_runtime_pools_are_separate) {
  require_device();
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS, "%s", tp_last_error());
  tp_pool *mine = NULL, *shared = NULL;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_DEVICE, &mine), TP_SUCCESS);
  cr_assert_eq(tp_device_pool(tp_runtime_device(rt), &shared), TP_SUCCESS);
  cr_expect_neq(mine, shared);
  cr_expect_eq(tp_pool_set_limit(mine, 1 << 20), TP_ERR_NOT_SUPPORTED);
  expect_message("tp_runtime_set_budget");
  cr_expect_eq(tp_pool_set_limit(shared, 1 << 20), TP_SUCCESS,
               "a shared pool's limit is its user's");

  tp_allocator *a;
  cr_assert_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_SUCCESS);
  tp_layout l = vector_of(TP_DTYPE_F64, 1000);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_construct_value(a, &l, NULL, tp_scalar_real(6), NULL, &b),
      TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_device_pools_destroy(), TP_SUCCESS, "%s", tp_last_error());
  double last = 0;
  cr_expect_eq(tp_buffer_read(b, 999 * 8, 8, &last), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_eq(last, 6.0);
  cr_expect_eq(tp_runtime_destroy(rt), TP_ERR_BUSY);
  cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}

Test(device_lifetimes, a_space_with_a_pool_over_it_is_busy) {
  require_device();
  tp_space *space;
  cr_assert_eq(tp_device_space_create(0, NULL, &space), TP_SUCCESS);
  tp_pool *pool;
  cr_assert_eq(tp_pool_create(space, NULL, &pool), TP_SUCCESS);
  void *p;
  cr_assert_eq(tp_pool_alloc(pool, 4096, NULL, &p), TP_SUCCESS);
  cr_expect_eq(tp_device_space_destroy(space), TP_ERR_BUSY);
  expect_message("destroy the pool first");
  cr_expect_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS,
               "the space still works");
  cr_expect_eq(tp_pool_destroy(pool), TP_SUCCESS);
  cr_expect_eq(tp_device_space_destroy(space), TP_SUCCESS, "%s",
               tp_last_error());
}

Test(device_lifetimes, disabling_the_device_space_keeps_pinned_memory) {
  require_device();
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.disabled_spaces = TP_SPACE_BIT(TP_SPACE_DEVICE);
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(&cfg, &rt), TP_SUCCESS, "%s", tp_last_error());
  cr_expect(tp_runtime_has_backend(rt, TP_SPACE_PINNED));
  cr_expect_not(tp_runtime_has_backend(rt, TP_SPACE_DEVICE));
  cr_expect_geq(tp_runtime_device(rt), 0, "pinned memory's events need it");
  tp_allocator *a = NULL;
  cr_expect_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_ERR_NOT_SUPPORTED);
  expect_message("disabled");
  tp_layout big = vector_of(TP_DTYPE_F64, 1 << 16);
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  cr_assert_eq(
      tp_allocator_choose(rt, &big, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &c),
      TP_SUCCESS);
  cr_expect_eq(c.space, TP_SPACE_HOST, "%s", c.reason);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);
}

/* ---- Teardown after a stream was destroyed --------------------------------
 */

/* A block's last use was on a stream its owner destroyed with
 * cudaStreamDestroy (not tp_device_stream_destroy, so no pool forgot it):
 * tearing the pool down must not touch that stream. */
Test(device_lifetimes, teardown_after_the_blocks_stream_was_destroyed) {
  require_device();
#if TP_HAVE_CUDA
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS, "%s", tp_last_error());
  cudaStream_t stream;
  cr_assert_eq(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
               cudaSuccess);
  tp_allocator *a;
  cr_assert_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_SUCCESS);
  tp_layout l = vector_of(TP_DTYPE_F32, 1 << 20);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_construct_value(a, &l, NULL, tp_scalar_real(1), stream, &b),
      TP_SUCCESS);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS); /* cached on `stream` */
  tp_pool *shared;
  void *p;
  cr_assert_eq(tp_device_pool(0, &shared), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(shared, 1 << 20, stream, &p), TP_SUCCESS);
  cr_assert_eq(tp_pool_free(shared, p, stream), TP_SUCCESS);
  cr_assert_eq(cudaStreamDestroy(stream), cudaSuccess);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_device_pools_destroy(), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(cudaGetLastError(), cudaSuccess);
#endif
}
