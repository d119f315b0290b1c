/* The MPI side of the runtime; include it only in programs built with MPI
 * (the library defines TP_HAVE_MPI=1 when it was built with MPI). */
#ifndef TENSORPOOL_MPI_H
#define TENSORPOOL_MPI_H

#include <mpi.h>

#include "tensorpool/runtime.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* A runtime over a duplicate of `comm` (MPI must be initialized). NULL
 * config: the defaults. */
tp_status tp_runtime_create_mpi(MPI_Comm comm, const tp_runtime_config *config,
                                tp_runtime **out);

/* The runtime's communicator (MPI_COMM_NULL for a single-process runtime):
 * for the caller's own collectives, e.g. to bootstrap NCCL. */
MPI_Comm tp_runtime_comm(const tp_runtime *runtime);

TP_END_DECLS

#endif
