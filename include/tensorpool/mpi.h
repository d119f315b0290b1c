/* The MPI side of the runtime; include it only in programs built with MPI
 * (the library defines TP_HAVE_MPI=1 when it was built with MPI). */
#ifndef TENSORPOOL_MPI_H
#define TENSORPOOL_MPI_H

#include <mpi.h>

#include "tensorpool/runtime.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* A runtime over a duplicate of `comm` (MPI must be initialized). NULL
 * config: the defaults. Collective over `comm` and blocking, as
 * tp_runtime_create is (tensorpool/runtime.h, which also says which MPI
 * thread level a call from another thread needs). */
tp_status tp_runtime_create_mpi(MPI_Comm comm, const tp_runtime_config *config,
                                tp_runtime **out);

/* The runtime's communicator (MPI_COMM_NULL for a single-process runtime
 * and for NULL): for the caller's own collectives, e.g. to bootstrap NCCL.
 * Pure accessor: not collective, never blocks, any thread. Collectives the
 * caller runs on it are ordered with the runtime's own as on any
 * communicator: not concurrently with a collective verb of the runtime. */
MPI_Comm tp_runtime_comm(const tp_runtime *runtime);

TP_END_DECLS

#endif
