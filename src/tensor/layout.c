#include "tensorpool/layout.h"

#include <string.h>

#include "core/error.h"
#include "core/size_math.h"

size_t tp_dtype_size(tp_dtype dtype) {
  switch (dtype) {
  case TP_DTYPE_F32: return 4;
  case TP_DTYPE_F64: return 8;
  case TP_DTYPE_C64: return 8;
  case TP_DTYPE_C128: return 16;
  case TP_DTYPE_I32: return 4;
  case TP_DTYPE_I64: return 8;
  case TP_DTYPE_F16: return 2;
  case TP_DTYPE_BF16: return 2;
  case TP_DTYPE_I8: return 1;
  case TP_DTYPE_U8: return 1;
  case TP_DTYPE_BOOL: return 1;
  }
  return 0;
}

const char *tp_dtype_name(tp_dtype dtype) {
  switch (dtype) {
  case TP_DTYPE_F32: return "f32";
  case TP_DTYPE_F64: return "f64";
  case TP_DTYPE_C64: return "c64";
  case TP_DTYPE_C128: return "c128";
  case TP_DTYPE_I32: return "i32";
  case TP_DTYPE_I64: return "i64";
  case TP_DTYPE_F16: return "f16";
  case TP_DTYPE_BF16: return "bf16";
  case TP_DTYPE_I8: return "i8";
  case TP_DTYPE_U8: return "u8";
  case TP_DTYPE_BOOL: return "bool";
  }
  return "invalid";
}

/* Elements and bytes of a layout; every product is checked, and the results
 * also fit int64_t, so linear indices never overflow either. */
static tp_status layout_sizes(const char *fn, const tp_layout *layout,
                              size_t *count, size_t *bytes) {
  size_t elem = tp_dtype_size(layout->dtype);
  if (elem == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: unknown element type %d", fn,
                   (int)layout->dtype);
  if (layout->ndim < 0 || layout->ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: ndim %d is outside 0..%d", fn,
                   layout->ndim, TP_MAX_NDIM);
  int empty = 0;
  for (int k = 0; k < layout->ndim; ++k) {
    int64_t e = layout->extents[k];
    if (e < 0)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: extent %d is negative (%lld)", fn, k, (long long)e);
    empty = empty || e == 0;
  }
  /* A zero extent makes the tensor empty, however large the others are:
   * the product is 0, not an overflow. */
  size_t n = empty ? 0 : 1;
  for (int k = 0; !empty && k < layout->ndim; ++k) {
    int64_t e = layout->extents[k];
    if (tp_mul_overflows((size_t)n, (uint64_t)e, &n) || n > (size_t)INT64_MAX)
      return tp_fail(TP_ERR_OVERFLOW,
                     "%s: the element count overflows at axis %d (extent "
                     "%lld)",
                     fn, k, (long long)e);
  }
  size_t b;
  if (tp_mul_overflows(n, elem, &b) || b > (size_t)INT64_MAX)
    return tp_fail(TP_ERR_OVERFLOW,
                   "%s: %zu elements of %s overflow the byte size", fn, n,
                   tp_dtype_name(layout->dtype));
  if (count)
    *count = n;
  if (bytes)
    *bytes = b;
  return TP_SUCCESS;
}

tp_status tp_layout_make(tp_dtype dtype, int ndim, const int64_t *extents,
                         tp_layout *out) {
  if (!out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_layout_make: NULL out");
  if (ndim > 0 && !extents)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_make: NULL extents for ndim %d", ndim);
  /* Checked before reading `extents`, which holds `ndim` values only. */
  if (ndim < 0 || ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_make: ndim %d is outside 0..%d", ndim,
                   TP_MAX_NDIM);
  tp_layout l;
  memset(&l, 0, sizeof l);
  l.dtype = dtype;
  l.ndim = ndim;
  for (int k = 0; k < ndim; ++k)
    l.extents[k] = extents[k];
  tp_status st = layout_sizes("tp_layout_make", &l, NULL, NULL);
  if (st == TP_SUCCESS)
    *out = l;
  return st;
}

tp_status tp_layout_count(const tp_layout *layout, size_t *out) {
  if (!layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_count: NULL layout or out");
  return layout_sizes("tp_layout_count", layout, out, NULL);
}

tp_status tp_layout_bytes(const tp_layout *layout, size_t *out) {
  if (!layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_bytes: NULL layout or out");
  return layout_sizes("tp_layout_bytes", layout, NULL, out);
}

tp_status tp_layout_equal(const tp_layout *a, const tp_layout *b, int *out) {
  if (!a || !b || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_equal: NULL layout or out");
  int same = a->dtype == b->dtype && a->ndim == b->ndim;
  for (int k = 0; same && k < a->ndim && k < TP_MAX_NDIM; ++k)
    same = a->extents[k] == b->extents[k];
  *out = same;
  return TP_SUCCESS;
}

tp_status tp_layout_whole_tile(const tp_layout *layout, tp_tile *out) {
  if (!layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_layout_whole_tile: NULL layout or out");
  size_t count;
  tp_status st = layout_sizes("tp_layout_whole_tile", layout, &count, NULL);
  if (st != TP_SUCCESS)
    return st;
  memset(out, 0, sizeof *out);
  for (int k = 0; k < layout->ndim; ++k)
    out->extents[k] = layout->extents[k];
  out->count = count;
  return TP_SUCCESS;
}
