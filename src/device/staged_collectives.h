/* Internal: the backend table's allgatherv and alltoallv for memory the host
 * cannot use directly, through host copies and MPI. The device backend takes
 * this path when NCCL cannot serve its ranks: several ranks share one GPU
 * (NCCL refuses a communicator with two ranks on one device), or the build
 * has MPI but no NCCL. Works with any backend whose copy reaches host
 * memory, which is why the tests' pretend device uses it too. */
#ifndef TP_DEVICE_STAGED_COLLECTIVES_H
#define TP_DEVICE_STAGED_COLLECTIVES_H

#include "runtime/backend.h"

/* Semantics of tp_backend_ops.allgatherv / alltoallv (src/runtime/backend.h):
 * collective over the backend's runtime. Copies this rank's bytes to host
 * memory on `stream`, waits for them, runs the MPI collective, copies the
 * result back on `stream` and waits again: blocks the host, and the result
 * is complete on return. A rank whose copy failed still joins the MPI
 * collective (with whatever its staging holds), so that no rank waits
 * forever; it returns its failure afterwards. */
tp_status tp_staged_allgatherv(tp_backend *backend, const void *send,
                               void *recv, const size_t *counts,
                               const size_t *displs, tp_stream stream);
tp_status tp_staged_alltoallv(tp_backend *backend, const void *send,
                              const size_t *send_counts,
                              const size_t *send_displs, void *recv,
                              const size_t *recv_counts,
                              const size_t *recv_displs, tp_stream stream);

#endif
