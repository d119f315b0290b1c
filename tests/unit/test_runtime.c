/* mkdtemp */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "host/memory_info.h"
#include "runtime/backend.h"
#include "tensorpool/allocator.h"
#include "tensorpool/device.h"

Test(runtime, without_mpi_it_is_one_process) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  cr_expect_eq(tp_runtime_rank(rt), 0);
  cr_expect_eq(tp_runtime_size(rt), 1);
  cr_expect_eq(tp_runtime_local_rank(rt), 0);
  cr_expect_eq(tp_runtime_local_size(rt), 1);
  cr_expect_eq(tp_runtime_uses_mpi(rt), 0);
  int devices = 0;
  tp_device_count(&devices);
  cr_expect_eq(tp_runtime_device(rt), devices > 0 ? 0 : -1);
  cr_expect(tp_runtime_has_backend(rt, TP_SPACE_HOST));
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_runtime_create(NULL, NULL), TP_ERR_INVALID_ARGUMENT);
}

Test(runtime, host_figures_come_from_the_system) {
  size_t free_bytes = 0, total = 0;
  cr_assert_eq(tp_host_memory_info(&free_bytes, &total), TP_SUCCESS);
  cr_expect_gt(free_bytes, 0);
  cr_expect_leq(free_bytes, total);
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  cr_assert_eq(tp_runtime_memory(rt, TP_SPACE_HOST, &f), TP_SUCCESS);
  cr_expect_gt(f.total_bytes, 0);
  /* The automatic budget is the free memory shared by the node's ranks. */
  cr_expect_gt(f.budget_bytes, 0);
  cr_expect_leq(f.budget_bytes, f.total_bytes);
  cr_expect_eq(f.reserved_bytes, 0);
  cr_expect_leq(f.available_bytes, f.budget_bytes);
  cr_expect_eq(tp_runtime_memory(rt, (tp_space_kind)7, &f),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_runtime_memory(rt, TP_SPACE_HOST, NULL),
               TP_ERR_INVALID_ARGUMENT);
  tp_runtime_destroy(rt);
}

Test(runtime, a_configured_budget_is_the_pool_limit) {
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.host_budget = 1 << 20;
  cfg.name = "budgeted";
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(&cfg, &rt), TP_SUCCESS);
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  tp_runtime_memory(rt, TP_SPACE_HOST, &f);
  cr_expect_eq(f.budget_bytes, 1 << 20);
  tp_pool *pool;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_HOST, &pool), TP_SUCCESS);
  cr_expect_str_eq(tp_pool_name(pool), "budgeted.host.r0");
  void *p;
  cr_expect_eq(tp_pool_alloc(pool, 2 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY);
  tp_runtime_destroy(rt);
}

static tp_layout vector_of(int64_t n) {
  tp_layout l;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 1, &n, &l), TP_SUCCESS);
  return l;
}

/* A buffer points into its runtime: destroying the runtime first would
 * leave a dangling handle, so it is refused and nothing is freed. */
Test(runtime, destroying_with_live_buffers_is_refused_and_frees_nothing) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_allocator *a, *d;
  cr_assert_eq(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &a),
               TP_SUCCESS);
  cr_assert_eq(tp_allocator_rebind(a, TP_BUFFER_DISTRIBUTED, &d), TP_SUCCESS);
  tp_layout l = vector_of(100), empty = vector_of(0);
  tp_buffer *b, *e;
  cr_assert_eq(
      tp_allocator_construct_value(a, &l, NULL, tp_scalar_real(4), NULL, &b),
      TP_SUCCESS);
  /* A buffer without memory (an empty tile) holds on to its runtime too. */
  cr_assert_eq(tp_allocator_allocate(d, &empty, NULL, NULL, &e), TP_SUCCESS);
  cr_expect_null(tp_buffer_data(e));

  cr_expect_eq(tp_runtime_destroy(rt), TP_ERR_BUSY);
  cr_expect_not_null(strstr(tp_last_error(), "2 buffers"), "%s",
                     tp_last_error());
  /* Still whole: the buffer's memory, its runtime and its pool. */
  cr_expect_eq(((const double *)tp_buffer_data(b))[99], 4.0);
  cr_expect_eq(tp_allocator_runtime(tp_buffer_allocator(b)), rt);
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_expect_eq(tp_pool_get_stats(tp_allocator_pool(a), &s), TP_SUCCESS);
  cr_expect_eq(s.live_blocks, 1);

  cr_expect_eq(tp_buffer_destroy(e), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(rt), TP_ERR_BUSY);
  cr_expect_not_null(strstr(tp_last_error(), "1 buffer of"), "%s",
                     tp_last_error());
  cr_expect_eq(tp_buffer_destroy(b), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}

