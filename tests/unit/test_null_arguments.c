/* Every public function, called with each of its pointer arguments NULL
 * (the others valid): TP_ERR_INVALID_ARGUMENT with a message that names the
 * function, and no side effect (no out-pointer written, nothing allocated,
 * no callback run). Destroys accept NULL and succeed; pure accessors given
 * NULL return the sentinels their headers name. One table per header. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tensorpool/allocator.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"
#include "tensorpool/mpi_fint.h"
#include "tensorpool/ops.h"
#include "tensorpool/pool.h"
#include "tensorpool/raw_allocator.h"
#include "tensorpool/runtime.h"
#include "tensorpool/status.h"
#include "tensorpool/version.h"
#if TP_HAVE_MPI
#include "tensorpool/mpi.h"
#endif

/* Valid arguments. */
static tp_runtime *rt;
static tp_pool *pool;
static tp_allocator *local, *dist;
static tp_layout layout;
static tp_tiling *tiling;
static tp_buffer *buffer, *other;
static tp_generator gen;
static tp_tile tile;
static void *block;
static tp_raw_allocator raw;
static int64_t rows[1] = {4};
static double element;
static tp_buffer *null_buffer; /* a handle holding NULL */

/* Out-pointers: sentinels that no call may overwrite. */
#define POISON ((void *)0x5A5A)
static tp_pool *out_pool;
static tp_tiling *out_tiling;
static tp_buffer *out_buffer;
static tp_allocator *out_allocator;
static tp_runtime *out_runtime;
static tp_space *out_space;
static tp_stream out_stream;
static void *out_ptr;
/* Structs a refused call must not write either (a marker field each). */
static tp_pool_stats out_stats;
static tp_allocator_choice out_choice;
static tp_memory_figures out_figures;
static tp_layout out_layout;
static tp_status out_status;
static int out_ints[3]; /* version numbers, a communicator handle */

static int callbacks_run;

static int fill(void *user, const tp_layout *l, const tp_tile *t, void *data,
                tp_stream s) {
  (void)user, (void)l, (void)t, (void)data, (void)s;
  callbacks_run++;
  return 0;
}
static int deleter(void *user, void *data, tp_stream s) {
  (void)user, (void)data, (void)s;
  callbacks_run++;
  return 0;
}
static void print(void *user, const char *line) {
  (void)user, (void)line;
  callbacks_run++;
}

static void poison(void) {
  out_pool = POISON;
  out_tiling = POISON;
  out_buffer = POISON;
  out_allocator = POISON;
  out_runtime = POISON;
  out_space = POISON;
  out_stream = POISON;
  out_ptr = POISON;
  out_stats = (tp_pool_stats)TP_POOL_STATS_INIT;
  out_stats.allocations = 0x5A5A;
  out_choice = (tp_allocator_choice)TP_ALLOCATOR_CHOICE_INIT;
  out_choice.allocator = POISON;
  out_figures = (tp_memory_figures)TP_MEMORY_FIGURES_INIT;
  out_figures.free_bytes = 0x5A5A;
  out_layout.ndim = 0x5A5A;
  out_status = (tp_status)0x5A5A;
  for (int i = 0; i < 3; ++i)
    out_ints[i] = 0x5A5A;
}

/* Untouched, or (pool.h's documented behaviour for its outputs) cleared
 * to NULL. */
static int kept(const void *p) {
  return p == POISON || p == NULL;
}

static int untouched(void) {
  return kept(out_pool) && out_tiling == POISON && out_buffer == POISON &&
         out_allocator == POISON && out_runtime == POISON &&
         out_space == POISON && out_stream == POISON && kept(out_ptr) &&
         out_stats.allocations == 0x5A5A && out_choice.allocator == POISON &&
         out_figures.free_bytes == 0x5A5A && out_layout.ndim == 0x5A5A &&
         out_status == (tp_status)0x5A5A && out_ints[0] == 0x5A5A &&
         out_ints[1] == 0x5A5A && out_ints[2] == 0x5A5A;
}

