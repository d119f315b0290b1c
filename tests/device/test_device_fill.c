/* Fill kernels against the host: constants bit for bit around unaligned
 * heads and tails, generators with the host's per-element functions, and
 * NVRTC expressions. GPU only. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device_test.h"
#include "tensor/expression.h"
#include "tensor/generator_math.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"
#include "tensorpool/expression.h"
#include "tensorpool/ops.h"

static tp_pool *pool;
static tp_stream stream;

static void setup(void) {
  int count = 0;
  if (tp_device_count(&count) != TP_SUCCESS || count == 0)
    return; /* each test skips with the reason */
  cr_assert_eq(tp_device_pool(0, &pool), TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_device_stream_create(0, &stream), TP_SUCCESS);
}

static void teardown(void) {
  if (stream)
    tp_device_stream_destroy(0, stream);
  tp_device_pools_destroy();
}

TestSuite(device_fill, .init = setup, .fini = teardown);

static void *device_alloc(size_t bytes) {
  void *p = NULL;
  cr_assert_eq(tp_pool_alloc(pool, bytes, stream, &p), TP_SUCCESS, "%s",
               tp_last_error());
  return p;
}

static void read_back(void *host, const void *dev, size_t bytes) {
  cr_assert_eq(tp_device_memcpy(0, host, dev, bytes, stream), TP_SUCCESS);
  cr_assert_eq(tp_device_stream_synchronize(0, stream), TP_SUCCESS);
}

/* One recognizable element of each type. */
static void sample_value(tp_dtype dtype, unsigned char *out) {
  float f = -1.5f;
  double d = 3.0e-300;
  float c64[2] = {2.5f, -0.0f};
  double c128[2] = {-7.25, 1.0e300};
  int32_t i32 = -123456789;
  int64_t i64 = INT64_MIN + 5;
  uint16_t f16 = 0xC3C0u;  /* -3.875 */
  uint16_t bf16 = 0x4049u; /* 3.140625 */
  int8_t i8 = -77;
  uint8_t u8 = 0xA5u, boolean = 1;
  switch (dtype) {
  case TP_DTYPE_F32: memcpy(out, &f, 4); break;
  case TP_DTYPE_F64: memcpy(out, &d, 8); break;
  case TP_DTYPE_C64: memcpy(out, c64, 8); break;
  case TP_DTYPE_C128: memcpy(out, c128, 16); break;
  case TP_DTYPE_I32: memcpy(out, &i32, 4); break;
  case TP_DTYPE_I64: memcpy(out, &i64, 8); break;
  case TP_DTYPE_F16: memcpy(out, &f16, 2); break;
  case TP_DTYPE_BF16: memcpy(out, &bf16, 2); break;
  case TP_DTYPE_I8: memcpy(out, &i8, 1); break;
  case TP_DTYPE_U8: memcpy(out, &u8, 1); break;
  case TP_DTYPE_BOOL: memcpy(out, &boolean, 1); break;
  }
}

Test(device_fill, constant_every_type_head_and_tail) {
  require_device();
  const size_t counts[] = {0, 1, 2, 3, 5, 17, 1000, 100003};
  const size_t guard = 64; /* bytes before and after the filled range */
  for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
    tp_dtype dtype = (tp_dtype)d;
    size_t size = tp_dtype_size(dtype);
    unsigned char value[16];
    sample_value(dtype, value);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; ++c) {
      /* Start 0..3 elements past a 256-byte boundary (c128: 0 or 8 bytes
       * off a 16-byte boundary as well). */
      for (size_t shift = 0; shift < 4; ++shift) {
        size_t count = counts[c];
        size_t offset = guard + shift * (size > 8 ? 8 : size);
        size_t bytes = offset + count * size + guard;
        unsigned char *dev = device_alloc(bytes);
        int32_t sentinel = 0x5A5A5A5A;
        cr_assert_eq(tp_device_fill_constant(0, dev, TP_DTYPE_I32, bytes / 4,
                                             &sentinel, stream),
                     TP_SUCCESS);
        cr_assert_eq(tp_device_fill_constant(0, dev + offset, dtype, count,
                                             value, stream),
                     TP_SUCCESS, "%s", tp_last_error());
        unsigned char *host = malloc(bytes);
        cr_assert_not_null(host);
        read_back(host, dev, bytes);
        for (size_t i = 0; i < count; ++i)
          cr_assert_eq(memcmp(host + offset + i * size, value, size), 0,
                       "%s count %zu shift %zu: element %zu differs",
                       tp_dtype_name(dtype), count, shift, i);
        for (size_t b = 0; b < offset; ++b)
          cr_assert_eq(host[b], 0x5A, "%s: byte %zu before the range changed",
                       tp_dtype_name(dtype), b);
        for (size_t b = offset + count * size; b < bytes / 4 * 4; ++b)
          cr_assert_eq(host[b], 0x5A, "%s: byte %zu after the range changed",
                       tp_dtype_name(dtype), b);
        free(host);
        cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
      }
    }
  }
}

