/* NVRTC expressions: the kernels generated from the parsed tree compile for
 * every dtype and every function, hostile text never reaches the compiler,
 * the cache compiles each key once and outside its lock, and the code is a
 * cubin for an architecture NVRTC knows (PTX only beyond that). Compiling
 * needs no GPU, so these run on any CUDA build. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device/expression_kernel.h"
#include "device_test.h"
#include "tensor/expression.h"
#include "tensorpool/device_fill.h"

static tp_expression_cache_stats stats_now(void) {
  tp_expression_cache_stats s = TP_EXPRESSION_CACHE_STATS_INIT;
  cr_assert_eq(tp_device_expression_cache_stats(&s), TP_SUCCESS);
  return s;
}

#if TP_HAVE_CUDA
#define require_nvrtc()
#else
#define require_nvrtc()                                                        \
  cr_skip_test("built without CUDA: NVRTC is not available")
#endif

static tp_expression *parsed(const char *text, int ndim) {
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(text, ndim, &e), TP_SUCCESS, "%s: %s", text,
               tp_last_error());
  return e;
}

Test(expression_compile, compiles_and_is_cached_once) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  cr_assert_eq(
      tp_device_expression_compile("sin(0.1*i0) + i1", TP_DTYPE_F32, 2),
      TP_SUCCESS, "%s", tp_last_error());
  tp_expression_cache_stats first = stats_now();
  cr_expect_eq(first.compiles, before.compiles + 1);
  cr_expect_eq(first.entries, before.entries + 1);
  /* The same tree written differently is the same key. */
  cr_assert_eq(
      tp_device_expression_compile(" sin( 0.1 * i0 )+(i1)", TP_DTYPE_F32, 2),
      TP_SUCCESS);
  tp_expression_cache_stats second = stats_now();
  cr_expect_eq(second.compiles, first.compiles, "the same key compiles once");
  cr_expect_eq(second.hits, first.hits + 1);
}

Test(expression_compile, key_includes_type_and_rank) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_F64, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_I32, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_C128, 2),
               TP_SUCCESS);
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.compiles, before.compiles + 3);
  cr_expect_eq(after.entries, before.entries + 3);
  cr_expect_eq(after.hits, before.hits);
}

Test(expression_compile, every_type_compiles) {
  require_nvrtc();
  for (int d = 0; d < TP_DTYPE_COUNT; ++d)
    cr_expect_eq(
        tp_device_expression_compile(
            "exp(-0.5*i0*i0) * i2 + i1 % 3 > 1 ? i0 : -i2", (tp_dtype)d, 3),
        TP_SUCCESS, "%s: %s", tp_dtype_name((tp_dtype)d), tp_last_error());
}

/* Issue 8 A5: every documented function, called with an index and with
 * literals, compiles (exp(i0) and pow(2.0, i0) were ambiguous overloads). */
Test(expression_compile, every_function_compiles_with_index_arguments,
     .timeout = 280) {
  require_nvrtc();
  for (int f = 0; tp_expr_functions[f].name; ++f) {
    const tp_expr_function *fn = &tp_expr_functions[f];
    char text[96];
    if (fn->nargs == 1)
      snprintf(text, sizeof text, "%s(i0) + %s(0.5)", fn->name, fn->name);
    else if (fn->nargs == 2)
      snprintf(text, sizeof text, "%s(i0, i1) + %s(2.0, i0)", fn->name,
               fn->name);
    else
      snprintf(text, sizeof text, "%s(i0, i1, 2) + %s(0.5, i0, 2.5)", fn->name,
               fn->name);
    cr_expect_eq(tp_device_expression_compile(text, TP_DTYPE_F64, 2),
                 TP_SUCCESS, "%s: %s", text, tp_last_error());
  }
}

/* Issue 8 A4: a cubin for the device's architecture; PTX (for the newest
 * architecture NVRTC knows) only when the device is newer than NVRTC. */