static void setup(void) {
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS);
  cr_assert_eq(tp_runtime_pool(rt, TP_SPACE_HOST, &pool), TP_SUCCESS);
  cr_assert_eq(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &local),
               TP_SUCCESS);
  cr_assert_eq(
      tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_DISTRIBUTED, &dist),
      TP_SUCCESS);
  int64_t ext[2] = {4, 3};
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, ext, &layout), TP_SUCCESS);
  cr_assert_eq(tp_tiling_create_block(&layout, 1, &tiling), TP_SUCCESS);
  gen = tp_generator_arange(0, 1);
  cr_assert_eq(tp_allocator_construct_generator(local, &layout, NULL, &gen,
                                                NULL, &buffer),
               TP_SUCCESS);
  cr_assert_eq(tp_allocator_construct_value(local, &layout, NULL,
                                            tp_scalar_real(1), NULL, &other),
               TP_SUCCESS);
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  cr_assert_eq(tp_pool_alloc(pool, 64, NULL, &block), TP_SUCCESS);
  raw = (tp_raw_allocator)TP_RAW_ALLOCATOR_INIT;
  cr_assert_eq(tp_pool_raw_allocator(pool, &raw), TP_SUCCESS);
  callbacks_run = 0;
}

static void teardown(void) {
  tp_pool_free(pool, block, NULL);
  tp_buffer_destroy(buffer);
  tp_buffer_destroy(other);
  tp_tiling_destroy(tiling);
  cr_expect_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}

TestSuite(null_arguments, .init = setup, .fini = teardown);

typedef struct refusal {
  const char *call; /* "function(argument=NULL)" */
  tp_status (*run)(void);
} refusal;

#define CASE(id, expr)                                                         \
  static tp_status id(void) {                                                  \
    return expr;                                                               \
  }

/* status.h, space.h: nothing takes a pointer that may be NULL. */

/* pool.h */
CASE(pool_create_space, tp_pool_create(NULL, NULL, &out_pool))
CASE(pool_create_out, tp_pool_create(tp_host_space(), NULL, NULL))
CASE(pool_alloc_pool, tp_pool_alloc(NULL, 64, NULL, &out_ptr))
CASE(pool_alloc_out, tp_pool_alloc(pool, 64, NULL, NULL))
CASE(pool_free_pool, tp_pool_free(NULL, block, NULL))
CASE(pool_forget_pool, tp_pool_forget_stream(NULL, NULL))
CASE(pool_trim_pool, tp_pool_trim(NULL, 0))
CASE(pool_limit_pool, tp_pool_set_limit(NULL, 1 << 20))
CASE(pool_block_size_pool, tp_pool_block_size(NULL, block, (size_t *)&out_ptr))
CASE(pool_block_size_out, tp_pool_block_size(pool, block, NULL))
CASE(pool_class_size_pool, tp_pool_class_size(NULL, 64, (size_t *)&out_ptr))
CASE(pool_class_size_out, tp_pool_class_size(pool, 64, NULL))
CASE(pool_stats_pool, tp_pool_get_stats(NULL, &out_stats))
CASE(pool_stats_out, tp_pool_get_stats(pool, NULL))
CASE(pool_reset_pool, tp_pool_reset_peaks(NULL))
CASE(pool_print_pool, tp_pool_print_stats(NULL, print, NULL))
CASE(pool_print_fn, tp_pool_print_stats(pool, NULL, NULL))
CASE(pool_raw_pool, tp_pool_raw_allocator(NULL, &raw))
CASE(pool_raw_out, tp_pool_raw_allocator(pool, NULL))

/* raw_allocator.h */
CASE(raw_alloc_table, tp_raw_alloc(NULL, 64, 0, NULL, &out_ptr))
CASE(raw_alloc_out, tp_raw_alloc(&raw, 64, 0, NULL, NULL))
CASE(raw_free_table, tp_raw_free(NULL, block, 64, NULL))

/* runtime.h */
CASE(runtime_create_out, tp_runtime_create(NULL, NULL))
CASE(runtime_memory_rt, tp_runtime_memory(NULL, TP_SPACE_HOST, &out_figures))
CASE(runtime_memory_out, tp_runtime_memory(rt, TP_SPACE_HOST, NULL))
CASE(runtime_budget_rt, tp_runtime_set_budget(NULL, TP_SPACE_HOST, 1 << 30))
CASE(runtime_pool_rt, tp_runtime_pool(NULL, TP_SPACE_HOST, &out_pool))
CASE(runtime_pool_out, tp_runtime_pool(rt, TP_SPACE_HOST, NULL))
CASE(runtime_async_rt, tp_runtime_async_error(NULL, &out_status))
CASE(runtime_async_out, tp_runtime_async_error(rt, NULL))
CASE(host_memory_free, tp_host_memory_info(NULL, (size_t *)&out_ptr))
CASE(host_memory_total, tp_host_memory_info((size_t *)&out_ptr, NULL))

