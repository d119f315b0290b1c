/* The automatic allocator: which backend a tensor should live in, from its
 * size and each space's available memory, with the reason in words. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "runtime/runtime_internal.h"
#include "tensor/tiling_internal.h"

/* Bytes this rank would hold for a `kind` tensor of `layout`. */
static tp_status rank_bytes(const tp_runtime *rt, const tp_layout *layout,
                            tp_buffer_kind kind, size_t *out) {
  size_t bytes;
  tp_status st = tp_layout_bytes(layout, &bytes);
  if (st != TP_SUCCESS)
    return st;
  if (kind == TP_BUFFER_DISTRIBUTED) {
    /* The largest tile of a block split: ceil(rows / ranks) rows. */
    int64_t rows = tp_layout_rows(layout);
    int64_t most = (rows + rt->size - 1) / rt->size;
    size_t row_bytes = rows ? bytes / (size_t)rows : 0;
    bytes = (size_t)most * row_bytes;
  }
  *out = bytes;
  return TP_SUCCESS;
}

static tp_status pick(tp_runtime *rt, tp_space_kind backend,
                      tp_buffer_kind kind, tp_allocator_choice *out) {
  out->backend = backend;
  return tp_runtime_allocator(rt, backend, kind, &out->allocator);
}

tp_status tp_allocator_choose(tp_runtime *rt, const tp_layout *layout,
                              tp_buffer_kind kind, tp_allocator_choice *out) {
  if (!rt || !layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: NULL runtime, layout or out");
  if ((int)kind < 0 || (int)kind >= TP_BUFFER_KIND_COUNT)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: unknown buffer kind %d", (int)kind);
  size_t bytes;
  tp_status st = rank_bytes(rt, layout, kind, &bytes);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_allocator_choose");
  memset(out, 0, sizeof *out);
  tp_memory_figures dev, host;
  int have_device = rt->backends[TP_SPACE_DEVICE] &&
                    tp_runtime_memory(rt, TP_SPACE_DEVICE, &dev) == TP_SUCCESS;
  st = tp_runtime_memory(rt, TP_SPACE_HOST, &host);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_allocator_choose");
  if (have_device && bytes >= TP_AUTO_DEVICE_MIN_BYTES &&
      bytes <= dev.available_bytes) {
    snprintf(out->reason, sizeof out->reason,
             "device %d: %zu bytes per rank fit in its %zu available bytes",
             rt->device, bytes, dev.available_bytes);
    return pick(rt, TP_SPACE_DEVICE, kind, out);
  }
  if (bytes <= host.available_bytes) {
    if (!have_device)
      snprintf(out->reason, sizeof out->reason,
               "host: no device backend here; %zu bytes per rank fit in the "
               "host's %zu available bytes",
               bytes, host.available_bytes);
    else if (bytes < TP_AUTO_DEVICE_MIN_BYTES)
      snprintf(out->reason, sizeof out->reason,
               "host: %zu bytes per rank is below %zu, too small to be worth "
               "the device",
               bytes, (size_t)TP_AUTO_DEVICE_MIN_BYTES);
    else
      snprintf(out->reason, sizeof out->reason,
               "host: %zu bytes per rank exceed the device's %zu available "
               "bytes but fit in the host's %zu",
               bytes, dev.available_bytes, host.available_bytes);
    return pick(rt, TP_SPACE_HOST, kind, out);
  }
  snprintf(out->reason, sizeof out->reason,
           "none: %zu bytes per rank exceed the host's %zu available bytes%s",
           bytes, host.available_bytes, have_device ? " and the device's" : "");
  return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_allocator_choose: %s", out->reason);
}
