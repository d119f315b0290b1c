/* The automatic allocator: which backend a tensor should live in, from its
 * size and each space's available memory, with the reason in words. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/versioned.h"
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
    /* The largest tile of a block split: ceil(rows / ranks) rows, computed
     * without rows + ranks - 1, which overflows for an empty tensor whose
     * first extent is near INT64_MAX. */
    int64_t rows = tp_layout_rows(layout);
    int64_t most = rows / rt->size + (rows % rt->size != 0);
    size_t row_bytes = rows ? bytes / (size_t)rows : 0;
    bytes = (size_t)most * row_bytes;
  }
  *out = bytes;
  return TP_SUCCESS;
}

/* The reason of the calling thread's last choice (tp_allocator_choice). */
static _Thread_local char reason[256];

/* Writes the decision into the caller's struct (its version's fields). */
static tp_status pick(tp_runtime *rt, tp_space_kind space, tp_buffer_kind kind,
                      tp_allocator_choice *out) {
  tp_allocator_choice c = TP_ALLOCATOR_CHOICE_INIT;
  c.space = space;
  c.reason = reason;
  tp_status st = tp_runtime_allocator(rt, space, kind, &c.allocator);
  if (st != TP_SUCCESS)
    return st;
  return tp_versioned_write("tp_allocator_choose", "TP_ALLOCATOR_CHOICE_INIT",
                            out, &c, sizeof c);
}

tp_status tp_allocator_choose(tp_runtime *rt, const tp_layout *layout,
                              tp_buffer_kind kind, tp_access access,
                              tp_allocator_choice *out) {
  if (!rt || !layout || !out)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: NULL runtime, layout or out");
  if ((int)kind < 0 || (int)kind >= TP_BUFFER_KIND_COUNT)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: unknown buffer kind %d", (int)kind);
  if (access != TP_ACCESS_ANY && access != TP_ACCESS_HOST)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: unknown access %d (TP_ACCESS_ANY or "
                   "TP_ACCESS_HOST)",
                   (int)access);
  if (out->struct_size <= sizeof(size_t))
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "tp_allocator_choose: struct_size is %zu: initialize the "
                   "struct with TP_ALLOCATOR_CHOICE_INIT",
                   out->struct_size);
  size_t bytes;
  tp_status st = rank_bytes(rt, layout, kind, &bytes);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_allocator_choose");
  reason[0] = '\0';
  tp_memory_figures dev = TP_MEMORY_FIGURES_INIT;
  tp_memory_figures host = TP_MEMORY_FIGURES_INIT;
  /* Device memory is a candidate only when the caller reads values through
   * tp_buffer_read: host code cannot dereference it. */
  int device_allowed = access == TP_ACCESS_ANY;
  int have_device = device_allowed && rt->backends[TP_SPACE_DEVICE] &&
                    tp_runtime_memory(rt, TP_SPACE_DEVICE, &dev) == TP_SUCCESS;
  st = tp_runtime_memory(rt, TP_SPACE_HOST, &host);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "tp_allocator_choose");
  if (have_device && bytes >= TP_AUTO_DEVICE_MIN_BYTES &&
      bytes <= dev.available_bytes) {
    snprintf(reason, sizeof reason,
             "device %d: %zu bytes per rank fit in its %zu available bytes",
             rt->device, bytes, dev.available_bytes);
    return pick(rt, TP_SPACE_DEVICE, kind, out);
  }
  if (bytes <= host.available_bytes) {
    if (!device_allowed)
      snprintf(reason, sizeof reason,
               "host: host access was asked for; %zu bytes per rank fit in "
               "the host's %zu available bytes",
               bytes, host.available_bytes);
    else if (!have_device)
      snprintf(reason, sizeof reason,
               "host: no device backend here; %zu bytes per rank fit in the "
               "host's %zu available bytes",
               bytes, host.available_bytes);
    else if (bytes < TP_AUTO_DEVICE_MIN_BYTES)
      snprintf(reason, sizeof reason,
               "host: %zu bytes per rank is below %zu, too small to be worth "
               "the device",
               bytes, (size_t)TP_AUTO_DEVICE_MIN_BYTES);
    else
      snprintf(reason, sizeof reason,
               "host: %zu bytes per rank exceed the device's %zu available "
               "bytes but fit in the host's %zu",
               bytes, dev.available_bytes, host.available_bytes);
    return pick(rt, TP_SPACE_HOST, kind, out);
  }
  snprintf(reason, sizeof reason,
           "none: %zu bytes per rank exceed the host's %zu available bytes%s",
           bytes, host.available_bytes, have_device ? " and the device's" : "");
  /* The caller sees why nothing fits in out->reason too. */
  tp_allocator_choice none = TP_ALLOCATOR_CHOICE_INIT;
  none.space = TP_SPACE_HOST;
  none.reason = reason;
  st = tp_versioned_write("tp_allocator_choose", "TP_ALLOCATOR_CHOICE_INIT",
                          out, &none, sizeof none);
  if (st != TP_SUCCESS)
    return st;
  return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_allocator_choose: %s", reason);
}