/* Every generator, every type: the same bits as the host. */
static void expect_same_element(tp_dtype dtype, const tp_generator *gen,
                                const unsigned char *got,
                                const unsigned char *want, size_t i) {
  cr_assert_eq(memcmp(got, want, tp_dtype_size(dtype)), 0,
               "%s %s: element %zu differs from the host",
               tp_generator_kind_name(gen->kind), tp_dtype_name(dtype), i);
}

/* A tile strictly inside a 5x7x9 tensor, so offsets and strides matter. */
static void inner_tile(tp_dtype dtype, tp_layout *layout, tp_tile *tile) {
  int64_t extents[3] = {5, 7, 9};
  cr_assert_eq(tp_layout_make(dtype, 3, extents, layout), TP_SUCCESS);
  memset(tile, 0, sizeof *tile);
  int64_t offsets[3] = {1, 2, 3}, sizes[3] = {3, 4, 5};
  for (int k = 0; k < 3; ++k) {
    tile->offsets[k] = offsets[k];
    tile->extents[k] = sizes[k];
  }
  tile->first = 1 * 63 + 2 * 9 + 3;
  tile->count = 60;
}

Test(device_fill, generators_match_the_host) {
  require_device();
  double coeff[3] = {100.0, -10.0, 1.0};
  tp_generator gens[] = {
      tp_generator_arange(-3.0, 2.0),   tp_generator_affine(5.0, 3, coeff),
      tp_generator_identity(4.0),       tp_generator_uniform(42, -2.0, 3.0),
      tp_generator_normal(7, 1.0, 0.5),
  };
  for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
    for (size_t g = 0; g < sizeof gens / sizeof gens[0]; ++g) {
      tp_dtype dtype = (tp_dtype)d;
      tp_layout layout;
      tp_tile tile;
      inner_tile(dtype, &layout, &tile);
      if (tp_generator_check(&gens[g], &layout) != TP_SUCCESS)
        continue; /* e.g. normal for integers: refused on both sides */
      size_t size = tp_dtype_size(dtype);
      unsigned char *dev = device_alloc(tile.count * size);
      cr_assert_eq(
          tp_device_fill_generator(0, dev, &layout, &tile, &gens[g], stream),
          TP_SUCCESS, "%s", tp_last_error());
      unsigned char *got = malloc(tile.count * size);
      cr_assert_not_null(got);
      read_back(got, dev, tile.count * size);
      size_t i = 0;
      for (int64_t a = 0; a < tile.extents[0]; ++a)
        for (int64_t b = 0; b < tile.extents[1]; ++b)
          for (int64_t c = 0; c < tile.extents[2]; ++c, ++i) {
            int64_t index[3] = {tile.offsets[0] + a, tile.offsets[1] + b,
                                tile.offsets[2] + c};
            uint64_t linear =
                (uint64_t)(index[0] * 63 + index[1] * 9 + index[2]);
            unsigned char want[16];
            tp_gen_store(&gens[g], dtype, linear, index, 3, want);
            expect_same_element(dtype, &gens[g], got + i * size, want, i);
          }
      free(got);
      cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
    }
  }
}

Test(device_fill, expression_integer_values_exact) {
  require_device();
  int64_t extents[2] = {6, 11};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_I64, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  int64_t *dev = device_alloc(66 * 8);
  cr_assert_eq(tp_device_fill_expression(0, dev, &layout, &tile,
                                         "i0 * 100 - i1", stream),
               TP_SUCCESS, "%s", tp_last_error());
  int64_t host[66];
  read_back(host, dev, sizeof host);
  for (int64_t i0 = 0; i0 < 6; ++i0)
    for (int64_t i1 = 0; i1 < 11; ++i1)
      cr_expect_eq(host[i0 * 11 + i1], i0 * 100 - i1, "(%lld, %lld)",
                   (long long)i0, (long long)i1);
  cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
}

/* Device fills of `text` over `tile` compared byte for byte with the host
 * evaluator's fill of the same tile. */