/* layout.h */
CASE(scalar_store_dst, tp_scalar_store(tp_scalar_real(1), TP_DTYPE_F64, NULL))
CASE(layout_make_out, tp_layout_make(TP_DTYPE_F64, 1, rows, NULL))
CASE(layout_make_extents, tp_layout_make(TP_DTYPE_F64, 1, NULL, &out_layout))
CASE(layout_count_layout, tp_layout_count(NULL, (size_t *)&out_ptr))
CASE(layout_count_out, tp_layout_count(&layout, NULL))
CASE(layout_bytes_layout, tp_layout_bytes(NULL, (size_t *)&out_ptr))
CASE(layout_bytes_out, tp_layout_bytes(&layout, NULL))
CASE(layout_equal_a, tp_layout_equal(NULL, &layout, (int *)&out_ptr))
CASE(layout_equal_b, tp_layout_equal(&layout, NULL, (int *)&out_ptr))
CASE(layout_equal_out, tp_layout_equal(&layout, &layout, NULL))
CASE(whole_tile_layout, tp_layout_whole_tile(NULL, &tile))
CASE(whole_tile_out, tp_layout_whole_tile(&layout, NULL))
CASE(block_layout, tp_tiling_create_block(NULL, 1, &out_tiling))
CASE(block_out, tp_tiling_create_block(&layout, 1, NULL))
CASE(tiling_layout, tp_tiling_create(NULL, 1, rows, &out_tiling))
CASE(tiling_rows, tp_tiling_create(&layout, 1, NULL, &out_tiling))
CASE(tiling_out, tp_tiling_create(&layout, 1, rows, NULL))
CASE(clone_tiling, tp_tiling_clone(NULL, &out_tiling))
CASE(clone_out, tp_tiling_clone(tiling, NULL))
CASE(tile_tiling, tp_tiling_tile(NULL, 0, &tile))
CASE(tile_out, tp_tiling_tile(tiling, 0, NULL))
CASE(rows_tiling, tp_tiling_rows(NULL, 0, rows, rows))
CASE(rows_first, tp_tiling_rows(tiling, 0, NULL, rows))
CASE(rows_count, tp_tiling_rows(tiling, 0, rows, NULL))
CASE(tiling_equal_a, tp_tiling_equal(NULL, tiling, (int *)&out_ptr))
CASE(tiling_equal_b, tp_tiling_equal(tiling, NULL, (int *)&out_ptr))
CASE(tiling_equal_out, tp_tiling_equal(tiling, tiling, NULL))

/* generator.h */
CASE(check_generator, tp_generator_check(NULL, &layout))
CASE(check_layout, tp_generator_check(&gen, NULL))

/* buffer.h */
CASE(set_stream_buffer, tp_buffer_set_stream(NULL, NULL))
CASE(record_stream_buffer, tp_buffer_record_stream(NULL, NULL))
static char host_bytes[8];
CASE(read_buffer, tp_buffer_read(NULL, 0, 8, host_bytes))
CASE(read_dst, tp_buffer_read(buffer, 0, 8, NULL))
CASE(write_buffer, tp_buffer_write(NULL, 0, 8, host_bytes))
CASE(write_src, tp_buffer_write(buffer, 0, 8, NULL))
CASE(synchronize_buffer, tp_buffer_synchronize(NULL))
CASE(tile_of_buffer, tp_buffer_tile_of(NULL, 0, &tile))
CASE(tile_of_out, tp_buffer_tile_of(buffer, 0, NULL))

/* allocator.h */
CASE(runtime_allocator_rt,
     tp_runtime_allocator(NULL, TP_SPACE_HOST, TP_BUFFER_LOCAL, &out_allocator))
CASE(runtime_allocator_out,
     tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, NULL))
CASE(rebind_allocator,
     tp_allocator_rebind(NULL, TP_BUFFER_LOCAL, &out_allocator))
CASE(rebind_out, tp_allocator_rebind(local, TP_BUFFER_REPLICATED, NULL))
CASE(choose_rt, tp_allocator_choose(NULL, &layout, TP_BUFFER_LOCAL,
                                    TP_ACCESS_ANY, &out_choice))
