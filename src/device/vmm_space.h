/* Internal: a memory space over virtual memory management, written against a
 * small table of driver primitives so that the same logic runs on CUDA's
 * driver API (vmm_cuda.c, fetched at run time) and, in the tests, on a
 * simulation (tests/support/sim_vmm.c).
 *
 * Each segment is an address range reserved at `get` for the most it may
 * grow to; physical memory is mapped into it one granule at a time (a
 * handle per granule, so any granule can go back alone): the first `bytes`
 * at `get`, more as `resize` grows it. `decommit` gives back the granules of
 * a range: an event is recorded on the range's stream and the granules are
 * unmapped and released once it has completed (checked on later calls, never
 * waited for); `commit` maps what is unmapped again, and takes back a
 * pending decommit that has not happened yet. */
#ifndef TP_DEVICE_VMM_SPACE_H
#define TP_DEVICE_VMM_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorpool/space.h"

typedef struct tp_vmm_driver {
  void *ctx;
  /* Reserve and free address space (cuMemAddressReserve/Free). */
  tp_status (*reserve)(void *ctx, size_t bytes, uintptr_t *out);
  tp_status (*unreserve)(void *ctx, uintptr_t va, size_t bytes);
  /* Physical memory of one granule (cuMemCreate/Release). */
  tp_status (*create)(void *ctx, size_t bytes, uint64_t *handle);
  tp_status (*release)(void *ctx, uint64_t handle);
  /* Map a handle at `va` and make it accessible (cuMemMap +
   * cuMemSetAccess); unmap it (cuMemUnmap). */
  tp_status (*map)(void *ctx, uintptr_t va, size_t bytes, uint64_t handle);
  tp_status (*unmap)(void *ctx, uintptr_t va, size_t bytes);
} tp_vmm_driver;

typedef struct tp_vmm_space_settings {
  size_t granule;       /* the driver's allocation granularity */
  size_t reserve_bytes; /* address space reserved per segment: the most a
                          segment may hold (for a device, its memory) */
  tp_space_kind kind;
  int device;
  const char *name;
} tp_vmm_space_settings;

/* A space over `driver`, whose events and streams are those of `events`
 * (which must outlive it; its get and put are not used). The driver table
 * and its context must outlive the space too. */
tp_status tp_vmm_space_create_with(const tp_vmm_driver *driver,
                                   const tp_space *events,
                                   const tp_vmm_space_settings *settings,
                                   tp_space **out);
/* TP_ERR_BUSY while it still holds segments (a pool over it is alive). */
tp_status tp_vmm_space_destroy_with(tp_space *space);

/* The driver table `space` was made with (TP_ERR_INVALID_ARGUMENT if it is
 * not a VMM space). */
tp_status tp_vmm_space_driver(const tp_space *space, const tp_vmm_driver **out);

/* What a VMM space holds now, for tests and statistics. */
typedef struct tp_vmm_counts {
  uint64_t segments, reserved_bytes, mapped_bytes, pending_bytes;
  uint64_t maps, unmaps, decommits_cancelled;
} tp_vmm_counts;

/* False if `space` is not a VMM space. */
bool tp_vmm_space_counts(const tp_space *space, tp_vmm_counts *out);

#endif
