/* The NCCL communicator of a runtime: rank 0 makes the unique id, MPI_Bcast
 * hands it to every rank, ncclCommInitRank joins them; once, on first use,
 * under a lock. The broadcast carries rank 0's status with the id, so a
 * failure there becomes an error on every rank instead of a hang.
 *
 * The all-gather of uneven tiles follows the plan of src/dist/gather_plan.c
 * (one broadcast, one all-gather, a padded all-gather with compaction, or a
 * group of broadcasts); docs/buffers.md has the cost model behind it. */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "device/device_guard.h"
#include "dist/gather_plan.h"
#include "dist/nccl_comm.h"
#include "runtime/backend.h"
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

/* Copies each rank's tile from its padded slot in `staging` to its place
 * in `recv`: one copy per run of equal, adjacent tiles (a 2D copy, source
 * pitch `slot`, destination pitch the tile), queued on `stream`. */
static tp_status compact(const void *staging, size_t slot, void *recv,
                         int ranks, const size_t *counts, const size_t *displs,
                         cudaStream_t stream) {
  int first = 0, len = 0;
  while (tp_gather_next_run(ranks, counts, displs, &first, &len)) {
    size_t width = counts[first];
    const char *from = (const char *)staging + (size_t)first * slot;
    char *to = (char *)recv + displs[first];
    cudaError_t err;
    if (len == 1 || slot == width)
      err = cudaMemcpyAsync(to, from, width * (size_t)len,
                            cudaMemcpyDeviceToDevice, stream);
    else if (slot <= INT_MAX)
      err = cudaMemcpy2DAsync(to, width, from, slot, width, (size_t)len,
                              cudaMemcpyDeviceToDevice, stream);
    else /* pitches beyond what 2D copies take: one copy per tile */
      for (int k = 0, e = 0; k < len && !e; ++k) {
        err = cudaMemcpyAsync(to + (size_t)k * width, from + (size_t)k * slot,
                              width, cudaMemcpyDeviceToDevice, stream);
        e = err != cudaSuccess;
      }
    if (err != cudaSuccess)
      return tp_fail_context(tp_cuda_fail(err, "cudaMemcpy2DAsync"),
                             "compaction of ranks %d..%d", first,
                             first + len - 1);
  }
  return TP_SUCCESS;
}

tp_status tp_nccl_compact(const void *staging, size_t slot, void *recv,
                          int ranks, const size_t *counts, const size_t *displs,
                          tp_stream stream) {
  return compact(staging, slot, recv, ranks, counts, displs,
                 (cudaStream_t)stream);
}

/* The padded scheme: the own tile into its slot of a staging block from the
 * device pool, one in-place ncclAllGather of `slot` bytes per rank, the
 * compaction, and the block back to the pool on the stream (it is handed
 * out again only after this work). The staging block is allocated after the
 * ranks' agreement (the backend table has no step before it), so a rank
 * that cannot get it fails here while the others wait in the all-gather;
 * docs/buffers.md lists this among what is left. */
static tp_status padded(tp_nccl_comm *c, ncclComm_t comm,
                        const tp_gather_plan *plan, const void *send,
                        void *recv, const size_t *counts, const size_t *displs,
                        tp_stream stream, const char *caller) {
  tp_runtime *rt = c->runtime;
  int me = rt->rank;
  tp_backend *backend = tp_runtime_backend(rt, TP_SPACE_DEVICE);
  if (!backend)
    return tp_fail(TP_ERR_INTERNAL, "%s: no device backend for staging",
                   caller);
  void *staging = NULL;
  tp_status st = tp_pool_alloc(backend->pool, plan->staging, stream, &staging);
  if (st != TP_SUCCESS)
    return tp_fail_context(st,
                           "%s: %zu bytes of staging for the padded "
                           "all-gather (rank %d of %d)",
                           caller, plan->staging, me, rt->size);
  cudaStream_t s = (cudaStream_t)stream;
  char *mine = (char *)staging + (size_t)me * plan->slot;
  cudaError_t err = cudaSuccess;
  if (counts[me])
    err = cudaMemcpyAsync(mine, send, counts[me], cudaMemcpyDeviceToDevice, s);
  if (err != cudaSuccess)
    st = tp_fail_context(tp_cuda_fail(err, "cudaMemcpyAsync"),
                         "%s: the own tile into its slot", caller);
  if (st == TP_SUCCESS) {
    /* In place: the send buffer is this rank's slot of the receive one. */
    ncclResult_t res =
        ncclAllGather(mine, staging, plan->slot, ncclInt8, comm, s);
    if (res != ncclSuccess)
      st = tp_fail_context(tp_nccl_fail(res, comm, "ncclAllGather"),
                           "%s: padded all-gather, rank %d of %d", caller, me,
                           rt->size);
  }
  if (st == TP_SUCCESS)
    st = compact(staging, plan->slot, recv, rt->size, counts, displs, s);
  tp_status fst = tp_pool_free(backend->pool, staging, stream);
  return st != TP_SUCCESS ? st : fst;
}