Test(expression_compile, cubin_for_a_known_architecture_ptx_beyond) {
  require_nvrtc();
  tp_expression *e = parsed("i0 * 2 + 1", 1);
  int cubin = -1, target = 0;
  size_t bytes = 0;
  cr_assert_eq(
      tp_expression_kernels("test", e, TP_DTYPE_F32, 90, 0, NULL, NULL),
      TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(
      tp_expression_cached_binary(e, TP_DTYPE_F32, 90, &cubin, &target, &bytes),
      TP_SUCCESS);
  cr_expect_eq(cubin, 1, "sm_90 is compiled to a cubin");
  cr_expect_eq(target, 90);
  cr_expect_gt(bytes, 0);
  /* An architecture newer than any NVRTC knows: PTX of the newest one. */
  cr_assert_eq(
      tp_expression_kernels("test", e, TP_DTYPE_F32, 990, 0, NULL, NULL),
      TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_expression_cached_binary(e, TP_DTYPE_F32, 990, &cubin,
                                           &target, &bytes),
               TP_SUCCESS);
  cr_expect_eq(cubin, 0, "PTX for an unknown architecture");
  cr_expect_geq(target, 90);
  cr_expect_lt(target, 990);
  /* One older than any it knows: refused. */
  cr_expect_eq(
      tp_expression_kernels("test", e, TP_DTYPE_F32, 10, 0, NULL, NULL),
      TP_ERR_NOT_SUPPORTED);
  expect_message("older than any");
  tp_expression_free(e);
}

/* The generated source is made of the tree: none of the user's spelling
 * (numbers included) is in it. */
Test(expression_compile, generated_source_holds_none_of_the_text) {
  tp_expression *e = parsed("  i0   *  1.50000 + 1e3 - pi  ", 1);
  char *source = NULL;
  cr_assert_eq(tp_expression_cuda_source(e, TP_DTYPE_F32, &source), TP_SUCCESS);
  cr_expect_null(strstr(source, "1.50000"));
  cr_expect_null(strstr(source, "1e3"));
  /* The expression's own lines: pi is a constant, written as its bits. */
  const char *element = strstr(source, "tp_expression_element(const");
  cr_assert_not_null(element);
  const char *end = strstr(element, "return");
  cr_assert_not_null(end);
  char lines[2048];
  size_t n = (size_t)(end - element) < sizeof lines - 1
                 ? (size_t)(end - element)
                 : sizeof lines - 1;
  memcpy(lines, element, n);
  lines[n] = '\0';
  cr_expect_null(strstr(lines, "pi"), "%s", lines);
  cr_expect_not_null(strstr(lines, "0x3ff8000000000000ull"), "1.5's bits");
  cr_expect_not_null(strstr(lines, "0x400921fb54442d18ull"), "pi's bits");
  free(source);
  tp_expression_free(e);
}

/* Hostile text (the regression table of issue 10) never reaches NVRTC. */
Test(expression_compile, attacks_are_refused_before_compiling) {
  const char *attacks[] = {
      "#include \"/etc/passwd\"",
      "__has_include(\"/etc/passwd\")",
      "%:include \"/etc/passwd\"",
      "[]()<%for(;;);return 1;%>()",
      "tp_dst[-4096] = 1",
      "*(volatile int *)0x1000 = 7",
      "tp_count = ~0ull",
      "printf(\"x\")",
      "__trap()",
      "#define A B B\n#define B C C\nA",
  };
  tp_expression_cache_stats before = stats_now();
  for (size_t k = 0; k < sizeof attacks / sizeof attacks[0]; ++k) {
    cr_expect_eq(tp_device_expression_compile(attacks[k], TP_DTYPE_F32, 2),
                 TP_ERR_INVALID_ARGUMENT, "%s", attacks[k]);
    expect_message("column");
    expect_message("tp_device_expression_compile");
  }
  cr_expect_eq(stats_now().compiles, before.compiles, "no compiler was run");
}

Test(expression_compile, rank_and_dtype_checked_first) {
  tp_expression_cache_stats before = stats_now();
  cr_expect_eq(
      tp_device_expression_compile("sin(0.1*i0) + i3", TP_DTYPE_F32, 2),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("i3");
  expect_message("2 dimensions");
  cr_expect_eq(tp_device_expression_compile("i0", (tp_dtype)99, 1),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("dtype 99");
  cr_expect_eq(tp_device_expression_compile(NULL, TP_DTYPE_F32, 1),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(
      tp_device_expression_compile("i0", TP_DTYPE_F32, TP_MAX_NDIM + 1),
      TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(stats_now().compiles, before.compiles, "no compiler was run");
}

Test(expression_compile, fill_checks_the_text_without_a_device) {
  int64_t extents[2] = {3, 3};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F32, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  float storage[9];
  cr_expect_eq(
      tp_device_fill_expression(0, storage, &layout, &tile, "i0 + i2", NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("tp_device_fill_expression");
  expect_message("i2");
  cr_expect_eq(
      tp_device_fill_expression(0, storage, &layout, &tile, "i0 +* 2", NULL),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("column 5");
}

enum { THREADS = 4 };

static void *compile_same(void *arg) {
  (void)arg;
  tp_status st =
      tp_device_expression_compile("cos(i0 * 0.25) * 7", TP_DTYPE_F64, 1);
  return (void *)(intptr_t)st;
}

Test(expression_compile, concurrent_requests_compile_once) {
  require_nvrtc();
  tp_expression_cache_stats before = stats_now();
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; ++t)
    cr_assert_eq(pthread_create(&threads[t], NULL, compile_same, NULL), 0);
  for (int t = 0; t < THREADS; ++t) {
    void *result = NULL;
    pthread_join(threads[t], &result);
    cr_expect_eq((tp_status)(intptr_t)result, TP_SUCCESS);
  }
  tp_expression_cache_stats after = stats_now();
  cr_expect_eq(after.compiles, before.compiles + 1);
  cr_expect_eq(after.hits, before.hits + THREADS - 1);
}

/* A compilation held inside NVRTC must not stop other keys from compiling,
 * nor cached keys from being found (the old cache compiled under its one
 * lock). The hook holds the compilation of one key until released. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_entered, gate_open, others_done;

static void gate(const char *canonical) {
  if (strcmp(canonical, "i0*3+1") != 0)
    return;
  pthread_mutex_lock(&gate_lock);
  gate_entered = 1;
  pthread_cond_broadcast(&gate_cond);
  while (!gate_open)
    pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
}

static void *compile_held(void *arg) {
  (void)arg;
  return (void *)(intptr_t)tp_device_expression_compile("i0 * 3 + 1",
                                                        TP_DTYPE_F32, 1);
}

static void *compile_others(void *arg) {
  (void)arg;
  tp_status st = tp_device_expression_compile("i0 - 7", TP_DTYPE_F32, 1);
  if (st == TP_SUCCESS)
    st = tp_device_expression_compile("i0 + 2", TP_DTYPE_F64, 1);
  pthread_mutex_lock(&gate_lock);
  others_done = 1;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  return (void *)(intptr_t)st;
}

Test(expression_compile, compiling_does_not_hold_the_cache_lock,
     .timeout = 240) {
  require_nvrtc();
  cr_assert_eq(tp_device_expression_compile("i0 + 2", TP_DTYPE_F64, 1),
               TP_SUCCESS);
  tp_expression_compile_hook = gate;
  pthread_t held, others;
  cr_assert_eq(pthread_create(&held, NULL, compile_held, NULL), 0);
  pthread_mutex_lock(&gate_lock);
  while (!gate_entered)
    pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  /* "i0*3+1" is now inside its compilation. Another key compiles and a
   * cached one is found meanwhile, or this times out. */
  cr_assert_eq(pthread_create(&others, NULL, compile_others, NULL), 0);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 120;
  int waited = 0;
  pthread_mutex_lock(&gate_lock);
  while (!others_done && waited != ETIMEDOUT)
    waited = pthread_cond_timedwait(&gate_cond, &gate_lock, &deadline);
  int done_while_held = others_done;
  gate_open = 1;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
  void *a = NULL, *b = NULL;
  pthread_join(others, &b);
  pthread_join(held, &a);
  tp_expression_compile_hook = NULL;
  cr_expect(done_while_held,
            "another key waited for a compilation it does not need");
  cr_expect_eq((tp_status)(intptr_t)b, TP_SUCCESS);
  cr_expect_eq((tp_status)(intptr_t)a, TP_SUCCESS);
}

Test(expression_compile, clear_forgets_the_kernels) {
  require_nvrtc();
  cr_assert_eq(tp_device_expression_compile("i0 - 1", TP_DTYPE_I64, 1),
               TP_SUCCESS);
  cr_assert_eq(tp_device_expression_cache_clear(), TP_SUCCESS);
  tp_expression_cache_stats cleared = stats_now();
  cr_expect_eq(cleared.entries, 0);
  cr_assert_eq(tp_device_expression_compile("i0 - 1", TP_DTYPE_I64, 1),
               TP_SUCCESS);
  cr_expect_eq(stats_now().compiles, cleared.compiles + 1);
}
