/* The public entries of the expression language (tensorpool/expression.h):
 * checking a text, and constructing a tensor from one on any backend. */
#include "tensorpool/expression.h"

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"
#include "tensor/expression.h"

tp_status tp_expression_check(const char *expression, int ndim) {
  tp_expression *e = NULL;
  tp_status st =
      tp_expression_parse_for("tp_expression_check", expression, ndim, &e);
  tp_expression_free(e);
  return st;
}

tp_status tp_allocator_construct_expression(tp_allocator *allocator,
                                            const tp_layout *layout,
                                            const tp_tiling *tiling,
                                            const char *expression,
                                            tp_stream stream, tp_buffer **out) {
  static const char fn[] = "tp_allocator_construct_expression";
  if (!allocator || !layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   !allocator ? "allocator"
                   : !layout  ? "layout"
                              : "out-pointer");
  if (layout->ndim < 0 || layout->ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: ndim %d outside 0..%d", fn,
                   layout->ndim, TP_MAX_NDIM);
  /* Parse first: text that is not an expression allocates nothing. */
  tp_expression *e = NULL;
  tp_status st = tp_expression_parse_for(fn, expression, layout->ndim, &e);
  if (st != TP_SUCCESS)
    return st;
  tp_buffer *b = NULL;
  st = tp_buffer_new(fn, allocator, layout, tiling, stream, &b);
  if (st == TP_SUCCESS) {
    tp_backend *backend = tp_allocator_backend_of(allocator);
    st = backend->ops->fill_expression(backend, b->data, &b->layout, &b->tile,
                                       e, stream);
    if (st != TP_SUCCESS) {
      st = tp_fail_context(st, "%s", fn);
      tp_buffer_free(b);
    } else {
      *out = b;
    }
  }
  tp_expression_free(e);
  return st;
}
