/* libFuzzer target: layouts, tilings and generators with extreme extents
 * and numbers of dimensions, and generator parameters at the edges of the
 * doubles (include/tensorpool/layout.h, generator.h).
 *
 * Checked for every input: the status each call documents; element and
 * byte counts against 128-bit arithmetic; tiles that partition axis 0 as
 * the block split promises (or as the rows given); generator values inside
 * their documented ranges and independent of the tile they are computed
 * in, also far out at linear indices near 2^63; and, for small tensors, the
 * same bits through the public allocator verbs of a host runtime. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "host/host_kernels.h"
#include "tensor/generator_math.h"
#include "tensor/tiling_internal.h"
#include "tensorpool/allocator.h"
#include "tensorpool/generator.h"
#include "tensorpool/layout.h"

typedef unsigned __int128 u128;

static void broken(const char *what, ...) __attribute__((format(printf, 1, 2)));
static void broken(const char *what, ...) {
  va_list ap;
  va_start(ap, what);
  fprintf(stderr, "fuzz_layout: ");
  vfprintf(stderr, what, ap);
  fprintf(stderr, "\n  last error: %s\n", tp_last_error());
  va_end(ap);
  abort();
}
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      broken(__VA_ARGS__);                                                     \
  } while (0)
#define CHECK_STATUS(got, want, what)                                          \
  CHECK((got) == (want), "%s returned %s, expected %s", what,                  \
        tp_status_name(got), tp_status_name(want))

/* ---- drawing extreme values ---- */

static int64_t draw_extent(fuzz_input *in) {
  uint8_t k = fuzz_u8(in);
  switch (k % 16) {
  case 8: return fuzz_u8(in);
  case 9: return fuzz_u16(in);
  case 10: return (int64_t)fuzz_u32(in);
  case 11: return INT64_MAX;
  case 12: return (int64_t)fuzz_u64(in);
  case 13: return -1 - (int64_t)fuzz_u8(in);
  case 14:
    return ((int64_t)1 << (31 + fuzz_pick(in, 2))) - 1 + fuzz_pick(in, 3);
  case 15: return (int64_t)1 << fuzz_pick(in, 63);
  default: return k % 16; /* 0..7 */
  }
}