Test(runtime, destroying_with_a_raw_block_from_its_pool_is_refused) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_pool *pool;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_HOST, &pool), TP_SUCCESS);
  void *p;
  cr_assert_eq(tp_pool_alloc(pool, 1000, NULL, &p), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(rt), TP_ERR_BUSY);
  cr_expect_not_null(strstr(tp_last_error(), "live block"), "%s",
                     tp_last_error());
  cr_expect_eq(tp_pool_free(pool, p, NULL), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}

/* One value, one setter: the runtime's budget is its pool's limit, and the
 * pool refuses to have it changed behind the runtime's back. */
Test(runtime, the_budget_is_the_pool_limit_with_one_setter) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_pool *pool;
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_HOST, &pool), TP_SUCCESS);
  cr_expect_eq(tp_pool_set_limit(pool, 1 << 20), TP_ERR_NOT_SUPPORTED);
  cr_expect_not_null(strstr(tp_last_error(), "tp_runtime_set_budget"), "%s",
                     tp_last_error());
  cr_assert_eq(tp_runtime_set_budget(rt, TP_SPACE_HOST, 1 << 20), TP_SUCCESS);
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  cr_assert_eq(tp_runtime_memory(rt, TP_SPACE_HOST, &f), TP_SUCCESS);
  cr_expect_eq(f.budget_bytes, 1 << 20);
  void *p;
  cr_expect_eq(tp_pool_alloc(pool, 2 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
               "the pool enforces the budget");
  cr_expect_eq(tp_runtime_set_budget(rt, TP_SPACE_HOST, 0),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);
}

Test(runtime, bad_configurations_are_refused_before_anything_is_made) {
  tp_runtime *rt = NULL;
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.device = -2;
  cr_expect_eq(tp_runtime_create(&cfg, &rt), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "device -2"), "%s",
                     tp_last_error());
  cfg = (tp_runtime_config)TP_RUNTIME_CONFIG_INIT;
  cfg.disabled_spaces = TP_SPACE_BIT(TP_SPACE_HOST);
  cr_expect_eq(tp_runtime_create(&cfg, &rt), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "host"), "%s", tp_last_error());
  cfg.disabled_spaces = 1u << 9;
  cr_expect_eq(tp_runtime_create(&cfg, &rt), TP_ERR_INVALID_ARGUMENT);
  cr_expect_null(rt);
}

/* Naming a device is asking for one: a machine without it says so. */
Test(runtime, a_named_device_the_machine_lacks_is_no_device) {
  int devices = 0;
  cr_assert_eq(tp_device_count(&devices), TP_SUCCESS);
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.device = devices; /* one past the last */
  tp_runtime *rt = NULL;
  cr_expect_eq(tp_runtime_create(&cfg, &rt), TP_ERR_NO_DEVICE);
  cr_expect_not_null(strstr(tp_last_error(), "tp_runtime_create"), "%s",
                     tp_last_error());
  cr_expect_null(rt);
}

/* The rule of tensorpool/status.h for a space the runtime lacks:
 * TP_ERR_NOT_SUPPORTED when the configuration turned it off (on any
 * machine), TP_ERR_NO_DEVICE when the rank has no device. */
