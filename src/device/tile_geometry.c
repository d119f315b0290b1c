/* A tile's place in its tensor, checked, for the fill kernels. */
#include <string.h>

#include "core/error.h"
#include "device/tile_geometry.h"

tp_status tp_fill_geometry_make(const char *caller, const tp_layout *layout,
                                const tp_tile *tile, tp_fill_geometry *out,
                                size_t *count) {
  if (!layout || !tile)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL layout or tile", caller);
  size_t total = 0;
  tp_status st = tp_layout_count(layout, &total);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", caller);
  if (tp_dtype_size(layout->dtype) == 0 || layout->ndim < 0 ||
      layout->ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: invalid layout (dtype %d, ndim %d)", caller,
                   (int)layout->dtype, layout->ndim);
  memset(out, 0, sizeof *out);
  out->ndim = layout->ndim;
  size_t elements = 1;
  int64_t stride = 1;
  for (int k = layout->ndim - 1; k >= 0; --k) {
    int64_t offset = tile->offsets[k], extent = tile->extents[k];
    if (offset < 0 || extent < 0 || offset > layout->extents[k] ||
        extent > layout->extents[k] - offset)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "%s: tile axis %d covers [%lld, %lld + %lld) outside "
                     "the tensor's extent %lld",
                     caller, k, (long long)offset, (long long)offset,
                     (long long)extent, (long long)layout->extents[k]);
    out->offsets[k] = offset;
    out->extents[k] = extent;
    out->strides[k] = stride;
    stride *= layout->extents[k]; /* bounded by the checked total */
    elements *= (size_t)extent;   /* a sub-block: at most the total */
  }
  if (tile->count != elements)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: tile count %zu does not match its extents (%zu "
                   "elements)",
                   caller, tile->count, elements);
  *count = elements;
  return TP_SUCCESS;
}