CASE(choose_layout,
     tp_allocator_choose(rt, NULL, TP_BUFFER_LOCAL, TP_ACCESS_ANY, &out_choice))
CASE(choose_out,
     tp_allocator_choose(rt, &layout, TP_BUFFER_LOCAL, TP_ACCESS_ANY, NULL))
CASE(allocate_allocator,
     tp_allocator_allocate(NULL, &layout, NULL, NULL, &out_buffer))
CASE(allocate_layout,
     tp_allocator_allocate(local, NULL, NULL, NULL, &out_buffer))
CASE(allocate_out, tp_allocator_allocate(local, &layout, NULL, NULL, NULL))
CASE(value_allocator,
     tp_allocator_construct_value(NULL, &layout, NULL, tp_scalar_real(1), NULL,
                                  &out_buffer))
CASE(value_layout,
     tp_allocator_construct_value(local, NULL, NULL, tp_scalar_real(1), NULL,
                                  &out_buffer))
CASE(value_out, tp_allocator_construct_value(local, &layout, NULL,
                                             tp_scalar_real(1), NULL, NULL))
CASE(generator_allocator,
     tp_allocator_construct_generator(NULL, &layout, NULL, &gen, NULL,
                                      &out_buffer))
CASE(generator_layout, tp_allocator_construct_generator(local, NULL, NULL, &gen,
                                                        NULL, &out_buffer))
CASE(generator_generator,
     tp_allocator_construct_generator(local, &layout, NULL, NULL, NULL,
                                      &out_buffer))
CASE(generator_out,
     tp_allocator_construct_generator(local, &layout, NULL, &gen, NULL, NULL))
CASE(tiles_allocator, tp_allocator_construct_tiles(NULL, &layout, NULL, fill,
                                                   NULL, NULL, &out_buffer))
CASE(tiles_layout, tp_allocator_construct_tiles(local, NULL, NULL, fill, NULL,
                                                NULL, &out_buffer))
CASE(tiles_fill, tp_allocator_construct_tiles(local, &layout, NULL, NULL, NULL,
                                              NULL, &out_buffer))
CASE(tiles_out, tp_allocator_construct_tiles(dist, &layout, tiling, fill, NULL,
                                             NULL, NULL))
CASE(copy_allocator,
     tp_allocator_construct_copy(NULL, buffer, NULL, NULL, &out_buffer))
CASE(copy_source,
     tp_allocator_construct_copy(local, NULL, NULL, NULL, &out_buffer))
CASE(copy_out, tp_allocator_construct_copy(local, buffer, NULL, NULL, NULL))
CASE(move_allocator,
     tp_allocator_construct_move(NULL, &buffer, NULL, NULL, &out_buffer))
CASE(move_handle,
     tp_allocator_construct_move(local, NULL, NULL, NULL, &out_buffer))
CASE(move_source,
     tp_allocator_construct_move(local, &null_buffer, NULL, NULL, &out_buffer))
CASE(move_out, tp_allocator_construct_move(local, &buffer, NULL, NULL, NULL))
CASE(wrap_allocator, tp_allocator_wrap(NULL, &layout, NULL, &element, deleter,
                                       NULL, NULL, &out_buffer))
CASE(wrap_layout, tp_allocator_wrap(local, NULL, NULL, &element, deleter, NULL,
                                    NULL, &out_buffer))
CASE(wrap_out, tp_allocator_wrap(local, &layout, NULL, &element, deleter, NULL,
                                 NULL, NULL))

/* ops.h */
CASE(clone_buffer, tp_buffer_clone(NULL, NULL, &out_buffer))
CASE(clone_buffer_out, tp_buffer_clone(buffer, NULL, NULL))
CASE(axpby_x, tp_axpby(tp_scalar_real(1), NULL, tp_scalar_real(1), other, NULL,
                       &out_buffer))
CASE(axpby_y, tp_axpby(tp_scalar_real(1), buffer, tp_scalar_real(1), NULL, NULL,
                       &out_buffer))
CASE(axpby_out,
     tp_axpby(tp_scalar_real(1), buffer, tp_scalar_real(1), other, NULL, NULL))
