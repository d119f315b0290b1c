/* Pointer and size queries, accessors, and the raw-allocator adapter. */
#include "core/error.h"
#include "core/versioned.h"
#include "pool/pool_internal.h"

tp_status tp_pool_block_size(tp_pool *pool, const void *ptr, size_t *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_block_size: NULL %s",
                   pool ? "out-pointer" : "pool");
  tp_lock_acquire(&pool->lock);
  uint32_t b = ptr ? tp_ptr_map_find(&pool->map, (uintptr_t)ptr) : TP_NIL;
  if (b != TP_NIL && tp_front_is_free(pool, b))
    b = TP_NIL; /* free to the caller, held by a thread's cache */
  tp_status st = TP_SUCCESS;
  if (b != TP_NIL)
    *out = (size_t)tp_blk(pool, b)->bytes;
  else
    st = tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_block_size: pool '%s': %p is not a live block of "
                 "this pool",
                 pool->name, ptr);
  tp_lock_release(&pool->lock);
  return st;
}

tp_status tp_pool_class_size(const tp_pool *pool, size_t bytes, size_t *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_class_size: NULL %s",
                   pool ? "out-pointer" : "pool");
  if (bytes == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_class_size: size 0");
  if (bytes > pool->classes.max_bytes)
    return tp_fail(TP_ERR_OVERFLOW,
                   "tp_pool_class_size: %zu bytes exceed the largest class "
                   "(%zu bytes)",
                   bytes, pool->classes.max_bytes);
  *out = tp_size_class_bytes(&pool->classes,
                             tp_size_class_of(&pool->classes, bytes));
  return TP_SUCCESS;
}

const tp_space *tp_pool_space(const tp_pool *pool) {
  return pool ? &pool->space : NULL;
}

const char *tp_pool_name(const tp_pool *pool) {
  return pool ? pool->name : NULL;
}

/* The pool's blocks are 256-byte aligned; a stricter alignment would need
 * padding the engine does not do. */
#define TP_POOL_ALIGNMENT 256

static tp_status raw_alloc(void *ctx, size_t bytes, size_t alignment,
                           tp_stream stream, void **out) {
  /* Arguments first (status.h), as tp_raw_alloc checks them. */
  if (bytes == 0)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_raw_alloc: 0 bytes");
  if (alignment & (alignment - 1))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_raw_alloc: alignment %zu is not a power of two",
                   alignment);
  if (alignment > TP_POOL_ALIGNMENT)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "tp_raw_alloc: pool '%s' aligns blocks to %d bytes, not %zu",
                   tp_pool_name(ctx), TP_POOL_ALIGNMENT, alignment);
  return tp_pool_alloc(ctx, bytes, stream, out);
}

static tp_status raw_free(void *ctx, void *ptr, size_t bytes,
                          tp_stream stream) {
  if (ptr && bytes) {
    /* A sized free must name a size the block can hold: a larger one means
     * the caller mixed up its blocks. */
    size_t usable = 0;
    tp_status st = tp_pool_block_size(ctx, ptr, &usable);
    if (st == TP_ERR_INVALID_POINTER)
      /* Not a live block: the free says which way (interior, double free,
       * foreign), as a free through the pool would, and changes nothing. */
      return tp_pool_free(ctx, ptr, stream);
    if (st != TP_SUCCESS)
      return tp_fail_context(st, "tp_raw_free");
    if (bytes > usable)
      return tp_fail(TP_ERR_INVALID_ARGUMENT,
                     "tp_raw_free: %zu bytes named for the block at %p of "
                     "%zu usable bytes",
                     bytes, ptr, usable);
  }
  return tp_pool_free(ctx, ptr, stream);
}

tp_status tp_pool_raw_allocator(tp_pool *pool, tp_raw_allocator *out) {
  static const char fn[] = "tp_pool_raw_allocator";
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                   pool ? "out-pointer" : "pool");
  tp_raw_allocator table = {sizeof table, pool, raw_alloc, raw_free};
  return tp_versioned_write(fn, "TP_RAW_ALLOCATOR_INIT", out, &table,
                            sizeof table);
}
