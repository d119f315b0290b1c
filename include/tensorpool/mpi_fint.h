/* The MPI side of the runtime through Fortran communicator handles, in
 * every build. tensorpool/mpi.h takes an MPI_Comm, whose type depends on
 * the MPI library (an int in MPICH, a pointer in Open MPI) and exists only
 * in MPI builds; an MPI_Fint is an int everywhere, so bindings (Python's
 * mpi4py: comm.py2f(); Fortran; C: MPI_Comm_c2f) can call these whether
 * or not the library was built with MPI. */
#ifndef TENSORPOOL_MPI_FINT_H
#define TENSORPOOL_MPI_FINT_H

#include "tensorpool/runtime.h"
#include "tensorpool/status.h"

#include "tensorpool/export.h"
TP_BEGIN_DECLS

/* tp_runtime_create_mpi(MPI_Comm_f2c(comm), config, out). Collective over
 * the communicator; blocks the host (MPI_Comm_dup). TP_ERR_NOT_SUPPORTED in
 * a build without MPI (after the arguments are checked). */
tp_status tp_runtime_create_mpi_fint(int comm, const tp_runtime_config *config,
                                     tp_runtime **out);

/* The Fortran handle of the runtime's communicator (MPI_Comm_c2f);
 * TP_ERR_NOT_SUPPORTED in a build without MPI or for a runtime without a
 * communicator (a single process). Not collective, never blocks, any
 * thread. */
tp_status tp_runtime_comm_fint(const tp_runtime *runtime, int *out);

TP_END_DECLS

#endif
