/* DLPack export and import on the host, as a consumer or producer written
 * in C would use them (tests/python/test_dlpack_numpy.py does the same with
 * NumPy as the other side). */
#include <criterion/criterion.h>
#include <string.h>

#include "host_runtime_fixture.h"
#include "tensorpool/dlpack.h"
#include "tensorpool/ops.h"

TestSuite(dlpack, .init = setup, .fini = teardown);

static tp_buffer *arange(tp_buffer_kind kind, tp_dtype dtype, int64_t rows,
                         int64_t cols) {
  tp_layout l = matrix(dtype, rows, cols);
  tp_generator g = tp_generator_arange(0.0, 1.0);
  tp_buffer *b;
  cr_assert_eq(
      tp_allocator_construct_generator(host(kind), &l, NULL, &g, NULL, &b),
      TP_SUCCESS, "%s", tp_last_error());
  return b;
}

Test(dlpack, export_describes_the_buffer_and_keeps_it_until_the_deleter) {
  tp_buffer *b = arange(TP_BUFFER_LOCAL, TP_DTYPE_F64, 3, 4);
  void *data = tp_buffer_data(b);
  tp_dlpack_managed_tensor_versioned *m = NULL;
  cr_assert_eq(tp_buffer_to_dlpack(&b, NULL, &m), TP_SUCCESS, "%s",
               tp_last_error());
  cr_expect_null(b, "the buffer was handed over");
  cr_expect_eq(m->version.major, 1);
  cr_expect_eq(m->flags, 0);
  const tp_dlpack_tensor *t = &m->dl_tensor;
  cr_expect_eq(t->data, data);
  cr_expect_eq(t->device.device_type, TP_DLPACK_DEVICE_CPU);
  cr_expect_eq(t->device.device_id, 0);
  cr_expect_eq(t->ndim, 2);
  cr_expect_eq(t->dtype.code, TP_DLPACK_CODE_FLOAT);
  cr_expect_eq(t->dtype.bits, 64);
  cr_expect_eq(t->dtype.lanes, 1);
  cr_expect_eq(t->shape[0], 3);
  cr_expect_eq(t->shape[1], 4);
  cr_expect_eq(t->strides[0], 4);
  cr_expect_eq(t->strides[1], 1);
  cr_expect_eq(t->byte_offset, 0);
  const double *v = t->data;
  for (int i = 0; i < 12; ++i)
    cr_expect_eq(v[i], (double)i);
  cr_expect_eq(stats().live_blocks, 1, "alive until the deleter");
  m->deleter(m);
  cr_expect_eq(stats().live_blocks, 0, "the deleter gave the memory back");
}

/* The DLPack name of every element type, as tensorpool/dlpack.h lists
 * them: an export carries it, and an import of it gives the type back. */
Test(dlpack, every_dtype_exports_and_imports_under_its_dlpack_name) {
  static const struct {
    tp_dtype dtype;
    uint8_t code, bits;
  } names[] = {
      {TP_DTYPE_F32, TP_DLPACK_CODE_FLOAT, 32},
      {TP_DTYPE_F64, TP_DLPACK_CODE_FLOAT, 64},
      {TP_DTYPE_C64, TP_DLPACK_CODE_COMPLEX, 64},
      {TP_DTYPE_C128, TP_DLPACK_CODE_COMPLEX, 128},
      {TP_DTYPE_I32, TP_DLPACK_CODE_INT, 32},
      {TP_DTYPE_I64, TP_DLPACK_CODE_INT, 64},
      {TP_DTYPE_F16, TP_DLPACK_CODE_FLOAT, 16},
      {TP_DTYPE_BF16, TP_DLPACK_CODE_BFLOAT, 16},
      {TP_DTYPE_I8, TP_DLPACK_CODE_INT, 8},
      {TP_DTYPE_U8, TP_DLPACK_CODE_UINT, 8},
      {TP_DTYPE_BOOL, TP_DLPACK_CODE_BOOL, 8},
  };
  cr_assert_eq(sizeof names / sizeof names[0], TP_DTYPE_COUNT);
  for (size_t i = 0; i < TP_DTYPE_COUNT; ++i) {
    tp_buffer *b = arange(TP_BUFFER_LOCAL, names[i].dtype, 1, 2);
    tp_dlpack_managed_tensor_versioned *m = NULL;
    cr_assert_eq(tp_buffer_to_dlpack(&b, NULL, &m), TP_SUCCESS, "%s",
                 tp_last_error());
    const char *name = tp_dtype_name(names[i].dtype);
    cr_expect_eq(m->dl_tensor.dtype.code, names[i].code, "%s", name);
    cr_expect_eq(m->dl_tensor.dtype.bits, names[i].bits, "%s", name);
    cr_expect_eq(m->dl_tensor.dtype.lanes, 1, "%s", name);
    tp_buffer *view = NULL;
    cr_assert_eq(tp_buffer_from_dlpack(rt, m, NULL, &view), TP_SUCCESS,
                 "%s: %s", name, tp_last_error());
    cr_expect_eq(tp_buffer_layout(view)->dtype, names[i].dtype, "%s", name);
    /* The view's destroy runs the export's deleter, which frees the block. */
    cr_assert_eq(tp_buffer_destroy(view), TP_SUCCESS);
    cr_expect_eq(stats().live_blocks, 0, "%s", name);
  }
}