static double draw_double(fuzz_input *in) {
  static const double table[] = {
      0.0,        -0.0,    1.0,        -1.0,          0.5,      2.0,
      7.0,        -3.0,    1e308,      -1e308,        INFINITY, -INFINITY,
      NAN,        0x1p63,  -0x1p63,    0x1p63 - 1024, 0x1p31,   -0x1p31,
      0x1p31 - 1, DBL_MIN, 4.9e-324,   3.4028235e38,  3.5e38,   -3.5e38,
      1e-300,     0x1p53,  0x1p53 + 2, 1e16,          -0x1p62};
  enum { N = sizeof table / sizeof table[0] };
  uint8_t k = fuzz_u8(in);
  if (k < N)
    return table[k];
  if (k < 200)
    return (double)(int32_t)fuzz_u32(in);
  uint64_t bits = fuzz_u64(in);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* ---- layouts ---- */

/* The status tp_layout_make documents, and the true element count: a
 * negative extent is invalid, a zero extent makes an empty tensor however
 * large the others are, otherwise count and bytes must fit int64_t. */
static tp_status expected_layout(tp_dtype dtype, int ndim, const int64_t *ext,
                                 u128 *count) {
  *count = 0;
  if (ndim < 0 || ndim > TP_MAX_NDIM || tp_dtype_size(dtype) == 0)
    return TP_ERR_INVALID_ARGUMENT;
  bool zero = false;
  for (int k = 0; k < ndim; k++) {
    if (ext[k] < 0)
      return TP_ERR_INVALID_ARGUMENT;
    zero |= ext[k] == 0;
  }
  if (zero)
    return TP_SUCCESS;
  u128 product = 1;
  for (int k = 0; k < ndim && product <= (u128)INT64_MAX; k++)
    product *= (u128)ext[k];
  *count = product;
  if (product > (u128)INT64_MAX ||
      product * tp_dtype_size(dtype) > (u128)INT64_MAX)
    return TP_ERR_OVERFLOW;
  return TP_SUCCESS;
}

static void check_layout(const tp_layout *l, u128 count) {
  size_t n = 0, bytes = 0;
  CHECK_STATUS(tp_layout_count(l, &n), TP_SUCCESS, "tp_layout_count");
  CHECK_STATUS(tp_layout_bytes(l, &bytes), TP_SUCCESS, "tp_layout_bytes");
  CHECK((u128)n == count && (u128)bytes == count * tp_dtype_size(l->dtype),
        "count %zu, bytes %zu for a true count of %" PRIu64, n, bytes,
        (uint64_t)count);
  tp_tile whole;
  CHECK_STATUS(tp_layout_whole_tile(l, &whole), TP_SUCCESS,
               "tp_layout_whole_tile");
  CHECK(whole.count == n && whole.first == 0 && whole.part == 0,
        "the whole tile has count %zu, first %" PRId64, whole.count,
        whole.first);
  for (int k = 0; k < l->ndim; k++)
    CHECK(whole.extents[k] == l->extents[k] && whole.offsets[k] == 0,
          "whole tile axis %d", k);
  int same = 0;
  tp_layout_equal(l, l, &same);
  CHECK(same == 1, "a layout differs from itself");
  tp_layout other = *l;
  if (other.ndim > 0)
    other.extents[other.ndim - 1] ^= 1;
  else
    other.dtype = other.dtype == TP_DTYPE_F32 ? TP_DTYPE_F64 : TP_DTYPE_F32;
  tp_layout_equal(l, &other, &same);
  CHECK(same == 0, "layouts that differ compare equal");
}

/* Elements per row of axis 0: 0 for an empty tensor (whose other extents
 * may multiply past 2^64), exact otherwise. */
static uint64_t row_size(const tp_layout *l) {
  for (int k = 0; k < l->ndim; k++)
    if (l->extents[k] == 0)
      return 0;
  uint64_t n = 1;
  for (int k = 1; k < l->ndim; k++)
    n *= (uint64_t)l->extents[k];
  return n;
}

static int64_t axis_rows(const tp_layout *l) {
  return l->ndim == 0 ? 1 : l->extents[0];
}

/* ---- tilings ---- */

/* Every part's rows and tile, against a block split or the given rows. */
static void check_tiling(const tp_tiling *t, const tp_layout *l, int parts,
                         const int64_t *given) {
  CHECK(tp_tiling_parts(t) == parts, "%d parts, made with %d",
        tp_tiling_parts(t), parts);
  int64_t rows = axis_rows(l), base = rows / parts, extra = rows % parts;
  uint64_t rs = row_size(l);
  int64_t next = 0;
  u128 total = 0;
  for (int p = 0; p < parts; p++) {
    int64_t first = -1, mine = -1;
    CHECK_STATUS(tp_tiling_rows(t, p, &first, &mine), TP_SUCCESS,
                 "tp_tiling_rows");
    int64_t want = given ? given[p] : base + (p < extra ? 1 : 0);
    CHECK(first == next && mine == want,
          "part %d holds rows [%" PRId64 ", +%" PRId64 "), expected [%" PRId64
          ", +%" PRId64 ")",
          p, first, mine, next, want);
    tp_tile tile;
    CHECK_STATUS(tp_tiling_tile(t, p, &tile), TP_SUCCESS, "tp_tiling_tile");
    CHECK(tile.part == p && tile.count == (size_t)((uint64_t)mine * rs) &&
              tile.first == (int64_t)((uint64_t)first * rs),
          "part %d: tile of %zu elements from %" PRId64, p, tile.count,
          tile.first);
    if (l->ndim > 0)
      CHECK(tile.offsets[0] == first && tile.extents[0] == mine,
            "part %d: tile offsets/extents of axis 0", p);
    for (int k = 1; k < l->ndim; k++)
      CHECK(tile.extents[k] == l->extents[k] && tile.offsets[k] == 0,
            "part %d: tile axis %d", p, k);
    total += tile.count;
    next = first + mine;
  }
  CHECK(next == rows, "the parts cover %" PRId64 " of %" PRId64 " rows", next,
        rows);
  size_t count = 0;
  tp_layout_count(l, &count);
  CHECK(total == count, "the tiles hold %" PRIu64 " of %zu elements",
        (uint64_t)total, count);
  tp_tile tile;
  CHECK_STATUS(tp_tiling_tile(t, parts, &tile), TP_ERR_INVALID_ARGUMENT,
               "tp_tiling_tile past the last part");
  CHECK_STATUS(tp_tiling_tile(t, -1, &tile), TP_ERR_INVALID_ARGUMENT,
               "tp_tiling_tile of part -1");
}

/* Parts the fuzzer asks for: up to 2^16 (checked part by part), the bound
 * TP_MAX_PARTS and beyond it. */
static int draw_parts(fuzz_input *in, int64_t rows) {
  switch (fuzz_pick(in, 10)) {
  case 8: return TP_MAX_PARTS + (int)fuzz_pick(in, 2);
  case 9: return INT32_MAX;
  case 0: return 0;
  case 1: return -1 - fuzz_u8(in);
  case 2: return 1;
  case 3: return 1 + fuzz_u8(in);
  case 4: return 1 + fuzz_u16(in) % 4096;
  case 5: return rows >= 1 && rows <= 65536 ? (int)rows : 2;
  case 6: return rows >= 0 && rows < 65536 ? (int)rows + 1 : 3;
  default: return 1 + fuzz_u16(in);
  }
}

static void fuzz_tilings(fuzz_input *in, const tp_layout *l) {
  int64_t rows = axis_rows(l);
  int parts = draw_parts(in, rows);
  tp_tiling *t = NULL;
  tp_status st = tp_tiling_create_block(l, parts, &t);
  if (parts < 1 || parts > TP_MAX_PARTS) {
    CHECK_STATUS(st, TP_ERR_INVALID_ARGUMENT, "tp_tiling_create_block");
    CHECK(t == NULL, "a refused tiling was made");
    return;
  }
  CHECK_STATUS(st, TP_SUCCESS, "tp_tiling_create_block");
  if (parts > 65536) { /* the bound itself: made, not checked part by part */
    CHECK(tp_tiling_parts(t) == parts, "%d parts, made with %d",
          tp_tiling_parts(t), parts);
    tp_tiling_destroy(t);
    return;
  }
  check_tiling(t, l, parts, NULL);
  tp_tiling *copy = NULL;
  CHECK_STATUS(tp_tiling_clone(t, &copy), TP_SUCCESS, "tp_tiling_clone");
  int same = 0;
  tp_tiling_equal(t, copy, &same);
  CHECK(same == 1, "a clone differs from its tiling");
  tp_tiling_destroy(copy);
  tp_tiling_destroy(t);

  /* An uneven split from rows the input gives. */
  int n = 1 + fuzz_pick(in, 16);
  int64_t given[16];
  u128 sum = 0;
  bool negative = false;
  for (int p = 0; p < n; p++) {
    switch (fuzz_pick(in, 6)) {
    case 0: given[p] = 0; break;
    case 1: given[p] = rows - (int64_t)(sum > (u128)rows ? rows : sum); break;
    case 2: given[p] = fuzz_u16(in); break;
    case 3: given[p] = -1; break;
    case 4: given[p] = INT64_MAX; break;
    default: given[p] = 1; break;
    }
    negative |= given[p] < 0;
    if (given[p] > 0)
      sum += (u128)given[p];
  }
  st = tp_tiling_create(l, n, given, &t);
  if (negative || sum != (u128)rows) {
    CHECK_STATUS(st, TP_ERR_INVALID_ARGUMENT, "tp_tiling_create");
    return;
  }
  CHECK_STATUS(st, TP_SUCCESS, "tp_tiling_create");
  check_tiling(t, l, n, given);
  tp_tiling_destroy(t);
}

/* ---- generators ---- */

/* [lo, hi) of the values an integer type holds, as doubles (exact). */
static bool integer_range(tp_dtype dtype, double *lo, double *hi) {
  switch (dtype) {
  case TP_DTYPE_I32: *lo = -0x1p31, *hi = 0x1p31; return true;
  case TP_DTYPE_I64: *lo = -0x1p63, *hi = 0x1p63; return true;
  case TP_DTYPE_I8: *lo = -128, *hi = 128; return true;
  case TP_DTYPE_U8: *lo = 0, *hi = 256; return true;
  case TP_DTYPE_BOOL: *lo = 0, *hi = 2; return true;
  default: return false;
  }
}

/* i8, u8, bool: steps and coefficients lie within +-this. */
static double small_step(tp_dtype dtype) {
  return dtype == TP_DTYPE_I8 ? 128 : dtype == TP_DTYPE_U8 ? 255 : 1;
}

static bool is_small(tp_dtype dtype) {
  return dtype == TP_DTYPE_I8 || dtype == TP_DTYPE_U8 || dtype == TP_DTYPE_BOOL;
}

static bool is_half(tp_dtype dtype) {
  return dtype == TP_DTYPE_F16 || dtype == TP_DTYPE_BF16;
}

/* A value in the type (start, offset, diagonal), as generator.h says:
 * finite, and for an integer type an integer the type holds. */
static bool value_fits(double v, tp_dtype dtype) {
  double lo, hi;
  if (!isfinite(v))
    return false;
  return !integer_range(dtype, &lo, &hi) ||
         (v == floor(v) && v >= lo && v < hi);
}

/* A step or coefficient: like a value, but within +-step for the 8-bit
 * types. */
static bool step_fits(double v, tp_dtype dtype) {
  if (!is_small(dtype))
    return value_fits(v, dtype);
  double s = small_step(dtype);
  return isfinite(v) && v == floor(v) && v >= -s && v <= s;
}

/* A double rounded to the 16-bit type, back as a double. */
static double as_half(double v, tp_dtype dtype) {
  return dtype == TP_DTYPE_BF16 ? tp_bf16_to_double(tp_bf16_from_double(v))
                                : tp_f16_to_double(tp_f16_from_double(v));
}

/* tp_generator_check as generator.h documents it. */
static tp_status expected_check(const tp_generator *g, tp_dtype dtype) {
  double tlo, thi;
  bool integer = integer_range(dtype, &tlo, &thi);
  bool ok;
  switch (g->kind) {
  case TP_GENERATOR_ARANGE:
    ok = value_fits(g->p.arange.start, dtype) &&
         step_fits(g->p.arange.step, dtype);
    break;
  case TP_GENERATOR_AFFINE:
    ok = value_fits(g->p.affine.offset, dtype);
    for (int k = 0; k < TP_MAX_NDIM; k++)
      ok = ok && step_fits(g->p.affine.coeff[k], dtype);
    break;
  case TP_GENERATOR_IDENTITY:
    ok = value_fits(g->p.identity.diagonal, dtype);
    break;
  case TP_GENERATOR_UNIFORM: {
    double lo = g->p.uniform.lo, hi = g->p.uniform.hi;
    ok = isfinite(lo) && isfinite(hi) && lo < hi && isfinite(hi - lo);
    /* The exclusive hi may be one past the type's largest value. */
    if (integer)
      ok = ok && lo == floor(lo) && hi == floor(hi) && lo >= tlo && hi <= thi;
    if (dtype == TP_DTYPE_F32 || dtype == TP_DTYPE_C64)
      ok = ok && isfinite((float)lo) && isfinite((float)hi) &&
           (float)lo < (float)hi;
    if (is_half(dtype))
      ok = ok && isfinite(as_half(lo, dtype)) && isfinite(as_half(hi, dtype)) &&
           as_half(lo, dtype) < as_half(hi, dtype);
    break;
  }
  case TP_GENERATOR_NORMAL:
    ok = !integer && isfinite(g->p.normal.mean) &&
         isfinite(g->p.normal.stddev) && g->p.normal.stddev >= 0.0;
    break;
  default: ok = false; break;
  }
  return ok ? TP_SUCCESS : TP_ERR_INVALID_ARGUMENT;
}

static tp_generator draw_generator(fuzz_input *in) {
  tp_generator g;
  memset(&g, 0, sizeof g);
  g.kind = (tp_generator_kind)fuzz_pick(in, 6); /* 5: no such kind */
  switch (g.kind) {
  case TP_GENERATOR_ARANGE:
    g.p.arange.start = draw_double(in);
    g.p.arange.step = draw_double(in);
    break;
  case TP_GENERATOR_AFFINE: {
    double coeff[TP_MAX_NDIM];
    for (int k = 0; k < TP_MAX_NDIM; k++)
      coeff[k] = draw_double(in);
    double offset = draw_double(in);
    g = tp_generator_affine(offset, 1 + fuzz_pick(in, TP_MAX_NDIM), coeff);
    break;
  }
  case TP_GENERATOR_IDENTITY: g.p.identity.diagonal = draw_double(in); break;
  case TP_GENERATOR_UNIFORM:
    g.p.uniform.lo = draw_double(in);
    g.p.uniform.hi = draw_double(in);
    g.p.uniform.seed = fuzz_u64(in);
    break;
  case TP_GENERATOR_NORMAL:
    g.p.normal.mean = draw_double(in);
    g.p.normal.stddev = draw_double(in);
    g.p.normal.seed = fuzz_u64(in);
    break;
  default: break;
  }
  return g;
}

/* The multi-index of `linear` in `l` (linear < count). */
static void index_of(const tp_layout *l, uint64_t linear, int64_t *index) {
  for (int k = l->ndim - 1; k >= 0; k--) {
    uint64_t e = (uint64_t)l->extents[k];
    index[k] = (int64_t)(linear % e);
    linear /= e;
  }
}

/* One element's documented range, from its stored bytes. */
static void check_value(const tp_generator *g, tp_dtype dtype,
                        const unsigned char *v, const int64_t *index,
                        int ndim) {
  double parts[2] = {0, 0};
  int n = 1;
  int64_t integer = 0;
  switch (dtype) {
  case TP_DTYPE_F32: {
    float f;
    memcpy(&f, v, 4);
    parts[0] = f;
    break;
  }
  case TP_DTYPE_F64: memcpy(parts, v, 8); break;
  case TP_DTYPE_C64: {
    float f[2];
    memcpy(f, v, 8);
    parts[0] = f[0];
    parts[1] = f[1];
    n = 2;
    break;
  }
  case TP_DTYPE_C128:
    memcpy(parts, v, 16);
    n = 2;
    break;
  case TP_DTYPE_I32: {
    int32_t i;
    memcpy(&i, v, 4);
    integer = i;
    break;
  }
  case TP_DTYPE_I64: memcpy(&integer, v, 8); break;
  case TP_DTYPE_F16:
  case TP_DTYPE_BF16: {
    uint16_t h;
    memcpy(&h, v, 2);
    parts[0] =
        dtype == TP_DTYPE_F16 ? tp_f16_to_double(h) : tp_bf16_to_double(h);
    break;
  }
  case TP_DTYPE_I8: integer = (int8_t)v[0]; break;
  case TP_DTYPE_U8: integer = v[0]; break;
  case TP_DTYPE_BOOL:
    integer = v[0];
    CHECK(integer == 0 || integer == 1, "a bool element holds %d", v[0]);
    break;
  }
  double tlo, thi;
  bool is_int = integer_range(dtype, &tlo, &thi);
  bool narrow = dtype == TP_DTYPE_F32 || dtype == TP_DTYPE_C64;
  if (g->kind == TP_GENERATOR_UNIFORM) {
    double lo = g->p.uniform.lo, hi = g->p.uniform.hi;
    if (is_int) {
      /* In integers: a double near 2^63 would round. hi = 2^63 (one past
       * INT64_MAX) bounds nothing. */
      CHECK(integer >= (int64_t)lo && (hi >= 0x1p63 || integer < (int64_t)hi),
            "uniform integer %" PRId64 " outside [%.17g, %.17g)", integer, lo,
            hi);
      return;
    }
    if (narrow) {
      lo = (float)lo;
      hi = (float)hi;
    } else if (is_half(dtype)) {
      lo = as_half(lo, dtype);
      hi = as_half(hi, dtype);
    }
    for (int i = 0; i < n; i++)
      CHECK(parts[i] >= lo && parts[i] < hi,
            "uniform %.17g outside [%.17g, %.17g) for %s", parts[i], lo, hi,
            tp_dtype_name(dtype));
  } else if (g->kind == TP_GENERATOR_NORMAL) {
    for (int i = 0; i < n; i++)
      CHECK(!isnan(parts[i]), "normal gave NaN from mean %g, stddev %g",
            g->p.normal.mean, g->p.normal.stddev);
  } else if (g->kind == TP_GENERATOR_IDENTITY) {
    bool diagonal = true;
    for (int k = 1; k < ndim; k++)
      diagonal = diagonal && index[k] == index[0];
    if (!diagonal)
      CHECK(is_int ? integer == 0 : parts[0] == 0.0 && parts[1] == 0.0,
            "identity off its diagonal is not 0");
  }
  if (!is_int && g->kind != TP_GENERATOR_UNIFORM)
    CHECK(n == 1 || parts[1] == 0.0 || g->kind == TP_GENERATOR_NORMAL,
          "a real generator gave an imaginary part");
}

#define WINDOW 256 /* elements filled at once */

/* Fills the rows [first, first + rows) through the host fill loop and
 * checks every element against its own computation and range. */
static void fill_rows(const tp_generator *g, const tp_layout *l, int64_t first,
                      int64_t rows, unsigned char *out) {
  tp_tile tile;
  tp_tile_of_rows(l, 0, first, rows, &tile);
  size_t elem = tp_dtype_size(l->dtype);
  CHECK_STATUS(tp_host_fill_generator(NULL, out, l, &tile, g, NULL), TP_SUCCESS,
               "tp_host_fill_generator");
  for (size_t i = 0; i < tile.count; i++) {
    uint64_t linear = (uint64_t)tile.first + i;
    int64_t index[TP_MAX_NDIM];
    index_of(l, linear, index);
    unsigned char want[16];
    tp_gen_store(g, l->dtype, linear, index, l->ndim, want);
    CHECK(memcmp(want, out + i * elem, elem) == 0,
          "element %" PRIu64 " of the fill differs from its own value", linear);
    check_value(g, l->dtype, out + i * elem, index, l->ndim);
  }
}

/* A window of rows somewhere along axis 0 (also at its far end), and the
 * window one row later: the rows both hold must have the same bits. */
static void fuzz_values(fuzz_input *in, const tp_generator *g,
                        const tp_layout *l) {
  size_t count = 0;
  tp_layout_count(l, &count);
  uint64_t rs = row_size(l);
  if (count == 0 || rs > WINDOW / 2)
    return;
  int64_t rows = axis_rows(l), first;
  switch (fuzz_pick(in, 4)) {
  case 0: first = 0; break;
  case 1: first = rows - 1; break;
  case 2: first = rows / 2; break;
  default: first = (int64_t)(fuzz_u64(in) % (uint64_t)rows); break;
  }
  int64_t take = (int64_t)(WINDOW / 2 / rs);
  if (take > rows - first)
    take = rows - first;
  static unsigned char a[WINDOW * 16], b[WINDOW * 16];
  fill_rows(g, l, first, take, a);
  if (take < 2)
    return;
  fill_rows(g, l, first + 1, take - 1, b);
  size_t elem = tp_dtype_size(l->dtype);
  CHECK(memcmp(a + rs * elem, b, (size_t)(take - 1) * rs * elem) == 0,
        "the same elements differ between two tiles");
}

/* ---- the public verbs, for small tensors ---- */

static tp_runtime *runtime(void) {
  static tp_runtime *rt;
  if (!rt) {
    tp_runtime_config c = TP_RUNTIME_CONFIG_INIT;
    c.host_budget = (size_t)64 << 20; /* bigger tensors: out of memory */
    CHECK_STATUS(tp_runtime_create(&c, &rt), TP_SUCCESS, "tp_runtime_create");
  }
  return rt;
}

static void fuzz_allocators(fuzz_input *in, const tp_generator *g,
                            tp_status check, const tp_layout *l) {
  tp_runtime *rt = runtime();
  tp_buffer_kind kind = (tp_buffer_kind)fuzz_pick(in, TP_BUFFER_KIND_COUNT);
  tp_access access = (tp_access)fuzz_pick(in, 3); /* 2: no such access */
  tp_allocator_choice choice = TP_ALLOCATOR_CHOICE_INIT;
  tp_status st = tp_allocator_choose(rt, l, kind, access, &choice);
  if (access != TP_ACCESS_ANY && access != TP_ACCESS_HOST) {
    CHECK_STATUS(st, TP_ERR_INVALID_ARGUMENT, "tp_allocator_choose");
  } else {
    CHECK(st == TP_SUCCESS || st == TP_ERR_OUT_OF_MEMORY,
          "tp_allocator_choose returned %s", tp_status_name(st));
    CHECK(choice.reason && choice.reason[0], "a choice without a reason");
  }
  size_t bytes = 0;
  tp_layout_bytes(l, &bytes);
  if (bytes > (size_t)64 << 10)
    return;
  tp_allocator *a;
  CHECK_STATUS(tp_runtime_allocator(rt, TP_SPACE_HOST, kind, &a), TP_SUCCESS,
               "tp_runtime_allocator");
  tp_buffer *buf = NULL;
  st = tp_allocator_construct_generator(a, l, NULL, g, NULL, &buf);
  if (check != TP_SUCCESS) {
    CHECK_STATUS(st, TP_ERR_INVALID_ARGUMENT,
                 "tp_allocator_construct_generator of a refused generator");
    CHECK(buf == NULL, "a refused construction left a buffer");
    return;
  }
  CHECK_STATUS(st, TP_SUCCESS, "tp_allocator_construct_generator");
  const tp_tile *tile = tp_buffer_tile(buf);
  const unsigned char *data = tp_buffer_data(buf);
  size_t elem = tp_dtype_size(l->dtype);
  for (size_t i = 0; i < tile->count; i++) {
    uint64_t linear = (uint64_t)tile->first + i;
    int64_t index[TP_MAX_NDIM];
    index_of(l, linear, index);
    unsigned char want[16];
    tp_gen_store(g, l->dtype, linear, index, l->ndim, want);
    CHECK(memcmp(want, data + i * elem, elem) == 0,
          "a constructed %s buffer differs at element %" PRIu64,
          tp_buffer_kind_name(kind), linear);
  }
  CHECK_STATUS(tp_buffer_destroy(buf), TP_SUCCESS, "tp_buffer_destroy");
}

/* ---- the run ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = fuzz_input_make(data, size);
  tp_dtype dtype = (tp_dtype)fuzz_pick(&in, TP_DTYPE_COUNT + 2);
  int ndim = (int)fuzz_pick(&in, TP_MAX_NDIM + 4) - 2; /* -2 .. 9 */
  int64_t ext[TP_MAX_NDIM + 2];
  for (int k = 0; k < TP_MAX_NDIM + 2; k++)
    ext[k] = draw_extent(&in);
  u128 count;
  tp_status want = expected_layout(dtype, ndim, ext, &count);
  tp_layout l;
  memset(&l, 0, sizeof l);
  tp_status st = tp_layout_make(dtype, ndim, ext, &l);
  CHECK_STATUS(st, want, "tp_layout_make");
  if (st != TP_SUCCESS)
    return 0;
  check_layout(&l, count);
  fuzz_tilings(&in, &l);
  tp_generator g = draw_generator(&in);
  tp_status check = tp_generator_check(&g, &l);
  CHECK_STATUS(check, expected_check(&g, dtype), "tp_generator_check");
  if (check == TP_SUCCESS)
    fuzz_values(&in, &g, &l);
  fuzz_allocators(&in, &g, check, &l);
  return 0;
}