CASE(result_x, tp_result_allocator(NULL, other, &out_allocator))
CASE(result_y, tp_result_allocator(buffer, NULL, &out_allocator))
CASE(result_out, tp_result_allocator(buffer, other, NULL))

/* device.h and device_fill.h: arguments are checked before the device is
 * (docs: the same status with and without a GPU). */
CASE(device_count_out, tp_device_count(NULL))
CASE(device_memory_free, tp_device_memory_info(0, NULL, (size_t *)&out_ptr))
CASE(device_memory_total, tp_device_memory_info(0, (size_t *)&out_ptr, NULL))
CASE(device_space_out, tp_device_space_create(0, NULL, NULL))
CASE(pinned_space_out, tp_pinned_space_create(0, NULL))
CASE(device_pool_out, tp_device_pool(0, NULL))
CASE(pinned_pool_out, tp_pinned_pool(0, NULL))
CASE(device_stream_out, tp_device_stream_create(0, NULL))
CASE(memcpy_dst, tp_device_memcpy(0, NULL, &element, 8, NULL))
CASE(memcpy_src, tp_device_memcpy(0, &element, NULL, 8, NULL))
CASE(fill_constant_dst,
     tp_device_fill_constant(0, NULL, TP_DTYPE_F64, 4, &element, NULL))
CASE(fill_constant_value,
     tp_device_fill_constant(0, &element, TP_DTYPE_F64, 1, NULL, NULL))
CASE(fill_generator_dst,
     tp_device_fill_generator(0, NULL, &layout, &tile, &gen, NULL))
CASE(fill_generator_layout,
     tp_device_fill_generator(0, &element, NULL, &tile, &gen, NULL))
CASE(fill_generator_tile,
     tp_device_fill_generator(0, &element, &layout, NULL, &gen, NULL))
CASE(fill_generator_gen,
     tp_device_fill_generator(0, &element, &layout, &tile, NULL, NULL))
CASE(fill_expression_dst,
     tp_device_fill_expression(0, NULL, &layout, &tile, "i0", NULL))
CASE(fill_expression_layout,
     tp_device_fill_expression(0, &element, NULL, &tile, "i0", NULL))
CASE(fill_expression_tile,
     tp_device_fill_expression(0, &element, &layout, NULL, "i0", NULL))
CASE(fill_expression_text,
     tp_device_fill_expression(0, &element, &layout, &tile, NULL, NULL))
CASE(compile_text, tp_device_expression_compile(NULL, TP_DTYPE_F64, 1))
CASE(cache_stats_out, tp_device_expression_cache_stats(NULL))

/* version.h */
CASE(version_major, tp_get_version(NULL, &out_ints[1], &out_ints[2]))
CASE(version_minor, tp_get_version(&out_ints[0], NULL, &out_ints[2]))
CASE(version_patch, tp_get_version(&out_ints[0], &out_ints[1], NULL))

/* mpi_fint.h (every build) and mpi.h */
CASE(runtime_fint_out, tp_runtime_create_mpi_fint(0, NULL, NULL))
CASE(comm_fint_runtime, tp_runtime_comm_fint(NULL, &out_ints[0]))
CASE(comm_fint_out, tp_runtime_comm_fint(rt, NULL))
#if TP_HAVE_MPI
CASE(runtime_mpi_out, tp_runtime_create_mpi(MPI_COMM_SELF, NULL, NULL))
#endif