Test(dlpack, legacy_export_carries_the_same_tensor) {
  tp_buffer *b = arange(TP_BUFFER_REPLICATED, TP_DTYPE_I32, 2, 5);
  tp_dlpack_managed_tensor *m = NULL;
  cr_assert_eq(tp_buffer_to_dlpack_legacy(&b, NULL, &m), TP_SUCCESS);
  cr_expect_eq(m->dl_tensor.dtype.code, TP_DLPACK_CODE_INT);
  cr_expect_eq(m->dl_tensor.dtype.bits, 32);
  cr_expect_eq(m->dl_tensor.shape[1], 5);
  cr_expect_eq(((const int32_t *)m->dl_tensor.data)[9], 9);
  m->deleter(m);
  cr_expect_eq(stats().live_blocks, 0);
}

Test(dlpack, bad_exports_change_nothing) {
  tp_dlpack_managed_tensor_versioned *m = NULL;
  tp_buffer *none = NULL;
  cr_expect_eq(tp_buffer_to_dlpack(NULL, NULL, &m), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(tp_buffer_to_dlpack(&none, NULL, &m), TP_ERR_INVALID_ARGUMENT);
  cr_expect_not_null(strstr(tp_last_error(), "*buffer"));
  tp_buffer *b = arange(TP_BUFFER_LOCAL, TP_DTYPE_F32, 1, 1);
  tp_buffer *kept = b;
  cr_expect_eq(tp_buffer_to_dlpack(&b, NULL, NULL), TP_ERR_INVALID_ARGUMENT);
  cr_expect_eq(b, kept, "still the caller's");
  cr_expect_null(m);
  cr_assert_eq(tp_buffer_destroy(b), TP_SUCCESS);
}

/* A producer's tensor: a struct of the caller's with a deleter that counts. */
typedef struct producer {
  tp_dlpack_managed_tensor_versioned managed;
  int64_t shape[2], strides[2];
  double values[12];
  int deleted;
} producer;

static void producer_delete(tp_dlpack_managed_tensor_versioned *self) {
  ((producer *)self->manager_ctx)->deleted++;
}

static void producer_init(producer *p) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < 12; ++i)
    p->values[i] = 0.5 * i;
  p->shape[0] = 3;
  p->shape[1] = 4;
  p->strides[0] = 4;
  p->strides[1] = 1;
  p->managed.version.major = 1;
  p->managed.version.minor = 1;
  p->managed.manager_ctx = p;
  p->managed.deleter = producer_delete;
  p->managed.dl_tensor = (tp_dlpack_tensor){
      .data = p->values,
      .device = {TP_DLPACK_DEVICE_CPU, 0},
      .ndim = 2,
      .dtype = {TP_DLPACK_CODE_FLOAT, 64, 1},
      .shape = p->shape,
      .strides = p->strides,
  };
}

