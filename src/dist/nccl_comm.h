/* Internal: device collectives over NCCL for the device backend. Every
 * function exists in every build; without NCCL and MPI the collectives over
 * more than one rank return TP_ERR_NOT_SUPPORTED. */
#ifndef TP_DIST_NCCL_COMM_H
#define TP_DIST_NCCL_COMM_H

#include <stddef.h>

#include "tensorpool/runtime.h"
#include "tensorpool/space.h"

/* The NCCL communicator of one runtime's device backend, created on first
 * use (collectively: every rank reaches it in the same collective). */
typedef struct tp_nccl_comm tp_nccl_comm;

tp_status tp_nccl_comm_create(tp_runtime *runtime, int device,
                              tp_nccl_comm **out);
/* Destroys the NCCL communicator if it was created. */
void tp_nccl_comm_destroy(tp_nccl_comm *comm);

/* The backend table's allgatherv and alltoallv (src/runtime/backend.h) on
 * device memory, queued on `stream`, for runtimes of more than one rank. */
tp_status tp_nccl_allgatherv(tp_nccl_comm *comm, const void *send, void *recv,
                             const size_t *counts, const size_t *displs,
                             tp_stream stream);
tp_status tp_nccl_alltoallv(tp_nccl_comm *comm, const void *send,
                            const size_t *send_counts,
                            const size_t *send_displs, void *recv,
                            const size_t *recv_counts,
                            const size_t *recv_displs, tp_stream stream);

/* Tests: makes every device all-gather with bytes take `scheme` (a
 * tp_gather_scheme from dist/gather_plan.h: TP_GATHER_PADDED or
 * TP_GATHER_BROADCASTS), also on a communicator of one, where the plan
 * would broadcast; -1 restores the cost model's choice. Not thread-safe:
 * set it before the collectives. */
void tp_nccl_force_gather_scheme(int scheme);

/* The padded scheme's compaction alone, for tests on one GPU: rank r's
 * counts[r] bytes at staging + r * slot go to recv + displs[r] (device
 * memory), queued on `stream`. TP_ERR_NOT_SUPPORTED without NCCL and MPI. */
tp_status tp_nccl_compact(const void *staging, size_t slot, void *recv,
                          int ranks, const size_t *counts, const size_t *displs,
                          tp_stream stream);

#endif
