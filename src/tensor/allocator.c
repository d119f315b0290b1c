/* Allocators: handles owned by the runtime, one per (backend, kind). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/buffer_internal.h"

static int valid_kind(tp_buffer_kind kind) {
  return (int)kind >= 0 && (int)kind < TP_BUFFER_KIND_COUNT;
}

tp_status tp_runtime_allocator(tp_runtime *rt, tp_space_kind backend,
                               tp_buffer_kind kind, tp_allocator **out) {
  if (!rt || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_allocator: NULL runtime or out");
  if (!valid_kind(kind))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_allocator: unknown buffer kind %d", (int)kind);
  if ((int)backend < 0 || (int)backend >= TP_BACKEND_COUNT)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_runtime_allocator: unknown backend kind %d",
                   (int)backend);
  tp_backend *b = rt->backends[backend];
  if (!b)
    return tp_runtime_missing_backend(rt, "tp_runtime_allocator", backend);
  *out = &rt->allocators[backend][kind];
  return TP_SUCCESS;
}

void tp_allocators_name(tp_runtime *rt, tp_space_kind backend) {
  const char *base = rt->backends[backend]->name;
  for (int k = 0; k < TP_BUFFER_KIND_COUNT; ++k)
    snprintf(rt->allocators[backend][k].name,
             sizeof rt->allocators[backend][k].name, "%s/%s", base,
             tp_buffer_kind_name((tp_buffer_kind)k));
}

tp_status tp_allocator_rebind(const tp_allocator *a, tp_buffer_kind kind,
                              tp_allocator **out) {
  if (!a)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_rebind: NULL allocator");
  tp_status st = tp_runtime_allocator(a->runtime, a->backend, kind, out);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_allocator_rebind");
  return TP_SUCCESS;
}

tp_buffer_kind tp_allocator_kind_of(const tp_allocator *a) {
  return a ? a->kind : TP_BUFFER_KIND_INVALID;
}
tp_space_kind tp_allocator_space_kind_of(const tp_allocator *a) {
  return a ? a->backend : TP_SPACE_INVALID;
}
tp_runtime *tp_allocator_runtime(const tp_allocator *a) {
  return a ? a->runtime : NULL;
}
tp_pool *tp_allocator_pool(const tp_allocator *a) {
  return a ? tp_allocator_backend_of(a)->pool : NULL;
}
const char *tp_allocator_name(const tp_allocator *a) {
  return a ? a->name : NULL;
}