Test(dlpack, import_is_a_view_and_the_deleter_runs_at_destroy) {
  producer p;
  producer_init(&p);
  tp_buffer *view;
  cr_assert_eq(tp_buffer_from_dlpack(rt, &p.managed, NULL, &view), TP_SUCCESS,
               "%s", tp_last_error());
  cr_expect_eq(tp_buffer_data(view), p.values, "no copy");
  cr_expect_eq(tp_buffer_kind_of(view), TP_BUFFER_LOCAL);
  cr_expect_eq(tp_buffer_layout(view)->dtype, TP_DTYPE_F64);
  cr_expect_eq(tp_buffer_layout(view)->extents[1], 4);
  cr_expect_eq(tp_buffer_space(view)->kind, TP_SPACE_HOST);
  cr_expect_eq(stats().live_blocks, 0, "the view takes nothing from the pool");
  /* Results computed from the view come from its allocator (the host's). */
  tp_buffer *twice;
  cr_assert_eq(tp_axpby(tp_scalar_real(2.0), view, tp_scalar_real(0.0), view,
                        NULL, &twice),
               TP_SUCCESS, "%s", tp_last_error());
  const double *v = tp_buffer_data(twice);
  for (int i = 0; i < 12; ++i)
    cr_expect_eq(v[i], 1.0 * i);
  cr_expect_eq(stats().live_blocks, 1);
  ((double *)tp_buffer_data(view))[5] = -1.0;
  cr_expect_eq(p.values[5], -1.0, "writes go to the producer's memory");
  cr_expect_eq(p.deleted, 0);
  cr_assert_eq(tp_buffer_destroy(view), TP_SUCCESS);
  cr_expect_eq(p.deleted, 1, "destroy ran the producer's deleter once");
  cr_assert_eq(tp_buffer_destroy(twice), TP_SUCCESS);
}

Test(dlpack, import_accepts_null_strides_and_a_byte_offset) {
  producer p;
  producer_init(&p);
  p.managed.dl_tensor.strides = NULL;
  p.shape[0] = 2; /* rows 1 and 2 of the 3 x 4 values */
  p.managed.dl_tensor.byte_offset = 4 * sizeof(double);
  tp_buffer *view;
  cr_assert_eq(tp_buffer_from_dlpack(rt, &p.managed, NULL, &view), TP_SUCCESS,
               "%s", tp_last_error());
  cr_expect_eq(tp_buffer_data(view), &p.values[4]);
  cr_expect_eq(tp_buffer_bytes(view), 8 * sizeof(double));
  cr_assert_eq(tp_buffer_destroy(view), TP_SUCCESS);
  cr_expect_eq(p.deleted, 1);
}

Test(dlpack, import_ignores_strides_of_axes_of_extent_one) {
  producer p;
  producer_init(&p);
  p.shape[0] = 1;
  p.strides[0] = 999;
  tp_buffer *view;
  cr_assert_eq(tp_buffer_from_dlpack(rt, &p.managed, NULL, &view), TP_SUCCESS,
               "%s", tp_last_error());
  cr_assert_eq(tp_buffer_destroy(view), TP_SUCCESS);
}

/* Each refusal: the status, a message naming the reason, and nothing done
 * (the deleter not called, *out untouched). */
static void expect_refused(producer *p, tp_status status, const char *words) {
  tp_buffer *sentinel = (tp_buffer *)0x1, *out = sentinel;
  cr_expect_eq(tp_buffer_from_dlpack(rt, &p->managed, NULL, &out), status, "%s",
               tp_last_error());
  cr_expect_not_null(strstr(tp_last_error(), words), "'%s' in '%s'", words,
                     tp_last_error());
  cr_expect_eq(out, sentinel);
  cr_expect_eq(p->deleted, 0);
}

