/* A simulated VMM driver for the VMM space (src/device/vmm_space.h), backed
 * by host memory so tests can write into mapped granules. It checks every
 * call against the rules CUDA's driver enforces (map only a created, unmapped
 * handle onto an unmapped granule; unmap only what is mapped; release only
 * an unmapped handle; free an address range only once nothing is mapped in
 * it) and fails the call, counting the violation, when one is broken. It
 * can refuse creates, as a device out of memory does. Thread-safe. */
#ifndef TP_TEST_SIM_VMM_H
#define TP_TEST_SIM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/vmm_space.h"

typedef struct tp_sim_vmm tp_sim_vmm;

typedef struct tp_sim_vmm_counters {
  uint64_t reserves, unreserves, creates, releases, maps, unmaps;
  uint64_t violations; /* calls that broke a driver rule (refused) */
  size_t mapped_bytes, handles_alive, reserved_bytes;
} tp_sim_vmm_counters;

/* Granules of `granule` bytes; at most `capacity` bytes of handles alive. */
tp_sim_vmm *tp_sim_vmm_create(size_t granule, size_t capacity);
/* Frees what is left; returns the bytes still mapped or reserved (leaks). */
size_t tp_sim_vmm_destroy(tp_sim_vmm *sim);
const tp_vmm_driver *tp_sim_vmm_driver(tp_sim_vmm *sim);
void tp_sim_vmm_set_capacity(tp_sim_vmm *sim, size_t capacity);
/* Whether every granule under [ptr, ptr + bytes) is mapped. */
bool tp_sim_vmm_mapped(tp_sim_vmm *sim, const void *ptr, size_t bytes);
tp_sim_vmm_counters tp_sim_vmm_get_counters(tp_sim_vmm *sim);

#endif
