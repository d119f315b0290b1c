/* Pointer and size queries, accessors, and the raw-allocator adapter. */
#include "core/error.h"
#include "pool/pool_internal.h"

tp_status tp_pool_block_size(tp_pool *pool, const void *ptr, size_t *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_block_size: NULL %s",
                   pool ? "out-pointer" : "pool");
  pthread_mutex_lock(&pool->lock);
  tp_block *b = ptr ? tp_ptr_map_find(&pool->map, ptr) : NULL;
  tp_status st = TP_SUCCESS;
  if (b && b->state == TP_BLOCK_LIVE)
    *out = b->bytes;
  else
    st = tp_fail(TP_ERR_INVALID_POINTER,
                 "tp_pool_block_size: pool '%s': %p is not a live block of "
                 "this pool",
                 pool->name, ptr);
  pthread_mutex_unlock(&pool->lock);
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

static tp_status raw_alloc(void *ctx, size_t bytes, tp_stream stream,
                           void **out) {
  return tp_pool_alloc(ctx, bytes, stream, out);
}

static tp_status raw_free(void *ctx, void *ptr, tp_stream stream) {
  return tp_pool_free(ctx, ptr, stream);
}

tp_status tp_pool_raw_allocator(tp_pool *pool, tp_raw_allocator *out) {
  if (!pool || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "tp_pool_raw_allocator: NULL %s",
                   pool ? "out-pointer" : "pool");
  out->ctx = pool;
  out->alloc = raw_alloc;
  out->free = raw_free;
  return TP_SUCCESS;
}