Test(runtime, missing_spaces_follow_the_no_device_rule) {
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.disabled_spaces =
      TP_SPACE_BIT(TP_SPACE_DEVICE) | TP_SPACE_BIT(TP_SPACE_PINNED);
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(&cfg, &rt), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_not(tp_runtime_has_backend(rt, TP_SPACE_DEVICE));
  cr_expect_not(tp_runtime_has_backend(rt, TP_SPACE_PINNED));
  cr_expect_eq(tp_runtime_device(rt), -1, "no CUDA space, no device");
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  cr_expect_eq(tp_runtime_memory(rt, TP_SPACE_DEVICE, &f),
               TP_ERR_NOT_SUPPORTED);
  cr_expect_not_null(strstr(tp_last_error(), "disabled"), "%s",
                     tp_last_error());
  tp_allocator *a = NULL;
  cr_expect_eq(tp_runtime_allocator(rt, TP_SPACE_PINNED, TP_BUFFER_LOCAL, &a),
               TP_ERR_NOT_SUPPORTED);
  cr_expect_null(a);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);

  /* Both CUDA spaces off: no device is chosen, even a named one, on any
   * machine (docs/device.md). */
  cfg.device = 0;
  cr_assert_eq(tp_runtime_create(&cfg, &rt), TP_SUCCESS, "%s", tp_last_error());
  cr_expect_eq(tp_runtime_device(rt), -1, "both CUDA spaces off: no device");
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);

  int devices = 0;
  cr_assert_eq(tp_device_count(&devices), TP_SUCCESS);
  if (devices > 0)
    return; /* the no-device half needs a machine without a GPU */
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  cr_expect_eq(tp_runtime_device(rt), -1);
  cr_expect_eq(tp_runtime_memory(rt, TP_SPACE_DEVICE, &f), TP_ERR_NO_DEVICE);
  cr_expect_not_null(strstr(tp_last_error(), "no device"), "%s",
                     tp_last_error());
  tp_pool *pool = NULL;
  cr_expect_eq(tp_runtime_pool(rt, TP_SPACE_PINNED, &pool), TP_ERR_NO_DEVICE);
  cr_expect_eq(tp_runtime_set_budget(rt, TP_SPACE_DEVICE, 1 << 20),
               TP_ERR_NO_DEVICE);
  /* A bad argument is one with or without the device (status.h). */
  cr_expect_eq(tp_runtime_set_budget(rt, TP_SPACE_DEVICE, 0),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_runtime_set_budget(rt, TP_SPACE_PINNED, 0),
               TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
               TP_ERR_NO_DEVICE);
  cr_expect_null(pool);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);
}

/* A config of the first version (before device and disabled_spaces were
 * appended) still works: the new fields take their defaults. */
Test(runtime, a_config_of_the_first_version_gets_the_new_defaults) {
  tp_runtime_config cfg = TP_RUNTIME_CONFIG_INIT;
  cfg.struct_size = offsetof(tp_runtime_config, device);
  cfg.host_budget = 1 << 20;
  cfg.device = 12345; /* beyond the caller's version: not read */
  cfg.disabled_spaces = 1u << 9;
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(&cfg, &rt), TP_SUCCESS, "%s", tp_last_error());
  tp_memory_figures f = TP_MEMORY_FIGURES_INIT;
  cr_assert_eq(tp_runtime_memory(rt, TP_SPACE_HOST, &f), TP_SUCCESS);
  cr_expect_eq(f.budget_bytes, 1 << 20);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS);
}

/* ---- /proc/meminfo and cgroup parsing, on files of the test's own. */

static char dir[64];

static void write_file(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/tp_meminfo_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  char sub[128];
  snprintf(sub, sizeof sub, "%s/memory", dir);
  mkdir(sub, 0700);
  write_file("meminfo", "MemTotal:        8000000 kB\n"
                        "MemFree:          100000 kB\n"
                        "MemAvailable:    6000000 kB\n");
}

static tp_status info(size_t *free_bytes, size_t *total) {
  char meminfo[128];
  snprintf(meminfo, sizeof meminfo, "%s/meminfo", dir);
  return tp_host_memory_info_from(meminfo, dir, free_bytes, total);
}

Test(memory_info, meminfo_without_a_cgroup_limit) {
  make_dir();
  size_t f, t;
  cr_assert_eq(info(&f, &t), TP_SUCCESS);
  cr_expect_eq(f, (size_t)6000000 * 1024, "MemAvailable, not MemFree");
  cr_expect_eq(t, (size_t)8000000 * 1024);
}

Test(memory_info, cgroup_v2_limit_caps_both_figures) {
  make_dir();
  write_file("memory.max", "2147483648\n");
  write_file("memory.current", "536870912\n");
  size_t f, t;
  cr_assert_eq(info(&f, &t), TP_SUCCESS);
  cr_expect_eq(f, (size_t)1536 << 20);
  cr_expect_eq(t, (size_t)2048 << 20);
}

Test(memory_info, cgroup_v2_max_means_no_limit) {
  make_dir();
  write_file("memory.max", "max\n");
  write_file("memory.current", "536870912\n");
  size_t f, t;
  cr_assert_eq(info(&f, &t), TP_SUCCESS);
  cr_expect_eq(f, (size_t)6000000 * 1024);
}

Test(memory_info, cgroup_v1_limit_and_its_no_limit_value) {
  make_dir();
  write_file("memory/memory.limit_in_bytes", "1073741824\n");
  write_file("memory/memory.usage_in_bytes", "1073741824\n");
  size_t f, t;
  cr_assert_eq(info(&f, &t), TP_SUCCESS);
  cr_expect_eq(f, 0, "usage at the limit leaves nothing");
  cr_expect_eq(t, (size_t)1 << 30);
  write_file("memory/memory.limit_in_bytes", "9223372036854771712\n");
  cr_assert_eq(info(&f, &t), TP_SUCCESS);
  cr_expect_eq(f, (size_t)6000000 * 1024);
}