static const refusal refusals[] = {
    {"tp_pool_create", pool_create_space},
    {"tp_pool_create", pool_create_out},
    {"tp_pool_alloc", pool_alloc_pool},
    {"tp_pool_alloc", pool_alloc_out},
    {"tp_pool_free", pool_free_pool},
    {"tp_pool_forget_stream", pool_forget_pool},
    {"tp_pool_trim", pool_trim_pool},
    {"tp_pool_set_limit", pool_limit_pool},
    {"tp_pool_block_size", pool_block_size_pool},
    {"tp_pool_block_size", pool_block_size_out},
    {"tp_pool_class_size", pool_class_size_pool},
    {"tp_pool_class_size", pool_class_size_out},
    {"tp_pool_get_stats", pool_stats_pool},
    {"tp_pool_get_stats", pool_stats_out},
    {"tp_pool_reset_peaks", pool_reset_pool},
    {"tp_pool_print_stats", pool_print_pool},
    {"tp_pool_print_stats", pool_print_fn},
    {"tp_pool_raw_allocator", pool_raw_pool},
    {"tp_pool_raw_allocator", pool_raw_out},
    {"tp_raw_alloc", raw_alloc_table},
    {"tp_raw_alloc", raw_alloc_out},
    {"tp_raw_free", raw_free_table},
    {"tp_runtime_create", runtime_create_out},
    {"tp_runtime_memory", runtime_memory_rt},
    {"tp_runtime_memory", runtime_memory_out},
    {"tp_runtime_set_budget", runtime_budget_rt},
    {"tp_runtime_pool", runtime_pool_rt},
    {"tp_runtime_pool", runtime_pool_out},
    {"tp_runtime_async_error", runtime_async_rt},
    {"tp_runtime_async_error", runtime_async_out},
    {"tp_host_memory_info", host_memory_free},
    {"tp_host_memory_info", host_memory_total},
    {"tp_scalar_store", scalar_store_dst},
    {"tp_layout_make", layout_make_out},
    {"tp_layout_make", layout_make_extents},
    {"tp_layout_count", layout_count_layout},
    {"tp_layout_count", layout_count_out},
    {"tp_layout_bytes", layout_bytes_layout},
    {"tp_layout_bytes", layout_bytes_out},
    {"tp_layout_equal", layout_equal_a},
    {"tp_layout_equal", layout_equal_b},
    {"tp_layout_equal", layout_equal_out},
    {"tp_layout_whole_tile", whole_tile_layout},
    {"tp_layout_whole_tile", whole_tile_out},
    {"tp_tiling_create_block", block_layout},
    {"tp_tiling_create_block", block_out},
    {"tp_tiling_create", tiling_layout},
    {"tp_tiling_create", tiling_rows},
    {"tp_tiling_create", tiling_out},
    {"tp_tiling_clone", clone_tiling},
    {"tp_tiling_clone", clone_out},
    {"tp_tiling_tile", tile_tiling},
    {"tp_tiling_tile", tile_out},
    {"tp_tiling_rows", rows_tiling},
    {"tp_tiling_rows", rows_first},
    {"tp_tiling_rows", rows_count},
    {"tp_tiling_equal", tiling_equal_a},
    {"tp_tiling_equal", tiling_equal_b},
    {"tp_tiling_equal", tiling_equal_out},
    {"tp_generator_check", check_generator},
    {"tp_generator_check", check_layout},
    {"tp_buffer_set_stream", set_stream_buffer},
    {"tp_buffer_record_stream", record_stream_buffer},
    {"tp_buffer_read", read_buffer},
    {"tp_buffer_read", read_dst},
    {"tp_buffer_write", write_buffer},
    {"tp_buffer_write", write_src},
    {"tp_buffer_synchronize", synchronize_buffer},
    {"tp_buffer_tile_of", tile_of_buffer},
    {"tp_buffer_tile_of", tile_of_out},
    {"tp_runtime_allocator", runtime_allocator_rt},
    {"tp_runtime_allocator", runtime_allocator_out},
    {"tp_allocator_rebind", rebind_allocator},
    {"tp_allocator_rebind", rebind_out},
    {"tp_allocator_choose", choose_rt},
    {"tp_allocator_choose", choose_layout},
    {"tp_allocator_choose", choose_out},
    {"tp_allocator_allocate", allocate_allocator},
    {"tp_allocator_allocate", allocate_layout},
    {"tp_allocator_allocate", allocate_out},
    {"tp_allocator_construct_value", value_allocator},
    {"tp_allocator_construct_value", value_layout},
    {"tp_allocator_construct_value", value_out},
    {"tp_allocator_construct_generator", generator_allocator},
    {"tp_allocator_construct_generator", generator_layout},
    {"tp_allocator_construct_generator", generator_generator},
    {"tp_allocator_construct_generator", generator_out},
    {"tp_allocator_construct_tiles", tiles_allocator},
    {"tp_allocator_construct_tiles", tiles_layout},
    {"tp_allocator_construct_tiles", tiles_fill},
    {"tp_allocator_construct_tiles", tiles_out},
    {"tp_allocator_construct_copy", copy_allocator},
    {"tp_allocator_construct_copy", copy_source},
    {"tp_allocator_construct_copy", copy_out},
    {"tp_allocator_construct_move", move_allocator},
    {"tp_allocator_construct_move", move_handle},
    {"tp_allocator_construct_move", move_source},
    {"tp_allocator_construct_move", move_out},
    {"tp_allocator_wrap", wrap_allocator},
    {"tp_allocator_wrap", wrap_layout},
    {"tp_allocator_wrap", wrap_out},
    {"tp_buffer_clone", clone_buffer},
    {"tp_buffer_clone", clone_buffer_out},
    {"tp_axpby", axpby_x},
    {"tp_axpby", axpby_y},
    {"tp_axpby", axpby_out},
    {"tp_result_allocator", result_x},
    {"tp_result_allocator", result_y},
    {"tp_result_allocator", result_out},
    {"tp_device_count", device_count_out},
    {"tp_device_memory_info", device_memory_free},
    {"tp_device_memory_info", device_memory_total},
    {"tp_device_space_create", device_space_out},
    {"tp_pinned_space_create", pinned_space_out},
    {"tp_device_pool", device_pool_out},
    {"tp_pinned_pool", pinned_pool_out},
    {"tp_device_stream_create", device_stream_out},
    {"tp_device_memcpy", memcpy_dst},
    {"tp_device_memcpy", memcpy_src},
    {"tp_device_fill_constant", fill_constant_dst},
    {"tp_device_fill_constant", fill_constant_value},
    {"tp_device_fill_generator", fill_generator_dst},
    {"tp_device_fill_generator", fill_generator_layout},
    {"tp_device_fill_generator", fill_generator_tile},
    {"tp_device_fill_generator", fill_generator_gen},
    {"tp_device_fill_expression", fill_expression_dst},
    {"tp_device_fill_expression", fill_expression_layout},
    {"tp_device_fill_expression", fill_expression_tile},
    {"tp_device_fill_expression", fill_expression_text},
    {"tp_device_expression_compile", compile_text},
    {"tp_device_expression_cache_stats", cache_stats_out},
    {"tp_get_version", version_major},
    {"tp_get_version", version_minor},
    {"tp_get_version", version_patch},
    {"tp_runtime_create_mpi_fint", runtime_fint_out},
    {"tp_runtime_comm_fint", comm_fint_runtime},
    {"tp_runtime_comm_fint", comm_fint_out},
#if TP_HAVE_MPI
    /* The shared creation path names the call the user made. */
    {"tp_runtime_create_mpi", runtime_mpi_out},
#endif
};