static void expect_host_bits(const char *text, const tp_layout *layout,
                             const tp_tile *tile) {
  size_t size = tp_dtype_size(layout->dtype), bytes = tile->count * size;
  tp_expression *e = NULL;
  cr_assert_eq(tp_expression_parse(text, layout->ndim, &e), TP_SUCCESS);
  unsigned char *want = malloc(bytes + 1), *got = malloc(bytes + 1);
  cr_assert(want && got);
  cr_assert_eq(tp_expression_fill_host(e, layout, tile, want), TP_SUCCESS);
  void *dev = device_alloc(bytes + 1);
  cr_assert_eq(tp_device_fill_expression(0, dev, layout, tile, text, stream),
               TP_SUCCESS, "%s: %s", text, tp_last_error());
  read_back(got, dev, bytes);
  for (size_t i = 0; i < tile->count; ++i)
    cr_assert_eq(memcmp(got + i * size, want + i * size, size), 0,
                 "\"%s\" as %s: element %zu differs from the host", text,
                 tp_dtype_name(layout->dtype), i);
  cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
  free(want);
  free(got);
  tp_expression_free(e);
}

/* Every function and operator, every dtype, a tile inside a larger tensor:
 * the host's bits. */
Test(device_fill, expressions_give_the_host_bits, .timeout = 600) {
  require_device();
  const char *texts[] = {
      "sin(0.1*i0) + i1 - cos(i2 * 1e-3)",
      "exp(-0.5*i0*i0) * i2 + i1 % 3",
      "pow(2.0, i0) / (i1 + 1) - log(i2 + 1)",
      "tan(i0 + 0.5) + atan2(i1 - 3, i2 - 4) + atan(i0 * 1e10)",
      "asin((i1 - 3) / 4.0) + acos((i2 - 4) / 5.0)",
      "sinh(i0 / 3.0) + cosh(i1 / 7.0) + tanh(i2 - 4)",
      "exp2(i0 - 40) + expm1(i1 * 1e-9) + log2(i2 + 1) + log10(i0 + 1)",
      "sqrt(i0) + fma(i1, 0.1, i2) + fmod(i0 * 1.5, 2.25)",
      "abs(i1 - 5) + min(i0, i2) * max(i1, 2.5) + floor(i0 / 2.0)",
      "ceil(i1 / 3.0) + trunc(-i2 / 2.0) + round(i0 / 4.0)",
      "i0 == i1 ? 1 : i0 < i2 && !(i1 > 3) || i2 % 2 ? -2.5 : 0 / 0.0",
      "9223372036854775807 * i0 + i1 / (i2 - 4) - i0 % (i1 - 3)",
      "sin(1e22 * (i0 + 1)) + 1e300 * i1",
  };
  for (size_t t = 0; t < sizeof texts / sizeof texts[0]; ++t)
    for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
      tp_layout layout;
      tp_tile tile;
      inner_tile((tp_dtype)d, &layout, &tile);
      expect_host_bits(texts[t], &layout, &tile);
    }
}

/* Global indices beyond 2^31 take the 64-bit kernel; the values stay the
 * host's. Only the tile is allocated. */
Test(device_fill, expressions_with_wide_indices) {
  require_device();
  int64_t extents[2] = {(int64_t)3 << 31, 5};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  memset(&tile, 0, sizeof tile);
  tile.offsets[0] = ((int64_t)5 << 30) - 3;
  tile.extents[0] = 7;
  tile.extents[1] = 5;
  tile.first = tile.offsets[0] * 5;
  tile.count = 35;
  expect_host_bits("i0 * 0.5 + i1 - 3e9", &layout, &tile);
  expect_host_bits("i0 % 1000003 + i1 * 1e-3", &layout, &tile);
}

/* The first fill compiles, the second finds the kernel. */
Test(device_fill, expression_compiled_once_per_key) {
  require_device();
  int64_t extents[2] = {40, 3};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  double *dev = device_alloc(120 * 8);
  tp_expression_cache_stats before = TP_EXPRESSION_CACHE_STATS_INIT;
  cr_assert_eq(tp_device_expression_cache_stats(&before), TP_SUCCESS);
  for (int repeat = 0; repeat < 2; ++repeat)
    cr_assert_eq(tp_device_fill_expression(0, dev, &layout, &tile,
                                           "sin(0.1*i0) + i1", stream),
                 TP_SUCCESS, "%s", tp_last_error());
  tp_expression_cache_stats after = TP_EXPRESSION_CACHE_STATS_INIT;
  cr_assert_eq(tp_device_expression_cache_stats(&after), TP_SUCCESS);
  cr_expect_eq(after.compiles, before.compiles + 1);
  cr_expect_eq(after.hits, before.hits + 1);
  cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
}

Test(device_fill, expression_complex_gets_real_part) {
  require_device();
  int64_t extents[1] = {9};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_C64, 1, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  float *dev = device_alloc(9 * 8);
  cr_assert_eq(
      tp_device_fill_expression(0, dev, &layout, &tile, "i0 * 0.5", stream),
      TP_SUCCESS, "%s", tp_last_error());
  float host[18];
  read_back(host, dev, sizeof host);
  for (int i = 0; i < 9; ++i) {
    cr_expect_eq(host[2 * i], 0.5f * (float)i);
    cr_expect_eq(host[2 * i + 1], 0.0f);
  }
  cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
}

