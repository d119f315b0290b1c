/* tensorpool/device.h and device_fill.h where no GPU is usable (a build
 * without CUDA, or a machine without one): "tp_device_count() reports 0
 * and the functions that need a device return TP_ERR_NO_DEVICE with a
 * message saying why, after the same argument checks as in a CUDA build",
 * and status.h's rule. Expression compilation needs NVRTC, not a device. */
#include "contract.h"

static void require_no_device(void) {
  int n = -1;
  ct_ok(tp_device_count(&n));
  if (n > 0)
    cr_skip_test("%d CUDA device(s) here: these are the no-device rules", n);
}

Test(device_none, count_is_zero_and_checks_its_pointer) {
  int n = -1;
  ct_ok(tp_device_count(&n));
  cr_expect_geq(n, 0);
  if (!TP_HAVE_CUDA)
    cr_expect_eq(n, 0);
  ct_expect_fail(tp_device_count(NULL), TP_ERR_INVALID_ARGUMENT, NULL);
}

Test(device_none, memory_info) {
  require_no_device();
  size_t f = 1, t = 2;
  ct_expect_fail(tp_device_memory_info(0, &f, &t), TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(f, 1);
  cr_expect_eq(t, 2);
  ct_expect_fail(tp_device_memory_info(-1, &f, &t), TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_device_memory_info(0, NULL, &t), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_device_memory_info(0, &f, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
}

/* Spaces: arguments first (config struct_size, upstream, out), then the
 * device. */
Test(device_none, spaces) {
  require_no_device();
  tp_space *s = (tp_space *)0x5;
  tp_device_space_config c = TP_DEVICE_SPACE_CONFIG_INIT;
  ct_expect_fail(tp_device_space_create(0, &c, &s), TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_device_space_create(0, NULL, &s), TP_ERR_NO_DEVICE, NULL);
  c.upstream = TP_DEVICE_UPSTREAM_MALLOC_ASYNC;
  ct_expect_fail(tp_device_space_create(0, &c, &s), TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_pinned_space_create(0, &s), TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(s, (tp_space *)0x5);
  ct_expect_fail(tp_device_space_create(0, &c, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_pinned_space_create(0, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  c.upstream = (tp_device_upstream)7;
  ct_expect_fail(tp_device_space_create(0, &c, &s), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  c = (tp_device_space_config)TP_DEVICE_SPACE_CONFIG_INIT;
  c.struct_size = 0;
  ct_expect_fail(tp_device_space_create(0, &c, &s), TP_ERR_INVALID_ARGUMENT,
                 "TP_DEVICE_SPACE_CONFIG_INIT");
  ct_ok(tp_device_space_destroy(NULL));
  ct_ok(tp_pinned_space_destroy(NULL));
  /* "each refuses the other kind": not a space of theirs. */
  tp_space host = *tp_host_space();
  ct_expect_fail(tp_device_space_destroy(&host), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pinned_space_destroy(&host), TP_ERR_INVALID_ARGUMENT, NULL);
}

/* The shared pools: configure needs no device (a limit of 0 refused);
 * getting a pool does. */
Test(device_none, shared_pools) {
  require_no_device();
  tp_pool_config pc = TP_POOL_CONFIG_INIT;
  tp_device_pool_config c = TP_DEVICE_POOL_CONFIG_INIT;
  ct_ok(tp_device_pools_configure(&c));
  c.pool = &pc;
  pc.limit = 1 << 30;
  ct_ok(tp_device_pools_configure(&c));
  pc.limit = 0;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT, NULL);
  pc = (tp_pool_config)TP_POOL_CONFIG_INIT;
  pc.struct_size = 0;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT,
                 "TP_POOL_CONFIG_INIT");
  pc = (tp_pool_config)TP_POOL_CONFIG_INIT;
  pc.divisions = 3;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT, NULL);
  /* Whatever tp_pool_create refuses (device.h). */
  pc = (tp_pool_config)TP_POOL_CONFIG_INIT;
  pc.page_release = (tp_page_release)99;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT,
                 "page_release");
  pc.page_release = (tp_page_release)-1;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT,
                 "page_release");
  c = (tp_device_pool_config)TP_DEVICE_POOL_CONFIG_INIT;
  c.struct_size = 0;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT,
                 "TP_DEVICE_POOL_CONFIG_INIT");
  c = (tp_device_pool_config)TP_DEVICE_POOL_CONFIG_INIT;
  c.upstream = (tp_device_upstream)9;
  ct_expect_fail(tp_device_pools_configure(&c), TP_ERR_INVALID_ARGUMENT, NULL);

  /* An older struct: what lies past its struct_size is not read. */
  c = (tp_device_pool_config)TP_DEVICE_POOL_CONFIG_INIT;
  c.struct_size = offsetof(tp_device_pool_config, upstream);
  c.pool = NULL;
  c.upstream = (tp_device_upstream)9;
  ct_ok(tp_device_pools_configure(&c));

  tp_pool *p = (tp_pool *)0x5;
  int ids[3] = {0, 1, 64};
  for (int i = 0; i < 3; i++) {
    ct_expect_fail(tp_device_pool(ids[i], &p), TP_ERR_NO_DEVICE, NULL);
    ct_expect_fail(tp_pinned_pool(ids[i], &p), TP_ERR_NO_DEVICE, NULL);
  }
  cr_expect_eq(p, (tp_pool *)0x5);
  ct_expect_fail(tp_device_pool(0, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_pinned_pool(0, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_device_pools_destroy());
}

Test(device_none, streams_and_copies) {
  require_no_device();
  tp_stream s = (tp_stream)0x5;
  ct_expect_fail(tp_device_stream_create(0, &s), TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(s, (tp_stream)0x5);
  ct_expect_fail(tp_device_stream_create(0, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_device_stream_synchronize(0, NULL), TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_device_stream_destroy(0, ct_stream(1)), TP_ERR_NO_DEVICE,
                 NULL);
  char a[16] = "abcdefghijklmno", b[16] = {0};
  ct_expect_fail(tp_device_memcpy(0, b, a, 16, NULL), TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(b[0], 0, "copied without a device");
  /* "NULL pointers are TP_ERR_INVALID_ARGUMENT in every build". */
  ct_expect_fail(tp_device_memcpy(0, NULL, a, 16, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_memcpy(0, b, NULL, 16, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
}

/* device_fill.h: "Without a device these return TP_ERR_NO_DEVICE (after
 * checking their arguments)". */
Test(device_none, fills_check_arguments_first) {
  require_no_device();
  float dst[4] = {1, 2, 3, 4}, one = 9;
  ct_expect_fail(tp_device_fill_constant(0, dst, TP_DTYPE_F32, 4, &one, NULL),
                 TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(dst[0], 1.0f);
  ct_expect_fail(tp_device_fill_constant(0, dst, TP_DTYPE_F32, 4, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_fill_constant(0, NULL, TP_DTYPE_F32, 4, &one, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_fill_constant(0, dst, (tp_dtype)40, 4, &one, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);

  tp_layout l = ct_layout(TP_DTYPE_F32, 2, (int64_t)2, (int64_t)2);
  tp_tile t;
  ct_ok(tp_layout_whole_tile(&l, &t));
  tp_generator good = tp_generator_arange(0, 1);
  tp_generator bad = tp_generator_uniform(1, 2, 1);
  ct_expect_fail(tp_device_fill_generator(0, dst, &l, &t, &good, NULL),
                 TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_device_fill_generator(0, dst, &l, &t, &bad, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_fill_generator(0, dst, NULL, &t, &good, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_fill_generator(0, dst, &l, &t, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);

  ct_expect_fail(tp_device_fill_expression(0, dst, &l, &t, "i0 + i1", NULL),
                 TP_ERR_NO_DEVICE, NULL);
  ct_expect_fail(tp_device_fill_expression(0, dst, &l, &t, "i0 + i2", NULL),
                 TP_ERR_INVALID_ARGUMENT, "column");
  ct_expect_fail(tp_device_fill_expression(0, dst, &l, &t, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(dst[3], 4.0f);
}

/* tp_device_expression_compile "Needs NVRTC but no GPU"; refusals come
 * before the compiler; one compilation per canonical text (docs: "( i0 +
 * 1 )" and "i0+1" share a kernel); cache statistics are versioned. A build
 * without CUDA lacks NVRTC, a capability, where the device question does
 * not arise: TP_ERR_NOT_SUPPORTED by status.h's rule. */
Test(device_none, expression_compilation_needs_no_device) {
  tp_expression_cache_stats s0 = TP_EXPRESSION_CACHE_STATS_INIT;
  s0.struct_size = 0;
  ct_expect_fail(tp_device_expression_cache_stats(&s0), TP_ERR_INVALID_ARGUMENT,
                 "TP_EXPRESSION_CACHE_STATS_INIT");
  ct_expect_fail(tp_device_expression_cache_stats(NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_expression_compile("1 +", TP_DTYPE_F32, 0),
                 TP_ERR_INVALID_ARGUMENT, "column");
  ct_expect_fail(tp_device_expression_compile("1", (tp_dtype)40, 0),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_device_expression_compile("1", TP_DTYPE_F32, TP_MAX_NDIM + 1),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_device_expression_compile(NULL, TP_DTYPE_F32, 1),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  if (!TP_HAVE_CUDA) {
    ct_expect_fail(tp_device_expression_compile("i0 + 1", TP_DTYPE_F32, 1),
                   TP_ERR_NOT_SUPPORTED, "NVRTC");
    return;
  }
  ct_ok(tp_device_expression_cache_clear());
  tp_expression_cache_stats a = TP_EXPRESSION_CACHE_STATS_INIT;
  ct_ok(tp_device_expression_cache_stats(&a));
  cr_expect_eq(a.entries, 0);
  ct_ok(tp_device_expression_compile("( i0 + 1 )", TP_DTYPE_F32, 1));
  ct_ok(tp_device_expression_compile("i0+1", TP_DTYPE_F32, 1));
  tp_expression_cache_stats b = TP_EXPRESSION_CACHE_STATS_INIT;
  ct_ok(tp_device_expression_cache_stats(&b));
  cr_expect_eq(b.compiles, a.compiles + 1);
  cr_expect_eq(b.hits, a.hits + 1);
  cr_expect_eq(b.failures, a.failures);
  cr_expect_eq(b.entries, 1);
  /* Refusals never reach the compiler. */
  tp_device_expression_compile("#include <x>", TP_DTYPE_F32, 1);
  tp_expression_cache_stats c = TP_EXPRESSION_CACHE_STATS_INIT;
  ct_ok(tp_device_expression_cache_stats(&c));
  cr_expect_eq(c.compiles, b.compiles);
  ct_ok(tp_device_expression_cache_clear());
  ct_ok(tp_device_expression_cache_stats(&c));
  cr_expect_eq(c.entries, 0);
}