#define REFUSAL_COUNT (sizeof refusals / sizeof refusals[0])

static uint64_t pool_calls(void) {
  tp_pool_stats s = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &s), TP_SUCCESS);
  return s.allocations + s.deallocations + s.failures;
}

Test(null_arguments, each_null_argument_is_refused_before_any_side_effect) {
  tp_pool_stats before = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &before), TP_SUCCESS);
  tp_buffer *buffer_before = buffer;
  for (size_t i = 0; i < REFUSAL_COUNT; ++i) {
    const refusal *r = &refusals[i];
    poison();
    tp_set_last_error(TP_SUCCESS, "%s", "");
    uint64_t calls = pool_calls();
    tp_status st = r->run();
    cr_expect_eq(st, TP_ERR_INVALID_ARGUMENT, "case %zu, %s: %s (%s)", i,
                 r->call, tp_status_name(st), tp_last_error());
    cr_expect_not_null(strstr(tp_last_error(), r->call),
                       "case %zu: the message names %s: \"%s\"", i, r->call,
                       tp_last_error());
    cr_expect(untouched(), "case %zu, %s wrote an out-pointer", i, r->call);
    /* A refused call may not even reach the pool (its failure counter
     * included). */
    cr_expect_eq(pool_calls(), calls, "case %zu, %s called the pool", i,
                 r->call);
  }
  tp_pool_stats after = TP_POOL_STATS_INIT;
  cr_assert_eq(tp_pool_get_stats(pool, &after), TP_SUCCESS);
  cr_expect_eq(after.live_blocks, before.live_blocks, "nothing allocated");
  cr_expect_eq(callbacks_run, 0, "no callback ran");
  cr_expect_eq(buffer, buffer_before, "a refused move keeps its source");
  cr_expect_not_null(tp_buffer_data(buffer));
}

