/* Internal: the runtime and allocator structs. */
#ifndef TP_CORE_RUNTIME_INTERNAL_H
#define TP_CORE_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "runtime/backend.h"
#include "tensorpool/allocator.h"

#if TP_HAVE_MPI
#include <mpi.h>
#endif

/* Allocators live inside their runtime: one per (backend, kind). */
struct tp_allocator {
  tp_runtime *runtime;
  tp_space_kind backend;
  tp_buffer_kind kind;
  char name[48];
};

struct tp_runtime {
  int rank, size;             /* in the communicator */
  int local_rank, local_size; /* among the processes of this node */
  int device;                 /* -1: none (chosen by a device provider) */
  int device_sharing;         /* ranks of the node that use this device */
  int uses_mpi;
#if TP_HAVE_MPI
  MPI_Comm comm; /* a duplicate, freed at destroy; MPI_COMM_NULL if none */
#endif
  tp_runtime_config config;
  char name[64];
  tp_pool *host_pool;
  tp_backend *backends[TP_BACKEND_COUNT];
  size_t budgets[TP_BACKEND_COUNT]; /* the limit set on each backend's pool */
  tp_allocator allocators[TP_BACKEND_COUNT][TP_BUFFER_KIND_COUNT];
  /* Buffers made by this runtime's allocators and not yet destroyed: while
   * any is live, tp_runtime_destroy refuses (its handle points in here). */
  atomic_size_t live_buffers;
  /* Guards `budgets` (set_budget writes them while the automatic choice
   * reads them from other threads) and the first asynchronous error. */
  pthread_mutex_t lock;
  tp_status async_error;
  char async_message[512];
};

/* The runtime behind a const handle, for its lock and its kept asynchronous
 * error only: the read-only queries (tp_runtime_memory,
 * tp_runtime_async_error) take const handles, and these fields are
 * bookkeeping a query may touch (what C++ marks `mutable`). Every runtime
 * is allocated non-const by tp_runtime_create, so writing through the
 * result is defined. */
static inline tp_runtime *tp_runtime_mutable(const tp_runtime *runtime) {
  return (tp_runtime *)runtime;
}

/* Frees a runtime struct whose lock was initialized (runtime_async.c). */
void tp_runtime_free(tp_runtime *runtime);

/* Names the allocators of a newly registered backend ("host/local"...). */
void tp_allocators_name(tp_runtime *runtime, tp_space_kind backend);

/* For a device provider, before it adds backends: the device this rank
 * uses and how many ranks of its node use the same device (the divisor of
 * the automatic device budget). */
void tp_runtime_use_device(tp_runtime *runtime, int device, int sharing);

/* Counted by tp_buffer_new and tp_buffer_free. */
void tp_runtime_buffer_born(tp_runtime *runtime);
void tp_runtime_buffer_gone(tp_runtime *runtime);

/* The failure for a space this runtime has no backend for, by the rule of
 * tensorpool/status.h: TP_ERR_NOT_SUPPORTED when the configuration disabled
 * the space, else TP_ERR_NO_DEVICE when the rank has no device. `fn` names
 * the caller. */
tp_status tp_runtime_missing_backend(const tp_runtime *runtime, const char *fn,
                                     tp_space_kind kind);

/* Test hook (src/backends.c): runtimes created from now on get their
 * non-host backends from `provider` instead of the CUDA provider; NULL
 * restores the CUDA provider. The tests' pretend device uses it. */
void tp_backend_providers_replace(const tp_backend_provider *provider);

#endif
