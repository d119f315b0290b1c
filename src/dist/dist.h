/* Internal: ranks, agreement and host collectives over MPI. Every function
 * exists in every build; without MPI (or with a single-process runtime) the
 * runtime has one rank and the collectives are local copies. */
#ifndef TP_DIST_DIST_H
#define TP_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "tensorpool/runtime.h"

/* Fills rank, size, local rank and size (and the communicator) of a
 * runtime being created: over a duplicate of `comm` (an MPI_Comm*), or of
 * MPI_COMM_WORLD when `comm` is NULL and MPI is initialized, or as one
 * process. `fn` is the public call, named in messages. */
tp_status tp_runtime_ranks_init(const char *fn, tp_runtime *runtime,
                                const void *comm);
/* tp_runtime_create over `comm` (an MPI_Comm*, or NULL as in
 * tp_runtime_ranks_init); `fn` is the public call the user made, so that
 * every message names it (tp_runtime_create, tp_runtime_create_mpi). */
tp_status tp_runtime_create_on(const char *fn, const void *comm,
                               const tp_runtime_config *config,
                               tp_runtime **out);
/* Frees the communicator duplicate. */
tp_status tp_runtime_ranks_fini(tp_runtime *runtime);

/* Collective: every rank passes a hash of what the ranks must agree on and
 * its local status. All ranks return the same verdict: the failing status of
 * highest precedence (tp_status_precedence) over the ranks (a rank that did
 * not fail itself gets a message saying another rank did), else
 * TP_ERR_MISMATCH when the hashes differ, else TP_SUCCESS. `fn` names the
 * caller in messages. */
tp_status tp_runtime_agree(tp_runtime *runtime, const char *fn, uint64_t hash,
                           tp_status local);
/* The rank of a status in the agreement's table (src/dist/agree.c): 0 for
 * TP_SUCCESS, 1 for a code the table does not list, distinct values above
 * for the listed ones; larger wins. */
unsigned tp_status_precedence(tp_status status);

/* Byte collectives on host memory, with the semantics of the backend table's
 * allgatherv and alltoallv (src/runtime/backend.h). Counts and displacements
 * beyond INT_MAX are sent in pieces. */
tp_status tp_mpi_allgatherv(tp_runtime *runtime, const void *send, void *recv,
                            const size_t *counts, const size_t *displs);
tp_status tp_mpi_alltoallv(tp_runtime *runtime, const void *send,
                           const size_t *send_counts, const size_t *send_displs,
                           void *recv, const size_t *recv_counts,
                           const size_t *recv_displs);

/* The largest message the collectives send at once (INT_MAX by default).
 * Tests lower it to exercise the piecewise paths with small tensors; 0
 * restores the default. */
void tp_mpi_set_max_message(size_t bytes);

#endif
