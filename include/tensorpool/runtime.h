/* The runtime: who this process is among the ranks, which device it uses,
 * how much memory each space has, and the budget each space's pool keeps to.
 *
 * tp_runtime_create wraps MPI_COMM_WORLD when MPI is initialized (and the
 * library was built with MPI), otherwise it is a single process (rank 0 of
 * 1). tp_runtime_create_mpi (tensorpool/mpi.h) takes any communicator.
 * Rank r uses device (local rank r') mod (devices on the node), where r' is
 * its rank among the processes of its node; -1 when the node has no GPU. */
#ifndef TENSORPOOL_RUNTIME_H
#define TENSORPOOL_RUNTIME_H

#include <stddef.h>

#include "tensorpool/pool.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

typedef struct tp_runtime tp_runtime;

/* A runtime allocates from the spaces of tp_space_kind (tensorpool/space.h):
 * TP_SPACE_HOST always, TP_SPACE_PINNED and TP_SPACE_DEVICE in CUDA builds on
 * a rank with a GPU. */

/* Budget 0 means "automatic": the space's free memory at creation divided
 * by the number of ranks on the node sharing it (host memory is shared by
 * all ranks of a node; a device by the ranks mapped to it). TP_UNLIMITED
 * means no budget. The budget is the hard limit of the space's pool. */
/* Versioned: start from TP_RUNTIME_CONFIG_INIT, then set fields. */
typedef struct tp_runtime_config {
  size_t struct_size;
  size_t host_budget;
  size_t device_budget; /* also used for pinned memory */
  const char *name;     /* prefix of the pools' names; NULL: "tp" */
} tp_runtime_config;

#define TP_RUNTIME_CONFIG_INIT                                                 \
  { sizeof(tp_runtime_config), 0, 0, NULL }

/* NULL config: the defaults. */
tp_status tp_runtime_create(const tp_runtime_config *config, tp_runtime **out);
/* Destroys the allocators, backends and the host pool. Buffers must be
 * destroyed first: live ones are reported as TP_ERR_LEAK (and freed). */
tp_status tp_runtime_destroy(tp_runtime *runtime);

/* Accessors (pure; 0 or -1 for NULL). */
int tp_runtime_rank(const tp_runtime *runtime);
int tp_runtime_size(const tp_runtime *runtime);
int tp_runtime_local_rank(const tp_runtime *runtime); /* among its node */
int tp_runtime_local_size(const tp_runtime *runtime);
int tp_runtime_device(const tp_runtime *runtime); /* -1: no GPU */
int tp_runtime_uses_mpi(const tp_runtime *runtime);

/* Memory of one space as this rank sees it. Versioned output: initialize
 * with TP_MEMORY_FIGURES_INIT. */
typedef struct tp_memory_figures {
  size_t struct_size;
  size_t free_bytes;      /* the system's figure: MemAvailable capped by the
                             cgroup limit, or cudaMemGetInfo */
  size_t total_bytes;     /* MemTotal capped by the cgroup limit, or the
                             device's total */
  size_t budget_bytes;    /* the pool's hard limit (TP_UNLIMITED: none) */
  size_t reserved_bytes;  /* what the pool holds now */
  size_t available_bytes; /* what an allocation may still take:
                             min(free, budget - reserved) + cached bytes */
} tp_memory_figures;

#define TP_MEMORY_FIGURES_INIT                                                 \
  { .struct_size = sizeof(tp_memory_figures) }

/* TP_ERR_NOT_SUPPORTED when the backend is not available here. */
tp_status tp_runtime_memory(tp_runtime *runtime, tp_space_kind space,
                            tp_memory_figures *out);
/* Sets a space's budget (tp_pool_set_limit on its pool). */
tp_status tp_runtime_set_budget(tp_runtime *runtime, tp_space_kind space,
                                size_t bytes);
/* The pool a backend allocates from (owned by the runtime or, for CUDA
 * spaces, shared per device). */
tp_status tp_runtime_pool(tp_runtime *runtime, tp_space_kind space,
                          tp_pool **out);
/* Whether `backend` can allocate here (host always). */
int tp_runtime_has_backend(const tp_runtime *runtime, tp_space_kind space);

/* Host memory from the operating system: MemAvailable and MemTotal of
 * /proc/meminfo, each capped by the cgroup limit when one is set (v2:
 * memory.max - memory.current; v1: memory.limit_in_bytes -
 * memory.usage_in_bytes). */
tp_status tp_host_memory_info(size_t *free_bytes, size_t *total_bytes);

TP_END_DECLS

#endif
