/* Operations whose results are allocated through the operands' allocators
 * (propagation); the rule for mixed operands is in tensorpool/ops.h and
 * docs/buffers.md. */
#include "tensorpool/ops.h"

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"
#include "tensor/convert_internal.h"

tp_status tp_buffer_clone(const tp_buffer *buffer, tp_stream stream,
                          tp_buffer **out) {
  if (!buffer || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_buffer_clone: NULL %s",
                   !buffer ? "buffer" : "out-pointer");
  return tp_convert_clone(buffer, stream, out);
}

/* Device over pinned over host: where arithmetic is cheapest. */
static int speed(tp_space_kind kind) {
  return kind == TP_SPACE_DEVICE ? 2 : kind == TP_SPACE_PINNED ? 1 : 0;
}

tp_status tp_result_allocator(const tp_buffer *x, const tp_buffer *y,
                              tp_allocator **out) {
  if (!x || !y || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_result_allocator: NULL operand or out");
  const tp_allocator *winner = x->allocator;
  if (speed(y->allocator->backend) > speed(x->allocator->backend))
    winner = y->allocator;
  return tp_allocator_rebind(winner, x->kind, out);
}

static tp_status check_operands(const tp_buffer *x, const tp_buffer *y) {
  int same = 0;
  tp_layout_equal(&x->layout, &y->layout, &same);
  if (!same)
    return tp_fail(TP_ERR_MISMATCH,
                   "tp_axpby: x is a %s %d-d tensor, y a %s %d-d one, or "
                   "their extents differ",
                   tp_dtype_name(x->layout.dtype), x->layout.ndim,
                   tp_dtype_name(y->layout.dtype), y->layout.ndim);
  if (x->kind != y->kind)
    return tp_fail(TP_ERR_MISMATCH, "tp_axpby: x is %s, y is %s",
                   tp_buffer_kind_name(x->kind), tp_buffer_kind_name(y->kind));
  if (x->kind == TP_BUFFER_DISTRIBUTED) {
    tp_tiling_equal(x->tiling, y->tiling, &same);
    if (!same)
      return tp_fail(TP_ERR_MISMATCH,
                     "tp_axpby: x and y are tiled differently; redistribute "
                     "one of them first (tp_allocator_construct_copy)");
  }
  if (x->allocator->runtime != y->allocator->runtime)
    return tp_fail(TP_ERR_MISMATCH,
                   "tp_axpby: x and y belong to different runtimes");
  return TP_SUCCESS;
}

/* The operand's data in `backend`'s space: itself, or a copy in *staged. */
static tp_status operand_in(tp_backend *backend, const tp_buffer *b,
                            tp_stream stream, const void **data,
                            void **staged) {
  *staged = NULL;
  *data = b->data;
  tp_backend *own = tp_allocator_backend_of(b->allocator);
  if (own == backend || b->bytes == 0)
    return TP_SUCCESS;
  tp_status st = tp_pool_alloc(backend->pool, b->bytes, stream, staged);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *mover = backend->kind != TP_SPACE_HOST ? backend : own;
  st = mover->ops->copy(mover, *staged, b->data, b->bytes, stream);
  *data = *staged;
  return st;
}

tp_status tp_axpby(tp_scalar alpha, const tp_buffer *x, tp_scalar beta,
                   const tp_buffer *y, tp_stream stream, tp_buffer **out) {
  if (!x || !y || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_axpby: NULL %s",
                   !x   ? "x"
                   : !y ? "y"
                        : "out");
  tp_status st = check_operands(x, y);
  if (st != TP_SUCCESS)
    return st;
  unsigned char a[16], b[16];
  st = tp_scalar_store(alpha, x->layout.dtype, a);
  if (st == TP_SUCCESS)
    st = tp_scalar_store(beta, x->layout.dtype, b);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_axpby");
  tp_allocator *ra;
  st = tp_result_allocator(x, y, &ra);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_axpby");
  tp_buffer *r;
  st = tp_buffer_new("tp_axpby", ra, &x->layout, x->tiling, stream, &r);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *backend = tp_allocator_backend_of(ra);
  const void *xd = NULL, *yd = NULL;
  void *xs = NULL, *ys = NULL;
  /* `stream` waits for both operands' producers (events, no host wait). */
  int reading_x = 0, reading_y = 0;
  st = tp_buffer_begin_use(x, stream);
  reading_x = st == TP_SUCCESS;
  if (st == TP_SUCCESS) {
    st = tp_buffer_begin_use(y, stream);
    reading_y = st == TP_SUCCESS;
  }
  if (st == TP_SUCCESS)
    st = operand_in(backend, x, stream, &xd, &xs);
  if (st == TP_SUCCESS)
    st = operand_in(backend, y, stream, &yd, &ys);
  if (st == TP_SUCCESS)
    st = backend->ops->axpby(backend, x->layout.dtype, r->tile.count, a, xd, b,
                             yd, r->data, stream);
  /* Staged copies go back on the stream that used them. */
  if (xs)
    tp_pool_free_or_record(backend->pool, xs, stream, ra->runtime, &st);
  if (ys)
    tp_pool_free_or_record(backend->pool, ys, stream, ra->runtime, &st);
  /* The operands' memory is freed only after these reads (also after a
   * failure: part of them may be queued). */
  tp_status recorded = TP_SUCCESS;
  if (reading_x)
    recorded = tp_buffer_end_use(x, stream);
  if (reading_y) {
    tp_status ry = tp_buffer_end_use(y, stream);
    if (recorded == TP_SUCCESS)
      recorded = ry;
  }
  if (st == TP_SUCCESS)
    st = recorded;
  if (st != TP_SUCCESS) {
    tp_buffer_discard(r);
    return tp_fail_context(st, "tp_axpby");
  }
  *out = r;
  return TP_SUCCESS;
}