/* One ncclBroadcast per rank with bytes, fused by the group. The root's
 * send may already sit at its place in recv (in place). */
static ncclResult_t broadcasts(tp_nccl_comm *c, ncclComm_t comm,
                               const void *send, void *recv,
                               const size_t *counts, const size_t *displs,
                               cudaStream_t stream) {
  int me = c->runtime->rank;
  ncclResult_t res = ncclGroupStart();
  ncclResult_t first = res;
  for (int r = 0; r < c->runtime->size && first == ncclSuccess; ++r) {
    if (counts[r] == 0)
      continue;
    char *place = (char *)recv + displs[r];
    res = ncclBroadcast(r == me ? send : place, place, counts[r], ncclInt8, r,
                        comm, stream);
    if (res != ncclSuccess)
      first = res;
  }
  res = ncclGroupEnd();
  return first == ncclSuccess ? res : first;
}

static int forced_scheme = -1;

void tp_nccl_force_gather_scheme(int scheme) {
  forced_scheme = scheme;
}

/* The plan, or the scheme a test forced on it (padded or broadcasts, for
 * any layout with bytes, also a communicator of one). */
static tp_status plan_of(const tp_runtime *rt, const size_t *counts,
                         const size_t *displs, tp_gather_plan *plan) {
  tp_gather_model model;
  tp_gather_model_default(&model);
  int per_node = rt->local_size > 0 ? rt->local_size : 1;
  int nodes = (rt->size + per_node - 1) / per_node;
  tp_status st =
      tp_gather_plan_make(&model, rt->size, nodes, counts, displs, plan);
  if (st != TP_SUCCESS || plan->scheme == TP_GATHER_NOTHING ||
      (forced_scheme != TP_GATHER_PADDED &&
       forced_scheme != TP_GATHER_BROADCASTS))
    return st;
  size_t slot = 0;
  for (int r = 0; r < rt->size; ++r)
    slot = counts[r] > slot ? counts[r] : slot;
  if (forced_scheme == TP_GATHER_PADDED && slot > SIZE_MAX / (size_t)rt->size)
    return TP_SUCCESS; /* the staging block could not even be sized */
  plan->scheme = (tp_gather_scheme)forced_scheme;
  plan->slot = forced_scheme == TP_GATHER_PADDED ? slot : 0;
  plan->staging = plan->slot * (size_t)rt->size;
  return TP_SUCCESS;
}

tp_status tp_nccl_allgatherv(tp_nccl_comm *c, const void *send, void *recv,
                             const size_t *counts, const size_t *displs,
                             tp_stream stream) {
  static const char caller[] = "tp_nccl_allgatherv";
  tp_gather_plan plan;
  tp_status st = plan_of(c->runtime, counts, displs, &plan);
  if (st != TP_SUCCESS || plan.scheme == TP_GATHER_NOTHING)
    return st;
  ncclComm_t comm = NULL;
  st = comm_of(c, caller, &comm);
  if (st != TP_SUCCESS)
    return st;
  tp_device_guard guard;
  st = tp_device_switch(caller, c->device, &guard);
  if (st != TP_SUCCESS)
    return st;
  int me = c->runtime->rank;
  cudaStream_t s = (cudaStream_t)stream;
  ncclResult_t res = ncclSuccess;
  const char *what = "";
  switch (plan.scheme) {
  case TP_GATHER_NOTHING: break;
  case TP_GATHER_BROADCAST: {
    char *place = (char *)recv + displs[plan.root];
    res = ncclBroadcast(me == plan.root ? send : place, place,
                        counts[plan.root], ncclInt8, plan.root, comm, s);
    what = "ncclBroadcast";
    break;
  }
  case TP_GATHER_EVEN:
    /* Rank r's tile lands at displs[0] + r * slot: NCCL's layout. A send
     * already at its place is NCCL's in-place case. */
    res = ncclAllGather(send, (char *)recv + displs[0], plan.slot, ncclInt8,
                        comm, s);
    what = "ncclAllGather";
    break;
  case TP_GATHER_PADDED:
    st = padded(c, comm, &plan, send, recv, counts, displs, stream, caller);
    break;
  case TP_GATHER_BROADCASTS:
    res = broadcasts(c, comm, send, recv, counts, displs, s);
    what = "ncclBroadcast group";
    break;
  }
  tp_device_leave(&guard);
  if (res != ncclSuccess)
    return tp_fail_context(tp_nccl_fail(res, comm, what), "%s: rank %d of %d",
                           caller, me, c->runtime->size);
  return st;
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

void tp_nccl_force_gather_scheme(int scheme) {
  (void)scheme;
}

tp_status tp_nccl_compact(const void *staging, size_t slot, void *recv,
                          int ranks, const size_t *counts, const size_t *displs,
                          tp_stream stream) {
  (void)staging, (void)slot, (void)recv, (void)ranks, (void)counts;
  (void)displs, (void)stream;
  return tp_fail(TP_ERR_NOT_SUPPORTED, "tp_nccl_compact: this build lacks %s",
                 MISSING_DEPENDENCY);
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
