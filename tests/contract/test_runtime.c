/* tensorpool/runtime.h (and mpi_fint.h) in one process without MPI
 * initialized: ranks, budgets as pool limits, memory figures, lifetimes,
 * and the TP_ERR_NO_DEVICE / TP_ERR_NOT_SUPPORTED rule of status.h for the
 * device spaces on a machine whose runtime has no device. */
#include <pthread.h>

#include "contract.h"

/* Runtimes made here have no device when none is usable; a test about the
 * missing device skips where one is. */
static void require_no_device(tp_runtime *rt) {
  if (tp_runtime_device(rt) >= 0)
    cr_skip_test("this runtime has device %d: the no-device rules do not "
                 "apply",
                 tp_runtime_device(rt));
}

Test(runtime, one_process_without_mpi) {
  tp_runtime *rt = ct_runtime();
  cr_expect_eq(tp_runtime_rank(rt), 0);
  cr_expect_eq(tp_runtime_size(rt), 1);
  cr_expect_eq(tp_runtime_local_rank(rt), 0);
  cr_expect_eq(tp_runtime_local_size(rt), 1);
  cr_expect_eq(tp_runtime_uses_mpi(rt), 0);
  cr_expect_eq(tp_runtime_has_backend(rt, TP_SPACE_HOST), 1);
  int devices = -1;
  ct_ok(tp_device_count(&devices));
  if (devices == 0) {
    cr_expect_eq(tp_runtime_device(rt), -1);
    cr_expect_eq(tp_runtime_has_backend(rt, TP_SPACE_DEVICE), 0);
    cr_expect_eq(tp_runtime_has_backend(rt, TP_SPACE_PINNED), 0);
  }
  tp_status async = TP_ERR_INTERNAL;
  ct_ok(tp_runtime_async_error(rt, &async));
  cr_expect_eq(async, TP_SUCCESS);
  ct_expect_fail(tp_runtime_async_error(rt, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_runtime_async_error(NULL, &async), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_ok(tp_runtime_destroy(rt));
}

/* "For NULL: -1 for the ranks and the device, 0 for the sizes and
 * uses_mpi"; tp_runtime_has_backend: 0. No message is set. */
Test(runtime, accessor_sentinels) {
  tp_set_last_error(TP_ERR_CUDA, "marker");
  cr_expect_eq(tp_runtime_rank(NULL), -1);
  cr_expect_eq(tp_runtime_size(NULL), 0);
  cr_expect_eq(tp_runtime_local_rank(NULL), -1);
  cr_expect_eq(tp_runtime_local_size(NULL), 0);
  cr_expect_eq(tp_runtime_device(NULL), -1);
  cr_expect_eq(tp_runtime_uses_mpi(NULL), 0);
  cr_expect_eq(tp_runtime_has_backend(NULL, TP_SPACE_HOST), 0);
  cr_expect_str_eq(tp_last_error(), "marker");
  ct_ok(tp_runtime_destroy(NULL));
}

Test(runtime, config_is_versioned) {
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.struct_size = 0;
  tp_runtime *rt = (tp_runtime *)0x5;
  ct_expect_fail(tp_runtime_create(&c, &rt), TP_ERR_INVALID_ARGUMENT,
                 "TP_RUNTIME_CONFIG_INIT");
  cr_expect_eq(rt, (tp_runtime *)0x5);
  ct_expect_fail(tp_runtime_create(NULL, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  /* An older config: the fields past its size are not read. */
  c = (tp_runtime_config)TP_RUNTIME_CONFIG_INIT;
  c.struct_size = offsetof(tp_runtime_config, name);
  c.host_budget = 1 << 20;
  c.name = (const char *)0x1;
  c.device = 12345;
  c.disabled_spaces = 0xFFFF;
  ct_ok(tp_runtime_create(&c, &rt));
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, 1 << 20);
  ct_ok(tp_runtime_destroy(rt));
}

/* design.md: outputs are written "only as far as the caller's struct_size
 * reaches". */
Test(runtime, older_output_structs_are_written_as_far_as_they_go) {
  tp_runtime *rt = ct_runtime();
  tp_memory_figures m;
  memset(&m, 0xCD, sizeof m);
  m.struct_size = offsetof(tp_memory_figures, budget_bytes);
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_gt(m.total_bytes, 0);
  const unsigned char *tail = (const unsigned char *)&m.budget_bytes;
  for (size_t i = 0; i < sizeof m - offsetof(tp_memory_figures, budget_bytes);
       i++)
    cr_assert_eq(tail[i], 0xCD, "byte %zu past struct_size written", i);

  tp_layout l = ct_layout(TP_DTYPE_F32, 1, (int64_t)10);
  tp_allocator_choice c;
  memset(&c, 0xCD, sizeof c);
  c.struct_size = offsetof(tp_allocator_choice, space);
  ct_ok(tp_allocator_choose(rt, &l, TP_BUFFER_LOCAL, TP_ACCESS_HOST, &c));
  cr_expect_eq(c.allocator, ct_allocator(rt, TP_BUFFER_LOCAL));
  tail = (const unsigned char *)&c.space;
  for (size_t i = 0; i < sizeof c - offsetof(tp_allocator_choice, space); i++)
    cr_assert_eq(tail[i], 0xCD, "byte %zu past struct_size written", i);
  ct_ok(tp_runtime_destroy(rt));
}

/* "name: prefix of the pools' names; NULL: "tp"". */
Test(runtime, the_name_prefixes_the_pools) {
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.name = "solver";
  tp_runtime *rt = NULL;
  ct_ok(tp_runtime_create(&c, &rt));
  tp_pool *pool = NULL;
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  cr_expect_eq(strncmp(tp_pool_name(pool), "solver", 6), 0, "%s",
               tp_pool_name(pool));
  ct_ok(tp_runtime_destroy(rt));
  rt = ct_runtime();
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  cr_expect_eq(strncmp(tp_pool_name(pool), "tp", 2), 0, "%s",
               tp_pool_name(pool));
  ct_ok(tp_runtime_destroy(rt));
}

/* runtime.h: "The budget is the hard limit of the space's pool";
 * tp_memory_figures: available = min(free, budget - reserved) + cached. */
Test(runtime, budget_is_the_pool_limit_and_the_figures_add_up) {
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.host_budget = 8 << 20;
  tp_runtime *rt = NULL;
  ct_ok(tp_runtime_create(&c, &rt));
  tp_pool *pool = NULL;
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  void *live = NULL, *cached = NULL;
  ct_ok(tp_pool_alloc(pool, 3 << 20, NULL, &live));
  ct_ok(tp_pool_alloc(pool, 1 << 20, NULL, &cached));
  ct_ok(tp_pool_free(pool, cached, NULL));
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  tp_pool_stats s = ct_stats(pool);
  cr_expect_eq(m.budget_bytes, 8 << 20);
  cr_expect_eq(m.reserved_bytes, s.reserved_bytes);
  cr_expect_leq(m.free_bytes, m.total_bytes);
  cr_expect_gt(m.total_bytes, 0);
  size_t left = m.budget_bytes - m.reserved_bytes;
  size_t want = (m.free_bytes < left ? m.free_bytes : left) + s.cached_bytes;
  cr_expect_eq(m.available_bytes, want, "available %zu, wanted %zu",
               m.available_bytes, want);
  /* The pool refuses past the budget. */
  void *p = NULL;
  ct_expect_fail(tp_pool_alloc(pool, 6 << 20, NULL, &p), TP_ERR_OUT_OF_MEMORY,
                 NULL);
  ct_ok(tp_pool_free(pool, live, NULL));
  ct_ok(tp_runtime_destroy(rt));
}

/* "Budget 0 means automatic: the space's free memory at creation divided
 * by the number of ranks on the node sharing it" (one rank here);
 * TP_UNLIMITED means none. */
Test(runtime, automatic_and_unlimited_budgets) {
  tp_runtime *rt = ct_runtime();
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_gt(m.budget_bytes, 0);
  cr_expect_leq(m.budget_bytes, m.total_bytes);
  ct_ok(tp_runtime_destroy(rt));
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.host_budget = TP_UNLIMITED;
  ct_ok(tp_runtime_create(&c, &rt));
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, TP_UNLIMITED);
  cr_expect_leq(m.available_bytes, m.free_bytes);
  ct_ok(tp_runtime_destroy(rt));
}

/* tp_runtime_set_budget: "cached blocks are released to meet it;
 * TP_ERR_OUT_OF_MEMORY, unchanged, if live bytes alone exceed it"; it is
 * "the only way to change that limit": tp_pool_set_limit on a runtime's
 * pool is TP_ERR_NOT_SUPPORTED, naming tp_runtime_set_budget. */
Test(runtime, set_budget_is_the_one_setter) {
  tp_runtime *rt = ct_runtime();
  tp_pool *pool = NULL;
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  void *live = NULL, *cached = NULL;
  ct_ok(tp_pool_alloc(pool, 2 << 20, NULL, &live));
  ct_fill(live, 2 << 20, 1);
  ct_ok(tp_pool_alloc(pool, 1 << 20, NULL, &cached));
  ct_ok(tp_pool_free(pool, cached, NULL));

  ct_ok(tp_runtime_set_budget(rt, TP_SPACE_HOST, (2 << 20) + (512 << 10)));
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, (2 << 20) + (512 << 10));
  cr_expect_leq(m.reserved_bytes, m.budget_bytes, "the cache was not cut");

  ct_expect_fail(tp_runtime_set_budget(rt, TP_SPACE_HOST, 1 << 20),
                 TP_ERR_OUT_OF_MEMORY, NULL);
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, (2 << 20) + (512 << 10), "changed on failure");
  cr_expect(ct_check(live, 2 << 20, 1));

  ct_expect_fail(tp_pool_set_limit(pool, TP_UNLIMITED), TP_ERR_NOT_SUPPORTED,
                 "tp_runtime_set_budget");
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, (2 << 20) + (512 << 10));
  /* 0 is "automatic" in the configuration only; as a budget it would
   * allow nothing. */
  ct_expect_fail(tp_runtime_set_budget(rt, TP_SPACE_HOST, 0),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect_eq(m.budget_bytes, (2 << 20) + (512 << 10));
  ct_expect_fail(tp_runtime_set_budget(NULL, TP_SPACE_HOST, 1),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_pool_free(pool, live, NULL));
  ct_ok(tp_runtime_destroy(rt));
}