Test(null_arguments, destroying_null_succeeds_everywhere) {
  cr_expect_eq(tp_pool_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_runtime_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_tiling_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_buffer_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_device_space_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_pinned_space_destroy(NULL), TP_SUCCESS);
  cr_expect_eq(tp_pool_free(pool, NULL, NULL), TP_SUCCESS);
}

Test(null_arguments, accessors_return_their_documented_sentinels) {
  /* buffer.h */
  cr_expect_eq(tp_buffer_kind_of(NULL), TP_BUFFER_KIND_INVALID);
  cr_expect_null(tp_buffer_layout(NULL));
  cr_expect_null(tp_buffer_tile(NULL));
  cr_expect_null(tp_buffer_data(NULL));
  cr_expect_eq(tp_buffer_bytes(NULL), 0);
  cr_expect_null(tp_buffer_space(NULL));
  cr_expect_null(tp_buffer_stream(NULL));
  cr_expect_null(tp_buffer_allocator(NULL));
  cr_expect_null(tp_buffer_pool(NULL));
  cr_expect_eq(tp_buffer_device(NULL), -1);
  cr_expect_null(tp_buffer_tiling(NULL));
  /* allocator.h */
  cr_expect_eq(tp_allocator_kind_of(NULL), TP_BUFFER_KIND_INVALID);
  cr_expect_eq(tp_allocator_space_kind_of(NULL), TP_SPACE_INVALID);
  cr_expect_null(tp_allocator_runtime(NULL));
  cr_expect_null(tp_allocator_pool(NULL));
  cr_expect_null(tp_allocator_name(NULL));
  /* runtime.h */
  cr_expect_eq(tp_runtime_rank(NULL), -1);
  cr_expect_eq(tp_runtime_size(NULL), 0);
  cr_expect_eq(tp_runtime_local_rank(NULL), -1);
  cr_expect_eq(tp_runtime_local_size(NULL), 0);
  cr_expect_eq(tp_runtime_device(NULL), -1);
  cr_expect_eq(tp_runtime_uses_mpi(NULL), 0);
  cr_expect_eq(tp_runtime_has_backend(NULL, TP_SPACE_HOST), 0);
  /* layout.h, pool.h */
  cr_expect_eq(tp_tiling_parts(NULL), 0);
  cr_expect_null(tp_tiling_layout(NULL));
  cr_expect_null(tp_pool_space(NULL));
  cr_expect_null(tp_pool_name(NULL));
  /* Names of values that are not in their enum. */
  cr_expect_str_eq(tp_buffer_kind_name(TP_BUFFER_KIND_INVALID), "invalid");
  cr_expect_str_eq(tp_space_kind_name(TP_SPACE_INVALID), "invalid");
  cr_expect_str_eq(tp_dtype_name((tp_dtype)-1), "invalid");
  cr_expect_eq(tp_dtype_size((tp_dtype)-1), 0);
  /* And the valid handles give real values, so none of the above is a
   * constant. */
  cr_expect_eq(tp_buffer_kind_of(buffer), TP_BUFFER_LOCAL);
  cr_expect_eq(tp_buffer_pool(buffer), pool);
  cr_expect_eq(tp_buffer_device(buffer), -1);
  cr_expect_eq(tp_allocator_space_kind_of(local), TP_SPACE_HOST);
  cr_expect_str_eq(tp_allocator_name(local), "host/local");
  cr_expect_eq(tp_runtime_rank(rt), 0);
  cr_expect_eq(tp_runtime_local_rank(rt), 0);
}

Test(null_arguments, a_refused_tile_construction_runs_no_callback) {
  /* Each argument in turn, including a tiling that does not fit: the
   * callback never runs and nothing is allocated. */
  uint64_t calls = pool_calls();
  tp_tiling *two;
  cr_assert_eq(tp_tiling_create_block(&layout, 2, &two), TP_SUCCESS);
  tp_buffer *b = POISON;
  cr_expect_eq(
      tp_allocator_construct_tiles(dist, &layout, two, fill, NULL, NULL, &b),
      TP_ERR_MISMATCH);
  cr_expect_eq(tp_allocator_construct_tiles(dist, &layout, tiling, fill, NULL,
                                            NULL, NULL),
               TP_ERR_INVALID_ARGUMENT);
  tp_tiling_destroy(two);
  cr_expect_eq(b, POISON);
  cr_expect_eq(callbacks_run, 0);
  cr_expect_eq(pool_calls(), calls);
}
