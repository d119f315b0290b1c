/* tensorpool/dlpack.h and docs/integrations.md: export of host buffers
 * (versioned and legacy), what they map to, the hand-over and the deleter,
 * import as a view, and every documented refusal. */
#include "contract.h"

typedef struct fixture {
  tp_runtime *rt;
  tp_allocator *local, *dist;
} fixture;

static fixture setup(void) {
  fixture f;
  f.rt = ct_runtime();
  f.local = ct_allocator(f.rt, TP_BUFFER_LOCAL);
  f.dist = ct_allocator(f.rt, TP_BUFFER_DISTRIBUTED);
  return f;
}

static tp_buffer *arange(tp_allocator *a, tp_dtype t, int ndim,
                         const int64_t *e) {
  tp_layout l;
  ct_ok(tp_layout_make(t, ndim, e, &l));
  tp_generator g = tp_generator_arange(0, 1);
  tp_buffer *b = NULL;
  ct_ok(tp_allocator_construct_generator(a, &l, NULL, &g, NULL, &b));
  return b;
}

/* ---- Export ------------------------------------------------------------- */

/* "On success *buffer is set to NULL ... the buffer's memory stays valid
 * until the consumer calls (*out)->deleter(*out), which gives it back to
 * its pool"; host memory is kDLCPU, device_id 0; "exported strides are
 * always given (row-major, compact)". */
Test(dlpack_export, a_host_buffer_hands_over) {
  fixture f = setup();
  int64_t e[3] = {2, 3, 4};
  tp_buffer *b = arange(f.local, TP_DTYPE_F32, 3, e);
  void *data = tp_buffer_data(b);
  tp_pool_stats before = ct_host_stats(f.rt);
  tp_dlpack_device dev = {-1, -1};
  ct_ok(tp_buffer_dlpack_device(b, &dev));
  cr_expect_eq(dev.device_type, TP_DLPACK_DEVICE_CPU);
  cr_expect_eq(dev.device_id, 0);

  tp_dlpack_managed_tensor_versioned *m = NULL;
  ct_ok(tp_buffer_to_dlpack(&b, NULL, &m));
  cr_expect_null(b, "the handle is handed over");
  cr_assert_not_null(m);
  cr_expect_eq(m->version.major, TP_DLPACK_MAJOR_VERSION);
  cr_expect_eq(m->version.minor, TP_DLPACK_MINOR_VERSION);
  cr_expect_eq(m->flags & TP_DLPACK_FLAG_READ_ONLY, 0);
  cr_expect_eq(m->flags & TP_DLPACK_FLAG_IS_COPIED, 0, "no copy was made");
  cr_assert_not_null(m->deleter);
  tp_dlpack_tensor *t = &m->dl_tensor;
  cr_expect_eq((char *)t->data + t->byte_offset, (char *)data);
  cr_expect_eq(t->device.device_type, TP_DLPACK_DEVICE_CPU);
  cr_expect_eq(t->device.device_id, 0);
  cr_expect_eq(t->ndim, 3);
  cr_expect_eq(t->dtype.code, TP_DLPACK_CODE_FLOAT);
  cr_expect_eq(t->dtype.bits, 32);
  cr_expect_eq(t->dtype.lanes, 1);
  cr_assert_not_null(t->shape);
  cr_assert_not_null(t->strides);
  int64_t strides[3] = {12, 4, 1};
  for (int k = 0; k < 3; k++) {
    cr_expect_eq(t->shape[k], e[k]);
    cr_expect_eq(t->strides[k], strides[k]);
  }
  const float *v = (const float *)((char *)t->data + t->byte_offset);
  for (int i = 0; i < 24; i++)
    cr_expect_eq(v[i], (float)i);
  tp_pool_stats mid = ct_host_stats(f.rt);
  cr_expect_eq(mid.live_blocks, before.live_blocks, "kept while exported");
  ct_expect_fail(tp_runtime_destroy(f.rt), TP_ERR_BUSY, NULL);
  m->deleter(m);
  tp_pool_stats after = ct_host_stats(f.rt);
  cr_expect_eq(after.live_blocks, before.live_blocks - 1, "not given back");
  ct_ok(tp_runtime_destroy(f.rt));
}