/* "tp_runtime_destroy with a live buffer, or with a block still allocated
 * directly from one of its pools, returns TP_ERR_BUSY and frees nothing". */
Test(runtime, destroy_refuses_while_anything_is_live) {
  tp_runtime *rt = ct_runtime();
  tp_allocator *a = ct_allocator(rt, TP_BUFFER_LOCAL);
  tp_layout l = ct_layout(TP_DTYPE_F64, 1, (int64_t)1000);
  tp_buffer *b = NULL;
  ct_ok(
      tp_allocator_construct_value(a, &l, NULL, tp_scalar_real(2.5), NULL, &b));
  ct_expect_fail(tp_runtime_destroy(rt), TP_ERR_BUSY, NULL);
  double v = 0;
  ct_ok(tp_buffer_read(b, 999 * sizeof v, sizeof v, &v));
  cr_expect_eq(v, 2.5, "the buffer did not survive the refused destroy");
  tp_buffer *c = NULL;
  ct_ok(tp_allocator_allocate(a, &l, NULL, NULL, &c)); /* still usable */
  ct_ok(tp_buffer_destroy(c));
  ct_ok(tp_buffer_destroy(b));

  /* An empty tensor holds no memory, but it is a live buffer. */
  tp_layout empty = ct_layout(TP_DTYPE_F64, 1, (int64_t)0);
  ct_ok(tp_allocator_allocate(a, &empty, NULL, NULL, &b));
  ct_expect_fail(tp_runtime_destroy(rt), TP_ERR_BUSY, NULL);
  ct_ok(tp_buffer_destroy(b));

  tp_pool *pool = NULL;
  ct_ok(tp_runtime_pool(rt, TP_SPACE_HOST, &pool));
  void *p = NULL;
  ct_ok(tp_pool_alloc(pool, 100, NULL, &p));
  ct_expect_fail(tp_runtime_destroy(rt), TP_ERR_BUSY, NULL);
  memset(p, 1, 100);
  ct_ok(tp_pool_free(pool, p, NULL));
  ct_ok(tp_runtime_destroy(rt));
}

