/* The NCCL communicator of a runtime: rank 0 makes the unique id, MPI_Bcast
 * hands it to every rank, ncclCommInitRank joins them; once, on first use,
 * under a lock. The broadcast carries rank 0's status with the id, so a
 * failure there becomes an error on every rank instead of a hang. */
#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"
#include "device/device_guard.h"
#include "dist/nccl_comm.h"
#include "runtime/runtime_internal.h"

#if TP_HAVE_NCCL && TP_HAVE_MPI

#include <nccl.h>

#include "device/cuda_check.h"
#include "dist/nccl_status.h"

struct tp_nccl_comm {
  pthread_mutex_t lock;
  tp_runtime *runtime;
  int device;
  int ready;
  ncclComm_t comm;
};

tp_status tp_nccl_comm_create(tp_runtime *runtime, int device,
                              tp_nccl_comm **out) {
  tp_nccl_comm *c = calloc(1, sizeof *c);
  if (!c)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_nccl_comm_create: no host memory");
  pthread_mutex_init(&c->lock, NULL);
  c->runtime = runtime;
  c->device = device;
  *out = c;
  return TP_SUCCESS;
}

void tp_nccl_comm_destroy(tp_nccl_comm *c) {
  if (!c)
    return;
  if (c->ready) {
    tp_device_guard guard;
    if (tp_device_switch("tp_nccl_comm_destroy", c->device, &guard) ==
        TP_SUCCESS) {
      (void)ncclCommDestroy(c->comm);
      tp_device_leave(&guard);
    }
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* What rank 0 broadcasts. */
typedef struct bootstrap_message {
  int status; /* TP_SUCCESS or why rank 0 could not make an id */
  ncclUniqueId id;
} bootstrap_message;

static tp_status bootstrap(tp_nccl_comm *c, const char *caller) {
  tp_runtime *rt = c->runtime;
  if (!rt->uses_mpi)
    return tp_fail(TP_ERR_NOT_SUPPORTED,
                   "%s: %d ranks but no MPI communicator to bootstrap NCCL",
                   caller, rt->size);
  bootstrap_message msg = {TP_SUCCESS, {{0}}};
  if (rt->rank == 0) {
    ncclResult_t res = ncclGetUniqueId(&msg.id);
    if (res != ncclSuccess)
      msg.status = tp_nccl_fail(res, NULL, "ncclGetUniqueId");
  }
  int rc = MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, 0, rt->comm);
  if (rc != MPI_SUCCESS)
    return tp_fail(TP_ERR_MPI, "%s: MPI_Bcast of the NCCL id failed (%d)",
                   caller, rc);
  if (msg.status != TP_SUCCESS)
    return rt->rank == 0
               ? tp_fail_context((tp_status)msg.status, "%s", caller)
               : tp_fail((tp_status)msg.status,
                         "%s: rank 0 could not create the NCCL id", caller);
  tp_device_guard guard;
  tp_status st = tp_device_switch(caller, c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  ncclComm_t comm = NULL;
  ncclResult_t res = ncclCommInitRank(&comm, rt->size, msg.id, rt->rank);
  tp_device_leave(&guard);
  if (res != ncclSuccess)
    return tp_fail_context(tp_nccl_fail(res, NULL, "ncclCommInitRank"),
                           "%s: rank %d of %d on device %d", caller, rt->rank,
                           rt->size, c->device);
  c->comm = comm;
  c->ready = 1;
  return TP_SUCCESS;
}

/* The communicator, bootstrapped on first use. */
static tp_status comm_of(tp_nccl_comm *c, const char *caller, ncclComm_t *out) {
  pthread_mutex_lock(&c->lock);
  tp_status st = c->ready ? TP_SUCCESS : bootstrap(c, caller);
  if (st == TP_SUCCESS)
    *out = c->comm;
  pthread_mutex_unlock(&c->lock);
  return st;
}

tp_status tp_nccl_allgatherv(tp_nccl_comm *c, const void *send, void *recv,
                             const size_t *counts, const size_t *displs,
                             tp_stream stream) {
  static const char caller[] = "tp_nccl_allgatherv";
  ncclComm_t comm = NULL;
  tp_status st = comm_of(c, caller, &comm);
  if (st != TP_SUCCESS)
    return st;
  tp_device_guard guard;
  st = tp_device_switch(caller, c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  /* Uneven tiles: one broadcast per rank, fused by the group. The root's
   * send may already sit at its place in recv (in place). */
  int me = c->runtime->rank;
  ncclResult_t res = ncclGroupStart();
  ncclResult_t first = res;
  for (int r = 0; r < c->runtime->size && first == ncclSuccess; ++r) {
    if (counts[r] == 0)
      continue;
    char *place = (char *)recv + displs[r];
    res = ncclBroadcast(r == me ? send : place, place, counts[r], ncclInt8, r,
                        comm, (cudaStream_t)stream);
    if (res != ncclSuccess)
      first = res;
  }
  res = ncclGroupEnd();
  if (first == ncclSuccess)
    first = res;
  tp_device_leave(&guard);
  if (first != ncclSuccess)
    return tp_fail_context(tp_nccl_fail(first, comm, "ncclBroadcast group"),
                           "%s: rank %d of %d", caller, me, c->runtime->size);
  return TP_SUCCESS;
}

tp_status tp_nccl_alltoallv(tp_nccl_comm *c, const void *send,
                            const size_t *send_counts,
                            const size_t *send_displs, void *recv,
                            const size_t *recv_counts,
                            const size_t *recv_displs, tp_stream stream) {
  static const char caller[] = "tp_nccl_alltoallv";
  int me = c->runtime->rank;
  if (send_counts[me] != recv_counts[me])
    return tp_fail(TP_ERR_MISMATCH,
                   "%s: rank %d sends itself %zu bytes but expects %zu", caller,
                   me, send_counts[me], recv_counts[me]);
  ncclComm_t comm = NULL;
  tp_status st = comm_of(c, caller, &comm);
  if (st != TP_SUCCESS)
    return st;
  tp_device_guard guard;
  st = tp_device_switch(caller, c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  ncclResult_t res = ncclGroupStart();
  ncclResult_t first = res;
  for (int r = 0; r < c->runtime->size && first == ncclSuccess; ++r) {
    if (r == me)
      continue; /* this rank's own overlap is a local copy below */
    if (send_counts[r])
      res = ncclSend((const char *)send + send_displs[r], send_counts[r],
                     ncclInt8, r, comm, (cudaStream_t)stream);
    if (res == ncclSuccess && recv_counts[r])
      res = ncclRecv((char *)recv + recv_displs[r], recv_counts[r], ncclInt8, r,
                     comm, (cudaStream_t)stream);
    if (res != ncclSuccess)
      first = res;
  }
  res = ncclGroupEnd();
  if (first == ncclSuccess)
    first = res;
  cudaError_t err = cudaSuccess;
  if (first == ncclSuccess && recv_counts[me])
    err = cudaMemcpyAsync((char *)recv + recv_displs[me],
                          (const char *)send + send_displs[me], recv_counts[me],
                          cudaMemcpyDefault, (cudaStream_t)stream);
  tp_device_leave(&guard);
  if (first != ncclSuccess)
    return tp_fail_context(tp_nccl_fail(first, comm, "ncclSend/ncclRecv group"),
                           "%s: rank %d of %d", caller, me, c->runtime->size);
  if (err != cudaSuccess)
    return tp_fail_context(tp_cuda_fail(err, "cudaMemcpyAsync"),
                           "%s: rank %d's own overlap", caller, me);
  return TP_SUCCESS;
}

#else /* no NCCL or no MPI */

#if TP_HAVE_NCCL
#define MISSING_DEPENDENCY "MPI"
#else
#define MISSING_DEPENDENCY "NCCL"
#endif

struct tp_nccl_comm {
  tp_runtime *runtime;
};

tp_status tp_nccl_comm_create(tp_runtime *runtime, int device,
                              tp_nccl_comm **out) {
  (void)device;
  tp_nccl_comm *c = calloc(1, sizeof *c);
  if (!c)
    return tp_fail(TP_ERR_OUT_OF_MEMORY, "tp_nccl_comm_create: no host memory");
  c->runtime = runtime;
  *out = c;
  return TP_SUCCESS;
}

void tp_nccl_comm_destroy(tp_nccl_comm *c) {
  free(c);
}

tp_status tp_nccl_allgatherv(tp_nccl_comm *c, const void *send, void *recv,
                             const size_t *counts, const size_t *displs,
                             tp_stream stream) {
  (void)send, (void)recv, (void)counts, (void)displs, (void)stream;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "tp_nccl_allgatherv: a device all-gather over %d ranks "
                 "needs NCCL and MPI, and this build lacks %s",
                 tp_runtime_size(c->runtime), MISSING_DEPENDENCY);
}

tp_status tp_nccl_alltoallv(tp_nccl_comm *c, const void *send,
                            const size_t *send_counts,
                            const size_t *send_displs, void *recv,
                            const size_t *recv_counts,
                            const size_t *recv_displs, tp_stream stream) {
  (void)send, (void)send_counts, (void)send_displs, (void)recv;
  (void)recv_counts, (void)recv_displs, (void)stream;
  return tp_fail(TP_ERR_NOT_SUPPORTED,
                 "tp_nccl_alltoallv: a device redistribution over %d ranks "
                 "needs NCCL and MPI, and this build lacks %s",
                 tp_runtime_size(c->runtime), MISSING_DEPENDENCY);
}

#endif