/* The element types: DLPack's codes and bits (dlpack.h names the codes for
 * every type, the newer ones included). */
Test(dlpack_export, every_dtype_maps_to_its_code) {
  fixture f = setup();
  struct {
    tp_dtype t;
    uint8_t code, bits;
  } map[] = {{TP_DTYPE_F32, TP_DLPACK_CODE_FLOAT, 32},
             {TP_DTYPE_F64, TP_DLPACK_CODE_FLOAT, 64},
             {TP_DTYPE_C64, TP_DLPACK_CODE_COMPLEX, 64},
             {TP_DTYPE_C128, TP_DLPACK_CODE_COMPLEX, 128},
             {TP_DTYPE_I32, TP_DLPACK_CODE_INT, 32},
             {TP_DTYPE_I64, TP_DLPACK_CODE_INT, 64},
             {TP_DTYPE_F16, TP_DLPACK_CODE_FLOAT, 16},
             {TP_DTYPE_BF16, TP_DLPACK_CODE_BFLOAT, 16},
             {TP_DTYPE_I8, TP_DLPACK_CODE_INT, 8},
             {TP_DTYPE_U8, TP_DLPACK_CODE_UINT, 8},
             {TP_DTYPE_BOOL, TP_DLPACK_CODE_BOOL, 8}};
  int64_t e[1] = {5};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
    tp_buffer *b = arange(f.local, map[i].t, 1, e);
    tp_dlpack_managed_tensor_versioned *m = NULL;
    ct_ok(tp_buffer_to_dlpack(&b, NULL, &m));
    cr_expect_eq(m->dl_tensor.dtype.code, map[i].code, "%s",
                 tp_dtype_name(map[i].t));
    cr_expect_eq(m->dl_tensor.dtype.bits, map[i].bits, "%s",
                 tp_dtype_name(map[i].t));
    cr_expect_eq(m->dl_tensor.dtype.lanes, 1);
    m->deleter(m);
  }
  ct_ok(tp_runtime_destroy(f.rt));
}

/* The legacy struct: the same tensor; "a distributed buffer exports this
 * rank's tile"; "On failure nothing changes." */