/* status.h: "TP_ERR_NO_DEVICE ... a runtime whose rank has no device asked
 * for TP_SPACE_DEVICE or TP_SPACE_PINNED" (allocator.h, runtime.h: the
 * same for tp_runtime_allocator, _pool, _memory and _set_budget). */
Test(runtime_no_device, device_spaces_are_no_device) {
  tp_runtime *rt = ct_runtime();
  require_no_device(rt);
  tp_space_kind spaces[2] = {TP_SPACE_DEVICE, TP_SPACE_PINNED};
  for (int i = 0; i < 2; i++) {
    tp_allocator *a = (tp_allocator *)0x5;
    tp_pool *p = (tp_pool *)0x5;
    tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
    ct_expect_fail(tp_runtime_allocator(rt, spaces[i], TP_BUFFER_LOCAL, &a),
                   TP_ERR_NO_DEVICE, NULL);
    ct_expect_fail(tp_runtime_pool(rt, spaces[i], &p), TP_ERR_NO_DEVICE, NULL);
    ct_expect_fail(tp_runtime_memory(rt, spaces[i], &m), TP_ERR_NO_DEVICE,
                   NULL);
    ct_expect_fail(tp_runtime_set_budget(rt, spaces[i], 1 << 20),
                   TP_ERR_NO_DEVICE, NULL);
    cr_expect_eq(a, (tp_allocator *)0x5);
    cr_expect_eq(p, (tp_pool *)0x5);
  }
  ct_ok(tp_runtime_destroy(rt));
}

