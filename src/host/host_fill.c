/* Host fills: a constant by doubling memcpy, a generator element by element
 * through the same per-element functions as the CUDA kernels, an
 * expression by the evaluator whose math the NVRTC kernels share. */
#include <string.h>

#include "core/error.h"
#include "host/host_kernels.h"
#include "tensor/expression.h"
#include "tensor/generator_math.h"

tp_status tp_host_fill_constant(tp_backend *backend, void *dst, size_t count,
                                tp_dtype dtype, const void *value,
                                tp_stream stream) {
  (void)backend;
  (void)stream;
  size_t elem = tp_dtype_size(dtype);
  if (count == 0)
    return TP_SUCCESS;
  if (!dst || !value || elem == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_constant: NULL dst or value, or unknown "
                   "element type %d",
                   (int)dtype);
  /* Write one element, then double the filled prefix: log2(count) memcpy
   * calls that run at memory bandwidth. */
  char *d = dst;
  memcpy(d, value, elem);
  size_t done = elem, total = count * elem;
  while (done < total) {
    size_t n = done < total - done ? done : total - done;
    memcpy(d + done, d, n);
    done += n;
  }
  return TP_SUCCESS;
}

tp_status tp_host_fill_generator(tp_backend *backend, void *dst,
                                 const tp_layout *layout, const tp_tile *tile,
                                 const tp_generator *generator,
                                 tp_stream stream) {
  (void)backend;
  (void)stream;
  if (!layout || !tile || !generator)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_generator: NULL layout, tile or generator");
  if (tile->count == 0)
    return TP_SUCCESS;
  if (!dst)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_generator: NULL dst for %zu elements",
                   tile->count);
  size_t elem = tp_dtype_size(layout->dtype);
  int ndim = layout->ndim;
  /* The global multi-index, advanced like an odometer within the tile. */
  int64_t index[TP_MAX_NDIM];
  for (int k = 0; k < ndim; ++k)
    index[k] = tile->offsets[k];
  char *d = dst;
  for (size_t i = 0; i < tile->count; ++i) {
    tp_gen_store(generator, layout->dtype, tile->first + i, index, ndim,
                 d + i * elem);
    for (int k = ndim - 1; k >= 0; --k) {
      if (++index[k] < tile->offsets[k] + tile->extents[k])
        break;
      index[k] = tile->offsets[k];
    }
  }
  return TP_SUCCESS;
}

tp_status tp_host_fill_expression(tp_backend *backend, void *dst,
                                  const tp_layout *layout, const tp_tile *tile,
                                  const struct tp_expression *expression,
                                  tp_stream stream) {
  (void)backend;
  (void)stream;
  if (!layout || !tile || !expression)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_expression: NULL layout, tile or expression");
  if (tile->count == 0)
    return TP_SUCCESS;
  if (!dst)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_expression: NULL dst for %zu elements",
                   tile->count);
  if (expression->ndim != layout->ndim)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_host_fill_expression: an expression parsed for %d "
                   "dimensions, a tensor of %d",
                   expression->ndim, layout->ndim);
  return tp_expression_fill_host(expression, layout, tile, dst);
}