Test(dlpack_export, legacy_distributed_and_failures) {
  fixture f = setup();
  int64_t e[2] = {6, 2};
  tp_buffer *b = arange(f.dist, TP_DTYPE_I64, 2, e);
  tp_dlpack_managed_tensor *m = NULL;
  ct_ok(tp_buffer_to_dlpack_legacy(&b, NULL, &m));
  cr_expect_null(b);
  cr_expect_eq(m->dl_tensor.ndim, 2);
  cr_expect_eq(m->dl_tensor.shape[0], 6, "one rank's tile is the tensor");
  cr_expect_eq(m->dl_tensor.strides[0], 2);
  cr_expect_eq(m->dl_tensor.dtype.code, TP_DLPACK_CODE_INT);
  const int64_t *v =
      (const int64_t *)((char *)m->dl_tensor.data + m->dl_tensor.byte_offset);
  cr_expect_eq(v[11], 11);
  m->deleter(m);

  tp_dlpack_managed_tensor_versioned *mv = (void *)0x5;
  ct_expect_fail(tp_buffer_to_dlpack(NULL, NULL, &mv), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  tp_buffer *none = NULL;
  ct_expect_fail(tp_buffer_to_dlpack(&none, NULL, &mv), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  b = arange(f.local, TP_DTYPE_I64, 2, e);
  tp_buffer *keep = b;
  ct_expect_fail(tp_buffer_to_dlpack(&b, NULL, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  cr_expect_eq(b, keep, "the handle changed on failure");
  cr_expect_eq(mv, (void *)0x5);
  tp_dlpack_device dev;
  ct_expect_fail(tp_buffer_dlpack_device(NULL, &dev), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_expect_fail(tp_buffer_dlpack_device(b, NULL), TP_ERR_INVALID_ARGUMENT,
                 NULL);
  ct_ok(tp_buffer_destroy(b));
  ct_ok(tp_runtime_destroy(f.rt));
}

/* ---- Import ------------------------------------------------------------- */

typedef struct producer {
  tp_dlpack_managed_tensor_versioned m;
  int64_t shape[TP_MAX_NDIM + 2];
  int64_t strides[TP_MAX_NDIM + 2];
  double *memory;
  int deleted;
} producer;

static void producer_deleter(tp_dlpack_managed_tensor_versioned *self) {
  producer *p = self->manager_ctx;
  p->deleted++;
}

/* A 4 x 5 f64 tensor of host memory, owned by the test. */
static void produce(producer *p) {
  memset(p, 0, sizeof *p);
  p->memory = malloc(24 * sizeof(double));
  for (int i = 0; i < 24; i++)
    p->memory[i] = i + 0.5;
  p->shape[0] = 4;
  p->shape[1] = 5;
  p->m.version = (tp_dlpack_version){1, 0};
  p->m.manager_ctx = p;
  p->m.deleter = producer_deleter;
  p->m.dl_tensor.data = p->memory;
  p->m.dl_tensor.device = (tp_dlpack_device){TP_DLPACK_DEVICE_CPU, 0};
  p->m.dl_tensor.ndim = 2;
  p->m.dl_tensor.dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_FLOAT, 64, 1};
  p->m.dl_tensor.shape = p->shape;
  p->m.dl_tensor.strides = NULL;
}

/* "A local buffer of `runtime` that is a view of `tensor`'s memory (no
 * copy), with the runtime's allocator of the matching space ... On success
 * the buffer owns `tensor`: tp_buffer_destroy calls its deleter". */
Test(dlpack_import, a_view_that_owns_the_tensor) {
  fixture f = setup();
  producer p;
  produce(&p);
  p.strides[0] = 5;
  p.strides[1] = 1;
  p.m.dl_tensor.strides = p.strides; /* compact strides, given */
  tp_buffer *b = NULL;
  ct_ok(tp_buffer_from_dlpack(f.rt, &p.m, NULL, &b));
  cr_expect_eq(tp_buffer_kind_of(b), TP_BUFFER_LOCAL);
  cr_expect_eq(tp_buffer_data(b), p.memory, "a view, not a copy");
  cr_expect_eq(tp_buffer_allocator(b), f.local);
  cr_expect_eq(tp_buffer_bytes(b), 20 * sizeof(double));
  double v;
  ct_ok(tp_buffer_read(b, 19 * sizeof v, sizeof v, &v));
  cr_expect_eq(v, 19.5);
  /* Results computed from it land in the runtime's host pool. */
  tp_buffer *c = NULL;
  ct_ok(tp_buffer_clone(b, NULL, &c));
  cr_expect_eq(tp_buffer_allocator(c), f.local);
  ct_ok(tp_buffer_destroy(c));
  cr_expect_eq(p.deleted, 0);
  ct_ok(tp_buffer_destroy(b));
  cr_expect_eq(p.deleted, 1, "the producer's deleter ran %d times", p.deleted);
  free(p.memory);
  ct_ok(tp_runtime_destroy(f.rt));
}

/* DLPack's byte_offset: the data starts byte_offset bytes after `data`. */
Test(dlpack_import, byte_offset_is_honoured) {
  fixture f = setup();
  producer p;
  produce(&p);
  p.m.dl_tensor.byte_offset = 4 * sizeof(double);
  tp_buffer *b = NULL;
  ct_ok(tp_buffer_from_dlpack(f.rt, &p.m, NULL, &b));
  cr_expect_eq(tp_buffer_data(b), p.memory + 4);
  double v;
  ct_ok(tp_buffer_read(b, 0, sizeof v, &v));
  cr_expect_eq(v, 4.5);
  ct_ok(tp_buffer_destroy(b));
  free(p.memory);
  ct_ok(tp_runtime_destroy(f.rt));
}

/* Every refusal of dlpack.h, each "before anything is done": the deleter
 * never runs and the caller still owns the tensor. */
Test(dlpack_import, refusals) {
  fixture f = setup();
  producer p;
  struct {
    const char *what;
    tp_status status;
  } cases[] = {
      {"major version 2", TP_ERR_NOT_SUPPORTED},
      {"read-only flag", TP_ERR_NOT_SUPPORTED},
      {"float of 128 bits", TP_ERR_NOT_SUPPORTED},
      {"complex of 32 bits", TP_ERR_NOT_SUPPORTED},
      {"unsigned of 32 bits", TP_ERR_NOT_SUPPORTED},
      {"two lanes", TP_ERR_NOT_SUPPORTED},
      {"nine axes", TP_ERR_NOT_SUPPORTED},
      {"column-major strides", TP_ERR_NOT_SUPPORTED},
      {"padded strides", TP_ERR_NOT_SUPPORTED},
      {"a Vulkan device", TP_ERR_NOT_SUPPORTED},
      {"CUDA managed memory", TP_ERR_NOT_SUPPORTED},
      {"negative ndim", TP_ERR_INVALID_ARGUMENT},
      {"negative extent", TP_ERR_INVALID_ARGUMENT},
      {"NULL data with elements", TP_ERR_INVALID_ARGUMENT},
      {"misaligned data", TP_ERR_INVALID_ARGUMENT},
      {"NULL shape", TP_ERR_INVALID_ARGUMENT},
  };
  int ncases = (int)(sizeof cases / sizeof *cases);
  for (int i = 0; i < ncases; i++) {
    produce(&p);
    tp_dlpack_tensor *t = &p.m.dl_tensor;
    switch (i) {
    case 0: p.m.version.major = 2; break;
    case 1: p.m.flags = TP_DLPACK_FLAG_READ_ONLY; break;
    case 2: t->dtype.bits = 128; break;
    case 3: t->dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_COMPLEX, 32, 1}; break;
    case 4: t->dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_UINT, 32, 1}; break;
    case 5: t->dtype.lanes = 2; break;
    case 6:
      t->ndim = TP_MAX_NDIM + 1;
      for (int k = 0; k < TP_MAX_NDIM + 1; k++)
        p.shape[k] = 1;
      break;
    case 7:
      p.strides[0] = 1;
      p.strides[1] = 4;
      t->strides = p.strides;
      break;
    case 8:
      p.strides[0] = 6;
      p.strides[1] = 1;
      t->strides = p.strides;
      break;
    case 9: t->device.device_type = 7; break;
    case 10: t->device.device_type = TP_DLPACK_DEVICE_CUDA_MANAGED; break;
    case 11: t->ndim = -1; break;
    case 12: p.shape[1] = -5; break;
    case 13: t->data = NULL; break;
    case 14: t->data = (char *)p.memory + 1; break;
    default: t->shape = NULL; break;
    }
    tp_buffer *b = (tp_buffer *)0x5;
    tp_set_last_error(TP_SUCCESS, "%s", "");
    tp_status st = tp_buffer_from_dlpack(f.rt, &p.m, NULL, &b);
    cr_expect_eq(st, cases[i].status, "%s: %s (%s)", cases[i].what,
                 tp_status_name(st), tp_last_error());
    cr_expect_gt(strlen(tp_last_error()), 0, "%s: no message", cases[i].what);
    cr_expect_eq(b, (tp_buffer *)0x5, "%s: *out written", cases[i].what);
    cr_expect_eq(p.deleted, 0, "%s: the deleter ran", cases[i].what);
    free(p.memory);
  }
  produce(&p);
  tp_buffer *b = NULL;
  ct_expect_fail(tp_buffer_from_dlpack(NULL, &p.m, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_buffer_from_dlpack(f.rt, NULL, NULL, &b),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  ct_expect_fail(tp_buffer_from_dlpack(f.rt, &p.m, NULL, NULL),
                 TP_ERR_INVALID_ARGUMENT, NULL);
  cr_expect_eq(p.deleted, 0);
  free(p.memory);
  ct_ok(tp_runtime_destroy(f.rt));
}

/* "TP_ERR_NO_DEVICE  a GPU tensor and a runtime without that backend". */
Test(dlpack_import, a_gpu_tensor_without_a_device) {
  fixture f = setup();
  if (tp_runtime_device(f.rt) >= 0)
    cr_skip_test("this runtime has a device");
  int32_t types[2] = {TP_DLPACK_DEVICE_CUDA, TP_DLPACK_DEVICE_CUDA_HOST};
  for (int i = 0; i < 2; i++) {
    producer p;
    produce(&p);
    p.m.dl_tensor.device.device_type = types[i];
    tp_buffer *b = (tp_buffer *)0x5;
    ct_expect_fail(tp_buffer_from_dlpack(f.rt, &p.m, NULL, &b),
                   TP_ERR_NO_DEVICE, NULL);
    cr_expect_eq(b, (tp_buffer *)0x5);
    cr_expect_eq(p.deleted, 0);
    free(p.memory);
  }
  ct_ok(tp_runtime_destroy(f.rt));
}

/* An empty tensor: data may be NULL; the legacy struct imports alike. */
static int legacy_deleted;
static void legacy_deleter(tp_dlpack_managed_tensor *self) {
  (void)self;
  legacy_deleted++;
}

Test(dlpack_import, legacy_and_empty) {
  fixture f = setup();
  int64_t shape[1] = {0};
  tp_dlpack_managed_tensor m;
  memset(&m, 0, sizeof m);
  m.deleter = legacy_deleter;
  m.dl_tensor.device = (tp_dlpack_device){TP_DLPACK_DEVICE_CPU, 0};
  m.dl_tensor.ndim = 1;
  m.dl_tensor.dtype = (tp_dlpack_dtype){TP_DLPACK_CODE_INT, 32, 1};
  m.dl_tensor.shape = shape;
  tp_buffer *b = NULL;
  ct_ok(tp_buffer_from_dlpack_legacy(f.rt, &m, NULL, &b));
  cr_expect_eq(tp_buffer_bytes(b), 0);
  ct_ok(tp_buffer_destroy(b));
  cr_expect_eq(legacy_deleted, 1);

  int32_t mem[3] = {7, 8, 9};
  shape[0] = 3;
  m.dl_tensor.data = mem;
  ct_ok(tp_buffer_from_dlpack_legacy(f.rt, &m, NULL, &b));
  int32_t back[3];
  ct_ok(tp_buffer_read(b, 0, sizeof back, back));
  cr_expect_eq(back[2], 9);
  ct_ok(tp_buffer_destroy(b));
  cr_expect_eq(legacy_deleted, 2);
  ct_ok(tp_runtime_destroy(f.rt));
}

/* dlpack.h's type table holds both ways: every type tensorpool has
 * imports as the same dtype. */
Test(dlpack_import, every_type_of_the_table) {
  fixture f = setup();
  struct {
    tp_dtype t;
    uint8_t code, bits;
  } map[] = {{TP_DTYPE_F32, TP_DLPACK_CODE_FLOAT, 32},
             {TP_DTYPE_F64, TP_DLPACK_CODE_FLOAT, 64},
             {TP_DTYPE_C64, TP_DLPACK_CODE_COMPLEX, 64},
             {TP_DTYPE_C128, TP_DLPACK_CODE_COMPLEX, 128},
             {TP_DTYPE_I32, TP_DLPACK_CODE_INT, 32},
             {TP_DTYPE_I64, TP_DLPACK_CODE_INT, 64},
             {TP_DTYPE_F16, TP_DLPACK_CODE_FLOAT, 16},
             {TP_DTYPE_BF16, TP_DLPACK_CODE_BFLOAT, 16},
             {TP_DTYPE_I8, TP_DLPACK_CODE_INT, 8},
             {TP_DTYPE_U8, TP_DLPACK_CODE_UINT, 8},
             {TP_DTYPE_BOOL, TP_DLPACK_CODE_BOOL, 8}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
    producer p;
    produce(&p);
    p.m.dl_tensor.dtype = (tp_dlpack_dtype){map[i].code, map[i].bits, 1};
    tp_buffer *b = NULL;
    ct_ok(tp_buffer_from_dlpack(f.rt, &p.m, NULL, &b));
    cr_expect_eq(tp_buffer_layout(b)->dtype, map[i].t, "%s",
                 tp_dtype_name(map[i].t));
    ct_ok(tp_buffer_destroy(b));
    free(p.memory);
  }
  ct_ok(tp_runtime_destroy(f.rt));
}
