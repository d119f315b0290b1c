/* Reading and writing a buffer's values from the host, in any space: the
 * backend's copy on the buffer's stream, then a wait. */
#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"

int tp_buffer_is_host_accessible(const tp_buffer *b) {
  if (!b)
    return 0;
  tp_space_kind kind = b->allocator->backend;
  return kind == TP_SPACE_HOST || kind == TP_SPACE_PINNED;
}

/* The checks shared by read and write, before anything is queued. */
static tp_status check_range(const char *fn, const tp_buffer *b, size_t offset,
                             size_t bytes, const void *host) {
  if (!b)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL buffer", fn);
  if (bytes == 0)
    return TP_SUCCESS;
  if (!host)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: NULL host pointer for %zu bytes", fn, bytes);
  /* Written so that offset + bytes cannot wrap. */
  if (offset > b->bytes || bytes > b->bytes - offset)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: bytes [%zu, %zu + %zu) leave this rank's tile of %zu "
                   "bytes",
                   fn, offset, offset, bytes, b->bytes);
  return TP_SUCCESS;
}

/* Copies on the buffer's stream, then waits for that stream. */
static tp_status copy_and_wait(const char *fn, const tp_buffer *b, void *dst,
                               const void *src, size_t bytes) {
  tp_backend *backend = tp_allocator_backend_of(b->allocator);
  tp_status st = backend->ops->copy(backend, dst, src, bytes, b->stream);
  tp_status sync = backend->ops->sync(backend, b->stream);
  if (st == TP_SUCCESS)
    st = sync;
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: %zu bytes of %s", fn, bytes,
                           b->allocator->name);
  return TP_SUCCESS;
}

tp_status tp_buffer_read(const tp_buffer *b, size_t offset, size_t bytes,
                         void *host_dst) {
  static const char fn[] = "tp_buffer_read";
  tp_status st = check_range(fn, b, offset, bytes, host_dst);
  if (st != TP_SUCCESS || bytes == 0)
    return st;
  return copy_and_wait(fn, b, host_dst, (const char *)b->data + offset, bytes);
}

tp_status tp_buffer_write(tp_buffer *b, size_t offset, size_t bytes,
                          const void *host_src) {
  static const char fn[] = "tp_buffer_write";
  tp_status st = check_range(fn, b, offset, bytes, host_src);
  if (st != TP_SUCCESS || bytes == 0)
    return st;
  return copy_and_wait(fn, b, (char *)b->data + offset, host_src, bytes);
}

tp_status tp_buffer_synchronize(const tp_buffer *b) {
  if (!b)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_buffer_synchronize: NULL buffer");
  tp_backend *backend = tp_allocator_backend_of(b->allocator);
  tp_status st = backend->ops->sync(backend, b->stream);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_buffer_synchronize: %s", b->allocator->name);
  return TP_SUCCESS;
}