Test(dlpack, import_refuses_what_a_buffer_cannot_be) {
  producer p;
  producer_init(&p);
  p.managed.flags = TP_DLPACK_FLAG_READ_ONLY;
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "read-only");

  producer_init(&p);
  p.strides[0] = 8; /* every other row */
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "stride 8");

  producer_init(&p);
  p.managed.dl_tensor.dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_UINT, 16, 1};
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "type code 1, 16 bits");
  /* The refusal lists what is accepted, the newer types included. */
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "bfloat 16");

  producer_init(&p);
  p.managed.dl_tensor.dtype.lanes = 4;
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "4 lanes");

  producer_init(&p);
  p.managed.version.major = 2;
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "version 2.1");

  producer_init(&p);
  p.managed.dl_tensor.ndim = TP_MAX_NDIM + 1;
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "axes");

  producer_init(&p);
  p.managed.dl_tensor.device.device_type = 4; /* OpenCL */
  expect_refused(&p, TP_ERR_NOT_SUPPORTED, "device type 4");

  producer_init(&p);
  p.shape[1] = -4;
  expect_refused(&p, TP_ERR_INVALID_ARGUMENT, "extent -4");

  producer_init(&p);
  p.managed.dl_tensor.data = NULL;
  expect_refused(&p, TP_ERR_INVALID_ARGUMENT, "NULL data");

  producer_init(&p);
  p.managed.dl_tensor.byte_offset = 3;
  expect_refused(&p, TP_ERR_INVALID_ARGUMENT, "not aligned");

  /* An offset that wraps the address space, aligned or not. */
  producer_init(&p);
  p.managed.dl_tensor.byte_offset = UINT64_MAX - 7;
  expect_refused(&p, TP_ERR_INVALID_ARGUMENT, "past the end");
  producer_init(&p);
  p.managed.dl_tensor.byte_offset = (uint64_t)1 << 63;
  expect_refused(&p, TP_ERR_INVALID_ARGUMENT, "past the end");
}

Test(dlpack, importing_gpu_memory_without_a_gpu_backend_is_no_device) {
  if (tp_runtime_has_backend(rt, TP_SPACE_DEVICE))
    cr_skip_test("this rank has a GPU");
  producer p;
  producer_init(&p);
  p.managed.dl_tensor.device.device_type = TP_DLPACK_DEVICE_CUDA;
  expect_refused(&p, TP_ERR_NO_DEVICE, "no device backend");
}

/* status.h's one rule: a space the runtime's configuration disabled is
 * TP_ERR_NOT_SUPPORTED, with a GPU or without. */
Test(dlpack, importing_gpu_memory_into_a_runtime_that_disabled_it) {
  tp_runtime_config config = TP_RUNTIME_CONFIG_INIT;
  config.disabled_spaces =
      TP_SPACE_BIT(TP_SPACE_DEVICE) | TP_SPACE_BIT(TP_SPACE_PINNED);
  tp_runtime *host_only;
  cr_assert_eq(tp_runtime_create(&config, &host_only), TP_SUCCESS, "%s",
               tp_last_error());
  int32_t types[] = {TP_DLPACK_DEVICE_CUDA, TP_DLPACK_DEVICE_CUDA_HOST};
  for (int i = 0; i < 2; i++) {
    producer p;
    producer_init(&p);
    p.managed.dl_tensor.device.device_type = types[i];
    tp_buffer *out = NULL;
    cr_expect_eq(tp_buffer_from_dlpack(host_only, &p.managed, NULL, &out),
                 TP_ERR_NOT_SUPPORTED, "%s", tp_last_error());
    cr_expect_not_null(strstr(tp_last_error(), "disabled_spaces"), "%s",
                       tp_last_error());
    cr_expect_null(out);
    cr_expect_eq(p.deleted, 0);
  }
  cr_assert_eq(tp_runtime_destroy(host_only), TP_SUCCESS);
}

Test(dlpack, export_of_an_import_round_trips_to_the_producer) {
  producer p;
  producer_init(&p);
  tp_buffer *view;
  cr_assert_eq(tp_buffer_from_dlpack(rt, &p.managed, NULL, &view), TP_SUCCESS);
  tp_dlpack_managed_tensor *m;
  cr_assert_eq(tp_buffer_to_dlpack_legacy(&view, NULL, &m), TP_SUCCESS);
  cr_expect_eq(m->dl_tensor.data, p.values);
  cr_expect_eq(p.deleted, 0);
  m->deleter(m);
  cr_expect_eq(p.deleted, 1,
               "the last consumer's deleter reached the "
               "producer");
}

Test(dlpack, device_of_a_host_buffer_is_the_cpu) {
  tp_buffer *b = arange(TP_BUFFER_LOCAL, TP_DTYPE_C128, 2, 2);
  tp_dlpack_device d = {-1, -1};
  cr_expect_eq(tp_buffer_dlpack_device(b, &d), TP_SUCCESS);
  cr_expect_eq(d.device_type, TP_DLPACK_DEVICE_CPU);
  cr_expect_eq(d.device_id, 0);
  cr_expect_eq(tp_buffer_dlpack_device(NULL, &d), TP_ERR_INVALID_ARGUMENT);
  tp_buffer_destroy(b);
}
