/* Internal: the runtime and allocator structs. */
#ifndef TP_CORE_RUNTIME_INTERNAL_H
#define TP_CORE_RUNTIME_INTERNAL_H

#include <pthread.h>

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
  int device;                 /* -1: no GPU */
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
  /* Guards `budgets` (set_budget writes them while the automatic choice
   * reads them from other threads) and the first asynchronous error. */
  pthread_mutex_t lock;
  tp_status async_error;
  char async_message[512];
};

/* Frees a runtime struct whose lock was initialized (runtime_async.c). */
void tp_runtime_free(tp_runtime *runtime);

/* Names the allocators of a newly registered backend ("host/local"...). */
void tp_allocators_name(tp_runtime *runtime, tp_space_kind backend);

#endif