Test(memory_info, unreadable_or_incomplete_meminfo_is_not_supported) {
  size_t f, t;
  cr_expect_eq(tp_host_memory_info_from("/nonexistent/meminfo", NULL, &f, &t),
               TP_ERR_NOT_SUPPORTED);
  make_dir();
  write_file("meminfo", "MemTotal: 100 kB\n");
  cr_expect_eq(info(&f, &t), TP_ERR_NOT_SUPPORTED);
  cr_expect_not_null(strstr(tp_last_error(), "MemAvailable"));
  cr_expect_eq(tp_host_memory_info(NULL, &t), TP_ERR_INVALID_ARGUMENT);
}

/* A backend hook reporting a failure of earlier queued work. */
static tp_status faulted_kernel(tp_backend *backend, tp_status *out) {
  (void)backend;
  *out = tp_fail(TP_ERR_CUDA, "an illegal address in kernel k");
  return TP_SUCCESS;
}

Test(runtime, async_errors_are_none_at_first_then_the_first_one_stays) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_status async = TP_ERR_INTERNAL;
  cr_assert_eq(tp_runtime_async_error(rt, &async), TP_SUCCESS);
  cr_expect_eq(async, TP_SUCCESS);
  /* Stream-ordered work that failed where no caller could hear of it. */
  tp_fail(TP_ERR_OUT_OF_MEMORY, "upstream refused 4096 bytes");
  tp_runtime_record_async_error(rt, TP_ERR_OUT_OF_MEMORY, "freeing a block");
  tp_fail(TP_ERR_MPI, "later");
  tp_runtime_record_async_error(rt, TP_ERR_MPI, "a second failure");
  tp_fail(TP_ERR_INVALID_ARGUMENT, "an unrelated message");
  for (int k = 0; k < 2; ++k) {
    cr_assert_eq(tp_runtime_async_error(rt, &async), TP_SUCCESS);
    cr_expect_eq(async, TP_ERR_OUT_OF_MEMORY, "the first error, every time");
    cr_expect_not_null(strstr(tp_last_error(), "freeing a block"), "%s",
                       tp_last_error());
    cr_expect_not_null(strstr(tp_last_error(), "refused 4096 bytes"));
  }
  cr_expect_eq(tp_runtime_async_error(NULL, &async), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_runtime_async_error(rt, NULL), TP_ERR_INVALID_ARGUMENT);
  tp_runtime_destroy(rt);
}

/* Code that only inspects a runtime can hold it as const: the read-only
 * queries take const handles. */
static void inspect(const tp_runtime *rt, tp_memory_figures *host,
                    tp_status *async) {
  cr_assert_eq(tp_runtime_memory(rt, TP_SPACE_HOST, host), TP_SUCCESS, "%s",
               tp_last_error());
  cr_assert_eq(tp_runtime_async_error(rt, async), TP_SUCCESS);
}

Test(runtime, read_only_queries_take_const_handles) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_memory_figures host = TP_MEMORY_FIGURES_INIT;
  tp_status async = TP_ERR_INTERNAL;
  inspect(rt, &host, &async);
  cr_expect_gt(host.total_bytes, 0);
  cr_expect_gt(host.budget_bytes, 0);
  cr_expect_eq(async, TP_SUCCESS, "nothing failed yet");
  cr_assert_eq(tp_runtime_destroy(rt), TP_SUCCESS);
}

Test(runtime, a_backend_reports_its_asynchronous_failures) {
  tp_runtime *rt;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  tp_backend *host = tp_runtime_backend(rt, TP_SPACE_HOST);
  host->async_error = faulted_kernel;
  tp_status async = TP_SUCCESS;
  cr_assert_eq(tp_runtime_async_error(rt, &async), TP_SUCCESS);
  cr_expect_eq(async, TP_ERR_CUDA);
  cr_expect_not_null(strstr(tp_last_error(), "illegal address"));
  cr_expect_not_null(strstr(tp_last_error(), "host"), "names the backend");
  host->async_error = NULL;
  cr_assert_eq(tp_runtime_async_error(rt, &async), TP_SUCCESS);
  cr_expect_eq(async, TP_ERR_CUDA, "it stays");
  tp_runtime_destroy(rt);
}
