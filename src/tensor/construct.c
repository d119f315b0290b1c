/* The allocator verbs that make a new tensor: uninitialized, a constant, a
 * generator, a per-tile callback. None of them communicates: each rank
 * allocates and fills its own tile, on the verb's stream, which has no
 * source to wait for. */
#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"

tp_status tp_allocator_allocate(tp_allocator *allocator,
                                const tp_layout *layout,
                                const tp_tiling *tiling, tp_stream stream,
                                tp_buffer **out) {
  return tp_buffer_new("tp_allocator_allocate", allocator, layout, tiling,
                       stream, out);
}

/* Runs `fill` on a new buffer; frees it if the fill fails. */
static tp_status finish(tp_buffer *b, tp_status fill, tp_buffer **out) {
  if (fill != TP_SUCCESS) {
    tp_buffer_discard(b);
    return fill;
  }
  *out = b;
  return TP_SUCCESS;
}

tp_status tp_allocator_construct_value(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling, tp_scalar value,
                                       tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_allocator_construct_value";
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  /* Convert first: a value the type cannot hold allocates nothing. */
  unsigned char element[16];
  st = tp_scalar_store(value, layout->dtype, element);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  tp_buffer *b;
  st = tp_buffer_new(fn, allocator, layout, tiling, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *backend = tp_allocator_backend_of(allocator);
  st = backend->ops->fill_constant(backend, b->data, b->tile.count,
                                   layout->dtype, element, stream);
  return finish(b, st, out);
}

tp_status tp_allocator_construct_generator(tp_allocator *allocator,
                                           const tp_layout *layout,
                                           const tp_tiling *tiling,
                                           const tp_generator *generator,
                                           tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_allocator_construct_generator";
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  if (!generator)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL generator", fn);
  st = tp_generator_check(generator, layout);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s", fn);
  tp_buffer *b;
  st = tp_buffer_new(fn, allocator, layout, tiling, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *backend = tp_allocator_backend_of(allocator);
  st = backend->ops->fill_generator(backend, b->data, &b->layout, &b->tile,
                                    generator, stream);
  return finish(b, st, out);
}

tp_status tp_allocator_construct_tiles(tp_allocator *allocator,
                                       const tp_layout *layout,
                                       const tp_tiling *tiling,
                                       tp_tile_fill_fn fill, void *user,
                                       tp_stream stream, tp_buffer **out) {
  const char *fn = "tp_allocator_construct_tiles";
  /* Every argument is checked before the callback runs or memory is
   * taken. */
  tp_status st = tp_buffer_check_args(fn, allocator, layout, out);
  if (st != TP_SUCCESS)
    return st;
  if (!fill)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL fill callback", fn);
  tp_buffer *b;
  st = tp_buffer_new(fn, allocator, layout, tiling, stream, &b);
  if (st != TP_SUCCESS)
    return st;
  uint64_t mark = tp_error_serial();
  int rc = fill(user, &b->layout, &b->tile, b->data, stream);
  if (rc != 0)
    st = tp_fail_callback(TP_ERR_CALLBACK, mark,
                          "%s: the fill callback returned %d for the tile of "
                          "rank %d (%zu elements from linear index %lld); "
                          "nothing was kept",
                          fn, rc, b->tile.part, b->tile.count,
                          (long long)b->tile.first);
  return finish(b, st, out);
}