Test(device_fill, expression_refused_before_anything_runs) {
  require_device();
  int64_t extents[1] = {4};
  tp_layout layout;
  cr_assert_eq(tp_layout_make(TP_DTYPE_F32, 1, extents, &layout), TP_SUCCESS);
  tp_tile tile;
  cr_assert_eq(tp_layout_whole_tile(&layout, &tile), TP_SUCCESS);
  float *dev = device_alloc(16);
  cr_expect_eq(
      tp_device_fill_expression(0, dev, &layout, &tile, "i0 +* 2", stream),
      TP_ERR_INVALID_ARGUMENT);
  expect_message("column 5");
  cr_expect_eq(tp_device_fill_expression(0, dev, &layout, &tile,
                                         "#include \"/etc/passwd\"", stream),
               TP_ERR_INVALID_ARGUMENT);
  expect_message("column 1");
  cr_assert_eq(tp_pool_free(pool, dev, stream), TP_SUCCESS);
}

/* Through the runtime: tp_allocator_construct_expression on device and
 * pinned buffers, and axpby of the newer dtypes, give the host's bytes. */
static tp_allocator *runtime_allocator(tp_runtime *rt, tp_space_kind space) {
  tp_allocator *a = NULL;
  cr_assert_eq(tp_runtime_allocator(rt, space, TP_BUFFER_LOCAL, &a), TP_SUCCESS,
               "%s", tp_last_error());
  return a;
}

static void expect_same_buffer(tp_runtime *rt, const tp_buffer *got,
                               const tp_buffer *want, const char *what) {
  tp_buffer *h = NULL;
  cr_assert_eq(tp_allocator_construct_copy(runtime_allocator(rt, TP_SPACE_HOST),
                                           got, NULL, stream, &h),
               TP_SUCCESS, "%s", tp_last_error());
  cr_assert_eq(tp_device_stream_synchronize(0, stream), TP_SUCCESS);
  cr_assert_eq(tp_buffer_bytes(h), tp_buffer_bytes(want));
  cr_expect_eq(
      memcmp(tp_buffer_data(h), tp_buffer_data(want), tp_buffer_bytes(want)), 0,
      "%s differs from the host", what);
  tp_buffer_destroy(h);
}

Test(device_fill, construct_expression_and_axpby_on_every_backend) {
  require_device();
  tp_runtime *rt = NULL;
  cr_assert_eq(tp_runtime_create(NULL, &rt), TP_SUCCESS, "%s", tp_last_error());
  const char *text = "i0 * 0.75 - sin(i1) + (i0 == i1 ? 100 : 0)";
  for (int d = 0; d < TP_DTYPE_COUNT; ++d) {
    int64_t extents[2] = {13, 17};
    tp_layout layout;
    cr_assert_eq(tp_layout_make((tp_dtype)d, 2, extents, &layout), TP_SUCCESS);
    tp_buffer *host = NULL;
    cr_assert_eq(
        tp_allocator_construct_expression(runtime_allocator(rt, TP_SPACE_HOST),
                                          &layout, NULL, text, stream, &host),
        TP_SUCCESS, "%s", tp_last_error());
    const tp_space_kind spaces[2] = {TP_SPACE_DEVICE, TP_SPACE_PINNED};
    for (int s = 0; s < 2; ++s) {
      tp_buffer *b = NULL;
      cr_assert_eq(
          tp_allocator_construct_expression(runtime_allocator(rt, spaces[s]),
                                            &layout, NULL, text, stream, &b),
          TP_SUCCESS, "%s", tp_last_error());
      expect_same_buffer(rt, b, host, tp_dtype_name((tp_dtype)d));
      if (d >= TP_DTYPE_F16) { /* the newer types' axpby */
        tp_scalar a = d == TP_DTYPE_F16 || d == TP_DTYPE_BF16
                          ? tp_scalar_real(0.5)
                          : tp_scalar_int(1);
        tp_buffer *r = NULL, *hr = NULL;
        cr_assert_eq(tp_axpby(a, b, a, b, stream, &r), TP_SUCCESS, "%s",
                     tp_last_error());
        cr_assert_eq(tp_axpby(a, host, a, host, stream, &hr), TP_SUCCESS);
        expect_same_buffer(rt, r, hr, "axpby");
        tp_buffer_destroy(r);
        tp_buffer_destroy(hr);
      }
      tp_buffer_destroy(b);
    }
    tp_buffer_destroy(host);
  }
  cr_assert_eq(tp_runtime_destroy(rt), TP_SUCCESS, "%s", tp_last_error());
}