/* status.h: "Arguments are checked first, in every build: bad input is
 * TP_ERR_INVALID_ARGUMENT whether or not there is a device." */
Test(runtime_no_device, arguments_before_the_device) {
  tp_runtime *rt = ct_runtime();
  require_no_device(rt);
  tp_allocator *a;
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_expect_fail(tp_runtime_allocator(rt, TP_SPACE_DEVICE,
                                      (tp_buffer_kind)TP_BUFFER_KIND_COUNT, &a),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, NULL),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_runtime_pool(rt, TP_SPACE_DEVICE, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_runtime_memory(rt, TP_SPACE_DEVICE, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  m.struct_size = 0;
  ct_expect_fail(tp_runtime_memory(rt, TP_SPACE_DEVICE, &m),
                 TP_ERR_INVALID_ARGUMENT, "TP_MEMORY_FIGURES_INIT");
  ct_expect_fail(tp_runtime_memory(rt, (tp_space_kind)42, &m),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(
      tp_runtime_allocator(rt, (tp_space_kind)42, TP_BUFFER_LOCAL, &a),
      TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_runtime_destroy(rt));
}

/* "tp_runtime_config.device: ... An id the machine does not have:
 * TP_ERR_NO_DEVICE." */
Test(runtime_no_device, a_configured_device_the_machine_lacks) {
  int n = 0;
  ct_ok(tp_device_count(&n));
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.device = n; /* one past the last */
  tp_runtime *rt = (tp_runtime *)0x5;
  ct_expect_fail(tp_runtime_create(&c, &rt), TP_ERR_NO_DEVICE, NULL);
  cr_expect_eq(rt, (tp_runtime *)0x5);
  c.device = n + 100;
  ct_expect_fail(tp_runtime_create(&c, &rt), TP_ERR_NO_DEVICE, NULL);
}

/* "a space the runtime's configuration disabled (disabled_spaces; the same
 * status with and without a GPU)" is TP_ERR_NOT_SUPPORTED; the one not
 * disabled stays TP_ERR_NO_DEVICE without a device. */
Test(runtime_no_device, disabled_spaces_are_not_supported_everywhere) {
  tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
  c.disabled_spaces = TP_SPACE_BIT(TP_SPACE_DEVICE);
  tp_runtime *rt = NULL;
  ct_ok(tp_runtime_create(&c, &rt));
  tp_allocator *a;
  tp_pool *p;
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_expect_fail(tp_runtime_allocator(rt, TP_SPACE_DEVICE, TP_BUFFER_LOCAL, &a),
                 TP_ERR_NOT_SUPPORTED, NULL);
  ct_expect_fail(tp_runtime_pool(rt, TP_SPACE_DEVICE, &p), TP_ERR_NOT_SUPPORTED,
                 NULL);
  ct_expect_fail(tp_runtime_memory(rt, TP_SPACE_DEVICE, &m),
                 TP_ERR_NOT_SUPPORTED, NULL);
  ct_expect_fail(tp_runtime_set_budget(rt, TP_SPACE_DEVICE, 1),
                 TP_ERR_NOT_SUPPORTED, NULL);
  cr_expect_eq(tp_runtime_has_backend(rt, TP_SPACE_DEVICE), 0);
  if (tp_runtime_device(rt) < 0)
    ct_expect_fail(
        tp_runtime_allocator(rt, TP_SPACE_PINNED, TP_BUFFER_LOCAL, &a),
        TP_ERR_NO_DEVICE, NULL);
  /* The automatic choice never picks a disabled space. */
  tp_layout big = ct_layout(TP_DTYPE_F64, 1, (int64_t)1 << 20);
  tp_allocator_choice ch = TP_ALLOCATOR_CHOICE_INIT;
  ct_ok(tp_allocator_choose(rt, &big, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &ch));
  cr_expect_neq(ch.space, TP_SPACE_DEVICE);
  ct_ok(tp_runtime_destroy(rt));

  /* "the host cannot be disabled". */
  c.disabled_spaces = TP_SPACE_BIT(TP_SPACE_HOST);
  rt = (tp_runtime *)0x5;
  ct_expect_fail(tp_runtime_create(&c, &rt), TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(rt, (tp_runtime *)0x5);
}

/* runtime.h: tp_host_memory_info from /proc/meminfo (capped by cgroups). */
Test(runtime, host_memory_info) {
  size_t free_b = 0, total = 0;
  ct_ok(tp_host_memory_info(&free_b, &total));
  cr_expect_gt(total, 0);
  cr_expect_gt(free_b, 0);
  cr_expect_leq(free_b, total);
  ct_expect_fail(tp_host_memory_info(NULL, &total), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_host_memory_info(&free_b, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
}

/* mpi_fint.h: tp_runtime_comm_fint is "TP_ERR_NOT_SUPPORTED in a build
 * without MPI or for a runtime without a communicator (a single process)";
 * tp_runtime_create_mpi_fint checks its arguments first. */
Test(runtime, fortran_handles_of_a_single_process) {
  tp_runtime *rt = ct_runtime();
  int comm = 12345;
  ct_expect_fail(tp_runtime_comm_fint(rt, &comm), TP_ERR_NOT_SUPPORTED, NULL);
  cr_expect_eq(comm, 12345);
  ct_expect_fail(tp_runtime_comm_fint(rt, NULL), TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_runtime_comm_fint(NULL, &comm), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_runtime_create_mpi_fint(0, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_ok(tp_runtime_destroy(rt));
}

typedef struct budget_race {
  tp_runtime *rt;
  size_t value;
  int bad;
} budget_race;

static void *set_budgets(void *arg) {
  budget_race *r = arg;
  for (int i = 0; i < 2000; i++)
    if (tp_runtime_set_budget(r->rt, TP_SPACE_HOST, r->value) != TP_SUCCESS)
      r->bad++;
  return NULL;
}

/* tp_runtime_set_budget: "concurrent calls, and readers (tp_runtime_memory,
 * tp_allocator_choose), see one whole budget at a time, equal to the pool's
 * limit". */
Test(runtime, concurrent_budgets_are_whole) {
  tp_runtime *rt = ct_runtime();
  budget_race a = {rt, (size_t)3 << 30, 0}, b = {rt, (size_t)5 << 20, 0};
  ct_ok(tp_runtime_set_budget(rt, TP_SPACE_HOST, a.value));
  pthread_t ta, tb;
  pthread_create(&ta, NULL, set_budgets, &a);
  pthread_create(&tb, NULL, set_budgets, &b);
  int odd = 0;
  for (int i = 0; i < 2000; i++) {
    tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
    if (tp_runtime_memory(rt, TP_SPACE_HOST, &m) != TP_SUCCESS)
      odd++;
    else if (m.budget_bytes != a.value && m.budget_bytes != b.value)
      odd++;
  }
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  cr_expect_eq(a.bad + b.bad, 0);
  cr_expect_eq(odd, 0, "%d readings were not one of the two budgets", odd);
  tp_memory_figures m = TP_MEMORY_FIGURES_INIT;
  ct_ok(tp_runtime_memory(rt, TP_SPACE_HOST, &m));
  cr_expect(m.budget_bytes == a.value || m.budget_bytes == b.value);
  ct_ok(tp_runtime_destroy(rt));
}
