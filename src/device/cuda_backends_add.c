/* The provider of the device and pinned backends of a runtime: it chooses
 * the rank's device, learns which ranks share it, and adds the backends the
 * configuration allows, each over a pool of the runtime's own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "device/cuda_backend.h"
#include "device/device_guard.h"
#include "device/device_pools.h"
#include "device/device_query.h"
#include "dist/dist.h"
#include "runtime/runtime_internal.h"

/* Context of this provider's messages; tp_runtime_create and
 * tp_runtime_create_mpi put their own name in front. */
static const char caller[] = "CUDA backends";

/* The device the configuration names; else the thread's current device;
 * else local rank mod devices. -1 (and success) when the rank has no GPU
 * or wants no CUDA space. */
static tp_status choose_device(const tp_runtime *rt, unsigned wanted,
                               int *device) {
  *device = -1;
  /* Both CUDA spaces off: no device, even a named one (docs/device.md). */
  if (!wanted)
    return TP_SUCCESS;
  if (rt->config.device >= 0) {
    /* Naming a device is asking for one: a missing one is an error. */
    tp_status st = tp_device_check(caller, rt->config.device);
    if (st == TP_SUCCESS)
      *device = rt->config.device;
    return st;
  }
  int count = 0;
  tp_status st = tp_device_count(&count);
  if (st != TP_SUCCESS || count == 0)
    return st;
  int current = -1;
  st = tp_device_current(&current);
  if (st != TP_SUCCESS)
    return st;
  /* A thread that chose nothing gets local rank mod devices, so the ranks of
   * a multi-GPU node spread over its GPUs without being told to. */
  *device = current >= 0 ? current : rt->local_rank % count;
  return TP_SUCCESS;
}

/* What each rank tells the others at creation. */
typedef struct rank_device {
  int32_t status; /* of its device choice */
  int32_t device; /* -1: none */
  unsigned char uuid[16];
} rank_device;

/* How many ranks use the same GPU as this one (1 without other ranks).
 * Every rank takes part, with or without a device and even after a failed
 * choice, so nobody waits; a failure on any rank fails every rank. */
static tp_status count_sharing(tp_runtime *rt, tp_status local, int device,
                               int *sharing) {
  *sharing = 1;
  rank_device mine = {(int32_t)local, device, {0}};
#if TP_HAVE_CUDA
  if (rt->size > 1) {
    if (local == TP_SUCCESS && device >= 0)
      mine.status = (int32_t)tp_device_uuid(device, mine.uuid);
    size_t n = (size_t)rt->size;
    rank_device *all = calloc(n, sizeof *all);
    size_t *counts = calloc(2 * n, sizeof *counts);
    tp_status st = TP_SUCCESS;
    if (!all || !counts) {
      st = tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no host memory for the ranks' devices", caller);
    } else {
      for (size_t r = 0; r < n; ++r) {
        counts[r] = sizeof mine;
        counts[n + r] = r * sizeof mine;
      }
      st = tp_mpi_allgatherv(rt, &mine, all, counts, counts + n);
    }
    int failed = -1;
    for (size_t r = 0; st == TP_SUCCESS && r < n; ++r) {
      if (all[r].status != TP_SUCCESS && failed < 0)
        failed = (int)r;
      if (device >= 0 && all[r].device >= 0 && (int)r != rt->rank &&
          memcmp(all[r].uuid, mine.uuid, sizeof mine.uuid) == 0)
        ++*sharing;
    }
    if (st == TP_SUCCESS && failed >= 0 && failed != rt->rank)
      st = tp_fail((tp_status)all[failed].status,
                   "%s: rank %d could not choose its device", caller, failed);
    free(all);
    free(counts);
    if (st != TP_SUCCESS)
      return st;
  }
#else
  (void)rt;
#endif
  return (tp_status)mine.status;
}

/* Creates and registers one backend over a new pool of the runtime's. */
static tp_status add_one(tp_runtime *rt, tp_space_kind kind, int device,
                         int use_nccl) {
  int pinned = kind == TP_SPACE_PINNED;
  char name[64];
  snprintf(name, sizeof name, "%s.%s:%d.r%d",
           rt->config.name ? rt->config.name : "tp", tp_space_kind_name(kind),
           device, rt->rank);
  tp_pool *pool = NULL;
  tp_status st = tp_device_pool_make(caller, device, pinned, name, &pool);
  if (st != TP_SUCCESS)
    return st;
  tp_backend *backend = NULL;
  /* The backend owns the pool from here, also when its creation fails. */
  st = pinned ? tp_pinned_backend_create(rt, device, pool, &backend)
              : tp_device_backend_create(rt, device, pool, use_nccl, &backend);
  if (st != TP_SUCCESS)
    return st;
  st = tp_runtime_add_backend(rt, backend);
  if (st != TP_SUCCESS)
    backend->ops->destroy(backend); /* the runtime did not take it */
  return st;
}

static tp_status add_cuda_backends(tp_runtime *rt) {
  unsigned optional =
      TP_SPACE_BIT(TP_SPACE_PINNED) | TP_SPACE_BIT(TP_SPACE_DEVICE);
  unsigned wanted = optional & ~rt->config.disabled_spaces;
  int device = -1, sharing = 1;
  tp_status st = choose_device(rt, wanted, &device);
  st = count_sharing(rt, st, device, &sharing);
  if (st != TP_SUCCESS)
    return st;
  tp_runtime_use_device(rt, device, sharing);
  if (device < 0)
    return TP_SUCCESS; /* no GPU here: a host-only runtime, not an error */
    /* NCCL refuses a communicator in which two ranks share a GPU, and needs
     * MPI to start: otherwise the device collectives stage through the host. */
#if TP_HAVE_NCCL && TP_HAVE_MPI
  int use_nccl = sharing == 1;
#else
  int use_nccl = 0;
#endif
  if (wanted & TP_SPACE_BIT(TP_SPACE_PINNED))
    st = add_one(rt, TP_SPACE_PINNED, device, 0);
  if (st == TP_SUCCESS && (wanted & TP_SPACE_BIT(TP_SPACE_DEVICE)))
    st = add_one(rt, TP_SPACE_DEVICE, device, use_nccl);
  if (st != TP_SUCCESS)
    return tp_fail_context(st, "%s: device %d", caller, device);
  return TP_SUCCESS;
}

const tp_backend_provider tp_cuda_backend_provider = {"cuda",
                                                      add_cuda_backends};
